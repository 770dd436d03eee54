/*
 * test_discovery.c - proxy/discovery, proxy/disc_http, proxy/dns: the
 * Consul and Kubernetes response parsers, the hosts_file format, list
 * normalisation, DNS names c-ares refuses, DNS response parsing
 * (compression, SRV, hostile pointers, truncation) and real queries over
 * UDP that fall back to TCP, against a server thread in this test. Then vn_discover for
 * DNS with a hosts_file and a fake server end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hostport.h"
#include "proxy/discovery.h"
#include "proxy/dns.h"
#include "proxy/proxy_stats.h"
#include "proxy/router.h"

static void list_is(vn_strlist_t *l, const char *const *want, size_t n)
{
    if (l->n != n) {
        for (size_t i = 0; i < l->n; i++)
            print_message("have %s\n", l->v[i]);
        fail_msg("%zu addresses, want %zu", l->n, n);
    }
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->v[i], want[i]);
}

/* ------------------------------------------------------------- Consul */

static void test_discovery__consul_parse(void **state)
{
    (void)state;
    const char *body =
        "[{\"Node\":{\"Node\":\"a\",\"Address\":\"10.1.10.12\",\"TaggedAddresses\":{\"lan\":\"10.1.10.12\"}},"
        "\"Service\":{\"ID\":\"veneur\",\"Service\":\"veneur\",\"Tags\":null,\"Address\":\"10.9.9.9\",\"Port\":8000},"
        "\"Checks\":[{\"Status\":\"passing\"}]},"
        "{\"Node\":{\"Address\":\"fd00::7\"},\"Service\":{\"Port\":8001}},"
        "{\"Node\":{\"Address\":\"global-3.dc1\"},\"Service\":{\"Port\":8002}}]";
    vn_strlist_t l = {0};
    char err[256];
    assert_int_equal(vn_disc_parse_consul(body, strlen(body), &l, err, sizeof err), VN_OK);
    /* Node.Address, as Go (not Service.Address); IPv6 bracketed */
    const char *want[] = {"10.1.10.12:8000", "[fd00::7]:8001", "global-3.dc1:8002"};
    list_is(&l, want, 3);
    vn_disc_list_free(&l);
    assert_int_equal(vn_disc_parse_consul("[]", 2, &l, err, sizeof err), VN_OK);
    assert_int_equal(l.n, 0);
}

static void test_discovery__consul_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "{}", "[1]", "[{\"Node\":{\"Address\":\"a\"}}]", "[{\"Service\":{\"Port\":1}}]",
        "[{\"Node\":{\"Address\":\"a\"},\"Service\":{\"Port\":0}}]",
        "[{\"Node\":{\"Address\":\"a\"},\"Service\":{\"Port\":65536}}]",
        "[{\"Node\":{\"Address\":\"a\"},\"Service\":{\"Port\":\"80\"}}]",
        "[{\"Node\":{\"Address\":\"a\"},\"Service\":{\"Port\":80.5}}]",
        "[{\"Node\":{\"Address\":\"a b\"},\"Service\":{\"Port\":80}}]",
        "[{\"Node\":{\"Address\":\"a/b\"},\"Service\":{\"Port\":80}}]",
        "[{\"Node\":{\"Address\":\"a\\u0000b\"},\"Service\":{\"Port\":80}}]",
        "[{\"Node\":{\"Address\":\"\"},\"Service\":{\"Port\":80}}]",
        "[{\"Node\":{\"Address\":\"a\"},\"Service\":{\"Port\":80}},]",
        "[{\"Node\":{\"Address\":\"a\"},\"Service\":{\"Port\":80}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vn_strlist_t l = {0};
        char err[256] = "";
        if (vn_disc_parse_consul(bad[i], strlen(bad[i]), &l, err, sizeof err) == VN_OK)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(strncmp(err, "consul: ", 8), 0);
        vn_disc_list_free(&l);
    }
}

/* --------------------------------------------------------- Kubernetes */

