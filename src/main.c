/*
 * main.c - the veneur daemon: flags, config, wiring, signals. No logic lives
 * here; each step calls the module that owns it.
 *
 * Start-up order: config -> sinks -> listeners (bind) -> workers (sized by the
 * number of readers) -> reader threads -> flusher -> HTTP. Shutdown runs it
 * backwards with a final flush in between (docs/behaviour.md 0.7): stop reading, mark not
 * ready, flush what is held, exit 0.
 */
#include <errno.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate/events.h"
#include "aggregate/worker.h"
#include "config/config.h"
#include "core/cli.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/stats.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "flush/flusher.h"
#include "forward/forward.h"
#include "forward/grpc_ingest.h"
#include "http/server.h"
#include "listen/listeners.h"
#include "sources/sources.h"
#include "spansinks/runner.h"
#include "otlp/grpc_client.h"
#include "otlp/server.h"
#include "ssf/server.h"
#include "tls/tls.h"
#include "tls/tls_files.h"
#include "parse/dogstatsd.h"
#include "sinks/sink.h"
#include "telemetry/selfstats.h"
#include "telemetry/watchdog.h"

extern char **environ;

#define EVENTS_PER_INTERVAL 10000
/* Whole shutdown (stop readers, drain, final flush, sink drains) must end before
 * Kubernetes' default 30 s grace period turns into a SIGKILL. */
#define SHUTDOWN_DEADLINE_S 25

typedef struct app {
    vn_config_t *cfg;
    vn_stats_t stats;
    _Atomic bool ready;
    bool print_secrets; /* -print-secrets: /config/yaml shows secrets (Go's flag) */
    vn_selfstats_t *selfstats; /* NULL unless stats_address is set */
    vn_watchdog_t *watchdog;   /* NULL unless flush_watchdog_missed_flushes > 0 */
} app_t;

static void usage(FILE *out)
{
    fprintf(out, "Usage of veneur:\n"
                 "  -f string\n"
                 "        The config file to read for settings (default: the embedded default config).\n"
                 "  -validate-config\n"
                 "        Validate the config file is valid YAML with correct value types, then immediately exit.\n"
                 "  -validate-config-strict\n"
                 "        Validate as with -validate-config, but also fail if there are any unknown fields.\n"
                 "  -print-secrets\n"
                 "        Disables redacting config secrets (in /config/json and /config/yaml).\n"
                 "  -version\n"
                 "        Print the version and exit.\n"
                 "Environment variables VENEUR_<FIELD> override config keys (e.g. VENEUR_INTERVAL=10s).\n");
}

static bool ready_cb(void *ctx)
{
    return atomic_load(&((app_t *)ctx)->ready) && vn_watchdog_healthy(((app_t *)ctx)->watchdog);
}

static bool live_cb(void *ctx) { return vn_watchdog_healthy(((app_t *)ctx)->watchdog); }

static unsigned healthcheck_cb(void *ctx) { return live_cb(ctx) ? 200 : 503; }

/* After every flush (flusher thread): self-metrics to stats_address, and the watchdog's kick. */
static void on_flush_cb(void *ctx, const vn_flush_report_t *r)
{
    app_t *app = ctx;
    vn_watchdog_kick(app->watchdog);
    vn_selfstats_report(app->selfstats, r);
}

static size_t metrics_cb(void *ctx, char *buf, size_t cap)
{
    return vn_stats_render_prometheus(&((app_t *)ctx)->stats, buf, cap);
}

static size_t config_yaml_cb(void *ctx, char *buf, size_t cap)
{
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    if (!f)
        return 0;
    vn_config_dump_opts(((app_t *)ctx)->cfg, f, ((app_t *)ctx)->print_secrets);
    fclose(f);
    if (len <= cap)
        memcpy(buf, mem, len);
    free(mem);
    return len;
}

static size_t config_json_cb(void *ctx, char *buf, size_t cap)
{
    vn_buf_t b = VN_BUF_INIT(VN_HTTP_MAX_RENDER);
    vn_config_dump_json(((app_t *)ctx)->cfg, ((app_t *)ctx)->print_secrets, &b);
    size_t len = vn_buf_len(&b);
    if (len <= cap)
        memcpy(buf, vn_buf_ptr(&b), len);
    vn_buf_free(&b);
    return len;
}

