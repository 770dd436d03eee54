/*
 * test_line_cache.c - listen/line_cache on its own, with an emitter that
 * records every pending value leaving the cache: hits and misses by
 * signature, counter and gauge pre-aggregation values exact, eviction
 * emitting the evicted entry's value at once (and only once), the byte area
 * reset emitting everything and forgetting every entry, and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listen/line_cache.h"

#define MAX_EMITS 32768

typedef struct emitted {
    uint32_t key_hash;
    uint8_t type, scope;
    double value;
    uint32_t samples;
    char key[64];
} emitted_t;

typedef struct rec {
    size_t n;
    emitted_t e[MAX_EMITS];
} rec_t;

static void record(void *ctx, const vn_line_cache_entry_t *e, const char *key)
{
    rec_t *r = ctx;
    assert_true(r->n < MAX_EMITS);
    emitted_t *x = &r->e[r->n++];
    x->key_hash = e->key_hash;
    x->type = e->type;
    x->scope = e->scope;
    x->value = e->pending_value;
    x->samples = e->pending_samples;
    assert_true(e->key_len < sizeof x->key);
    memcpy(x->key, key, e->key_len);
    x->key[e->key_len] = '\0';
}

typedef struct fx {
    vn_line_cache_t c; /* ~780 KiB: on the heap */
    rec_t rec;
} fx_t;

static int setup(void **state)
{
    fx_t *f = malloc(sizeof *f);
    assert_non_null(f);
    f->rec.n = 0;
    vn_line_cache_init(&f->c, record, &f->rec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* A line "name:...<rest>" split the way ingest splits it: name before ':', rest from the first '|'. */
typedef struct sig {
    const char *name;
    size_t nlen;
    const char *rest;
    size_t rlen;
} split_t;

static split_t split(const char *line)
{
    const char *colon = strchr(line, ':'), *pipe = strchr(line, '|');
    assert_non_null(colon);
    assert_non_null(pipe);
    return (split_t){line, (size_t)(colon - line), pipe, strlen(pipe)};
}

static vn_line_cache_entry_t *lookup(fx_t *f, const char *line, vn_line_cache_probe_t *p)
{
    split_t s = split(line);
    return vn_line_cache_lookup(&f->c, s.name, s.nlen, s.rest, s.rlen, p);
}

/* Looks the line up and, on a miss, inserts it with key "<name>\n" and the given type and rate. */
static vn_line_cache_entry_t *get(fx_t *f, const char *line, vn_mtype_t type, double rate, bool *hit)
{
    vn_line_cache_probe_t p;
    vn_line_cache_entry_t *e = lookup(f, line, &p);
    if (hit)
        *hit = e != NULL;
    if (e)
        return e;
    split_t s = split(line);
    char key[128];
    int kl = snprintf(key, sizeof key, "%.*s\n", (int)s.nlen, s.name);
    vn_line_cache_series_t series = {.key = key,
                                     .key_len = (size_t)kl,
                                     .key_hash = (uint32_t)vn_line_cache_hash(key, (size_t)kl, "", 0),
                                     .type = (uint8_t)type,
                                     .scope = VN_SCOPE_MIXED,
                                     .rate = rate};
    return vn_line_cache_insert(&f->c, &p, s.name, s.nlen, s.rest, s.rlen, &series);
}

/* Folds v into entry e (its slot is its index: what the lookup's probe reports). */
static void sample(fx_t *f, vn_line_cache_entry_t *e, double v)
{
    vn_line_cache_sample(&f->c, (size_t)(e - f->c.slots), v);
}

static const emitted_t *find_emit(const rec_t *r, const char *key)
{
    const emitted_t *found = NULL;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->e[i].key, key) == 0) {
            assert_null(found); /* each pending value leaves exactly once */
            found = &r->e[i];
        }
    return found;
}

