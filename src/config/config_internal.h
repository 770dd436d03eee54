/**
 * config_internal.h - shared by the files of src/config/ only (not a public API).
 *
 * The loader is table-driven: vn_config_keys[] (config_keys.c) lists every
 * top-level key once with its YAML path, Go field path (which gives the
 * VENEUR_* env name), type, offset into vn_config_t, default and flags. YAML
 * values and env values go through the same typed setters, so a key that can be
 * set from one can always be set from the other.
 */
#ifndef VN_CONFIG_CONFIG_INTERNAL_H
#define VN_CONFIG_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "config/config.h"
#include "config/config_schema.h"

/* ---- limits: every size that comes from the file is bounded before use ---- */
#define VN_CFG_MAX_FILE (16u << 20)     /* bytes of YAML read by vn_config_load_file */
#define VN_CFG_MAX_DEPTH 32             /* nesting inside a sink `config:` block */
#define VN_CFG_MAX_NODE_VISITS 200000u  /* total nodes walked (bounds alias fan-out) */
#define VN_CFG_MAX_KV 16384u            /* flattened entries, all sinks together */
#define VN_CFG_MAX_KEY 512u             /* bytes of a flattened key */
#define VN_CFG_MAX_PAIRS 10000u         /* pairs in one mapping */
#define VN_CFG_MAX_ITEMS 10000u         /* items in one list */
#define VN_CFG_MAX_SINKS 1024u          /* metric_sinks entries */
#define VN_CFG_MAX_PERCENTILES 100u
#define VN_CFG_MAX_METRIC_LENGTH (16 << 20)

extern const vn_config_key_t vn_config_keys[];
/* veneur's keys accepted but not implemented (config_verdicts.c) */
extern const vn_config_verdict_t vn_config__unimpl[]; /* ends with {NULL, NULL} */
extern const size_t vn_config_nkeys;

/** Growable kv vector used while building (cap is not kept in vn_sink_config_t). */
typedef struct vn_kvvec {
    vn_kv_t *v;
    size_t n, cap;
} vn_kvvec_t;

enum {
    VN_V13_DATADOG,
    VN_V13_SIGNALFX,
    VN_V13_KAFKA,
    VN_V13_NEWRELIC,
    VN_V13_S3,
    /* span sinks: keys already renamed to the v14 span sink config keys */
    VN_V13_SPAN_DATADOG,
    VN_V13_SPAN_KAFKA,
    VN_V13_SPAN_SPLUNK,
    VN_V13_SPAN_XRAY,
    VN_V13_SPAN_LIGHTSTEP,
    VN_V13_SPAN_FALCONER,
    VN_V13__N
};

/** Loader state for one load (vn_cfg_loader_t). */
struct vn_cfg_loader {
    const vn_config_schema_t *schema;
    void *obj;        /* the struct the schema describes */
    vn_config_t *cfg; /* obj when the schema is veneur's, else NULL (veneur-only key types) */
    bool strict;
    char *err;       /* caller's errbuf (may be NULL) */
    size_t errcap;
    bool failed;     /* first error wins */
    size_t visits;   /* nodes walked so far */
    size_t kv_total; /* kv entries made so far */
    vn_kvvec_t v13[VN_V13__N]; /* [v13] passthrough keys per translated sink kind */
    char *const *envp;
    void **arena; /* pair arrays from vn_cfg__map_pairs, freed at the end of the load */
    size_t n_arena;
    bool *set; /* per schema row: set by this load to a non-null value (the verdicts) */
    /* strict: what vn_cfg_loader_verdicts fails with (cut with "..." when full) */
    char unknown[512], unimpl[768];
    size_t n_unknown, n_unimpl;
    bool fail_unimpl; /* vn_cfg_loader_fail_unimplemented */
};

/** Strict mode: adds item to the unknown (or unimplemented) list the load will fail with. */
void vn_cfg__strict_add(vn_cfg_loader_t *ld, bool unknown, const char *item);

/** Notes that k (a row of ld's schema) was given a value (vn_cfg_loader_verdicts). */
void vn_cfg__mark_set(vn_cfg_loader_t *ld, const vn_config_key_t *k);


/* ---- errors and safe printing (config.c) ---- */
/** True for keys whose values are secrets (key, token, password, secret, credential, auth, dsn). */
bool vn_cfg__key_is_secret(const char *key);

/* ---- scalar parsing (config_keys.c) ---- */
bool vn_cfg__parse_int(const char *s, long long min, long long max, long long *out);
bool vn_cfg__parse_bool(const char *s, bool yaml_forms, bool *out);
bool vn_cfg__parse_float(const char *s, double *out);

/* ---- table-driven setters (config_keys.c); fields are found in ld->obj ---- */
/** Applies defaults of the table (before the file is read). */
void vn_cfg__init_defaults(vn_config_t *cfg);
/** Sets a key from env text (lists comma-split). origin names the env var for messages. */
vn_err_t vn_cfg__set_from_env(vn_cfg_loader_t *ld, const vn_config_key_t *k, const char *val, const char *origin);
/** Sets a key from a YAML node. */
vn_err_t vn_cfg__set_from_node(vn_cfg_loader_t *ld, const vn_config_key_t *k, yaml_document_t *doc,
                               yaml_node_t *node);
