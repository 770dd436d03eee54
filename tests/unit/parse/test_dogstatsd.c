/*
 * test_dogstatsd.c - src/parse (dogstatsd.c, tags.c; numbers via core/gonum.c):
 * metric lines, numbers, error strings.
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

#define MAXV 8

/* ------------------------------------------------------------ metric table */

typedef struct {
    const char *in;
    int implicit;
    vn_parse_err_t err;
    const char *name;
    vn_mtype_t type;
    const char *tags; /* joined with ',' */
    size_t ntags;
    double rate;
    vn_scope_t scope;
    int nvals;         /* values before the end or the bad one */
    double vals[MAXV]; /* numeric types */
    const char *svals[MAXV]; /* sets */
    int bad_at;        /* index of the piece the iterator rejects, -1 none */
    uint32_t ignored;
} mcase_t;

#define OK_ 0

#define NOBAD -1

static const mcase_t k_metric_cases[] = {
    /* docs/behaviour.md 1.7 */
    {"a.b.c:1|c", 0, OK_, "a.b.c", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|c", 1, OK_, "a.b.c", VN_MT_COUNTER, "implicit", 1, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|g", 0, OK_, "a.b.c", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|h", 0, OK_, "a.b.c", VN_MT_HISTOGRAM, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1.234|h", 0, OK_, "a.b.c", VN_MT_HISTOGRAM, "", 0, 1, VN_SCOPE_MIXED, 1, {1.234}, {0}, NOBAD, 0},
    {"a.b.c:1|ms", 0, OK_, "a.b.c", VN_MT_TIMER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1.234|ms", 0, OK_, "a.b.c", VN_MT_TIMER, "", 0, 1, VN_SCOPE_MIXED, 1, {1.234}, {0}, NOBAD, 0},
    {"a.b.c:0.1716441474854946|d|#filter:flatulent", 0, OK_, "a.b.c", VN_MT_HISTOGRAM, "filter:flatulent", 1,
     1, VN_SCOPE_MIXED, 1, {0.1716441474854946}, {0}, NOBAD, 0},
    {"a.b.c:0.1716441474854946|d|#filter:flatulent", 1, OK_, "a.b.c", VN_MT_HISTOGRAM,
     "filter:flatulent,implicit", 2, 1, VN_SCOPE_MIXED, 1, {0.1716441474854946}, {0}, NOBAD, 0},
    {"a.b.c:foo|s", 0, OK_, "a.b.c", VN_MT_SET, "", 0, 1, VN_SCOPE_MIXED, 1, {0}, {"foo"}, NOBAD, 0},
    {"a.b.c:1:2:3:4|ms|@0.1|#result:success,op:frob", 0, OK_, "a.b.c", VN_MT_TIMER, "op:frob,result:success",
     2, 0.1, VN_SCOPE_MIXED, 4, {1, 2, 3, 4}, {0}, NOBAD, 0},
    {"a.b.c:1|c|#foo:bar,baz:gorch", 0, OK_, "a.b.c", VN_MT_COUNTER, "baz:gorch,foo:bar", 2, 1, VN_SCOPE_MIXED,
     1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|c|#baz:gorch,foo:bar", 0, OK_, "a.b.c", VN_MT_COUNTER, "baz:gorch,foo:bar", 2, 1, VN_SCOPE_MIXED,
     1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|c|#foo:bar,baz:gorch", 1, OK_, "a.b.c", VN_MT_COUNTER, "baz:gorch,foo:bar,implicit", 3, 1,
     VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|c|#", 0, OK_, "a.b.c", VN_MT_COUNTER, "", 1, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|c|#", 1, OK_, "a.b.c", VN_MT_COUNTER, ",implicit", 2, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|c|@0.1", 0, OK_, "a.b.c", VN_MT_COUNTER, "", 0, 0.1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|g|@0.1", 0, OK_, "a.b.c", VN_MT_GAUGE, "", 0, 0.1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|c|@0.1|#foo:bar,baz:gorch", 0, OK_, "a.b.c", VN_MT_COUNTER, "baz:gorch,foo:bar", 2, 0.1,
     VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|c|@0.1|#foo:bar,baz:gorch", 1, OK_, "a.b.c", VN_MT_COUNTER, "baz:gorch,foo:bar,implicit", 3, 0.1,
     VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|h|#veneurlocalonly,tag2:quacks", 0, OK_, "a.b.c", VN_MT_HISTOGRAM, "tag2:quacks", 1, 1,
     VN_SCOPE_LOCAL, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:1|h|#veneurglobalonly,tag2:quacks", 0, OK_, "a.b.c", VN_MT_HISTOGRAM, "tag2:quacks", 1, 1,
     VN_SCOPE_GLOBAL, 1, {1}, {0}, NOBAD, 0},
    {"a.b.c:fart|c", 0, OK_, "a.b.c", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"foo", 0, VN_PARSE_ERR_NO_PIPE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1", 0, VN_PARSE_ERR_NO_PIPE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1||", 0, VN_PARSE_ERR_NO_TYPE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:|c|", 0, VN_PARSE_ERR_EMPTY_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"this_is_a_bad_metric:nan|g|#shell", 0, OK_, "this_is_a_bad_metric", VN_MT_GAUGE, "shell", 1, 1,
     VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"this_is_a_bad_metric:NaN|g|#shell", 0, OK_, "this_is_a_bad_metric", VN_MT_GAUGE, "shell", 1, 1,
     VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"this_is_a_bad_metric:-inf|g|#shell", 0, OK_, "this_is_a_bad_metric", VN_MT_GAUGE, "shell", 1, 1,
     VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"this_is_a_bad_metric:+inf|g|#shell", 0, OK_, "this_is_a_bad_metric", VN_MT_GAUGE, "shell", 1, 1,
     VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"foo:1|foo|", 0, VN_PARSE_ERR_BAD_TYPE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c||", 0, VN_PARSE_ERR_EMPTY_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|foo", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@-0.1", 0, VN_PARSE_ERR_RATE_RANGE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@1.1", 0, VN_PARSE_ERR_RATE_RANGE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@0.5|@0.2", 0, VN_PARSE_ERR_MULTI_RATE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|#foo|#bar", 0, VN_PARSE_ERR_MULTI_TAGS, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},

    /* docs/behaviour.md 7: sample rate is a double here (0.2); nan/inf parse, then fail the range */
    {"foo:1|c|@nan", 0, VN_PARSE_ERR_RATE_RANGE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@inf", 0, VN_PARSE_ERR_RATE_RANGE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@+nan", 0, VN_PARSE_ERR_BAD_RATE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@abc", 0, VN_PARSE_ERR_BAD_RATE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@", 0, VN_PARSE_ERR_BAD_RATE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@0", 0, VN_PARSE_ERR_RATE_RANGE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@1e-400", 0, VN_PARSE_ERR_RATE_RANGE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@1e400", 0, VN_PARSE_ERR_BAD_RATE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo:1|c|@1e-50", 0, OK_, "foo", VN_MT_COUNTER, "", 0, 1e-50, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"foo:1|c|@0x1p-1", 0, OK_, "foo", VN_MT_COUNTER, "", 0, 0.5, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"foo:1|c|@+.25", 0, OK_, "foo", VN_MT_COUNTER, "", 0, 0.25, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"foo:1|c|@1", 0, OK_, "foo", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    /* docs/behaviour.md 7: values are ParseFloat(64) */
    {"x:1e400|g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"x:+3|g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 1, {3}, {0}, NOBAD, 0},
    {"x:inf|g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"x:Infinity|g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"x:-INFINITY|g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"x:nAn|g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"x: 1|g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"x:1 |g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"x:1|c|#a, b", 0, OK_, "x", VN_MT_COUNTER, " b,a", 2, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"my metric:1|c", 0, OK_, "my metric", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    /* docs/behaviour.md 7: type from the first byte only */
    {"x:1|count", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"x:1|m", 0, OK_, "x", VN_MT_TIMER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"x:1|mfoo", 0, OK_, "x", VN_MT_TIMER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"x:1|d", 0, OK_, "x", VN_MT_HISTOGRAM, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"x:a|sx", 0, OK_, "x", VN_MT_SET, "", 0, 1, VN_SCOPE_MIXED, 1, {0}, {"a"}, NOBAD, 0},
    {"x:1|C", 0, VN_PARSE_ERR_BAD_TYPE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    /* docs/behaviour.md 7: zero values, empty first piece */
    {"x:|c", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, NOBAD, 0},
    {"x::|c", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, 0, 0},
    {"x:a:|s", 0, OK_, "x", VN_MT_SET, "", 0, 1, VN_SCOPE_MIXED, 2, {0}, {"a", ""}, NOBAD, 0},
    {"x:|s", 0, OK_, "x", VN_MT_SET, "", 0, 1, VN_SCOPE_MIXED, 0, {0}, {0}, NOBAD, 0},
    /* docs/behaviour.md 7: magic tags, prefix match for metrics, first one only */
    {"x:1|c|#a,veneurlocalonly:true,b", 0, OK_, "x", VN_MT_COUNTER, "a,b", 2, 1, VN_SCOPE_LOCAL, 1, {1}, {0},
     NOBAD, 0},
    {"x:1|c|#veneurglobalonlyXYZ", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_GLOBAL, 1, {1}, {0}, NOBAD, 0},
    {"x:1|c|#veneurlocalonly,veneurglobalonly", 0, OK_, "x", VN_MT_COUNTER, "veneurglobalonly", 1, 1,
     VN_SCOPE_LOCAL, 1, {1}, {0}, NOBAD, 0},
    {"x:1|c|#veneurlocalonly,veneurlocalonly", 0, OK_, "x", VN_MT_COUNTER, "veneurlocalonly", 1, 1,
     VN_SCOPE_LOCAL, 1, {1}, {0}, NOBAD, 0},
    {"x:1|c|#veneurlocal", 0, OK_, "x", VN_MT_COUNTER, "veneurlocal", 1, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD,
     0},
    /* 1.2 step order */
    {"|c", 0, VN_PARSE_ERR_NO_COLON, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"foo|c:1", 0, VN_PARSE_ERR_NO_COLON, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {":1|c", 0, VN_PARSE_ERR_EMPTY_NAME, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|", 0, VN_PARSE_ERR_NO_TYPE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"", 0, VN_PARSE_ERR_NO_PIPE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:bad|c|foo", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|#a|@2", 0, VN_PARSE_ERR_RATE_RANGE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    /* multi-value order; a bad piece after good ones */
    {"x:3:1:2|g", 0, OK_, "x", VN_MT_GAUGE, "", 0, 1, VN_SCOPE_MIXED, 3, {3, 1, 2}, {0}, NOBAD, 0},
    {"x:5:-2.5:0x1p-2:1e3|h", 0, OK_, "x", VN_MT_HISTOGRAM, "", 0, 1, VN_SCOPE_MIXED, 4, {5, -2.5, 0.25, 1000},
     {0}, NOBAD, 0},
    {"x:1:2:oops:4|c", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 2, {1, 2}, {0}, 2, 0},
    {"x:1:|c", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, 1, 0},
    /* docs/behaviour.md 0.3: DogStatsD 1.1-1.3 sections ignored and counted */
    {"x:1|c|c:abc123|T1700000000|e:it-false,cn-x|@0.5", 0, OK_, "x", VN_MT_COUNTER, "", 0, 0.5, VN_SCOPE_MIXED,
     1, {1}, {0}, NOBAD, 3},
    {"x:1|c|#a|c:|z:1|c:again", 0, OK_, "x", VN_MT_COUNTER, "a", 1, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 3},
    {"x:1|c|T", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|T12a", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|C:x", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|c", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|c:a||", 0, VN_PARSE_ERR_EMPTY_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    /* The Agent's documented formats v1.0-v1.6 (datagram_shell): v1.1 packed
     * values, v1.2 container id, v1.3 timestamp, v1.4 cgroup inode in c:,
     * v1.5 external data, v1.6 cardinality; any key made of lower-case letters */
    {"page.views:1|c", 0, OK_, "page.views", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 0},
    {"song.length:240|h|@0.5|#artist:x", 0, OK_, "song.length", VN_MT_HISTOGRAM, "artist:x", 1, 0.5,
     VN_SCOPE_MIXED, 1, {240}, {0}, NOBAD, 0},
    {"lat:1:2:3|d|@0.25|#a", 0, OK_, "lat", VN_MT_HISTOGRAM, "a", 1, 0.25, VN_SCOPE_MIXED, 3, {1, 2, 3}, {0},
     NOBAD, 0},
    {"x:1|c|#a:b|c:83c0a99c0a54c0c187f461c7980e9b57f3f6a8b0c918c8d93df19a9de6f3fe1d", 0, OK_, "x", VN_MT_COUNTER,
     "a:b", 1, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 1},
    {"x:7|g|#a|T1656581400", 0, OK_, "x", VN_MT_GAUGE, "a", 1, 1, VN_SCOPE_MIXED, 1, {7}, {0}, NOBAD, 1},
    {"x:1|c|c:ci-abc,in-4026531835", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 1},
    {"x:1|c|e:it-false,cn-web,pu-0a1b", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD,
     1},
    {"x:1|c|card:orchestrator", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 1},
    /* datadog-go v5: name:v|type|@rate|#tags|c:cid|e:ext (format.go), timers at %.6f */
    {"app.req:3.000000|ms|@0.5|#env:prod,veneurglobalonly|c:ci-abc|e:it-false", 0, OK_, "app.req", VN_MT_TIMER,
     "env:prod", 1, 0.5, VN_SCOPE_GLOBAL, 1, {3}, {0}, NOBAD, 2},
    {"app.u:bob|s|#env:prod|c:ci-abc|e:it-false|card:high", 0, OK_, "app.u", VN_MT_SET, "env:prod", 1, 1,
     VN_SCOPE_MIXED, 1, {0}, {"bob"}, NOBAD, 3},
    /* datadogpy: name:v|type|@rate|#tags|c:cid, and |T before the tags */
    {"py.c:5|c|T1700000000|#a:1,b|c:abcdef", 0, OK_, "py.c", VN_MT_COUNTER, "a:1,b", 2, 1, VN_SCOPE_MIXED, 1, {5},
     {0}, NOBAD, 2},
    /* any position: before the rate and the tags */
    {"x:2|h|card:low|@0.5|e:x|#t", 0, OK_, "x", VN_MT_HISTOGRAM, "t", 1, 0.5, VN_SCOPE_MIXED, 1, {2}, {0}, NOBAD,
     2},
    /* an unknown field's value is opaque: may hold ':' ',' '#' '@' */
    {"x:1|c|zz:a:b,#c@d", 0, OK_, "x", VN_MT_COUNTER, "", 0, 1, VN_SCOPE_MIXED, 1, {1}, {0}, NOBAD, 1},
    /* junk stays junk: key must be [a-z]+ followed by ':' */
    {"x:1|c|card", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|Card:low", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|ca_rd:low", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|c1:x", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|:x", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c| c:x", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|T-5", 0, VN_PARSE_ERR_UNKNOWN_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|card:low||", 0, VN_PARSE_ERR_EMPTY_SECTION, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|card:low|@0", 0, VN_PARSE_ERR_RATE_RANGE, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
    {"x:1|c|#a|card:x|#b", 0, VN_PARSE_ERR_MULTI_TAGS, NULL, 0, NULL, 0, 0, 0, 0, {0}, {0}, NOBAD, 0},
};

/* Expected name can hold NUL: compare against the first name.len bytes. */
static void check_metric_case(const mcase_t *c)
{
    static vn_metric_line_t m;
    const vn_parser_t *p = c->implicit ? &k_implicit : &k_plain;
    size_t len = strlen(c->in);
    vn_parse_err_t e = vn_parse_metric(p, c->in, len, &m);
    if (e != c->err)
        fail_msg("%s: got %s, want %s", c->in, vn_parse_err_reason(e), vn_parse_err_reason(c->err));
    if (e != VN_PARSE_OK)
        return;
    if (m.name.len != strlen(c->name) || memcmp(m.name.p, c->name, m.name.len) != 0)
        fail_msg("%s: name %.*s", c->in, (int)m.name.len, m.name.p);
    assert_int_equal(m.type, c->type);
    assert_int_equal(m.scope, c->scope);
    assert_true(m.rate == c->rate);
    assert_int_equal(m.ignored_sections, c->ignored);
    if (m.ntags != c->ntags)
        fail_msg("%s: ntags %zu want %zu", c->in, m.ntags, c->ntags);
    char buf[512];
    size_t jl = vn_tags_join(m.tags, m.ntags, buf, sizeof(buf));
    assert_true(jl != SIZE_MAX);
    if (jl != strlen(c->tags) || memcmp(buf, c->tags, jl) != 0)
        fail_msg("%s: tags [%.*s] want [%s]", c->in, (int)jl, buf, c->tags);

    vn_value_iter_t it;
    vn_value_iter_init(&it, &m);
    int i = 0;
    if (c->type == VN_MT_SET) {
        vn_str_t s;
        while (vn_value_next_str(&it, &s) == 1) {
            assert_true(i < c->nvals);
            assert_int_equal(s.len, strlen(c->svals[i]));
            assert_memory_equal(s.p, c->svals[i], s.len);
            i++;
        }
        assert_int_equal(i, c->nvals);
        return;
    }
    double v;
    int r;
    while ((r = vn_value_next_num(&it, &v)) == 1) {
        assert_true(i < c->nvals);
        if (v != c->vals[i])
            fail_msg("%s: value %d = %.17g want %.17g", c->in, i, v, c->vals[i]);
        i++;
    }
    assert_int_equal(i, c->nvals);
    if (c->bad_at == NOBAD)
        assert_int_equal(r, 0);
    else
        assert_int_equal(r, -1);
}

static void test_dogstatsd__metric_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_metric_cases) / sizeof(k_metric_cases[0]); i++)
        check_metric_case(&k_metric_cases[i]);
}

/* High bytes (0x80-0xff) are ordinary bytes and sort after ASCII (unsigned
 * comparison). NUL and '\n' are rejected anywhere in a line, by every grammar:
 * sinks and gRPC read names as C strings, and '\n' separates name from tags in
 * series keys, so either would split or corrupt a series. */
static void test_dogstatsd__binary_bytes(void **state)
{
    (void)state;
    static vn_metric_line_t m;
    vn_value_iter_t it;
    vn_str_t s;
    char buf[64];

    static const char l2[] = "\xff\xfe:\xff:\x80|s|#\xff\xff,\x80,\x7f";
    assert_int_equal(vn_parse_metric(&k_plain, l2, sizeof(l2) - 1, &m), VN_PARSE_OK);
    assert_int_equal(m.type, VN_MT_SET);
    assert_int_equal(m.name.len, 2);
    vn_value_iter_init(&it, &m);
    assert_int_equal(vn_value_next_str(&it, &s), 1);
    assert_int_equal(s.len, 1);
    assert_int_equal((unsigned char)s.p[0], 0xff);
    assert_int_equal(vn_value_next_str(&it, &s), 1);
    assert_int_equal(s.len, 1);
    assert_int_equal((unsigned char)s.p[0], 0x80);
    assert_int_equal(vn_value_next_str(&it, &s), 0);
    assert_int_equal(vn_tags_join(m.tags, m.ntags, buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "\x7f,\x80,\xff\xff", 6);

    /* NUL in the name, a tag, a value, a set member, a section: all one counted reason */
    static const struct {
        const char *l;
        size_t n;
    } nul[] = {
        {"a\0b:1|c", 7}, {"n:1|c|#a\0", 9}, {"x:1\0|c", 6}, {"u:a\0b|s", 7}, {"\0:1|c|\0", 7}, {"n:1|c\0", 6},
        {"n\0", 2},
    };
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++)
        assert_int_equal(vn_parse_metric(&k_plain, nul[i].l, nul[i].n, &m), VN_PARSE_ERR_NUL_BYTE);
    /* '\n' inside what a caller hands over as one line */
    static const char nl1[] = "bad\ny.name:1|c";
    assert_int_equal(vn_parse_metric(&k_plain, nl1, sizeof(nl1) - 1, &m), VN_PARSE_ERR_NEWLINE);
    static const char nl2[] = "n:1|c|#a,b\n";
    assert_int_equal(vn_parse_metric(&k_plain, nl2, sizeof(nl2) - 1, &m), VN_PARSE_ERR_NEWLINE);

    /* the parser never reads past len: a type byte just beyond is not seen */
    static const char l5[] = "x:1|c";
    assert_int_equal(vn_parse_metric(&k_plain, l5, 4, &m), VN_PARSE_ERR_NO_TYPE);
    /* nor a NUL just beyond len */
    static const char l6[] = "x:1|c\0";
    assert_int_equal(vn_parse_metric(&k_plain, l6, 5, &m), VN_PARSE_OK);

    static vn_event_t ev;
    static vn_service_check_t sc;
    char scratch[64];
    static const char e1[] = "_e{2,2}:\x80\xff|\xff\x80|#\x81:\xff";
    assert_int_equal(vn_parse_event(&k_plain, e1, sizeof(e1) - 1, NOW, scratch, sizeof(scratch), &ev),
                     VN_PARSE_OK);
    assert_int_equal(ev.title.len, 2);
    assert_int_equal(ev.text.len, 2);
    assert_int_equal(ev.ntags, 1);
    static const char e2[] = "_e{2,2}:\0\xff|\xff\x80";
    assert_int_equal(vn_parse_event(&k_plain, e2, sizeof(e2) - 1, NOW, scratch, sizeof(scratch), &ev),
                     VN_PARSE_ERR_NUL_BYTE);
    static const char e3[] = "_e{2,2}:ab|cd|#t\0";
    assert_int_equal(vn_parse_event(&k_plain, e3, sizeof(e3) - 1, NOW, scratch, sizeof(scratch), &ev),
                     VN_PARSE_ERR_NUL_BYTE);
    static const char e4[] = "_e{2,2}:ab|c\n";
    assert_int_equal(vn_parse_event(&k_plain, e4, sizeof(e4) - 1, NOW, scratch, sizeof(scratch), &ev),
                     VN_PARSE_ERR_NEWLINE);
    /* an escaped "\n" in event text is still unescaped to a newline (Go) */
    static const char e5[] = "_e{2,3}:ab|c\\n";
    assert_int_equal(vn_parse_event(&k_plain, e5, sizeof(e5) - 1, NOW, scratch, sizeof(scratch), &ev),
                     VN_PARSE_OK);
    assert_memory_equal(ev.text.p, "c\n", 2);

    static const char s1[] = "_sc|\x80\xff|1|m:\x80\\n";
    assert_int_equal(vn_parse_service_check(&k_plain, s1, sizeof(s1) - 1, NOW, scratch, sizeof(scratch), &sc),
                     VN_PARSE_OK);
    assert_int_equal(sc.name.len, 2);
    assert_int_equal(sc.message.len, 2);
    assert_memory_equal(sc.message.p, "\x80\n", 2);
    static const char s2[] = "_sc|\0\xff|1";
    assert_int_equal(vn_parse_service_check(&k_plain, s2, sizeof(s2) - 1, NOW, scratch, sizeof(scratch), &sc),
                     VN_PARSE_ERR_NUL_BYTE);
    static const char s3[] = "_sc|n|1|m:a\0";
    assert_int_equal(vn_parse_service_check(&k_plain, s3, sizeof(s3) - 1, NOW, scratch, sizeof(scratch), &sc),
                     VN_PARSE_ERR_NUL_BYTE);
    static const char s4[] = "_sc|n|1|#a\nb";
    assert_int_equal(vn_parse_service_check(&k_plain, s4, sizeof(s4) - 1, NOW, scratch, sizeof(scratch), &sc),
                     VN_PARSE_ERR_NEWLINE);
}

/* ------------------------------------------------------------ number table */

typedef struct {
    const char *in;
    int ok;
    double want;
} ncase_t;

/* Expected results were checked against Go 1.19 strconv.ParseFloat(s, 64). */
static const ncase_t k_num_cases[] = {
    {"1", 1, 1},
    {"-2.5", 1, -2.5},
    {"+3", 1, 3},
    {"1e3", 1, 1000},
    {"1E5", 1, 100000},
    {"0x1p-2", 1, 0.25},
    {"0X1P-2", 1, 0.25},
    {"0x1.8p1", 1, 3},
    {"0x.8p1", 1, 1},
    {"0x1.p0", 1, 1},
    {"0x1_0p0", 1, 16},
    {"0x_1p0", 1, 1},
    {"0x1p1_0", 1, 1024},
    {"1e-400", 1, 0},
    {"1e-310", 1, 1e-310},
    {".5", 1, 0.5},
    {"5.", 1, 5},
    {"-0", 1, -0.0},
    {"00012", 1, 12},
    {"0.30000000000000004", 1, 0.30000000000000004},
    {"9007199254740993", 1, 9007199254740992.0},  /* ties to even */
    {"9007199254740995", 1, 9007199254740996.0},
    {"123456789012345678901234567890", 1, 1.2345678901234568e29},
    {"2.4703282292062327e-324", 1, 0},             /* just under half the min subnormal */
    {"2.4703282292062328e-324", 1, 4.9406564584124654e-324},
    {"1.7976931348623157e308", 1, 1.7976931348623157e308},
    {"0.00000000000000000000000000000000000000000001", 1, 1e-44},
    {"0x1.fffffffffffff7ffffffffffp1023", 1, 1.7976931348623157e308},
    {"0e99999999999", 1, 0},
    {"1e-99999999999", 1, 0},
    /* rejected: syntax, overflow, NaN/Inf */
    {"1e400", 0, 0},
    {"1.7976931348623159e308", 0, 0},
    {"0x1.fffffffffffff8p1023", 0, 0},
    {"1e99999999999", 0, 0},
    {"nan", 0, 0},
    {"+nan", 0, 0},
    {"inf", 0, 0},
    {"-Infinity", 0, 0},
    {"infin", 0, 0},
    {"", 0, 0},
    {"+", 0, 0},
    {"-", 0, 0},
    {".", 0, 0},
    {"+.e1", 0, 0},
    {"1e", 0, 0},
    {"1e+", 0, 0},
    {"1e_5", 0, 0},
    {"1_e5", 0, 0},
    {"1_000", 0, 0}, /* docs/behaviour.md 1.2.9: '_' only with 0x (Go 1.13+ would accept it) */
    {"0x1__0p0", 0, 0},
    {"0x1p_10", 0, 0},
    {"0x1_p0", 0, 0},
    {"0x", 0, 0},
    {"0x1", 0, 0},
    {"0x1p", 0, 0},
    {"0b101", 0, 0},
    {"0o7", 0, 0},
    {"1d", 0, 0},
    {"1f", 0, 0},
    {"1.2.3", 0, 0},
    {"--1", 0, 0},
    {"1-", 0, 0},
};

static int parse_value(const char *s, double *v)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "x:%s|g", s);
    assert_true(n > 0 && (size_t)n < sizeof(line));
    static vn_metric_line_t m;
    assert_int_equal(vn_parse_metric(&k_plain, line, (size_t)n, &m), VN_PARSE_OK);
    vn_value_iter_t it;
    vn_value_iter_init(&it, &m);
    return vn_value_next_num(&it, v);
}

static void test_dogstatsd__number_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_num_cases) / sizeof(k_num_cases[0]); i++) {
        const ncase_t *c = &k_num_cases[i];
        double v = 0;
        int r = parse_value(c->in, &v);
        if (c->in[0] == '\0') {
            /* "x:|g" has no value at all */
            assert_int_equal(r, 0);
            continue;
        }
        if (r != (c->ok ? 1 : -1))
            fail_msg("%s: r=%d v=%.17g", c->in, r, v);
        if (c->ok && (v != c->want || signbit(v) != signbit(c->want)))
            fail_msg("%s: %.17g want %.17g", c->in, v, c->want);
    }
}

