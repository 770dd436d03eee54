/**
 * tags.c - tag splitting, magic scope tags, implicit tags, sorting, joining.
 *
 * docs/behaviour.md 1.4 (Go tagging/extend_tags.go):
 *   explicit "#b:2,veneurlocalonly,a,env:dev"   implicit ["env:prod"]
 *   1. split on ','              -> [b:2, veneurlocalonly, a, env:dev]
 *   2. first magic tag removed   -> [b:2, a, env:dev], scope local
 *   3. key overridden by implicit -> [b:2, a]   (key = text before the first ':')
 *   4. implicit appended, sorted -> [a, b:2, env:prod]
 * Empty explicit tags are kept ("#" -> [""]); empty implicit tags are ignored;
 * duplicates stay. Steps 1-3 happen in one pass over the section.
 */
#include "parse/tags.h"

#include "parse/scan.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define MAGIC_LOCAL "veneurlocalonly"
#define MAGIC_GLOBAL "veneurglobalonly"
#define MAGIC_LOCAL_LEN (sizeof(MAGIC_LOCAL) - 1)
#define MAGIC_GLOBAL_LEN (sizeof(MAGIC_GLOBAL) - 1)

/* Above this, insertion sort's n^2 moves lose to shell sort. */
#define INSERTION_MAX 16

/* Byte-wise ascending sort (Go sort.Strings order); no allocation. */
static void sort_tags(vn_str_t *t, size_t n);

static inline size_t key_len(vn_str_t t)
{
    const char *c = vn_parse__find(t.p, t.p + t.len, ':');
    return c ? (size_t)(c - t.p) : t.len;
}

/* True when tags a and b have the same key; klen_a = key_len(a). */
static inline bool same_key(vn_str_t a, size_t klen_a, vn_str_t b)
{
    if (b.len < klen_a || (b.len > klen_a && b.p[klen_a] != ':'))
        return false;
    return klen_a == 0 || memcmp(a.p, b.p, klen_a) == 0;
}

size_t vn_parse__n_implicit(const vn_parser_t *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_implicit; i++)
        n += p->implicit_tags[i].len != 0;
    return n;
}

/* Go shouldDropTag: an implicit tag with the same key replaces this one. */
static bool overridden(const vn_parser_t *p, vn_str_t t)
{
    if (t.len == 0)
        return false; /* explicit "" is always kept */
    size_t k = key_len(t);
    for (size_t i = 0; i < p->n_implicit; i++) {
        vn_str_t imp = p->implicit_tags[i];
        if (imp.len != 0 && same_key(t, k, imp))
            return true;
    }
    return false;
}

/* Sets *scope and returns true if t is the magic scope tag. */
static inline bool take_magic(vn_str_t t, vn_parse__magic_t magic, vn_scope_t *scope)
{
    if (t.len < MAGIC_LOCAL_LEN || t.p[0] != 'v')
        return false;
    bool exact = magic == VN_MAGIC_EXACT;
    if ((!exact || t.len == MAGIC_LOCAL_LEN) && memcmp(t.p, MAGIC_LOCAL, MAGIC_LOCAL_LEN) == 0) {
        *scope = VN_SCOPE_LOCAL;
        return true;
    }
    if (t.len >= MAGIC_GLOBAL_LEN && (!exact || t.len == MAGIC_GLOBAL_LEN) &&
        memcmp(t.p, MAGIC_GLOBAL, MAGIC_GLOBAL_LEN) == 0) {
        *scope = VN_SCOPE_GLOBAL;
        return true;
    }
    return false;
}

vn_parse_err_t vn_parse__split_tags(const vn_parser_t *p, const char *s, size_t len, vn_parse__magic_t magic,
                                    vn_scope_t *scope, vn_str_t *tags, size_t *ntags, size_t cap)
{
    /* "#a:1,veneurlocalonly,b"
     *   ^^^                      tag up to the next ',', or the end
     *       ^^^^^^^^^^^^^^^      first magic tag: dropped, scope set
     *                       ^    last tag: no ',' after it */
    bool magic_seen = false;
    bool any_implicit = p->n_implicit != 0;
    size_t n = *ntags;
    const char *q = s, *end = s + len;
    for (;;) {
        const char *c = vn_parse__find(q, end, ',');
        vn_str_t t = {q, (size_t)((c ? c : end) - q)};
        if (!magic_seen && take_magic(t, magic, scope)) {
            magic_seen = true;
        } else if (!any_implicit || !overridden(p, t)) {
            if (n >= cap) {
                *ntags = n;
                return VN_PARSE_ERR_TOO_MANY_TAGS;
            }
            tags[n++] = t;
        }
        if (!c)
            break;
        q = c + 1;
    }
    *ntags = n;
    return VN_PARSE_OK;
}

