/* test_log.c - core/log: per-call-site rate limit and value quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* Captures what the logger writes to fd 2 into a temporary file. */
static int g_saved = -1;
static FILE *g_cap;

static void capture_begin(void)
{
    fflush(stderr);
    g_cap = tmpfile();
    assert_non_null(g_cap);
    g_saved = dup(STDERR_FILENO);
    dup2(fileno(g_cap), STDERR_FILENO);
}

/* Returns the captured text (caller frees). */
static char *capture_end(void)
{
    dup2(g_saved, STDERR_FILENO);
    close(g_saved);
    long n = ftell(g_cap);
    char *s = calloc(1, (size_t)n + 1);
    rewind(g_cap);
    size_t r = fread(s, 1, (size_t)n, g_cap);
    s[r] = '\0';
    fclose(g_cap);
    return s;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_log__burst_then_suppressed(void **state)
{
    (void)state;
    vn_log_set_level(VN_LOG_INFO);
    uint64_t before = vn_log_suppressed_total();
    capture_begin();
    for (int i = 0; i < 1000; i++)
        VN_LOG(WARN, "event=flood i=%d", i);
    char *out = capture_end();
    /* one call site: the burst, plus at most one refill if a second boundary passed */
    size_t lines = count(out, "event=flood");
    assert_true(lines >= VN_LOG_BURST && lines <= VN_LOG_BURST + 1);
    assert_int_equal(count(out, "\n"), lines);
    assert_true(vn_log_suppressed_total() - before >= 1000 - lines);
    free(out);
}

static void test_log__sites_are_independent(void **state)
{
    (void)state;
    capture_begin();
    for (int i = 0; i < 50; i++) {
        VN_LOG(WARN, "event=site_a");
        VN_LOG(WARN, "event=site_b");
    }
    char *out = capture_end();
    assert_true(count(out, "event=site_a") >= VN_LOG_BURST);
    assert_true(count(out, "event=site_b") >= VN_LOG_BURST);
    assert_true(count(out, "event=site_a") <= VN_LOG_BURST + 1);
    free(out);
}

static void test_log__refill_reports_suppressed(void **state)
{
    (void)state;
    vn_log_site_t site = {0};
    capture_begin();
    for (unsigned i = 0; i < VN_LOG_BURST + 5; i++)
        vn_log_write_site(&site, VN_LOG_WARN, 0, "event=x");
    /* pretend the last refill was long ago: the bucket fills up again */
    atomic_store(&site.bucket, (uint64_t)1 << 8);
    vn_log_write_site(&site, VN_LOG_WARN, 0, "event=after");
    vn_log_write_site(&site, VN_LOG_WARN, 0, "event=again");
    char *out = capture_end();
    assert_int_equal(count(out, "event=x"), VN_LOG_BURST);
    assert_non_null(strstr(out, "event=after log_suppressed=5\n"));
    assert_non_null(strstr(out, "event=again\n")); /* the count is reported once */
    free(out);
}

static void test_log__below_level_takes_no_token(void **state)
{
    (void)state;
    vn_log_site_t site = {0};
    vn_log_set_level(VN_LOG_WARN);
    for (int i = 0; i < 100; i++)
        vn_log_write_site(&site, VN_LOG_DEBUG, 0, "event=hidden");
    capture_begin();
    vn_log_write_site(&site, VN_LOG_WARN, 0, "event=shown");
    char *out = capture_end();
    assert_non_null(strstr(out, "event=shown\n"));
    vn_log_set_level(VN_LOG_INFO);
    free(out);
}

static void test_log__newline_in_argument_stays_one_line(void **state)
{
    (void)state;
    capture_begin();
    vn_log_write(VN_LOG_WARN, 0, "event=x name=%s", "a\nlevel=error event=forged");
    char *out = capture_end();
    assert_int_equal(count(out, "\n"), 1);
    free(out);
}

static void test_log__errno_suffix(void **state)
{
    (void)state;
    capture_begin();
    errno = ENOENT;
    VN_LOG_ERRNO(ERROR, "event=open_failed");
    char *out = capture_end();
    assert_non_null(strstr(out, "event=open_failed errno=2 err=\""));
    free(out);
}

static void *thread_flood(void *arg)
{
    vn_log_site_t *site = arg;
    for (int i = 0; i < 2000; i++)
        vn_log_write_site(site, VN_LOG_WARN, 0, "event=threads");
    return NULL;
}

static void test_log__threads_share_one_bucket(void **state)
{
    (void)state;
    vn_log_site_t site = {0};
    capture_begin();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_flood, &site);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *out = capture_end();
    size_t n = count(out, "event=threads");
    assert_true(n >= VN_LOG_BURST && n <= VN_LOG_BURST + 2);
    /* a slow run may also show the periodic report of an earlier test's sites */
    assert_int_equal(count(out, "\n") - count(out, "event=log_suppressed "), n);
    free(out);
}

