/*
 * grpc.c - -grpc: the payload as unary gRPC calls to a veneur's
 * grpc_listen_addresses (Go veneur-emit's datadogGrpcWriter and SSFGRPC client):
 *
 *   metrics, events, service checks  one /dogstatsd.DogstatsdGRPC/SendPacket per
 *                                    chunk (datadog-go writes each flushed buffer
 *                                    as one packet; an event or check is one)
 *   -ssf                             one /ssf.SSFGRPC/SendSpan with the span
 *
 * All calls go over one h2c connection (forward/h2_client.h; Go dials
 * WithInsecure). Go waits for the connection without a deadline (WithBlock,
 * context.Background); here every call has GRPC_DEADLINE_S, so a dead
 * destination ends in exit 1 rather than a hang.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dogstatsd_grpc.pb-c.h"
#include "emit.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client.h"

#define GRPC_DEADLINE_S 10.0

vn_err_t vn_emit_grpc_target(const char *hostport, const char *proxy, char *dial, size_t cap, char *err,
                             size_t errlen)
{
    const char *which = proxy && *proxy ? proxy : hostport;
    vn_emit_dest_t d;
    vn_err_t rc = vn_emit_dest_resolve(which, &d, err, errlen);
    if (rc != VN_OK)
        return rc;
    if (d.family == AF_UNIX) {
        snprintf(err, errlen, "-grpc dials host:port over TCP, not the unix socket %s (check %s)", d.display,
                 which == proxy ? "-proxy" : "-hostport");
        return VN_ERR_IO;
    }
    snprintf(dial, cap, "%s", d.display); /* "1.2.3.4:8128" or "[::1]:8128" */
    return VN_OK;
}

/* One unary call with msg (gRPC framing added here). */
static vn_err_t call(vn_h2_client_t *cli, const char *path, const uint8_t *msg, size_t len, const char *dial,
                     bool debug, char *err, size_t errlen)
{
    uint8_t *body = vn_xmalloc(VN_GRPC_PREFIX + len);
    vn_grpc_prefix(body, (uint32_t)len);
    if (len)
        memcpy(body + VN_GRPC_PREFIX, msg, len);
    if (debug)
        VN_LOG(DEBUG, "event=grpc_call addr=\"%s\" path=%s bytes=%zu", dial, path, len);
    vn_grpc_result_t res;
    vn_err_t rc = vn_h2_client_call(cli, path, body, VN_GRPC_PREFIX + len, vn_clock_mono_s() + GRPC_DEADLINE_S, &res);
    free(body);
    if (rc == VN_OK)
        return VN_OK;
    if (res.grpc_status > 0)
        snprintf(err, errlen, "gRPC %s to %s: status %d: %s", path, dial, res.grpc_status, res.grpc_message);
    else if (res.transport != VN_OK)
        snprintf(err, errlen, "gRPC %s to %s: %s", path, dial,
                 res.transport == VN_ERR_TIMEOUT ? "no answer within 10 s" : "cannot connect or connection lost");
    else
        snprintf(err, errlen, "gRPC %s to %s: HTTP status %d, no grpc-status", path, dial, res.http_status);
    return VN_ERR_IO;
}

static vn_err_t with_client(const char *dial, vn_h2_client_t **cli, char *err, size_t errlen)
{
    if (vn_h2_client_new(dial, NULL, NULL, cli) != VN_OK) {
        snprintf(err, errlen, "gRPC: bad address %s", dial);
        return VN_ERR_CONFIG;
    }
    return VN_OK;
}

vn_err_t vn_emit_grpc_send_packets(const char *dial, const vn_emit_payload_t *p, bool debug, char *err,
                                   size_t errlen)
{
    vn_h2_client_t *cli = NULL;
    vn_err_t rc = with_client(dial, &cli, err, errlen);
    for (size_t i = 0; i < p->nchunks && rc == VN_OK; i++) {
        Dogstatsd__DogstatsdPacket pkt = DOGSTATSD__DOGSTATSD_PACKET__INIT;
        pkt.packetbytes.data = (uint8_t *)p->buf.p + p->chunk_off[i];
        pkt.packetbytes.len = p->chunk_len[i];
        size_t n = dogstatsd__dogstatsd_packet__get_packed_size(&pkt);
        uint8_t *msg = vn_xmalloc(n ? n : 1);
        dogstatsd__dogstatsd_packet__pack(&pkt, msg);
        rc = call(cli, "/dogstatsd.DogstatsdGRPC/SendPacket", msg, n, dial, debug, err, errlen);
        free(msg);
    }
    vn_h2_client_free(cli);
    return rc;
}

vn_err_t vn_emit_grpc_send_span(const char *dial, const vn_emit_payload_t *p, bool debug, char *err, size_t errlen)
{
    vn_h2_client_t *cli = NULL;
    vn_err_t rc = with_client(dial, &cli, err, errlen);
    if (rc == VN_OK)
        rc = call(cli, "/ssf.SSFGRPC/SendSpan", (const uint8_t *)p->buf.p, p->buf.len, dial, debug, err, errlen);
    vn_h2_client_free(cli);
    return rc;
}
