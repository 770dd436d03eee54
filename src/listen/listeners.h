/**
 * listeners.h - the statsd listeners of one daemon: datagram readers (UDP with
 * recvmmsg, one SO_REUSEPORT socket and thread per `num_readers`; unixgram)
 * and one stream thread (TCP, TLS-over-TCP, unix stream) on epoll.
 *
 * Life cycle: open (bind everything; errors are fatal config errors) ->
 * reader_count (to size the worker rings) -> start -> stop -> free.
 */
#ifndef VN_LISTEN_LISTENERS_H
#define VN_LISTEN_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/err.h"
#include "listen/ingest.h"

typedef struct vn_listeners vn_listeners_t;

/** Binds every statsd_listen_addresses entry. tls_ctx (SSL_CTX *, borrowed, may be NULL)
 *  makes every TCP listener TLS-only. Returns owned listeners. */
vn_err_t vn_listeners_open(const vn_config_t *cfg, void *tls_ctx, vn_listeners_t **out, char *errbuf, size_t errcap);

/** Number of reader ids the listeners will use (>= 1). */
size_t vn_listeners_reader_count(const vn_listeners_t *l);

/** Starts the reader threads; shared is copied, its pointers borrowed. */
vn_err_t vn_listeners_start(vn_listeners_t *l, const vn_ingest_shared_t *shared);

/**
 * Asks every datagram reader to hand what it has read to the workers (dgram.c "Commits") and
 * waits until each has, or is idle, for at most timeout_s. True when all did in time; a reader
 * that did not keeps its share for the next interval. For the flusher, just before it swaps the
 * workers' maps; safe to call from any one thread while the readers run, start or stop.
 */
bool vn_listeners_commit(vn_listeners_t *l, double timeout_s);

/** Stops reading (threads joined, partial batches pushed, sockets closed). */
void vn_listeners_stop(vn_listeners_t *l);

void vn_listeners_free(vn_listeners_t *l);

#endif
