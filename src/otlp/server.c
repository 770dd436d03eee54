/*
 * server.c - OTLP/HTTP metric ingest on libmicrohttpd (see server.h).
 *
 * MHD's call protocol for one request: call 1 has the headers only
 * (*con_cls == NULL); calls 2..n carry body chunks; the last call has
 * *upload_data_size == 0 and is where the response is queued. Answering in
 * call 1 (413, 415, 501) makes MHD skip the body and close the connection.
 * Every call runs on the server's one polling thread, so its converter and
 * ingest handle need no lock. A grpc:// listener is forward/h2_server.h with
 * a handler for MetricsService/Export; its thread is the listener's reader.
 */
#include "otlp/server.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/hostport.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "forward/h2_server.h"
#include "otlp/convert.h"
#include "otlp/trace.h"
#include "otlp_metrics_service.pb-c.h"
#include "otlp_trace_service.pb-c.h"

typedef struct listener {
    struct vn_otlp_server *srv;
    char *addr; /* as configured */
    bool grpc;  /* grpc://: served by forward/h2_server.h, bound at start */
    int fd;     /* http://: handed to MHD at start, which then owns it */
    struct MHD_Daemon *daemon;
    vn_h2_server_t *h2;
    vn_ingest_t *ingest;
    vn_otlp_conv_t *conv;
    vn_otlp_tracer_t *tracer;  /* NULL without a span pipeline */
    vn_ssf_offer_rc_t last_refusal; /* why the span pipeline last refused a span */
} listener_t;

struct vn_otlp_server {
    listener_t *l;
    size_t n;
    vn_stats_t *stats;
    vn_ssf_server_t *ssf; /* borrowed; NULL = traces refused */
};

typedef struct request {
    vn_buf_t body;
    bool too_large;
    bool traces; /* POST /v1/traces */
} request_t;

#define NO_TRACES_MSG                                                                                               \
    "veneur-c takes OTLP traces only into its span pipeline, which needs ssf_listen_addresses (or "               \
    "grpc_listen_addresses); none is configured, so traces are refused (logs always are)"

