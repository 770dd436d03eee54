/**
 * signalfx.h - the SignalFx metric sink's encoder (module-internal to
 * src/sinks/; signalfx.c). docs/behaviour.md W4.3; operator notes in
 * docs/internals/delivery.md.
 *
 * One flush becomes protobuf DataPointUploadMessage bodies (proto/signalfx.proto)
 * for POST {endpoint_base}/v2/datapoint, one group per API token, each group in
 * bodies of at most flush_max_per_body points (0 = one body), headers
 * `Content-Type: application/x-protobuf`, `X-Sf-Token: TOKEN`, and
 * `Content-Encoding: gzip` when the encoded body is over 1500 bytes (golib's
 * rule). Events become EventUploadMessage bodies for {endpoint_base}/v2/event
 * with the default token.
 *
 * Not thread-safe: one flush at a time (the flush thread).
 */
#ifndef VN_SINKS_SIGNALFX_H
#define VN_SINKS_SIGNALFX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "sinks/delivery.h"
#include "sinks/sink.h"

#define VN_SFX_DEFAULT_ENDPOINT "https://ingest.signalfx.com"
#define VN_SFX_GZIP_OVER 1500                /* golib: never compress what fits one Ethernet frame */
#define VN_SFX_RAW_CAP ((size_t)32 << 20)    /* bodies over this are split in halves */
#define VN_SFX_EVENT_FIELD_MAX 256           /* Go: event name and description truncated */

typedef struct vn_sfx_token {
    char *name;   /* per_tag_api_keys[].name: the vary-by value it serves; NULL for the default */
    char *token;
    char *header; /* "X-Sf-Token: <token>" */
} vn_sfx_token_t;

/** A dimension while a point is built: key is key[0..klen) (not NUL-terminated), val is. */
typedef struct vn_sfx_dim {
    const char *key;
    size_t klen;
    const char *val;
} vn_sfx_dim_t;

typedef struct vn_sfx {
    vn_sfx_token_t def;          /* api_key */
    vn_sfx_token_t *per_tag;     /* per_tag_api_keys, config order */
    size_t n_per_tag;
    char *datapoint_url, *event_url;
    char *hostname_tag;          /* "" when unset (the hostname dimension then has an empty key: dropped) */
    char *drop_host_with_tag_key;
    char *vary_key_by, *preferred_vary_key_by;
    char **name_drops, **tag_drops; /* metric_name_prefix_drops, metric_tag_prefix_drops */
    size_t n_name_drops, n_tag_drops;
    size_t max_per_body;         /* 0 = every point of a token in one body */
    size_t raw_cap;              /* per-body cap on the encoded size (tests lower it) */
    /* scratch, kept across flushes */
    vn_sfx_dim_t *dims;
    size_t dims_cap;
    size_t *order;               /* metric indices grouped by token */
    int *token_of;
    size_t order_cap;
    vn_arena_t arena;            /* one body's protobuf structs and strings */
    size_t skipped;              /* metrics never encoded (non-finite value, alone over a cap), cumulative */
} vn_sfx_t;

/** The registry's constructor for kind "signalfx" (sink_internal.h contract). */
vn_err_t vn_sink__signalfx_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                               size_t errcap);

/**
 * Reads the sink's `config:` keys: api_key (required), endpoint_base (default
 * https://ingest.signalfx.com; its path is replaced, as Go's ResolveReference
 * does), flush_max_per_body, hostname_tag, drop_host_with_tag_key,
 * metric_name_prefix_drops, metric_tag_prefix_drops, vary_key_by,
 * preferred_vary_key_by, per_tag_api_keys ([{name, api_key}]). The dynamic
 * token keys (dynamic_per_tag_api_keys_enable, _refresh_period, endpoint_api)
 * are read by the sink (signalfx_tokens.c), not here. Returns VN_OK or
 * VN_ERR_CONFIG naming the sink and key; x is initialised either way (release
 * with vn_sfx__destroy).
 */
vn_err_t vn_sfx__init(vn_sfx_t *x, const vn_sink_config_t *sc, const char *sink_name, char *errbuf, size_t errcap);
void vn_sfx__destroy(vn_sfx_t *x);

/**
 * The dimensions of m in x->dims (returns how many): {hostname_tag: host} then
 * each tag split at its first ':' (no colon: value ""), a later key replacing
 * an earlier one; host is m->hostname, else info_hostname. Keys equal to one of
 * s's tags_exclude entries are removed, and so is the hostname dimension of a
 * counter that has the drop_host_with_tag_key dimension. *client_key (may be
 * NULL) gets the vary-by value that picks the token (Go's rule: the
 * preferred_vary_key_by value when present and non-empty, else the vary_key_by
 * value, else ""), taken before exclusion.
 */
