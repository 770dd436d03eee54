/**
 * dns.h - a small DNS stub client for discovery (RFC 1035, SRV RFC 2782):
 * one question (A, AAAA or SRV) to one server over UDP, retried over TCP
 * when the answer comes back truncated, every wait bounded by a deadline.
 * It exists so the proxy can ask a specific server (discovery.dns_server,
 * e.g. a test's server on 127.0.0.1) and read SRV records, which
 * getaddrinfo cannot.
 *
 * Parsing is for untrusted bytes: every length is checked against the
 * message, compression pointers may only point backwards and at most 64
 * are followed per name, names are capped at 255 bytes, records at
 * VN_DNS_MAX_RECORDS. Thread-safe (no shared state).
 */
#ifndef VN_PROXY_DNS_H
#define VN_PROXY_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum { VN_DNS_A = 1, VN_DNS_CNAME = 5, VN_DNS_AAAA = 28, VN_DNS_SRV = 33 };

#define VN_DNS_MAX_RECORDS 512
#define VN_DNS_MAX_NAME 256 /* presentation form without the final dot, plus NUL */

typedef struct vn_dns_rr {
    char owner[VN_DNS_MAX_NAME]; /* lower-case, no trailing dot */
    uint16_t type;
    bool additional;  /* from the additional section */
    uint8_t addr[16]; /* A: 4 bytes, AAAA: 16 */
    uint16_t priority, weight, port; /* SRV */
    char target[VN_DNS_MAX_NAME];    /* SRV target, CNAME target; lower-case, no trailing dot */
} vn_dns_rr_t;

typedef struct vn_dns_answer {
    int rcode;        /* 0 = NOERROR, 3 = NXDOMAIN, ... */
    bool truncated;   /* TC bit */
    size_t n;
    vn_dns_rr_t *rr;  /* owned (vn_dns_answer_free); A, AAAA, SRV and CNAME records only */
} vn_dns_answer_t;

/**
 * Writes a query for name (dots between labels, a trailing dot allowed) with
 * an EDNS0 OPT record advertising 4096-byte UDP answers. @return VN_OK with
 * *len, VN_ERR_PARSE for a name that is not a valid DNS name (empty label,
 * label over 63 bytes, name over 253), VN_ERR_TOO_LARGE if cap is short.
 */
vn_err_t vn_dns_build_query(const char *name, uint16_t qtype, uint16_t id, uint8_t *buf, size_t cap, size_t *len);

/**
 * Parses a response to query id (msg borrowed). Records of other types and
 * classes are skipped. @return VN_OK with *out filled (free with
 * vn_dns_answer_free), VN_ERR_PROTO when the message is malformed, is not a
 * response, or answers another id.
 */
vn_err_t vn_dns_parse(const uint8_t *msg, size_t len, uint16_t id, vn_dns_answer_t *out);

void vn_dns_answer_free(vn_dns_answer_t *a);

/**
 * Asks server ("host:port", a numeric address) for name/qtype before deadline
 * (CLOCK_MONOTONIC seconds). @return VN_OK with *out, VN_ERR_TIMEOUT,
 * VN_ERR_IO, VN_ERR_PROTO, VN_ERR_PARSE (bad name); err says why.
 */
vn_err_t vn_dns_query(const char *server, const char *name, uint16_t qtype, double deadline, vn_dns_answer_t *out,
                      char *err, size_t errcap);

/** Formats an A/AAAA record's address (IPv6 without brackets) into out (>= 46 bytes). */
void vn_dns_format_addr(const vn_dns_rr_t *rr, char *out, size_t cap);

#endif
