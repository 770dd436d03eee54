/**
 * emit.h - internals of build/veneur-emit, the command-line DogStatsD client
 * (docs/behaviour.md W5 and 0.13; design notes in docs/internals/emit.md).
 *
 * The program is four stages, one file each, and nothing is sent until every
 * stage before sending has succeeded (so an error never leaves a partial
 * datagram on the wire):
 *   flags.c   argv -> vn_emit_opts_t, with Go `flag` package rules (numbers:
 *             core/gonum.h; gauges use its 'f' format, as datadog-go does)
 *   render.c  opts -> vn_emit_payload_t (metric lines packed into <=1432-byte
 *             chunks, or one event / service-check packet)
 *   ssf.c     opts -> one SSFSpan protobuf (-ssf), framed for unix streams
 *   when.c    -span_starttime / -span_endtime date strings
 *   send.c    -hostport -> vn_emit_dest_t; payload -> socket
 *   grpc.c    -grpc: payload -> DogstatsdGRPC/SendPacket or SSFGRPC/SendSpan calls
 *   command.c -command: run and time a child process
 *   main.c    wiring and exit status
 *
 * Ownership: every `const char *` in vn_emit_opts_t borrows argv (or the
 * environment), which lives for the whole process. Everything else is owned by
 * the struct that holds it and freed by its *_destroy function. Single-threaded.
 */
#ifndef VN_TOOLS_EMIT_H
#define VN_TOOLS_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/err.h"
#include "core/str.h"

/** Largest metric payload per datagram (datadog-go OptimalUDPPayloadSize). */
#define VN_EMIT_MAX_CHUNK 1432
/** Cap on any rendered payload; argv cannot exceed it in practice (bytes). */
#define VN_EMIT_MAX_PAYLOAD (8u << 20)
/** At most this many metric lines per run: command timer, timing, gauge, count, set. */
#define VN_EMIT_MAX_LINES 5

/** Exit statuses (docs/internals/emit.md). A -command run exits with the command's. */
enum {
    VN_EMIT_EXIT_OK = 0,
    VN_EMIT_EXIT_FAIL = 1,  /* runtime failure: resolve, connect, send, spawn, unsupported */
    VN_EMIT_EXIT_USAGE = 2, /* the command line itself is wrong */
};

typedef enum vn_emit_mode { VN_EMIT_MODE_METRIC = 0, VN_EMIT_MODE_EVENT, VN_EMIT_MODE_SC } vn_emit_mode_t;

/**
 * Parsed command line. A string field is NULL when its flag was not passed and
 * non-NULL (possibly "") when it was: Go veneur-emit writes optional event and
 * service-check sections exactly when the flag was passed.
 */
typedef struct vn_emit_opts {
    /* general */
    const char *hostport;
    vn_emit_mode_t mode;
    bool debug, command, ssf, grpc;
    const char *proxy;
    /* metric */
    const char *name;
    bool has_gauge, has_timing, has_count;
    double gauge;
    int64_t timing_ns;
    int64_t count;
    const char *set;
    const char **tag_args; /* every -tag value, in order (Go keeps only the last) */
    size_t ntag_args;
    /* event */
    const char *e_title, *e_text, *e_time, *e_hostname, *e_aggr_key, *e_priority, *e_source_type,
        *e_alert_type, *e_event_tags;
    /* service check */
    const char *sc_name, *sc_status, *sc_time, *sc_hostname, *sc_tags, *sc_msg;
    /* tracing (SSF only) */
    int64_t trace_id, parent_span_id;
    const char *span_starttime, *span_endtime, *span_service, *span_tags;
    bool indicator, error;
    /* arguments left after the flags (the command for -command) */
    char **extra;
    int nextra;
} vn_emit_opts_t;

/* ---- flags.c ---- */

typedef enum vn_emit_flags_rc {
    VN_EMIT_FLAGS_OK = 0,
    VN_EMIT_FLAGS_HELP, /* -h / -help: print usage, exit 0 */
    VN_EMIT_FLAGS_ERR,  /* message in err */
} vn_emit_flags_rc_t;

