/*
 * dgram.c - datagram reader thread (UDP and unixgram): recvmmsg bursts into
 * private buffers, each datagram split into lines by the ingest path. Full
 * batches go to the workers at once; a part-filled one when the socket has
 * been quiet for 1 ms or 10 ms have passed, so hand-off latency stays bounded
 * while workers are woken per batch rather than per burst.
 *
 * A datagram longer than metric_max_length is dropped whole (docs/behaviour.md 1.1): the
 * buffers are metric_max_length + 1 bytes, so truncation is detectable.
 *
 * Stop (dgram.h): the idle poll also watches wake_fd, so every reader leaves
 * at once; then the socket is read until EAGAIN (bounded by drain_s) because
 * what the kernel already queued was sent before the shutdown and belongs in
 * the final flush.
 */
#include "listen/dgram.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

#define VLEN 64

/* Hands n received datagrams to the ingest path and counts them. */
static void take(vn_dgram_reader_t *r, struct mmsghdr *msgs, struct iovec *iov, int n)
{
    uint64_t bytes = 0, toolong = 0;
    for (int i = 0; i < n; i++) {
        size_t len = msgs[i].msg_len;
        bytes += len;
        if (len > r->max_len || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
            msgs[i].msg_hdr.msg_flags = 0;
            toolong++;
            continue;
        }
        vn_ingest_packet(r->ingest, iov[i].iov_base, len);
        msgs[i].msg_hdr.msg_flags = 0;
    }
    vn_stats_add(&r->stats->packets[r->proto], (uint64_t)n);
    vn_stats_add(&r->stats->bytes[r->proto], bytes);
    vn_stats_add(&r->stats->packet_too_long, toolong);
}

/* Reads what the socket holds until EAGAIN or the drain budget is spent. */
static void drain(vn_dgram_reader_t *r, struct mmsghdr *msgs, struct iovec *iov)
{
    double budget = r->drain_s > 0 ? r->drain_s : VN_DGRAM_DRAIN_MAX_S;
    double end = vn_clock_mono_s() + budget;
    for (;;) {
        int n = recvmmsg(r->fd, msgs, VLEN, MSG_DONTWAIT, NULL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        take(r, msgs, iov, n);
        r->drained += (uint64_t)n;
        if (vn_clock_mono_s() > end) {
            VN_LOG(WARN, "event=dgram_drain_budget_spent drained=%llu budget_s=%g",
                   (unsigned long long)r->drained, budget);
            break;
        }
    }
}

void vn_dgram_reader_run(vn_dgram_reader_t *r)
{
    size_t bufsz = r->max_len + 1;
    char *bufs = vn_xmalloc(bufsz * VLEN);
    struct mmsghdr msgs[VLEN];
    struct iovec iov[VLEN];
    for (int i = 0; i < VLEN; i++) {
        iov[i].iov_base = bufs + (size_t)i * bufsz;
        iov[i].iov_len = bufsz;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    bool pending = false;    /* records ingested but not yet pushed to the workers */
    double last_commit = vn_clock_mono_coarse_s();
    while (!atomic_load(&r->stop)) {
        int n = recvmmsg(r->fd, msgs, VLEN, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                VN_LOG_ERRNO(WARN, "event=recvmmsg_failed");
            }
            struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = r->wake_fd, .events = POLLIN}};
            nfds_t np = r->wake_fd >= 0 ? 2 : 1;
            if (pending) {
                /* Socket drained: give the next datagrams 1 ms to arrive before handing a
                 * part-filled batch over, so the worker is woken per batch, not per burst. */
                if (poll(p, np, 1) > 0)
                    continue;
                vn_ingest_commit(r->ingest);
                pending = false;
                last_commit = vn_clock_mono_coarse_s();
                continue;
            }
            /* Idle: block so an idle sidecar costs no CPU; wake_fd ends the wait at stop
             * (without one, the timeout bounds how late the stop flag is seen). */
            poll(p, np, r->wake_fd >= 0 ? -1 : 200);
            continue;
        }
        take(r, msgs, iov, n);
        pending = true;
        double now = vn_clock_mono_coarse_s();
        if (now - last_commit > 0.01) { /* bound hand-off latency under a steady trickle */
            vn_ingest_commit(r->ingest);
            pending = false;
            last_commit = now;
        }
    }
    drain(r, msgs, iov);
    vn_ingest_commit(r->ingest);
    free(bufs);
}

static void *dgram_main(void *arg)
{
    vn_dgram_reader_run(arg);
    return NULL;
}

int vn_dgram_reader_start(vn_dgram_reader_t *r)
{
    atomic_store(&r->stop, false);
    return pthread_create(&r->thread, NULL, dgram_main, r);
}

void vn_dgram_reader_signal(vn_dgram_reader_t *r) { atomic_store(&r->stop, true); }

void vn_dgram_reader_join(vn_dgram_reader_t *r) { pthread_join(r->thread, NULL); }
