/**
 * stream.h - the stream listener thread: accepts TCP (optionally TLS-only) and
 * unix stream connections on one epoll loop and ingests newline-delimited
 * lines (framing: listen/linebuf.h). As in Go Veneur, the first bad line
 * closes its connection and nothing after it is read; a line longer than
 * 64 KiB closes it too; idle connections are closed after 10 min. Limits
 * against hostile peers (documented in stream.c and docs/operations.md):
 * 4096 connections, 1024 per source IP or unix uid, eviction of silent or
 * idle connections at either cap, a 10 s TLS handshake deadline, a 64 MiB
 * budget for half-received lines, and a paused accept loop on EMFILE.
 */
#ifndef VN_LISTEN_STREAM_H
#define VN_LISTEN_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/stats.h"
#include "listen/ingest.h"

typedef struct vn_stream_loop vn_stream_loop_t;

/** Returns an owned loop; tls_ctx (SSL_CTX *) borrowed, NULL for plain TCP. */
vn_stream_loop_t *vn_stream_loop_new(void *tls_ctx, vn_stats_t *stats);
/** Adds a listening socket (ownership moves to the loop). tcp selects TLS when a ctx is set. */
void vn_stream_loop_add_listener(vn_stream_loop_t *l, int fd, bool tcp);
size_t vn_stream_loop_listener_count(const vn_stream_loop_t *l);
/** Sets the stats sink (borrowed) before start. */
void vn_stream_loop_set_stats(vn_stream_loop_t *l, vn_stats_t *stats);
/** ingest is borrowed and used only by the loop thread. Returns 0 or errno. */
int vn_stream_loop_start(vn_stream_loop_t *l, vn_ingest_t *ingest);
/** Stops, joins, closes every connection and listener. */
void vn_stream_loop_stop(vn_stream_loop_t *l);
void vn_stream_loop_free(vn_stream_loop_t *l);

#endif
