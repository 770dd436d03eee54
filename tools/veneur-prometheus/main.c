/*
 * main.c - veneur-prometheus: the poll loop (docs/internals/prometheus.md).
 *
 * Every interval (the first at start-up; Go waits one interval first):
 *   GET -> whole body -> parse -> translate (counter deltas) -> send
 * A scrape is all or nothing: if the GET fails (connect, timeout, TLS,
 * non-2xx) only `veneur.prometheus.connect_errors_total:1|c` is sent; if the
 * body is too big or does not parse, only `veneur.prometheus.decode_errors_total:1|c`.
 * Either way the counter baseline stays at the last good scrape, so the next
 * good one sends the increase over the gap rather than the full totals.
 *
 * Timing: a monotonic schedule start + k*interval; a scrape that overruns
 * skips the ticks it missed (Go's ticker drops them too). Each scrape's
 * deadline is one interval, as Go's context deadline. SIGTERM/SIGINT end the
 * wait or the transfer promptly and exit 0.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "prom.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct loop {
    const vn_pm_opts_t *o;
    vn_pm_scraper_t *scraper;
    vn_pm_sender_t sender;
    vn_pm_tcfg_t tcfg;
    vn_prom_doc_t doc;
    vn_prom_delta_t cache;
    vn_pm_out_t out;
} loop_t;

/* Sends only `<prefix>veneur.prometheus.<what>:1|c` for a failed scrape. */
static void send_error_count(loop_t *l, const char *what)
{
    vn_pm_out_reset(&l->out);
    if (vn_pm_add_count(&l->out, l->o->prefix, what, 1) == VN_OK)
        vn_pm_send_lines(&l->sender, vn_buf_ptr(&l->out.lines), vn_buf_len(&l->out.lines), l->o->debug);
}

static void scrape_once(loop_t *l)
{
    const vn_pm_opts_t *o = l->o;
    double t0 = vn_clock_mono_s();
    const char *body = NULL;
    size_t len = 0;
    char err[512];
    VN_LOG(DEBUG, "event=scrape_begin metrics_host=\"%s\"", o->url);
    vn_pm_scrape_rc_t rc = vn_pm_scrape(l->scraper, o->interval_s, &body, &len, err, sizeof err);
    if (rc == VN_PM_SCRAPE_STOPPED)
        return;
    if (rc == VN_PM_SCRAPE_CONNECT || rc == VN_PM_SCRAPE_STATUS) {
        VN_LOG(WARN, "event=scrape_failed prometheus_host=\"%s\" err=%s", o->url, VN_LOG_Q(err));
        send_error_count(l, "veneur.prometheus.connect_errors_total");
        return;
    }
    if (rc == VN_PM_SCRAPE_TOO_BIG) {
        VN_LOG(WARN, "event=decode_error host=\"%s\" err=%s", o->url, VN_LOG_Q(err));
        send_error_count(l, "veneur.prometheus.decode_errors_total");
        return;
    }
    vn_prom_error_t perr;
    vn_err_t prc = vn_prom_parse(&l->doc, body, len, &perr);
    if (prc != VN_OK) {
        char m[sizeof perr.msg + 64]; /* Go's wording, quoted whole: msg can echo scraped bytes */
        snprintf(m, sizeof m, "text format parsing error in line %u: %s", perr.line, perr.msg);
        VN_LOG(WARN, "event=decode_error host=\"%s\" line=%u err=%s", o->url, perr.line, VN_LOG_Q(m));
        send_error_count(l, "veneur.prometheus.decode_errors_total");
        return;
    }
    vn_pm_out_reset(&l->out);
    vn_err_t trc = vn_pm_translate(&l->tcfg, &l->cache, &l->doc, &l->out);
    if (trc != VN_OK) {
        vn_prom_delta_abort(&l->cache);
        VN_LOG(WARN, "event=decode_error host=\"%s\" err=\"translated output over %u bytes\"", o->url,
               VN_PM_MAX_LINES_BYTES);
        send_error_count(l, "veneur.prometheus.decode_errors_total");
        return;
    }
    size_t dgrams =
        vn_pm_send_lines(&l->sender, vn_buf_ptr(&l->out.lines), vn_buf_len(&l->out.lines), o->debug);
    vn_prom_delta_done(&l->cache);
    if (l->out.too_long)
        VN_LOG(WARN, "event=lines_dropped reason=longer_than_datagram max_bytes=%d count=%llu",
               VN_PM_MAX_DATAGRAM, (unsigned long long)l->out.too_long);
    VN_LOG(DEBUG,
           "event=scrape_done bytes=%zu families=%u series=%u translated=%llu lines=%u datagrams=%zu "
           "ms=%.1f",
           len, l->doc.nfamilies, l->doc.nseries, (unsigned long long)l->out.translated, l->out.nlines,
           dgrams, (vn_clock_mono_s() - t0) * 1000);
}

