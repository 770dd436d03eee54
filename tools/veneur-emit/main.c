/*
 * main.c - veneur-emit: wiring and exit status (docs/internals/emit.md).
 *
 * Order matters for two promises: nothing is sent unless the whole payload
 * rendered, and a -command is not started when the command line is wrong.
 *   1. flags (usage errors exit 2 before anything else)
 *   2. (removed: -grpc is supported, grpc.c)
 *   3. resolve -hostport (once, before any command runs, as Go does); with
 *      -grpc also the address to dial (-proxy, else -hostport)
 *   4. event / sc: render, send, exit
 *   5. trace ids (flag, else environment); tracing needs -ssf
 *   6. metric or -ssf span: render once as a dry run (catches a missing -name,
 *      nothing to send, an over-long line or span, a bad span time), run the
 *      -command, render for real, send
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/gonum.h"
#include "core/log.h"
#include "emit.h"

static int fail(int status, const char *msg)
{
    fprintf(stderr, "veneur-emit: %s\n", msg);
    return status;
}

static int status_for(vn_err_t rc) { return rc == VN_ERR_CONFIG ? VN_EMIT_EXIT_USAGE : VN_EMIT_EXIT_FAIL; }

/*
 * Go reads VENEUR_EMIT_TRACE_ID and VENEUR_EMIT_PARENT_SPAN_ID with
 * ParseInt(s, 10, 64); a value that does not parse is a warning there and
 * counts as 0 (not set), so here too.
 */
static int64_t env_id(const char *var)
{
    const char *s = getenv(var);
    if (!s)
        return 0;
    int64_t v = 0;
    vn_gonum_rc_t rc = vn_gonum_parse_int64(s, strlen(s), 10, &v);
    if (rc == VN_GONUM_OK)
        return v;
    const char *why = rc == VN_GONUM_RANGE ? "out of range" : "not a decimal integer";
    fprintf(stderr, "veneur-emit: warning: ignoring %s=\"%.40s\": %s\n", var, s, why);
    return 0;
}

/* A span id as Go draws it: uniform in [1, 2^63-1] (Go allows 0; a 0 id reads as "no span"). */
static int64_t random_span_id(void)
{
    uint64_t v = 0;
    while ((v & INT64_MAX) == 0) {
        if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            v = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
        }
    }
    return (int64_t)(v & INT64_MAX);
}

/* Both span times, or neither (Go checks the pair, then parses each). */
static int span_times(const vn_emit_opts_t *o, int64_t *start, int64_t *end)
{
    if ((o->span_starttime != NULL) != (o->span_endtime != NULL))
        return fail(VN_EMIT_EXIT_USAGE, "-span_starttime and -span_endtime go together: pass both or neither");
    const char *why;
    char msg[512];
    if (o->span_starttime && !vn_emit_parse_time(o->span_starttime, start, &why)) {
        snprintf(msg, sizeof msg, "invalid value \"%.100s\" for flag -span_starttime: %s", o->span_starttime, why);
        return fail(VN_EMIT_EXIT_USAGE, msg);
    }
    if (o->span_endtime && !vn_emit_parse_time(o->span_endtime, end, &why)) {
        snprintf(msg, sizeof msg, "invalid value \"%.100s\" for flag -span_endtime: %s", o->span_endtime, why);
        return fail(VN_EMIT_EXIT_USAGE, msg);
    }
    return VN_EMIT_EXIT_OK;
}

/* The largest datagram a UDP socket can carry over IPv4. */
#define UDP_MAX_PAYLOAD 65507

/*
 * -ssf: one span (ssf.c). Rendered once before any -command runs with the
 * widest value of every field that the run can change, so the real span can
 * only be smaller and a span too big to send is refused up front.
 */
