/*
 * dgram.c - datagram reader thread (UDP and unixgram): recvmmsg bursts into
 * private buffers, each datagram split into lines by the ingest path. Full
 * batches go to the workers at once; a part-filled one (and the line cache's
 * pre-aggregated counters and gauges) at a commit, see below.
 *
 * Commits. A commit hands everything the reader holds to the workers. It
 * happens when the socket has been quiet for 1 ms, when the flusher asks
 * (commit_req: before each flush swaps the workers' maps, so a flush holds
 * what was read before it), at stop, and under a steady stream at least every
 * VN_DGRAM_COMMIT_MAX_S (100 ms). Issue 22: the old bound was 10 ms whatever
 * asked, and at 1 M lines/s each commit emitted nearly every hot counter and
 * gauge series again, about one record per three lines; now about one per
 * thirty. Without a requester (tests, a bare reader) the bound stays
 * VN_DGRAM_COMMIT_SOLO_S. The flusher's wait is bounded: a reader that does
 * not answer in time (a CPU-starved process: a 25m sidecar runs 2.5 ms in
 * every 100) keeps at most that bound's worth for the next interval; nothing
 * is dropped.
 *
 * A datagram longer than metric_max_length is dropped whole (docs/behaviour.md 1.1): the
 * buffers are metric_max_length + 1 bytes, so truncation is detectable.
 *
 * Fill delay (UDP only, issue 22). Under a steady stream a reader that
 * drains faster than datagrams arrive is woken for nearly every datagram:
 * each wake-up (a context switch plus a recvmmsg returning 1-2 datagrams)
 * cost more than parsing the datagram. So after a read that emptied the
 * socket (fewer than VLEN datagrams), when the rate seen since the previous
 * read predicts at least two more datagrams within the delay, the reader
 * sleeps the delay and then reads what queued up, in one call. The delay is
 * at most VN_DGRAM_FILL_MAX_S (4 ms), and at most the time 1/4 of the
 * socket's receive buffer takes to fill at VN_DGRAM_FILL_SAFETY (8) times
 * the byte rate seen since the previous read, each datagram charged its
 * length plus VN_DGRAM_SKB_COST (the kernel charges the buffer an skb's
 * truesize, not the payload): so even a rate jump of 8x during the sleep
 * leaves 3/4 of the buffer free, and a full read (VLEN) never sleeps. It
 * adds at most that delay to a datagram's hand-off. A sparse stream (under
 * two datagrams per delay) keeps the poll path: an idle sidecar still costs
 * no CPU. Issue 22: at 1 M lines/s (50 k datagrams/s, 4 MiB buffer) the
 * delay was 1 ms (the old bound: 1 GB/s whatever the rate); ~3.5 ms now reads
 * ~175 datagrams per wake-up, one recvmmsg instead of two or three.
 *
 * Stop (dgram.h): the idle poll also watches wake_fd, so every reader leaves
 * at once (the fill delay waits on wake_fd too); then the socket is read until
 * EAGAIN (bounded by drain_s) because what the kernel already queued was
 * sent before the shutdown and belongs in the final flush.
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

/* Datagrams per recvmmsg: a fill delay's worth at ~50 k datagrams/s in one call. */
#define VLEN 256

/* Hands n received datagrams to the ingest path and counts them; returns their bytes. */
static uint64_t take(vn_dgram_reader_t *r, struct mmsghdr *msgs, struct iovec *iov, int n)
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
    return bytes;
}

/* The receive buffer's quarter that a fill delay may fill (see the top), or 0 when the delay
 * does not apply. */
static double fill_budget_bytes(const vn_dgram_reader_t *r)
{
    if (r->proto != VN_PROTO_UDP)
        return 0; /* a unixgram queue is bounded in datagrams (max_dgram_qlen), not bytes */
    int rcvbuf = 0;
    socklen_t sl = sizeof rcvbuf;
    if (getsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &sl) != 0 || rcvbuf <= 0)
        return 0;
    return (double)rcvbuf / 4.0;
}

double vn_dgram_fill_delay_s(double budget_bytes, uint64_t n, uint64_t bytes, double dt)
{
    if (budget_bytes <= 0 || n == 0)
        return 0;
    double s = VN_DGRAM_FILL_MAX_S;
    if (dt > 0) {
        double rate = ((double)bytes + (double)n * VN_DGRAM_SKB_COST) / dt; /* buffer bytes per second */
        double cap = budget_bytes / (VN_DGRAM_FILL_SAFETY * rate);
        if (cap < s)
            s = cap;
    }
    /* worth a sleep only when it should bring at least two datagrams */
    return (double)n * s >= 2.0 * dt ? s : 0;
}

