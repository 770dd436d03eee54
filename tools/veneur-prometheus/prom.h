/**
 * prom.h - internals of build/veneur-prometheus: poll a Prometheus text
 * endpoint, translate the families into DogStatsD lines and send them to
 * veneur over UDP (docs/behaviour.md W6; design notes in docs/internals/prometheus.md).
 *
 * Stages, one file each; nothing is sent for a scrape until the whole body
 * has been fetched, parsed (src/parse/prom_text.h) and translated:
 *   flags.c      argv -> vn_pm_opts_t (Go `flag` rules), regexes, rename/add lists
 *   scrape.c     one HTTP GET with libcurl (TLS, mTLS, unix socket, timeout, body cap)
 *   (src/parse/prom_delta.h: counter values of the previous scrape -- deltas, resets)
 *   translate.c  families -> statsd lines, Go veneur-prometheus naming
 *   send.c       -s address -> socket; lines -> <=1432-byte datagrams
 *   main.c       the poll loop, self-metrics, signals
 *
 * Single-threaded. Ownership is stated per declaration.
 */
#ifndef VN_TOOLS_PROM_H
#define VN_TOOLS_PROM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/regex.h"
#include "core/buf.h"
#include "core/err.h"
#include "parse/prom_delta.h"
#include "parse/prom_text.h"

/** Largest datagram (datadog-go OptimalUDPPayloadSize); a longer line is dropped. */
#define VN_PM_MAX_DATAGRAM 1432
/** Cap on a scrape body (bytes); a larger body is a failed scrape. */
#define VN_PM_MAX_BODY (64u << 20)
/** Cap on one scrape's rendered statsd lines (bytes). */
#define VN_PM_MAX_LINES_BYTES (256u << 20)
/** Cap on one generation of the counter cache's key bytes (parse/prom_delta.h). */
#define VN_PM_MAX_CACHE_BYTES (256u << 20)

/** Exit statuses: 0 after SIGTERM/SIGINT, 1 bad flag value, 2 bad flag syntax. */
enum { VN_PM_EXIT_OK = 0, VN_PM_EXIT_FAIL = 1, VN_PM_EXIT_USAGE = 2 };

/** "key=value" from -r / -a; both owned (free with vn_pm_opts_destroy). */
typedef struct vn_pm_kv {
    char *key, *val;
} vn_pm_kv_t;

/** The command line. Strings borrow argv unless noted. */
typedef struct vn_pm_opts {
    const char *url;                              /* -h, default http://localhost:9090/metrics */
    const char *interval;                         /* -i, Go duration, default 10s */
    double interval_s;                            /* parsed -i, > 0 */
    const char *statsd;                           /* -s, default 127.0.0.1:8126 */
    const char *prefix;                           /* -p, default "" */
    bool debug;                                   /* -d */
    const char *ignored_labels, *ignored_metrics; /* raw flag values */
    const char *rename, *add;                     /* raw flag values */
    const char *cert, *key, *cacert, *socket;
    /* derived (owned) */
    vn_regex_t *re_labels, *re_metrics; /* NULL when the flag is empty */
    vn_pm_kv_t *renames, *adds;
    size_t nrenames, nadds;
} vn_pm_opts_t;

/* ---- flags.c ---- */

typedef enum { VN_PM_FLAGS_OK = 0, VN_PM_FLAGS_HELP, VN_PM_FLAGS_USAGE, VN_PM_FLAGS_BAD } vn_pm_flags_rc_t;

/**
 * Parses argv like Go's flag package (-x v, -x=v, --x v; -d takes no value;
 * parsing stops at the first non-flag). Then validates and derives: -i as a Go
 * duration > 0, the regexes (commas become '|', POSIX ERE), -r/-a lists, the
 * cert files readable. VN_PM_FLAGS_USAGE: syntax error; VN_PM_FLAGS_BAD: a bad
 * value; both with a one-line message in err. *o is zeroed first; free with
 * vn_pm_opts_destroy in every case.
 */
vn_pm_flags_rc_t vn_pm_flags_parse(int argc, char **argv, vn_pm_opts_t *o, char *err, size_t errlen);
void vn_pm_opts_destroy(vn_pm_opts_t *o);
void vn_pm_flags_usage(FILE *out);
/**
 * Splits "a=b,c=d" like Go getRenamedFromArg/getAddedFromArg: empty elements
 * and elements without '=' are skipped, the value keeps any further '='. A
 * repeated key keeps its first position and takes the last value (Go: a map).
 * Appends owned copies to *v / *n.
 */
void vn_pm_kv_parse(const char *arg, vn_pm_kv_t **v, size_t *n);

/* ---- translate.c ---- */

/** What to translate with; everything borrowed for the call. */
typedef struct vn_pm_tcfg {
    const char *prefix;             /* prepended to every name, self-metrics too; "" none */
    const vn_regex_t *ignored_labels;  /* label names to drop, or NULL */
    const vn_regex_t *ignored_metrics; /* family names to skip, or NULL */
    const vn_pm_kv_t *renames;      /* label name -> tag name */
    size_t nrenames;
    const vn_pm_kv_t *adds; /* tags appended to every metric, in order */
    size_t nadds;
} vn_pm_tcfg_t;