static void test_discovery__k8s_parse(void **state)
{
    (void)state;
    const char *body =
        "{\"kind\":\"Endpoints\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"veneur-global\"},\"subsets\":["
        /* named port among several */
        "{\"addresses\":[{\"ip\":\"10.0.0.7\",\"targetRef\":{\"kind\":\"Pod\"}},{\"ip\":\"10.0.0.8\"}],"
        "\"notReadyAddresses\":[{\"ip\":\"10.0.0.9\"}],"
        "\"ports\":[{\"name\":\"http\",\"port\":8127,\"protocol\":\"TCP\"},{\"name\":\"grpc\",\"port\":8128,"
        "\"protocol\":\"TCP\"}]},"
        /* a single unnamed port */
        "{\"addresses\":[{\"ip\":\"fd00::1\"}],\"ports\":[{\"port\":9000}]},"
        /* several ports, none named grpc: skipped */
        "{\"addresses\":[{\"ip\":\"10.0.0.10\"}],\"ports\":[{\"name\":\"a\",\"port\":1},{\"name\":\"b\",\"port\":2}]},"
        /* only not-ready addresses */
        "{\"notReadyAddresses\":[{\"ip\":\"10.0.0.11\"}],\"ports\":[{\"name\":\"grpc\",\"port\":8128}]},"
        /* a UDP grpc port is not ours */
        "{\"addresses\":[{\"ip\":\"10.0.0.12\"}],\"ports\":[{\"name\":\"grpc\",\"port\":8128,\"protocol\":\"UDP\"}]}"
        "]}";
    vn_strlist_t l = {0};
    char err[256];
    assert_int_equal(vn_disc_parse_k8s_endpoints(body, strlen(body), "grpc", &l, err, sizeof err), VN_OK);
    const char *want[] = {"10.0.0.7:8128", "10.0.0.8:8128", "[fd00::1]:9000"};
    list_is(&l, want, 3);
    vn_disc_list_free(&l);
    const char *none = "{\"kind\":\"Endpoints\",\"subsets\":null}";
    assert_int_equal(vn_disc_parse_k8s_endpoints(none, strlen(none), "grpc", &l, err, sizeof err), VN_OK);
    assert_int_equal(l.n, 0);
    const char *no_subsets = "{\"metadata\":{}}";
    assert_int_equal(vn_disc_parse_k8s_endpoints(no_subsets, strlen(no_subsets), "grpc", &l, err, sizeof err),
                     VN_OK);
    static const char *const bad[] = {
        "[]", "{\"kind\":\"Pod\"}", "{\"subsets\":{}}",
        "{\"subsets\":[{\"addresses\":[{\"ip\":\"host-name\"}],\"ports\":[{\"port\":1}]}]}",
        "{\"subsets\":[{\"addresses\":[{}],\"ports\":[{\"port\":1}]}]}", "{\"subsets\":[",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (vn_disc_parse_k8s_endpoints(bad[i], strlen(bad[i]), "grpc", &l, err, sizeof err) == VN_OK)
            fail_msg("accepted %s", bad[i]);
        vn_disc_list_free(&l);
    }
}

/* --------------------------------------------------- hosts_file, lists */

static void test_discovery__hosts_file(void **state)
{
    (void)state;
    const char *text = "# globals for the test\n"
                       "globals.test 127.0.0.1:9001   127.0.0.1:9002 # trailing comment\n"
                       "\n"
                       "  GLOBALS.TEST.\t[::1]:9003\r\n"
                       "other.test 10.0.0.1\n"
                       "#globals.test 1.2.3.4:5\n"
                       "globals.testx 9.9.9.9:1\n"
                       "globals.test";
    vn_strlist_t l = {0};
    assert_true(vn_disc_hosts_lookup(text, strlen(text), "globals.test", &l));
    const char *want[] = {"127.0.0.1:9001", "127.0.0.1:9002", "[::1]:9003"};
    list_is(&l, want, 3);
    vn_disc_list_free(&l);
    assert_true(vn_disc_hosts_lookup(text, strlen(text), "other.test.", &l));
    assert_int_equal(l.n, 1);
    vn_disc_list_free(&l);
    assert_false(vn_disc_hosts_lookup(text, strlen(text), "missing.test", &l));
    assert_int_equal(l.n, 0);
}

static void test_discovery__normalize_and_join(void **state)
{
    (void)state;
    vn_strlist_t l = {0};
    const char *in[] = {"b:1", "a:2", "b:1", "a:10", "a:2"};
    l.v = malloc(5 * sizeof *l.v);
    for (int i = 0; i < 5; i++)
        l.v[l.n++] = strdup(in[i]);
    vn_disc_list_normalize(&l);
    const char *want[] = {"a:10", "a:2", "b:1"};
    list_is(&l, want, 3);
    vn_disc_list_free(&l);
    char b[64];
    vn_hostport_join("10.0.0.1", 8128, b, sizeof b);
    assert_string_equal(b, "10.0.0.1:8128");
    vn_hostport_join("fe80::1", 1, b, sizeof b);
    assert_string_equal(b, "[fe80::1]:1");
}

