/*
 * test_localfile.c - sinks/localfile: jsonl and gzip-CSV written to a temp file
 * and read back byte for byte.
 *
 * localfile.c is #included (h2o style) so one case can shrink the chunk cap and
 * exercise the multi-chunk path without writing 64 MiB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/stats.h"

#include "sinks/localfile.c"
#include "../test_rng.h"

/* ---------------------------------------------------------------- helpers */

typedef struct fixture {
    char dir[64];
    char path[128];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vn_localfile_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/out", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[400];
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

typedef struct sink_cfg {
    vn_kv_t kv[8];
    vn_sink_config_t sc;
} sink_cfg_t;

static void cfg_init(sink_cfg_t *c, const char *kind, const char *name)
{
    memset(c, 0, sizeof *c);
    c->sc.kind = (char *)kind;
    c->sc.name = (char *)name;
    c->sc.kv = c->kv;
}

static void cfg_set(sink_cfg_t *c, const char *key, const char *value)
{
    c->kv[c->sc.n_kv].key = (char *)key;
    c->kv[c->sc.n_kv].value = (char *)value;
    c->sc.n_kv++;
}

static vn_sink_t *new_sink(const char *name, const char *path, const char *format, const char *delim,
                           const vn_config_t *cfg)
{
    sink_cfg_t c;
    cfg_init(&c, "localfile", name);
    cfg_set(&c, "flush_file", path);
    if (format)
        cfg_set(&c, "format", format);
    if (delim)
        cfg_set(&c, "delimiter", delim);
    vn_sink_t *s = NULL;
    char err[256];
    vn_err_t rc = vn_sink_new(&c.sc, cfg, &s, err, sizeof err);
    if (rc != VN_OK)
        fail_msg("vn_sink_new: %s", err);
    return s;
}

/* Whole file, NUL-terminated; *len gets its size. */
static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t cap = 4096, n = 0;
    char *p = malloc(cap);
    size_t k;
    while ((k = fread(p + n, 1, cap - n - 1, fp)) > 0) {
        n += k;
        if (cap - n - 1 == 0)
            p = realloc(p, cap *= 2);
    }
    fclose(fp);
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

/* Inflates every concatenated gzip member; returns the text and the member count. */
static char *gunzip_all(const char *in, size_t n, int *members)
{
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    *members = 0;
    while (zs.avail_in > 0) {
        if (cap - len < 4096)
            out = realloc(out, cap *= 2);
        zs.next_out = (Bytef *)out + len;
        zs.avail_out = (uInt)(cap - len - 1);
        int rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - 1 - zs.avail_out;
        if (rc == Z_STREAM_END) {
            (*members)++;
            assert_int_equal(inflateReset(&zs), Z_OK);
        } else if (rc != Z_OK) {
            fail_msg("inflate: %d", rc);
        }
    }
    inflateEnd(&zs);
    out[len] = '\0';
    return out;
}

static vn_flush_info_t info_at(int64_t ts)
{
    return (vn_flush_info_t){.timestamp = ts, .interval_s = 10, .hostname = "host1", .deadline_s = 0};
}

#define M(name_, type_, value_, ts_, ...)                                                                     \
    {                                                                                                        \
        .name = (name_), .type = (type_), .value = (value_), .timestamp = (ts_),                            \
        .tags = (const char *const[]){__VA_ARGS__}, .ntags = sizeof((const char *const[]){__VA_ARGS__}) /    \
                                                                 sizeof(const char *) - 1,                 \
        .hostname = "host1"                                                                                  \
    }
/* Tag lists end with a NULL sentinel so an empty list is M(..., NULL). */

/* ---------------------------------------------------------------- jsonl */

static void test_localfile__jsonl_exact_lines(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_sink("file", f->path, "jsonl", NULL, NULL);
    vn_inter_metric_t m[] = {
        M("a.b.c", VN_IM_COUNTER, 3, 1700000000, "x:1", "y:2", NULL),
        M("g", VN_IM_GAUGE, 0.5, 1700000000, NULL),
        M("we\"ird\\n\xc3\xa9\x01", VN_IM_GAUGE, 123456789.125, 1700000000, "t:\"q\"", "\xc3\xbc:\n\t", NULL),
        M("svc.up", VN_IM_STATUS, 1, 1700000001, "check:a", NULL),
        M("nan", VN_IM_GAUGE, NAN, 1700000000, NULL),
        M("big", VN_IM_COUNTER, 1e21, 1700000000, NULL),
        M("tiny", VN_IM_GAUGE, -1e-7, 1700000000, NULL),
        M("bad\xff", VN_IM_GAUGE, 0.1, 1700000000, "host:h2", "device:d", NULL),
    };
    m[3].message = "all \"good\"\n";
    m[3].hostname = "checked-host";
    m[1].hostname = NULL; /* falls back to the flush's hostname */
    vn_flush_info_t info = info_at(1700000000);
    assert_int_equal(s->ops->flush(s, m, sizeof m / sizeof m[0], &info), VN_OK);
    char *got = read_all(f->path, NULL);
    const char *want =
        "{\"name\":\"a.b.c\",\"tags\":[\"x:1\",\"y:2\"],\"type\":\"counter\",\"value\":3,\"timestamp\":1700000000,"
        "\"hostname\":\"host1\",\"interval\":10}\n"
        "{\"name\":\"g\",\"tags\":[],\"type\":\"gauge\",\"value\":0.5,\"timestamp\":1700000000,"
        "\"hostname\":\"host1\",\"interval\":10}\n"
        "{\"name\":\"we\\\"ird\\\\n\xc3\xa9\\u0001\",\"tags\":[\"t:\\\"q\\\"\",\"\xc3\xbc:\\n\\t\"],\"type\":\"gauge\","
        "\"value\":123456789.125,\"timestamp\":1700000000,\"hostname\":\"host1\",\"interval\":10}\n"
        "{\"name\":\"svc.up\",\"tags\":[\"check:a\"],\"type\":\"status\",\"value\":1,\"timestamp\":1700000001,"
        "\"hostname\":\"checked-host\",\"interval\":10,\"message\":\"all \\\"good\\\"\\n\"}\n"
        "{\"name\":\"nan\",\"tags\":[],\"type\":\"gauge\",\"value\":null,\"timestamp\":1700000000,"
        "\"hostname\":\"host1\",\"interval\":10}\n"
        "{\"name\":\"big\",\"tags\":[],\"type\":\"counter\",\"value\":1e+21,\"timestamp\":1700000000,"
        "\"hostname\":\"host1\",\"interval\":10}\n"
        "{\"name\":\"tiny\",\"tags\":[],\"type\":\"gauge\",\"value\":-1e-7,\"timestamp\":1700000000,"
        "\"hostname\":\"host1\",\"interval\":10}\n"
        "{\"name\":\"bad\\ufffd\",\"tags\":[\"host:h2\",\"device:d\"],\"type\":\"gauge\",\"value\":0.1,"
        "\"timestamp\":1700000000,\"hostname\":\"host1\",\"interval\":10}\n";
    assert_string_equal(got, want);
    free(got);
    vn_sink_free(s);
}

/* The jsonl fast path shares one line tail per timestamp and hostname: a change
 * of either mid-call, and a copy of the flush's hostname, give the same bytes. */
static void test_localfile__jsonl_tail_follows_timestamp_and_host(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_sink("file", f->path, "jsonl", NULL, NULL);
    static char host_copy[] = "host1";
    vn_inter_metric_t m[] = {
        M("a", VN_IM_COUNTER, 1, 5, NULL), M("b", VN_IM_COUNTER, 2, 6, "k:v", NULL), M("c", VN_IM_GAUGE, 3, 5, NULL),
        M("d", VN_IM_GAUGE, 4, 5, NULL),   M("e", VN_IM_GAUGE, 5, 5, NULL),
    };
    m[0].hostname = NULL;
    m[2].hostname = host_copy;
    m[3].hostname = "other<&>";
    vn_flush_info_t info = info_at(5);
    assert_int_equal(s->ops->flush(s, m, 5, &info), VN_OK);
    char *got = read_all(f->path, NULL);
    const char *want =
        "{\"name\":\"a\",\"tags\":[],\"type\":\"counter\",\"value\":1,\"timestamp\":5,\"hostname\":\"host1\",\"interval\":10}\n"
        "{\"name\":\"b\",\"tags\":[\"k:v\"],\"type\":\"counter\",\"value\":2,\"timestamp\":6,\"hostname\":\"host1\","
        "\"interval\":10}\n"
        "{\"name\":\"c\",\"tags\":[],\"type\":\"gauge\",\"value\":3,\"timestamp\":5,\"hostname\":\"host1\",\"interval\":10}\n"
        "{\"name\":\"d\",\"tags\":[],\"type\":\"gauge\",\"value\":4,\"timestamp\":5,\"hostname\":\"other<&>\","
        "\"interval\":10}\n"
        "{\"name\":\"e\",\"tags\":[],\"type\":\"gauge\",\"value\":5,\"timestamp\":5,\"hostname\":\"host1\",\"interval\":10}\n";
    assert_string_equal(got, want);
    free(got);
    vn_sink_free(s);
}

static void test_localfile__jsonl_appends_across_flushes(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_sink("file", f->path, "jsonl", NULL, NULL);
    vn_inter_metric_t m1[] = {M("one", VN_IM_COUNTER, 1, 1700000000, NULL)};
    vn_inter_metric_t m2[] = {M("two", VN_IM_GAUGE, 2.25, 1700000010, "k:v", NULL)};
    vn_flush_info_t i1 = info_at(1700000000), i2 = info_at(1700000010);
    i2.interval_s = 0.5;
    assert_int_equal(s->ops->flush(s, m1, 1, &i1), VN_OK);
    assert_int_equal(s->ops->flush(s, NULL, 0, &i1), VN_OK); /* empty flush adds nothing */
    assert_int_equal(s->ops->flush(s, m2, 1, &i2), VN_OK);
    char *got = read_all(f->path, NULL);
    assert_string_equal(got, "{\"name\":\"one\",\"tags\":[],\"type\":\"counter\",\"value\":1,\"timestamp\":1700000000,"
                             "\"hostname\":\"host1\",\"interval\":10}\n"
                             "{\"name\":\"two\",\"tags\":[\"k:v\"],\"type\":\"gauge\",\"value\":2.25,"
                             "\"timestamp\":1700000010,\"hostname\":\"host1\",\"interval\":0.5}\n");
    free(got);
    /* a second sink instance on the same file appends too (O_APPEND) */
    vn_sink_t *s2 = new_sink("file2", f->path, "jsonl", NULL, NULL);
    assert_int_equal(s2->ops->flush(s2, m1, 1, &i1), VN_OK);
    size_t len;
    got = read_all(f->path, &len);
    assert_int_equal(len, 2 * strlen("{\"name\":\"one\",\"tags\":[],\"type\":\"counter\",\"value\":1,"
                                     "\"timestamp\":1700000000,\"hostname\":\"host1\",\"interval\":10}\n") +
                              strlen("{\"name\":\"two\",\"tags\":[\"k:v\"],\"type\":\"gauge\",\"value\":2.25,"
                                     "\"timestamp\":1700000010,\"hostname\":\"host1\",\"interval\":0.5}\n"));
    free(got);
    vn_sink_free(s2);
    vn_sink_free(s);
}

static void test_localfile__excluded_tags_and_sink_only(void **state)
{
    fixture_t *f = *state;
    char *rules[] = {"host", "env|file|other", "dc|other", ""};
    vn_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.tags_exclude.v = rules;
    cfg.tags_exclude.n = 4;
    vn_sink_t *s = new_sink("file", f->path, "jsonl", NULL, &cfg);
    vn_inter_metric_t m[] = {
        M("kept", VN_IM_GAUGE, 1, 1700000000, "dc:1", "env:prod", "host:a", "hostname:b", "z:1", NULL),
        M("mine", VN_IM_GAUGE, 2, 1700000000, NULL),
        M("theirs", VN_IM_GAUGE, 3, 1700000000, NULL),
    };
    m[1].sink_only = "file";
    m[2].sink_only = "other";
    vn_flush_info_t info = info_at(1700000000);
    assert_int_equal(s->ops->flush(s, m, 3, &info), VN_OK);
    char *got = read_all(f->path, NULL);
    assert_string_equal(got, "{\"name\":\"kept\",\"tags\":[\"dc:1\",\"z:1\"],\"type\":\"gauge\",\"value\":1,"
                             "\"timestamp\":1700000000,\"hostname\":\"host1\",\"interval\":10}\n"
                             "{\"name\":\"mine\",\"tags\":[],\"type\":\"gauge\",\"value\":2,"
                             "\"timestamp\":1700000000,\"hostname\":\"host1\",\"interval\":10}\n");
    free(got);
    vn_sink_free(s);

    /* csv drops the same tags */
    char csvpath[160];
    snprintf(csvpath, sizeof csvpath, "%s.csv.gz", f->path);
    s = new_sink("file", csvpath, NULL, NULL, &cfg);
    assert_int_equal(s->ops->flush(s, m, 3, &info), VN_OK);
    size_t len;
    char *gz = read_all(csvpath, &len);
    int members;
    char *text = gunzip_all(gz, len, &members);
    assert_int_equal(members, 1);
    assert_string_equal(text, "kept\t{dc:1,z:1}\tgauge\thost1\t10\t2023-11-14 10:13:20\t1\t20231114\n"
                              "mine\t{}\tgauge\thost1\t10\t2023-11-14 10:13:20\t2\t20231114\n");
    free(text);
    free(gz);
    vn_sink_free(s);
}

/* Lines stay whole when a flush is bigger than one chunk. */
static void test_localfile__jsonl_chunks_end_on_lines(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_sink("file", f->path, "jsonl", NULL, NULL);
    localfile_t *lf = s->impl;
    vn_buf_free(&lf->text);
    vn_buf_init(&lf->text, 300); /* about two lines per chunk */
    vn_inter_metric_t m[7];
    char names[7][24];
    for (int i = 0; i < 7; i++) {
        snprintf(names[i], sizeof names[i], "metric.%d", i);
        m[i] = (vn_inter_metric_t){.name = names[i], .type = VN_IM_GAUGE, .value = i, .timestamp = 1700000000,
                                   .hostname = "host1"};
    }
    vn_flush_info_t info = info_at(1700000000);
    assert_int_equal(s->ops->flush(s, m, 7, &info), VN_OK);
    char *got = read_all(f->path, NULL);
    char *line = got;
    for (int i = 0; i < 7; i++) {
        char want[256];
        snprintf(want, sizeof want,
                 "{\"name\":\"metric.%d\",\"tags\":[],\"type\":\"gauge\",\"value\":%d,\"timestamp\":1700000000,"
                 "\"hostname\":\"host1\",\"interval\":10}\n",
                 i, i);
        assert_memory_equal(line, want, strlen(want));
        line += strlen(want);
    }
    assert_string_equal(line, "");
    free(got);

    /* a single metric larger than a chunk is dropped and reported, the rest written */
    vn_buf_free(&lf->text);
    vn_buf_init(&lf->text, 120);
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    m[0].name = longname;
    unlink(f->path);
    assert_int_equal(s->ops->flush(s, m, 2, &info), VN_ERR_TOO_LARGE);
    got = read_all(f->path, NULL);
    assert_string_equal(got, "{\"name\":\"metric.1\",\"tags\":[],\"type\":\"gauge\",\"value\":1,"
                             "\"timestamp\":1700000000,\"hostname\":\"host1\",\"interval\":10}\n");
    free(got);
    vn_sink_free(s);
}

/* ---------------------------------------------------------------- csv */

static void test_localfile__csv_rows(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_sink("file", f->path, NULL, NULL, NULL); /* csv, tab by default */
    vn_inter_metric_t m[] = {
        M("a.b", VN_IM_COUNTER, 3, 1699967109, "x:1", "y:2", NULL), /* 13:05:09 UTC */
        M("g", VN_IM_GAUGE, 1e21, 1699921800, NULL),                 /* 00:30:00 UTC */
        M("svc", VN_IM_STATUS, 0, 1699967109, NULL),                 /* skipped */
        M("noon", VN_IM_COUNTER, 0, 1699963201, NULL),               /* 12:00:01 UTC */
        M("has\ttab", VN_IM_GAUGE, -1e-6, 1699967109, NULL),
        M("say \"hi\"", VN_IM_GAUGE, 1e-7, 1699967109, NULL),
        M(" lead", VN_IM_GAUGE, 2, 1699967109, NULL),
        M("\\.", VN_IM_GAUGE, 2, 1699967109, NULL),
        M("line\nbreak\rcr", VN_IM_GAUGE, 2, 1699967109, NULL),
        M("\xc2\xa0nbsp", VN_IM_GAUGE, 2, 1699967109, NULL),
        M("\xe3\x80\x80ideo", VN_IM_GAUGE, 2, 1699967109, NULL),
        M("mid space,comma", VN_IM_GAUGE, 2, 1699967109, NULL),
        M("", VN_IM_GAUGE, 2, 1699967109, "q:\"v\"", NULL),
        M("leap", VN_IM_GAUGE, 123456789.125, 1709251199, NULL), /* 2024-02-29 23:59:59 */
    };
    vn_flush_info_t info = info_at(1699967109);
    assert_int_equal(s->ops->flush(s, m, sizeof m / sizeof m[0], &info), VN_OK);
    size_t len;
    char *gz = read_all(f->path, &len);
    assert_true(len > 18);
    assert_int_equal((unsigned char)gz[0], 0x1f); /* gzip magic */
    assert_int_equal((unsigned char)gz[1], 0x8b);
    int members;
    char *text = gunzip_all(gz, len, &members);
    assert_int_equal(members, 1);
    const char *want = "a.b\t{x:1,y:2}\trate\thost1\t10\t2023-11-14 01:05:09\t0.3\t20231114\n"
                       "g\t{}\tgauge\thost1\t10\t2023-11-14 12:30:00\t1000000000000000000000\t20231114\n"
                       "noon\t{}\trate\thost1\t10\t2023-11-14 12:00:01\t0\t20231114\n"
                       "\"has\ttab\"\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t-0.000001\t20231114\n"
                       "\"say \"\"hi\"\"\"\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t0.0000001\t20231114\n"
                       "\" lead\"\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t2\t20231114\n"
                       "\"\\.\"\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t2\t20231114\n"
                       "\"line\nbreak\rcr\"\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t2\t20231114\n"
                       "\"\xc2\xa0nbsp\"\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t2\t20231114\n"
                       "\"\xe3\x80\x80ideo\"\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t2\t20231114\n"
                       "mid space,comma\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t2\t20231114\n"
                       "\t\"{q:\"\"v\"\"}\"\tgauge\thost1\t10\t2023-11-14 01:05:09\t2\t20231114\n"
                       "leap\t{}\tgauge\thost1\t10\t2024-02-29 11:59:59\t123456789.125\t20231114\n";
    assert_string_equal(text, want);
    free(text);
    free(gz);
    vn_sink_free(s);
}

static void test_localfile__csv_other_delimiters(void **state)
{
    fixture_t *f = *state;
    vn_inter_metric_t m[] = {
        M("x,y", VN_IM_GAUGE, 1.5, 1699967109, "a:1", "b:2", NULL),
        M("one", VN_IM_GAUGE, 1.5, 1699967109, "a:1", NULL),
    };
    vn_flush_info_t info = info_at(1699967109);
    info.hostname = "";
    info.interval_s = 2.5; /* Interval column is whole seconds; Value uses the real interval */
    m[1].type = VN_IM_COUNTER;
    vn_sink_t *s = new_sink("file", f->path, "csv", ",", NULL);
    assert_int_equal(s->ops->flush(s, m, 2, &info), VN_OK);
    vn_sink_free(s);
    size_t len;
    char *gz = read_all(f->path, &len);
    int members;
    char *text = gunzip_all(gz, len, &members);
    assert_string_equal(text, "\"x,y\",\"{a:1,b:2}\",gauge,,2,2023-11-14 01:05:09,1.5,20231114\n"
                              "one,{a:1},rate,,2,2023-11-14 01:05:09,0.6,20231114\n");
    free(text);
    free(gz);

    /* a multi-byte rune (U+00A6), and only the first rune of a longer string counts */
    char p2[160];
    snprintf(p2, sizeof p2, "%s.2", f->path);
    s = new_sink("file", p2, "csv", "\xc2\xa6zz", NULL);
    m[0].name = "a\xc2\xa6" "b";
    assert_int_equal(s->ops->flush(s, m, 1, &info), VN_OK);
    vn_sink_free(s);
    gz = read_all(p2, &len);
    text = gunzip_all(gz, len, &members);
    assert_string_equal(text, "\"a\xc2\xa6" "b\"\xc2\xa6{a:1,b:2}\xc2\xa6gauge\xc2\xa6\xc2\xa6" "2\xc2\xa6"
                              "2023-11-14 01:05:09\xc2\xa6" "1.5\xc2\xa6" "20231114\n");
    free(text);
    free(gz);

    /* space as delimiter: the timestamp contains it, so it is quoted (Go does the same) */
    char p3[160];
    snprintf(p3, sizeof p3, "%s.3", f->path);
    s = new_sink("file", p3, "csv", " ", NULL);
    m[0].name = "n";
    assert_int_equal(s->ops->flush(s, m, 1, &info), VN_OK);
    vn_sink_free(s);
    gz = read_all(p3, &len);
    text = gunzip_all(gz, len, &members);
    assert_string_equal(text, "n {a:1,b:2} gauge  2 \"2023-11-14 01:05:09\" 1.5 20231114\n");
    free(text);
    free(gz);
}

static void test_localfile__csv_member_per_flush(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_sink("file", f->path, "csv", "\t", NULL);
    vn_inter_metric_t m1[] = {M("first", VN_IM_GAUGE, 1, 1699967109, NULL)};
    vn_inter_metric_t m2[] = {M("second", VN_IM_COUNTER, 20, 1699967119, "t:1", NULL)};
    vn_flush_info_t i1 = info_at(1699967109), i2 = info_at(1699967119);
    assert_int_equal(s->ops->flush(s, m1, 1, &i1), VN_OK);
    size_t len1;
    free(read_all(f->path, &len1));
    assert_int_equal(s->ops->flush(s, m2, 1, &i2), VN_OK);
    size_t len;
    char *gz = read_all(f->path, &len);
    assert_true(len > len1);
    assert_int_equal((unsigned char)gz[len1], 0x1f); /* second member starts right after the first */
    int members;
    char *text = gunzip_all(gz, len, &members);
    assert_int_equal(members, 2);
    assert_string_equal(text, "first\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t1\t20231114\n"
                              "second\t{t:1}\trate\thost1\t10\t2023-11-14 01:05:19\t2\t20231114\n");
    free(text);
    free(gz);

    /* chunking: each chunk is its own member, rows stay whole */
    localfile_t *lf = s->impl;
    vn_buf_free(&lf->text);
    vn_buf_init(&lf->text, 130);
    vn_inter_metric_t m3[] = {
        M("r1", VN_IM_GAUGE, 1, 1699967109, NULL),
        M("r2", VN_IM_GAUGE, 2, 1699967109, NULL),
        M("r3", VN_IM_GAUGE, 3, 1699967109, NULL),
    };
    unlink(f->path);
    assert_int_equal(s->ops->flush(s, m3, 3, &i1), VN_OK);
    gz = read_all(f->path, &len);
    text = gunzip_all(gz, len, &members);
    assert_int_equal(members, 2);
    assert_string_equal(text, "r1\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t1\t20231114\n"
                              "r2\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t2\t20231114\n"
                              "r3\t{}\tgauge\thost1\t10\t2023-11-14 01:05:09\t3\t20231114\n");
    free(text);
    free(gz);
    vn_sink_free(s);
}

/* ---------------------------------------------------------------- config and errors */

static void test_localfile__config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *flush_file, *format, *delimiter;
        const char *want; /* substring of the message */
    } cases[] = {
        {NULL, NULL, NULL, "flush_file"},
        {"", "jsonl", NULL, "flush_file"},
        {"/tmp/x", "xml", NULL, "format: unknown value \"xml\""},
        {"/tmp/x", "JSONL", NULL, "format"},
        {"/tmp/x", "csv", "\"", "delimiter"},
        {"/tmp/x", "csv", "\n", "delimiter"},
        {"/tmp/x", NULL, "", "delimiter"},
        {"/tmp/x", NULL, "\xff", "delimiter"},
        {"/tmp/x", NULL, "\xef\xbf\xbd", "delimiter"}, /* U+FFFD */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sink_cfg_t c;
        cfg_init(&c, "localfile", "lf");
        if (cases[i].flush_file)
            cfg_set(&c, "flush_file", cases[i].flush_file);
        if (cases[i].format)
            cfg_set(&c, "format", cases[i].format);
        if (cases[i].delimiter)
            cfg_set(&c, "delimiter", cases[i].delimiter);
        vn_sink_t *s = (vn_sink_t *)1;
        char err[256] = "";
        assert_int_equal(vn_sink_new(&c.sc, NULL, &s, err, sizeof err), VN_ERR_CONFIG);
        assert_null(s);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].want);
        assert_non_null(strstr(err, "\"lf\""));
    }
    /* the delimiter is ignored for jsonl, and NULL errbuf is allowed */
    sink_cfg_t c;
    cfg_init(&c, "localfile", "lf");
    cfg_set(&c, "flush_file", "/tmp/x");
    cfg_set(&c, "format", "jsonl");
    cfg_set(&c, "delimiter", "\"");
    vn_sink_t *s = NULL;
    assert_int_equal(vn_sink_new(&c.sc, NULL, &s, NULL, 0), VN_OK);
    assert_string_equal(s->ops->kind, "localfile");
    assert_null(s->ops->flush_events);
    vn_sink_free(s);
}

