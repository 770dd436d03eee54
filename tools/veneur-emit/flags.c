/*
 * flags.c - veneur-emit's command line, read with the rules of Go's `flag`
 * package so every Go veneur-emit invocation means the same here:
 *
 *   -name foo   --name foo   -name=foo   --name=foo     all the same
 *   -debug      -debug=false                            bool flags never take the next argument
 *   -gauge -1.5                                         the next argument is a value even if it starts with '-'
 *   -x a b --  / first non-flag                         stop parsing; the rest is the -command
 *
 * Differences, on purpose (docs/internals/emit.md): -tag may be repeated and
 * every occurrence counts (Go keeps the last); an unknown -mode is an error (Go
 * silently treats it as "metric"); -h prints usage on stdout and exits 0.
 *
 * Values are checked while parsing, as Go does, so a bad number is reported
 * against the flag that carried it before anything else happens.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/gonum.h"
#include "core/xalloc.h"
#include "emit.h"

typedef enum ftype { F_BOOL, F_STRING, F_INT64, F_FLOAT64, F_DURATION, F_TAG, F_MODE } ftype_t;

#define NO_HAS ((size_t)-1)

typedef struct flagdef {
    const char *name;
    ftype_t type;
    size_t off;     /* field in vn_emit_opts_t */
    size_t has_off; /* its "was passed" bool, or NO_HAS */
    const char *help;
} flagdef_t;

#define OFF(f) offsetof(vn_emit_opts_t, f)

/* Sorted by name, as Go prints its usage. */
static const flagdef_t g_flags[] = {
    {"command", F_BOOL, OFF(command), NO_HAS,
     "Run the arguments left after the flags as a command, time it, send the wall time as a\n"
     "timer in ms named -name, and exit with the command's status. With -ssf the span also\n"
     "covers the command, is marked as an error if it exits non-zero, and the command gets\n"
     "VENEUR_EMIT_TRACE_ID and VENEUR_EMIT_PARENT_SPAN_ID so its own veneur-emit calls nest."},
    {"count", F_INT64, OFF(count), OFF(has_count), "Send a counter with this integer value."},
    {"debug", F_BOOL, OFF(debug), NO_HAS, "Log the destination and every payload sent on stderr."},
    {"e_aggr_key", F_STRING, OFF(e_aggr_key), NO_HAS, "Event aggregation key (|k:)."},
    {"e_alert_type", F_STRING, OFF(e_alert_type), NO_HAS,
     "Event alert type: error, warning, info or success (|t:; written only if passed)."},
    {"e_event_tags", F_STRING, OFF(e_event_tags), NO_HAS,
     "Event tags, comma separated \"k:v,k2:v2\"; -tag values are merged in and win."},
    {"e_hostname", F_STRING, OFF(e_hostname), NO_HAS, "Event hostname (|h:)."},
    {"e_priority", F_STRING, OFF(e_priority), NO_HAS,
     "Event priority: normal or low (|p:; written only if passed)."},
    {"e_source_type", F_STRING, OFF(e_source_type), NO_HAS, "Event source type (|s:)."},
    {"e_text", F_STRING, OFF(e_text), NO_HAS, "Event text (required with -mode event); newlines are sent as \\n."},
    {"e_time", F_STRING, OFF(e_time), NO_HAS, "Event timestamp, unix seconds (|d:)."},
    {"e_title", F_STRING, OFF(e_title), NO_HAS, "Event title (required with -mode event)."},
    {"error", F_BOOL, OFF(error), NO_HAS, "SSF, tracing only: mark the span as failed."},
    {"gauge", F_FLOAT64, OFF(gauge), OFF(has_gauge), "Send a gauge with this value (full double precision)."},
    {"grpc", F_BOOL, OFF(grpc), NO_HAS, "Send over gRPC: DogstatsdGRPC/SendPacket, with -ssf SSFGRPC/SendSpan (to grpc_listen_addresses)."},
    {"hostport", F_STRING, OFF(hostport), NO_HAS,
     "Destination: udp://host:port, tcp://host:port, unix:///path (stream), unixgram:///path,\n"
     "or a bare host:port (UDP)."},
    {"indicator", F_BOOL, OFF(indicator), NO_HAS, "SSF, tracing only: mark the span as an indicator (SLO) span."},
    {"mode", F_MODE, 0, NO_HAS, "What to send: metric, event or sc (service check). Default metric."},
    {"name", F_STRING, OFF(name), NO_HAS, "Metric name (required with -mode metric)."},
    {"parent_span_id", F_INT64, OFF(parent_span_id), NO_HAS, "SSF, tracing only: parent span id (default env VENEUR_EMIT_PARENT_SPAN_ID)."},
    {"proxy", F_STRING, OFF(proxy), NO_HAS, "gRPC only: dial this host:port instead of -hostport."},
    {"sc_hostname", F_STRING, OFF(sc_hostname), NO_HAS, "Service check hostname (|h:)."},
    {"sc_msg", F_STRING, OFF(sc_msg), NO_HAS, "Service check message (|m:, always last)."},
    {"sc_name", F_STRING, OFF(sc_name), NO_HAS, "Service check name (required with -mode sc)."},
    {"sc_status", F_STRING, OFF(sc_status), NO_HAS,
     "Service check status (required with -mode sc): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."},
    {"sc_tags", F_STRING, OFF(sc_tags), NO_HAS,
     "Service check tags, comma separated; -tag values are merged in and win."},
    {"sc_time", F_STRING, OFF(sc_time), NO_HAS, "Service check timestamp, unix seconds (|d:)."},
    {"set", F_STRING, OFF(set), NO_HAS, "Send a set sample with this string value."},
    {"span_endtime", F_STRING, OFF(span_endtime), NO_HAS, "SSF: span end time, same formats as -span_starttime."},
    {"span_service", F_STRING, OFF(span_service), NO_HAS, "SSF, tracing only: span service (default veneur-emit)."},
    {"span_starttime", F_STRING, OFF(span_starttime), NO_HAS, "SSF: span start time (with -span_endtime): 2024-03-05T15:04:05Z, \"2024-03-05 15:04:05\"\n"
     "(UTC unless a zone is given), or unix seconds, ms, us or ns by digit count."},
    {"span_tags", F_STRING, OFF(span_tags), NO_HAS, "SSF, tracing only: span tags, comma separated; they win over -tag on the span."},
    {"ssf", F_BOOL, OFF(ssf), NO_HAS, "Send one SSF span instead of DogStatsD: the metrics become samples in it. -hostport\n"
     "udp:// (one span per datagram) or unix:// (Go's framed stream)."},
    {"tag", F_TAG, 0, NO_HAS,
     "Tags for everything sent, comma separated \"k:v,k2:v2\". May be repeated; all are kept in\n"
     "order, and for a repeated key the last value wins at the first position."},
    {"timing", F_DURATION, OFF(timing_ns), OFF(has_timing),
     "Send a timer: a Go duration such as 150ms, 1.5s or 1500us, sent in whole milliseconds."},
    {"trace_id", F_INT64, OFF(trace_id), NO_HAS,
     "SSF: trace id (default env VENEUR_EMIT_TRACE_ID); non-zero turns the span into a trace\n"
     "span with -name, -span_service, tags, a random id. Needs -ssf."},
};

