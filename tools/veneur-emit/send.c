/*
 * send.c - where -hostport points, and putting the payload there.
 *
 * -hostport is read as Go veneur-emit reads it: a URL with a known scheme, else
 * the whole string prefixed with "udp://" (so "localhost:8126" and
 * "127.0.0.1:8126" are UDP):
 *
 *   udp://127.0.0.1:8126   udp4:// udp6://   one datagram per chunk
 *   tcp://[::1]:8126       tcp4:// tcp6://   one connection, the whole buffer
 *   unix:///run/v.sock                       stream socket, the whole buffer
 *   unixgram:///run/v.sock                   one datagram per chunk
 *   unixpacket:///run/v.sock                 one message per chunk
 *
 * A host name resolves once, to the first IPv4 address unless the host was a
 * bracketed IPv6 literal (Go's preference); an empty host means this machine.
 * For unix sockets the path is the URL path ("unix://x/y" is "/y", as in Go),
 * with %XX decoded; a leading '@' names a Linux abstract socket, as in Go.
 *
 * Writes use MSG_NOSIGNAL rather than ignoring SIGPIPE, because a -command child
 * would inherit an ignored SIGPIPE.
 */
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "emit.h"

typedef struct scheme {
    const char *name, *network;
    int family, socktype;
} scheme_t;

static const scheme_t g_schemes[] = {
    {"udp", "udp", AF_UNSPEC, SOCK_DGRAM},
    {"udp4", "udp", AF_INET, SOCK_DGRAM},
    {"udp6", "udp", AF_INET6, SOCK_DGRAM},
    {"tcp", "tcp", AF_UNSPEC, SOCK_STREAM},
    {"tcp4", "tcp", AF_INET, SOCK_STREAM},
    {"tcp6", "tcp", AF_INET6, SOCK_STREAM},
    {"unix", "unix", AF_UNIX, SOCK_STREAM},
    {"unixgram", "unixgram", AF_UNIX, SOCK_DGRAM},
    {"unixpacket", "unixpacket", AF_UNIX, SOCK_SEQPACKET},
};

static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* A URL scheme is [A-Za-z][A-Za-z0-9+.-]* followed by ':'. */
static const scheme_t *find_scheme(const char *s, const char **rest)
{
    size_t i = 0;
    if (!is_alpha(s[0]))
        return NULL;
    while (is_alpha(s[i]) || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '.' || s[i] == '-')
        i++;
    if (s[i] != ':')
        return NULL;
    for (size_t k = 0; k < sizeof g_schemes / sizeof g_schemes[0]; k++) {
        if (strlen(g_schemes[k].name) == i && strncasecmp(g_schemes[k].name, s, i) == 0) {
            *rest = s + i + 1;
            return &g_schemes[k];
        }
    }
    return NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static vn_err_t resolve_unix(const scheme_t *sc, const char *rest, vn_emit_dest_t *d, char *err, size_t errlen)
{
    /* unix:///run/v.sock -> "/run/v.sock";  unix:rel.sock -> "rel.sock"
     *      ^^ authority skipped            */
    bool url_path = strncmp(rest, "//", 2) == 0;
    const char *p = rest;
    if (url_path) {
        p += 2;
        p += strcspn(p, "/?#");
    }
    size_t n = strcspn(p, "?#");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i];
        if (url_path && c == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
            c = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
            i += 2;
        }
        if (k + 1 >= sizeof sun.sun_path) {
            snprintf(err, errlen, "unix socket path longer than %zu bytes", sizeof sun.sun_path - 1);
            return VN_ERR_CONFIG;
        }
        sun.sun_path[k++] = (char)c;
    }
    if (k == 0) {
        snprintf(err, errlen, "missing unix socket path");
        return VN_ERR_CONFIG;
    }
    snprintf(d->display, sizeof d->display, "%.*s", (int)k, sun.sun_path);
    d->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + k);
    if (sun.sun_path[0] == '@')
        sun.sun_path[0] = '\0'; /* abstract namespace: exact length, no NUL */
    else
        d->addrlen += 1;
    memcpy(&d->addr, &sun, sizeof sun);
    d->network = sc->network;
    d->family = AF_UNIX;
    d->socktype = sc->socktype;
    return VN_OK;
}