/** Re-applies the default of VN_KF_ZERO_DEFAULT keys whose value is zero. */
void vn_cfg__apply_zero_defaults(vn_config_t *cfg);
/** Frees what the table's fields own (not sinks/routing). */
void vn_cfg__free_fields(vn_config_t *cfg);
/** A row of the loader's schema by YAML path, or NULL. */
const vn_config_key_t *vn_cfg__schema_find(const vn_config_schema_t *s, const char *path);
/** True when some row of s is nested under k ("tls" for "tls.ca_file"). */
bool vn_cfg__schema_is_group(const vn_config_schema_t *s, const char *k);
/** A key's value is never printed: VN_KF_SECRET or a secret-sounding name. */
bool vn_cfg__secret_key(const vn_config_key_t *k);
/** Tag matchers ({kind, value, unset}) from a YAML list into *arr / *n (config_sections.c). */
vn_err_t vn_cfg__parse_tag_matchers(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                                    vn_tag_matcher_t **arr, size_t *n);
const vn_config_key_t *vn_cfg__find_key(const char *path);
/** "VENEUR_" + Go path upper-cased with '.' -> '_'. */
void vn_cfg__env_name(const vn_config_key_t *k, char *buf, size_t cap);

/* ---- YAML node readers (config_yaml.c) ---- */
bool vn_cfg__is_null(const yaml_node_t *n);
/** A scalar's text ("" for null); borrowed from the document. */
const char *vn_cfg__scalar_text(const yaml_node_t *n);
/** Item i of a sequence node (i below its length), borrowed from the document. */
yaml_node_t *vn_cfg__seq_item(yaml_document_t *doc, yaml_node_t *seq, size_t i);
/** node is a list of at most VN_CFG_MAX_ITEMS items (*n: how many), else an error naming where. */
vn_err_t vn_cfg__seq_check(vn_cfg_loader_t *ld, yaml_node_t *node, const char *where, size_t *n);
/** Counts a node visit; false (with error set) once the budget is spent. */
bool vn_cfg__visit(vn_cfg_loader_t *ld);
/** One effective key of a mapping; key text and node are borrowed from the document. */
typedef struct vn_cfg_pair {
    const char *key;
    yaml_node_t *val;
} vn_cfg_pair_t;
/**
 * Effective pairs of a mapping: its own keys (scalars, distinct, else an error),
 * then the keys of mappings merged in with YAML merge keys (`<<: *base`) that it
 * does not set itself. The array belongs to the loader (freed when the load ends).
 */
vn_err_t vn_cfg__map_pairs(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                           vn_cfg_pair_t **pairs, size_t *n);
/** Unknown key: error when strict, else a warning naming it. */
vn_err_t vn_cfg__unknown_key(vn_cfg_loader_t *ld, const char *key);
/** Flattens node under prefix into out (docs/behaviour.md 4.1: nested maps join with '.', items by index). */
vn_err_t vn_cfg__flatten(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *prefix,
                         int depth, vn_kvvec_t *out);
/** Scalar sequence -> owned string array (null -> empty). */
vn_err_t vn_cfg__node_strlist(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *where,
                              vn_strlist_t *out);
/** Go's envconfig overrides of one sink's (span: span sink's) keys (config_sinks.c). */
void vn_cfg__apply_sink_env(vn_cfg_loader_t *ld, vn_sink_config_t *sc, bool span);
/** The [v13] flat keys -> span_sinks and metric_sinks entries (config_sinks.c). */
vn_err_t vn_cfg__translate_v13(vn_cfg_loader_t *ld);
/* ---- structured sections (config_sections.c) ---- */
/** metric_sinks or span_sinks (section) into *arr / *n. */
vn_err_t vn_cfg__parse_sinks(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node, const char *section,
                             vn_sink_config_t **arr, size_t *n);
/** `sources` into *arr / *n. */
vn_err_t vn_cfg__parse_sources(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node,
                               vn_source_config_t **arr, size_t *n);
vn_err_t vn_cfg__parse_routing(vn_cfg_loader_t *ld, yaml_document_t *doc, yaml_node_t *node);

/* ---- kv / list helpers (config_kv.c) ---- */
void vn_cfg__kv_free(vn_kv_t *kv);
void vn_cfg__kvvec_free(vn_kvvec_t *v);
/** Appends a copy; list items are taken over (ownership) when list != NULL. */
vn_err_t vn_cfg__kvvec_push(vn_cfg_loader_t *ld, vn_kvvec_t *v, const char *key, const char *value,
                            vn_strlist_t *list, bool is_list);
/** Removes every entry whose key is key or starts with key + ".". */
void vn_cfg__kvvec_remove_prefix(vn_kvvec_t *v, const char *key);
void vn_cfg__strlist_free(vn_strlist_t *l);
/** Splits at ',' without trimming; "" gives an empty list. */
void vn_cfg__split_commas(const char *s, vn_strlist_t *out);
/** Joins with ','; returns owned. */
char *vn_cfg__join(const vn_strlist_t *l);
void vn_cfg__sink_free(vn_sink_config_t *sc);
void vn_cfg__source_free(vn_source_config_t *sc);
/** Frees n matchers and the array. */
void vn_cfg__matchers_free(vn_tag_matcher_t *m, size_t n);
void vn_cfg__routing_free(vn_sink_routing_t *r);

#endif
