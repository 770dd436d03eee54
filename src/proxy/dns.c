/*
 * dns.c - discovery's DNS questions on c-ares (see dns.h).
 *
 * One channel per question: it is configured for exactly this question
 * (one server, no search list, EDNS0) and dropped after it, so a poll
 * never inherits state from the last one. The channel's sockets are driven
 * here with poll() (ares_getsock + ares_process_fd; not select, which
 * breaks above fd 1023 in a proxy with many connections), never past the
 * caller's deadline. c-ares's own retry: the question is sent twice, each
 * try getting a share of the time left, and a truncated UDP answer is
 * asked again over TCP.
 */
#include "proxy/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status;

static void lib_init(void) { lib_status = ares_library_init(ARES_LIB_INIT_ALL); }

void vn_dns_answer_free(vn_dns_answer_t *a)
{
    free(a->rr);
    a->rr = NULL;
    a->n = 0;
}

void vn_dns_format_addr(const vn_dns_rr_t *rr, char *out, size_t cap)
{
    if (!inet_ntop(rr->type == VN_DNS_AAAA ? AF_INET6 : AF_INET, rr->addr, out, (socklen_t)cap) && cap)
        out[0] = '\0';
}

/* A record slot, or NULL once VN_DNS_MAX_RECORDS are held. */
static vn_dns_rr_t *add(vn_dns_answer_t *a, uint16_t type)
{
    if (a->n == VN_DNS_MAX_RECORDS)
        return NULL;
    vn_dns_rr_t *r = &a->rr[a->n++];
    memset(r, 0, sizeof *r);
    r->type = type;
    return r;
}

/* A name Go's net package would accept (isDomainName): letters, digits, '-', '_', dots between
 * labels of 1..63 bytes, at most 253 bytes (no final dot). c-ares hands names over in presentation
 * form, so any other byte (its escapes included) makes the name one we cannot dial. */
