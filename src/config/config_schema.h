/**
 * config_schema.h - the table-driven config loader, for any config struct:
 * veneur's (config.h, the table in config_keys.c) and veneur-proxy's
 * (proxy/proxy_config.c). A schema is a key table plus the env prefix; the
 * loader applies the first YAML document key by key through the table, then
 * every key with a Go field from the environment (<prefix> + upper-cased Go
 * path, '.' -> '_'), through the same typed setters, so whatever one accepts
 * the other accepts too. Errors are one line starting "config: ", name the
 * key and never contain a secret (vn_cfg__show). Defaults, normalisation and
 * validation stay with the owner of the struct.
 *
 * Bounds: the file (vn_cfg_read_file), YAML nesting (vn_config_yaml_check,
 * before the document is built), node visits, list items and pairs are all
 * capped (config_internal.h's VN_CFG_MAX_*).
 */
#ifndef VN_CONFIG_CONFIG_SCHEMA_H
#define VN_CONFIG_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

typedef enum vn_ktype {
    VN_KT_STR,       /* char *                                   */
    VN_KT_INT,       /* int (Go int; we reject values beyond C int) */
    VN_KT_LONG,      /* long                                     */
    VN_KT_BOOL,      /* bool                                     */
    VN_KT_DURATION,  /* double seconds, Go duration syntax       */
    VN_KT_STRLIST,   /* vn_strlist_t                             */
    VN_KT_URLLIST,   /* vn_strlist_t of listen URLs (validated after load) */
    VN_KT_FLOATLIST, /* percentiles: double *percentiles + n_percentiles */
    VN_KT_AGGS,      /* unsigned VN_AGG_* mask from a list of names */
    VN_KT_SINKS,     /* metric_sinks, span_sinks: vn_sink_config_t * at off, count at off2 (YAML only) */
    VN_KT_ROUTING,   /* metric_sink_routing (YAML only)          */
    VN_KT_V13,       /* [v13] flat sink key passed into a translated sink's kv */
    VN_KT_IGNORED,   /* accepted, any shape, not used (reason in sink_key) */
    VN_KT_ULONG,     /* unsigned long within [min, max]           */
    VN_KT_ENUM,      /* int: index of the text in names[]         */
    VN_KT_MATCHERS,  /* vn_tag_matcher_t * at off, size_t count at off2 (YAML only) */
    VN_KT_SOURCES,   /* sources: vn_source_config_t * at off, count at off2 (YAML only) */
} vn_ktype_t;

enum {
    VN_KF_SECRET = 1,       /* value never printed */
    VN_KF_NODUMP = 2,       /* not written by vn_config_dump (v13 keys: dumped as metric_sinks) */
    VN_KF_ZERO_DEFAULT = 4, /* zero after file+env means "use the default" (Go ApplyDefaults) */
    VN_KF_LIST = 8,         /* V13: the Go field is a []string (env is comma-split) */
    VN_KF_NONNEG = 16,      /* DURATION: a negative value is an error */
};

typedef struct vn_config_key {
    const char *key;       /* YAML path; nested keys joined with '.' ("features.enable_metric_sink_routing") */
    const char *gofield;   /* Go field path ("Features.EnableMetricSinkRouting"); NULL = no env */
    vn_ktype_t type;
    size_t off;            /* offset in the schema's struct (unused for V13/IGNORED) */
    const char *def;       /* default in env syntax, or NULL */
    unsigned flags;        /* VN_KF_* */
    const char *sink_kind; /* V13: "datadog" | "signalfx" | "kafka" */
    const char *sink_key;  /* V13: key in that sink's config; IGNORED: reason logged; ENUM: the
                              accepted values for messages ("consul, dns or kubernetes") */
    long long min, max;    /* INT, LONG, ULONG: the range when min < max (else the C type's) */
    const char *const *names; /* ENUM: NULL-terminated; the field holds the index */
    size_t off2;           /* MATCHERS, SINKS, SOURCES: offset of the count */
} vn_config_key_t;

/**
 * A key that is accepted (so a Go config loads) but does nothing here, and
 * why. Kept apart from the key table so that implementing a key is deleting
 * one row. VN_KT_IGNORED rows are not implemented either (their reason is
 * in sink_key) and need no row here.
 */
typedef struct vn_config_verdict {
    const char *key; /* YAML path, as in the key table */
    const char *why; /* short reason, no spaces: goes into a log field */
} vn_config_verdict_t;