static void test_localfile__open_failure(void **state)
{
    fixture_t *f = *state;
    char bad[200];
    snprintf(bad, sizeof bad, "%s/no/such/dir/out", f->dir);
    vn_sink_t *s = new_sink("file", bad, "jsonl", NULL, NULL);
    vn_inter_metric_t m[] = {M("x", VN_IM_GAUGE, 1, 1700000000, NULL)};
    vn_flush_info_t info = info_at(1700000000);
    assert_int_equal(s->ops->flush(s, m, 1, &info), VN_ERR_IO);
    vn_sink_free(s);
}

/* ---------------------------------------------------------------- full disk */

/* A disk that fills up: RLIMIT_FSIZE makes writes past `limit` bytes fail
 * with EFBIG (SIGXFSZ ignored, as main.c does), like ENOSPC would. */
static struct rlimit limit_file_size(rlim_t limit)
{
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit lim = {.rlim_cur = limit, .rlim_max = old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    return old;
}

static void fill_metrics(vn_inter_metric_t *m, size_t n, char names[][32], int64_t ts)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], 32, "full.disk.%zu", i);
        m[i] = (vn_inter_metric_t){.name = names[i], .type = VN_IM_GAUGE, .value = (double)i, .timestamp = ts,
                                   .hostname = "host1"};
    }
}