/* Long numbers go through the bounded canonical buffer (800 digits + sticky). */
static void test_dogstatsd__number_long(void **state)
{
    (void)state;
    char line[4200];
    static vn_metric_line_t m;
    vn_value_iter_t it;
    double v;
    /* "x:0.000...0001|g" with 3000 zeros: 1e-3001 rounds to 0 */
    size_t n = 0;
    n += (size_t)sprintf(line, "x:0.");
    memset(line + n, '0', 3000);
    n += 3000;
    n += (size_t)sprintf(line + n, "1|g");
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_OK);
    vn_value_iter_init(&it, &m);
    assert_int_equal(vn_value_next_num(&it, &v), 1);
    assert_true(v == 0);
    /* "1" followed by 2000 zeros then "e-2000": exactly 1 */
    n = (size_t)sprintf(line, "x:1");
    memset(line + n, '0', 2000);
    n += 2000;
    n += (size_t)sprintf(line + n, "e-2000|g");
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_OK);
    vn_value_iter_init(&it, &m);
    assert_int_equal(vn_value_next_num(&it, &v), 1);
    assert_true(v == 1);
    /* 1.000...0001 (1500 digits) sits just above 1: the sticky digit matters
     * only at a halfway point, here it must still round to 1 */
    n = (size_t)sprintf(line, "x:1.");
    memset(line + n, '0', 1500);
    n += 1500;
    n += (size_t)sprintf(line + n, "1|g");
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_OK);
    vn_value_iter_init(&it, &m);
    assert_int_equal(vn_value_next_num(&it, &v), 1);
    assert_true(v == 1);
    /* 1 + 2^-53 is exactly halfway between 1 and the next double: ties to
     * even gives 1; one more non-zero digit 1000 places later must round up. */
    const char *half = "1.00000000000000011102230246251565404236316680908203125";
    n = (size_t)sprintf(line, "x:%s", half);
    memset(line + n, '0', 1000);
    n += 1000;
    n += (size_t)sprintf(line + n, "|g");
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_OK);
    vn_value_iter_init(&it, &m);
    assert_int_equal(vn_value_next_num(&it, &v), 1);
    assert_true(v == 1.0);
    n -= 2;
    n += (size_t)sprintf(line + n, "1|g");
    assert_int_equal(vn_parse_metric(&k_plain, line, n, &m), VN_PARSE_OK);
    vn_value_iter_init(&it, &m);
    assert_int_equal(vn_value_next_num(&it, &v), 1);
    assert_true(v == nextafter(1.0, 2.0));
}