void vn_parse__finish_tags(const vn_parser_t *p, vn_str_t *tags, size_t *ntags)
{
    size_t n = *ntags;
    for (size_t i = 0; i < p->n_implicit; i++)
        if (p->implicit_tags[i].len != 0)
            tags[n++] = p->implicit_tags[i];
    sort_tags(tags, n);
    *ntags = n;
}

/* Inline first-byte check before memcmp: most tags differ in byte 0. */
static inline bool str_less(vn_str_t a, vn_str_t b)
{
    if (a.len && b.len && a.p[0] != b.p[0])
        return (unsigned char)a.p[0] < (unsigned char)b.p[0];
    return vn_str_cmp(a, b) < 0;
}

static void sort_tags(vn_str_t *t, size_t n)
{
    /* Shell sort (Ciura gaps) for long lists; its last pass, gap 1, is the
     * insertion sort used alone for short ones. Not stable: equal tags are
     * byte-identical, so order among them is invisible. */
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    size_t g0 = n <= INSERTION_MAX ? sizeof(gaps) / sizeof(gaps[0]) - 1 : 0;
    for (size_t g = g0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            vn_str_t x = t[i];
            size_t j = i;
            while (j >= gap && str_less(x, t[j - gap])) {
                t[j] = t[j - gap];
                j -= gap;
            }
            t[j] = x;
        }
    }
}

/* "k:" is the map entry k -> "", written "k" (header: "k:v" or "k"). */
static inline vn_str_t normalize_kv(vn_str_t t)
{
    if (t.len && t.p[t.len - 1] == ':' && key_len(t) == t.len - 1)
        t.len--;
    return t;
}

vn_parse_err_t vn_parse__event_tags(const vn_parser_t *p, const char *s, size_t len, int has_section,
                                    vn_str_t *tags, size_t *ntags)
{
    size_t n = 0;
    if (has_section) {
        const char *q = s, *end = s + len;
        for (;;) {
            const char *c = vn_parse__find(q, end, ',');
            if (n >= VN_PARSE_MAX_TAGS) {
                *ntags = 0;
                return VN_PARSE_ERR_TOO_MANY_TAGS;
            }
            tags[n++] = normalize_kv((vn_str_t){q, (size_t)((c ? c : end) - q)});
            if (!c)
                break;
            q = c + 1;
        }
        /* Go builds a map: for a repeated key the last tag wins. */
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            size_t k = key_len(tags[i]);
            bool later = false;
            for (size_t j = i + 1; j < n && !later; j++)
                later = same_key(tags[i], k, tags[j]);
            if (!later)
                tags[w++] = tags[i];
        }
        n = w;
    }
    /* Implicit tags replace explicit keys, and later implicit ones earlier. */
    for (size_t i = 0; i < p->n_implicit; i++) {
        vn_str_t imp = normalize_kv(p->implicit_tags[i]);
        if (imp.len == 0)
            continue;
        size_t k = key_len(imp);
        for (size_t j = 0; j < n; j++) {
            if (same_key(imp, k, tags[j])) {
                tags[j] = tags[--n]; /* keys are unique: at most one match */
                break;
            }
        }
        if (n >= VN_PARSE_MAX_TAGS) {
            *ntags = 0;
            return VN_PARSE_ERR_TOO_MANY_TAGS;
        }
        tags[n++] = imp;
    }
    sort_tags(tags, n);
    *ntags = n;
    return VN_PARSE_OK;
}

size_t vn_tags_join(const vn_str_t *tags, size_t n, char *buf, size_t cap)
{
    /* [a, b:2] -> "a,b:2"; no NUL is written. */
    size_t total = n ? n - 1 : 0;
    for (size_t i = 0; i < n; i++) {
        if (tags[i].len > SIZE_MAX - 1 - total)
            return SIZE_MAX;
        total += tags[i].len;
    }
    if (total > cap)
        return SIZE_MAX;
    char *w = buf;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        if (tags[i].len) {
            memcpy(w, tags[i].p, tags[i].len);
            w += tags[i].len;
        }
    }
    return total;
}