static void errf(char *errbuf, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *errbuf, size_t errcap, const char *fmt, ...)
{
    if (!errbuf || !errcap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errcap, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ binding */

static int bind_addr(const char *addr, char *errbuf, size_t errcap)
{
    char host[256], port[32];
    const char *hp = addr + 7; /* config checked "http://" */
    if (vn_hostport_split(hp, true, host, sizeof host, port, sizeof port) != VN_OK) {
        errf(errbuf, errcap, "otlp_listen_addresses: cannot parse \"%s\"", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        errf(errbuf, errcap, "otlp_listen_addresses: %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    const char *step = "socket";
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        int one = 1;
        step = "socket";
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        step = "bind";
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || (step = "listen", listen(fd, 128) != 0)) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        errf(errbuf, errcap, "otlp_listen_addresses: %s: %s: %s", addr, step, strerror(saved));
    return fd;
}

vn_err_t vn_otlp_server_open(const vn_config_t *cfg, vn_stats_t *stats, vn_otlp_server_t **out, char *errbuf,
                             size_t errcap)
{
    *out = NULL;
    const vn_strlist_t *l = &cfg->otlp_listen_addresses;
    if (l->n == 0)
        return VN_OK;
    vn_otlp_server_t *s = vn_xcalloc(1, sizeof *s);
    s->stats = stats;
    s->l = vn_xcalloc(l->n, sizeof *s->l);
    for (size_t i = 0; i < l->n; i++) {
        listener_t *x = &s->l[s->n];
        x->grpc = strncasecmp(l->v[i], "grpc://", 7) == 0;
        x->fd = x->grpc ? -1 : bind_addr(l->v[i], errbuf, errcap);
        if (!x->grpc && x->fd < 0) {
            vn_otlp_server_free(s);
            return VN_ERR_CONFIG;
        }
        x->srv = s;
        x->addr = vn_xstrdup(l->v[i]);
        s->n++;
    }
    *out = s;
    return VN_OK;
}

void vn_otlp_server_set_ssf(vn_otlp_server_t *s, vn_ssf_server_t *ssf)
{
    if (s)
        s->ssf = ssf;
}

size_t vn_otlp_server_reader_count(const vn_otlp_server_t *s)
{
    return s ? s->n : 0;
}

/* ------------------------------------------------------------ requests */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, const void *body,
                             size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result refuse(listener_t *x, struct MHD_Connection *c, unsigned status, const char *msg)
{
    if (x->srv->stats)
        vn_stats_add(&x->srv->stats->otlp_requests_refused, 1);
    return reply(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static bool is_gzip(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    return v && strcasecmp(v, "gzip") == 0;
}

/* Inflates a gzip body into a malloc'd buffer of at most VN_OTLP_MAX_INFLATED bytes. */
static vn_err_t gunzip(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return VN_ERR_IO;
    size_t cap = len * 4 < 65536 ? 65536 : len * 4;
    if (cap > VN_OTLP_MAX_INFLATED)
        cap = VN_OTLP_MAX_INFLATED;
    uint8_t *buf = vn_xmalloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    vn_err_t err = VN_OK;
    for (;;) {
        zs.next_out = buf + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            err = VN_ERR_PARSE;
            break;
        }
        if (zs.avail_out == 0) {
            if (cap >= VN_OTLP_MAX_INFLATED) {
                err = VN_ERR_TOO_LARGE;
                break;
            }
            cap = cap * 2 > VN_OTLP_MAX_INFLATED ? VN_OTLP_MAX_INFLATED : cap * 2;
            buf = vn_xrealloc(buf, cap);
        } else if (zs.avail_in == 0) {
            err = VN_ERR_PARSE; /* truncated stream */
            break;
        }
    }
    *out_len = zs.total_out;
    inflateEnd(&zs);
    if (err != VN_OK) {
        free(buf);
        return err;
    }
    *out = buf;
    return VN_OK;
}

/* ------------------------------------------------------------ traces */

static bool offer_span(void *ctx, const uint8_t *span, size_t len)
{
    listener_t *x = ctx;
    vn_ssf_offer_rc_t rc = vn_ssf_server_offer(x->srv->ssf, span, len);
    if (rc != VN_SSF_OFFER_OK)
        x->last_refusal = rc;
    return rc == VN_SSF_OFFER_OK;
}

/* Converts one ExportTraceServiceRequest; *rejected spans refused. Counts it. */
static vn_err_t take_traces(listener_t *x, const uint8_t *body, size_t len, uint64_t *rejected)
{
    vn_otlp_trace_counts_t before = x->tracer->c;
    x->last_refusal = VN_SSF_OFFER_OK;
    vn_err_t err = vn_otlp_trace_request(x->tracer, body, len, rejected);
    vn_stats_t *st = x->srv->stats;
    if (!st)
        return err;
    if (err != VN_OK) {
        vn_stats_add(&st->otlp_requests_refused, 1);
        return err;
    }
    vn_stats_add(&st->otlp_trace_requests, 1);
    vn_stats_add(&st->otlp_spans, x->tracer->c.accepted - before.accepted);
    vn_stats_add(&st->otlp_spans_refused, *rejected);
    return VN_OK;
}

/* The partial-success text for refused spans: the last reason seen. */
static const char *refusal_msg(const listener_t *x)
{
    switch (x->last_refusal) {
    case VN_SSF_OFFER_FULL: return "span queue full (span_channel_capacity): spans dropped";
    case VN_SSF_OFFER_TOO_LONG: return "span larger than trace_max_length_bytes";
    case VN_SSF_OFFER_STOPPED: return "span pipeline stopping";
    default:
        return "spans refused by veneur-c (see docs/otlp.md: trace_id must be 16 bytes, span ids 8, "
               "at most 512 tags, packed span within trace_max_length_bytes)";
    }
}

/* An ExportTraceServiceResponse into out (cap >= 512); its length. */
static size_t trace_response(const listener_t *x, uint64_t rejected, uint8_t *out)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    if (rejected) {
        ps.rejected_spans = (int64_t)rejected;
        ps.error_message = (char *)refusal_msg(x);
        resp.partial_success = &ps;
    }
    return opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp, out);
}

static enum MHD_Result finish_traces(listener_t *x, struct MHD_Connection *c, const uint8_t *body, size_t len)
{
    uint64_t rejected = 0;
    if (take_traces(x, body, len, &rejected) != VN_OK)
    {
        static const char m[] = "not an OTLP ExportTraceServiceRequest\n";
        return reply(c, MHD_HTTP_BAD_REQUEST, "text/plain; charset=utf-8", m, sizeof m - 1);
    }
    uint8_t out[512];
    size_t n = trace_response(x, rejected, out);
    return reply(c, MHD_HTTP_OK, "application/x-protobuf", out, n);
}

static enum MHD_Result finish(listener_t *x, struct MHD_Connection *c, request_t *rq)
{
    if (rq->too_large)
        return refuse(x, c, MHD_HTTP_CONTENT_TOO_LARGE, "request body over 4 MiB\n");
    const uint8_t *body = (const uint8_t *)vn_buf_ptr(&rq->body);
    size_t len = vn_buf_len(&rq->body);
    uint8_t *inflated = NULL;
    if (is_gzip(c)) {
        vn_err_t err = gunzip((const char *)body, len, &inflated, &len);
        if (err == VN_ERR_TOO_LARGE)
            return refuse(x, c, MHD_HTTP_CONTENT_TOO_LARGE, "request body over 16 MiB once inflated\n");
        if (err != VN_OK)
            return refuse(x, c, MHD_HTTP_BAD_REQUEST, "bad gzip body\n");
        body = inflated;
    }
    if (rq->traces) {
        enum MHD_Result r = finish_traces(x, c, body ? body : (const uint8_t *)"", len);
        free(inflated);
        return r;
    }
    vn_otlp_counts_t before = x->conv->c;
    uint64_t rejected = 0;
    vn_err_t err = vn_otlp_conv_request(x->conv, body ? body : (const uint8_t *)"", len, &rejected);
    free(inflated);
    if (err != VN_OK)
        return refuse(x, c, MHD_HTTP_BAD_REQUEST, "not an OTLP ExportMetricsServiceRequest\n");
    vn_ingest_commit(x->ingest);
    vn_stats_t *st = x->srv->stats;
    if (st) {
        vn_stats_add(&st->otlp_requests, 1);
        vn_stats_add(&st->otlp_points, x->conv->c.points - before.points);
        vn_stats_add(&st->otlp_samples, x->conv->c.samples - before.samples);
        vn_stats_add(&st->otlp_points_rejected, x->conv->c.rejected - before.rejected);
        vn_stats_add(&st->otlp_points_baseline, x->conv->c.baseline - before.baseline);
    }
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_RESPONSE__INIT;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_PARTIAL_SUCCESS__INIT;
    if (rejected) {
        ps.rejected_data_points = (int64_t)rejected;
        ps.error_message = (char *)"data points refused by veneur-c (see docs/otlp.md: summaries, invalid names "
                                   "or values, too many tags, cumulative series cap)";
        resp.partial_success = &ps;
    }
    uint8_t out[512];
    size_t n = opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__pack(&resp, out);
    return reply(c, MHD_HTTP_OK, "application/x-protobuf", out, n);
}

static bool protobuf_type(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!v)
        return false;
    size_t n = strcspn(v, "; ");
    return (n == 22 && strncasecmp(v, "application/x-protobuf", n) == 0) ||
           (n == 20 && strncasecmp(v, "application/protobuf", n) == 0);
}

static bool declared_too_large(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    return errno == 0 && *end == '\0' && n > VN_OTLP_MAX_BODY;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    listener_t *x = cls;
    request_t *rq = *con_cls;
    if (!rq) {
        bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        bool traces = strcmp(url, "/v1/traces") == 0;
        if (traces && !x->tracer)
            return refuse(x, c, MHD_HTTP_NOT_IMPLEMENTED, NO_TRACES_MSG "\n");
        if (strcmp(url, "/v1/logs") == 0)
            return refuse(x, c, MHD_HTTP_NOT_IMPLEMENTED,
                          "veneur-c accepts OTLP metrics (POST /v1/metrics) and traces (POST /v1/traces); logs "
                          "are refused\n");
        if (!traces && strcmp(url, "/v1/metrics") != 0)
            return refuse(x, c, MHD_HTTP_NOT_FOUND,
                          "not found: OTLP metrics go to POST /v1/metrics, traces to POST /v1/traces\n");
        if (!post)
            return refuse(x, c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
        if (!protobuf_type(c))
            return refuse(x, c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                          "Content-Type must be application/x-protobuf (OTLP/JSON is not accepted)\n");
        if (declared_too_large(c))
            return refuse(x, c, MHD_HTTP_CONTENT_TOO_LARGE, "request body over 4 MiB\n");
        rq = vn_xcalloc(1, sizeof *rq);
        rq->traces = traces;
        vn_buf_init(&rq->body, VN_OTLP_MAX_BODY);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!rq->too_large && vn_buf_add(&rq->body, upload_data, *upload_data_size) != VN_OK) {
            rq->too_large = true;
            vn_buf_free(&rq->body); /* keep reading (and discarding) so the 413 reaches the client */
            vn_buf_init(&rq->body, VN_OTLP_MAX_BODY);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish(x, c, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    request_t *rq = *con_cls;
    if (!rq)
        return;
    vn_buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
}

/* ------------------------------------------------------------ gRPC */

#define EXPORT_PATH "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
#define TRACE_EXPORT_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

/* One Export call: unary, one request message. The response is an empty
 * ExportMetricsServiceResponse, which is the Empty the server sends (zero
 * bytes either way); refused points cannot be reported on this path. */
typedef struct gcall {
    listener_t *x;
    bool got;
    bool traces;       /* TraceService/Export */
    size_t resp_len;   /* traces: an ExportTraceServiceResponse with partial_success, else 0 (Empty) */
    uint8_t resp[512];
} gcall_t;

static void count_conv(listener_t *x, const vn_otlp_counts_t *before)
{
    vn_stats_t *st = x->srv->stats;
    if (!st)
        return;
    vn_stats_add(&st->otlp_requests, x->conv->c.requests - before->requests);
    vn_stats_add(&st->otlp_points, x->conv->c.points - before->points);
    vn_stats_add(&st->otlp_samples, x->conv->c.samples - before->samples);
    vn_stats_add(&st->otlp_points_rejected, x->conv->c.rejected - before->rejected);
    vn_stats_add(&st->otlp_points_baseline, x->conv->c.baseline - before->baseline);
}

static void *g_open(void *ctx, const char *path, vn_grpc_status_t *status, const char **msg)
{
    listener_t *x = ctx;
    bool traces = strcmp(path, TRACE_EXPORT_PATH) == 0 && x->tracer;
    if (strcmp(path, EXPORT_PATH) != 0 && !traces) {
        if (x->srv->stats)
            vn_stats_add(&x->srv->stats->otlp_requests_refused, 1);
        *status = VN_GRPC_UNIMPLEMENTED;
        *msg = strcmp(path, TRACE_EXPORT_PATH) == 0 ? NO_TRACES_MSG
               : strstr(path, "opentelemetry.proto.collector.")
                   ? "veneur-c accepts OTLP metrics and traces; logs are refused"
                   : "unknown method: OTLP metrics are MetricsService/Export, traces TraceService/Export";
        return NULL;
    }
    gcall_t *g = vn_xcalloc(1, sizeof *g);
    g->x = x;
    g->traces = traces;
    return g;
}

static vn_grpc_status_t g_message(void *call, const uint8_t *data, size_t len, const char **msg)
{
    gcall_t *g = call;
    listener_t *x = g->x;
    if (g->got) {
        *msg = "Export is unary: one request message";
        return VN_GRPC_INVALID_ARGUMENT;
    }
    g->got = true;
    if (g->traces) {
        uint64_t rejected = 0;
        if (take_traces(x, data, len, &rejected) != VN_OK) {
            *msg = "not an OTLP ExportTraceServiceRequest";
            return VN_GRPC_INVALID_ARGUMENT;
        }
        if (rejected)
            g->resp_len = trace_response(x, rejected, g->resp);
        return VN_GRPC_OK;
    }
    vn_otlp_counts_t before = x->conv->c;
    vn_err_t err = vn_otlp_conv_request(x->conv, data, len, NULL);
    if (err != VN_OK) {
        if (x->srv->stats)
            vn_stats_add(&x->srv->stats->otlp_requests_refused, 1);
        *msg = "not an OTLP ExportMetricsServiceRequest";
        return VN_GRPC_INVALID_ARGUMENT;
    }
    vn_ingest_commit(x->ingest);
    count_conv(x, &before);
    return VN_GRPC_OK;
}

static vn_grpc_status_t g_finish(void *call, const char **msg)
{
    gcall_t *g = call;
    if (!g->got) {
        *msg = "Export needs a request message";
        return VN_GRPC_INVALID_ARGUMENT;
    }
    return VN_GRPC_OK;
}

static size_t g_response(void *call, const uint8_t **msg)
{
    gcall_t *g = call;
    *msg = g->resp;
    return g->resp_len;
}

static void g_close(void *call, vn_grpc_status_t final)
{
    (void)final;
    free(call);
}

static vn_err_t start_grpc(listener_t *x)
{
    char err[256] = "";
    vn_h2_server_opts_t o = {
        .address = x->addr + 7, /* "grpc://" checked by the config */
        .handler = {.open = g_open, .message = g_message, .finish = g_finish, .close = g_close, .ctx = x,
                    .response = g_response},
        .max_message = VN_OTLP_MAX_BODY,
        .reassembly_budget = VN_OTLP_GRPC_REASSEMBLY,
        .conn_reassembly = 2 * VN_OTLP_MAX_BODY,
        .max_connections = VN_OTLP_GRPC_MAX_CONNS,
        .max_per_peer = VN_OTLP_GRPC_MAX_CONNS / 4,
        .stats = x->srv->stats,
    };
    if (vn_h2_server_start(&o, &x->h2, err, sizeof err) != VN_OK) {
        VN_LOG(ERROR, "event=otlp_listen_failed addr=%s err=%s", x->addr, VN_LOG_Q(err));
        return VN_ERR_IO;
    }
    VN_LOG(INFO, "event=listening proto=otlp_grpc addr=%s", x->addr);
    return VN_OK;
}

/* ------------------------------------------------------------ life cycle */

static bool emit_sample(void *ctx, vn_str_t name, vn_mtype_t type, vn_scope_t scope, double value, double rate,
                        const vn_str_t *tags, size_t ntags)
{
    return vn_ingest_sample(ctx, name, type, scope, value, rate, tags, ntags, vn_str_c(""));
}

vn_err_t vn_otlp_server_start(vn_otlp_server_t *s, const vn_ingest_shared_t *shared, size_t first_reader)
{
    if (!s)
        return VN_OK;
    for (size_t i = 0; i < s->n; i++) {
        listener_t *x = &s->l[i];
        x->ingest = vn_ingest_new(shared, first_reader + i);
        x->conv = vn_xmalloc(sizeof *x->conv);
        vn_otlp_conv_init(x->conv, shared->parser, 0, emit_sample, x->ingest);
        if (s->ssf) {
            x->tracer = vn_xmalloc(sizeof *x->tracer);
            vn_otlp_trace_init(x->tracer, vn_ssf_server_max_span(s->ssf), offer_span, x);
        }
        if (x->grpc) {
            if (start_grpc(x) != VN_OK)
                return VN_ERR_IO;
            continue;
        }
        x->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL,
                                     NULL, on_request, x, MHD_OPTION_LISTEN_SOCKET, x->fd,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)VN_OTLP_MAX_CONNS,
                                     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                     x, MHD_OPTION_END);
        if (!x->daemon) {
            VN_LOG(ERROR, "event=otlp_listen_failed addr=%s", x->addr);
            return VN_ERR_IO;
        }
        x->fd = -1; /* MHD closes it */
        VN_LOG(INFO, "event=listening proto=otlp_http addr=%s", x->addr);
    }
    return VN_OK;
}

void vn_otlp_server_stop(vn_otlp_server_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        listener_t *x = &s->l[i];
        if (x->daemon) {
            MHD_stop_daemon(x->daemon); /* joins the polling thread */
            x->daemon = NULL;
        }
        if (x->h2) {
            vn_h2_server_stop(x->h2); /* joins its thread: no handler runs after this */
            x->h2 = NULL;
        }
        if (x->ingest)
            vn_ingest_commit(x->ingest);
    }
}

void vn_otlp_server_free(vn_otlp_server_t *s)
{
    if (!s)
        return;
    vn_otlp_server_stop(s);
    for (size_t i = 0; i < s->n; i++) {
        listener_t *x = &s->l[i];
        if (x->fd >= 0)
            close(x->fd);
        if (x->conv) {
            vn_otlp_conv_destroy(x->conv);
            free(x->conv);
        }
        if (x->tracer) {
            vn_otlp_trace_destroy(x->tracer);
            free(x->tracer);
        }
        vn_ingest_free(x->ingest);
        free(x->addr);
    }
    free(s->l);
    free(s);
}
