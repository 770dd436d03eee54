/* Unit tests for the reader path: lines -> records -> worker maps (threads included). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "aggregate/batch.h"
#include "aggregate/worker.h"
#include "core/metric.h"
#include "core/spsc.h"
#include "listen/ingest.h"

typedef struct fx {
    vn_stats_t stats;
    vn_worker_t *w[3];
    vn_event_store_t ev;
    vn_parser_t parser;
    vn_ingest_t *in;
} fx_t;

static int setup(void **state)
{
    static fx_t f;
    memset(&f, 0, sizeof f);
    vn_stats_init(&f.stats);
    for (int i = 0; i < 3; i++)
        f.w[i] = vn_worker_start(i, 1, 0, &f.stats);
    vn_event_store_init(&f.ev, 10, &f.stats);
    vn_ingest_shared_t sh = {.parser = &f.parser, .workers = f.w, .nworkers = 3, .events = &f.ev, .stats = &f.stats};
    f.in = vn_ingest_new(&sh, 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    vn_ingest_free(f->in);
    for (int i = 0; i < 3; i++)
        vn_worker_free(f->w[i]);
    vn_event_store_destroy(&f->ev);
    return 0;
}

static vn_series_t *lookup(vn_series_map_t **maps, const char *key, vn_mtype_t t)
{
    for (int w = 0; w < 3; w++)
        for (size_t i = 0; i < maps[w]->cap; i++) {
            vn_series_t *s = maps[w]->slots[i];
            if (s && s->type == t && strcmp(s->key, key) == 0)
                return s;
        }
    return NULL;
}

static void test_ingest__packet_to_maps(void **state)
{
    fx_t *f = *state;
    const char pkt[] = "req:1|c|#b:2,a:1\nreq:2|c|#a:1,b:2\nbad\nreq:1|c|@0.5|#a:1,b:2\n"
                       "g:1|g\ng:9|g\nlat:1:2:3|ms\n_sc|svc|2|h:host1|m:down\n_e{2,2}:ti|te\nu:a|s\nu:b|s\n";
    for (int rep = 0; rep < 100; rep++)
        vn_ingest_packet(f->in, pkt, sizeof pkt - 1);
    vn_ingest_commit(f->in);
    vn_series_map_t *maps[3];
    for (int w = 0; w < 3; w++)
        maps[w] = vn_worker_swap(f->w[w]);
    vn_series_t *c = lookup(maps, "req\na:1,b:2", VN_MT_COUNTER);
    assert_non_null(c);
    assert_true(c->u.counter == 500.0); /* (1 + 2 + 1/0.5) * 100 */
    vn_series_t *g = lookup(maps, "g\n", VN_MT_GAUGE);
    assert_non_null(g);
    assert_true(g->u.gauge == 9);
    vn_series_t *t = lookup(maps, "lat\n", VN_MT_TIMER);
    assert_non_null(t);
    assert_true(t->u.histo->local_weight == 300);
    vn_series_t *s = lookup(maps, "svc\n", VN_MT_STATUS);
    assert_non_null(s);
    assert_true(s->u.status->value == 2);
    assert_string_equal(s->u.status->hostname, "host1");
    assert_string_equal(s->u.status->message, "down");
    vn_series_t *u = lookup(maps, "u\n", VN_MT_SET);
    assert_non_null(u);
    assert_int_equal(vn_hll_estimate(u->u.set), 2);
    assert_int_equal(vn_stats_get(&f->stats.lines), 1100);
    assert_int_equal(vn_stats_get(&f->stats.parse_errors[VN_PARSE_ERR_NO_PIPE]), 100);
    assert_int_equal(vn_stats_get(&f->stats.events_received), 100);
    assert_int_equal(vn_stats_get(&f->stats.events_dropped), 90); /* cap 10 */
    for (int w = 0; w < 3; w++)
        vn_series_map_free(maps[w]);
    /* After a swap the next interval starts empty. */
    for (int w = 0; w < 3; w++) {
        vn_series_map_t *m = vn_worker_swap(f->w[w]);
        assert_int_equal(m->count, 0);
        vn_series_map_free(m);
    }
}

/* More distinct series than line-cache slots between two commits: evictions must not lose or
 * double-count pending values (regression: the dirty list overflowed). */