static int run_ssf(const vn_emit_opts_t *o, const vn_emit_dest_t *dest, const char *grpc_dial, int64_t trace_id,
                   int64_t parent_id)
{
    char err[768];
    if (!grpc_dial && dest->family != AF_UNIX && strcmp(dest->network, "udp") != 0)
        return fail(VN_EMIT_EXIT_FAIL, "-ssf sends to udp:// or unix:// addresses only, not tcp (check -hostport)");
    bool framed = !grpc_dial && dest->family == AF_UNIX;
    int64_t t0 = 0, t1 = 0;
    int st = span_times(o, &t0, &t1);
    if (st != VN_EMIT_EXIT_OK)
        return st;

    vn_emit_span_in_t in = {.trace_id = trace_id, .parent_id = parent_id};
    if (trace_id != 0)
        in.span_id = random_span_id();
    const int64_t worst_ns = INT64_MAX;
    vn_emit_span_in_t worst = in;
    worst.start_ns = worst.end_ns = -1; /* negative int64: the longest varint */
    worst.error = true;
    worst.cmd_ns = o->command ? &worst_ns : NULL;
    vn_emit_payload_t pl;
    vn_err_t rc = vn_emit_render_ssf(o, &worst, framed, &pl, err, sizeof err);
    if (rc != VN_OK)
        return fail(status_for(rc), err);
    size_t worst_len = pl.buf.len;
    vn_emit_payload_destroy(&pl);
    if (!grpc_dial && !framed && worst_len > UDP_MAX_PAYLOAD) {
        snprintf(err, sizeof err, "SSF span of up to %zu bytes does not fit a UDP datagram (%d bytes); "
                                  "use -hostport unix://",
                 worst_len, UDP_MAX_PAYLOAD);
        return fail(VN_EMIT_EXIT_FAIL, err);
    }
    if (trace_id != 0)
        VN_LOG(DEBUG, "event=tracing trace_id=%lld span_id=%lld parent_id=%lld", (long long)trace_id,
               (long long)in.span_id, (long long)parent_id);

    int status = VN_EMIT_EXIT_OK;
    int64_t cmd_ns = 0;
    if (o->command) {
        if (trace_id != 0) {
            /* The child's own veneur-emit calls nest under this span (Go passes the same two). */
            char v[32];
            snprintf(v, sizeof v, "%lld", (long long)trace_id);
            setenv("VENEUR_EMIT_TRACE_ID", v, 1);
            snprintf(v, sizeof v, "%lld", (long long)in.span_id);
            setenv("VENEUR_EMIT_PARENT_SPAN_ID", v, 1);
        }
        rc = vn_emit_run_command(o->extra, o->nextra, &cmd_ns, &in.start_ns, &in.end_ns, &status, err,
                                 sizeof err);
        if (rc != VN_OK)
            return fail(status_for(rc), err);
        in.cmd_ns = &cmd_ns;
        in.error = status != 0;
    }
    if (o->span_starttime) {
        in.start_ns = t0;
        in.end_ns = t1;
    }
    rc = vn_emit_render_ssf(o, &in, framed, &pl, err, sizeof err);
    if (rc != VN_OK)
        return fail(status_for(rc), err);
    rc = grpc_dial ? vn_emit_grpc_send_span(grpc_dial, &pl, o->debug, err, sizeof err)
                   : vn_emit_send(dest, &pl, o->debug, err, sizeof err);
    vn_emit_payload_destroy(&pl);
    if (rc != VN_OK)
        return fail(VN_EMIT_EXIT_FAIL, err);
    return status;
}

