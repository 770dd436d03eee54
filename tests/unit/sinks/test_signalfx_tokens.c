/*
 * test_signalfx_tokens.c - sinks/signalfx_tokens: token API pages parsed
 * strictly (all or nothing per page), merged into the per-tag token table
 * (new names appended, fetched secrets replace configured ones, nothing
 * removed), and the encoder then picks the fetched token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/signalfx.h"

static void test_sfx_tokens__parse(void **state)
{
    (void)state;
    vn_sfx_token_list_t l = {0};
    size_t count;
    char err[256];
    const char *page = "{\"count\":3,\"results\":[{\"name\":\"a\",\"secret\":\"S1\",\"id\":\"x\"},"
                       "{\"name\":\"b\\u00e9\",\"secret\":\"S2\"}]}";
    assert_int_equal(vn_sfx__parse_token_page(&l, page, strlen(page), &count, err, sizeof err), VN_OK);
    assert_int_equal(count, 2);
    assert_string_equal(l.names[1], "b\xc3\xa9");
    assert_string_equal(l.secrets[0], "S1");
    const char *empty = "{\"results\":[]}";
    assert_int_equal(vn_sfx__parse_token_page(&l, empty, strlen(empty), &count, err, sizeof err), VN_OK);
    assert_int_equal(count, 0);
    static const char *bad[] = {
        "{\"results\":{}}", "[]", "{\"results\":[{\"name\":\"a\"}]}", "{\"results\":[{\"name\":1,\"secret\":\"s\"}]}",
        "{\"results\":[{\"name\":\"a\",\"secret\":\"s\\n\"}]}", "{\"results\":[{\"name\":\"a\",\"secret\":\"\"}]}",
        "{\"results\":[{\"name\":\"ok\",\"secret\":\"s\"},{\"name\":\"a\"}]}", "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vn_sfx__parse_token_page(&l, bad[i], strlen(bad[i]), &count, err, sizeof err),
                         VN_ERR_PARSE);
        assert_int_equal(l.n, 2); /* nothing taken from a bad page */
    }
    vn_sfx__token_list_free(&l);
}

static void test_sfx_tokens__merge_and_use(void **state)
{
    (void)state;
    vn_kv_t kv[] = {{.key = "api_key", .value = "DEF"},
                    {.key = "vary_key_by", .value = "team"},
                    {.key = "per_tag_api_keys.0.name", .value = "static"},
                    {.key = "per_tag_api_keys.0.api_key", .value = "ST1"}};
    vn_sink_config_t sc = {.kind = "signalfx", .kv = kv, .n_kv = 4};
    vn_sfx_t x;
    assert_int_equal(vn_sfx__init(&x, &sc, "sfx", NULL, 0), VN_OK);
    vn_sfx_token_list_t l = {0};
    size_t count;
    const char *page = "{\"results\":[{\"name\":\"dyn\",\"secret\":\"D1\"},{\"name\":\"static\",\"secret\":\"ST2\"},"
                       "{\"name\":\"dyn\",\"secret\":\"D2\"}]}";
    assert_int_equal(vn_sfx__parse_token_page(&l, page, strlen(page), &count, NULL, 0), VN_OK);
    assert_int_equal(vn_sfx__merge_tokens(&x, &l), 1);
    assert_int_equal(x.n_per_tag, 2);
    int st = vn_sfx__token_for(&x, "static"), dy = vn_sfx__token_for(&x, "dyn");
    assert_string_equal(x.per_tag[st].header, "X-Sf-Token: ST2"); /* the fetched secret wins */
    assert_string_equal(x.per_tag[dy].header, "X-Sf-Token: D2");  /* a later duplicate wins */
    assert_int_equal(vn_sfx__token_for(&x, "other"), -1);
    /* a second round without "dyn" keeps it (Go never removes) */
    vn_sfx__token_list_free(&l);
    const char *p2 = "{\"results\":[{\"name\":\"new\",\"secret\":\"N1\"}]}";
    assert_int_equal(vn_sfx__parse_token_page(&l, p2, strlen(p2), &count, NULL, 0), VN_OK);
    assert_int_equal(vn_sfx__merge_tokens(&x, &l), 1);
    assert_int_equal(x.n_per_tag, 3);
    assert_true(vn_sfx__token_for(&x, "dyn") >= 0);
    vn_sfx__token_list_free(&l);
    vn_sfx__destroy(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sfx_tokens__parse),
        cmocka_unit_test(test_sfx_tokens__merge_and_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
