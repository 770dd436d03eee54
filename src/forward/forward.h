/**
 * forward.h - global aggregation, wired from the config (docs/behaviour.md 2.7, W1,
 * 0.12): the one handle main.c and the flusher use.
 *
 *   forward_address set -> a forwarder: each flush sends this instance's
 *                          forwardable series to the global (forwarder.h)
 *   grpc_address set    -> an import server: locals' metrics are merged
 *                          into this instance's workers (import_server.h)
 *   grpc_tls_address set -> the same over TLS (veneur-c only; server identity
 *                          tls_certificate + tls_key, client certificates
 *                          required when tls_authority_certificate is set)
 *
 * Both may be set (a middle tier). Lifecycle in main.c:
 *   vn_forward_start (after the workers) -> flusher hooks every interval ->
 *   vn_forward_stop_import (before the final flush, so no import lands
 *   after it) -> final flush -> vn_forward_free (sends the final batch
 *   within one interval, then frees; before the workers are freed).
 */
#ifndef VN_FORWARD_FORWARD_H
#define VN_FORWARD_FORWARD_H

#include <stddef.h>

#include "aggregate/series_map.h"
#include "aggregate/worker.h"
#include "config/config.h"
#include "core/err.h"
#include "core/stats.h"
#include "forward/forwarder.h"

typedef struct vn_forward vn_forward_t;

/**
 * Starts what cfg asks for. cfg, workers and stats are borrowed and must
 * outlive the handle. The `tls` block (ca_file, cert_file, key_file, all
 * three; server_name optional) makes the forwarder dial TLS, as Go's does;
 * the import server on grpc_address is plain h2c, as Go's is.
 * @return VN_OK with *out owned (NULL when neither address is set: every
 *   function below accepts NULL), or VN_ERR_CONFIG / VN_ERR_IO with a
 *   one-line reason in errbuf (bad address, port in use, unreadable PEM).
 */
vn_err_t vn_forward_start(const vn_config_t *cfg, vn_worker_t **workers, size_t nworkers, vn_stats_t *stats,
                          vn_forward_t **out, char *errbuf, size_t errcap);

/** Flusher: a batch for this interval, or NULL when not forwarding. Owned by the caller until vn_forward_end. */
vn_forward_batch_t *vn_forward_begin(vn_forward_t *f);
/** Flusher: adds one swapped map's forwardable series (before the map is freed). b may be NULL. */
void vn_forward_add_map(vn_forward_batch_t *b, vn_series_map_t *m);
/** Flusher: hands the batch to the forwarder thread; never blocks. Takes ownership; b may be NULL. */
void vn_forward_end(vn_forward_t *f, vn_forward_batch_t *b);

/** Stops the import server (the forwarder keeps running). NULL ok. */
void vn_forward_stop_import(vn_forward_t *f);

/** Sends what is queued (bounded by one interval), stops everything, frees. NULL ok. */
void vn_forward_free(vn_forward_t *f);

#endif
