/*
 * server.c - the daemon's HTTP endpoints on libmicrohttpd (MHD).
 *
 * Shape:
 *   - We resolve and bind the listening socket ourselves (getaddrinfo, SO_REUSEADDR,
 *     listen) so bind errors carry errno text and the bound port is known, then hand
 *     the socket to MHD with MHD_OPTION_LISTEN_SOCKET. MHD closes it on stop.
 *   - MHD runs one internal polling thread (epoll, else poll, else select). Every
 *     access-handler call and every vn_http_handlers_t callback runs on it, so the
 *     render-size hints below need no lock.
 *   - Fixed bodies (ok, 404, ...) are MHD responses built once at start and shared by
 *     all requests (MHD reference-counts them). Rendered bodies (/metrics, /config/json,
 *     /config/yaml) are malloc'd per request and freed by MHD.
 *   - Each request gets a small state block (bytes of body discarded, quit pending),
 *     allocated on the first handler call and freed in the completion callback,
 *     which is also where quit() runs: after the response went out.
 *   - Connection limits (server.h): MHD enforces the hard ones; a connection
 *     notifier keeps every live connection in a list in arrival order and, as
 *     each new one starts, shuts (shutdown(2), MHD then closes it on its next
 *     turn) the oldest that has no complete request, so hostile half-open
 *     connections are recycled instead of holding every slot.
 *   - File-descriptor exhaustion: MHD busy-waits when accept() fails with
 *     EMFILE while it has no connection. We keep one spare descriptor and give
 *     it up when MHD reports the condition (its log callback), so the waiting
 *     client (a health probe) gets served; the spare is taken back when that
 *     connection closes.
 * MHD's call protocol for one request: call 1 has headers only (*con_cls == NULL);
 * calls 2..n carry body chunks (*upload_data_size > 0); the last call has
 * *upload_data_size == 0 and is where the response is queued. Queuing in call 1
 * makes MHD skip the body and close the connection, which is what 413 wants.
 */
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/hostport.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/version.h"
#include "core/xalloc.h"

/* Tries a render callback this many times when its output keeps growing. */
#define RENDER_ATTEMPTS 4
/* MHD error-log lines per second before the rest are only counted. */
#define LOG_BURST 10

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"

/* ------------------------------------------------------------------------- */
/* Fixed responses                                                            */

enum resp_id {
    RESP_OK,
    RESP_READY,
    RESP_NOT_READY,
    RESP_VERSION,
    RESP_BUILDDATE,
    RESP_ECHO,
    RESP_QUIT,
    RESP_NOT_FOUND,
    RESP_GET_ONLY,
    RESP_POST_ONLY,
    RESP_TOO_LARGE,
    RESP_RENDER_FAILED,
    RESP_NO_CONTENT,
    RESP_UNAVAILABLE,
    RESP__COUNT
};

static const struct fixed_resp {
    unsigned status;
    const char *body;
    const char *allow; /* Allow header, or NULL */
} fixed[RESP__COUNT] = {
    [RESP_OK] = {200, "ok\n", NULL},
    [RESP_READY] = {200, "ready\n", NULL},
    [RESP_NOT_READY] = {503, "shutting down\n", NULL},
    [RESP_VERSION] = {200, VN_VERSION, NULL},
    [RESP_BUILDDATE] = {200, VN_BUILD_DATE, NULL},
    [RESP_ECHO] = {200, "hello world!\n", NULL},
    [RESP_QUIT] = {200, "Beginning graceful shutdown....\n", NULL},
    [RESP_NOT_FOUND] = {404, "404 page not found\n", NULL},
    [RESP_GET_ONLY] = {405, "405 method not allowed\n", "GET, HEAD"},
    [RESP_POST_ONLY] = {405, "405 method not allowed\n", "POST"},
    [RESP_TOO_LARGE] = {413, "413 request body too large\n", NULL},
    [RESP_RENDER_FAILED] = {500, "500 response too large\n", NULL},
    /* veneur-proxy's /healthcheck (Go writes the status only) */
    [RESP_NO_CONTENT] = {204, "", NULL},
    [RESP_UNAVAILABLE] = {503, "", NULL},
};

/* ------------------------------------------------------------------------- */
/* Routes                                                                     */