static void quit_cb(void *ctx)
{
    (void)ctx;
    kill(getpid(), SIGTERM); /* handled by the sigwait loop like an operator's SIGTERM */
}

static void *free_sink_thread(void *arg)
{
    vn_sink_free(arg);
    return NULL;
}

/* Each sink drains its delivery queue for a bounded grace period when freed; doing them in
 * parallel keeps shutdown at one grace period instead of one per sink. */
static void free_sinks(vn_sink_t **sinks, size_t n)
{
    pthread_t *th = vn_xcalloc(n ? n : 1, sizeof *th);
    bool *started = vn_xcalloc(n ? n : 1, sizeof *started);
    for (size_t i = 0; i < n; i++)
        started[i] = pthread_create(&th[i], NULL, free_sink_thread, sinks[i]) == 0;
    for (size_t i = 0; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            vn_sink_free(sinks[i]);
    }
    free(started);
    free(th);
}

/* A start-up failure: always one non-empty line, even if the module left err empty. */
static int fail(const char *what, const char *err, vn_err_t rc)
{
    fprintf(stderr, "veneur: %s%s%s\n", what ? what : "", what ? ": " : "",
            err && err[0] ? err : vn_strerror(rc != VN_OK ? rc : VN_ERR_IO));
    return 2;
}

/* ---- signals (shutdown code) ----
 * Every signal whose default action would end the process and that we do not
 * act on is taken by sigwait and ignored with one log line per signal number
 * (Go ignores them too), so a stray SIGUSR1 or a profiler's SIGPROF never kills
 * the process without a flush. SIGXFSZ is ignored outright: a write past
 * RLIMIT_FSIZE then fails with EFBIG, which the file sinks count as a drop. */
static void shutdown_signals(sigset_t *set)
{
    static const int ignored[] = {SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
                                  SIGXCPU, SIGSTKFLT, SIGURG, SIGWINCH};
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        sigaddset(set, ignored[i]);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        sigaddset(set, s);
}

static void log_ignored_signal(int sig)
{
    static uint64_t logged[2]; /* one bit per signal number; main thread only */
    unsigned u = (unsigned)sig;
    if (u >= 128 || (logged[u / 64] >> (u % 64) & 1))
        return;
    logged[u / 64] |= (uint64_t)1 << (u % 64);
    VN_LOG(INFO, "event=signal_ignored signal=%d name=%s msg=\"ignored; logged once per signal\"", sig,
           strsignal(sig));
}

/* Last resort: whatever part of the shutdown hangs (a sink stuck in the kernel),
 * the process exits before the orchestrator's SIGKILL. */
static void *shutdown_watchdog(void *arg)
{
    (void)arg;
    struct timespec ts = {.tv_sec = SHUTDOWN_DEADLINE_S};
    while (nanosleep(&ts, &ts) != 0)
        ;
    VN_LOG(ERROR, "event=shutdown_deadline_exceeded deadline_s=%d msg=\"exiting without finishing\"",
           SHUTDOWN_DEADLINE_S);
    _exit(1);
    return NULL;
}

static void start_shutdown_watchdog(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, shutdown_watchdog, NULL) == 0)
        pthread_detach(th);
}

/* ---- the daemon's parts, in start order ----
 * daemon_start opens and starts them; any failure returns the exit code with what
 * was built so far left in d, and daemon_teardown (one path for shutdown and for a
 * failed start) stops and frees whatever is there, in data-path order. */
typedef struct daemon {
    vn_config_t *cfg; /* borrowed */
    SSL_CTX *tls;     /* statsd TLS (tls_key), shared with the gRPC ingest listeners */
    vn_sink_t **sinks;
    size_t nsinks;
    vn_listeners_t *listeners;
    vn_ssf_server_t *ssf;
    vn_span_sinks_t *span_sinks;
    vn_sources_t *sources;
    vn_otlp_server_t *otlp;
    vn_worker_t **workers;
    size_t nworkers, nreaders;
    vn_str_t *implicit;
    vn_parser_t parser;
    vn_event_store_t events;
    bool events_init;
    vn_grpc_ingest_t **grpc_in;
    size_t ngrpc;
    vn_forward_t *forward;
    vn_flusher_t *flusher;
    vn_http_server_t *http;
    app_t *app;
} daemon_t;