static const flagdef_t *lookup(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof g_flags / sizeof g_flags[0]; i++)
        if (strlen(g_flags[i].name) == n && memcmp(g_flags[i].name, name, n) == 0)
            return &g_flags[i];
    return NULL;
}

/* A double-quoted copy of s for messages: \" \\ and \xNN for control bytes. */
static void quote(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    if (cap < 8)
        return;
    out[k++] = '"';
    for (; *s && k + 6 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    out[k] = '\0';
}

static bool set_value(const flagdef_t *f, const char *val, vn_emit_opts_t *o, char *err, size_t errlen)
{
    char *base = (char *)o;
    const char *why = "parse error";
    vn_gonum_rc_t rc;
    double fv;
    switch (f->type) {
    case F_STRING:
        *(const char **)(base + f->off) = val;
        return true;
    case F_TAG:
        o->tag_args[o->ntag_args++] = val;
        return true;
    case F_MODE:
        if (strcmp(val, "metric") == 0)
            o->mode = VN_EMIT_MODE_METRIC;
        else if (strcmp(val, "event") == 0)
            o->mode = VN_EMIT_MODE_EVENT;
        else if (strcmp(val, "sc") == 0)
            o->mode = VN_EMIT_MODE_SC;
        else {
            why = "must be metric, event or sc";
            break;
        }
        return true;
    case F_INT64:
        rc = vn_gonum_parse_int64(val, strlen(val), 0, (int64_t *)(void *)(base + f->off));
        if (rc == VN_GONUM_OK)
            goto passed;
        why = rc == VN_GONUM_RANGE ? "value out of range" : "parse error";
        break;
    case F_FLOAT64:
        rc = vn_gonum_parse_float(val, strlen(val), 0, &fv);
        if (rc == VN_GONUM_OK) {
            *(double *)(void *)(base + f->off) = fv;
            goto passed;
        }
        why = rc == VN_GONUM_RANGE ? "value out of range" : "parse error";
        break;
    case F_DURATION:
        rc = vn_gonum_parse_duration(val, strlen(val), (int64_t *)(void *)(base + f->off));
        if (rc == VN_GONUM_OK)
            goto passed;
        why = rc == VN_GONUM_RANGE      ? "duration out of range"
              : rc == VN_GONUM_NO_UNIT  ? "missing unit in duration (want ns, us, ms, s, m or h)"
              : rc == VN_GONUM_BAD_UNIT ? "unknown unit in duration (want ns, us, ms, s, m or h)"
                                        : "invalid duration";
        break;
    case F_BOOL:
        break; /* handled by the caller */
    }
    char q[256];
    quote(val, q, sizeof q);
    snprintf(err, errlen, "invalid value %s for flag -%s: %s", q, f->name, why);
    return false;
passed:
    if (f->has_off != NO_HAS)
        *(bool *)(base + f->has_off) = true;
    return true;
}

vn_emit_flags_rc_t vn_emit_flags_parse(int argc, char **argv, vn_emit_opts_t *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->tag_args = vn_xcalloc((size_t)(argc > 0 ? argc : 1), sizeof *o->tag_args);
    int i = 1;
    const char *name, *val;
    size_t nlen;
    for (;;) {
        vn_cli_tok_t t = vn_cli_next(argc, argv, &i, &name, &nlen, &val);
        if (t == VN_CLI_END)
            break;
        if (t == VN_CLI_BAD) {
            char q[256];
            quote(argv[i], q, sizeof q);
            snprintf(err, errlen, "bad flag syntax: %s", q);
            return VN_EMIT_FLAGS_ERR;
        }
        const flagdef_t *f = lookup(name, nlen);
        if (!f) {
            if ((nlen == 1 && name[0] == 'h') || (nlen == 4 && memcmp(name, "help", 4) == 0))
                return VN_EMIT_FLAGS_HELP;
            snprintf(err, errlen, "flag provided but not defined: -%.*s", (int)nlen, name);
            return VN_EMIT_FLAGS_ERR;
        }
        if (f->type == F_BOOL) {
            bool b = true;
            if (val && !vn_gonum_parse_bool(val, &b)) {
                char q[256];
                quote(val, q, sizeof q);
                snprintf(err, errlen, "invalid boolean value %s for -%s: parse error", q, f->name);
                return VN_EMIT_FLAGS_ERR;
            }
            *(bool *)((char *)o + f->off) = b;
            continue;
        }
        if (!val && i < argc)
            val = argv[i++];
        if (!val) {
            snprintf(err, errlen, "flag needs an argument: -%s", f->name);
            return VN_EMIT_FLAGS_ERR;
        }
        if (!set_value(f, val, o, err, errlen))
            return VN_EMIT_FLAGS_ERR;
    }
    o->extra = argv + i;
    o->nextra = argc - i;
    return VN_EMIT_FLAGS_OK;
}

void vn_emit_opts_destroy(vn_emit_opts_t *o)
{
    free(o->tag_args);
    o->tag_args = NULL;
    o->ntag_args = 0;
}

static const char *type_word(ftype_t t)
{
    switch (t) {
    case F_BOOL: return "";
    case F_INT64: return " int";
    case F_FLOAT64: return " float";
    case F_DURATION: return " duration";
    case F_STRING:
    case F_TAG:
    case F_MODE: return " string";
    }
    return "";
}

void vn_emit_flags_usage(FILE *out)
{
    fputs("Usage: veneur-emit -hostport ADDR [flags] [-command CMD [ARG...]]\n"
          "Sends DogStatsD metrics, events or service checks, or one SSF span (-ssf), e.g.\n"
          "  veneur-emit -hostport udp://localhost:8126 -name resp_success -count 1 -tag method:post\n"
          "  veneur-emit -hostport unix:///run/veneur/ssf.sock -ssf -trace_id 1 -name job -command ./job.sh\n"
          "Flags take one or two dashes, and -flag=value or -flag value.\n"
          "Exit status: 0 sent; 1 failed (resolve, connect, send, unsupported); 2 bad command line;\n"
          "with -command, the command's status.\n\nFlags:\n",
          out);
    for (size_t i = 0; i < sizeof g_flags / sizeof g_flags[0]; i++) {
        fprintf(out, "  -%s%s\n        ", g_flags[i].name, type_word(g_flags[i].type));
        for (const char *c = g_flags[i].help; *c; c++) {
            fputc(*c, out);
            if (*c == '\n')
                fputs("        ", out);
        }
        fputc('\n', out);
    }
    fputs("  -h, -help\n        Print this help and exit 0.\n", out);
}
