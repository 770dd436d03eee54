/*
 * dns.c - DNS stub queries for discovery (see dns.h).
 *
 * Message layout (RFC 1035 4.1), all integers big-endian:
 *
 *   header  id(2) flags(2) qdcount(2) ancount(2) nscount(2) arcount(2)
 *   question  name type(2) class(2)
 *   records   name type(2) class(2) ttl(4) rdlength(2) rdata
 *
 *   name: labels "\x07globals\x04test\x00", or a 2-byte pointer 0xC000|offset
 *         to an earlier name (compression); SRV rdata: priority weight port target
 */
#include "proxy/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hostport.h"
#include "core/xalloc.h"

#define MAX_UDP 4096
#define MAX_TCP 65535

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

vn_err_t vn_dns_build_query(const char *name, uint16_t qtype, uint16_t id, uint8_t *buf, size_t cap, size_t *len)
{
    size_t nl = strlen(name);
    if (nl && name[nl - 1] == '.')
        nl--;
    if (nl == 0 || nl > 253)
        return VN_ERR_PARSE;
    size_t need = 12 + nl + 2 + 4 + 11;
    if (cap < need)
        return VN_ERR_TOO_LARGE;
    memset(buf, 0, 12);
    put16(buf, id);
    put16(buf + 2, 0x0100); /* RD: let the server recurse */
    put16(buf + 4, 1);
    put16(buf + 10, 1); /* the OPT record */
    size_t o = 12, start = 0;
    for (size_t i = 0; i <= nl; i++) {
        if (i == nl || name[i] == '.') {
            size_t ll = i - start;
            if (ll == 0 || ll > 63)
                return VN_ERR_PARSE;
            buf[o++] = (uint8_t)ll;
            memcpy(buf + o, name + start, ll);
            o += ll;
            start = i + 1;
        }
    }
    buf[o++] = 0;
    put16(buf + o, qtype);
    put16(buf + o + 2, 1); /* IN */
    o += 4;
    /* EDNS0 OPT: root name, type 41, class = UDP payload size, ttl 0, rdlen 0 */
    buf[o++] = 0;
    put16(buf + o, 41);
    put16(buf + o + 2, MAX_UDP);
    memset(buf + o + 4, 0, 6);
    o += 10;
    *len = o;
    return VN_OK;
}

