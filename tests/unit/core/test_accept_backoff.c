/* test_accept_backoff.c - core/accept_backoff: error classes, doubling, episodes, resume. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "core/accept_backoff.h"

static void test_accept_backoff__classify(void **state)
{
    (void)state;
    assert_int_equal(vn_accept_classify(EAGAIN), VN_ACCEPT_DRAINED);
    assert_int_equal(vn_accept_classify(EWOULDBLOCK), VN_ACCEPT_DRAINED);
    const int next[] = {EINTR, ECONNABORTED, EPROTO, EPERM};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(vn_accept_classify(next[i]), VN_ACCEPT_NEXT);
    const int pause[] = {EMFILE, ENFILE, ENOMEM, ENOBUFS, EBADF, EINVAL};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(vn_accept_classify(pause[i]), VN_ACCEPT_PAUSE);
}

/* 100, 200, 400, 800, 1000, 1000 ms while failures stay under the quiet gap; one new episode each gap. */
static void test_accept_backoff__doubling_and_episodes(void **state)
{
    (void)state;
    vn_accept_backoff_t b;
    vn_accept_backoff_init(&b, 100, 1000, 10000);
    assert_false(b.paused);
    assert_int_equal(vn_accept_backoff_wait_ms(&b, 5, 1000), 1000);
    assert_false(vn_accept_backoff_resume_due(&b, 5));
    const uint64_t want[] = {100, 200, 400, 800, 1000, 1000};
    uint64_t now = 1000;
    for (size_t i = 0; i < 6; i++) {
        bool fresh = vn_accept_backoff_pause(&b, now);
        assert_int_equal(fresh, i == 0); /* one log line per episode */
        assert_true(b.paused);
        assert_int_equal(b.backoff_ms, want[i]);
        assert_int_equal(vn_accept_backoff_wait_ms(&b, now, 1000), (int)want[i]);
        assert_int_equal(vn_accept_backoff_wait_ms(&b, now + 30, 50), want[i] - 30 < 50 ? (int)(want[i] - 30) : 50);
        assert_false(vn_accept_backoff_resume_due(&b, now + want[i] - 1));
        assert_true(vn_accept_backoff_resume_due(&b, now + want[i]));
        assert_false(vn_accept_backoff_resume_due(&b, now + want[i])); /* once */
        assert_int_equal(vn_accept_backoff_wait_ms(&b, now + want[i], 1000), 1000);
        now += want[i];
    }
    /* a success reports the pauses once; the episode (and its backoff) lasts until the quiet gap */
    assert_int_equal(vn_accept_backoff_accepted(&b), 6);
    assert_int_equal(vn_accept_backoff_accepted(&b), 0);
    now += 8000; /* 9 s after the last failure */
    assert_false(vn_accept_backoff_pause(&b, now));
    assert_int_equal(b.backoff_ms, 1000);
    assert_true(vn_accept_backoff_resume_due(&b, now + 1000));
    assert_true(vn_accept_backoff_pause(&b, now + 10000)); /* quiet long enough: a new episode */
    assert_int_equal(b.backoff_ms, 100);
    assert_int_equal(vn_accept_backoff_wait_ms(&b, now + 10000 + 500, 1000), 0); /* overdue */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_backoff__classify),
        cmocka_unit_test(test_accept_backoff__doubling_and_episodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