static int run(vn_emit_opts_t *o)
{
    char err[768];
    vn_emit_dest_t dest;
    vn_err_t rc = vn_emit_dest_resolve(o->hostport, &dest, err, sizeof err);
    if (rc != VN_OK)
        return fail(status_for(rc), err);
    VN_LOG(DEBUG, "event=destination hostport=\"%s\" network=%s addr=\"%s\"", o->hostport, dest.network,
           dest.display);
    char dial[200];
    const char *grpc_dial = NULL;
    if (o->grpc) {
        rc = vn_emit_grpc_target(o->hostport, o->proxy, dial, sizeof dial, err, sizeof err);
        if (rc != VN_OK)
            return fail(status_for(rc), err);
        grpc_dial = dial;
        VN_LOG(DEBUG, "event=grpc_destination dial=\"%s\"", dial);
    }

    vn_emit_payload_t pl;
    if (o->mode != VN_EMIT_MODE_METRIC) {
        if (o->ssf)
            return fail(VN_EMIT_EXIT_FAIL, "-ssf works with -mode metric only (events and service checks are "
                                           "DogStatsD)");
        rc = o->mode == VN_EMIT_MODE_EVENT ? vn_emit_render_event(o, &pl, err, sizeof err)
                                           : vn_emit_render_sc(o, &pl, err, sizeof err);
        if (rc != VN_OK)
            return fail(status_for(rc), err);
        rc = grpc_dial ? vn_emit_grpc_send_packets(grpc_dial, &pl, o->debug, err, sizeof err)
                       : vn_emit_send(&dest, &pl, o->debug, err, sizeof err);
        vn_emit_payload_destroy(&pl);
        return rc == VN_OK ? VN_EMIT_EXIT_OK : fail(VN_EMIT_EXIT_FAIL, err);
    }

    int64_t trace_id = o->trace_id ? o->trace_id : env_id("VENEUR_EMIT_TRACE_ID");
    if (trace_id != 0 && !o->ssf)
        return fail(VN_EMIT_EXIT_FAIL, "tracing (-trace_id or VENEUR_EMIT_TRACE_ID) needs -ssf to send a span");
    int64_t parent_id = o->parent_span_id;
    if (trace_id != 0 && parent_id == 0)
        parent_id = env_id("VENEUR_EMIT_PARENT_SPAN_ID");
    if (o->command && o->nextra == 0)
        return fail(VN_EMIT_EXIT_USAGE, "-command needs a command to run after the flags");
    if (!o->command && o->nextra > 0)
        fprintf(stderr, "veneur-emit: warning: ignoring arguments from \"%s\" on (flags stop at the first "
                        "non-flag; did you mean -command?)\n",
                o->extra[0]);
    if (o->ssf)
        return run_ssf(o, &dest, grpc_dial, trace_id, parent_id);
    int64_t unused_t0, unused_t1;
    int st = span_times(o, &unused_t0, &unused_t1); /* only checked: statsd has no span (Go parses them too) */
    if (st != VN_EMIT_EXIT_OK)
        return st;

    /* Dry run with a 13-digit timer (over 300 years) so the real line can only be shorter. */
    const int64_t worst_ms = 9999999999999;
    rc = vn_emit_render_metrics(o, o->command ? &worst_ms : NULL, &pl, err, sizeof err);
    if (rc != VN_OK)
        return fail(status_for(rc), err);
    vn_emit_payload_destroy(&pl);

    int status = VN_EMIT_EXIT_OK;
    int64_t cmd_ms = 0;
    if (o->command) {
        int64_t ns = 0;
        rc = vn_emit_run_command(o->extra, o->nextra, &ns, NULL, NULL, &status, err, sizeof err);
        if (rc != VN_OK)
            return fail(status_for(rc), err);
        cmd_ms = ns / 1000000;
        VN_LOG(DEBUG, "event=command_done command=\"%s\" status=%d ms=%lld", o->extra[0], status,
               (long long)cmd_ms);
    }
    rc = vn_emit_render_metrics(o, o->command ? &cmd_ms : NULL, &pl, err, sizeof err);
    if (rc != VN_OK)
        return fail(status_for(rc), err);
    rc = grpc_dial ? vn_emit_grpc_send_packets(grpc_dial, &pl, o->debug, err, sizeof err)
                   : vn_emit_send(&dest, &pl, o->debug, err, sizeof err);
    vn_emit_payload_destroy(&pl);
    if (rc != VN_OK)
        return fail(VN_EMIT_EXIT_FAIL, err);
    return status;
}

int main(int argc, char **argv)
{
    vn_emit_opts_t o;
    char err[512];
    vn_emit_flags_rc_t frc = vn_emit_flags_parse(argc, argv, &o, err, sizeof err);
    int status;
    if (frc == VN_EMIT_FLAGS_HELP) {
        vn_emit_flags_usage(stdout);
        status = VN_EMIT_EXIT_OK;
    } else if (frc == VN_EMIT_FLAGS_ERR) {
        status = fail(VN_EMIT_EXIT_USAGE, err);
    } else {
        vn_log_set_level(o.debug ? VN_LOG_DEBUG : VN_LOG_WARN);
        status = run(&o);
    }
    vn_emit_opts_destroy(&o);
    return status;
}