enum endpoint { EP_FIXED, EP_READY, EP_METRICS, EP_CONFIG_JSON, EP_CONFIG_YAML, EP_QUIT, EP_HEALTH, EP_LIVE };

static const struct route {
    const char *path;
    enum endpoint ep;
    enum resp_id fixed; /* body for EP_FIXED */
    bool post;          /* POST-only; otherwise GET and HEAD */
} routes[] = {
    {"/healthcheck", EP_HEALTH, RESP_OK, false},
    {"/healthcheck/tracing", EP_FIXED, RESP_OK, false},
    {"/healthz", EP_LIVE, RESP_OK, false},
    {"/readyz", EP_READY, RESP_OK, false},
    {"/version", EP_FIXED, RESP_VERSION, false},
    {"/builddate", EP_FIXED, RESP_BUILDDATE, false},
    {"/echo", EP_FIXED, RESP_ECHO, false},
    {"/metrics", EP_METRICS, RESP_OK, false},
    {"/config/json", EP_CONFIG_JSON, RESP_OK, false},
    {"/config/yaml", EP_CONFIG_YAML, RESP_OK, false},
    {"/quitquitquit", EP_QUIT, RESP_QUIT, true},
};

struct vn_http_server {
    struct MHD_Daemon *daemon;
    vn_http_handlers_t h;
    int port;
    struct MHD_Response *resp[RESP__COUNT];
    /* Last buffer size that fitted, per render endpoint; server thread only. */
    size_t hint_metrics, hint_json, hint_yaml;
    /* MHD log rate limit; touched by the starting thread and the server thread. */
    _Atomic long log_window;
    _Atomic unsigned log_count;
    _Atomic unsigned log_dropped;
    /* Connection tracking (server thread only, except the evicted counter). */
    struct hconn *conns, *conns_tail;
    unsigned nconns;
    _Atomic unsigned long long evicted;
    long evict_log_window;
    int spare_fd; /* see the file comment; -1 while given up */
};

/* One live connection (MHD socket context). */
struct hconn {
    struct hconn *prev, *next;
    int fd;
    uint8_t peer[16];
    double waiting_since; /* start, or end of its last request */
    bool busy;            /* a complete request is being answered */
    unsigned requests;    /* answered so far: keep-alive ones are left to MHD's idle timeout */
    bool evicted;         /* shut down, MHD has not closed it yet */
};

/* Per-request state; freed by on_completed on the server thread. */
struct request {
    size_t body; /* bytes of request body seen and discarded */
    bool quit;   /* call h.quit once this request is over */
};

static bool route_enabled(const vn_http_server_t *s, enum endpoint ep)
{
    switch (ep) {
    case EP_METRICS: return s->h.metrics != NULL;
    case EP_CONFIG_JSON: return s->h.config_json != NULL;
    case EP_CONFIG_YAML: return s->h.config_yaml != NULL;
    case EP_QUIT: return s->h.quit != NULL;
    case EP_FIXED:
    case EP_READY:
    case EP_HEALTH:
    case EP_LIVE: break;
    }
    return true;
}

static const struct route *find_route(const vn_http_server_t *s, const char *url)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(routes[i].path, url) == 0)
            return route_enabled(s, routes[i].ep) ? &routes[i] : NULL;
    return NULL;
}

static enum MHD_Result queue_fixed(const vn_http_server_t *s, struct MHD_Connection *c, enum resp_id id)
{
    return MHD_queue_response(c, fixed[id].status, s->resp[id]);
}

/* The server's own counters, appended to every program's /metrics (the daemon
 * and veneur-proxy alike) so no caller has to wire them. Returns the length. */
static size_t own_metrics(vn_http_server_t *s, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "# HELP veneur_http_connections_evicted_total HTTP connections closed by the connection limits "
                     "or the request deadline.\n"
                     "# TYPE veneur_http_connections_evicted_total counter\n"
                     "veneur_http_connections_evicted_total %llu\n",
                     vn_http_server_evicted(s));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/*
 * Calls a render callback with a growing buffer until the body fits, then queues
 * it. *hint remembers the size that fitted so the next request starts there.
 * With own, the server's counters follow the callback's body.
 */