static bool valid_name(const char *n, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* bad: receives the first target that is not a valid name (then VN_ERR_PARSE; like Go's
 * LookupSRV, an answer with an invalid target is an error). */
static vn_err_t parse_srv(const uint8_t *msg, int len, vn_dns_answer_t *out, char *bad, size_t badcap)
{
    struct ares_srv_reply *srv = NULL;
    int st = ares_parse_srv_reply(msg, len, &srv);
    if (st != ARES_SUCCESS)
        return st == ARES_ENODATA ? VN_ERR_NOTFOUND : VN_ERR_PROTO;
    size_t n = 0;
    for (struct ares_srv_reply *s = srv; s; s = s->next)
        n++;
    out->rr = vn_xcalloc(n < VN_DNS_MAX_RECORDS ? (n ? n : 1) : VN_DNS_MAX_RECORDS, sizeof *out->rr);
    for (struct ares_srv_reply *s = srv; s; s = s->next) {
        size_t tl = strlen(s->host);
        if (tl && s->host[tl - 1] == '.')
            tl--;
        if (tl && !valid_name(s->host, tl)) { /* tl 0: "." = no service here, kept for discovery to skip */
            if (bad)
                snprintf(bad, badcap, "%.*s", (int)(tl < 300 ? tl : 300), s->host);
            ares_free_data(srv);
            return VN_ERR_PARSE;
        }
        vn_dns_rr_t *r = add(out, VN_DNS_SRV);
        if (!r)
            break;
        r->priority = s->priority;
        r->weight = s->weight;
        r->port = s->port;
        for (size_t i = 0; i < tl; i++)
            r->target[i] = (char)(s->host[i] >= 'A' && s->host[i] <= 'Z' ? s->host[i] + 32 : s->host[i]);
        r->target[tl] = '\0';
    }
    ares_free_data(srv);
    return VN_OK;
}

static vn_err_t parse_addrs(const uint8_t *msg, int len, uint16_t qtype, vn_dns_answer_t *out)
{
    int n = VN_DNS_MAX_RECORDS, st;
    void *ttls;
    if (qtype == VN_DNS_A) {
        ttls = vn_xcalloc(VN_DNS_MAX_RECORDS, sizeof(struct ares_addrttl));
        st = ares_parse_a_reply(msg, len, NULL, ttls, &n);
    } else {
        ttls = vn_xcalloc(VN_DNS_MAX_RECORDS, sizeof(struct ares_addr6ttl));
        st = ares_parse_aaaa_reply(msg, len, NULL, ttls, &n);
    }
    if (st != ARES_SUCCESS) {
        free(ttls);
        return st == ARES_ENODATA ? VN_ERR_NOTFOUND : VN_ERR_PROTO;
    }
    out->rr = vn_xcalloc(n > 0 ? (size_t)n : 1, sizeof *out->rr);
    for (int i = 0; i < n; i++) {
        vn_dns_rr_t *r = add(out, qtype);
        if (!r)
            break;
        if (qtype == VN_DNS_A)
            memcpy(r->addr, &((struct ares_addrttl *)ttls)[i].ipaddr, 4);
        else
            memcpy(r->addr, &((struct ares_addr6ttl *)ttls)[i].ip6addr, 16);
    }
    free(ttls);
    return VN_OK;
}

static vn_err_t parse(const uint8_t *msg, size_t len, uint16_t qtype, vn_dns_answer_t *out, char *bad, size_t badcap)
{
    memset(out, 0, sizeof *out);
    if (len > 65535)
        return VN_ERR_PROTO; /* more than one DNS message can be */
    pthread_once(&lib_once, lib_init);
    vn_err_t e;
    if (qtype == VN_DNS_SRV)
        e = parse_srv(msg, (int)len, out, bad, badcap);
    else if (qtype == VN_DNS_A || qtype == VN_DNS_AAAA)
        e = parse_addrs(msg, (int)len, qtype, out);
    else
        e = VN_ERR_CONFIG;
    if (e == VN_OK && out->n == 0)
        e = VN_ERR_NOTFOUND;
    if (e != VN_OK)
        vn_dns_answer_free(out);
    return e;
}

vn_err_t vn_dns_parse(const uint8_t *msg, size_t len, uint16_t qtype, vn_dns_answer_t *out)
{
    return parse(msg, len, qtype, out, NULL, 0);
}

/* ---- one question ---- */

typedef struct query {
    bool done;
    int status;          /* ARES_* */
    uint16_t qtype;
    vn_dns_answer_t *out;
    vn_err_t parsed;
    char bad[320]; /* an SRV target that is not a valid name */
} query_t;

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    query_t *q = arg;
    q->done = true;
    q->status = status;
    if (status == ARES_SUCCESS)
        q->parsed = parse(abuf, (size_t)alen, q->qtype, q->out, q->bad, sizeof q->bad);
}

static const char *type_name(uint16_t t) { return t == VN_DNS_SRV ? "SRV" : t == VN_DNS_AAAA ? "AAAA" : "A"; }

/* Runs the channel until the question is answered or the deadline passes. */
static void drive(ares_channel ch, query_t *q, double deadline)
{
    while (!q->done) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        /* the bits by hand: c-ares's ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit */
        unsigned bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd p[ARES_GETSOCK_MAXNUM];
        nfds_t np = 0;
        for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = (short)(((bits >> i) & 1u ? POLLIN : 0) | ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u ? POLLOUT : 0));
            if (ev)
                p[np++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
        int ms = vn_clock_ms_until(deadline);
        if (ms == 0) {
            ares_cancel(ch); /* calls on_answer with ARES_ECANCELLED */
            return;
        }
        struct timeval cap = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000}, tvb;
        struct timeval *tv = ares_timeout(ch, &cap, &tvb);
        int wait = (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
        int pr = poll(p, np, wait);
        if (pr <= 0) {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* c-ares's own timeouts */
            continue;
        }
        for (nfds_t i = 0; i < np && !q->done; i++) {
            if (!p[i].revents)
                continue;
            ares_socket_t r = p[i].revents & (POLLIN | POLLHUP | POLLERR) ? p[i].fd : ARES_SOCKET_BAD;
            ares_socket_t w = p[i].revents & (POLLOUT | POLLHUP | POLLERR) ? p[i].fd : ARES_SOCKET_BAD;
            ares_process_fd(ch, r, w);
        }
    }
}

