/* Unit tests for listen/stream: the epoll loop over real loopback and unix sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "aggregate/worker.h"
#include "listen/ingest.h"
#include "listen/stream.h"

typedef struct fx {
    vn_stats_t stats;
    vn_worker_t *w[1];
    vn_event_store_t ev;
    vn_parser_t parser;
    vn_ingest_t *in;
    vn_stream_loop_t *loop;
    int port;
    char upath[108];
} fx_t;

static int listen_tcp(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 128), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

static int listen_unix(char *path)
{
    snprintf(path, 108, "/tmp/vn-test-stream-%d.sock", (int)getpid());
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 128), 0);
    return fd;
}

static int setup(void **state)
{
    static fx_t f;
    memset(&f, 0, sizeof f);
    vn_stats_init(&f.stats);
    f.w[0] = vn_worker_start(0, 1, 0, &f.stats);
    vn_event_store_init(&f.ev, 10, &f.stats);
    vn_ingest_shared_t sh = {.parser = &f.parser, .workers = f.w, .nworkers = 1, .events = &f.ev, .stats = &f.stats};
    f.in = vn_ingest_new(&sh, 0);
    f.loop = vn_stream_loop_new(NULL, &f.stats);
    vn_stream_loop_add_listener(f.loop, listen_tcp(&f.port), true);
    vn_stream_loop_add_listener(f.loop, listen_unix(f.upath), false);
    assert_int_equal(vn_stream_loop_start(f.loop, f.in), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    vn_stream_loop_free(f->loop);
    vn_ingest_free(f->in);
    vn_worker_free(f->w[0]);
    vn_event_store_destroy(&f->ev);
    unlink(f->upath);
    return 0;
}

static int connect_tcp(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Sends in pieces of `chunk` bytes, half-closes, and waits for the loop to close its side: by
 * then every line was ingested (or the connection was dropped). */
static void send_all(int fd, const char *data, size_t n, size_t chunk)
{
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (size_t at = 0; at < n;) {
        size_t k = chunk && chunk < n - at ? chunk : n - at;
        ssize_t w = send(fd, data + at, k, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* closed by the loop (bad line, too long) */
        at += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    char b[256];
    while (recv(fd, b, sizeof b, 0) > 0)
        ;
    close(fd);
}

static vn_series_map_t *swap(fx_t *f)
{
    vn_stream_loop_stop(f->loop); /* drains and commits */
    return vn_worker_swap(f->w[0]);
}

static vn_series_t *find(vn_series_map_t *m, const char *key, vn_mtype_t t)
{
    for (size_t i = 0; i < m->cap; i++) {
        vn_series_t *s = m->slots[i];
        if (s && s->type == t && strcmp(s->key, key) == 0)
            return s;
    }
    return NULL;
}

/* Issue 14: "hd.good:1|c\nbadline\n" flushed hd.good = 2, and "bad\ny.name:1|c" made a series "bad"
 * tagged "y.name\n": the unconsumed buffer was re-ingested as one line after a bad line. */
static void test_stream__bad_line_no_double_count(void **state)
{
    fx_t *f = *state;
    send_all(connect_tcp(f->port), "hd.good:1|c\nbadline\nhd.good:5|c\n", 32, 0);
    send_all(connect_tcp(f->port), "bad\ny.name:1|c", 14, 0);
    send_all(connect_unix(f->upath), "hd.good:10|c\nbad\nhd.good:100|c", 30, 0);
    vn_series_map_t *m = swap(f);
    vn_series_t *s = find(m, "hd.good\n", VN_MT_COUNTER);
    assert_non_null(s);
    assert_true(s->u.counter == 11);
    assert_int_equal(m->count, 1);
    vn_series_map_free(m);
    assert_int_equal(vn_stats_get(&f->stats.parse_errors[VN_PARSE_ERR_NO_PIPE]), 3);
}

/* Byte-at-a-time, CRLF, and a final line at EOF, on TCP and unix streams. */
static void test_stream__byte_at_a_time(void **state)
{
    fx_t *f = *state;
    static const char in[] = "b.c:1|c\r\nb.c:2|c|#a:b\nb.g:5|g\nb.c:4|c";
    send_all(connect_tcp(f->port), in, sizeof in - 1, 1);
    send_all(connect_unix(f->upath), in, sizeof in - 1, 3);
    vn_series_map_t *m = swap(f);
    vn_series_t *c = find(m, "b.c\n", VN_MT_COUNTER);
    vn_series_t *t = find(m, "b.c\na:b", VN_MT_COUNTER);
    vn_series_t *g = find(m, "b.g\n", VN_MT_GAUGE);
    assert_non_null(c);
    assert_non_null(t);
    assert_non_null(g);
    assert_true(c->u.counter == 10);
    assert_true(t->u.counter == 4);
    assert_true(g->u.gauge == 5);
    vn_series_map_free(m);
}

/* A key past one batch record and a line past 64 KiB: counted drops, the connection closes, the
 * good line before each is kept once. */
static void test_stream__long_lines(void **state)
{
    fx_t *f = *state;
    size_t n = 70000;
    char *buf = malloc(n + 64);
    size_t p = (size_t)sprintf(buf, "l.ok:1|c\n");
    memset(buf + p, 'k', 65505);
    p += 65505;
    p += (size_t)sprintf(buf + p, ":1|c\nl.lost:1|c\n");
    send_all(connect_tcp(f->port), buf, p, 4096);
    p = (size_t)sprintf(buf, "l.ok:1|c\nt:1|c|#");
    memset(buf + p, 'a', 65510);
    p += 65510;
    buf[p++] = '\n';
    send_all(connect_unix(f->upath), buf, p, 0);
    p = (size_t)sprintf(buf, "l.ok:1|c\n");
    memset(buf + p, 'z', n - p);
    send_all(connect_tcp(f->port), buf, n, 0);
    free(buf);
    vn_series_map_t *m = swap(f);
    vn_series_t *s = find(m, "l.ok\n", VN_MT_COUNTER);
    assert_non_null(s);
    assert_true(s->u.counter == 3);
    assert_int_equal(m->count, 1);
    vn_series_map_free(m);
    assert_int_equal(vn_stats_get(&f->stats.parse_errors[VN_PARSE_ERR_KEY_TOO_LONG]), 2);
    assert_int_equal(vn_stats_get(&f->stats.packet_too_long), 1);
}

/* Many silent connections held while a sender is served; closing them all is clean. */
static void test_stream__silent_connections(void **state)
{
    fx_t *f = *state;
    int fds[200];
    for (int i = 0; i < 200; i++)
        fds[i] = connect_tcp(f->port);
    send_all(connect_tcp(f->port), "s.new:7|c\n", 10, 0);
    for (int i = 0; i < 200; i++)
        close(fds[i]);
    vn_series_map_t *m = swap(f);
    vn_series_t *s = find(m, "s.new\n", VN_MT_COUNTER);
    assert_non_null(s);
    assert_true(s->u.counter == 7);
    vn_series_map_free(m);
    assert_int_equal(vn_stats_get(&f->stats.stream_evictions), 0); /* far below the caps */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream__bad_line_no_double_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream__byte_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream__long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream__silent_connections, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
