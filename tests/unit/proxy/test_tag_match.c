/*
 * test_tag_match.c - proxy/tag_match: exact and prefix matchers give the
 * same answers on the word-compare path (values of 1..8 bytes, tags of 8
 * or more) as a plain byte comparison, for every value and tag length
 * around the 8-byte edge, including tags that differ only in their last
 * compared byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/tag_match.h"

static bool naive(const char *kind, const char *value, const char *tag, size_t len)
{
    size_t vl = strlen(value);
    if (strcmp(kind, "exact") == 0)
        return len == vl && memcmp(tag, value, vl) == 0;
    return len >= vl && memcmp(tag, value, vl) == 0;
}

static void test_tagm__word_path_agrees(void **state)
{
    (void)state;
    const char *kinds[] = {"exact", "prefix"};
    char value[16], tag[32];
    for (int k = 0; k < 2; k++) {
        for (size_t vl = 0; vl <= 12; vl++) {
            for (size_t i = 0; i < vl; i++)
                value[i] = (char)('a' + i);
            value[vl] = 0;
            vn_tag_matcher_t cfg = {.kind = (char *)kinds[k], .value = value};
            vn_tagm_set_t set;
            char err[128];
            assert_int_equal(vn_tagm_set_init(&set, &cfg, 1, err, sizeof err), VN_OK);
            for (size_t tl = 0; tl <= 20; tl++) {
                /* a tag that starts like the value, then each byte in turn changed */
                for (size_t i = 0; i < tl; i++)
                    tag[i] = (char)('a' + i);
                assert_int_equal(vn_tagm_set_match(&set, tag, tl), naive(kinds[k], value, tag, tl));
                for (size_t d = 0; d < tl; d++) {
                    char saved = tag[d];
                    tag[d] = (char)(saved ^ 0x20);
                    assert_int_equal(vn_tagm_set_match(&set, tag, tl), naive(kinds[k], value, tag, tl));
                    tag[d] = saved;
                }
            }
            vn_tagm_set_destroy(&set);
        }
    }
}

/* Several matchers: the word path of one does not hide a later regex or a longer value. */
static void test_tagm__mixed_set(void **state)
{
    (void)state;
    char k_prefix[] = "prefix", k_exact[] = "exact", k_regex[] = "regex";
    char v_host[] = "host:", v_env[] = "env:prod", v_az[] = "availability-zone:", v_pod[] = "^pod_[0-9]+$";
    vn_tag_matcher_t cfg[] = {{.kind = k_prefix, .value = v_host},
                              {.kind = k_exact, .value = v_env},
                              {.kind = k_prefix, .value = v_az},
                              {.kind = k_regex, .value = v_pod}};
    vn_tagm_set_t set;
    char err[128];
    assert_int_equal(vn_tagm_set_init(&set, cfg, 4, err, sizeof err), VN_OK);
    const struct {
        const char *tag;
        bool want;
    } cases[] = {{"host:h1", true},     {"host:a-long-host-name", true}, {"hos", false},
                 {"hostname:x", false}, {"env:prod", true},               {"env:prod2", false},
                 {"env:pro", false},    {"availability-zone:us", true},   {"availability-zone", false},
                 {"pod_12", true},      {"pod_12x", false},               {"service:api", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(vn_tagm_set_match(&set, cases[i].tag, strlen(cases[i].tag)), cases[i].want);
    vn_tagm_set_destroy(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tagm__word_path_agrees),
        cmocka_unit_test(test_tagm__mixed_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