static enum MHD_Result serve_render(vn_http_server_t *s, struct MHD_Connection *c, vn_http_render_fn fn,
                                    size_t *hint, const char *ctype, bool own)
{
    char tail[512];
    size_t tl = own ? own_metrics(s, tail, sizeof tail) : 0;
    size_t cap = *hint;
    size_t need = 0;
    for (int attempt = 0; attempt < RENDER_ATTEMPTS; attempt++) {
        char *buf = vn_xmalloc(cap + tl);
        need = fn(s->h.ctx, buf, cap);
        if (need <= cap) {
            memcpy(buf + need, tail, tl);
            need += tl;
            *hint = cap;
            struct MHD_Response *r = MHD_create_response_from_buffer(need, buf, MHD_RESPMEM_MUST_FREE);
            if (r == NULL) {
                free(buf);
                return MHD_NO;
            }
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
            enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
            MHD_destroy_response(r);
            return ret;
        }
        free(buf);
        if (need > VN_HTTP_MAX_RENDER)
            break;
        /* Leave room for output that grows between two calls (new series). */
        cap = need + need / 8;
        if (cap > VN_HTTP_MAX_RENDER)
            cap = VN_HTTP_MAX_RENDER;
    }
    VN_LOG(WARN, "event=http_render_too_large need=%zu max=%zu", need, VN_HTTP_MAX_RENDER);
    return queue_fixed(s, c, RESP_RENDER_FAILED);
}

static enum MHD_Result serve(vn_http_server_t *s, struct MHD_Connection *c, struct request *req,
                             const struct route *rt)
{
    switch (rt->ep) {
    case EP_FIXED: return queue_fixed(s, c, rt->fixed);
    case EP_HEALTH: {
        unsigned st = s->h.healthcheck ? s->h.healthcheck(s->h.ctx) : 200;
        return queue_fixed(s, c, st == 200 ? RESP_OK : st == 204 ? RESP_NO_CONTENT : RESP_UNAVAILABLE);
    }
    case EP_LIVE: /* liveness: fails once the program says it is wedged (flush watchdog) */
        return queue_fixed(s, c, (s->h.live == NULL || s->h.live(s->h.ctx)) ? RESP_OK : RESP_UNAVAILABLE);
    case EP_READY:
        return queue_fixed(s, c, (s->h.ready == NULL || s->h.ready(s->h.ctx)) ? RESP_READY : RESP_NOT_READY);
    case EP_METRICS: return serve_render(s, c, s->h.metrics, &s->hint_metrics, CT_PROM, true);
    case EP_CONFIG_JSON: return serve_render(s, c, s->h.config_json, &s->hint_json, "application/json", false);
    case EP_CONFIG_YAML: return serve_render(s, c, s->h.config_yaml, &s->hint_yaml, "application/x-yaml", false);
    case EP_QUIT: {
        enum MHD_Result ret = queue_fixed(s, c, RESP_QUIT);
        if (ret == MHD_YES) {
            VN_LOG(INFO, "event=http_quit_requested endpoint=/quitquitquit");
            req->quit = true;
        }
        return ret;
    }
    }
    return queue_fixed(s, c, RESP_NOT_FOUND);
}

/* Content-Length above the cap? Invalid values are MHD's to reject (400). */
static bool declared_body_too_large(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (v == NULL)
        return false;
    size_t n = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        n = n * 10 + (size_t)(*v - '0');
        if (n > VN_HTTP_MAX_BODY)
            return true;
    }
    return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    vn_http_server_t *s = cls;
    struct request *req = *con_cls;
    (void)version;
    (void)upload_data;

    if (req == NULL) { /* call 1: headers only */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        if (ci && ci->socket_context)
            ((struct hconn *)ci->socket_context)->busy = true;
        if (declared_body_too_large(c))
            return queue_fixed(s, c, RESP_TOO_LARGE);
        *con_cls = vn_xcalloc(1, sizeof *req);
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* body chunk: count and discard */
        req->body += *upload_data_size;
        *upload_data_size = 0;
        /* Only a chunked body gets here over the cap; MHD cannot answer
         * mid-upload, so the connection is closed without a response. */
        return req->body > VN_HTTP_MAX_BODY ? MHD_NO : MHD_YES;
    }

    const struct route *rt = find_route(s, url);
    if (rt == NULL)
        return queue_fixed(s, c, RESP_NOT_FOUND);
    bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (rt->post ? !is_post : !is_get)
        return queue_fixed(s, c, rt->post ? RESP_POST_ONLY : RESP_GET_ONLY);
    return serve(s, c, req, rt);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    vn_http_server_t *s = cls;
    struct request *req = *con_cls;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context) {
        struct hconn *hc = ci->socket_context;
        hc->busy = false;
        hc->requests++;
        hc->waiting_since = vn_clock_mono_s();
    }
    if (req == NULL)
        return;
    *con_cls = NULL;
    bool quit = req->quit;
    free(req);
    /* On daemon shutdown the daemon is already stopping; don't re-enter it. */
    if (quit && toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
        s->h.quit(s->h.ctx);
}