/* Sleeps s seconds, or until wake_fd says stop. */
static void fill_wait(vn_dgram_reader_t *r, double s)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(s * 1e9)};
    if (r->wake_fd >= 0) {
        struct pollfd p = {.fd = r->wake_fd, .events = POLLIN};
        ppoll(&p, 1, &ts, NULL);
    } else {
        nanosleep(&ts, NULL);
    }
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

/* A commit ("Commits" above): everything held goes to the workers. Returns when (the coarse
 * clock), from which the steady-stream bound counts. */
static double commit(vn_dgram_reader_t *r, bool *pending)
{
    vn_ingest_commit(r->ingest);
    *pending = false;
    return vn_clock_mono_coarse_s();
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
    double budget = fill_budget_bytes(r);
    bool pending = false;    /* records ingested but not yet pushed to the workers */
    double last_commit = vn_clock_mono_coarse_s();
    double last_read = vn_clock_mono_s(); /* when the socket was last seen empty (or read) */
    double commit_every = r->commit_max_s > 0 ? r->commit_max_s
                          : r->commit_req     ? VN_DGRAM_COMMIT_MAX_S
                                              : VN_DGRAM_COMMIT_SOLO_S;
    uint64_t acked = atomic_load(&r->commit_ack);
    atomic_store(&r->clean, false); /* from here on, only the ack answers a request */
    while (!atomic_load(&r->stop)) {
        if (r->commit_req) {
            uint64_t want = atomic_load_explicit(r->commit_req, memory_order_acquire);
            if (want != acked) {
                if (pending)
                    last_commit = commit(r, &pending);
                acked = want;
                atomic_store_explicit(&r->commit_ack, want, memory_order_release);
            }
        }
        int n = recvmmsg(r->fd, msgs, VLEN, MSG_DONTWAIT, NULL);
        if (n > 0) {
            double read_at = budget > 0 ? vn_clock_mono_s() : 0;
            uint64_t bytes = take(r, msgs, iov, n);
            pending = true;
            /* bound hand-off latency under a steady stream */
            if (vn_clock_mono_coarse_s() - last_commit > commit_every)
                last_commit = commit(r, &pending);
            if (n == VLEN) {
                last_read = read_at;
                continue; /* more may be queued */
            }
            /* A short read left the socket empty; n datagrams came in since the last read
             * (after a full one, n also holds backlog: an overestimate, and the delay is capped). */
            double fill_s = vn_dgram_fill_delay_s(budget, (uint64_t)n, bytes, read_at - last_read);
            last_read = read_at;
            if (fill_s > 0) {
                fill_wait(r, fill_s);
                continue;
            }
            /* empty: skip the recvmmsg that would only say EAGAIN */
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            VN_LOG_ERRNO(WARN, "event=recvmmsg_failed");
        } else if (budget > 0) {
            last_read = vn_clock_mono_s();
        }
        struct pollfd p[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = r->wake_fd, .events = POLLIN}};
        nfds_t np = r->wake_fd >= 0 ? 2 : 1;
        if (pending) {
            /* Socket drained: give the next datagrams 1 ms to arrive before handing a
             * part-filled batch over, so the worker is woken per batch, not per burst. */
            if (poll(p, np, 1) > 0)
                continue;
            last_commit = commit(r, &pending);
            continue;
        }
        /* Idle: block so an idle sidecar costs no CPU; wake_fd ends the wait at stop
         * (without one, the timeout bounds how late the stop flag is seen). Everything is
         * committed, so a commit request made meanwhile needs no answer (clean); the loop's
         * top sees any request before the next datagram is ingested. */
        atomic_store(&r->clean, true);
        poll(p, np, r->wake_fd >= 0 ? -1 : 200);
        atomic_store(&r->clean, false);
    }
    drain(r, msgs, iov);
    vn_ingest_commit(r->ingest);
    atomic_store(&r->clean, true);
    free(bufs);
}

bool vn_dgram_reader_committed(vn_dgram_reader_t *r, uint64_t req)
{
    return atomic_load(&r->clean) || atomic_load_explicit(&r->commit_ack, memory_order_acquire) >= req;
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
