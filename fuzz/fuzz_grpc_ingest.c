/*
 * fuzz_grpc_ingest.c - libFuzzer target for the gRPC ingest handlers
 * (forward/grpc_ingest.h): request message bodies of DogstatsdGRPC/SendPacket,
 * SSFGRPC/SendSpan and Health/Check through the handler callbacks the h2
 * server calls, into real metric workers and a real span pipeline (its span
 * workers decode and convert what SendSpan queues, on their own threads).
 *
 * Input layout:
 *   byte 0   bits 0-1 method: 0 SendPacket, 1 SendSpan, 2 Health/Check,
 *            3 an unknown path; bit 2 send the message twice (a unary
 *            violation); bit 3 send no message
 *   rest     the request message (protobuf, no gRPC prefix)
 *
 * Checked for every input: no sanitizer report; open returns a call exactly
 * for the three methods; a valid DogstatsdPacket within metric_max_length
 * answers OK and counts one packet; a non-OK status always comes with a
 * message; an OK Health/Check answers SERVING; every call is counted once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/events.h"
#include "aggregate/worker.h"
#include "config/config.h"
#include "core/stats.h"
#include "forward/grpc_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NWORKERS 2
#define MAX_LEN 512 /* metric_max_length: small, so the too-long path is reachable */

static const vn_parser_t k_parser = {NULL, 0};
static vn_stats_t g_stats;
static vn_worker_t *g_workers[NWORKERS];
static vn_event_store_t g_events;
static vn_ingest_shared_t g_sh;
static vn_config_t *g_cfg; /* kept: the span workers borrow strings from it */
static vn_ssf_server_t *g_ssf;
static vn_grpc_ingest_t *g_in;
static vn_grpc_handler_t g_h;
static unsigned g_runs;

static void setup_once(void)
{
    if (g_in)
        return;
    vn_stats_init(&g_stats);
    for (int i = 0; i < NWORKERS; i++)
        g_workers[i] = vn_worker_start(i, 2, 0, &g_stats); /* reader 0: gRPC, 1: the span worker */
    vn_event_store_init(&g_events, 16, &g_stats);
    g_sh = (vn_ingest_shared_t){
        .parser = &k_parser, .workers = g_workers, .nworkers = NWORKERS, .events = &g_events, .stats = &g_stats};
    static const char yaml[] = "grpc_listen_addresses: [\"tcp://127.0.0.1:0\"]\nnum_span_workers: 1\n"
                               "span_channel_capacity: 64\ntrace_max_length_bytes: 4096\n";
    char err[256];
    if (vn_config_load(yaml, sizeof yaml - 1, NULL, false, &g_cfg, err, sizeof err) != VN_OK ||
        vn_ssf_server_open(g_cfg, &g_ssf, err, sizeof err) != VN_OK || !g_ssf ||
        vn_ssf_server_start(g_ssf, &g_sh, 1) != VN_OK)
        abort();
    vn_grpc_ingest_opts_t o = {.shared = &g_sh, .reader_id = 0, .ssf = g_ssf, .metric_max_length = MAX_LEN};
    g_in = vn_grpc_ingest_new(&o);
    g_h = vn_grpc_ingest_handler(g_in);
}

static const char *const k_paths[4] = {VN_GRPC_INGEST_PATH_PACKET, VN_GRPC_INGEST_PATH_SPAN,
                                       VN_GRPC_INGEST_PATH_HEALTH, "/dogstatsd.DogstatsdGRPC/SendPackets"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    unsigned method = mode & 3;
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    uint64_t calls0 = vn_stats_get(&g_stats.grpc_ingest_calls);
    uint64_t pk0 = vn_stats_get(&g_stats.packets[VN_PROTO_GRPC]);

    vn_grpc_status_t st = VN_GRPC_OK;
    const char *why = NULL;
    void *c = g_h.open(g_h.ctx, k_paths[method], &st, &why);
    if ((c != NULL) != (method != 3))
        abort();
    if (!c) {
        if (st == VN_GRPC_OK || !why)
            abort();
    } else {
        int nmsgs = (mode & 8) ? 0 : (mode & 4) ? 2 : 1;
        for (int i = 0; i < nmsgs && st == VN_GRPC_OK; i++)
            st = g_h.message(c, msg, len, &why);
        if (st == VN_GRPC_OK) {
            g_h.drained(c);
            st = g_h.finish(c, &why);
        }
        if (st != VN_GRPC_OK && !why)
            abort();
        if (method == 0 && nmsgs == 1) {
            const uint8_t *b;
            size_t blen;
            bool ok = vn_grpc_ingest_decode_packet(msg, len, &b, &blen);
            if (ok != (st == VN_GRPC_OK))
                abort();
            uint64_t counted = vn_stats_get(&g_stats.packets[VN_PROTO_GRPC]) - pk0;
            if (ok && counted != (blen <= MAX_LEN ? 1u : 0u))
                abort();
        }
        if (method == 2 && st == VN_GRPC_OK) {
            const uint8_t *r = NULL;
            if (g_h.response(c, &r) != 2 || r[0] != 0x08 || r[1] != 0x01)
                abort();
        }
        g_h.close(c, st);
    }
    if (vn_stats_get(&g_stats.grpc_ingest_calls) != calls0 + 1)
        abort();
    /* keep the maps small: hand them over now and then, as a flush would */
    if (++g_runs % 256 == 0)
        for (int i = 0; i < NWORKERS; i++)
            vn_series_map_free(vn_worker_swap(g_workers[i]));
    return 0;
}
