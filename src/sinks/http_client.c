/*
 * http_client.c - the libcurl transport of http_client.h.
 *
 * One curl multi handle per transport: its connection cache is what keeps
 * connections alive between requests (and between flushes), and every request
 * is an easy handle added to it, so N bodies of one flush go out in parallel
 * on up to max_connections connections. The owner thread drives everything
 * with curl_multi_perform/curl_multi_poll; curl_multi_wakeup (thread-safe) is
 * how an enqueue or a shutdown on another thread interrupts a poll.
 *
 * A finished easy handle is removed and freed at once; its result waits on a
 * FIFO `done` list until next_done pops it. Bodies are never copied
 * (CURLOPT_POSTFIELDS borrows the caller's buffer, which the delivery queue
 * keeps alive until the result is popped).
 *
 * A response counts once its status line has been read: a transfer that then
 * fails (the body stalls into the timeout, the connection drops mid-body) is
 * reported as VN_HTTP_RESPONSE with that status, because the server already
 * took the request and sending it again would duplicate the data.
 *
 * Errors never carry the URL (the Datadog API key is in its query string):
 * the curl error buffer names host and port at most, and anything after a '?'
 * is cut off anyway.
 */
#include "sinks/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/version.h"
#include "core/xalloc.h"

typedef struct xfer {
    CURL *easy; /* NULL once finished */
    struct curl_slist *hdrs;
    struct curl_slist *connect_to; /* NULL unless the request has one */
    void *tag;
    vn_http_result_t res;
    char errbuf[CURL_ERROR_SIZE];
    struct xfer *prev, *next; /* in-flight list, then the done FIFO (next only) */
} xfer_t;

typedef struct curl_transport {
    vn_http_transport_t base;
    CURLM *multi;
    char *user_agent;
    char *tls_ca_file, *tls_cert_file, *tls_key_file; /* owned; NULL = libcurl's defaults */
    long idle_timeout_s;
    unsigned max_conn;
    xfer_t *inflight; /* doubly linked, unordered */
    size_t n_inflight;
    xfer_t *done_head, *done_tail;
} curl_transport_t;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        VN_LOG(ERROR, "event=curl_global_init_failed");
        abort();
    }
}

const char *vn_http_outcome_name(vn_http_outcome_t o)
{
    switch (o) {
    case VN_HTTP_RESPONSE: return "response";
    case VN_HTTP_CONNECT: return "connect";
    case VN_HTTP_TIMEOUT: return "timeout";
    case VN_HTTP_IO: return "io";
    case VN_HTTP_UNUSABLE: return "unusable";
    case VN_HTTP_ABORTED: return "aborted";
    }
    return "unknown";
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * n;
    size_t room = VN_HTTP_EXCERPT_MAX - x->res.excerpt_len;
    size_t take = len < room ? len : room;
    memcpy(x->res.excerpt + x->res.excerpt_len, p, take);
    x->res.excerpt_len += take;
    x->res.excerpt[x->res.excerpt_len] = '\0';
    return len; /* the rest is read and discarded so the connection stays reusable */
}

double vn_http_parse_retry_after(const char *v, size_t len, long long now_unix)
{
    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r' || v[len - 1] == '\n'))
        len--;
    if (!len || len > 64)
        return -1;
    char buf[65];
    memcpy(buf, v, len);
    buf[len] = '\0';
    double secs;
    if (buf[0] >= '0' && buf[0] <= '9') {
        unsigned long long n = 0;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] < '0' || buf[i] > '9')
                return -1;
            if (n < 1000000000ull)
                n = n * 10 + (unsigned)(buf[i] - '0');
        }
        secs = (double)n;
    } else {
        time_t at = curl_getdate(buf, NULL);
        if (at == (time_t)-1)
            return -1;
        secs = (double)((long long)at - now_unix);
        if (secs < 0)
            secs = 0;
    }
    return secs > VN_HTTP_RETRY_AFTER_MAX_S ? VN_HTTP_RETRY_AFTER_MAX_S : secs;
}

