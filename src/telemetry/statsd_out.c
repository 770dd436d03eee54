/* statsd_out.c - bounded DogStatsD datagrams for self-metrics (see statsd_out.h). */
#include "telemetry/statsd_out.h"

#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/xalloc.h"

struct vn_statsd_out {
    int fd;
    char ns[64];
    char *suffix; /* ",t1,t2" from opts->tags, owned; "" when none */
    size_t max_dgram, max_lines;
    char buf[VN_STATSD_OUT_MAX_DGRAM];
    size_t len, nlines;
    _Atomic uint64_t lines, sent, dropped, lines_dropped;
};

static vn_err_t open_unix(const char *path, int *fd, char *err, size_t errcap)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errcap, "unix socket path too long: %s", path);
        return VN_ERR_CONFIG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    *fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0) {
        snprintf(err, errcap, "socket: %s", strerror(errno));
        return VN_ERR_IO;
    }
    /* Not connected: the listener may start after us; sendto retries the path every datagram. */
    if (connect(*fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != ENOENT && errno != ECONNREFUSED) {
        snprintf(err, errcap, "connect %s: %s", path, strerror(errno));
        close(*fd);
        return VN_ERR_CONFIG;
    }
    return VN_OK;
}

static vn_err_t open_udp(const char *hostport, int *fd, char *err, size_t errcap)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1] || (size_t)(colon - hostport) >= sizeof host) {
        snprintf(err, errcap, "address %s: want host:port", hostport);
        return VN_ERR_CONFIG;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:8125 */
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errcap, "address %s: %s", hostport, gai_strerror(rc));
        return VN_ERR_CONFIG;
    }
    *fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0 || connect(*fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errcap, "address %s: %s", hostport, strerror(errno));
        if (*fd >= 0)
            close(*fd);
        freeaddrinfo(ai);
        return VN_ERR_CONFIG;
    }
    freeaddrinfo(ai);
    return VN_OK;
}

vn_err_t vn_statsd_out_open(const vn_statsd_out_opts_t *o, vn_statsd_out_t **out, char *err, size_t errcap)
{
    *out = NULL;
    int fd = -1;
    vn_err_t rc;
    const char *a = o->address;
    if (strncmp(a, "unix://", 7) == 0 || strncmp(a, "unixgram://", 11) == 0)
        rc = open_unix(strchr(a, '/') + 2, &fd, err, errcap);
    else
        rc = open_udp(strncmp(a, "udp://", 6) == 0 ? a + 6 : a, &fd, err, errcap);
    if (rc != VN_OK)
        return rc;
    vn_statsd_out_t *s = vn_xcalloc(1, sizeof *s);
    s->fd = fd;
    snprintf(s->ns, sizeof s->ns, "%s", o->ns ? o->ns : "");
    size_t n = 1;
    for (size_t i = 0; i < o->ntags; i++)
        n += strlen(o->tags[i]) + 1;
    s->suffix = vn_xcalloc(1, n);
    for (size_t i = 0, at = 0; i < o->ntags; i++)
        at += (size_t)sprintf(s->suffix + at, ",%s", o->tags[i]);
    s->max_dgram = o->max_dgram && o->max_dgram < VN_STATSD_OUT_MAX_DGRAM ? o->max_dgram : VN_STATSD_OUT_MAX_DGRAM;
    s->max_lines = o->max_lines;
    *out = s;
    return VN_OK;
}

void vn_statsd_out_flush(vn_statsd_out_t *s)
{
    if (!s || s->len == 0)
        return;
    ssize_t w = send(s->fd, s->buf, s->len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w == (ssize_t)s->len) {
        atomic_fetch_add_explicit(&s->sent, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->lines_dropped, s->nlines, memory_order_relaxed);
    }
    s->len = 0;
    s->nlines = 0;
}

void vn_statsd_out_add(vn_statsd_out_t *s, const char *name, double value, const char *type, const char *tags)
{
    vn_statsd_out_add_rate(s, name, value, type, 1.0, tags);
}

void vn_statsd_out_add_rate(vn_statsd_out_t *s, const char *name, double value, const char *type, double rate,
                            const char *tags)
{
    if (!s)
        return;
    char at[40] = "";
    if (rate > 0 && rate < 1)
        snprintf(at, sizeof at, "|@%.9g", rate);
    atomic_fetch_add_explicit(&s->lines, 1, memory_order_relaxed);
    char line[VN_STATSD_OUT_MAX_DGRAM + 1];
    const char *t = tags ? tags : "";
    const char *suf = s->suffix[0] ? (t[0] ? s->suffix : s->suffix + 1) : ""; /* no leading comma alone */
    bool any = t[0] || suf[0];
    int n = snprintf(line, sizeof line, "%s%s:%.17g|%s%s%s%s%s", s->ns, name, value, type, at, any ? "|#" : "", t,
                     suf);
    if (n < 0 || (size_t)n >= s->max_dgram) {
        atomic_fetch_add_explicit(&s->lines_dropped, 1, memory_order_relaxed);
        return;
    }
    size_t need = (size_t)n + (s->len ? 1 : 0);
    if (s->len + need > s->max_dgram || (s->max_lines && s->nlines >= s->max_lines))
        vn_statsd_out_flush(s);
    if (s->len)
        s->buf[s->len++] = '\n';
    memcpy(s->buf + s->len, line, (size_t)n);
    s->len += (size_t)n;
    s->nlines++;
}

vn_statsd_out_counts_t vn_statsd_out_counts(const vn_statsd_out_t *s)
{
    vn_statsd_out_counts_t c = {0};
    if (!s)
        return c;
    vn_statsd_out_t *m = (vn_statsd_out_t *)s;
    c.lines = atomic_load_explicit(&m->lines, memory_order_relaxed);
    c.dgrams_sent = atomic_load_explicit(&m->sent, memory_order_relaxed);
    c.dgrams_dropped = atomic_load_explicit(&m->dropped, memory_order_relaxed);
    c.lines_dropped = atomic_load_explicit(&m->lines_dropped, memory_order_relaxed);
    return c;
}

void vn_statsd_out_free(vn_statsd_out_t *s)
{
    if (!s)
        return;
    vn_statsd_out_flush(s);
    close(s->fd);
    free(s->suffix);
    free(s);
}
