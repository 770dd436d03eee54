/*
 * stream.c - epoll loop for statsd over TCP, TLS and unix streams.
 *
 * Every socket is non-blocking. TLS connections run SSL_accept/SSL_read in
 * non-blocking mode: WANT_READ/WANT_WRITE just wait for the next readiness
 * event. Line framing is listen/linebuf.c; this file owns sockets, limits and
 * the lifecycle of a connection:
 *
 *   HANDSHAKE --(TLS done, or plain socket)--> READING --> closed, with an
 *   explicit reason (conn_end_t): EOF, bad line, line too long, buffer budget,
 *   read error, TLS failure, handshake deadline, idle, evicted.
 *
 * Each connection's state is explicit, one enum per question, no flag that
 * means several things: conn_phase_t says where the socket is (HANDSHAKE,
 * READING); the line buffer's vn_linebuf_state_t says where framing is:
 * READING (accepting bytes; a line is *ready* the moment its '\n' arrives
 * and is handed to vn_ingest_line within the same read, so no ready line is
 * ever held back), BAD_LINE (ingest rejected a line: nothing after it is
 * delivered), TOO_LONG (64 KiB without '\n'), NO_MEMORY (the loop's buffer budget)
 * and EOF (the peer finished; an unterminated last line was delivered once).
 * end_of() maps a finished framing state to the conn_end_t the connection
 * closes with; conn_read() returns END_NONE while it stays open.
 *
 * Limits, defaults (compile time; docs/operations.md "Stream listeners"):
 *   MAX_CONNS 4096 per loop. At the cap a new connection is not refused: the
 *     worst held connection is evicted instead - the oldest one that never
 *     delivered a complete line, else the least recently active one if it has
 *     been quiet for EVICT_MIN_IDLE_MS (else the newcomer is refused). So idle
 *     or silent sockets cannot lock senders out.
 *   MAX_CONNS_PER_PEER 1024 per source IP (unix sockets: per peer uid via
 *     SO_PEERCRED): a peer over it evicts its own worst connection, so one host
 *     holds at most a quarter of the slots yet never locks itself out.
 *   HANDSHAKE_TIMEOUT_MS 10 s from accept to a finished TLS handshake.
 *   IDLE_TIMEOUT_MS 600 s without a byte (Go Veneur's value).
 *   BUF_BUDGET_BYTES 64 MiB of line buffers per loop: buffers start at 4 KiB
 *     on the first byte and grow only for one long unterminated line (up to
 *     64 KiB), so half lines pin at most this much; a connection whose buffer
 *     cannot grow within it is closed and counted.
 *   accept4 failing with EMFILE/ENFILE/ENOMEM/ENOBUFS (or any other
 *     non-transient error) takes every listener out of epoll for 100 ms,
 *     doubling up to 1 s while it keeps failing: the level-triggered listener
 *     would otherwise spin. One log line per episode (errors less than 10 s
 *     apart), every pause counted. On
 *     EMFILE/ENFILE each pause also sheds the oldest never-proven connection,
 *     so the rest of the process gets a descriptor back.
 */
#include "listen/stream.h"

#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/accept_backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "listen/linebuf.h"

#define MAX_LISTENERS 32
#define MAX_CONNS 4096
#define MAX_CONNS_PER_PEER 1024
#define LINE_MAX_BYTES (64 * 1024)
#define IDLE_TIMEOUT_MS (600 * 1000)
#define HANDSHAKE_TIMEOUT_MS (10 * 1000)
#define EVICT_MIN_IDLE_MS 1000
#define BUF_BUDGET_BYTES (64u << 20)
#define ACCEPT_BACKOFF_MIN_MS 100
#define ACCEPT_BACKOFF_MAX_MS 1000
#define ACCEPT_EPISODE_QUIET_MS 10000 /* an episode ends after this long without an accept error */
#define ACCEPTS_PER_WAKE 256 /* other listeners and connections get a turn under a connect flood */
#define PEER_SLOTS 8192       /* power of two, > 2 * MAX_CONNS: probe chains stay short */