static int daemon_start(daemon_t *d, app_t *app, char *err, size_t errcap)
{
    vn_config_t *cfg = d->cfg;
    d->app = app;
    if ((cfg->tls_key && cfg->tls_key[0]) || (cfg->tls_certificate && cfg->tls_certificate[0])) {
        if (vn_tls_server_ctx_new(cfg->tls_key, cfg->tls_certificate, cfg->tls_authority_certificate, &d->tls, err,
                                  errcap) != VN_OK)
            return fail(NULL, err, VN_ERR_CONFIG);
    }

    /* the otlp sink's gRPC transport sits above the sinks in the layer order */
    vn_sink_otlp_set_grpc_transport(vn_otlp_grpc_transport_new);
    d->sinks = vn_xcalloc(cfg->n_metric_sinks ? cfg->n_metric_sinks : 1, sizeof *d->sinks);
    for (size_t i = 0; i < cfg->n_metric_sinks; i++) {
        vn_sink_t *s = NULL;
        err[0] = '\0';
        vn_err_t rc = vn_sink_new(&cfg->metric_sinks[i], cfg, &s, err, errcap);
        if (rc == VN_ERR_NOTFOUND) {
            VN_LOG(WARN, "event=unknown_sink_kind kind=%s name=%s msg=\"skipped\"", cfg->metric_sinks[i].kind,
                   cfg->metric_sinks[i].name);
            continue;
        }
        if (rc != VN_OK) {
            fprintf(stderr, "veneur: sink %s: %s\n", cfg->metric_sinks[i].name, err[0] ? err : vn_strerror(rc));
            return 2;
        }
        d->sinks[d->nsinks++] = s;
    }

    err[0] = '\0';
    if (vn_listeners_open(cfg, d->tls, &d->listeners, err, errcap) != VN_OK)
        return fail("statsd_listen_addresses", err, VN_ERR_CONFIG);
    err[0] = '\0';
    if (vn_ssf_server_open(cfg, &d->ssf, err, errcap) != VN_OK)
        return fail("ssf_listen_addresses", err, VN_ERR_CONFIG);
    err[0] = '\0';
    if (vn_span_sinks_open(cfg, &app->stats, &d->span_sinks, err, errcap) != VN_OK)
        return fail("span_sinks", err, VN_ERR_CONFIG);
    if (d->span_sinks && !d->ssf)
        VN_LOG(WARN, "event=span_sinks_without_ssf msg=\"span_sinks are set but no ssf_listen_addresses: no span "
                     "will reach them\"");
    vn_ssf_server_set_span_hook(d->ssf, d->span_sinks ? vn_span_sinks_offer : NULL, d->span_sinks);
    err[0] = '\0';
    if (vn_sources_open(cfg, &app->stats, &d->sources, err, errcap) != VN_OK) /* Go `sources` (openmetrics) */
        return fail("sources", err, VN_ERR_CONFIG);
    err[0] = '\0';
    if (vn_otlp_server_open(cfg, &app->stats, &d->otlp, err, errcap) != VN_OK) /* otlp_listen_addresses */
        return fail("otlp_listen_addresses", err, VN_ERR_CONFIG);
    vn_otlp_server_set_ssf(d->otlp, d->ssf); /* OTLP spans join the SSF span workers' queue */

    /* reader ids, in this order: statsd, SSF span workers, sources, OTLP, gRPC ingest (one each) */
    size_t nstatsd_readers = vn_listeners_reader_count(d->listeners);
    size_t nssf_readers = vn_ssf_server_reader_count(d->ssf);
    size_t nsource_readers = vn_sources_reader_count(d->sources);
    size_t notlp_readers = vn_otlp_server_reader_count(d->otlp);
    d->ngrpc = cfg->grpc_listen_addresses.n;
    d->nreaders = nstatsd_readers + nssf_readers + nsource_readers + notlp_readers + d->ngrpc;
    d->nworkers = cfg->num_workers > 0 ? (size_t)cfg->num_workers : 1;
    d->workers = vn_xcalloc(d->nworkers, sizeof *d->workers);
    for (size_t w = 0; w < d->nworkers; w++) {
        vn_series_limits_t lim = vn_series_limits_share((size_t)cfg->max_series_per_interval,
                                                        (size_t)cfg->max_series_bytes_per_interval, d->nworkers, w);
        d->workers[w] = vn_worker_start_limited((int)w, d->nreaders, &lim, &app->stats);
    }

    d->implicit = vn_xcalloc(cfg->extend_tags.n ? cfg->extend_tags.n : 1, sizeof *d->implicit);
    for (size_t i = 0; i < cfg->extend_tags.n; i++)
        d->implicit[i] = vn_str_c(cfg->extend_tags.v[i]);
    d->parser = (vn_parser_t){.implicit_tags = d->implicit, .n_implicit = cfg->extend_tags.n};
    vn_event_store_init(&d->events, EVENTS_PER_INTERVAL, &app->stats);
    d->events_init = true;
    vn_event_store_set_max_bytes(&d->events, (size_t)cfg->max_event_bytes_per_interval);
    vn_ingest_shared_t shared = {.parser = &d->parser,
                                 .workers = d->workers,
                                 .nworkers = d->nworkers,
                                 .events = &d->events,
                                 .stats = &app->stats};
    if (vn_listeners_start(d->listeners, &shared) != VN_OK)
        return fail("statsd_listen_addresses", "listener threads did not start", VN_ERR_IO);
    if (vn_span_sinks_start(d->span_sinks) != VN_OK)
        return fail("span_sinks", "span sink threads did not start", VN_ERR_IO);
    if (vn_ssf_server_start(d->ssf, &shared, nstatsd_readers) != VN_OK)
        return fail("ssf_listen_addresses", "span worker threads did not start", VN_ERR_IO);
    if (vn_sources_start(d->sources, &shared, nstatsd_readers + nssf_readers) != VN_OK)
        return fail("sources", "source threads did not start", VN_ERR_IO);
    if (vn_otlp_server_start(d->otlp, &shared, nstatsd_readers + nssf_readers + nsource_readers) != VN_OK)
        return fail("otlp_listen_addresses", "OTLP servers did not start", VN_ERR_IO);
    /* after the span workers: SendSpan hands them spans (issue 21) */
    d->grpc_in = vn_xcalloc(d->ngrpc ? d->ngrpc : 1, sizeof *d->grpc_in);
    SSL_CTX *grpc_tls = NULL; /* Go: the statsd listeners' tls_key config, with ALPN h2 for gRPC */
    if (d->ngrpc && d->tls) {
        err[0] = '\0';
        if (vn_tls_server_ctx_new(cfg->tls_key, cfg->tls_certificate, cfg->tls_authority_certificate, &grpc_tls, err,
                                  errcap) != VN_OK)
            return fail("grpc_listen_addresses", err, VN_ERR_CONFIG);
        vn_tls_files_alpn_h2(grpc_tls);
    }
    size_t first_grpc_reader = nstatsd_readers + nssf_readers + nsource_readers + notlp_readers;
    for (size_t i = 0; i < d->ngrpc; i++) {
        vn_grpc_ingest_opts_t go = {.shared = &shared,
                                    .reader_id = first_grpc_reader + i,
                                    .ssf = d->ssf,
                                    .metric_max_length =
                                        cfg->metric_max_length > 0 ? (size_t)cfg->metric_max_length : 0,
                                    .tls = grpc_tls,
                                    .lifecycle = vn_fwd_lifecycle_from_config(cfg)};
        d->grpc_in[i] = vn_grpc_ingest_new(&go);
        err[0] = '\0';
        if (vn_grpc_ingest_listen(d->grpc_in[i], cfg->grpc_listen_addresses.v[i], err, errcap) != VN_OK) {
            SSL_CTX_free(grpc_tls);
            return fail("grpc_listen_addresses", err, VN_ERR_CONFIG);
        }
    }
    SSL_CTX_free(grpc_tls); /* each server holds its own reference; NULL ok */
    err[0] = '\0';
    if (vn_forward_start(cfg, d->workers, d->nworkers, &app->stats, &d->forward, err, errcap) != VN_OK)
        return fail(NULL, err, VN_ERR_CONFIG); /* forward_address / grpc_address (issue 6) */
    err[0] = '\0';
    if (vn_selfstats_new(cfg, &app->stats, &app->selfstats, err, errcap) != VN_OK)
        return fail("stats_address", err, VN_ERR_CONFIG);
    if (app->selfstats)
        VN_LOG(INFO, "event=self_metrics addr=%s namespace=veneur.", cfg->stats_address);
    app->watchdog = vn_watchdog_start(cfg->flush_watchdog_missed_flushes, cfg->interval_s);
    vn_flusher_opts_t fo = {.cfg = cfg,
                            .on_flush = on_flush_cb,
                            .on_flush_ctx = app,
                            .forward = d->forward,
                            .listeners = d->listeners,
                            .workers = d->workers,
                            .nworkers = d->nworkers,
                            .sinks = d->sinks,
                            .nsinks = d->nsinks,
                            .events = &d->events,
                            .stats = &app->stats};
    d->flusher = vn_flusher_start(&fo);

    if (cfg->http_address && cfg->http_address[0]) {
        vn_http_handlers_t h = {.ctx = app,
                                .ready = ready_cb,
                                .metrics = metrics_cb,
                                .healthcheck = healthcheck_cb,
                                .live = live_cb,
                                .config_json = cfg->http_config ? config_json_cb : NULL,
                                .config_yaml = cfg->http_config ? config_yaml_cb : NULL,
                                .quit = cfg->http_quit ? quit_cb : NULL};
        err[0] = '\0';
        if (vn_http_server_start(cfg->http_address, &h, &d->http, err, errcap) != VN_OK)
            return fail("http_address", err, VN_ERR_CONFIG);
        VN_LOG(INFO, "event=listening proto=http addr=%s", cfg->http_address);
    }
    return 0;
}