static void test_line_cache__hit_and_miss_by_signature(void **state)
{
    fx_t *f = *state;
    bool hit;
    vn_line_cache_entry_t *a = get(f, "req:1|c|#a:1,b:2", VN_MT_COUNTER, 1, &hit);
    assert_false(hit);
    assert_non_null(a);
    /* another value, same signature: a hit on the same entry */
    assert_ptr_equal(get(f, "req:250.5|c|#a:1,b:2", VN_MT_COUNTER, 1, &hit), a);
    assert_true(hit);
    vn_line_cache_probe_t hp;
    assert_ptr_equal(lookup(f, "req:7|c|#a:1,b:2", &hp), a);
    assert_int_equal(hp.slot, (size_t)(a - f->c.slots)); /* a hit reports its slot */
    assert_ptr_equal(get(f, "req:1:2:3|c|#a:1,b:2", VN_MT_COUNTER, 1, &hit), a);
    assert_true(hit);
    /* anything else in the signature is another entry: tags (even their order), type, rate, name */
    const char *others[] = {"req:1|c|#b:2,a:1", "req:1|g|#a:1,b:2", "req:1|c|@0.5|#a:1,b:2", "reqs:1|c|#a:1,b:2",
                            "re:1|c|#a:1,b:2", "req:1|c|#a:1,b:2|T123"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        vn_line_cache_probe_t p;
        assert_null(lookup(f, others[i], &p));
        assert_true(p.slot < VN_LINE_CACHE_SLOTS);
        assert_int_equal(p.slot & ~(size_t)1, vn_line_cache_set(p.sig_hash));
    }
    /* the entry keeps what the parse produced */
    assert_memory_equal(vn_line_cache_key(&f->c, a), "req\n", 4);
    assert_int_equal(a->key_len, 4);
    assert_int_equal(a->type, VN_MT_COUNTER);
    assert_true(vn_line_cache_combines(a));
    assert_int_equal(f->rec.n, 0); /* lookups and inserts alone emit nothing */
}

static void test_line_cache__counter_and_gauge_values_exact(void **state)
{
    fx_t *f = *state;
    /* counters: sum of value/rate in double, in arrival order */
    vn_line_cache_entry_t *c = get(f, "c:1|c|@0.1", VN_MT_COUNTER, 0.1, NULL);
    const double vals[] = {1, 2.5, 3e-7, 1e15, 7};
    double want = 0;
    for (size_t i = 0; i < 5; i++) {
        sample(f, c, vals[i]);
        want += vals[i] / 0.1;
    }
    /* gauges: the last value wins */
    vn_line_cache_entry_t *g = get(f, "g:1|g", VN_MT_GAUGE, 1, NULL);
    sample(f, g, 3);
    sample(f, g, -4.25);
    /* a timer is cached but not combined: the caller sends its samples on */
    vn_line_cache_entry_t *t = get(f, "t:1|ms", VN_MT_TIMER, 1, NULL);
    assert_false(vn_line_cache_combines(t));
    assert_int_equal(f->rec.n, 0);
    vn_line_cache_flush(&f->c);
    assert_int_equal(f->rec.n, 2);
    const emitted_t *ec = find_emit(&f->rec, "c\n"), *eg = find_emit(&f->rec, "g\n");
    assert_non_null(ec);
    assert_non_null(eg);
    assert_true(ec->value == want); /* exact, not approximately */
    assert_int_equal(ec->samples, 5);
    assert_int_equal(ec->type, VN_MT_COUNTER);
    assert_int_equal(ec->key_hash, c->key_hash);
    assert_true(eg->value == -4.25);
    assert_int_equal(eg->samples, 2);
    assert_int_equal(eg->type, VN_MT_GAUGE);
    /* a flush leaves nothing pending; the next interval starts from zero on the same entries */
    f->rec.n = 0;
    vn_line_cache_flush(&f->c);
    assert_int_equal(f->rec.n, 0);
    bool hit;
    assert_ptr_equal(get(f, "c:5|c|@0.1", VN_MT_COUNTER, 0.1, &hit), c);
    assert_true(hit);
    sample(f, c, 5);
    vn_line_cache_flush(&f->c);
    assert_int_equal(f->rec.n, 1);
    assert_true(f->rec.e[0].value == 5 / 0.1);
    assert_int_equal(f->rec.e[0].samples, 1);
}

