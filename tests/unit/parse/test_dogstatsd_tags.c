/*
 * test_dogstatsd_tags.c - src/parse (dogstatsd.c, tags.c; numbers via core/gonum.c):
 * tags: order, sort, implicit tags, limits, join, metric key.
 *
 * Data tables: every vector of docs/behaviour.md 1.7 and 7, then the extra cases of the
 * brief (multi-value order, zero values, ignored sections, sort, implicit
 * override, tag limit, events, service checks, NUL and 0xff bytes), split by topic over
 * test_dogstatsd.c, test_dogstatsd_tags.c and test_dogstatsd_events.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "parse/dogstatsd.h"

#include "dogstatsd_fixture.h"

/* ------------------------------------------------------ tags, sort, limits */

static void join(const vn_metric_line_t *m, char *buf, size_t cap)
{
    size_t n = vn_tags_join(m->tags, m->ntags, buf, cap - 1);
    assert_true(n != SIZE_MAX);
    buf[n] = '\0';
}

static void test_dogstatsd__tag_order_independent(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "m:1|c|#c:3,a:1,b:2,d,e:5", "m:1|c|#e:5,d,c:3,b:2,a:1", "m:1|c|#a:1,b:2,c:3,d,e:5",
        "m:1|c|#d,a:1,e:5,b:2,c:3", "m:1|c|#b:2,e:5,a:1,d,c:3",
    };
    static vn_metric_line_t m;
    char first[128], buf[128];
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        assert_int_equal(vn_parse_metric(&k_plain, lines[i], strlen(lines[i]), &m), VN_PARSE_OK);
        join(&m, i ? buf : first, sizeof(buf));
        if (i)
            assert_string_equal(buf, first);
    }
    assert_string_equal(first, "a:1,b:2,c:3,d,e:5");
}

/* Shell-sort path (more than 16 tags) gives the byte-wise order too. */
static void test_dogstatsd__sort_many(void **state)
{
    (void)state;
    char line[4096];
    size_t n = (size_t)sprintf(line, "m:1|c|#");
    unsigned x = 12345;
    for (int i = 0; i < 100; i++) {
        x = x * 1103515245u + 12345u;
        n += (size_t)sprintf(line + n, "%st%u", i ? "," : "", (x >> 8) % 1000);
    }
    static vn_metric_line_t m;
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_OK);
    assert_int_equal(m.ntags, 100);
    for (size_t i = 1; i < m.ntags; i++)
        assert_true(vn_str_cmp(m.tags[i - 1], m.tags[i]) <= 0);
}

static void test_dogstatsd__implicit_override(void **state)
{
    (void)state;
    static const vn_str_t imp[] = {VN_STR_LIT("env:prod"), VN_STR_LIT(""), VN_STR_LIT("host")};
    vn_parser_t p = {imp, 3};
    static vn_metric_line_t m;
    char buf[256];
    const char *l = "m:1|c|#env:dev,host:a,hostname:b,env,,zz";
    assert_int_equal(vn_parse_metric(&p, l, strlen(l), &m), VN_PARSE_OK);
    join(&m, buf, sizeof(buf));
    /* env:dev, host:a, env dropped (same key); "" kept; empty implicit ignored */
    assert_string_equal(buf, ",env:prod,host,hostname:b,zz");
    assert_int_equal(m.ntags, 5);
    /* no tag section: only the implicit tags, sorted */
    l = "m:1|c";
    assert_int_equal(vn_parse_metric(&p, l, strlen(l), &m), VN_PARSE_OK);
    join(&m, buf, sizeof(buf));
    assert_string_equal(buf, "env:prod,host");
    /* the magic tag is removed before the override, and only the first one */
    l = "m:1|c|#host:x,veneurglobalonly:1,veneurlocalonly";
    assert_int_equal(vn_parse_metric(&p, l, strlen(l), &m), VN_PARSE_OK);
    join(&m, buf, sizeof(buf));
    assert_string_equal(buf, "env:prod,host,veneurlocalonly");
    assert_int_equal(m.scope, VN_SCOPE_GLOBAL);
}

/* Builds "m:1|c|#t0,t1,...": n tags, plus an optional extra first tag. */
static size_t tag_line(char *line, size_t cap, int n, const char *extra)
{
    size_t w = (size_t)snprintf(line, cap, "m:1|c|#%s", extra ? extra : "");
    for (int i = 0; i < n; i++)
        w += (size_t)snprintf(line + w, cap - w, "%st%d", (i || extra) ? "," : "", i);
    return w;
}