static size_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
}

static size_t count_char(const char *p, char c)
{
    size_t n = 0;
    for (; *p; p++)
        n += *p == c;
    return n;
}

static void full_disk_case(fixture_t *f, const char *format)
{
    signal(SIGXFSZ, SIG_IGN);
    vn_sink_t *s = new_sink("file", f->path, format, NULL, NULL);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    s->stats = &slot;
    enum { N = 200 };
    static char names[N][32];
    vn_inter_metric_t m[N];
    fill_metrics(m, N, names, 1700000000);
    vn_flush_info_t info = info_at(1700000000);

    assert_int_equal(s->ops->flush(s, m, N, &info), VN_OK);
    size_t good = file_size(f->path);
    assert_true(good > 0);

    /* the disk has room for half of the next flush: nothing of it may stay */
    size_t room = good + (strcmp(format, "jsonl") == 0 ? good / 2 : 64);
    struct rlimit old = limit_file_size((rlim_t)room);
    vn_err_t err = s->ops->flush(s, m, N, &info);
    int saved = errno;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(err, VN_ERR_IO);
    assert_int_equal(saved, EFBIG);
    assert_int_equal(file_size(f->path), good);
    assert_int_equal(vn_stats_get(&slot.dropped), N);

    /* room again: the next flush appends after the last whole record */
    assert_int_equal(s->ops->flush(s, m, N, &info), VN_OK);
    size_t len;
    char *data = read_all(f->path, &len);
    char *text = data;
    int members = 0;
    if (strcmp(format, "csv") == 0) {
        text = gunzip_all(data, len, &members);
        assert_int_equal(members, 2);
    }
    assert_int_equal(count_char(text, '\n'), 2 * N);
    assert_int_equal(text[strlen(text) - 1], '\n');
    if (text != data)
        free(text);
    free(data);
    vn_sink_free(s);
}