/* Finds three counter lines "<prefix><n>:1|c" whose signatures share one two-way set. */
static void three_in_one_set(char lines[3][32])
{
    size_t want_set = SIZE_MAX, found = 0;
    for (int n = 0; found < 3 && n < 10000000; n++) {
        char name[24];
        int nl = snprintf(name, sizeof name, "ev.%d", n);
        uint64_t h = vn_line_cache_hash(name, (size_t)nl, "|c", 2);
        size_t set = vn_line_cache_set(h);
        if (want_set == SIZE_MAX)
            want_set = set;
        if (set == want_set)
            snprintf(lines[found++], 32, "%s:1|c", name);
    }
    assert_int_equal(found, 3);
}

static void test_line_cache__eviction_emits_pending(void **state)
{
    fx_t *f = *state;
    char lines[3][32];
    three_in_one_set(lines);
    vn_line_cache_entry_t *e0 = get(f, lines[0], VN_MT_COUNTER, 1, NULL);
    vn_line_cache_entry_t *e1 = get(f, lines[1], VN_MT_COUNTER, 1, NULL);
    assert_ptr_not_equal(e0, e1); /* a free way is used before anything is evicted */
    sample(f, e0, 2);
    sample(f, e0, 3);
    sample(f, e1, 10);
    assert_int_equal(f->rec.n, 0);
    /* the third signature evicts one of the two; that one's pending value leaves right now */
    vn_line_cache_entry_t *e2 = get(f, lines[2], VN_MT_COUNTER, 1, NULL);
    assert_true(e2 == e0 || e2 == e1);
    assert_int_equal(f->rec.n, 1);
    bool evicted0 = e2 == e0;
    char k0[32], k1[32];
    snprintf(k0, sizeof k0, "%.*s\n", (int)(strchr(lines[0], ':') - lines[0]), lines[0]);
    snprintf(k1, sizeof k1, "%.*s\n", (int)(strchr(lines[1], ':') - lines[1]), lines[1]);
    assert_string_equal(f->rec.e[0].key, evicted0 ? k0 : k1);
    assert_true(f->rec.e[0].value == (evicted0 ? 5 : 10));
    assert_int_equal(f->rec.e[0].samples, evicted0 ? 2 : 1);
    /* the evicted signature is a miss now; the survivor still hits */
    vn_line_cache_probe_t p;
    assert_null(lookup(f, evicted0 ? lines[0] : lines[1], &p));
    bool hit;
    get(f, evicted0 ? lines[1] : lines[0], VN_MT_COUNTER, 1, &hit);
    assert_true(hit);
    /* the refilled slot collects its own samples; it is still on the dirty list from before,
     * and must be emitted once, not twice (regression: the dirty list overflowed) */
    sample(f, e2, 7);
    vn_line_cache_flush(&f->c);
    char k2[32];
    snprintf(k2, sizeof k2, "%.*s\n", (int)(strchr(lines[2], ':') - lines[2]), lines[2]);
    const emitted_t *x2 = find_emit(&f->rec, k2);
    assert_non_null(x2);
    assert_true(x2->value == 7);
    const emitted_t *xs = find_emit(&f->rec, evicted0 ? k1 : k0);
    assert_non_null(xs);
    assert_true(xs->value == (evicted0 ? 10 : 5));
    assert_int_equal(f->rec.n, 3);
}