size_t vn_sfx__dims(vn_sfx_t *x, const vn_sink_t *s, const vn_inter_metric_t *m, const char *info_hostname,
                    const char **client_key);

/** Index into x->per_tag of the token for client_key, or -1 for the default token. */
int vn_sfx__token_for(const vn_sfx_t *x, const char *client_key);

/* ---- dynamic per-tag tokens (signalfx_tokens.c) ---- */

#define VN_SFX_TOKEN_PAGE 200                 /* Go's limit per /v2/token call */
#define VN_SFX_TOKEN_MAX_BODY ((size_t)8 << 20) /* one page's response */
#define VN_SFX_DYNAMIC_TOKENS_MAX 100000      /* names kept; more are ignored (logged) */
#define VN_SFX_DEFAULT_API "https://api.signalfx.com"

/** Tokens fetched from the token API: parallel owned arrays. */
typedef struct vn_sfx_token_list {
    char **names, **secrets;
    size_t n, cap;
} vn_sfx_token_list_t;

/**
 * Appends the tokens of one /v2/token response page to l. The page is
 * {"results": [{"name": S, "secret": S, ...}, ...], ...}; *count gets the
 * number of results (0 ends the paging). Returns VN_OK, or VN_ERR_PARSE (err
 * says why) when the page is not that shape (l then unchanged), or
 * VN_ERR_TOO_LARGE past VN_SFX_DYNAMIC_TOKENS_MAX tokens.
 */
vn_err_t vn_sfx__parse_token_page(vn_sfx_token_list_t *l, const char *body, size_t len, size_t *count, char *err,
                                  size_t errcap);
void vn_sfx__token_list_free(vn_sfx_token_list_t *l);

/**
 * Applies fetched tokens to x->per_tag: a name already there gets the new
 * secret (a fetched token replaces a configured one, as in Go, where both live
 * in one map; a later duplicate in l wins), a new name is appended. Names are
 * never removed (Go keeps them too). Returns how many names were added. Not
 * thread-safe: the caller serialises with the encoder.
 */
size_t vn_sfx__merge_tokens(vn_sfx_t *x, const vn_sfx_token_list_t *l);

typedef struct vn_sfx_fetcher vn_sfx_fetcher_t;

/**
 * Starts the thread that, every period_s (the first time one period after the
 * start, as Go's ticker), fetches every page of token_url?limit=200&name=&offset=N
 * (GET, headers X-Sf-Token: default token, Content-Type: application/json) until
 * a page has no results, then merges them into x under *mu (all pages or
 * nothing, as Go). Failures are logged and retried the next period. Borrows x and mu (must outlive the
 * fetcher); copies the strings. Returns owned; stop with vn_sfx_fetcher_free.
 */
vn_sfx_fetcher_t *vn_sfx_fetcher_start(vn_sfx_t *x, pthread_mutex_t *mu, const char *sink_name, const char *token_url,
                                       const char *default_token, double period_s);

/** Stops the thread (interrupting its wait; a request in flight ends by its timeout) and frees. NULL ok. */
void vn_sfx_fetcher_free(vn_sfx_fetcher_t *f);

/**
 * Encodes the metrics s wants (vn_sink__wants, prefix drops) and hands each
 * body to emit (ownership moves). Returns VN_OK or the first emit error.
 */
vn_err_t vn_sfx__encode_metrics(vn_sfx_t *x, const vn_sink_t *s, const vn_inter_metric_t *m, size_t n,
                                const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx);

/** Encodes events for /v2/event (same contract). */
vn_err_t vn_sfx__encode_events(vn_sfx_t *x, const vn_sink_t *s, const vn_sink_event_t *ev, size_t n,
                               const vn_flush_info_t *info, vn_delivery_emit_fn emit, void *ctx);

/**
 * Writes key[0..len) into out (len + 1 bytes) the way golib sanitises dimension
 * keys: ASCII letters, digits, '_' and '-' kept, other ASCII bytes and every
 * byte of an invalid UTF-8 sequence become '_', valid multi-byte UTF-8
 * sequences are kept (golib keeps non-ASCII letters and digits and replaces
 * other non-ASCII runes; we keep them all rather than carry Unicode tables).
 */
void vn_sfx__sanitize_key(const char *key, size_t len, char *out);

#endif