_Static_assert((PEER_SLOTS & (PEER_SLOTS - 1)) == 0 && PEER_SLOTS >= 2 * MAX_CONNS, "peer table sizing");

/* Where a connection comes from, for the per-peer limit: an IPv6 (or v4-mapped) address, or a uid. */
typedef struct peer_key {
    uint8_t kind; /* 0 free slot, 'I' address, 'U' unix uid */
    uint8_t addr[16];
} peer_key_t;

typedef struct peer {
    peer_key_t key;
    uint32_t count;
} peer_t;

typedef enum conn_phase {
    PHASE_HANDSHAKE, /* TLS handshake in progress */
    PHASE_READING,   /* lines flow through the line buffer */
} conn_phase_t;

/* Why a connection ends; END_NONE keeps it open. */
typedef enum conn_end {
    END_NONE = 0,
    END_EOF,
    END_BAD_LINE,
    END_TOO_LONG,
    END_NO_MEMORY,
    END_IO_ERROR,
    END_TLS_FAILED,
} conn_end_t;

typedef struct conn conn_t;
typedef struct conn_list {
    conn_t *head, *tail;
} conn_list_t;

struct conn {
    int fd;
    bool tcp;
    bool proven;        /* delivered a complete line: on l->active, else on l->silent */
    conn_phase_t phase;
    SSL *ssl;
    uint64_t accepted_ms, active_ms; /* monotonic; active = last byte received */
    peer_key_t peer;                 /* counted in l->peers while the connection lives */
    conn_t *prev, *next;             /* in l->silent (accept order) or l->active (activity order) */
    vn_linebuf_t lb;
};

typedef struct lsock {
    int fd;
    bool tcp;
} lsock_t;

struct vn_stream_loop {
    SSL_CTX *tls;
    vn_stats_t *stats;
    vn_ingest_t *ingest;
    int epfd, wakefd;
    lsock_t ls[MAX_LISTENERS];
    size_t nls;
    conn_list_t silent, active;
    size_t nconns;
    peer_t *peers; /* PEER_SLOTS, open addressing */
    vn_linebuf_budget_t budget;
    vn_accept_backoff_t backoff; /* accept(2) resource failures */
    struct epoll_event *batch; /* events being handled: a connection closed early is struck out */
    int batch_n;
    _Atomic bool stop;
    pthread_t thread;
    bool started;
};

/* epoll user data: listeners are tagged with the low bit (pointers are aligned). */
#define TAG_LISTENER 1u

/* ------------------------------------------------------------ peer table */

static size_t peer_hash(const peer_key_t *k)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: 17 bytes, no need for more */
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i < sizeof *k; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & (PEER_SLOTS - 1);
}

/* The entry for k, or the free slot where it would go (key.kind 0). There is always a free slot:
 * at most MAX_CONNS entries live in PEER_SLOTS. Entries move on deletion: never keep a pointer. */
static peer_t *peer_find(vn_stream_loop_t *l, const peer_key_t *k)
{
    for (size_t i = peer_hash(k);; i = (i + 1) & (PEER_SLOTS - 1)) {
        peer_t *p = &l->peers[i];
        if (p->key.kind == 0 || memcmp(&p->key, k, sizeof *k) == 0)
            return p;
    }
}

static uint32_t peer_count(vn_stream_loop_t *l, const peer_key_t *k)
{
    peer_t *p = peer_find(l, k);
    return p->key.kind ? p->count : 0;
}

static void peer_inc(vn_stream_loop_t *l, const peer_key_t *k)
{
    peer_t *p = peer_find(l, k);
    if (p->key.kind == 0) {
        p->key = *k;
        p->count = 0;
    }
    p->count++;
}

/* Drops one connection; an entry reaching 0 is removed by backward-shift deletion (no tombstones,
 * so probe chains never fill up with dead entries under connection churn). */
