/**
 * json_read.h - a small, strict JSON reader for untrusted responses (the
 * proxy's Consul and Kubernetes discovery, the SignalFx token API): bytes from
 * the network in, a read-only tree out, or a one-line reason. In core so that
 * sinks and proxy share it without one depending on the other.
 *
 * Strict RFC 8259: one value (any type) surrounded only by whitespace
 * (space, tab, CR, LF); no trailing commas, comments, single quotes, NaN,
 * leading zeros, leading '+', or bare control bytes in strings; every string
 * must be valid UTF-8 (no overlong forms, no UTF-8-encoded surrogates,
 * nothing above U+10FFFF) and every \u escape of a surrogate must form a
 * pair. Duplicate object keys are kept; vn_jread_get returns the last one,
 * as Go's encoding/json does.
 *
 * Bounds: the input length is the caller's (it caps the download); nodes
 * are capped by max_nodes, nesting by VN_JREAD_MAX_DEPTH; decoded strings
 * never take more than the input length. Nothing is allocated beyond those.
 *
 * Tree layout: nodes in document order (a container is followed by its
 * children, each followed by its own descendants); walk children with
 * vn_jread_child. Strings are decoded (escapes resolved) and NUL-terminated
 * in the document's pool. Thread-safety: a parsed document is read-only.
 */
#ifndef VN_CORE_JSON_READ_H
#define VN_CORE_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define VN_JREAD_MAX_DEPTH 64

typedef enum vn_jread_type {
    VN_JREAD_NULL,
    VN_JREAD_FALSE,
    VN_JREAD_TRUE,
    VN_JREAD_NUMBER,
    VN_JREAD_STRING,
    VN_JREAD_ARRAY,
    VN_JREAD_OBJECT,
} vn_jread_type_t;

typedef struct vn_jread_node {
    vn_jread_type_t type;
    uint32_t count;   /* ARRAY: items; OBJECT: members */
    uint32_t end;     /* index just past this node's last descendant */
    uint32_t key;     /* member of an object: key offset in the pool ... */
    uint32_t key_len; /* ... and its length; UINT32_MAX offset otherwise */
    uint32_t str;     /* STRING: decoded bytes in the pool; NUMBER: its text */
    uint32_t str_len;
    double num;       /* NUMBER: strtod of the text (may be +-Inf when huge) */
} vn_jread_node_t;

typedef struct vn_jread_doc {
    vn_jread_node_t *nodes; /* owned */
    size_t n;
    char *pool; /* owned */
    size_t pool_len;
} vn_jread_doc_t;

/**
 * Parses text[0..len) (borrowed; need not be NUL-terminated). On success
 * *doc owns its memory (vn_jread_free). @return VN_OK, or VN_ERR_PARSE
 * (malformed: err says what and at which byte offset) / VN_ERR_TOO_LARGE
 * (more than max_nodes values, or nesting past VN_JREAD_MAX_DEPTH), doc
 * then empty.
 */
vn_err_t vn_jread_parse(const char *text, size_t len, size_t max_nodes, vn_jread_doc_t *doc, char *err,
                        size_t errcap);

/** Frees the document's memory; it is then empty. NULL ok. */
void vn_jread_free(vn_jread_doc_t *doc);

/** The top-level value; NULL for an empty document. Borrowed from doc. */
const vn_jread_node_t *vn_jread_root(const vn_jread_doc_t *doc);

/**
 * Children of an array or object: prev NULL gives the first, else the one
 * after prev; NULL when there are no more (or c is not a container).
 */
const vn_jread_node_t *vn_jread_child(const vn_jread_doc_t *doc, const vn_jread_node_t *c,
                                      const vn_jread_node_t *prev);

/** Object member named key (the last one if repeated), or NULL. */
const vn_jread_node_t *vn_jread_get(const vn_jread_doc_t *doc, const vn_jread_node_t *obj, const char *key);

/** A STRING's decoded bytes (NUL-terminated, *len without it); NULL for other types. */
const char *vn_jread_str(const vn_jread_doc_t *doc, const vn_jread_node_t *n, size_t *len);

/** A member's key (NUL-terminated), or NULL if n is not an object member. */
const char *vn_jread_key(const vn_jread_doc_t *doc, const vn_jread_node_t *n);

/**
 * A NUMBER written as an integer (no fraction, no exponent) that fits in
 * int64 -> true with *out; false otherwise (other types too).
 */
bool vn_jread_int(const vn_jread_doc_t *doc, const vn_jread_node_t *n, int64_t *out);

#endif