static void test_ingest__line_cache_eviction(void **state)
{
    fx_t *f = *state;
    char line[64];
    for (int rep = 0; rep < 3; rep++)
        for (int i = 0; i < 20000; i++) {
            int n = snprintf(line, sizeof line, "evict.c%d:%d|c|#k:v", i, i % 7 + 1);
            vn_ingest_line(f->in, line, (size_t)n);
        }
    vn_ingest_commit(f->in);
    vn_series_map_t *maps[3];
    size_t total = 0;
    double sum = 0;
    for (int w = 0; w < 3; w++) {
        maps[w] = vn_worker_swap(f->w[w]);
        total += maps[w]->count;
        for (size_t i = 0; i < maps[w]->cap; i++)
            if (maps[w]->slots[i])
                sum += maps[w]->slots[i]->u.counter;
    }
    assert_int_equal(total, 20000);
    double want = 0;
    for (int i = 0; i < 20000; i++)
        want += 3 * (i % 7 + 1);
    assert_true(sum == want);
    vn_series_t *one = lookup(maps, "evict.c12345\nk:v", VN_MT_COUNTER);
    assert_non_null(one);
    assert_true(one->u.counter == 3 * (12345 % 7 + 1));
    for (int w = 0; w < 3; w++)
        vn_series_map_free(maps[w]);
}

/* Every map entry, counted; returns the sum of counter values (checks keys are sane). */
static size_t swap_all(fx_t *f, vn_series_map_t **maps)
{
    size_t n = 0;
    for (int w = 0; w < 3; w++) {
        maps[w] = vn_worker_swap(f->w[w]);
        n += maps[w]->count;
        for (size_t i = 0; i < maps[w]->cap; i++) {
            vn_series_t *s = maps[w]->slots[i];
            if (!s)
                continue;
            /* a key is name '\n' tags: exactly one '\n', no NUL inside */
            assert_int_equal(strlen(s->key), s->key_len);
            const char *nl = memchr(s->key, '\n', s->key_len);
            assert_non_null(nl);
            assert_null(memchr(nl + 1, '\n', s->key_len - (size_t)(nl + 1 - s->key)));
        }
    }
    return n;
}

static void free_all(vn_series_map_t **maps)
{
    for (int w = 0; w < 3; w++)
        vn_series_map_free(maps[w]);
}

/* Records that cannot fit one 64 KiB batch are counted drops, never writes past it (the ASan
 * heap-buffer-overflow of issue 14): long names, short names with a long tag, long set members,
 * long service-check messages, at and around the boundary. */
static void test_ingest__long_keys_bounded(void **state)
{
    fx_t *f = *state;
    const size_t big = 70000;
    char *line = malloc(big + 64);
    /* a key is name '\n' (no tags): the record is 32 + key bytes rounded to 8, at most 65536 */
    const size_t max_name = VN_REC_MAX_KEY_IN_BATCH - 1; /* 65503 */
    size_t lens[] = {max_name - 8, max_name, max_name + 1, 65505, 65535, 65536, 66000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(line, 'n', lens[i]);
        line[0] = (char)('a' + i); /* distinct series */
        memcpy(line + lens[i], ":1|c", 4);
        vn_ingest_line(f->in, line, lens[i] + 4);
    }
    /* a short name with a long tag, and a long tag list */
    memcpy(line, "t:1|c|#", 7);
    memset(line + 7, 'a', 65520);
    vn_ingest_line(f->in, line, 7 + 65520);
    /* a set whose member pushes key + aux over a batch */
    memcpy(line, "s:", 2);
    memset(line + 2, 'm', 65510);
    memcpy(line + 2 + 65510, "|s", 2);
    vn_ingest_line(f->in, line, 2 + 65510 + 2);
    /* a service check whose message pushes key + aux over */
    memcpy(line, "_sc|svc|1|m:", 12);
    memset(line + 12, 'x', 65530);
    vn_ingest_line(f->in, line, 12 + 65530);
    /* good lines still flow after the drops, in the same batches */
    for (int i = 0; i < 10; i++)
        vn_ingest_line(f->in, "after:1|c", 9);
    vn_ingest_commit(f->in);
    vn_series_map_t *maps[3];
    size_t n = swap_all(f, maps);
    assert_int_equal(n, 3); /* the two names that fit, and "after" */
    vn_series_t *a = lookup(maps, "after\n", VN_MT_COUNTER);
    assert_non_null(a);
    assert_true(a->u.counter == 10);
    free_all(maps);
    assert_int_equal(vn_stats_get(&f->stats.parse_errors[VN_PARSE_ERR_KEY_TOO_LONG]), 8);
    free(line);
}