static void peer_dec(vn_stream_loop_t *l, const peer_key_t *k)
{
    peer_t *p = peer_find(l, k);
    if (p->key.kind == 0 || --p->count)
        return;
    size_t i = (size_t)(p - l->peers);
    for (size_t j = (i + 1) & (PEER_SLOTS - 1);; j = (j + 1) & (PEER_SLOTS - 1)) {
        peer_t *q = &l->peers[j];
        if (q->key.kind == 0)
            break;
        size_t home = peer_hash(&q->key);
        /* q may fill the hole at i unless its home lies in the cyclic range (i, j] */
        if (((j - home) & (PEER_SLOTS - 1)) >= ((j - i) & (PEER_SLOTS - 1))) {
            l->peers[i] = *q;
            i = j;
        }
    }
    l->peers[i].key.kind = 0;
}

static peer_key_t peer_of(int fd, bool tcp, const struct sockaddr_storage *sa)
{
    peer_key_t k;
    memset(&k, 0, sizeof k);
    if (!tcp) {
        /* unix streams: one peer per uid; without credentials all share one entry */
        k.kind = 'U';
        struct ucred cr;
        socklen_t cl = sizeof cr;
        uint32_t uid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 ? (uint32_t)cr.uid : UINT32_MAX;
        memcpy(k.addr, &uid, sizeof uid);
        return k;
    }
    k.kind = 'I';
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        k.addr[10] = k.addr[11] = 0xff; /* ::ffff:a.b.c.d, so v4 and v4-mapped v6 are one peer */
        memcpy(k.addr + 12, &s4->sin_addr, 4);
    } else if (sa->ss_family == AF_INET6) {
        memcpy(k.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
    return k;
}

/* ------------------------------------------------------------ conn lists */

static void list_remove(conn_list_t *li, conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        li->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        li->tail = c->prev;
    c->prev = c->next = NULL;
}

static void list_append(conn_list_t *li, conn_t *c)
{
    c->next = NULL;
    c->prev = li->tail;
    if (li->tail)
        li->tail->next = c;
    else
        li->head = c;
    li->tail = c;
}

static conn_list_t *list_of(vn_stream_loop_t *l, conn_t *c) { return c->proven ? &l->active : &l->silent; }

/* ------------------------------------------------------------ lifecycle */

vn_stream_loop_t *vn_stream_loop_new(void *tls_ctx, vn_stats_t *stats)
{
    vn_stream_loop_t *l = vn_xcalloc(1, sizeof *l);
    vn_accept_backoff_init(&l->backoff, ACCEPT_BACKOFF_MIN_MS, ACCEPT_BACKOFF_MAX_MS, ACCEPT_EPISODE_QUIET_MS);
    l->tls = tls_ctx;
    l->stats = stats;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev);
    l->peers = vn_xcalloc(PEER_SLOTS, sizeof *l->peers);
    l->budget.limit = BUF_BUDGET_BYTES;
    return l;
}

static void listener_arm(vn_stream_loop_t *l, size_t i, int op)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)(uintptr_t)&l->ls[i]) | TAG_LISTENER};
    epoll_ctl(l->epfd, op, l->ls[i].fd, &ev);
}

void vn_stream_loop_add_listener(vn_stream_loop_t *l, int fd, bool tcp)
{
    if (l->nls >= MAX_LISTENERS) {
        VN_LOG(ERROR, "event=too_many_stream_listeners max=%d", MAX_LISTENERS);
        close(fd);
        return;
    }
    l->ls[l->nls] = (lsock_t){fd, tcp};
    listener_arm(l, l->nls, EPOLL_CTL_ADD);
    l->nls++;
}

size_t vn_stream_loop_listener_count(const vn_stream_loop_t *l) { return l->nls; }

void vn_stream_loop_set_stats(vn_stream_loop_t *l, vn_stats_t *stats) { l->stats = stats; }

static void conn_close(vn_stream_loop_t *l, conn_t *c)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        if (c->phase == PHASE_READING)
            SSL_shutdown(c->ssl); /* best effort close_notify; never block */
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    close(c->fd);
    list_remove(list_of(l, c), c);
    peer_dec(l, &c->peer);
    vn_linebuf_destroy(&c->lb);
    l->nconns--;
    vn_stats_add(&l->stats->tcp_disconnects, 1);
    /* an eviction may close a connection that has an event later in this batch */
    for (int i = 0; i < l->batch_n; i++)
        if (l->batch[i].data.ptr == c)
            l->batch[i].data.u64 = 0;
    free(c);
}

