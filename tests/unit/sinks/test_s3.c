/*
 * test_s3.c - sinks/s3: Go's object key layout (UTC date, hostname, unix
 * seconds, chunk suffix), SigV4 path escaping, and config validation
 * (required bucket, region, credentials; AWS_* environment fallbacks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/s3.h"

static void test_s3__key(void **state)
{
    (void)state;
    char k[256];
    assert_int_equal(vn_s3__key(k, sizeof k, "web-1", 1476481302, 0), strlen("2016/10/14/web-1/1476481302.tsv.gz"));
    assert_string_equal(k, "2016/10/14/web-1/1476481302.tsv.gz");
    vn_s3__key(k, sizeof k, "web-1", 1476481302, 2);
    assert_string_equal(k, "2016/10/14/web-1/1476481302-2.tsv.gz");
    vn_s3__key(k, sizeof k, "", 86399, 0); /* 23:59:59 UTC on day one */
    assert_string_equal(k, "1970/01/01//86399.tsv.gz");
    assert_int_equal(vn_s3__key(k, 10, "web-1", 1476481302, 0), 0);
}

static void test_s3__escape(void **state)
{
    (void)state;
    vn_buf_t b = VN_BUF_INIT(256);
    assert_int_equal(vn_s3__escape_key(&b, "2016/10/14/h ost+é~_.-/1.tsv.gz"), VN_OK);
    assert_string_equal(vn_buf_ptr(&b), "2016/10/14/h%20ost%2B%C3%A9~_.-/1.tsv.gz");
    vn_buf_free(&b);
}

static vn_err_t make(vn_kv_t *kv, size_t n, char *err, size_t errcap)
{
    vn_sink_config_t sc = {.kind = "s3", .name = "arch", .kv = kv, .n_kv = n};
    vn_sink_t *s = NULL;
    vn_err_t rc = vn_sink_new(&sc, NULL, &s, err, errcap);
    vn_sink_free(s);
    return rc;
}

static void test_s3__config(void **state)
{
    (void)state;
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    char err[256];
    vn_kv_t full[] = {{.key = "s3_bucket", .value = "b"},
                      {.key = "region", .value = "us-west-2"},
                      {.key = "access_key_id", .value = "AK"},
                      {.key = "secret_access_key", .value = "SK"},
                      {.key = "s3_endpoint", .value = "http://127.0.0.1:9/"}};
    assert_int_equal(make(full, 5, err, sizeof err), VN_OK);
    assert_int_equal(make(full + 1, 4, err, sizeof err), VN_ERR_CONFIG); /* no bucket */
    assert_non_null(strstr(err, "s3_bucket"));
    vn_kv_t no_region[] = {full[0], full[2], full[3]};
    assert_int_equal(make(no_region, 3, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "region"));
    setenv("AWS_REGION", "eu-west-1", 1);
    assert_int_equal(make(no_region, 3, err, sizeof err), VN_OK);
    vn_kv_t no_creds[] = {full[0], full[1]};
    assert_int_equal(make(no_creds, 2, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "access_key_id"));
    setenv("AWS_ACCESS_KEY_ID", "EAK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ESK", 1);
    assert_int_equal(make(no_creds, 2, err, sizeof err), VN_OK);
    vn_kv_t bad_ep[] = {full[0], full[1], {.key = "s3_endpoint", .value = "s3.local:9000"}};
    assert_int_equal(make(bad_ep, 3, err, sizeof err), VN_ERR_CONFIG);
    assert_non_null(strstr(err, "s3_endpoint"));
    vn_kv_t bad_bucket[] = {{.key = "s3_bucket", .value = "a/b"}, full[1]};
    assert_int_equal(make(bad_bucket, 2, err, sizeof err), VN_ERR_CONFIG);
    unsetenv("AWS_REGION");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3__key),
        cmocka_unit_test(test_s3__escape),
        cmocka_unit_test(test_s3__config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