/* ---------------------------------------------------------------- DNS */

static void test_discovery__dns_bad_names(void **state)
{
    (void)state;
    char err[256], long_label[80], huge[300];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    for (int i = 0; i < 299; i++)
        huge[i] = i % 10 == 9 ? '.' : 'x';
    huge[299] = '\0';
    const char *bad[] = {"", ".", "a..b", long_label, huge};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vn_dns_answer_t a;
        /* refused before any packet: the server address is never used */
        assert_int_equal(vn_dns_query("127.0.0.1:1", bad[i], VN_DNS_A, vn_clock_mono_s() + 1, &a, err, sizeof err),
                         VN_ERR_PARSE);
        assert_null(a.rr);
        assert_non_null(strstr(err, "not a valid DNS name"));
    }
}

/* A response builder for tests: header, the question, then records. */
typedef struct msg {
    uint8_t b[2048];
    size_t n;
} msg_t;

static void put(msg_t *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
static void put16(msg_t *m, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(m, b, 2);
}
static void put_name(msg_t *m, const char *name)
{
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        uint8_t lb = (uint8_t)l;
        put(m, &lb, 1);
        put(m, p, l);
        p += l + (dot ? 1 : 0);
    }
    uint8_t z = 0;
    put(m, &z, 1);
}
static void rr_head(msg_t *m, unsigned type, unsigned rdlen)
{
    put16(m, type);
    put16(m, 1);
    put16(m, 0);
    put16(m, 30);
    put16(m, rdlen);
}

/* Answer to "_grpc._tcp.g.test" SRV (question as qname): two targets, one with glue; names compressed. */
static void srv_response(msg_t *m, uint16_t id, bool tc, const char *qname_text)
{
    m->n = 0;
    put16(m, id);
    put16(m, 0x8180 | (tc ? 0x0200 : 0));
    put16(m, 1);
    put16(m, 2);
    put16(m, 0);
    put16(m, 1);
    size_t qname = m->n;
    put_name(m, qname_text);
    put16(m, 33);
    put16(m, 1);
    /* answer 1: owner = pointer to the question name; target A.g.test written out */
    put16(m, 0xC000 | (unsigned)qname);
    size_t tgt_len = 1 + 1 + 1 + 1 + 1 + 4 + 1; /* a g test */
    rr_head(m, 33, 6 + (unsigned)tgt_len);
    put16(m, 0);
    put16(m, 5);
    put16(m, 9001);
    size_t a_name = m->n;
    put_name(m, "A.g.test");
    /* answer 2: target b + pointer to "g.test" inside a.g.test */
    put16(m, 0xC000 | (unsigned)qname);
    rr_head(m, 33, 6 + 2 + 2);
    put16(m, 1);
    put16(m, 5);
    put16(m, 9002);
    uint8_t b[2] = {1, 'b'};
    put(m, b, 2);
    put16(m, 0xC000 | (unsigned)(a_name + 2));
    /* additional: A for a.g.test (glue, not read) */
    put16(m, 0xC000 | (unsigned)a_name);
    rr_head(m, 1, 4);
    uint8_t ip[4] = {192, 0, 2, 1};
    put(m, ip, 4);
}

/* A or NXDOMAIN answer to question qname (as asked) of qtype. */
static void addr_response(msg_t *m, uint16_t id, const char *qname_text, unsigned qtype, const uint8_t *ip4)
{
    m->n = 0;
    put16(m, id);
    put16(m, 0x8180 | (ip4 ? 0 : 3));
    put16(m, 1);
    put16(m, ip4 ? 1 : 0);
    put16(m, 0);
    put16(m, 0);
    size_t qname = m->n;
    put_name(m, qname_text);
    put16(m, qtype);
    put16(m, 1);
    if (ip4) {
        put16(m, 0xC000 | (unsigned)qname);
        rr_head(m, 1, 4);
        put(m, ip4, 4);
    }
}