static void test_localfile__full_disk_jsonl(void **state) { full_disk_case(*state, "jsonl"); }
static void test_localfile__full_disk_csv(void **state) { full_disk_case(*state, "csv"); }

/* Chunks already written in the same flush stay; the failing one and the rest go. */
static void test_localfile__full_disk_mid_flush(void **state)
{
    fixture_t *f = *state;
    signal(SIGXFSZ, SIG_IGN);
    vn_sink_t *s = new_sink("file", f->path, "jsonl", NULL, NULL);
    vn_stats_sink_t slot;
    memset(&slot, 0, sizeof slot);
    s->stats = &slot;
    localfile_t *lf = s->impl;
    vn_buf_free(&lf->text);
    vn_buf_init(&lf->text, 1000); /* ~10 lines per chunk */
    enum { N = 100 };
    static char names[N][32];
    vn_inter_metric_t m[N];
    fill_metrics(m, N, names, 1700000000);
    vn_flush_info_t info = info_at(1700000000);
    struct rlimit old = limit_file_size(2500);
    vn_err_t err = s->ops->flush(s, m, N, &info);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(err, VN_ERR_IO);
    char *text = read_all(f->path, NULL);
    size_t lines = count_char(text, '\n');
    assert_true(lines > 0 && lines < N);
    assert_int_equal(text[strlen(text) - 1], '\n');
    assert_int_equal(vn_stats_get(&slot.dropped), N - lines);
    free(text);
    vn_sink_free(s);
}