/* ------------------------------------------------------------------------- */
/* Connection limits                                                          */

static void peer_key(const struct sockaddr *sa, uint8_t out[16])
{
    memset(out, 0, 16);
    if (sa && sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
}

static void evict(vn_http_server_t *s, struct hconn *hc, const char *reason)
{
    hc->evicted = true;
    shutdown(hc->fd, SHUT_RDWR); /* MHD sees the end of the stream and closes it */
    atomic_fetch_add_explicit(&s->evicted, 1, memory_order_relaxed);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec != s->evict_log_window) { /* one line per second at most */
        s->evict_log_window = now.tv_sec;
        VN_LOG(WARN, "event=http_connection_evicted reason=%s connections=%u evicted_total=%llu", reason,
               s->nconns, (unsigned long long)atomic_load(&s->evicted));
    }
}

/* The oldest evictable connection (of peer, or of anyone when peer is NULL), never `except`. */
static struct hconn *oldest_waiting(vn_http_server_t *s, const uint8_t *peer, const struct hconn *except)
{
    for (struct hconn *hc = s->conns; hc; hc = hc->next)
        if (hc != except && !hc->busy && !hc->evicted && (!peer || memcmp(hc->peer, peer, 16) == 0))
            return hc;
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    vn_http_server_t *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct hconn *hc = *socket_context;
        if (!hc)
            return;
        if (hc->prev)
            hc->prev->next = hc->next;
        else
            s->conns = hc->next;
        if (hc->next)
            hc->next->prev = hc->prev;
        else
            s->conns_tail = hc->prev;
        if (!hc->evicted)
            s->nconns--;
        free(hc);
        *socket_context = NULL;
        if (s->spare_fd < 0) /* a descriptor is free again: hold it for the next exhaustion */
            s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return;
    }
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct hconn *hc = vn_xcalloc(1, sizeof *hc);
    hc->fd = fi ? fi->connect_fd : -1;
    peer_key(ai ? ai->client_addr : NULL, hc->peer);
    double now = vn_clock_mono_s();
    hc->waiting_since = now;
    hc->prev = s->conns_tail;
    if (s->conns_tail)
        s->conns_tail->next = hc;
    else
        s->conns = hc;
    s->conns_tail = hc;
    s->nconns++;
    *socket_context = hc;

    /* deadline for a first complete request, checked lazily: only newcomers need the room.
     * A keep-alive connection between requests (a scraper's) is left to MHD's idle timeout,
     * so a request it sends is never cut by a shutdown racing with it. */
    for (struct hconn *o = s->conns; o && o != hc; o = o->next)
        if (!o->busy && !o->evicted && o->requests == 0 && now - o->waiting_since > VN_HTTP_HEADER_TIMEOUT_S) {
            evict(s, o, "request_timeout");
            s->nconns--;
        }
    unsigned same = 0;
    for (struct hconn *o = s->conns; o; o = o->next)
        same += !o->evicted && memcmp(o->peer, hc->peer, 16) == 0;
    if (same > VN_HTTP_SOFT_PER_IP) {
        struct hconn *v = oldest_waiting(s, hc->peer, hc);
        if (v) {
            evict(s, v, "per_ip");
            s->nconns--;
        }
    }
    if (s->nconns > VN_HTTP_SOFT_CONNECTIONS) {
        struct hconn *v = oldest_waiting(s, NULL, hc);
        if (v) {
            evict(s, v, "connections");
            s->nconns--;
        }
    }
}