/* Sleeps until the monotonic time `until`, or a signal. */
static void sleep_until(double until)
{
    struct timespec ts;
    ts.tv_sec = (time_t)until;
    ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!g_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static int run(const vn_pm_opts_t *o)
{
    loop_t l;
    memset(&l, 0, sizeof l);
    l.o = o;
    char err[512];
    if (vn_pm_sender_open(&l.sender, o->statsd, err, sizeof err) != VN_OK) {
        fprintf(stderr, "veneur-prometheus: %s\n", err);
        return VN_PM_EXIT_FAIL;
    }
    l.scraper = vn_pm_scraper_new(o, &g_stop, err, sizeof err);
    if (!l.scraper) {
        fprintf(stderr, "veneur-prometheus: %s\n", err);
        vn_pm_sender_close(&l.sender);
        return VN_PM_EXIT_FAIL;
    }
    l.tcfg = (vn_pm_tcfg_t){.prefix = o->prefix,
                            .ignored_labels = o->re_labels,
                            .ignored_metrics = o->re_metrics,
                            .renames = o->renames,
                            .nrenames = o->nrenames,
                            .adds = o->adds,
                            .nadds = o->nadds};
    vn_prom_doc_init(&l.doc, NULL);
    vn_prom_delta_init(&l.cache, VN_PM_MAX_CACHE_BYTES);
    vn_pm_out_init(&l.out);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a signal must end the sleep */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    VN_LOG(INFO, "event=start metrics_host=\"%s\" interval_s=%g stats_host=\"%s\" prefix=\"%s\"", o->url,
           o->interval_s, l.sender.display, o->prefix);
    double next = vn_clock_mono_s();
    while (!g_stop) {
        scrape_once(&l);
        next += o->interval_s;
        double now = vn_clock_mono_s();
        if (next <= now) /* overran: skip the missed ticks, like a Go ticker */
            next += ceil((now - next) / o->interval_s) * o->interval_s;
        if (next <= now)
            next = now + o->interval_s;
        sleep_until(next);
        vn_log_report_suppressed(); /* a burst that went quiet (core/log.h) */
    }
    VN_LOG(INFO, "event=stop datagrams=%llu send_errors=%llu", (unsigned long long)l.sender.datagrams,
           (unsigned long long)l.sender.send_errors);
    vn_pm_out_destroy(&l.out);
    vn_prom_delta_destroy(&l.cache);
    vn_prom_doc_destroy(&l.doc);
    vn_pm_scraper_free(l.scraper);
    vn_pm_sender_close(&l.sender);
    return VN_PM_EXIT_OK;
}

int main(int argc, char **argv)
{
    vn_pm_opts_t o;
    char err[512];
    vn_pm_flags_rc_t frc = vn_pm_flags_parse(argc, argv, &o, err, sizeof err);
    int status;
    switch (frc) {
    case VN_PM_FLAGS_HELP:
        vn_pm_flags_usage(stdout);
        status = VN_PM_EXIT_OK;
        break;
    case VN_PM_FLAGS_USAGE:
        fprintf(stderr, "veneur-prometheus: %s\n", err);
        vn_pm_flags_usage(stderr);
        status = VN_PM_EXIT_USAGE;
        break;
    case VN_PM_FLAGS_BAD:
        fprintf(stderr, "veneur-prometheus: %s\n", err);
        status = VN_PM_EXIT_FAIL;
        break;
    default:
        vn_log_set_level(o.debug ? VN_LOG_DEBUG : VN_LOG_INFO);
        status = run(&o);
        break;
    }
    vn_pm_opts_destroy(&o);
    return status;
}