static vn_err_t resolve_inet(const scheme_t *sc, const char *rest, vn_emit_dest_t *d, char *err, size_t errlen)
{
    if (strncmp(rest, "//", 2) != 0) {
        snprintf(err, errlen, "missing //host:port");
        return VN_ERR_CONFIG;
    }
    /* udp://user@[::1]:8126/path -> host "::1", port "8126"
     *       ^^^^^ dropped  ^^^^ dropped                      */
    const char *a = rest + 2;
    size_t alen = strcspn(a, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (a[i] == '@')
            at = a + i;
    if (at) {
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    char host[256], port[64];
    bool bracketed = alen > 0 && a[0] == '[';
    const char *colon;
    if (bracketed) {
        const char *rb = memchr(a, ']', alen);
        if (!rb || rb + 1 >= a + alen || rb[1] != ':') {
            snprintf(err, errlen, "missing port in address");
            return VN_ERR_CONFIG;
        }
        colon = rb + 1;
        snprintf(host, sizeof host, "%.*s", (int)(rb - a - 1), a + 1);
    } else {
        colon = memchr(a, ':', alen);
        if (!colon) {
            snprintf(err, errlen, "missing port in address");
            return VN_ERR_CONFIG;
        }
        if (memchr(colon + 1, ':', alen - (size_t)(colon + 1 - a))) {
            snprintf(err, errlen, "too many colons in address (bracket IPv6 literals: [::1]:8126)");
            return VN_ERR_CONFIG;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - a), a);
    }
    size_t plen = alen - (size_t)(colon + 1 - a);
    if (plen == 0 || plen >= sizeof port) {
        snprintf(err, errlen, "missing port in address");
        return VN_ERR_CONFIG;
    }
    snprintf(port, sizeof port, "%.*s", (int)plen, colon + 1);

    struct addrinfo hints = {.ai_family = sc->family, .ai_socktype = sc->socktype};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %.120s:%.30s: %s", host, port,
                 gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return VN_ERR_IO;
    }
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (bracketed ? ai->ai_family != AF_INET : ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    memcpy(&d->addr, pick->ai_addr, pick->ai_addrlen);
    d->addrlen = pick->ai_addrlen;
    d->family = pick->ai_family;
    d->socktype = sc->socktype;
    d->network = sc->network;
    char h[NI_MAXHOST], s[NI_MAXSERV];
    if (getnameinfo(pick->ai_addr, pick->ai_addrlen, h, sizeof h, s, sizeof s, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(d->display, sizeof d->display, d->family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, s);
    else
        snprintf(d->display, sizeof d->display, "%.120s:%.30s", host, port);
    freeaddrinfo(res);
    return VN_OK;
}

static vn_err_t resolve_url(const char *url, vn_emit_dest_t *d, bool *known, char *err, size_t errlen)
{
    const char *rest = NULL;
    const scheme_t *sc = find_scheme(url, &rest);
    *known = sc != NULL;
    if (!sc) {
        snprintf(err, errlen, "unknown address scheme");
        return VN_ERR_CONFIG;
    }
    return sc->family == AF_UNIX ? resolve_unix(sc, rest, d, err, errlen)
                                 : resolve_inet(sc, rest, d, err, errlen);
}

vn_err_t vn_emit_dest_resolve(const char *hostport, vn_emit_dest_t *d, char *err, size_t errlen)
{
    *d = (vn_emit_dest_t){0};
    if (!hostport || !*hostport) {
        snprintf(err, errlen, "-hostport is required");
        return VN_ERR_CONFIG;
    }
    char why[256];
    bool known;
    vn_err_t rc = resolve_url(hostport, d, &known, why, sizeof why);
    if (rc != VN_OK && !known) { /* "localhost:8126", "10.0.0.1:8126": try it as UDP */
        size_t n = strlen(hostport) + sizeof "udp://";
        char *u = vn_xmalloc(n);
        snprintf(u, n, "udp://%s", hostport);
        rc = resolve_url(u, d, &known, why, sizeof why);
        free(u);
    }
    if (rc != VN_OK)
        snprintf(err, errlen, "-hostport %s: %s", hostport, why);
    return rc;
}

/* A printable copy of a payload for -debug: \n, \\, \" and \xNN escaped. */
static void escape(const char *p, size_t n, char *out, size_t cap)
{
    size_t k = 0, i = 0;
    for (; i < n && k + 8 < cap; i++) { /* at most 4 bytes per input byte */
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    if (i < n) { /* truncated; k <= cap - 4 here */
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static void log_write(const vn_emit_dest_t *d, const char *p, size_t n)
{
    char esc[1600];
    escape(p, n, esc, sizeof esc);
    VN_LOG(DEBUG, "event=send network=%s addr=\"%s\" bytes=%zu payload=\"%s\"", d->network, d->display, n, esc);
}

vn_err_t vn_emit_send(const vn_emit_dest_t *d, const vn_emit_payload_t *p, bool debug, char *err,
                      size_t errlen)
{
    int fd = socket(d->family, d->socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return VN_ERR_IO;
    }
    vn_err_t rc = VN_OK;
    if (connect(fd, (const struct sockaddr *)&d->addr, d->addrlen) != 0) {
        snprintf(err, errlen, "-hostport %s://%s: connect: %s", d->network, d->display, strerror(errno));
        close(fd);
        return VN_ERR_IO;
    }
    if (d->socktype == SOCK_STREAM) {
        if (debug)
            log_write(d, p->buf.p, p->buf.len);
        size_t off = 0;
        while (off < p->buf.len) {
            ssize_t w = send(fd, p->buf.p + off, p->buf.len - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                snprintf(err, errlen, "-hostport %s://%s: write: %s", d->network, d->display, strerror(errno));
                rc = VN_ERR_IO;
                break;
            }
            off += (size_t)w;
        }
    } else {
        for (size_t i = 0; i < p->nchunks && rc == VN_OK; i++) {
            const char *c = p->buf.p + p->chunk_off[i];
            size_t n = p->chunk_len[i];
            if (debug)
                log_write(d, c, n);
            ssize_t w;
            do
                w = send(fd, c, n, MSG_NOSIGNAL);
            while (w < 0 && errno == EINTR);
            if (w < 0 || (size_t)w != n) {
                snprintf(err, errlen, "-hostport %s://%s: send: %s", d->network, d->display,
                         w < 0 ? strerror(errno) : "short datagram");
                rc = VN_ERR_IO;
            }
        }
    }
    if (close(fd) != 0 && rc == VN_OK && errno != EINTR) {
        snprintf(err, errlen, "-hostport %s://%s: close: %s", d->network, d->display, strerror(errno));
        rc = VN_ERR_IO;
    }
    return rc;
}
