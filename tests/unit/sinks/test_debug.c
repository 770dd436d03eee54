/* test_debug.c - sinks/debug: one line per metric and per event, read back from its output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/sink.h"

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vn_debug_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/out.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static vn_sink_t *new_debug(const char *name, const char *output, const vn_config_t *cfg)
{
    vn_kv_t kv[1] = {{.key = "output", .value = (char *)output}};
    vn_sink_config_t sc = {.kind = "debug", .name = (char *)name, .kv = kv, .n_kv = output ? 1 : 0};
    vn_sink_t *s = NULL;
    char err[256];
    if (vn_sink_new(&sc, cfg, &s, err, sizeof err) != VN_OK)
        fail_msg("vn_sink_new: %s", err);
    return s;
}

static const vn_flush_info_t info = {.timestamp = 1700000000, .interval_s = 10, .hostname = "h"};

static void test_debug__metric_lines(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_debug("debug", f->path, NULL);
    assert_string_equal(s->ops->kind, "debug");
    const char *t1[] = {"a:b", "c:d"};
    const char *t2[] = {"x:\ny"};
    vn_inter_metric_t m[] = {
        {.name = "a.b.c", .timestamp = 1700000000, .value = 3, .tags = t1, .ntags = 2, .type = VN_IM_COUNTER,
         .hostname = "h"},
        {.name = "g", .timestamp = 1700000000, .value = 0.25, .type = VN_IM_GAUGE, .hostname = ""},
        {.name = "svc.up", .timestamp = 1700000001, .value = 2, .type = VN_IM_STATUS, .hostname = "other",
         .message = "disk \"full\"\\ on\n/"},
        {.name = "ctl\x01name", .timestamp = 1700000000, .value = NAN, .tags = t2, .ntags = 1,
         .type = VN_IM_GAUGE, .hostname = "h"},
        {.name = "big", .timestamp = 1700000000, .value = 1e21, .type = VN_IM_GAUGE, .hostname = "h"},
        {.name = "neg", .timestamp = 1700000000, .value = -INFINITY, .type = VN_IM_GAUGE, .hostname = "h"},
    };
    assert_int_equal(s->ops->flush(s, m, sizeof m / sizeof m[0], &info), VN_OK);
    assert_string_equal(read_all(f->path),
                        "flush ts=1700000000 type=counter name=a.b.c value=3 tags=[a:b,c:d] host=h\n"
                        "flush ts=1700000000 type=gauge name=g value=0.25 tags=[] host=\n"
                        "flush ts=1700000001 type=status name=svc.up value=2 tags=[] host=other "
                        "message=\"disk \\\"full\\\"\\\\ on\\x0a/\"\n"
                        "flush ts=1700000000 type=gauge name=ctl\\x01name value=NaN tags=[x:\\x0ay] host=h\n"
                        "flush ts=1700000000 type=gauge name=big value=1e+21 tags=[] host=h\n"
                        "flush ts=1700000000 type=gauge name=neg value=-Inf tags=[] host=h\n");
    /* a second flush appends */
    assert_int_equal(s->ops->flush(s, m, 1, &info), VN_OK);
    const char *all = read_all(f->path);
    const char *last = "flush ts=1700000000 type=counter name=a.b.c value=3 tags=[a:b,c:d] host=h\n";
    assert_string_equal(all + strlen(all) - strlen(last), last);
    vn_sink_free(s);
}

static void test_debug__events(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_debug("debug", f->path, NULL);
    assert_non_null(s->ops->flush_events);
    const char *tags[] = {"env:prod"};
    vn_sink_event_t ev[] = {
        {.title = "deploy", .text = "v2 \"out\"\nnow", .hostname = "h1", .agg_key = "k", .priority = "low",
         .source_type = "jenkins", .alert_type = "success", .timestamp = 1700000005, .tags = tags, .ntags = 1},
        {.title = "bare", .text = "", .timestamp = 1700000006},
    };
    s->ops->flush_events(s, ev, 2, &info);
    assert_string_equal(read_all(f->path),
                        "event ts=1700000005 title=\"deploy\" text=\"v2 \\\"out\\\"\\x0anow\" host=\"h1\" "
                        "aggregation_key=\"k\" priority=\"low\" source_type=\"jenkins\" alert_type=\"success\" "
                        "tags=[env:prod]\n"
                        "event ts=1700000006 title=\"bare\" text=\"\" tags=[]\n");
    vn_sink_free(s);
}

static void test_debug__excluded_tags_and_sink_only(void **state)
{
    fixture_t *f = *state;
    char *rules[] = {"secret", "env|dbg"};
    vn_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.tags_exclude.v = rules;
    cfg.tags_exclude.n = 2;
    vn_sink_t *s = new_debug("dbg", f->path, &cfg);
    const char *tags[] = {"a:1", "env:x", "secret:y", "z:2"};
    vn_inter_metric_t m[] = {
        {.name = "m1", .timestamp = 1, .value = 1, .tags = tags, .ntags = 4, .type = VN_IM_GAUGE, .hostname = "h"},
        {.name = "m2", .timestamp = 1, .value = 2, .type = VN_IM_GAUGE, .hostname = "h", .sink_only = "dbg"},
        {.name = "m3", .timestamp = 1, .value = 3, .type = VN_IM_GAUGE, .hostname = "h", .sink_only = "dd"},
    };
    assert_int_equal(s->ops->flush(s, m, 3, &info), VN_OK);
    assert_string_equal(read_all(f->path), "flush ts=1 type=gauge name=m1 value=1 tags=[a:1,z:2] host=h\n"
                                           "flush ts=1 type=gauge name=m2 value=2 tags=[] host=h\n");
    vn_sink_free(s);
}

/* Without `output` (or with "-") the sink writes to stdout. */
static void test_debug__stdout(void **state)
{
    fixture_t *f = *state;
    const char *outputs[] = {NULL, "-"};
    for (int i = 0; i < 2; i++) {
        fflush(stdout);
        int saved = dup(1);
        int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(saved >= 0 && fd >= 0);
        dup2(fd, 1);
        close(fd);
        vn_sink_t *s = new_debug("debug", outputs[i], NULL);
        vn_inter_metric_t m = {.name = "to.stdout", .timestamp = 7, .value = 1.5, .type = VN_IM_GAUGE,
                               .hostname = "h"};
        vn_err_t err = s->ops->flush(s, &m, 1, &info);
        vn_sink_free(s); /* must not close stdout */
        fflush(stdout);
        dup2(saved, 1);
        close(saved);
        assert_int_equal(err, VN_OK);
        assert_string_equal(read_all(f->path), "flush ts=7 type=gauge name=to.stdout value=1.5 tags=[] host=h\n");
    }
    assert_true(fflush(stdout) == 0);
}

static void test_debug__bad_output(void **state)
{
    fixture_t *f = *state;
    char bad[200];
    snprintf(bad, sizeof bad, "%s/missing/dir/log", f->dir);
    vn_kv_t kv[1] = {{.key = "output", .value = bad}};
    vn_sink_config_t sc = {.kind = "debug", .name = "dbg", .kv = kv, .n_kv = 1};
    vn_sink_t *s = (vn_sink_t *)1;
    char err[256];
    assert_int_equal(vn_sink_new(&sc, NULL, &s, err, sizeof err), VN_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err, "output"));
    assert_non_null(strstr(err, bad));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_debug__metric_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug__events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug__excluded_tags_and_sink_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug__stdout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug__bad_output, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
