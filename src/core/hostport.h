/**
 * hostport.h - the one "host:port" splitter and joiner: "host:port",
 * "[v6]:port" and a bare "v6:addr:port" (split at the last colon), the forms
 * Go's net.SplitHostPort and net.JoinHostPort use.
 */
#ifndef VN_CORE_HOSTPORT_H
#define VN_CORE_HOSTPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/**
 * Splits addr into host (brackets removed) and port, copied into the
 * caller's buffers. The port is not checked beyond being non-empty (it may
 * be a service name for getaddrinfo; see vn_hostport_port_num).
 * @arg allow_empty_host true for listen addresses (":8125" = any address)
 * @return VN_OK, or VN_ERR_CONFIG (no colon, unmatched bracket, empty port,
 *   empty host unless allowed, a part longer than its buffer).
 */
vn_err_t vn_hostport_split(const char *addr, bool allow_empty_host, char *host, size_t hostcap, char *port,
                           size_t portcap);

/**
 * The strict form Go's net.Listen applies to a listen address: "host:port", ":port" or "[v6]:port";
 * a bare IPv6 address without brackets is refused ("too many colons"), an empty port means 0, a
 * numeric port above 65535 is refused. On error errbuf holds `address "<addr>": <Go's reason>`.
 */
vn_err_t vn_hostport_split_go(const char *addr, char *host, size_t hcap, char *port, size_t pcap, char *errbuf,
                             size_t errcap);

/** port as a number: 0..65535; -1 if it is not all decimal digits (or empty), -2 if above 65535. */
int vn_hostport_port_num(const char *port);

/** Writes "host:port", bracketing a host that contains ':' (IPv6). Truncated to cap (NUL-terminated). */
void vn_hostport_join(const char *host, unsigned port, char *out, size_t cap);

#endif