/** One scrape's statsd output: lines, each followed by '\n' in `lines`. */
typedef struct vn_pm_out {
    vn_buf_t lines;                        /* owned; capped at VN_PM_MAX_LINES_BYTES */
    uint32_t nlines;                       /* lines in `lines` */
    uint64_t translated;                   /* Go's count: samples translated, zero-delta counters included */
    uint64_t unknown;                      /* families of VN_PROM_UNKNOWN type */
    uint64_t too_long;                     /* lines dropped for exceeding VN_PM_MAX_DATAGRAM */
    uint64_t ignored;                      /* families skipped by -ignored-metrics */
    uint64_t sanitized;                    /* tags and names with DogStatsD syntax bytes replaced */
    vn_buf_t _tags, _keytags, _name, _tmp; /* scratch, reused between scrapes */
} vn_pm_out_t;

void vn_pm_out_init(vn_pm_out_t *o);
/** Empties the lines and zeroes the counts, keeping memory. */
void vn_pm_out_reset(vn_pm_out_t *o);
void vn_pm_out_destroy(vn_pm_out_t *o);

/**
 * Appends the statsd lines for every family of doc (in exposition order; empty
 * families skipped) and then the self-metrics Go sends after a scrape:
 * `veneur.prometheus.unknown_metric_type_total` (only if nonzero) and
 * `veneur.prometheus.metrics_flushed_total` = translated + 2. Counters go
 * through the cache; the caller calls vn_prom_delta_done (sent) or
 * vn_prom_delta_abort. VN_ERR_TOO_LARGE if the output cap is hit.
 */
vn_err_t vn_pm_translate(const vn_pm_tcfg_t *cfg, vn_prom_delta_t *cache, const vn_prom_doc_t *doc,
                         vn_pm_out_t *out);

/** Appends `<prefix><name>:<value>|c` (no tags) -- the error self-metrics. */
vn_err_t vn_pm_add_count(vn_pm_out_t *out, const char *prefix, const char *name, int64_t value);

/** Go int(q*100) on amd64: truncation; NaN and out-of-range give INT64_MIN. */
int64_t vn_pm_go_int(double v);

/* ---- scrape.c ---- */

typedef struct vn_pm_scraper vn_pm_scraper_t;

/** Outcome of one GET. */
typedef enum {
    VN_PM_SCRAPE_OK = 0,
    VN_PM_SCRAPE_CONNECT, /* no response: DNS, connect, TLS, timeout, transfer error */
    VN_PM_SCRAPE_STATUS,  /* a response that is not 2xx */
    VN_PM_SCRAPE_TOO_BIG, /* body over VN_PM_MAX_BODY */
    VN_PM_SCRAPE_STOPPED, /* interrupted by *stop */
} vn_pm_scrape_rc_t;

/**
 * A reusable HTTP client (keeps the connection alive between scrapes) for
 * opts (borrowed; must outlive it). *stop is polled during a transfer so a
 * signal ends it promptly. NULL with a message if libcurl cannot start.
 */
vn_pm_scraper_t *vn_pm_scraper_new(const vn_pm_opts_t *opts, volatile sig_atomic_t *stop, char *err,
                                   size_t errlen);
void vn_pm_scraper_free(vn_pm_scraper_t *s);
/**
 * GETs the URL with a deadline of timeout_s seconds. On VN_PM_SCRAPE_OK the
 * body is in *body (borrowed from the scraper; valid until the next scrape).
 * Otherwise a one-line reason is in err.
 */
vn_pm_scrape_rc_t vn_pm_scrape(vn_pm_scraper_t *s, double timeout_s, const char **body, size_t *len,
                               char *err, size_t errlen);

/* ---- send.c ---- */

typedef struct vn_pm_sender {
    int fd;
    char display[160];
    uint64_t datagrams, send_errors;
} vn_pm_sender_t;

/**
 * Opens a datagram socket connected to -s: "host:port" (UDP; names resolve
 * once, IPv4 preferred) or "unix:///path" (unixgram), as datadog-go accepts.
 * VN_ERR_CONFIG for a malformed address, VN_ERR_IO if it does not resolve or
 * the socket fails; message in err.
 */
vn_err_t vn_pm_sender_open(vn_pm_sender_t *s, const char *addr, char *err, size_t errlen);
void vn_pm_sender_close(vn_pm_sender_t *s);
/**
 * Sends the '\n'-terminated lines of buf[0..len) packed greedily into
 * datagrams of at most VN_PM_MAX_DATAGRAM bytes, "\n"-joined with no trailing
 * newline. Lines must each fit (the translator guarantees it; a longer one is
 * skipped). A failed send (veneur not listening) is counted, not fatal.
 * Returns the number of datagrams sent.
 */
size_t vn_pm_send_lines(vn_pm_sender_t *s, const char *buf, size_t len, bool debug);
/**
 * The packing vn_pm_send_lines uses: the next datagram of the '\n'-terminated
 * lines in buf[*pos..len) is buf[*off .. *off + *n): a run of whole lines with
 * their joining newlines and without the last one, *n <= VN_PM_MAX_DATAGRAM.
 * Advances *pos; returns false when no line is left. A line longer than the
 * maximum is skipped. No copying: the lines are already "\n"-joined in buf.
 */
bool vn_pm_next_datagram(const char *buf, size_t len, size_t *pos, size_t *off, size_t *n);

#endif
