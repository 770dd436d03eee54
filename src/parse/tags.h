/**
 * tags.h - module-internal tag handling for src/parse (docs/behaviour.md 1.4): splitting a
 * `#a,b:c` section, magic scope tags, implicit-tag override, byte-wise sort.
 *
 * Every vn_str_t written borrows the input line or the parser's implicit tags.
 * Nothing here allocates; the caller provides the tag array. Thread-safe.
 */
#ifndef VN_PARSE_TAGS_H
#define VN_PARSE_TAGS_H

#include <stddef.h>

#include "parse/dogstatsd.h"

/** How the first magic scope tag is recognised (docs/behaviour.md 1.2 step 7, 1.6). */
typedef enum vn_parse__magic {
    VN_MAGIC_PREFIX, /* metrics: HasPrefix("veneurlocalonly"/"veneurglobalonly") */
    VN_MAGIC_EXACT,  /* service checks: the whole tag must equal the word */
} vn_parse__magic_t;

/** Number of non-empty implicit tags (empty ones are ignored, docs/behaviour.md 1.4). */
size_t vn_parse__n_implicit(const vn_parser_t *p);

/**
 * List semantics (metrics, service checks). Splits s[0..len) on ',' into
 * tags[*ntags..]; removes the first magic tag (sets *scope); drops explicit
 * tags whose key an implicit tag overrides. At most `cap` explicit tags may be
 * kept, else VN_PARSE_ERR_TOO_MANY_TAGS.
 */
vn_parse_err_t vn_parse__split_tags(const vn_parser_t *p, const char *s, size_t len, vn_parse__magic_t magic,
                                    vn_scope_t *scope, vn_str_t *tags, size_t *ntags, size_t cap);

/** Appends the non-empty implicit tags (room must exist) and sorts all tags. */
void vn_parse__finish_tags(const vn_parser_t *p, vn_str_t *tags, size_t *ntags);

/**
 * Map semantics (events, docs/behaviour.md 1.5): each tag is key[:value], a later key
 * replaces an earlier one, implicit tags replace explicit ones. Written as
 * "k:v", or "k" when the value is empty; sorted. has_section false means the
 * line had no `#` section (only implicit tags result).
 */
vn_parse_err_t vn_parse__event_tags(const vn_parser_t *p, const char *s, size_t len, int has_section,
                                    vn_str_t *tags, size_t *ntags);

#endif