static void test_discovery__dns_parse(void **state)
{
    (void)state;
    msg_t m;
    srv_response(&m, 0x1234, false, "_grpc._tcp.G.test");
    vn_dns_answer_t a;
    assert_int_equal(vn_dns_parse(m.b, m.n, VN_DNS_SRV, &a), VN_OK);
    assert_int_equal(a.n, 2); /* the glue A record is not an answer */
    assert_int_equal(a.rr[0].type, VN_DNS_SRV);
    assert_int_equal(a.rr[0].port, 9001);
    assert_string_equal(a.rr[0].target, "a.g.test"); /* lower-cased */
    assert_string_equal(a.rr[1].target, "b.g.test"); /* through the pointer */
    assert_int_equal(a.rr[1].priority, 1);
    assert_int_equal(a.rr[1].weight, 5);
    vn_dns_answer_free(&a);
    assert_int_equal(vn_dns_parse(m.b, m.n, VN_DNS_A, &a), VN_ERR_NOTFOUND);
    assert_null(a.rr);
    /* every truncation: an error or whole records, never a crash (ASan) */
    for (size_t cut = 0; cut < m.n; cut++)
        if (vn_dns_parse(m.b, cut, VN_DNS_SRV, &a) == VN_OK)
            vn_dns_answer_free(&a);
    /* a pointer to itself (a loop) is refused; a forward one is read only within the message */
    msg_t q = m;
    size_t owner_ptr = 12 + 19 + 4; /* first answer's owner */
    q.b[owner_ptr] = 0xC0;
    q.b[owner_ptr + 1] = (uint8_t)owner_ptr;
    assert_int_not_equal(vn_dns_parse(q.b, q.n, VN_DNS_SRV, &a), VN_OK);
    assert_null(a.rr);
    q.b[owner_ptr + 1] = (uint8_t)(owner_ptr + 4);
    if (vn_dns_parse(q.b, q.n, VN_DNS_SRV, &a) == VN_OK)
        vn_dns_answer_free(&a);
    q.b[owner_ptr + 1] = 0xff; /* past the end */
    q.b[owner_ptr] = 0xC7;
    assert_int_not_equal(vn_dns_parse(q.b, q.n, VN_DNS_SRV, &a), VN_OK);
    /* A answers */
    static const uint8_t ip[4] = {10, 1, 2, 3};
    addr_response(&m, 7, "x.test", 1, ip);
    assert_int_equal(vn_dns_parse(m.b, m.n, VN_DNS_A, &a), VN_OK);
    assert_int_equal(a.n, 1);
    char txt[64];
    vn_dns_format_addr(&a.rr[0], txt, sizeof txt);
    assert_string_equal(txt, "10.1.2.3");
    vn_dns_answer_free(&a);
    assert_int_equal(vn_dns_parse(m.b, m.n, VN_DNS_AAAA, &a), VN_ERR_NOTFOUND);
    assert_int_equal(vn_dns_parse(m.b, 70000, VN_DNS_A, &a), VN_ERR_PROTO);
}

/* A server thread on one port for UDP and TCP: SRV for _grpc._tcp.g.test (truncated over UDP, whole over
 * TCP), A 127.0.0.1 for a.g.test, NXDOMAIN for anything else; until stop. */
typedef struct fake {
    int udp, tcp;
    int port;
    _Atomic int udp_queries, tcp_queries, a_queries; /* read by the test while the thread runs */
    _Atomic bool stop;
} fake_t;

/* The question's name (as sent) and type; false if the query is malformed. */
static bool question(const uint8_t *q, size_t n, char *name, size_t cap, unsigned *qtype)
{
    size_t pos = 12, o = 0;
    while (pos < n && q[pos]) {
        size_t l = q[pos];
        if (pos + 1 + l > n || o + l + 1 >= cap)
            return false;
        if (o)
            name[o++] = '.';
        memcpy(name + o, q + pos + 1, l);
        o += l;
        pos += 1 + l;
    }
    name[o] = '\0';
    if (pos + 3 > n)
        return false;
    *qtype = (unsigned)((q[pos + 1] << 8) | q[pos + 2]);
    return true;
}