vn_err_t vn_dns_query(const char *server, const char *name, uint16_t qtype, double deadline, vn_dns_answer_t *out,
                      char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    pthread_once(&lib_once, lib_init);
    if (lib_status != ARES_SUCCESS) {
        snprintf(err, errcap, "dns: c-ares: %s", ares_strerror(lib_status));
        return VN_ERR_IO;
    }
    if (!name[0] || strcmp(name, ".") == 0) {
        snprintf(err, errcap, "\"%.200s\" is not a valid DNS name", name);
        return VN_ERR_PARSE;
    }
    double left = deadline - vn_clock_mono_s();
    struct ares_options o = {
        .flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS,
        .timeout = left > 0 ? (int)(left * 1000 / 3) + 1 : 1, /* two tries; c-ares doubles the second */
        .tries = 2,
        .ndots = 0,
        .ednspsz = 4096,
        .lookups = (char *)"b",
    };
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS | ARES_OPT_EDNSPSZ |
               ARES_OPT_LOOKUPS;
    ares_channel ch;
    int st = ares_init_options(&ch, &o, mask);
    if (st != ARES_SUCCESS) {
        snprintf(err, errcap, "dns: c-ares: %s", ares_strerror(st));
        return VN_ERR_IO;
    }
    if (server && server[0] && (st = ares_set_servers_ports_csv(ch, server)) != ARES_SUCCESS) {
        snprintf(err, errcap, "dns_server \"%.200s\" is not a numeric host:port (%s)", server, ares_strerror(st));
        ares_destroy(ch);
        return VN_ERR_IO;
    }
    const char *who = server && server[0] ? server : "the resolv.conf servers";
    query_t q = {.qtype = qtype, .out = out, .parsed = VN_OK};
    ares_query(ch, name, 1 /* class IN */, qtype, on_answer, &q);
    drive(ch, &q, deadline);
    ares_destroy(ch);
    vn_err_t e = VN_OK;
    switch (q.status) {
    case ARES_SUCCESS:
        e = q.parsed;
        if (e == VN_ERR_NOTFOUND)
            snprintf(err, errcap, "dns: %s %.200s: no record", type_name(qtype), name);
        else if (e == VN_ERR_PARSE)
            snprintf(err, errcap, "dns: SRV %.200s: target \"%.300s\" is not a valid DNS name", name, q.bad);
        else if (e != VN_OK)
            snprintf(err, errcap, "dns: %s %.200s: malformed answer from %s", type_name(qtype), name, who);
        break;
    case ARES_ENODATA:
    case ARES_ENOTFOUND:
        snprintf(err, errcap, "dns: %s %.200s: %s", type_name(qtype), name,
                 q.status == ARES_ENOTFOUND ? "NXDOMAIN" : "no record");
        e = VN_ERR_NOTFOUND;
        break;
    case ARES_EBADNAME:
        snprintf(err, errcap, "\"%.200s\" is not a valid DNS name", name);
        e = VN_ERR_PARSE;
        break;
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
        snprintf(err, errcap, "dns: no answer from %s for %s %.200s before the deadline", who, type_name(qtype), name);
        e = VN_ERR_TIMEOUT;
        break;
    case ARES_EBADRESP:
    case ARES_EFORMERR:
        snprintf(err, errcap, "dns: malformed answer from %s for %.200s", who, name);
        e = VN_ERR_PROTO;
        break;
    default:
        snprintf(err, errcap, "dns: %s %.200s via %s: %s", type_name(qtype), name, who, ares_strerror(q.status));
        e = VN_ERR_IO;
    }
    if (e != VN_OK)
        vn_dns_answer_free(out);
    return e;
}
