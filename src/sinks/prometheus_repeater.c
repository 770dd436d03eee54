/*
 * prometheus_repeater.c - the "prometheus" metric sink: DogStatsD lines to a
 * statsd_exporter (prometheus_repeater.h).
 *
 *   metric_sinks:
 *     - kind: prometheus
 *       config:
 *         repeater_address: localhost:9125   # host:port of the statsd_exporter
 *         network_type: udp                  # or tcp (required, as in Go)
 *
 * Like Go, every flush resolves and dials the address again (so a restarted
 * or moved exporter is picked up) and nothing is retried: statsd over UDP is
 * lossy by design, and a value repeated late would be a wrong sample. Unlike
 * Go, the TCP connect and writes give up at the flush deadline instead of
 * blocking the sink's thread, and every metric that was not written is
 * counted (delivery_failed, or dropped for a line too long for one datagram).
 * tags_exclude applies, as in the other sinks.
 *
 * Go validates repeater_address with url.ParseRequestURI, which accepts
 * "localhost:9125" but refuses "127.0.0.1:9125" (a scheme cannot start with a
 * digit); we take any host:port (or [v6]:port) and refuse what net.Dial
 * would fail on at every flush, like "http://host:port".
 */
#include "sinks/prometheus_repeater.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hostport.h"
#include "core/gonum.h"
#include "core/log.h"
#include "core/stats.h"
#include "core/xalloc.h"
#include "sinks/sink_internal.h"

#define LINE_BUF_CAP ((size_t)16 << 20)

/* ------------------------------------------------------------ encoding */

size_t vn_promrep__format_value(double v, char *out)
{
    return vn_gonum_format_float(v, VN_GONUM_FMT_G, out, VN_PROMREP_VALUE_MAX); /* Go's %v is 'g', -1 */
}

vn_err_t vn_promrep__line(vn_buf_t *b, const vn_sink_t *s, const vn_inter_metric_t *m)
{
    char val[VN_PROMREP_VALUE_MAX];
    size_t vl = vn_promrep__format_value(m->value, val);
    vn_err_t err = vn_buf_add_str(b, m->name ? m->name : "");
    if (err == VN_OK)
        err = vn_buf_add_byte(b, ':');
    if (err == VN_OK)
        err = vn_buf_add(b, val, vl);
    if (err == VN_OK)
        err = vn_buf_add_str(b, m->type == VN_IM_COUNTER ? "|c|#" : "|g|#");
    bool first = true;
    for (size_t i = 0; i < m->ntags && err == VN_OK; i++) {
        if (!m->tags[i] || (s && vn_sink__tag_excluded(s, m->tags[i])))
            continue;
        if (!first)
            err = vn_buf_add_byte(b, ',');
        first = false;
        if (err == VN_OK)
            err = vn_buf_add_str(b, m->tags[i]);
    }
    if (err == VN_OK)
        err = vn_buf_add_byte(b, '\n');
    return err;
}

/* ------------------------------------------------------------ sink */

typedef struct promrep {
    char *host, *port;
    bool tcp;
    vn_buf_t out; /* one batch */
} promrep_t;

static vn_err_t bad(char *errbuf, size_t errcap, const char *sink, const char *what)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sink \"%s\" (prometheus): %s", sink, what);
    return VN_ERR_CONFIG;
}

/* host:port or [v6]:port -> owned host and port; false when malformed (an
 * unbracketed v6 address, a path, a port outside 1..65535). */
static bool split_hostport(const char *a, char **host, char **port)
{
    char h[256], p[16];
    if (vn_hostport_split(a, true, h, sizeof h, p, sizeof p) != VN_OK || strchr(a, '/') ||
        (a[0] != '[' && strchr(h, ':')) || vn_hostport_port_num(p) < 1)
        return false;
    *host = vn_xstrdup(h);
    *port = vn_xstrdup(p);
    return true;
}

/* A connected socket to pr's address (non-blocking for TCP), or -1 with why set. */
static int dial(const promrep_t *pr, double deadline, const char **why)
{
    struct addrinfo hints = {.ai_socktype = pr->tcp ? SOCK_STREAM : SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(pr->host[0] ? pr->host : NULL, pr->port, &hints, &res);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    *why = "connect failed";
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (pr->tcp ? SOCK_NONBLOCK : 0), ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (pr->tcp && errno == EINPROGRESS) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (poll(&pf, 1, vn_clock_ms_until(deadline)) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
                soerr == 0)
                break;
            *why = soerr ? strerror(soerr) : "connect timed out";
        } else {
            *why = strerror(errno);
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Writes b over fd (whole, by the deadline). */
static bool send_all(int fd, bool tcp, const char *p, size_t len, double deadline)
{
    if (!tcp)
        return send(fd, p, len, MSG_NOSIGNAL) == (ssize_t)len;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, vn_clock_ms_until(deadline)) == 1)
                continue;
        }
        return false;
    }
    return true;
}