/* NUL never reaches a series: "n\0a", "n\0b" and "n" must not become three series that sinks
 * print as one name. The set check also runs on line-cache hits (the parser is skipped there). */
static void test_ingest__nul_rejected(void **state)
{
    fx_t *f = *state;
    vn_ingest_packet(f->in, "n\0a:1|c\nn\0b:1|c\nn:1|c\n", 22);
    vn_ingest_packet(f->in, "u:a|s\nu:a|s\nu:b\0c|s\nu:d|s\n", 26);
    vn_ingest_packet(f->in, "t:1|c|#k:v\0\n_sc|c\0k|0\n_e{2,2}:a\0|bc\n", 36);
    vn_ingest_line(f->in, "bad\ny.name:1|c", 14); /* a caller handing a '\n' inside one line */
    vn_ingest_commit(f->in);
    vn_series_map_t *maps[3];
    size_t n = swap_all(f, maps);
    assert_int_equal(n, 2);
    vn_series_t *c = lookup(maps, "n\n", VN_MT_COUNTER);
    assert_non_null(c);
    assert_true(c->u.counter == 1);
    vn_series_t *u = lookup(maps, "u\n", VN_MT_SET);
    assert_non_null(u);
    assert_int_equal(vn_hll_estimate(u->u.set), 2);
    free_all(maps);
    assert_int_equal(vn_stats_get(&f->stats.parse_errors[VN_PARSE_ERR_NUL_BYTE]), 6);
    assert_int_equal(vn_stats_get(&f->stats.parse_errors[VN_PARSE_ERR_NEWLINE]), 1);
    assert_int_equal(vn_stats_get(&f->stats.events_received), 0);
}

static void test_ingest__spsc_ring_bounds(void **state)
{
    (void)state;
    vn_spsc_t q;
    vn_spsc_init(&q, 4);
    int items[5];
    for (int i = 0; i < 4; i++)
        assert_true(vn_spsc_push(&q, &items[i]));
    assert_false(vn_spsc_push(&q, &items[4]));
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(vn_spsc_pop(&q), &items[i]);
    assert_null(vn_spsc_pop(&q));
    vn_spsc_destroy(&q);
}

/* vn_ingest_packet locates a group of lines before it applies them: across group boundaries
 * (more lines than one group), with events, service checks, empty and bad lines mixed in, the
 * lines still take effect in order (the last gauge wins) and every value form parses as the
 * line-at-a-time path does (plain integers take a fast path; the rest the full parser). */
static void test_ingest__packet_groups_in_order(void **state)
{
    fx_t *f = *state;
    static const char *vals[] = {"1", "007", "1.5", "2e1", "-3", "123456789012345", "1234567890123456", "+4"};
    static const double nums[] = {1, 7, 1.5, 20, -3, 123456789012345.0, 1234567890123456.0, 4};
    static char pkt[32768];
    size_t n = 0, lines = 0;
    double want = 0;
    for (int i = 0; i < 150; i++) {
        size_t v = (size_t)i % 8;
        n += (size_t)snprintf(pkt + n, sizeof pkt - n, "gz:%d|g\nlong.counter.name.with.tags:%s|c|#env:prod,host:a\n", i,
                              vals[v]);
        want += nums[v];
        lines += 2;
        if (i % 10 == 0) {
            n += (size_t)snprintf(pkt + n, sizeof pkt - n, "_sc|chk|1\n\nbad line\nt:%d|ms\n", i);
            lines += 3; /* the empty line is not one */
        }
    }
    assert_true(n < sizeof pkt);
    vn_ingest_packet(f->in, pkt, n);
    vn_ingest_commit(f->in);
    assert_int_equal(vn_stats_get(&f->stats.lines), lines);
    assert_int_equal(vn_stats_get(&f->stats.service_checks), 15);
    vn_series_map_t *maps[3];
    for (int w = 0; w < 3; w++)
        maps[w] = vn_worker_swap(f->w[w]);
    vn_series_t *g = lookup(maps, "gz\n", VN_MT_GAUGE);
    assert_non_null(g);
    assert_true(g->u.gauge == 149);
    vn_series_t *c = lookup(maps, "long.counter.name.with.tags\nenv:prod,host:a", VN_MT_COUNTER);
    assert_non_null(c);
    assert_true(c->u.counter == want);
    vn_series_t *t = lookup(maps, "t\n", VN_MT_TIMER);
    assert_non_null(t);
    assert_true(t->u.histo->local_weight == 15);
    assert_non_null(lookup(maps, "chk\n", VN_MT_STATUS));
    for (int w = 0; w < 3; w++)
        vn_series_map_free(maps[w]);
}

