/**
 * addr.h - statsd listen addresses (SPEC 4.2 statsd_listen_addresses):
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

/** Parses url into *out. VN_ERR_CONFIG with Go's message for an unknown scheme. */
vn_err_t vn_addr_parse(const char *url, vn_addr_t *out, char *errbuf, size_t errcap);

/** Opens and binds (and listens, for streams) a non-blocking socket; returns fd or -1 with errbuf set. */
int vn_addr_bind(const vn_addr_t *a, bool reuseport, int rcvbuf, char *errbuf, size_t errcap);

/** The bound port of an inet socket, 0 otherwise. */
int vn_addr_bound_port(int fd);

#endif
