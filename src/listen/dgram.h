/**
 * dgram.h - one datagram reader thread bound to one socket (see dgram.c).
 * The struct is embedded by vn_listeners_t; fd and ingest are borrowed.
 */
#ifndef VN_LISTEN_DGRAM_H
#define VN_LISTEN_DGRAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/stats.h"
#include "listen/ingest.h"

typedef struct vn_dgram_reader {
    int fd;
    vn_proto_t proto;
    size_t max_len; /* metric_max_length */
    vn_ingest_t *ingest;
    vn_stats_t *stats;
    _Atomic bool stop;
    pthread_t thread;
} vn_dgram_reader_t;

/** Returns 0 or an errno value from pthread_create. */
int vn_dgram_reader_start(vn_dgram_reader_t *r);
/** Signals and joins; partial batches are pushed before it returns. */
void vn_dgram_reader_stop(vn_dgram_reader_t *r);

#endif
