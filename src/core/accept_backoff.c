/*
 * accept_backoff.c - pause/doubling/episode bookkeeping for accept(2) failures
 * (see accept_backoff.h). Pure state: no syscalls, so it is unit-tested with
 * made-up clocks.
 */
#include "core/accept_backoff.h"

#include <errno.h>

vn_accept_next_t vn_accept_classify(int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        return VN_ACCEPT_DRAINED;
    if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM)
        return VN_ACCEPT_NEXT;
    return VN_ACCEPT_PAUSE;
}

void vn_accept_backoff_init(vn_accept_backoff_t *b, uint64_t min_ms, uint64_t max_ms, uint64_t quiet_ms)
{
    *b = (vn_accept_backoff_t){.min_ms = min_ms, .max_ms = max_ms < min_ms ? min_ms : max_ms, .quiet_ms = quiet_ms};
}

bool vn_accept_backoff_pause(vn_accept_backoff_t *b, uint64_t now)
{
    bool fresh = !b->in_episode || now - b->last_error_ms >= b->quiet_ms;
    if (fresh) {
        b->in_episode = true;
        b->backoff_ms = b->min_ms;
    } else {
        b->backoff_ms = b->backoff_ms * 2 > b->max_ms ? b->max_ms : b->backoff_ms * 2;
    }
    b->last_error_ms = now;
    b->paused = true;
    b->resume_ms = now + b->backoff_ms;
    b->pauses_unreported++;
    return fresh;
}

int vn_accept_backoff_wait_ms(const vn_accept_backoff_t *b, uint64_t now, int cap_ms)
{
    if (!b->paused)
        return cap_ms;
    uint64_t left = b->resume_ms > now ? b->resume_ms - now : 0;
    return left > (uint64_t)cap_ms ? cap_ms : (int)left;
}

bool vn_accept_backoff_resume_due(vn_accept_backoff_t *b, uint64_t now)
{
    if (!b->paused || now < b->resume_ms)
        return false;
    b->paused = false;
    return true;
}

uint64_t vn_accept_backoff_accepted(vn_accept_backoff_t *b)
{
    uint64_t n = b->pauses_unreported;
    b->pauses_unreported = 0;
    return n;
}