/* More distinct signatures than slots between two flushes: every sample leaves exactly once. */
static void test_line_cache__churn_loses_nothing(void **state)
{
    fx_t *f = *state;
    enum { N = 6000 };
    for (int rep = 0; rep < 2; rep++)
        for (int i = 0; i < N; i++) {
            char line[32];
            snprintf(line, sizeof line, "ch.%d:1|c", i);
            vn_line_cache_entry_t *e = get(f, line, VN_MT_COUNTER, 1, NULL);
            assert_non_null(e);
            sample(f, e, (double)(i % 5 + 1));
        }
    vn_line_cache_flush(&f->c);
    double sum = 0, want = 0;
    uint64_t samples = 0;
    for (size_t i = 0; i < f->rec.n; i++) {
        sum += f->rec.e[i].value;
        samples += f->rec.e[i].samples;
    }
    for (int i = 0; i < N; i++)
        want += 2 * (i % 5 + 1);
    assert_true(sum == want);
    assert_int_equal(samples, 2 * N);
    assert_true(f->c.ndirty == 0);
}

static void test_line_cache__area_reset(void **state)
{
    fx_t *f = *state;
    /* signatures of ~1000 bytes fill the 512 KiB area after ~500 distinct lines */
    char line[1100];
    char *first = NULL;
    size_t inserted = 0;
    vn_line_cache_entry_t *e0 = NULL;
    for (int i = 0; f->c.resets == 0; i++) {
        assert_true(i < 2000);
        int n = snprintf(line, sizeof line, "ar.%04d:1|c|#", i);
        memset(line + n, 't', 900);
        line[n + 900] = '\0';
        if (!first)
            first = strdup(line);
        size_t before = f->rec.n;
        vn_line_cache_entry_t *e = get(f, line, VN_MT_GAUGE, 1, NULL);
        assert_non_null(e);
        if (!e0)
            e0 = e;
        if (f->c.resets == 0) {
            assert_true(f->c.used <= VN_LINE_CACHE_BYTES);
            inserted++;
            sample(f, e, (double)i);
        } else {
            /* this insert did not fit: everything pending left (evictions aside, all gauges) */
            assert_true(f->rec.n >= before);
            assert_int_equal(f->c.ndirty, 0);
        }
    }
    assert_true(inserted > 400);
    /* every pending value was emitted once with its own value (eviction or reset) */
    assert_int_equal(f->rec.n, inserted);
    for (size_t i = 0; i < f->rec.n; i++) {
        int idx = atoi(f->rec.e[i].key + 3);
        assert_true(f->rec.e[i].value == (double)idx);
        assert_int_equal(f->rec.e[i].samples, 1);
    }
    /* the area holds just the newest entry; every older signature is forgotten */
    assert_true(f->c.used < 1100);
    vn_line_cache_probe_t p;
    split_t s = split(first);
    assert_null(vn_line_cache_lookup(&f->c, s.name, s.nlen, s.rest, s.rlen, &p));
    bool hit;
    get(f, line, VN_MT_GAUGE, 1, &hit);
    assert_true(hit);
    vn_line_cache_flush(&f->c);
    assert_int_equal(f->rec.n, inserted); /* nothing pending after the reset */
    free(first);
    (void)e0;
}

static void test_line_cache__limits(void **state)
{
    fx_t *f = *state;
    /* a signature longer than VN_LINE_CACHE_SIG_MAX is not cacheable */
    size_t big = VN_LINE_CACHE_SIG_MAX + 16;
    char *line = malloc(big + 16);
    memcpy(line, "n:1|c|#", 7);
    memset(line + 7, 'x', big);
    line[7 + big] = '\0';
    vn_line_cache_probe_t p;
    assert_null(lookup(f, line, &p));
    assert_int_equal(p.slot, VN_LINE_CACHE_NONE);
    vn_line_cache_series_t s = {.key = "n\n", .key_len = 2, .type = VN_MT_COUNTER, .rate = 1};
    assert_null(vn_line_cache_insert(&f->c, &p, line, 1, line + 3, strlen(line + 3), &s));
    /* exactly at the limit it is cached */
    size_t nrest = VN_LINE_CACHE_SIG_MAX - 1; /* name "n" + rest */
    line[3 + nrest] = '\0';
    assert_null(lookup(f, line, &p));
    assert_int_not_equal(p.slot, VN_LINE_CACHE_NONE);
    assert_non_null(vn_line_cache_insert(&f->c, &p, line, 1, line + 3, nrest, &s));
    assert_non_null(lookup(f, line, &p));
    /* a key longer than VN_LINE_CACHE_KEY_MAX is not cached (nothing changes) */
    char *key = malloc(VN_LINE_CACHE_KEY_MAX + 1);
    memset(key, 'k', VN_LINE_CACHE_KEY_MAX + 1);
    vn_line_cache_series_t ls = {.key = key, .key_len = VN_LINE_CACHE_KEY_MAX + 1, .type = VN_MT_COUNTER, .rate = 1};
    assert_null(lookup(f, "m:1|c", &p));
    size_t used = f->c.used;
    assert_null(vn_line_cache_insert(&f->c, &p, "m", 1, "|c", 2, &ls));
    assert_int_equal(f->c.used, used);
    assert_null(lookup(f, "m:1|c", &p));
    ls.key_len = VN_LINE_CACHE_KEY_MAX;
    assert_non_null(vn_line_cache_insert(&f->c, &p, "m", 1, "|c", 2, &ls));
    assert_non_null(lookup(f, "m:1|c", &p));
    free(key);
    free(line);
}