/* A FIFO nobody reads fails the open at once instead of blocking the sink. */
static void test_localfile__fifo_without_reader(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(mkfifo(f->path, 0600), 0);
    vn_sink_t *s = new_sink("file", f->path, "jsonl", NULL, NULL);
    vn_inter_metric_t m[] = {M("x", VN_IM_GAUGE, 1, 1700000000, NULL)};
    vn_flush_info_t info = info_at(1700000000);
    assert_int_equal(s->ops->flush(s, m, 1, &info), VN_ERR_IO);
    assert_int_equal(errno, ENXIO);
    vn_sink_free(s);
}

/* json_plain agrees with the escaping writer's verbatim set for every byte at
 * every position of strings up to 19 bytes (the 8-byte steps and the padded tail). */
static void test_localfile__json_plain_every_byte(void **state)
{
    (void)state;
    char str[24], out[VN_JSON_STRING_MAX(24)];
    for (size_t len = 1; len < 20; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (int c = 0; c < 256; c++) {
                memset(str, 'x', len);
                str[pos] = (char)c;
                size_t n = vn_json_put_string(out, str, len);
                bool verbatim = n == len + 2 && memcmp(out + 1, str, len) == 0;
                if (json_plain(str, len) != verbatim)
                    fail_msg("byte 0x%02x at %zu of %zu", c, pos, len);
            }
        }
    }
    assert_true(json_plain("", 0));
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) { return vn_test_rng_next(&g_rng); }