/* ------------------------------------------------------------ accepting */

static void accept_pause(vn_stream_loop_t *l, int err)
{
    if (vn_accept_backoff_pause(&l->backoff, vn_clock_mono_ms())) {
        /* once per episode: the condition can last minutes and must not flood the log */
        errno = err;
        VN_LOG_ERRNO(WARN, "event=accept_failed action=pause_listeners first_pause_ms=%d max_pause_ms=%d",
                     ACCEPT_BACKOFF_MIN_MS, ACCEPT_BACKOFF_MAX_MS);
    }
    vn_stats_add(&l->stats->stream_accept_backoffs, 1);
    if ((err == EMFILE || err == ENFILE) && l->silent.head) {
        /* Out of descriptors: shed the oldest connection that never sent a line, so the process
         * (the HTTP health endpoints, sinks) has one again while the listeners rest. */
        vn_stats_add(&l->stats->stream_evictions, 1);
        conn_close(l, l->silent.head);
    }
    for (size_t i = 0; i < l->nls; i++)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->ls[i].fd, NULL);
}

static void accept_resume_if_due(vn_stream_loop_t *l, uint64_t now)
{
    if (!vn_accept_backoff_resume_due(&l->backoff, now))
        return;
    for (size_t i = 0; i < l->nls; i++)
        listener_arm(l, i, EPOLL_CTL_ADD);
}

/* The connection to give up for a newcomer: never-proven first (oldest), else the least recently
 * active one if it has been quiet a while. peer limits the choice to one peer's connections. */
static conn_t *evict_victim(vn_stream_loop_t *l, const peer_key_t *peer, uint64_t now)
{
    for (conn_t *c = l->silent.head; c; c = c->next)
        if (!peer || memcmp(&c->peer, peer, sizeof *peer) == 0)
            return c;
    for (conn_t *c = l->active.head; c; c = c->next) {
        if (now - c->active_ms < EVICT_MIN_IDLE_MS)
            return NULL; /* ordered by activity: every later one is busier still */
        if (!peer || memcmp(&c->peer, peer, sizeof *peer) == 0)
            return c;
    }
    return NULL;
}