/* Signatures up to VN_LINE_CACHE_INLINE bytes are compared inside the entry, longer ones in the
 * byte area: at and around that length a signature hits itself only, and the key a hit reports
 * is the entry's key either way. */
static void test_line_cache__inline_and_area_signatures(void **state)
{
    fx_t *f = *state;
    /* name + rest ("|c") of 15, 16, 17 and 40 bytes; each with a twin differing in its last name byte */
    const char *lines[] = {"abcdefghijklm:1|c", "abcdefghijklmn:1|c", "abcdefghijklmno:1|c",
                           "abcdefghijklmnopqrstuvwxyzabcdefghijkl:1|c"};
    for (size_t i = 0; i < 4; i++) {
        bool hit;
        vn_line_cache_entry_t *e = get(f, lines[i], VN_MT_COUNTER, 1, &hit);
        assert_false(hit);
        assert_non_null(e);
        char twin[64];
        snprintf(twin, sizeof twin, "%s", lines[i]);
        char *colon = strchr(twin, ':');
        colon[-1] = 'Z';
        vn_line_cache_probe_t p;
        assert_null(lookup(f, twin, &p));
        assert_ptr_equal(get(f, lines[i], VN_MT_COUNTER, 1, &hit), e);
        assert_true(hit);
        assert_ptr_equal(lookup(f, lines[i], &p), e);
        split_t sp = split(lines[i]);
        assert_int_equal(e->key_len, sp.nlen + 1);
        assert_memory_equal(p.key, sp.name, sp.nlen);
        assert_int_equal(p.key[sp.nlen], '\n');
    }
}

/* Far more signatures than slots between two flushes: every sample leaves exactly once. */
static void test_line_cache__churn_beyond_slots(void **state)
{
    fx_t *f = *state;
    enum { N = VN_LINE_CACHE_SLOTS * 3 };
    double want = 0;
    for (int i = 0; i < N; i++) {
        char line[32];
        snprintf(line, sizeof line, "cb.%d:1|c", i);
        vn_line_cache_entry_t *e = get(f, line, VN_MT_COUNTER, 1, NULL);
        assert_non_null(e);
        sample(f, e, (double)(i % 3 + 1));
        want += i % 3 + 1;
        if (f->rec.n > 10000) { /* keep the recorder bounded (a reset emits up to a table): fold what left */
            for (size_t k = 0; k < f->rec.n; k++)
                want -= f->rec.e[k].value;
            f->rec.n = 0;
        }
    }
    vn_line_cache_flush(&f->c);
    double sum = 0;
    for (size_t k = 0; k < f->rec.n; k++)
        sum += f->rec.e[k].value;
    assert_true(sum == want);
    assert_true(f->c.ndirty == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_cache__hit_and_miss_by_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_cache__counter_and_gauge_values_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_cache__eviction_emits_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_cache__churn_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_cache__area_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_cache__limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_cache__inline_and_area_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_cache__churn_beyond_slots, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
