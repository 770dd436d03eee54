/**
 * h2_server.h - a small gRPC server over HTTP/2 (libnghttp2), plain TCP with
 * prior knowledge (h2c, what Go's grpc.NewServer() serves on grpc_address),
 * for unary and client-streaming methods whose response is Empty.
 *
 * One thread runs an epoll loop over the listening socket and every
 * connection. For each request it calls the handler: open when the request
 * headers are in (the handler picks the method by path or refuses), message
 * for each complete gRPC message, finish when the client ends its stream,
 * close exactly once for every opened call, whatever happened. The response
 * is Empty with grpc-status 0, or a Trailers-Only response with a non-zero
 * grpc-status and grpc-message (followed by RST_STREAM NO_ERROR if the client
 * is still sending, as gRPC's HTTP/2 mapping asks).
 *
 * Limits (all bounded before allocation): max_message per gRPC message
 * (RESOURCE_EXHAUSTED beyond), a server-wide byte budget for messages split
 * across DATA frames, max_connections (further connections are closed on
 * accept), max_streams concurrent calls per connection (HTTP/2 setting), and
 * an idle timeout after which a silent connection is closed.
 */
#ifndef VN_FORWARD_H2_SERVER_H
#define VN_FORWARD_H2_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/stats.h"
#include "forward/grpc_frame.h"

/** Loop-protection request headers (forward/hops.h), read by the server for the handler. */
typedef struct vn_grpc_meta {
    unsigned hops;          /* x-veneur-hops; 0 when absent; a malformed value reads as UINT_MAX */
    char proxy_id[33];      /* x-veneur-proxy-id, "" when absent or longer than 32 */
    char authority[256];    /* :authority as the client dialled it, "" when absent or too long */
} vn_grpc_meta_t;

/** Callbacks for one service; all run on the server thread. */
typedef struct vn_grpc_handler {
    /**
     * Request headers are complete for path (borrowed, NUL-terminated).
     * Returns the call's context (owned by the handler until close), or NULL
     * with *status and *msg (a static string) set to refuse the call.
     */
    void *(*open)(void *ctx, const char *path, vn_grpc_status_t *status, const char **msg);
    /**
     * One complete request message (borrowed for the call). VN_GRPC_OK goes
     * on; any other status ends the call with it and *msg (valid until
     * close).
     */
    vn_grpc_status_t (*message)(void *call, const uint8_t *data, size_t len, const char **msg);
    /** The client ended its stream: the call's status and *msg (valid until close). */
    vn_grpc_status_t (*finish)(void *call, const char **msg);
    /**
     * Once per opened call, last: release it. final is the status the call
     * was answered with, or VN_GRPC_CANCELLED if it never was (reset, closed
     * connection, server stopping).
     */
    void (*close)(void *call, vn_grpc_status_t final);
    void *ctx;
    /**
     * Optional, NULL = never called (added for the proxy's long-lived
     * streams, issue 7): every complete message that has arrived on the call's
     * connection so far has been handed over and the server is going back to
     * wait for more. A handler that batches messages flushes here, so a stream
     * that stays open for hours does not keep them until it ends. Called at
     * most once per read wake-up, only for calls that got messages since.
     */
    void (*drained)(void *call);
    /**
     * Optional (issue 15): when set, called instead of open, with the
     * request's loop-protection headers (borrowed for the call).
     */
    void *(*open_meta)(void *ctx, const char *path, const vn_grpc_meta_t *meta, vn_grpc_status_t *status,
                       const char **msg);
} vn_grpc_handler_t;

typedef struct vn_h2_server_opts {
    const char *address;     /* "host:port" to listen on; port 0 = ephemeral */
    vn_grpc_handler_t handler;
    size_t max_message;      /* bytes per gRPC message; 0 = VN_GRPC_MAX_MESSAGE */
    size_t reassembly_budget; /* bytes of split messages held at once; 0 = 256 MiB */
    size_t max_connections;  /* 0 = 4096 */
    uint32_t max_streams;    /* per connection; 0 = 32 */
    double idle_timeout_s;   /* 0 = 300 */
    vn_stats_t *stats;       /* borrowed, may be NULL: connection counter */
} vn_h2_server_opts_t;

typedef struct vn_h2_server vn_h2_server_t;

/**
 * Binds, listens and starts the server thread. opts is copied (address
 * too). @return VN_OK with *out owned (vn_h2_server_stop), or VN_ERR_CONFIG
 * / VN_ERR_IO with a one-line reason in errbuf.
 */
vn_err_t vn_h2_server_start(const vn_h2_server_opts_t *opts, vn_h2_server_t **out, char *errbuf, size_t errcap);

/** The bound TCP port (useful with port 0). */
int vn_h2_server_port(const vn_h2_server_t *s);

/** Stops accepting, closes every connection (closing their calls), joins the thread, frees. NULL ok. */
void vn_h2_server_stop(vn_h2_server_t *s);

#endif