/* ------------------------------------------------------------------ errors */

static void test_dogstatsd__err_strings(void **state)
{
    (void)state;
    for (int e = 0; e <= VN_PARSE_ERR__COUNT; e++) {
        const char *r = vn_parse_err_reason((vn_parse_err_t)e);
        const char *m = vn_parse_err_message((vn_parse_err_t)e);
        assert_non_null(r);
        assert_non_null(m);
        assert_true(strlen(r) > 0 && strlen(m) > 0);
        for (const char *q = r; *q; q++)
            assert_true((*q >= 'a' && *q <= 'z') || *q == '_');
    }
    /* reasons are self-metric label values: one per code, no duplicates */
    for (int a = 0; a < VN_PARSE_ERR__COUNT; a++)
        for (int b = a + 1; b < VN_PARSE_ERR__COUNT; b++)
            assert_string_not_equal(vn_parse_err_reason((vn_parse_err_t)a), vn_parse_err_reason((vn_parse_err_t)b));
    assert_string_equal(vn_parse_err_reason((vn_parse_err_t)-1), "unknown");
    /* Go's wording where Go has one */
    assert_string_equal(vn_parse_err_message(VN_PARSE_ERR_NO_PIPE),
                        "Invalid metric packet, need at least 1 pipe for type");
    assert_string_equal(vn_parse_err_message(VN_PARSE_ERR_BAD_TYPE), "Invalid type for metric");
    assert_string_equal(vn_parse_err_message(VN_PARSE_ERR_EV_PRIORITY),
                        "Invalid event packet, priority must be normal or low");
    assert_string_equal(vn_parse_err_message(VN_PARSE_ERR_SC_MSG_NOT_LAST),
                        "Invalid service check packet, message must be the last metadata section");
    assert_non_null(strstr(vn_parse_err_message(VN_PARSE_ERR_RATE_RANGE), ">0"));
    assert_non_null(strstr(vn_parse_err_message(VN_PARSE_ERR_EV_TITLE_LEN), "title length"));
    assert_non_null(strstr(vn_parse_err_message(VN_PARSE_ERR_EV_TEXT_LEN), "text length"));
    assert_non_null(strstr(vn_parse_err_message(VN_PARSE_ERR_SC_EMPTY_SECTION), "pipe"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dogstatsd__metric_table),
        cmocka_unit_test(test_dogstatsd__binary_bytes),
        cmocka_unit_test(test_dogstatsd__number_table),
        cmocka_unit_test(test_dogstatsd__number_long),
        cmocka_unit_test(test_dogstatsd__err_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
