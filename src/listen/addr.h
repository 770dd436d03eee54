/**
 * addr.h - statsd listen addresses (docs/behaviour.md 4.2 statsd_listen_addresses):
 * udp[46]://host:port, tcp[46]://host:port, unixgram:///path, unix:///path.
 */
#ifndef VN_LISTEN_ADDR_H
#define VN_LISTEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef enum { VN_ADDR_UDP, VN_ADDR_TCP, VN_ADDR_UNIXGRAM, VN_ADDR_UNIX } vn_addr_kind_t;

typedef struct vn_addr {
    vn_addr_kind_t kind;
    int family;      /* AF_UNSPEC, AF_INET, AF_INET6 (udp4/udp6...) */
    char host[256];  /* "" = any */
    char port[16];
    char path[108];  /* unix socket path; leading '@' = abstract */
} vn_addr_t;

/** Parses url into *out. VN_ERR_CONFIG with Go's message for an unknown scheme, or a port above 65535. */
vn_err_t vn_addr_parse(const char *url, vn_addr_t *out, char *errbuf, size_t errcap);

/**
 * Opens and binds (and listens, for streams) a non-blocking socket; returns fd
 * or -1 with a one-line errbuf. UDP is bound without SO_REUSEADDR, so no other
 * process can share the address; SO_REUSEPORT only when reuseport (prefer
 * vn_addr_bind_group). TCP keeps SO_REUSEADDR (restart while connections of the
 * previous run are in TIME_WAIT; Linux never lets two TCP listeners share it).
 * A unix path is replaced only if it is a socket nobody listens on (connect()
 * fails with ECONNREFUSED); a live listener or a non-socket file is an error.
 */
int vn_addr_bind(const vn_addr_t *a, bool reuseport, int rcvbuf, char *errbuf, size_t errcap);

/**
 * Binds n UDP sockets that share one address through SO_REUSEPORT, one per
 * reader thread; fds[0..n-1] receive them (owned by the caller). Returns 0, or
 * -1 with errbuf set and nothing left open. First an exclusive probe bind
 * (without SO_REUSEPORT) checks that nobody holds the address: Linux lets any
 * SO_REUSEPORT socket of the same uid join a group, so without the probe a
 * second veneur on the same port would silently take part of the traffic.
 * The probe also fixes port 0 to one kernel-chosen port for the whole group.
 * Left open: between the probe and the group bind, a process of our own uid
 * that sets SO_REUSEPORT could still join (it could also ptrace us).
 */
int vn_addr_bind_group(const vn_addr_t *a, int n, int rcvbuf, int *fds, char *errbuf, size_t errcap);

/** The bound port of an inet socket, 0 otherwise. */
int vn_addr_bound_port(int fd);

#endif
