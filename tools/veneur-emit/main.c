/*
 * main.c - veneur-emit: wiring and exit status (docs/internals/emit.md).
 *
 * Order matters for two promises: nothing is sent unless the whole payload
 * rendered, and a -command is not started when the command line is wrong.
 *   1. flags (usage errors exit 2 before anything else)
 *   2. -ssf / -grpc / tracing: not supported, exit 1
 *   3. resolve -hostport (once, before any command runs, as Go does)
 *   4. event / sc: render, send, exit
 *   5. metric: render once as a dry run (catches a missing -name, nothing to
 *      send, an over-long line), run the -command, render for real, send
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gonum.h"
#include "core/log.h"
#include "emit.h"

static int fail(int status, const char *msg)
{
    fprintf(stderr, "veneur-emit: %s\n", msg);
    return status;
}

static int status_for(vn_err_t rc) { return rc == VN_ERR_CONFIG ? VN_EMIT_EXIT_USAGE : VN_EMIT_EXIT_FAIL; }

/* Go reads VENEUR_EMIT_TRACE_ID with ParseInt(s, 10, 64); a value that does not
 * parse is only a warning there, so only a well-formed non-zero id counts. */
static bool env_trace_id_set(void)
{
    const char *s = getenv("VENEUR_EMIT_TRACE_ID");
    if (!s)
        return false;
    int64_t v;
    return vn_gonum_parse_int64(s, strlen(s), 10, &v) == VN_GONUM_OK && v != 0;
}

static int run(vn_emit_opts_t *o)
{
    char err[768];
    if (o->ssf)
        return fail(VN_EMIT_EXIT_FAIL, "-ssf is not supported yet (send DogStatsD: drop -ssf)");
    if (o->grpc)
        return fail(VN_EMIT_EXIT_FAIL, "-grpc is not supported yet (use -hostport udp://, tcp:// or unix://)");

    vn_emit_dest_t dest;
    vn_err_t rc = vn_emit_dest_resolve(o->hostport, &dest, err, sizeof err);
    if (rc != VN_OK)
        return fail(status_for(rc), err);
    VN_LOG(DEBUG, "event=destination hostport=\"%s\" network=%s addr=\"%s\"", o->hostport, dest.network,
           dest.display);

    vn_emit_payload_t pl;
    if (o->mode != VN_EMIT_MODE_METRIC) {
        rc = o->mode == VN_EMIT_MODE_EVENT ? vn_emit_render_event(o, &pl, err, sizeof err)
                                           : vn_emit_render_sc(o, &pl, err, sizeof err);
        if (rc != VN_OK)
            return fail(status_for(rc), err);
        rc = vn_emit_send(&dest, &pl, o->debug, err, sizeof err);
        vn_emit_payload_destroy(&pl);
        return rc == VN_OK ? VN_EMIT_EXIT_OK : fail(VN_EMIT_EXIT_FAIL, err);
    }

    if (o->trace_id != 0 || env_trace_id_set())
        return fail(VN_EMIT_EXIT_FAIL, "tracing (-trace_id or VENEUR_EMIT_TRACE_ID) needs -ssf, which is not "
                                       "supported yet");
    if ((o->span_starttime != NULL) != (o->span_endtime != NULL))
        return fail(VN_EMIT_EXIT_USAGE, "-span_starttime and -span_endtime go together: pass both or neither");
    if (o->command && o->nextra == 0)
        return fail(VN_EMIT_EXIT_USAGE, "-command needs a command to run after the flags");
    if (!o->command && o->nextra > 0)
        fprintf(stderr, "veneur-emit: warning: ignoring arguments from \"%s\" on (flags stop at the first "
                        "non-flag; did you mean -command?)\n",
                o->extra[0]);

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
        rc = vn_emit_run_command(o->extra, o->nextra, &ns, &status, err, sizeof err);
        if (rc != VN_OK)
            return fail(status_for(rc), err);
        cmd_ms = ns / 1000000;
        VN_LOG(DEBUG, "event=command_done command=\"%s\" status=%d ms=%lld", o->extra[0], status,
               (long long)cmd_ms);
    }
    rc = vn_emit_render_metrics(o, o->command ? &cmd_ms : NULL, &pl, err, sizeof err);
    if (rc != VN_OK)
        return fail(status_for(rc), err);
    rc = vn_emit_send(&dest, &pl, o->debug, err, sizeof err);
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