/**
 * Parses argv[1..argc) the way Go's flag package does (single or double dash,
 * `-x=v` or `-x v`, bool flags take no separate argument, parsing stops at the
 * first non-flag or after `--`). Fills *o (which it zeroes first); o->tag_args is
 * owned by *o (free with vn_emit_opts_destroy); other strings borrow argv.
 * On VN_EMIT_FLAGS_ERR writes a one-line message (no newline) naming the flag.
 */
vn_emit_flags_rc_t vn_emit_flags_parse(int argc, char **argv, vn_emit_opts_t *o, char *err, size_t errlen);
/** Frees what vn_emit_flags_parse allocated; accepts a zeroed struct. */
void vn_emit_opts_destroy(vn_emit_opts_t *o);
/** Prints the usage text (every flag, one paragraph each) to out. */
void vn_emit_flags_usage(FILE *out);

/* ---- render.c ---- */

/** A growable byte buffer capped at VN_EMIT_MAX_PAYLOAD. */
typedef struct vn_emit_buf {
    char *p;
    size_t len, cap;
} vn_emit_buf_t;

/** Appends n bytes; VN_ERR_TOO_LARGE (buffer unchanged) past the cap. */
vn_err_t vn_emit_buf_add(vn_emit_buf_t *b, const void *data, size_t n);
vn_err_t vn_emit_buf_adds(vn_emit_buf_t *b, const char *s);
void vn_emit_buf_destroy(vn_emit_buf_t *b);

/** One parsed tag; both slices borrow the -tag / -*_tags argument. */
typedef struct vn_emit_tag {
    vn_str_t key, val;
} vn_emit_tag_t;

/** Ordered tag set: duplicate keys keep the first position and the last value. */
typedef struct vn_emit_tags {
    vn_emit_tag_t *v;
    size_t n, cap;
} vn_emit_tags_t;

/** Adds each element of a comma-separated "k:v,k2,..." list (empty elements skipped). */
void vn_emit_tags_add_csv(vn_emit_tags_t *t, const char *csv);
void vn_emit_tags_destroy(vn_emit_tags_t *t);

/**
 * What goes on the wire: `buf` holds every line joined by "\n" (no trailing
 * newline); chunks are the byte ranges sent as one datagram each. Between two
 * chunks buf holds the "\n" that separates them, so a stream socket writes buf
 * whole. Each line opens at most one chunk, hence VN_EMIT_MAX_LINES slots.
 */
typedef struct vn_emit_payload {
    vn_emit_buf_t buf;
    size_t chunk_off[VN_EMIT_MAX_LINES], chunk_len[VN_EMIT_MAX_LINES];
    size_t nchunks;
} vn_emit_payload_t;

void vn_emit_payload_destroy(vn_emit_payload_t *p);

/**
 * Renders the metric lines (datadog-go v3.7.2 bytes, docs/behaviour.md W5.3) in Go's order:
 * command timer (if cmd_ms != NULL; whole ms), -timing, -gauge, -count, -set;
 * global tags from DD_ENV, DD_SERVICE, DD_VERSION, DD_ENTITY_ID come first in
 * each tag list. *out is initialised here; free with vn_emit_payload_destroy.
 * Errors (message in err, *out left empty): VN_ERR_CONFIG for a missing -name or
 * nothing to send; VN_ERR_TOO_LARGE if one line exceeds VN_EMIT_MAX_CHUNK.
 */
vn_err_t vn_emit_render_metrics(const vn_emit_opts_t *o, const int64_t *cmd_ms, vn_emit_payload_t *out,
                                char *err, size_t errlen);
/** Renders one event packet (docs/behaviour.md W5.4) as a single chunk, like the above;
 * VN_ERR_CONFIG if -e_title or -e_text is missing. */
vn_err_t vn_emit_render_event(const vn_emit_opts_t *o, vn_emit_payload_t *out, char *err, size_t errlen);
/** Renders one service-check packet (docs/behaviour.md W5.4) as a single chunk, like the
 * above; VN_ERR_CONFIG if -sc_name or -sc_status is missing. */
vn_err_t vn_emit_render_sc(const vn_emit_opts_t *o, vn_emit_payload_t *out, char *err, size_t errlen);

/* ---- ssf.c ---- */