static void accept_all(vn_stream_loop_t *l, lsock_t *ls)
{
    for (int n = 0; n < ACCEPTS_PER_WAKE; n++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        memset(&sa, 0, sizeof sa);
        int fd = accept4(ls->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            vn_accept_next_t next = vn_accept_classify(errno);
            if (next == VN_ACCEPT_NEXT)
                continue; /* that one connection failed; the next may not */
            if (next == VN_ACCEPT_PAUSE)
                accept_pause(l, errno);
            return;
        }
        vn_accept_backoff_accepted(&l->backoff); /* one log line per episode is enough here */
        uint64_t now = vn_clock_mono_ms();
        peer_key_t pk = peer_of(fd, ls->tcp, &sa);
        conn_t *victim = NULL;
        if (peer_count(l, &pk) >= MAX_CONNS_PER_PEER)
            victim = evict_victim(l, &pk, now);
        else if (l->nconns >= MAX_CONNS)
            victim = evict_victim(l, NULL, now);
        if (victim) {
            vn_stats_add(&l->stats->stream_evictions, 1);
            conn_close(l, victim);
        }
        if (peer_count(l, &pk) >= MAX_CONNS_PER_PEER || l->nconns >= MAX_CONNS) {
            vn_stats_add(&l->stats->tcp_conn_rejected, 1);
            close(fd);
            continue;
        }
        conn_t *c = vn_xcalloc(1, sizeof *c);
        c->fd = fd;
        c->tcp = ls->tcp;
        c->phase = PHASE_READING;
        c->accepted_ms = c->active_ms = now;
        c->peer = pk;
        peer_inc(l, &pk);
        vn_linebuf_init(&c->lb, LINE_MAX_BYTES, &l->budget);
        if (ls->tcp && l->tls) {
            c->ssl = SSL_new(l->tls);
            SSL_set_fd(c->ssl, fd);
            SSL_set_accept_state(c->ssl);
            c->phase = PHASE_HANDSHAKE;
        }
        list_append(&l->silent, c);
        l->nconns++;
        vn_stats_add(&l->stats->tcp_connects, 1);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

/* ------------------------------------------------------------ reading */

typedef struct line_ctx {
    vn_stream_loop_t *l;
    uint64_t lines;
} line_ctx_t;

static bool on_line(void *ctx, const char *line, size_t len)
{
    line_ctx_t *lc = ctx;
    lc->lines++;
    return vn_ingest_line(lc->l->ingest, line, len);
}

static conn_end_t end_of(vn_linebuf_state_t s)
{
    switch (s) {
    case VN_LINEBUF_READING: return END_NONE;
    case VN_LINEBUF_BAD_LINE: return END_BAD_LINE;
    case VN_LINEBUF_TOO_LONG: return END_TOO_LONG;
    case VN_LINEBUF_NO_MEMORY: return END_NO_MEMORY;
    case VN_LINEBUF_EOF: return END_EOF;
    }
    return END_IO_ERROR;
}

/* Advances a TLS handshake; END_NONE while it is still going or done. */
static conn_end_t conn_handshake(vn_stream_loop_t *l, conn_t *c)
{
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            struct epoll_event ev = {.events = (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN) | EPOLLRDHUP,
                                     .data.ptr = c};
            epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
            return END_NONE;
        }
        char eb[160];
        ERR_error_string_n(ERR_peek_last_error(), eb, sizeof eb);
        VN_LOG(WARN, "event=tls_handshake_failed err=%s", VN_LOG_Q(eb));
        vn_stats_add(&l->stats->tls_handshake_failures, 1);
        return END_TLS_FAILED;
    }
    c->phase = PHASE_READING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    return END_NONE;
}

/* Reads what is available and delivers complete lines; returns why the connection must end. */
static conn_end_t conn_read(vn_stream_loop_t *l, conn_t *c)
{
    if (c->phase == PHASE_HANDSHAKE) {
        conn_end_t e = conn_handshake(l, c);
        if (e != END_NONE || c->phase == PHASE_HANDSHAKE)
            return e;
    }
    vn_proto_t proto = c->tcp ? VN_PROTO_TCP : VN_PROTO_UNIX;
    line_ctx_t lc = {l, 0};
    uint64_t bytes = 0;
    conn_end_t end = END_NONE;
    bool peer_done = false; /* EOF or a read error: the final unterminated line is due */
    for (int rounds = 0; rounds < 64 && end == END_NONE && !peer_done; rounds++) {
        size_t room;
        char *dst = vn_linebuf_space(&c->lb, &room);
        if (!dst) {
            end = end_of(c->lb.state);
            break;
        }
        ssize_t n;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, dst, room > INT32_MAX ? INT32_MAX : (int)room);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    break;
                peer_done = true;
                end = e == SSL_ERROR_ZERO_RETURN ? END_EOF : END_IO_ERROR;
                break;
            }
            n = r;
        } else {
            n = read(c->fd, dst, room);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                break;
            if (n <= 0) {
                peer_done = true;
                end = n == 0 ? END_EOF : END_IO_ERROR;
                break;
            }
        }
        bytes += (uint64_t)n;
        end = end_of(vn_linebuf_commit(&c->lb, (size_t)n, on_line, &lc));
    }
    if (peer_done) {
        /* bufio.Scanner yields an unterminated final line at EOF (and on a read error) */
        conn_end_t e = end_of(vn_linebuf_eof(&c->lb, on_line, &lc));
        if (e == END_BAD_LINE)
            end = e;
    }
    if (bytes)
        c->active_ms = vn_clock_mono_ms();
    if (lc.lines) {
        /* proven (or still) a sender: move to the tail of the activity order */
        list_remove(list_of(l, c), c);
        c->proven = true;
        list_append(&l->active, c);
    }
    if (end == END_TOO_LONG)
        vn_stats_add(&l->stats->packet_too_long, 1);
    else if (end == END_NO_MEMORY)
        vn_stats_add(&l->stats->stream_buffer_budget_drops, 1);
    vn_stats_add(&l->stats->packets[proto], lc.lines);
    vn_stats_add(&l->stats->bytes[proto], bytes);
    return end;
}