unsigned long long vn_http_server_evicted(const vn_http_server_t *s)
{
    return atomic_load_explicit(&((vn_http_server_t *)s)->evicted, memory_order_relaxed);
}

/* MHD's own diagnostics, as logfmt, at most LOG_BURST lines per second. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    vn_http_server_t *s = cls;
    /* MHD reports fd exhaustion only through its log (see the file comment) */
    if (strstr(fmt, "resource limit") && s->spare_fd >= 0) {
        close(s->spare_fd);
        s->spare_fd = -1;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long window = (long)now.tv_sec;
    if (atomic_exchange(&s->log_window, window) != window)
        atomic_store(&s->log_count, 0);
    if (atomic_fetch_add(&s->log_count, 1) >= LOG_BURST) {
        atomic_fetch_add(&s->log_dropped, 1);
        return;
    }
    char msg[256];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = n < 0 ? 0 : ((size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n);
    msg[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (msg[i] == '"' || msg[i] == '\n' || msg[i] == '\r')
            msg[i] = msg[i] == '"' ? '\'' : ' ';
    while (len > 0 && msg[len - 1] == ' ')
        msg[--len] = '\0';
    VN_LOG(WARN, "event=http_server_error msg=%s suppressed=%u", VN_LOG_Q(msg),
           atomic_exchange(&s->log_dropped, 0));
}

/* ------------------------------------------------------------------------- */
/* Address parsing and binding                                                */

/* One socket bound to ai and listening, or -1 with errno and *step ("socket", "bind", ...). */
static int bind_one(const struct addrinfo *ai, bool dual_stack, const char **step)
{
    int one = 1, zero = 0, saved;
    *step = "socket";
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    *step = "setsockopt";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto fail;
    if (ai->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one, sizeof one) != 0)
        goto fail;
    *step = "bind";
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        goto fail;
    *step = "listen";
    if (listen(fd, SOMAXCONN) != 0)
        goto fail;
    return fd;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/*
 * Resolves addr and returns a listening socket in *fd. An empty host means every
 * interface: [::] dual-stack first (what Go does), then 0.0.0.0. Otherwise the
 * resolved addresses are tried in getaddrinfo's order and the first that binds wins.
 */
static vn_err_t listen_addr(const char *addr, int *fd, int *port, char *errbuf, size_t errcap)
{
    char host[256], serv[64];
    if (addr == NULL)
        addr = "";
    vn_err_t err = vn_hostport_split_go(addr, host, sizeof host, serv, sizeof serv, errbuf, errcap);
    if (err != VN_OK)
        return err;

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    bool any = host[0] == '\0';
    if (any)
        hints.ai_family = AF_INET6;
    int gai = getaddrinfo(any ? NULL : host, serv, &hints, &res);
    if (gai != 0 && any) {
        hints.ai_family = AF_INET;
        gai = getaddrinfo(NULL, serv, &hints, &res);
    }
    if (gai != 0) {
        snprintf(errbuf, errcap, "listen tcp %s: lookup %s: %s", addr, any ? serv : host, gai_strerror(gai));
        return VN_ERR_CONFIG;
    }
    const char *step = "socket";
    int e = 0;
    *fd = -1;
    for (const struct addrinfo *ai = res; ai != NULL && *fd < 0; ai = ai->ai_next) {
        *fd = bind_one(ai, any, &step);
        e = errno;
    }
    if (*fd < 0 && any && (strcmp(step, "socket") == 0 || e == EADDRNOTAVAIL || e == EAFNOSUPPORT)) {
        /* no IPv6 on this host: fall back to 0.0.0.0 */
        freeaddrinfo(res);
        res = NULL;
        hints.ai_family = AF_INET;
        if (getaddrinfo(NULL, serv, &hints, &res) == 0) {
            for (const struct addrinfo *ai = res; ai != NULL && *fd < 0; ai = ai->ai_next) {
                *fd = bind_one(ai, false, &step);
                e = errno;
            }
        }
    }
    if (res != NULL)
        freeaddrinfo(res);
    if (*fd < 0) {
        char eb[128];
        snprintf(errbuf, errcap, "listen tcp %s: %s: %s", addr, step, strerror_r(e, eb, sizeof eb));
        return VN_ERR_IO;
    }
    *port = bound_port(*fd);
    return VN_OK;
}

/* ------------------------------------------------------------------------- */
/* Lifecycle                                                                  */

static void free_responses(vn_http_server_t *s)
{
    for (int i = 0; i < RESP__COUNT; i++) {
        if (s->resp[i] != NULL)
            MHD_destroy_response(s->resp[i]);
        s->resp[i] = NULL;
    }
}

static bool make_responses(vn_http_server_t *s)
{
    for (int i = 0; i < RESP__COUNT; i++) {
        const char *body = fixed[i].body;
        s->resp[i] = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
        if (s->resp[i] == NULL)
            return false;
        if (MHD_add_response_header(s->resp[i], MHD_HTTP_HEADER_CONTENT_TYPE, CT_TEXT) != MHD_YES)
            return false;
        if (fixed[i].allow != NULL &&
            MHD_add_response_header(s->resp[i], MHD_HTTP_HEADER_ALLOW, fixed[i].allow) != MHD_YES)
            return false;
    }
    return true;
}

static unsigned poll_flag(void)
{
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        return MHD_USE_EPOLL;
    if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        return MHD_USE_POLL;
    return 0; /* select */
}

/*
 * Closes fd unless it no longer names the socket `orig` names. MHD closes the
 * listening socket on some start-up failure paths and not on others; comparing
 * inodes (orig is still open, so its inode cannot be reused) tells which.
 */
static void close_if_same_socket(int fd, int orig)
{
    struct stat a, b;
    if (fstat(orig, &a) == 0 && fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        close(fd);
}

vn_err_t vn_http_server_start(const char *addr, const vn_http_handlers_t *h, vn_http_server_t **out,
                              char *errbuf, size_t errcap)
{
    char dummy[1];
    if (errbuf == NULL || errcap == 0) {
        errbuf = dummy;
        errcap = sizeof dummy;
    }
    errbuf[0] = '\0';
    *out = NULL;

    int lfd = -1, port = 0;
    vn_err_t err = listen_addr(addr, &lfd, &port, errbuf, errcap);
    if (err != VN_OK)
        return err;

    vn_http_server_t *s = vn_xcalloc(1, sizeof *s);
    if (h != NULL)
        s->h = *h;
    s->port = port;
    s->hint_metrics = s->hint_json = s->hint_yaml = VN_HTTP_RENDER_INITIAL;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int mfd = -1;
    if (!make_responses(s)) {
        snprintf(errbuf, errcap, "http server: could not build responses");
        err = VN_ERR_IO;
        goto fail;
    }
    /* MHD gets a duplicate so we can tell afterwards whether it closed its copy. */
    mfd = fcntl(lfd, F_DUPFD_CLOEXEC, 0);
    if (mfd < 0) {
        char eb[128];
        snprintf(errbuf, errcap, "listen tcp %s: dup: %s", addr, strerror_r(errno, eb, sizeof eb));
        err = VN_ERR_IO;
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | poll_flag();
    /* The logger goes first so MHD's option parsing already logs through it. */
    /* clang-format off */
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mfd,
                                 MHD_OPTION_CONNECTION_LIMIT, VN_HTTP_MAX_CONNECTIONS,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, VN_HTTP_MAX_PER_IP,
                                 MHD_OPTION_CONNECTION_TIMEOUT, VN_HTTP_CONN_TIMEOUT_S,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                 MHD_OPTION_END);
    /* clang-format on */
    if (s->daemon == NULL) {
        close_if_same_socket(mfd, lfd);
        snprintf(errbuf, errcap, "listen tcp %s: libmicrohttpd failed to start", addr);
        err = VN_ERR_IO;
        goto fail;
    }
    close(lfd); /* MHD's copy keeps the socket open; MHD closes it on stop */
    VN_LOG(INFO, "event=http_server_started address=%s port=%d", addr, port);
    *out = s;
    return VN_OK;

fail:
    close(lfd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    free_responses(s);
    free(s);
    return err;
}

int vn_http_server_port(const vn_http_server_t *s) { return s->port; }

void vn_http_server_stop(vn_http_server_t *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->daemon); /* joins the server thread, closes connections and the socket */
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    free_responses(s);
    free(s);
}
