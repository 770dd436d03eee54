/**
 * dgram.h - one datagram reader thread bound to one socket (see dgram.c).
 * The struct is embedded by vn_listeners_t; fd, wake_fd and ingest are borrowed.
 *
 * Stopping: vn_dgram_reader_signal sets the stop flag; the owner then makes
 * wake_fd readable (one eventfd shared by every reader, written once), so all
 * readers leave their poll at the same moment instead of one idle timeout
 * after another. Each reader then drains what the kernel already holds for its
 * socket (until EAGAIN, at most drain_s) before it exits, so datagrams that
 * arrived before the stop are in the final flush.
 */
#ifndef VN_LISTEN_DGRAM_H
#define VN_LISTEN_DGRAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats.h"
#include "listen/ingest.h"

/** Upper bound on the drain at stop, so a sender that never pauses cannot hold shutdown. */
#define VN_DGRAM_DRAIN_MAX_S 2.0
/** Fill delay (dgram.c): at most this long, and at most the time rcvbuf/4 takes to fill at
 * VN_DGRAM_FILL_SAFETY x the rate seen, a datagram costing its length + VN_DGRAM_SKB_COST. */
#define VN_DGRAM_FILL_MAX_S 0.004
#define VN_DGRAM_FILL_SAFETY 8.0
#define VN_DGRAM_SKB_COST 1024.0
/** Hand-off bound under a steady stream (dgram.c "Commits"): how long records and pre-aggregated
 * values may wait in a reader before they go to the workers, when the flusher asks for them at
 * each flush (commit_req set) and when nothing asks (tests, a bare reader). The first also bounds
 * what moves to the next interval when a CPU-starved reader misses the flusher's request. */
#define VN_DGRAM_COMMIT_MAX_S 0.1
#define VN_DGRAM_COMMIT_SOLO_S 0.01

typedef struct vn_dgram_reader {
    int fd;
    int wake_fd;    /* readable once the reader must stop; -1: none (the stop flag is polled every 200 ms) */
    vn_proto_t proto;
    size_t max_len; /* metric_max_length */
    double drain_s; /* drain budget at stop; <= 0: VN_DGRAM_DRAIN_MAX_S */
    double commit_max_s; /* steady-stream commit bound; <= 0: VN_DGRAM_COMMIT_MAX_S or _SOLO_S (above) */
    vn_ingest_t *ingest;
    vn_stats_t *stats;
    _Atomic bool stop;
    uint64_t drained; /* datagrams read after the stop flag was seen (reader-owned until joined) */
    pthread_t thread;
    /* Commit requests (dgram.c "Commits"). commit_req: borrowed, may be NULL; the requester bumps it.
     * commit_ack: the last request this reader has committed for. clean: nothing ingested since
     * the reader's last commit, so a request needs no answer (set before it blocks and at exit). */
    const _Atomic uint64_t *commit_req;
    _Atomic uint64_t commit_ack;
    _Atomic bool clean;
} vn_dgram_reader_t;

/**
 * The fill delay (dgram.c) after a short read of n datagrams, `bytes` of payload, that arrived in
 * the dt seconds since the previous read, for a socket whose budget is a quarter of its receive
 * buffer in bytes (<= 0: no delay). 0 when no sleep is due: fewer than two more datagrams expected.
 */
double vn_dgram_fill_delay_s(double budget_bytes, uint64_t n, uint64_t bytes, double dt);

/**
 * True once reader r holds nothing ingested before request number req was made: it has
 * committed for req (or a later one), or it was clean (idle or stopped) when asked. Any thread.
 */
bool vn_dgram_reader_committed(vn_dgram_reader_t *r, uint64_t req);

/** Runs vn_dgram_reader_run on a new thread. Returns 0 or an errno value from pthread_create. */
int vn_dgram_reader_start(vn_dgram_reader_t *r);
/**
 * The reader itself, on the calling thread: reads until the stop flag is set,
 * drains, commits, returns. Called with the flag already set it only drains,
 * which is how tests check the drain without racing the thread.
 */
void vn_dgram_reader_run(vn_dgram_reader_t *r);
/** Sets the stop flag only (the caller wakes wake_fd, then joins). */
void vn_dgram_reader_signal(vn_dgram_reader_t *r);
/** Joins a signalled reader; its drained datagrams are pushed before it returns. */
void vn_dgram_reader_join(vn_dgram_reader_t *r);

#endif
