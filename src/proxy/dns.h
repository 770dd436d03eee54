/**
 * dns.h - DNS questions for discovery (A, AAAA, SRV) on c-ares: one
 * question to one server (discovery.dns_server, e.g. a test's server on
 * 127.0.0.1) or to the system's resolv.conf servers, over UDP with EDNS0
 * (4096-byte answers), retried over TCP when the answer comes back
 * truncated, every wait bounded by a deadline. It exists so the proxy can
 * ask a specific server and read SRV records, which getaddrinfo cannot.
 *
 * The untrusted bytes of an answer are parsed by c-ares (ares_parse_*),
 * which checks every length against the message and follows compression
 * pointers with a bound; on top of that, names are capped at
 * 253 bytes and records at VN_DNS_MAX_RECORDS, and an SRV target that is
 * not a valid host name (Go's isDomainName: letters, digits, '-', '_',
 * labels of 1..63) fails the answer, as it fails Go's net.LookupSRV. Like Go's net.LookupSRV, only the answer section is
 * read: SRV targets are resolved by their own questions, not from glue.
 * Thread-safe (one c-ares channel per question, no shared state).
 */
#ifndef VN_PROXY_DNS_H
#define VN_PROXY_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum { VN_DNS_A = 1, VN_DNS_AAAA = 28, VN_DNS_SRV = 33 };

#define VN_DNS_MAX_RECORDS 512
#define VN_DNS_MAX_NAME 256 /* presentation form without the final dot, plus NUL */

typedef struct vn_dns_rr {
    uint16_t type;
    uint8_t addr[16];                /* A: 4 bytes, AAAA: 16 */
    uint16_t priority, weight, port; /* SRV */
    char target[VN_DNS_MAX_NAME];    /* SRV target; lower-case, no trailing dot ("" = "." = no service) */
} vn_dns_rr_t;

typedef struct vn_dns_answer {
    size_t n;
    vn_dns_rr_t *rr; /* owned (vn_dns_answer_free); all of the asked type */
} vn_dns_answer_t;

/**
 * Reads the answer records of type qtype from a DNS response (msg
 * borrowed). @return VN_OK with *out (free with vn_dns_answer_free; at
 * least one record), VN_ERR_NOTFOUND when the answer has none of that type,
 * VN_ERR_PARSE for an SRV target that is not a valid name, VN_ERR_PROTO when
 * the message is malformed; *out is empty on error.
 */
vn_err_t vn_dns_parse(const uint8_t *msg, size_t len, uint16_t qtype, vn_dns_answer_t *out);

void vn_dns_answer_free(vn_dns_answer_t *a);

/**
 * Asks server ("host:port" with a numeric host; NULL or "" = the servers of
 * /etc/resolv.conf) for name/qtype before deadline (CLOCK_MONOTONIC
 * seconds). @return VN_OK with *out (at least one record), VN_ERR_NOTFOUND
 * (NXDOMAIN, or no record of that type), VN_ERR_TIMEOUT, VN_ERR_IO,
 * VN_ERR_PROTO, VN_ERR_PARSE (name, or an SRV target, not a valid DNS
 * name); err says why.
 */
vn_err_t vn_dns_query(const char *server, const char *name, uint16_t qtype, double deadline, vn_dns_answer_t *out,
                      char *err, size_t errcap);

/** Formats an A/AAAA record's address (IPv6 without brackets) into out (>= 46 bytes). */
void vn_dns_format_addr(const vn_dns_rr_t *rr, char *out, size_t cap);

#endif