/* Handshake deadline and idle timeout; a full walk is ~4096 pointer hops, done once a second. */
static void reap(vn_stream_loop_t *l, uint64_t now)
{
    conn_list_t *lists[2] = {&l->silent, &l->active};
    for (int i = 0; i < 2; i++) {
        conn_t *next;
        for (conn_t *c = lists[i]->head; c; c = next) {
            next = c->next;
            if (c->phase == PHASE_HANDSHAKE && now - c->accepted_ms >= HANDSHAKE_TIMEOUT_MS) {
                vn_stats_add(&l->stats->stream_handshake_timeouts, 1);
                conn_close(l, c);
            } else if (now - c->active_ms >= IDLE_TIMEOUT_MS) {
                conn_close(l, c);
            }
        }
    }
}

static void *stream_main(void *arg)
{
    vn_stream_loop_t *l = arg;
    struct epoll_event evs[64];
    uint64_t last_reap = vn_clock_mono_ms();
    while (!atomic_load(&l->stop)) {
        int timeout = vn_accept_backoff_wait_ms(&l->backoff, vn_clock_mono_ms(), 1000);
        int n = epoll_wait(l->epfd, evs, 64, timeout);
        l->batch = evs;
        l->batch_n = n > 0 ? n : 0;
        for (int i = 0; i < n; i++) {
            uint64_t u = evs[i].data.u64;
            if (evs[i].data.ptr == NULL)
                continue; /* wake-up */
            if (u & TAG_LISTENER) {
                if (!l->backoff.paused) /* a pause in this batch already took the listeners out */
                    accept_all(l, (lsock_t *)(uintptr_t)(u & ~(uint64_t)TAG_LISTENER));
                continue;
            }
            conn_t *c = evs[i].data.ptr;
            if (conn_read(l, c) != END_NONE)
                conn_close(l, c);
        }
        l->batch_n = 0;
        vn_ingest_commit(l->ingest);
        uint64_t now = vn_clock_mono_ms();
        accept_resume_if_due(l, now);
        if (now - last_reap >= 1000) {
            reap(l, now);
            last_reap = now;
        }
    }
    /* Drain what is already buffered in the kernel before closing (shutdown must not lose accepted data). */
    conn_list_t *lists[2] = {&l->silent, &l->active};
    for (int i = 0; i < 2; i++) {
        conn_t *next;
        for (conn_t *c = lists[i]->head; c; c = next) {
            next = c->next; /* conn_read may move c to the active list's tail */
            if (c->phase == PHASE_READING)
                conn_read(l, c);
        }
    }
    vn_ingest_commit(l->ingest);
    return NULL;
}

int vn_stream_loop_start(vn_stream_loop_t *l, vn_ingest_t *ingest)
{
    l->ingest = ingest;
    int rc = pthread_create(&l->thread, NULL, stream_main, l);
    l->started = rc == 0;
    return rc;
}

void vn_stream_loop_stop(vn_stream_loop_t *l)
{
    if (!l || !l->started)
        return;
    atomic_store(&l->stop, true);
    uint64_t one = 1;
    ssize_t w = write(l->wakefd, &one, sizeof one);
    (void)w;
    pthread_join(l->thread, NULL);
    l->started = false;
}

void vn_stream_loop_free(vn_stream_loop_t *l)
{
    if (!l)
        return;
    vn_stream_loop_stop(l);
    while (l->silent.head)
        conn_close(l, l->silent.head);
    while (l->active.head)
        conn_close(l, l->active.head);
    for (size_t i = 0; i < l->nls; i++)
        close(l->ls[i].fd);
    close(l->epfd);
    close(l->wakefd);
    free(l->peers);
    free(l);
}