/* tpl with each "%s" replaced by the one-letter prefix c; returns the length written. */
static size_t render(char *dst, const char *tpl, char c)
{
    size_t n = 0;
    for (const char *t = tpl; *t; t++) {
        if (t[0] == '%' && t[1] == 's') {
            dst[n++] = c;
            t++;
        } else {
            dst[n++] = *t;
        }
    }
    return n;
}

/* The packet path locates lines from bitmasks (SSE2, packets up to 8 KiB) where vn_ingest_line
 * scans each line: the same awkward lines, as one packet (prefix "p") and line by line (prefix
 * "q"), give the same counts and the same series values. Lines straddle 64-byte words and the
 * 32-line groups; the packet ends without a newline. */
static void test_ingest__packet_scan_matches_lines(void **state)
{
    fx_t *f = *state;
    static const char *tpl[] = {
        "%s.a:1|c", "%s.nocolon|c", "%s.nopipe:1", "%s.pipefirst|c:1", "%s.multi:1:2:3|c", "", "%s.g:5|g|#t:1,u:2",
        "%s.ms:7|ms|@0.5", "%s.bad:abc|c", "_sc|%s.chk|0", "%s.a.very.long.metric.name.that.crosses.a.word.boundary.xx:3|c",
        "%s.set:m1|s", "%s.dog:2|c|#k:v|T1700000000", "%s.colon:after|pipe:1|c", ":1|c", "|", ":", "%s.e:|c",
        "%s.h:1.5|h|#a:b:c", "%s.sp :1|c",
    };
    enum { NT = sizeof tpl / sizeof tpl[0], REP = 5 };
    static char pkt[8192];
    size_t n = 0;
    for (int r = 0; r < REP; r++)
        for (size_t i = 0; i < NT; i++) {
            assert_true(n + 256 < sizeof pkt);
            n += render(pkt + n, tpl[i], 'p');
            if (r < REP - 1 || i < NT - 1)
                pkt[n++] = '\n';
        }
    assert_true(n < 8192 && n > 512);
    vn_ingest_packet(f->in, pkt, n);
    vn_ingest_commit(f->in);
    uint64_t lines1 = vn_stats_get(&f->stats.lines), err1[VN_PARSE_ERR__COUNT];
    for (int e = 0; e < VN_PARSE_ERR__COUNT; e++)
        err1[e] = vn_stats_get(&f->stats.parse_errors[e]);
    for (int r = 0; r < REP; r++)
        for (size_t i = 0; i < NT; i++) {
            char line[256];
            vn_ingest_line(f->in, line, render(line, tpl[i], 'q'));
        }
    vn_ingest_commit(f->in);
    assert_true(lines1 > 0);
    assert_int_equal(vn_stats_get(&f->stats.lines), 2 * lines1);
    for (int e = 0; e < VN_PARSE_ERR__COUNT; e++)
        assert_int_equal(vn_stats_get(&f->stats.parse_errors[e]), 2 * err1[e]);
    vn_series_map_t *maps[3];
    size_t count = swap_all(f, maps), pseries = 0;
    for (int w = 0; w < 3; w++)
        for (size_t i = 0; i < maps[w]->cap; i++) {
            vn_series_t *s = maps[w]->slots[i];
            if (!s || s->key[0] != 'p')
                continue;
            pseries++;
            char qkey[256];
            snprintf(qkey, sizeof qkey, "q%s", s->key + 1);
            vn_series_t *q = lookup(maps, qkey, (vn_mtype_t)s->type);
            assert_non_null(q);
            if (s->type == VN_MT_COUNTER)
                assert_true(q->u.counter == s->u.counter);
            else if (s->type == VN_MT_GAUGE)
                assert_true(q->u.gauge == s->u.gauge);
            else if (s->type == VN_MT_TIMER || s->type == VN_MT_HISTOGRAM)
                assert_true(q->u.histo->local_weight == s->u.histo->local_weight);
        }
    assert_true(pseries >= 8);
    assert_true(count >= 2 * pseries);
    free_all(maps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest__packet_to_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest__line_cache_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest__long_keys_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest__nul_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest__packet_groups_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest__packet_scan_matches_lines, setup, teardown),
        cmocka_unit_test(test_ingest__spsc_ring_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