typedef struct vn_config_schema {
    const vn_config_key_t *keys; /* rows sharing a YAML prefix ("tls.") are adjacent */
    size_t nkeys;
    const char *env_prefix; /* "VENEUR_", "VENEUR_PROXY_" */
    const vn_config_verdict_t *unimpl; /* keys accepted but not implemented, {NULL, NULL}-terminated
                                          (NULL = none); a list, so removing a row is the whole change */
} vn_config_schema_t;

/**
 * Why key (a YAML path of schema) is accepted but not implemented, or NULL
 * when it is implemented (or unknown).
 */
const char *vn_cfg_unimplemented(const vn_config_schema_t *schema, const char *key);

/** A sink or source kind of Go's and ours: why is NULL when we implement it. */
typedef struct vn_config_kind {
    const char *section; /* "metric_sinks", "span_sinks", "sources" */
    const char *kind;
    const char *why;
} vn_config_kind_t;

/** Every kind Go v14 registers, plus veneur-c's own (config_verdicts.c). */
extern const vn_config_kind_t vn_config_kinds[];
extern const size_t vn_config_nkinds;

/** NULL when `kind` is an implemented kind of section, else why not. */
const char *vn_cfg_kind_unimplemented(const char *section, const char *kind);

/** veneur's own schema (config_keys.c). */
extern const vn_config_schema_t vn_config_schema;

/** One load in progress (opaque outside src/config). */
typedef struct vn_cfg_loader vn_cfg_loader_t;

/**
 * A loader writing into obj (a struct the schema describes; borrowed, as
 * are schema and envp). err: the caller's buffer for the first error (may
 * be NULL). @return owned (vn_cfg_loader_free).
 */
vn_cfg_loader_t *vn_cfg_loader_new(const vn_config_schema_t *schema, void *obj, char *const *envp, bool strict,
                                   char *err, size_t errcap);
void vn_cfg_loader_free(vn_cfg_loader_t *ld);

/** Applies yaml[0..len) (its first document) through the table. VN_OK or VN_ERR_CONFIG (message set). */
vn_err_t vn_cfg_loader_yaml(vn_cfg_loader_t *ld, const char *yaml, size_t len);

/** Applies <prefix><GOFIELD> environment values (set-but-empty overrides too). */
vn_err_t vn_cfg_loader_env(vn_cfg_loader_t *ld);

/**
 * Makes vn_cfg_loader_verdicts fail on keys accepted but not implemented
 * (-validate-config-strict); the loader's strict alone (Go's -strict: no
 * unknown key) does not.
 */
void vn_cfg_loader_fail_unimplemented(vn_cfg_loader_t *ld);

/**
 * The verdicts of this load: every key that was set (YAML value not null,
 * or env value not empty) and is not implemented gets a WARN line naming it
 * and why (event=config_key_not_implemented). Strict loads fail with one
 * error listing every unknown key, and, after
 * vn_cfg_loader_fail_unimplemented, every unimplemented key and metric sink
 * kind too. Call after yaml and env.
 */
vn_err_t vn_cfg_loader_verdicts(vn_cfg_loader_t *ld);

/** Records the first error as "config: ..." (one line) and returns VN_ERR_CONFIG. */
vn_err_t vn_cfg__errf(vn_cfg_loader_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Escaped, truncated copy of v for messages (URL userinfo hidden), or "<redacted>" when secret. */
const char *vn_cfg__show(const char *v, bool secret, char *buf, size_t cap);

/** Env lookup in a NULL-terminated "K=V" array; NULL when unset. Borrows. */
const char *vn_cfg__getenv(char *const *envp, const char *name);

/** Go Duration.String()-compatible enough to parse back: "10s", "1.5s", "0s". */
void vn_cfg__format_duration(double seconds, char *buf, size_t cap);

/**
 * Reads a config file whole: a regular file only (a FIFO or device is
 * refused without blocking), at most max bytes. @return VN_OK with *buf
 * (owned, NUL-terminated) and *len, or VN_ERR_CONFIG with a "config: "
 * message naming the path.
 */
vn_err_t vn_cfg_read_file(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errcap);

/** Frees what the table's fields own in obj (strings, lists, matchers) and zeroes them. */
void vn_cfg_free_fields(const vn_config_schema_t *schema, void *obj);

/** The env name of k under schema ("VENEUR_PROXY_DIALTIMEOUT"). */
void vn_cfg_env_name(const vn_config_schema_t *schema, const vn_config_key_t *k, char *buf, size_t cap);

#endif
