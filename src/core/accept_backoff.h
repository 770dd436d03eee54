/**
 * accept_backoff.h - what a level-triggered epoll listener does when accept(2)
 * fails for want of resources, shared by the statsd stream listeners and the
 * gRPC import server.
 *
 * EMFILE, ENFILE, ENOMEM, ENOBUFS leave the listener readable, so retrying at
 * once spins a core. The listener is taken out of epoll for a pause that
 * starts at min_ms and doubles up to max_ms while failures keep coming. An
 * episode is a run of failures less than quiet_ms apart: the owner logs once
 * when one starts (vn_accept_backoff_pause returns true) and may log once when
 * accepting works again (vn_accept_backoff_accepted returns the pauses since),
 * so a descriptor storm that lasts minutes does not flood the log.
 *
 * The struct is plain state owned by one event-loop thread (not thread-safe);
 * times are any monotonic milliseconds the owner chooses. The owner does the
 * epoll work (removing and re-adding its listeners) and the counting.
 */
#ifndef VN_CORE_ACCEPT_BACKOFF_H
#define VN_CORE_ACCEPT_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/** What to do after accept4 failed with errno err. */
typedef enum vn_accept_next {
    VN_ACCEPT_NEXT = 0,    /* that one connection failed (EINTR, ECONNABORTED, EPROTO, EPERM): try the next */
    VN_ACCEPT_DRAINED = 1, /* EAGAIN / EWOULDBLOCK: the backlog is empty */
    VN_ACCEPT_PAUSE = 2,   /* anything else (EMFILE, ENFILE, ENOMEM, ENOBUFS, ...): call vn_accept_backoff_pause */
} vn_accept_next_t;

vn_accept_next_t vn_accept_classify(int err);

typedef struct vn_accept_backoff {
    uint64_t min_ms, max_ms, quiet_ms; /* set by init */
    bool paused;                       /* listeners are out of epoll until resume_ms */
    bool in_episode;
    uint64_t backoff_ms, resume_ms, last_error_ms;
    uint64_t pauses_unreported; /* pauses since the last successful accept */
} vn_accept_backoff_t;

void vn_accept_backoff_init(vn_accept_backoff_t *b, uint64_t min_ms, uint64_t max_ms, uint64_t quiet_ms);

/**
 * Records a resource failure at now and starts a pause (the caller takes its
 * listeners out of epoll). Returns true when this failure starts a new
 * episode (the first pause, min_ms long): the caller logs it.
 */
bool vn_accept_backoff_pause(vn_accept_backoff_t *b, uint64_t now);

/** Milliseconds until the pause ends (0 when due), capped at cap_ms; cap_ms when not paused.
 *  An epoll_wait timeout. */
int vn_accept_backoff_wait_ms(const vn_accept_backoff_t *b, uint64_t now, int cap_ms);

/** True once, when a pause is over at now: the caller re-arms its listeners. */
bool vn_accept_backoff_resume_due(vn_accept_backoff_t *b, uint64_t now);

/** A connection was accepted. Returns the pauses since the previous successful
 *  accept (0 almost always; > 0 once after a pause, for a "resumed" log line). */
uint64_t vn_accept_backoff_accepted(vn_accept_backoff_t *b);

#endif