typedef struct batch_state {
    int fd;
    size_t lines;     /* in pr->out */
    size_t sent, failed;
} batch_state_t;

static void send_batch(promrep_t *pr, batch_state_t *st, double deadline)
{
    if (!st->lines)
        return;
    if (st->fd >= 0 && send_all(st->fd, pr->tcp, vn_buf_ptr(&pr->out), vn_buf_len(&pr->out), deadline))
        st->sent += st->lines;
    else
        st->failed += st->lines;
    vn_buf_reset(&pr->out);
    st->lines = 0;
}

static vn_err_t pr_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    promrep_t *pr = s->impl;
    size_t wanted = 0;
    for (size_t i = 0; i < n; i++)
        wanted += vn_sink__wants(s, &m[i]);
    if (wanted == 0)
        return VN_OK;
    const char *why = NULL;
    batch_state_t st = {.fd = dial(pr, info->deadline_s, &why)};
    if (st.fd < 0) {
        VN_LOG(WARN, "event=prometheus_repeater_dial_failed sink=%s network=%s host=%s port=%s err=\"%s\"", s->name,
               pr->tcp ? "tcp" : "udp", pr->host, pr->port, why);
        if (s->stats)
            vn_stats_add(&s->stats->transport_errors, 1);
    }
    size_t too_long = 0;
    size_t max_bytes = pr->tcp ? vn_buf_max(&pr->out) : VN_PROMREP_UDP_MAX;
    vn_buf_reset(&pr->out);
    for (size_t i = 0; i < n; i++) {
        if (!vn_sink__wants(s, &m[i]))
            continue;
        size_t mark = vn_buf_len(&pr->out);
        vn_err_t err = vn_promrep__line(&pr->out, s, &m[i]);
        if (err == VN_OK && vn_buf_len(&pr->out) > max_bytes)
            err = VN_ERR_TOO_LARGE;
        if (err != VN_OK) {
            vn_buf_truncate(&pr->out, mark);
            send_batch(pr, &st, info->deadline_s); /* then try the line alone */
            err = vn_promrep__line(&pr->out, s, &m[i]);
            if (err != VN_OK || vn_buf_len(&pr->out) > max_bytes) {
                vn_buf_reset(&pr->out);
                too_long++;
                continue;
            }
        }
        if (++st.lines == VN_PROMREP_BATCH)
            send_batch(pr, &st, info->deadline_s);
    }
    send_batch(pr, &st, info->deadline_s);
    if (st.fd >= 0)
        close(st.fd);
    if (s->stats) {
        vn_stats_add(&s->stats->delivered, st.sent);
        vn_stats_add(&s->stats->delivery_failed, st.failed);
        vn_stats_add(&s->stats->dropped, too_long);
    }
    if (too_long)
        VN_LOG(WARN, "event=prometheus_repeater_line_too_long sink=%s metrics=%zu max_bytes=%zu", s->name, too_long,
               max_bytes);
    if (st.failed) {
        VN_LOG(WARN, "event=prometheus_repeater_send_failed sink=%s metrics=%zu", s->name, st.failed);
        return VN_ERR_IO;
    }
    return VN_OK;
}

static void pr_destroy(vn_sink_t *s)
{
    promrep_t *pr = s->impl;
    if (!pr)
        return;
    free(pr->host);
    free(pr->port);
    vn_buf_free(&pr->out);
    free(pr);
    s->impl = NULL;
}

static const vn_sink_ops_t prometheus_ops = {
    .kind = "prometheus",
    .flush = pr_flush,
    .destroy = pr_destroy,
};

vn_err_t vn_sink__prometheus_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                                 size_t errcap)
{
    (void)cfg;
    const char *nt = vn_sink_config_get(sc, "network_type");
    const char *addr = vn_sink_config_get(sc, "repeater_address");
    if (!nt || (strcmp(nt, "udp") != 0 && strcmp(nt, "tcp") != 0)) {
        char msg[200];
        snprintf(msg, sizeof msg, "config key network_type: \"%.60s\" (statsd_exporter listens on udp or tcp)",
                 nt ? nt : "");
        return bad(errbuf, errcap, s->name, msg);
    }
    promrep_t *pr = vn_xcalloc(1, sizeof *pr);
    if (!addr || !split_hostport(addr, &pr->host, &pr->port)) {
        free(pr);
        char msg[300];
        snprintf(msg, sizeof msg, "config key repeater_address: \"%.200s\" (want host:port, e.g. localhost:9125)",
                 addr ? addr : "");
        return bad(errbuf, errcap, s->name, msg);
    }
    pr->tcp = strcmp(nt, "tcp") == 0;
    vn_buf_init(&pr->out, LINE_BUF_CAP);
    s->impl = pr;
    s->ops = &prometheus_ops;
    VN_LOG(INFO, "event=sink_started sink=%s kind=prometheus network=%s repeater_address=%s", s->name, nt, addr);
    return VN_OK;
}