static void answer(fake_t *f, const uint8_t *q, size_t n, bool tcp, msg_t *m)
{
    char name[256];
    unsigned qt = 0;
    m->n = 0;
    if (n < 12 || !question(q, n, name, sizeof name, &qt))
        return;
    uint16_t id = (uint16_t)((q[0] << 8) | q[1]);
    static const uint8_t lo[4] = {127, 0, 0, 1};
    if (qt == 33 && strcasecmp(name, "_grpc._tcp.g.test") == 0) {
        srv_response(m, id, !tcp, name);
    } else if (qt == 1 && strcasecmp(name, "a.g.test") == 0) {
        f->a_queries++;
        addr_response(m, id, name, qt, lo);
    } else {
        addr_response(m, id, name, qt, NULL);
    }
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    uint8_t buf[2048];
    msg_t m;
    while (!f->stop) {
        struct pollfd p[2] = {{.fd = f->udp, .events = POLLIN}, {.fd = f->tcp, .events = POLLIN}};
        if (poll(p, 2, 50) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(f->udp, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n > 0) {
                f->udp_queries++;
                answer(f, buf, (size_t)n, false, &m);
                if (m.n)
                    sendto(f->udp, m.b, m.n, 0, (struct sockaddr *)&from, fl);
            }
        }
        if (p[1].revents & POLLIN) {
            int c = accept(f->tcp, NULL, NULL);
            if (c < 0)
                continue;
            struct timeval tv = {.tv_sec = 2};
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            uint8_t lb[2];
            while (recv(c, lb, 2, MSG_WAITALL) == 2) { /* c-ares may reuse the connection */
                size_t ql = (size_t)((lb[0] << 8) | lb[1]);
                if (ql > sizeof buf || recv(c, buf, ql, MSG_WAITALL) != (ssize_t)ql)
                    break;
                f->tcp_queries++;
                answer(f, buf, ql, true, &m);
                uint8_t out[2050] = {(uint8_t)(m.n >> 8), (uint8_t)m.n};
                memcpy(out + 2, m.b, m.n);
                send(c, out, m.n + 2, MSG_NOSIGNAL);
            }
            close(c);
        }
    }
    return NULL;
}