static void test_log__quote_plain_and_escapes(void **state)
{
    (void)state;
    char b[VN_LOG_QUOTE_CAP];
    assert_string_equal(vn_log_quote_cstr(b, sizeof b, "abc.def"), "\"abc.def\"");
    assert_string_equal(vn_log_quote_cstr(b, sizeof b, ""), "\"\"");
    assert_string_equal(vn_log_quote_cstr(b, sizeof b, NULL), "\"\"");
    assert_string_equal(vn_log_quote_cstr(b, sizeof b, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_string_equal(vn_log_quote_cstr(b, sizeof b, "x\ny\rz\t"), "\"x\\ny\\rz\\t\"");
    assert_string_equal(vn_log_quote_cstr(b, sizeof b, "\x01\x7f"), "\"\\x01\\x7f\"");
    assert_string_equal(vn_log_quote(b, sizeof b, "n\0a", 3), "\"n\\x00a\""); /* NUL shown, not a cut */
    assert_string_equal(vn_log_quote_cstr(b, sizeof b, "k=v level=error"), "\"k=v level=error\"");
}

static void test_log__quote_truncates_with_marker(void **state)
{
    (void)state;
    char b[64];
    char big[70000];
    memset(big, 'a', sizeof big);
    const char *q = vn_log_quote(b, sizeof b, big, sizeof big);
    assert_true(strlen(q) < sizeof b);
    assert_non_null(strstr(q, "...\"(len=70000)"));
    assert_int_equal(q[0], '"');
    /* escapes are never cut in half */
    char esc[200];
    memset(esc, '\n', sizeof esc);
    q = vn_log_quote(b, sizeof b, esc, sizeof esc);
    const char *m = strstr(q, "...\"");
    assert_non_null(m);
    assert_true((m - q - 1) % 2 == 0);
    /* a value that fits exactly is not cut */
    char fit[29];
    memset(fit, 'b', sizeof fit);
    char small[32];
    q = vn_log_quote(small, sizeof small, fit, sizeof fit);
    assert_int_equal(strlen(q), 31);
    assert_null(strstr(q, "..."));
    /* too small a buffer: empty, NUL-terminated */
    char tiny[8];
    assert_string_equal(vn_log_quote(tiny, sizeof tiny, "abc", 3), "");
    assert_ptr_equal(vn_log_quote(NULL, 0, "abc", 3), NULL);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What fd 2 has received so far while capturing (caller frees). */
static char *capture_peek(void)
{
    int fd = fileno(g_cap);
    off_t n = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)n + 1);
    ssize_t r = pread(fd, s, (size_t)n, 0);
    s[r > 0 ? r : 0] = '\0';
    return s;
}

/* A burst followed by silence: the explicit report names the site and gives the exact count, once. */
static void test_log__quiet_site_reported_once(void **state)
{
    (void)state;
    capture_begin();
    int site_line = __LINE__ + 2;
    for (int i = 0; i < 300; i++)
        VN_LOG(WARN, "event=burst i=%d", i);
    char want[256];
    snprintf(want, sizeof want, "event=log_suppressed site=%s:%d count=", __FILE__, site_line);
    bool seen = false;
    for (double deadline = mono_now() + 8; !seen && mono_now() < deadline;) {
        vn_log_report_suppressed();
        char *now = capture_peek();
        seen = strstr(now, want) != NULL;
        free(now);
        if (!seen)
            usleep(50 * 1000);
    }
    assert_int_equal(vn_log_report_suppressed(), 0); /* taken: not reported twice */
    char *out = capture_end();
    size_t written = count(out, "event=burst ");
    assert_true(written >= VN_LOG_BURST && written <= VN_LOG_BURST + 1);
    snprintf(want, sizeof want, "event=log_suppressed site=%s:%d count=%zu ", __FILE__, site_line, 300 - written);
    if (!strstr(out, want))
        fail_msg("no \"%s\" in:\n%s", want, out);
    assert_int_equal(count(out, want), 1);
    assert_int_equal(count(out, "log_suppressed="), 0); /* the site itself never logged again */
    free(out);
}

/* Nobody calls the report: any later line (another site) triggers it, at most once a second. */
static void test_log__report_rides_on_any_line(void **state)
{
    (void)state;
    capture_begin();
    int site_line = __LINE__ + 2;
    for (int i = 0; i < 50; i++)
        VN_LOG(WARN, "event=burst2 i=%d", i);
    char want[256];
    snprintf(want, sizeof want, "event=log_suppressed site=%s:%d count=%d ", __FILE__, site_line, 50 - VN_LOG_BURST);
    bool seen = false;
    int ticks = 0;
    for (double deadline = mono_now() + 8; !seen && mono_now() < deadline; ticks++) {
        vn_log_write(VN_LOG_INFO, 0, "event=tick");
        char *now = capture_peek();
        seen = strstr(now, want) != NULL;
        free(now);
        if (!seen)
            usleep(100 * 1000);
    }
    char *out = capture_end();
    if (!seen)
        fail_msg("no \"%s\" after %d ticks in:\n%s", want, ticks, out);
    assert_int_equal(count(out, "event=burst2 "), VN_LOG_BURST);
    free(out);
}

/* VN_LOG_Q: a hostile value stays one quoted logfmt value of one line. */
static void test_log__q_macro(void **state)
{
    (void)state;
    capture_begin();
    VN_LOG(WARN, "event=q name=%s other=%s", VN_LOG_Q("a\"b\nlevel=error x=\\"), VN_LOG_QN("n\0m", 3));
    char *out = capture_end();
    assert_int_equal(count(out, "\n"), 1);
    assert_non_null(strstr(out, "event=q name=\"a\\\"b\\nlevel=error x=\\\\\" other=\"n\\x00m\"\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log__burst_then_suppressed),
        cmocka_unit_test(test_log__sites_are_independent),
        cmocka_unit_test(test_log__refill_reports_suppressed),
        cmocka_unit_test(test_log__below_level_takes_no_token),
        cmocka_unit_test(test_log__newline_in_argument_stays_one_line),
        cmocka_unit_test(test_log__errno_suffix),
        cmocka_unit_test(test_log__threads_share_one_bucket),
        cmocka_unit_test(test_log__quote_plain_and_escapes),
        cmocka_unit_test(test_log__quote_truncates_with_marker),
        cmocka_unit_test(test_log__q_macro),
        cmocka_unit_test(test_log__quiet_site_reported_once),
        cmocka_unit_test(test_log__report_rides_on_any_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