/* Stops and frees whatever d holds: ingest first (each drains into the workers), then the span
 * sinks, imports, the final flush (when flush and a flusher exist) by sinks_by, then the rest. */
static void daemon_teardown(daemon_t *d, bool flush, double sinks_by)
{
    if (d->listeners)
        vn_listeners_stop(d->listeners);
    for (size_t i = 0; d->grpc_in && i < d->ngrpc; i++)
        if (d->grpc_in[i])
            vn_grpc_ingest_stop(d->grpc_in[i]); /* before the span workers it feeds */
    if (d->ssf)
        vn_ssf_server_stop(d->ssf); /* queued spans are converted before the final flush */
    if (d->sources)
        vn_sources_stop(d->sources); /* cancels an in-flight scrape; committed samples make the final flush */
    if (d->otlp)
        vn_otlp_server_stop(d->otlp); /* requests in progress are ingested before the final flush */
    if (d->span_sinks)
        vn_span_sinks_stop(d->span_sinks, sinks_by); /* after the span workers: they feed the span sinks */
    if (d->forward)
        vn_forward_stop_import(d->forward); /* no import may land after the final flush */
    if (d->flusher)
        vn_flusher_stop_by(d->flusher, flush, sinks_by);
    if (d->app && d->app->watchdog) {
        vn_watchdog_stop(d->app->watchdog); /* after the final flush: it may not trip during a slow one */
        d->app->watchdog = NULL;
    }
    if (d->http)
        vn_http_server_stop(d->http);
    if (d->flusher)
        vn_flusher_free(d->flusher);
    if (d->app && d->app->selfstats) {
        vn_selfstats_free(d->app->selfstats);
        d->app->selfstats = NULL;
    }
    if (d->forward)
        vn_forward_free(d->forward); /* sends the final batch (bounded by one interval) */
    if (d->listeners)
        vn_listeners_free(d->listeners);
    for (size_t i = 0; d->grpc_in && i < d->ngrpc; i++)
        if (d->grpc_in[i])
            vn_grpc_ingest_free(d->grpc_in[i]);
    free(d->grpc_in);
    if (d->ssf)
        vn_ssf_server_free(d->ssf);
    if (d->sources)
        vn_sources_free(d->sources);
    if (d->otlp)
        vn_otlp_server_free(d->otlp);
    if (d->span_sinks)
        vn_span_sinks_free(d->span_sinks);
    for (size_t w = 0; d->workers && w < d->nworkers; w++)
        if (d->workers[w])
            vn_worker_free(d->workers[w]);
    free(d->workers);
    if (d->events_init)
        vn_event_store_destroy(&d->events);
    if (d->sinks) {
        free_sinks(d->sinks, d->nsinks);
        free(d->sinks);
    }
    free(d->implicit);
    if (d->tls)
        SSL_CTX_free(d->tls);
    memset(d, 0, sizeof *d);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool validate = false, strict = false, version = false, print_secrets = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool b = false;
        if (vn_cli_flag(argv[i], "f", &v)) {
            if (!(path = vn_cli_value(argc, argv, &i, "f", v))) {
                usage(stderr);
                return 2;
            }
        } else if (vn_cli_flag(argv[i], "validate-config-strict", &v)) {
            if (!vn_cli_bool("validate-config-strict", v, &b)) {
                usage(stderr);
                return 2;
            }
            validate = strict = b;
        } else if (vn_cli_flag(argv[i], "validate-config", &v)) {
            if (!vn_cli_bool("validate-config", v, &validate)) {
                usage(stderr);
                return 2;
            }
        } else if (vn_cli_flag(argv[i], "print-secrets", &v)) {
            if (!vn_cli_bool("print-secrets", v, &print_secrets)) {
                usage(stderr);
                return 2;
            }
        } else if (vn_cli_flag(argv[i], "version", &v)) {
            if (!vn_cli_bool("version", v, &version)) {
                usage(stderr);
                return 2;
            }
        } else if (vn_cli_flag(argv[i], "help", &v) || vn_cli_flag(argv[i], "h", &v)) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "flag provided but not defined: %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    if (version) {
        printf("veneur-c %s (built %s)\n", VN_VERSION, VN_BUILD_DATE);
        return 0;
    }
    app_t app;
    memset(&app, 0, sizeof app);
    app.print_secrets = print_secrets;
    char err[1024] = "";
    vn_err_t rc = path ? vn_config_load_file(path, environ, strict, &app.cfg, err, sizeof err)
                       : vn_config_load(vn_config_default_yaml, strlen(vn_config_default_yaml), environ, strict,
                                        &app.cfg, err, sizeof err);
    if (rc != VN_OK)
        return fail(NULL, err, rc);
    vn_config_t *cfg = app.cfg;
    if (validate) {
        printf("config ok\n");
        vn_config_free(cfg);
        return 0;
    }
    vn_log_set_level(cfg->debug ? VN_LOG_DEBUG : VN_LOG_INFO);
    if (!path)
        VN_LOG(INFO, "event=using_embedded_config");
    vn_stats_init(&app.stats);

    /* Signals are handled by sigwait in this thread only; block before any thread starts. */
    sigset_t sigs;
    shutdown_signals(&sigs);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);

    daemon_t d;
    memset(&d, 0, sizeof d);
    d.cfg = cfg;
    int code = daemon_start(&d, &app, err, sizeof err);
    if (code != 0) {
        /* Nothing was accepted before readiness that a flush would owe anyone: stop what
         * started and free everything, so a sanitizer build exits with the same code. */
        daemon_teardown(&d, false, vn_clock_mono_s() + 5);
        vn_config_free(cfg);
        return code;
    }
    atomic_store(&app.ready, true);
    VN_LOG(INFO, "event=started version=%s workers=%zu readers=%zu sinks=%zu interval_s=%g", VN_VERSION, d.nworkers,
           d.nreaders, d.nsinks, cfg->interval_s);

    for (;;) {
        /* Wakes every second to report log lines dropped by a burst that went quiet (core/log.h). */
        struct timespec tick = {.tv_sec = 1};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        vn_log_report_suppressed();
        if (sig < 0)
            continue;
        if (sig == SIGINT || sig == SIGTERM) {
            VN_LOG(INFO, "event=shutdown signal=%s deadline_s=%d", sig == SIGINT ? "SIGINT" : "SIGTERM",
                   SHUTDOWN_DEADLINE_S);
            break;
        }
        log_ignored_signal(sig);
    }
    start_shutdown_watchdog();
    atomic_store(&app.ready, false);
    /* Sinks get the shutdown budget less a margin for what runs after them. */
    daemon_teardown(&d, cfg->flush_on_shutdown, vn_clock_mono_s() + SHUTDOWN_DEADLINE_S - 5);
    VN_LOG(INFO, "event=stopped");
    vn_config_free(cfg);
    return 0;
}