/* Reads the name at *pos (advancing past it) into out, lower-case, dots between labels. */
static bool read_name(const uint8_t *m, size_t len, size_t *pos, char *out)
{
    size_t p = *pos, o = 0;
    bool jumped = false;
    int jumps = 0;
    for (;;) {
        if (p >= len)
            return false;
        uint8_t l = m[p];
        if ((l & 0xC0) == 0xC0) {
            if (p + 1 >= len || ++jumps > 64)
                return false;
            size_t target = ((size_t)(l & 0x3F) << 8) | m[p + 1];
            if (target >= p) /* only backwards: no loops, no forward references */
                return false;
            if (!jumped)
                *pos = p + 2;
            jumped = true;
            p = target;
            continue;
        }
        if (l & 0xC0)
            return false; /* 0x40/0x80: extended label types are not used */
        p++;
        if (l == 0)
            break;
        if (p + l > len || o + l + 2 > VN_DNS_MAX_NAME)
            return false;
        if (o)
            out[o++] = '.';
        for (size_t i = 0; i < l; i++) {
            char c = (char)m[p + i];
            out[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        p += l;
    }
    out[o] = '\0';
    if (!jumped)
        *pos = p;
    return true;
}

void vn_dns_answer_free(vn_dns_answer_t *a)
{
    if (!a)
        return;
    free(a->rr);
    a->rr = NULL;
    a->n = 0;
}

vn_err_t vn_dns_parse(const uint8_t *msg, size_t len, uint16_t id, vn_dns_answer_t *out)
{
    memset(out, 0, sizeof *out);
    if (len < 12 || get16(msg) != id || !(msg[2] & 0x80))
        return VN_ERR_PROTO;
    out->truncated = (msg[2] & 0x02) != 0;
    out->rcode = msg[3] & 0x0F;
    size_t qd = get16(msg + 4), an = get16(msg + 6), ns = get16(msg + 8), ar = get16(msg + 10);
    size_t pos = 12;
    char name[VN_DNS_MAX_NAME];
    for (size_t i = 0; i < qd; i++) {
        if (!read_name(msg, len, &pos, name) || pos + 4 > len)
            return VN_ERR_PROTO;
        pos += 4;
    }
    size_t total = an + ns + ar;
    out->rr = vn_xcalloc(total < VN_DNS_MAX_RECORDS ? (total ? total : 1) : VN_DNS_MAX_RECORDS, sizeof *out->rr);
    for (size_t i = 0; i < total; i++) {
        if (!read_name(msg, len, &pos, name) || pos + 10 > len)
            goto bad;
        uint16_t type = get16(msg + pos), cls = get16(msg + pos + 2);
        size_t rdlen = get16(msg + pos + 8);
        pos += 10;
        if (pos + rdlen > len)
            goto bad;
        size_t rd = pos;
        pos += rdlen;
        bool in_answer = i < an, in_additional = i >= an + ns;
        if (cls != 1 || !(in_answer || in_additional) || out->n >= VN_DNS_MAX_RECORDS)
            continue;
        vn_dns_rr_t *r = &out->rr[out->n];
        memset(r, 0, sizeof *r);
        r->type = type;
        r->additional = in_additional;
        snprintf(r->owner, sizeof r->owner, "%s", name);
        if (type == VN_DNS_A && rdlen == 4) {
            memcpy(r->addr, msg + rd, 4);
        } else if (type == VN_DNS_AAAA && rdlen == 16) {
            memcpy(r->addr, msg + rd, 16);
        } else if (type == VN_DNS_SRV && rdlen >= 7) {
            r->priority = get16(msg + rd);
            r->weight = get16(msg + rd + 2);
            r->port = get16(msg + rd + 4);
            size_t tp = rd + 6;
            if (!read_name(msg, rd + rdlen, &tp, r->target) || tp != rd + rdlen)
                goto bad;
        } else if (type == VN_DNS_CNAME && rdlen >= 1) {
            size_t tp = rd;
            if (!read_name(msg, rd + rdlen, &tp, r->target) || tp != rd + rdlen)
                goto bad;
        } else {
            continue; /* another type, or an A/AAAA of the wrong size */
        }
        out->n++;
    }
    return VN_OK;
bad:
    vn_dns_answer_free(out);
    return VN_ERR_PROTO;
}

void vn_dns_format_addr(const vn_dns_rr_t *rr, char *out, size_t cap)
{
    if (!inet_ntop(rr->type == VN_DNS_AAAA ? AF_INET6 : AF_INET, rr->addr, out, (socklen_t)cap))
        snprintf(out, cap, "?");
}

/* Waits for fd to be ready for events before deadline. */
static bool wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int ms = vn_clock_ms_until(deadline);
        if (ms == 0)
            return false;
        int r = poll(&p, 1, ms);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

static int open_sock(const char *server, int type, struct sockaddr_storage *sa, socklen_t *sl, char *err,
                     size_t errcap)
{
    char host[256], port[16];
    if (vn_hostport_split(server, false, host, sizeof host, port, sizeof port) != VN_OK) {
        snprintf(err, errcap, "dns_server \"%s\" is not host:port", server);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = type, .ai_flags = AI_NUMERICHOST}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        snprintf(err, errcap, "dns_server \"%s\" is not a numeric address", server);
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errcap, "socket: %s", strerror(errno));
    return fd;
}

static vn_err_t query_udp(const char *server, const uint8_t *q, size_t ql, uint16_t id, double deadline,
                          vn_dns_answer_t *out, char *err, size_t errcap)
{
    struct sockaddr_storage sa;
    socklen_t sl;
    int fd = open_sock(server, SOCK_DGRAM, &sa, &sl, err, errcap);
    if (fd < 0)
        return VN_ERR_IO;
    vn_err_t e = VN_ERR_TIMEOUT;
    /* connect() filters datagrams from other sources; resend once halfway if nothing came */
    if (connect(fd, (struct sockaddr *)&sa, sl) != 0 || send(fd, q, ql, 0) != (ssize_t)ql) {
        snprintf(err, errcap, "dns send: %s", strerror(errno));
        close(fd);
        return VN_ERR_IO;
    }
    double resend = vn_clock_mono_s() + (deadline - vn_clock_mono_s()) / 2;
    bool resent = false;
    uint8_t *buf = vn_xmalloc(MAX_UDP);
    while (e == VN_ERR_TIMEOUT) {
        double until = resent ? deadline : resend;
        if (!wait_fd(fd, POLLIN, until)) {
            if (!resent && vn_clock_mono_s() < deadline) {
                resent = true;
                (void)send(fd, q, ql, 0);
                continue;
            }
            snprintf(err, errcap, "dns: no answer from %s before the timeout", server);
            break;
        }
        ssize_t n = recv(fd, buf, MAX_UDP, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            snprintf(err, errcap, "dns recv from %s: %s", server, strerror(errno));
            e = VN_ERR_IO;
            break;
        }
        if (vn_dns_parse(buf, (size_t)n, id, out) == VN_OK)
            e = VN_OK; /* anything else (a stray or forged datagram) is ignored */
    }
    free(buf);
    close(fd);
    return e;
}

static bool io_all(int fd, uint8_t *p, size_t n, bool write_, double deadline)
{
    size_t done = 0;
    while (done < n) {
        if (!wait_fd(fd, write_ ? POLLOUT : POLLIN, deadline))
            return false;
        ssize_t r = write_ ? send(fd, p + done, n - done, MSG_NOSIGNAL) : recv(fd, p + done, n - done, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0)
            return false;
        done += (size_t)r;
    }
    return true;
}

static vn_err_t query_tcp(const char *server, const uint8_t *q, size_t ql, uint16_t id, double deadline,
                          vn_dns_answer_t *out, char *err, size_t errcap)
{
    struct sockaddr_storage sa;
    socklen_t sl;
    int fd = open_sock(server, SOCK_STREAM, &sa, &sl, err, errcap);
    if (fd < 0)
        return VN_ERR_IO;
    vn_err_t e = VN_ERR_IO;
    uint8_t *buf = vn_xmalloc(MAX_TCP + 2);
    int rc = connect(fd, (struct sockaddr *)&sa, sl);
    if (rc == 0 || errno == EINPROGRESS) {
        int soerr = 0;
        socklen_t el = sizeof soerr;
        if (wait_fd(fd, POLLOUT, deadline) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) == 0 && !soerr) {
            put16(buf, (uint16_t)ql);
            memcpy(buf + 2, q, ql);
            if (io_all(fd, buf, ql + 2, true, deadline) && io_all(fd, buf, 2, false, deadline)) {
                size_t n = get16(buf);
                if (io_all(fd, buf, n, false, deadline))
                    e = vn_dns_parse(buf, n, id, out) == VN_OK ? VN_OK : VN_ERR_PROTO;
            }
        }
    }
    if (e != VN_OK)
        snprintf(err, errcap, "dns over tcp to %s failed", server);
    free(buf);
    close(fd);
    return e;
}

vn_err_t vn_dns_query(const char *server, const char *name, uint16_t qtype, double deadline, vn_dns_answer_t *out,
                      char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    uint8_t q[512];
    size_t ql;
    uint16_t id;
    if (getrandom(&id, sizeof id, 0) != sizeof id)
        id = (uint16_t)(vn_clock_mono_s() * 1e6);
    if (vn_dns_build_query(name, qtype, id, q, sizeof q, &ql) != VN_OK) {
        snprintf(err, errcap, "\"%.200s\" is not a valid DNS name", name);
        return VN_ERR_PARSE;
    }
    vn_err_t e = query_udp(server, q, ql, id, deadline, out, err, errcap);
    if (e == VN_OK && out->truncated) {
        vn_dns_answer_free(out);
        e = query_tcp(server, q, ql, id, deadline, out, err, errcap);
    }
    return e;
}
