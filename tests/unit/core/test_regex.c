/* test_regex.c - core/regex: RE2 through the C shim, Go's dialect, linear time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/regex.h"

static bool m(const char *pat, const char *s)
{
    char err[256];
    vn_regex_t *re = vn_regex_compile(pat, err, sizeof err);
    assert_non_null(re);
    bool r = vn_regex_match(re, s, strlen(s));
    vn_regex_free(re);
    return r;
}

static void test_regex__go_dialect(void **state)
{
    (void)state;
    assert_true(m("^pod:[a-z]+-\\d+$", "pod:web-12"));
    assert_false(m("^pod:[a-z]+-\\d+$", "pod:web-x"));
    assert_true(m("(?i)secret", "my-SECRET-tag")); /* unanchored, case-insensitive */
    assert_true(m("\\w+_id:\\S", "user_id:42"));
    assert_false(m("\\w+_id:\\S", "user_id: 42"));
    assert_true(m("[\\D]", "x"));                  /* negated class inside brackets */
    assert_true(m("^a.*?b$", "axxbxxb"));          /* non-greedy */
    assert_true(m("^\\pL+$", "h\xc3\xa9llo"));     /* Unicode classes */
    assert_true(m("a\\z", "ba"));
    assert_true(m("", "anything"));
    assert_true(m("x|y", "y"));
}

static void test_regex__errors(void **state)
{
    (void)state;
    char err[256] = "";
    const char *bad[] = {"a(b", "(a)\\1", "a(?=b)", "[z-a]", "x{1001}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(vn_regex_compile(bad[i], err, sizeof err));
        assert_true(strlen(err) > 0);
    }
    vn_regex_free(NULL);
}

static void test_regex__slices_and_nul(void **state)
{
    (void)state;
    char err[64];
    vn_regex_t *re = vn_regex_compile("^pod:api-\\d$", err, sizeof err);
    const char buf[] = "pod:api-7XYZ";
    assert_true(vn_regex_match(re, buf, 9)); /* not NUL-terminated at 9 */
    assert_false(vn_regex_match(re, buf, 10));
    assert_false(vn_regex_match(re, NULL, 0));
    vn_regex_free(re);
    re = vn_regex_compile("a\\x00b", err, sizeof err);
    assert_non_null(re);
    assert_true(vn_regex_match(re, "xa\0b", 4));
    vn_regex_free(re);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Patterns that make glibc's regexec take 8-10 s on this 64 KiB tag (issue 15) stay linear. */
static void test_regex__64k_tag_is_fast(void **state)
{
    (void)state;
    size_t n = 64 * 1024;
    char *tag = malloc(n);
    memset(tag, 'a', n);
    memcpy(tag, "tag:", 4);
    const char *pats[] = {"(a|aa)*b", "(.*a){8}x", "([a-z]+)*[0-9]", "(?i)(x+x+)+y", "(\\w+\\s?)*$"};
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        char err[256];
        vn_regex_t *re = vn_regex_compile(pats[i], err, sizeof err);
        assert_non_null(re);
        double t = now();
        for (int k = 0; k < 10; k++)
            (void)vn_regex_match(re, tag, n);
        double per = (now() - t) / 10;
        /* a linear scan of 64 KiB is well under a millisecond; 50 ms leaves room for ASan and a loaded box */
        if (per > 0.05)
            fail_msg("pattern %s took %.3f s on a 64 KiB tag", pats[i], per);
        vn_regex_free(re);
    }
    free(tag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex__go_dialect),
        cmocka_unit_test(test_regex__errors),
        cmocka_unit_test(test_regex__slices_and_nul),
        cmocka_unit_test(test_regex__64k_tag_is_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