static void fake_start(fake_t *f, pthread_t *t)
{
    memset(f, 0, sizeof *f);
    /* The fake answers on one port for both UDP and TCP; an ephemeral UDP port may already be taken
     * for TCP by another process, so try a few. */
    bool bound = false;
    for (int attempt = 0; attempt < 50 && !bound; attempt++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        f->udp = socket(AF_INET, SOCK_DGRAM, 0);
        assert_int_equal(bind(f->udp, (struct sockaddr *)&a, sizeof a), 0);
        socklen_t l = sizeof a;
        getsockname(f->udp, (struct sockaddr *)&a, &l);
        f->port = ntohs(a.sin_port);
        f->tcp = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(f->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        bound = bind(f->tcp, (struct sockaddr *)&a, sizeof a) == 0;
        if (!bound) {
            close(f->udp);
            close(f->tcp);
        }
    }
    assert_true(bound);
    listen(f->tcp, 4);
    pthread_create(t, NULL, fake_main, f);
}

static void fake_stop(fake_t *f, pthread_t t)
{
    f->stop = true;
    pthread_join(t, NULL);
    close(f->udp);
    close(f->tcp);
}

static void test_discovery__dns_udp_then_tcp(void **state)
{
    (void)state;
    fake_t f;
    pthread_t t;
    fake_start(&f, &t);
    char server[64], err[256];
    snprintf(server, sizeof server, "127.0.0.1:%d", f.port);
    vn_dns_answer_t a;
    assert_int_equal(vn_dns_query(server, "_grpc._tcp.g.test", VN_DNS_SRV, vn_clock_mono_s() + 5, &a, err, sizeof err),
                     VN_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.rr[0].target, "a.g.test");
    vn_dns_answer_free(&a);
    assert_int_equal(vn_dns_query(server, "a.g.test", VN_DNS_A, vn_clock_mono_s() + 5, &a, err, sizeof err), VN_OK);
    assert_int_equal(a.n, 1);
    char ip[64];
    vn_dns_format_addr(&a.rr[0], ip, sizeof ip);
    assert_string_equal(ip, "127.0.0.1");
    vn_dns_answer_free(&a);
    assert_int_equal(vn_dns_query(server, "nope.test", VN_DNS_A, vn_clock_mono_s() + 5, &a, err, sizeof err),
                     VN_ERR_NOTFOUND);
    assert_non_null(strstr(err, "NXDOMAIN"));
    fake_stop(&f, t);
    assert_int_equal(f.udp_queries, 3);
    assert_int_equal(f.tcp_queries, 1); /* only the truncated answer was asked again */
}

static void test_discovery__dns_timeout(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    char server[64], err[256];
    snprintf(server, sizeof server, "127.0.0.1:%d", ntohs(a.sin_port));
    vn_dns_answer_t ans;
    double t0 = vn_clock_mono_s();
    assert_int_equal(vn_dns_query(server, "x.test", VN_DNS_A, t0 + 0.3, &ans, err, sizeof err), VN_ERR_TIMEOUT);
    double took = vn_clock_mono_s() - t0;
    assert_true(took >= 0.29 && took < 2);
    assert_non_null(strstr(err, "no answer"));
    close(s);
    assert_int_equal(vn_dns_query("localhost:53", "x.test", VN_DNS_A, t0 + 1, &ans, err, sizeof err), VN_ERR_IO);
    assert_non_null(strstr(err, "numeric"));
}

/* vn_discover(dns): SRV through the fake (truncated UDP, then TCP). Targets are resolved one by one:
 * b.g.test from the hosts_file, a.g.test by an A question (its glue is not read). A name the hosts_file
 * lists never reaches DNS for itself. */
static void test_discovery__discover_dns(void **state)
{
    (void)state;
    fake_t f;
    pthread_t t;
    fake_start(&f, &t);
    char hosts[] = "/tmp/vn-hosts-XXXXXX";
    int fd = mkstemp(hosts);
    const char *text = "b.g.test 10.0.0.2\nstatic.test 10.0.0.5:1 a.g.test:2\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[256], dns[64];
    snprintf(dns, sizeof dns, "127.0.0.1:%d", f.port);
    vn_proxy_config_t cfg = {.disc_kind = VN_DISC_DNS,
                             .disc_timeout_s = 5,
                             .forward_service = "_grpc._tcp.g.test",
                             .dns_server = dns,
                             .hosts_file = hosts};
    vn_strlist_t l;
    assert_int_equal(vn_discover(&cfg, &l, err, sizeof err), VN_OK);
    const char *want[] = {"10.0.0.2:9002", "127.0.0.1:9001"};
    list_is(&l, want, 2);
    vn_disc_list_free(&l);
    assert_int_equal(f.a_queries, 1);
    assert_int_equal(f.tcp_queries, 1);

    cfg.forward_service = "STATIC.test";
    assert_int_equal(vn_discover(&cfg, &l, err, sizeof err), VN_OK);
    const char *want2[] = {"10.0.0.5:1", "127.0.0.1:2"};
    list_is(&l, want2, 2);
    vn_disc_list_free(&l);
    assert_int_equal(f.a_queries, 2);
    /* a name nobody knows: NXDOMAIN is an error (the destinations are kept) */
    cfg.forward_service = "_grpc._tcp.none.test";
    assert_int_equal(vn_discover(&cfg, &l, err, sizeof err), VN_ERR_NOTFOUND);
    assert_int_equal(l.n, 0);
    fake_stop(&f, t);
    /* an IP without a port needs dns_port */
    FILE *hf = fopen(hosts, "w");
    fputs("ips.test 10.0.0.9\n", hf);
    fclose(hf);
    cfg.forward_service = "ips.test";
    assert_int_equal(vn_discover(&cfg, &l, err, sizeof err), VN_ERR_PARSE);
    assert_non_null(strstr(err, "dns_port"));
    cfg.dns_port = 8128;
    assert_int_equal(vn_discover(&cfg, &l, err, sizeof err), VN_OK);
    const char *want3[] = {"10.0.0.9:8128"};
    list_is(&l, want3, 1);
    vn_disc_list_free(&l);
    unlink(hosts);
    assert_int_equal(vn_discover(&cfg, &l, err, sizeof err), VN_ERR_IO);
    assert_non_null(strstr(err, "hosts_file"));
    cfg.disc_kind = VN_DISC_NONE;
    assert_int_equal(vn_discover(&cfg, &l, err, sizeof err), VN_ERR_CONFIG);
}

/* A UDP server that answers one SRV query with a hostile target: a label carrying a quote, a
 * newline, a backslash and a logfmt field, then a label "." (so the name is not valid to query). */
typedef struct evil {
    int udp, port;
} evil_t;

static void *evil_main(void *arg)
{
    evil_t *f = arg;
    uint8_t buf[2048];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(f->udp, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n < 12)
        return NULL;
    msg_t m = {.n = 0};
    put(&m, buf, 2); /* id */
    put16(&m, 0x8180);
    put16(&m, 1);
    put16(&m, 1);
    put16(&m, 0);
    put16(&m, 0);
    size_t qname = m.n;
    put_name(&m, "_grpc._tcp.g.test");
    put16(&m, 33);
    put16(&m, 1);
    static const uint8_t target[] = "\x0e" "ev\"il\nlevel=x\\" "\x01" "." "\x04" "test";
    put16(&m, 0xC000 | (unsigned)qname);
    rr_head(&m, 33, 6 + (unsigned)sizeof target); /* sizeof counts the root label's 0 */
    put16(&m, 0);
    put16(&m, 5);
    put16(&m, 9001);
    put(&m, target, sizeof target);
    sendto(f->udp, m.b, m.n, 0, (struct sockaddr *)&from, fl);
    return NULL;
}

/* The discovery thread logs a failure caused by that answer as one line, the name escaped. */
static void test_discovery__hostile_answer_logged_escaped(void **state)
{
    (void)state;
    evil_t f = {0};
    f.udp = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f.udp, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(f.udp, (struct sockaddr *)&a, &l);
    f.port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, evil_main, &f);
    char dns[64];
    snprintf(dns, sizeof dns, "127.0.0.1:%d", f.port);
    vn_proxy_config_t cfg = {.disc_kind = VN_DISC_DNS,
                             .disc_timeout_s = 5,
                             .discovery_interval_s = 3600,
                             .forward_service = "_grpc._tcp.g.test",
                             .dns_server = dns,
                             .hosts_file = ""};
    vn_proxy_stats_t st;
    memset(&st, 0, sizeof st);
    vn_router_opts_t ro = {.dial_timeout_s = 1, .queue_max_msgs = 10, .backoff_min_s = 0.1, .backoff_max_s = 1,
                           .ping_interval_s = 1, .ping_timeout_s = 1, .stats = &st};
    vn_router_t *r = vn_router_new(&ro);

    fflush(stderr);
    FILE *cap = tmpfile();
    assert_non_null(cap);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(cap), STDERR_FILENO);
    vn_discovery_t *d = vn_discovery_start(&cfg, r, &st);
    char out[8192] = "";
    for (int i = 0; i < 500 && !strstr(out, "event=proxy_discovery_failed"); i++) {
        usleep(10 * 1000);
        ssize_t k = pread(fileno(cap), out, sizeof out - 1, 0);
        out[k > 0 ? k : 0] = '\0';
    }
    vn_discovery_stop(d);
    dup2(saved, STDERR_FILENO);
    close(saved);
    fclose(cap);
    pthread_join(t, NULL);
    close(f.udp);
    vn_router_free(r);

    const char *line = strstr(out, "event=proxy_discovery_failed");
    if (!line)
        fail_msg("no discovery failure logged: %s", out);
    const char *eol = strchr(line, '\n');
    assert_non_null(eol);
    assert_null(strstr(eol + 1, "level=x")); /* nothing of the name spilled onto a next line */
    char one[2048];
    snprintf(one, sizeof one, "%.*s", (int)(eol - line), line);
    /* the whole reason is one quoted value (c-ares hands the target over in presentation form:
     * its own escapes, then ours for the log); nothing of it is unquoted */
    const char *reason = strstr(one, "reason=\"dns: SRV _grpc._tcp.g.test: target \\\"ev");
    if (!reason)
        fail_msg("reason not quoted as one value: %s", one);
    assert_non_null(strstr(reason, "is not a valid DNS name\""));
    assert_null(strstr(one, " level=x"));
    assert_int_equal(atomic_load(&st.discovery_fail), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery__consul_parse),
        cmocka_unit_test(test_discovery__consul_refusals),
        cmocka_unit_test(test_discovery__k8s_parse),
        cmocka_unit_test(test_discovery__hosts_file),
        cmocka_unit_test(test_discovery__normalize_and_join),
        cmocka_unit_test(test_discovery__dns_bad_names),
        cmocka_unit_test(test_discovery__dns_parse),
        cmocka_unit_test(test_discovery__dns_udp_then_tcp),
        cmocka_unit_test(test_discovery__dns_timeout),
        cmocka_unit_test(test_discovery__discover_dns),
        cmocka_unit_test(test_discovery__hostile_answer_logged_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
