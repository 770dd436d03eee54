/**
 * tag_match.h - Go Veneur's tag matchers (util/matcher TagMatcher) for the
 * proxy's ignore_tags: `{kind: exact|prefix|regex, value: ...}`.
 *
 *   exact   the tag equals value
 *   prefix  the tag starts with value
 *   regex   value matches anywhere in the tag (Go's MatchString: unanchored)
 *
 * Go compiles RE2; here the pattern goes to the C library's POSIX extended
 * regex after translating the RE2 shorthands people use in tag patterns:
 * \d \D \w \W \s \S (inside and outside brackets) and a leading (?i). Any
 * other RE2-only syntax that POSIX ERE rejects fails at load with the
 * pattern named, never silently.
 *
 * Thread-safety: a compiled set is read-only and may be shared by threads
 * (regexec on a shared regex_t is thread-safe in glibc).
 */
#ifndef VN_PROXY_TAG_MATCH_H
#define VN_PROXY_TAG_MATCH_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "core/err.h"

typedef enum vn_tagm_kind { VN_TAGM_EXACT, VN_TAGM_PREFIX, VN_TAGM_REGEX } vn_tagm_kind_t;

typedef struct vn_tagm {
    vn_tagm_kind_t kind;
    char *value; /* owned */
    size_t len;
    regex_t re;  /* VN_TAGM_REGEX only */
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

/** True when any matcher matches tag[0..len) (not NUL-terminated). */
bool vn_tagm_set_match(const vn_tagm_set_t *set, const char *tag, size_t len);

/**
 * Translates an RE2 pattern to POSIX ERE as described above into out
 * (NUL-terminated). *icase is set for a leading (?i). @return false when out
 * is too small, or for what has no faithful POSIX form: a negated class
 * (\D \W \S) or an escaped ] \ ^ - inside brackets, an unterminated [: class.
 */
bool vn_tagm_translate_re2(const char *re2, char *out, size_t cap, bool *icase);

#endif
