/**
 * tag_match.h - Go Veneur's tag matchers (util/matcher TagMatcher) for the
 * proxy's ignore_tags: `{kind: exact|prefix|regex, value: ...}`.
 *
 *   exact   the tag equals value
 *   prefix  the tag starts with value
 *   regex   value matches anywhere in the tag (Go's MatchString: unanchored)
 *
 * Regexes are RE2 (core/regex.h), the dialect Go compiles them in, matched
 * in time linear in the tag: a 64 KiB hostile tag cannot stall the routing
 * thread (glibc's regexec could, for seconds: issue 15).
 *
 * Thread-safety: a compiled set is read-only and may be shared by threads.
 */
#ifndef VN_PROXY_TAG_MATCH_H
#define VN_PROXY_TAG_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"
#include "core/err.h"
#include "core/regex.h"

typedef enum vn_tagm_kind { VN_TAGM_EXACT, VN_TAGM_PREFIX, VN_TAGM_REGEX } vn_tagm_kind_t;

typedef struct vn_tagm {
    vn_tagm_kind_t kind;
    char *value; /* owned */
    size_t len;
    vn_regex_t *re; /* VN_TAGM_REGEX only; owned */
    /* exact/prefix values of 1..8 bytes (else 0): the value's bytes and a mask of them, as an
     * unaligned 8-byte load of a tag's start sees them; tags of 8 bytes or more are then
     * compared in one step, shorter ones through memcmp */
    uint64_t word, mask;
} vn_tagm_t;

typedef struct vn_tagm_set {
    vn_tagm_t *v; /* owned */
    size_t n;
} vn_tagm_set_t;

/**
 * Compiles n matchers (cfg borrowed; strings copied). @return VN_OK, or
 * VN_ERR_CONFIG with a one-line reason in err (unknown kind, bad regex).
 * On error *set is left empty.
 */
vn_err_t vn_tagm_set_init(vn_tagm_set_t *set, const vn_tag_matcher_t *cfg, size_t n, char *err, size_t errcap);

/** Frees what the set owns; it is then empty. NULL ok. */
void vn_tagm_set_destroy(vn_tagm_set_t *set);

/** vn_tagm_set_match's general case: every matcher in turn. */
bool vn_tagm_set_match_any(const vn_tagm_set_t *set, const char *tag, size_t len);

/**
 * True when any matcher matches tag[0..len) (not NUL-terminated). Inline for
 * the usual set, one exact/prefix value of up to 8 bytes against a tag of 8 or
 * more: one masked word compare, no call (the proxy asks per tag per metric).
 */
static inline bool vn_tagm_set_match(const vn_tagm_set_t *set, const char *tag, size_t len)
{
    const vn_tagm_t *m = set->v;
    if (set->n == 1 && m->mask && len >= 8 && m->kind != VN_TAGM_REGEX) {
        uint64_t t;
        memcpy(&t, tag, 8);
        return (m->kind == VN_TAGM_PREFIX || len == m->len) && (t & m->mask) == m->word;
    }
    return vn_tagm_set_match_any(set, tag, len);
}

#endif