static void test_dogstatsd__too_many_tags(void **state)
{
    (void)state;
    char line[4096];
    static vn_metric_line_t m;
    size_t n = tag_line(line, sizeof(line), VN_PARSE_MAX_TAGS, NULL);
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_OK);
    assert_int_equal(m.ntags, VN_PARSE_MAX_TAGS);
    n = tag_line(line, sizeof(line), VN_PARSE_MAX_TAGS + 1, NULL);
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_ERR_TOO_MANY_TAGS);
    /* the magic tag does not count: it is removed */
    n = tag_line(line, sizeof(line), VN_PARSE_MAX_TAGS, "veneurlocalonly");
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_OK);
    assert_int_equal(m.ntags, VN_PARSE_MAX_TAGS);
    /* implicit tags count */
    n = tag_line(line, sizeof(line), VN_PARSE_MAX_TAGS, NULL);
    assert_int_equal(vn_parse_metric(&k_implicit, line, n, &m), VN_PARSE_ERR_TOO_MANY_TAGS);
    /* ... unless they replace an explicit tag */
    n = tag_line(line, sizeof(line), VN_PARSE_MAX_TAGS - 1, "implicit:x");
    assert_int_equal(vn_parse_metric(&k_implicit, line, n, &m), VN_PARSE_OK);
    assert_int_equal(m.ntags, VN_PARSE_MAX_TAGS);
    /* the same limit for service checks and events */
    static vn_service_check_t sc;
    static vn_event_t ev;
    char scratch[4096];
    char l2[4096];
    size_t w = (size_t)sprintf(l2, "_sc|n|0|#");
    for (int i = 0; i <= VN_PARSE_MAX_TAGS; i++)
        w += (size_t)sprintf(l2 + w, "%st%d", i ? "," : "", i);
    assert_int_equal(vn_parse_service_check(&k_plain, l2, w, NOW, scratch, sizeof(scratch), &sc),
                     VN_PARSE_ERR_TOO_MANY_TAGS);
    w = (size_t)sprintf(l2, "_e{1,1}:a|b|#");
    for (int i = 0; i <= VN_PARSE_MAX_TAGS; i++)
        w += (size_t)sprintf(l2 + w, "%st%d", i ? "," : "", i);
    assert_int_equal(vn_parse_event(&k_plain, l2, w, NOW, scratch, sizeof(scratch), &ev),
                     VN_PARSE_ERR_TOO_MANY_TAGS);
}

static void test_dogstatsd__tags_join(void **state)
{
    (void)state;
    vn_str_t t[] = {VN_STR_LIT("a"), VN_STR_LIT(""), VN_STR_LIT("b:c")};
    char buf[8];
    assert_int_equal(vn_tags_join(t, 3, buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "a,,b:c", 6);
    assert_int_equal(vn_tags_join(t, 3, buf, 6), 6);
    assert_int_equal(vn_tags_join(t, 3, buf, 5), SIZE_MAX);
    assert_int_equal(vn_tags_join(t, 0, NULL, 0), 0);
    assert_int_equal(vn_tags_join(t + 1, 1, NULL, 0), 0);
}

/* docs/behaviour.md 1.8: digest = fnv1a32(name ++ type ++ joined tags). */
static uint32_t digest(const char *line)
{
    static vn_metric_line_t m;
    char buf[256];
    assert_int_equal(vn_parse_metric(&k_plain, line, strlen(line), &m), VN_PARSE_OK);
    size_t n = vn_tags_join(m.tags, m.ntags, buf, sizeof(buf));
    const char *ty = vn_mtype_name(m.type);
    uint32_t h = vn_fnv1a32_add(VN_FNV1A32_INIT, m.name.p, m.name.len);
    h = vn_fnv1a32_add(h, ty, strlen(ty));
    return vn_fnv1a32_add(h, buf, n);
}

static void test_dogstatsd__metric_key(void **state)
{
    (void)state;
    assert_int_equal(digest("a.b.c:1|c|#foo:bar,baz:gorch"), digest("a.b.c:2|c|#baz:gorch,foo:bar"));
    assert_int_equal(digest("x:1|h"), digest("x:1|d"));
    assert_int_not_equal(digest("x:1|h"), digest("x:1|ms"));
    assert_int_equal(digest("x:1|c"), digest("x:1|count"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dogstatsd__tag_order_independent),
        cmocka_unit_test(test_dogstatsd__sort_many),
        cmocka_unit_test(test_dogstatsd__implicit_override),
        cmocka_unit_test(test_dogstatsd__too_many_tags),
        cmocka_unit_test(test_dogstatsd__tags_join),
        cmocka_unit_test(test_dogstatsd__metric_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