/* jsonl_fast writes jsonl_line's bytes: integral, fractional, huge, tiny,
 * signed-zero and non-finite values, names and tags needing escapes or not. */
static void test_localfile__jsonl_fast_matches_general(void **state)
{
    fixture_t *f = *state;
    vn_sink_t *s = new_sink("file", f->path, "jsonl", NULL, NULL);
    localfile_t *lf = s->impl;
    static const double fixed[] = {0.0, -0.0, 1, -1, 7, 10, 100, 123456789, 999999999999999.0, 1e15, -1e15,
                                   1e15 + 2, 9007199254740992.0, 1e21, 1e-7, 0.5, -2.25, 1e300, NAN, INFINITY,
                                   -INFINITY, 4503599627370495.5, 0.1, 3.0000000000000004};
    static const char *const names[] = {"lg.c.n1", "", "a\"b", "back\\slash", "tab\tx", "utf8 \xc3\xa9",
                                        "bad \xff", "del\x7f", "<html>&", "exactly8", "sixteen.bytes.xx"};
    const char *tagsets[][2] = {{"k:v", "x:\"y"}, {"a:b", "c:d"}};
    vn_flush_info_t info = info_at(5);
    vn_buf_t want;
    vn_buf_init(&want, 1 << 20);
    for (size_t i = 0; i < 4000; i++) {
        double v;
        uint64_t r = rnd();
        if (i < sizeof fixed / sizeof fixed[0])
            v = fixed[i];
        else if (r % 3 == 0)
            v = (double)(int64_t)(rnd() % 2000000000000000ull) - 1e15;
        else if (r % 3 == 1)
            v = (double)(int64_t)(rnd() % 100000) * ((r >> 8) % 2 ? 1 : -1);
        else
            memcpy(&v, &r, sizeof v);
        vn_inter_metric_t m = M(names[i % (sizeof names / sizeof names[0])], i % 2 ? VN_IM_GAUGE : VN_IM_COUNTER, v,
                                5, NULL);
        m.tags = tagsets[i % 2];
        m.ntags = i % 3;
        vn_buf_reset(&want);
        vn_buf_reset(&lf->text);
        lf->tail_ok = false;
        assert_int_equal(jsonl_line(&want, s, &m, &info), VN_OK);
        vn_err_t err = VN_ERR_PARSE;
        assert_true(jsonl_fast(lf, s, &m, &info, &err));
        assert_int_equal(err, VN_OK);
        if (vn_buf_len(&want) != vn_buf_len(&lf->text) ||
            memcmp(vn_buf_ptr(&want), vn_buf_ptr(&lf->text), vn_buf_len(&want)) != 0)
            fail_msg("value %.17g (%s): want %.*s got %.*s", v, m.name, (int)vn_buf_len(&want), vn_buf_ptr(&want),
                     (int)vn_buf_len(&lf->text), vn_buf_ptr(&lf->text));
    }
    vn_buf_free(&want);
    vn_buf_reset(&lf->text);
    vn_sink_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_localfile__jsonl_exact_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__jsonl_tail_follows_timestamp_and_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__jsonl_appends_across_flushes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__excluded_tags_and_sink_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__jsonl_chunks_end_on_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__csv_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__csv_other_delimiters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__csv_member_per_flush, setup, teardown),
        cmocka_unit_test(test_localfile__config_errors),
        cmocka_unit_test_setup_teardown(test_localfile__open_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__full_disk_jsonl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__full_disk_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__full_disk_mid_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localfile__fifo_without_reader, setup, teardown),
        cmocka_unit_test(test_localfile__json_plain_every_byte),
        cmocka_unit_test_setup_teardown(test_localfile__jsonl_fast_matches_general, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