/** What -ssf puts in the span besides the flags (main.c gathers it). */
typedef struct vn_emit_span_in {
    int64_t trace_id, parent_id; /* flag, else env; trace_id 0 = not tracing */
    int64_t span_id;             /* random, used only when tracing */
    int64_t start_ns, end_ns;    /* unix ns; 0 = unset */
    bool error;                  /* the -command failed */
    const int64_t *cmd_ns;       /* -command wall time, or NULL without -command */
} vn_emit_span_in_t;

/**
 * Encodes the span (fields as listed in ssf.c) as one chunk in *out, which is
 * initialised here (free with vn_emit_payload_destroy). framed prepends Go's
 * 5-byte stream frame (version 0, big-endian length) for unix sockets.
 * VN_ERR_CONFIG (message in err, *out empty): a sample without -name, nothing
 * to send, a -gauge outside float32; VN_ERR_TOO_LARGE past VN_EMIT_MAX_PAYLOAD.
 */
vn_err_t vn_emit_render_ssf(const vn_emit_opts_t *o, const vn_emit_span_in_t *in, bool framed,
                            vn_emit_payload_t *out, char *err, size_t errlen);

/* ---- when.c ---- */

/**
 * A -span_starttime/-span_endtime value (formats in when.c; UTC unless a zone
 * is written) -> unix ns. On failure `why` receives a static reason.
 */
bool vn_emit_parse_time(const char *s, int64_t *unix_ns, const char **why);

/* ---- send.c ---- */

/** A resolved -hostport. */
typedef struct vn_emit_dest {
    const char *network;  /* "udp", "tcp", "unix", "unixgram", "unixpacket" */
    int family, socktype; /* for socket(2) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char display[160]; /* "127.0.0.1:8126" or the socket path, for messages */
} vn_emit_dest_t;

/**
 * Resolves -hostport like Go veneur-emit: a URL whose scheme is udp, udp4, udp6,
 * tcp, tcp4, tcp6, unix, unixgram or unixpacket; anything else is retried as
 * "udp://" + hostport. Host names resolve once (IPv4 preferred, as Go does).
 * VN_ERR_CONFIG if missing or malformed, VN_ERR_IO if the name does not resolve.
 */
vn_err_t vn_emit_dest_resolve(const char *hostport, vn_emit_dest_t *d, char *err, size_t errlen);

/**
 * Connects and sends: datagram sockets send one datagram per chunk, stream
 * sockets write the whole buffer on one connection. With debug, logs each write.
 * VN_ERR_IO with a message naming -hostport on any socket error.
 */
vn_err_t vn_emit_send(const vn_emit_dest_t *d, const vn_emit_payload_t *p, bool debug, char *err,
                      size_t errlen);

/* ---- grpc.c ---- */

/**
 * Where -grpc dials: -proxy if set, else -hostport, resolved like
 * vn_emit_dest_resolve, as "ip:port" into dial[cap] (the scheme only picks the
 * address family: gRPC is always TCP). VN_ERR_IO for a unix socket address.
 */
vn_err_t vn_emit_grpc_target(const char *hostport, const char *proxy, char *dial, size_t cap, char *err,
                             size_t errlen);
/** One DogstatsdGRPC/SendPacket per chunk of p, on one connection. VN_ERR_IO with a message on any failure. */
vn_err_t vn_emit_grpc_send_packets(const char *dial, const vn_emit_payload_t *p, bool debug, char *err,
                                   size_t errlen);
/** One SSFGRPC/SendSpan carrying p's buffer (an unframed SSFSpan). */
vn_err_t vn_emit_grpc_send_span(const char *dial, const vn_emit_payload_t *p, bool debug, char *err,
                                size_t errlen);

/* ---- command.c ---- */

/**
 * Runs argv[0..argc) (PATH search, inherited stdio and environment), waits for
 * it and returns its wall time (monotonic, ns), the unix ns just before the
 * spawn and just after the reap (start_unix_ns/end_unix_ns, may be NULL) and
 * its exit status (128+signal if killed). VN_ERR_IO with a message if it could
 * not be started.
 */
vn_err_t vn_emit_run_command(char **argv, int argc, int64_t *elapsed_ns, int64_t *start_unix_ns,
                             int64_t *end_unix_ns, int *status, char *err, size_t errlen);

#endif