/* Keeps the last response's Retry-After (a 1xx interim response resets it). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        x->res.retry_after_s = 0;
    else if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        double s = vn_http_parse_retry_after(p + sizeof name - 1, len - (sizeof name - 1), (long long)time(NULL));
        x->res.retry_after_s = s > 0 ? s : 0;
    }
    return len;
}

static vn_http_outcome_t outcome_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return VN_HTTP_RESPONSE;
    case CURLE_OPERATION_TIMEDOUT: return VN_HTTP_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION: return VN_HTTP_CONNECT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT: return VN_HTTP_UNUSABLE;
    default: return VN_HTTP_IO;
    }
}

static void unlink_inflight(curl_transport_t *c, xfer_t *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        c->inflight = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    c->n_inflight--;
}

static void push_done(curl_transport_t *c, xfer_t *x)
{
    x->next = NULL;
    if (c->done_tail)
        c->done_tail->next = x;
    else
        c->done_head = x;
    c->done_tail = x;
}

/* Releases the curl side of x (keeps its result). */
static void release_easy(curl_transport_t *c, xfer_t *x)
{
    if (x->easy) {
        curl_multi_remove_handle(c->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    curl_slist_free_all(x->connect_to);
    x->connect_to = NULL;
}

static void set_error(xfer_t *x, CURLcode rc)
{
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    size_t n = strlen(detail);
    if (n >= sizeof x->res.error)
        n = sizeof x->res.error - 1; /* a truncated error text is still useful */
    memcpy(x->res.error, detail, n);
    x->res.error[n] = '\0';
    char *q = strchr(x->res.error, '?');
    if (q)
        *q = '\0'; /* never a query string (API keys) in a log line */
}

static void collect(curl_transport_t *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        xfer_t *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x)
            continue;
        CURLcode rc = msg->data.result;
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        x->res.outcome = outcome_of(rc);
        x->res.status = 0;
        if (rc == CURLE_OK) {
            x->res.status = (int)status;
        } else if (status >= 200) {
            /* the status arrived, the body did not finish: the answer stands (see top) */
            x->res.outcome = VN_HTTP_RESPONSE;
            x->res.status = (int)status;
            set_error(x, rc);
            VN_LOG(DEBUG, "event=http_body_incomplete status=%ld error=\"%s\"", status, x->res.error);
        } else {
            set_error(x, rc);
        }
        unlink_inflight(c, x);
        release_easy(c, x);
        push_done(c, x);
    }
}

static vn_err_t ct_start(vn_http_transport_t *t, const vn_http_request_t *req, void *tag)
{
    curl_transport_t *c = (curl_transport_t *)t;
    if (c->n_inflight >= c->max_conn)
        return VN_ERR_AGAIN;
    xfer_t *x = vn_xcalloc(1, sizeof *x);
    x->tag = tag;
    x->easy = curl_easy_init();
    if (!x->easy) {
        VN_LOG(ERROR, "event=curl_easy_init_failed");
        abort();
    }
    for (size_t i = 0; i < req->nheaders && i < VN_HTTP_MAX_HEADERS; i++)
        x->hdrs = curl_slist_append(x->hdrs, req->headers[i]);
    /* No 100-continue round trip: the servers we talk to answer POSTs directly. */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    CURL *e = x->easy;
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : 10000;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    if (req->method)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->aws_sigv4 && req->userpwd) {
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, req->aws_sigv4);
        curl_easy_setopt(e, CURLOPT_USERPWD, req->userpwd);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    if (req->connect_to) {
        x->connect_to = curl_slist_append(NULL, req->connect_to);
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, x->connect_to);
    }
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    if (c->tls_ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->tls_ca_file);
    if (c->tls_cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, c->tls_cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, c->tls_key_file);
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
#if LIBCURL_VERSION_NUM >= 0x074100
    if (c->idle_timeout_s > 0)
        curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, c->idle_timeout_s);
#endif
    x->next = c->inflight;
    if (c->inflight)
        c->inflight->prev = x;
    c->inflight = x;
    c->n_inflight++;
    CURLMcode mrc = curl_multi_add_handle(c->multi, e);
    if (mrc != CURLM_OK) {
        /* Report it like any failed request so the caller's accounting stays uniform. */
        unlink_inflight(c, x);
        release_easy(c, x);
        x->res.outcome = VN_HTTP_IO;
        snprintf(x->res.error, sizeof x->res.error, "curl_multi_add_handle: %s", curl_multi_strerror(mrc));
        push_done(c, x);
    }
    return VN_OK;
}

static void ct_wait(vn_http_transport_t *t, int timeout_ms)
{
    curl_transport_t *c = (curl_transport_t *)t;
    int running = 0;
    curl_multi_perform(c->multi, &running);
    collect(c);
    if (c->done_head)
        return; /* results to hand out: do not sleep */
    curl_multi_poll(c->multi, NULL, 0, timeout_ms < 0 ? 0 : timeout_ms, NULL);
    curl_multi_perform(c->multi, &running);
    collect(c);
}

static bool ct_next_done(vn_http_transport_t *t, void **tag, vn_http_result_t *res)
{
    curl_transport_t *c = (curl_transport_t *)t;
    xfer_t *x = c->done_head;
    if (!x)
        return false;
    c->done_head = x->next;
    if (!c->done_head)
        c->done_tail = NULL;
    *tag = x->tag;
    *res = x->res;
    free(x);
    return true;
}

static void ct_wakeup(vn_http_transport_t *t)
{
    curl_multi_wakeup(((curl_transport_t *)t)->multi);
}

static void ct_abort_all(vn_http_transport_t *t)
{
    curl_transport_t *c = (curl_transport_t *)t;
    while (c->inflight) {
        xfer_t *x = c->inflight;
        unlink_inflight(c, x);
        release_easy(c, x);
        x->res.outcome = VN_HTTP_ABORTED;
        x->res.status = 0;
        snprintf(x->res.error, sizeof x->res.error, "aborted");
        push_done(c, x);
    }
}

static void ct_destroy(vn_http_transport_t *t)
{
    curl_transport_t *c = (curl_transport_t *)t;
    if (!c)
        return;
    ct_abort_all(t);
    void *tag;
    vn_http_result_t res;
    while (ct_next_done(t, &tag, &res))
        ;
    curl_multi_cleanup(c->multi);
    free(c->user_agent);
    free(c->tls_ca_file);
    free(c->tls_cert_file);
    free(c->tls_key_file);
    free(c);
}

static const vn_http_transport_ops_t curl_ops = {
    .start = ct_start,
    .wait = ct_wait,
    .next_done = ct_next_done,
    .wakeup = ct_wakeup,
    .abort_all = ct_abort_all,
    .destroy = ct_destroy,
};

vn_http_transport_t *vn_http_client_new(const vn_http_client_opts_t *opts)
{
    pthread_once(&global_once, global_init);
    curl_transport_t *c = vn_xcalloc(1, sizeof *c);
    c->base.ops = &curl_ops;
    c->max_conn = opts && opts->max_connections ? opts->max_connections : 4;
    c->idle_timeout_s = opts ? opts->idle_timeout_s : 0;
    if (opts && opts->tls_ca_file)
        c->tls_ca_file = vn_xstrdup(opts->tls_ca_file);
    if (opts && opts->tls_cert_file && opts->tls_key_file) {
        c->tls_cert_file = vn_xstrdup(opts->tls_cert_file);
        c->tls_key_file = vn_xstrdup(opts->tls_key_file);
    }
    if (opts && opts->user_agent) {
        c->user_agent = vn_xstrdup(opts->user_agent);
    } else {
        char ua[64];
        snprintf(ua, sizeof ua, "veneur-c/%s", VN_VERSION);
        c->user_agent = vn_xstrdup(ua);
    }
    c->multi = curl_multi_init();
    if (!c->multi) {
        VN_LOG(ERROR, "event=curl_multi_init_failed");
        abort();
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->max_conn);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_conn * 2);
    return &c->base;
}
