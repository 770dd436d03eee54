/*
 * tag_match.c - ignore_tags matchers (see tag_match.h).
 *
 * Tags are slices of a gRPC message, not C strings: every matcher takes
 * (pointer, length), so no copy is made per tag.
 */
#include "proxy/tag_match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* values, masks and tags are all loaded this way, so the byte order does not matter */
static inline uint64_t load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

vn_err_t vn_tagm_set_init(vn_tagm_set_t *set, const vn_tag_matcher_t *cfg, size_t n, char *err, size_t errcap)
{
    set->v = vn_xcalloc(n ? n : 1, sizeof *set->v);
    set->n = 0;
    for (size_t i = 0; i < n; i++) {
        vn_tagm_t *m = &set->v[i];
        const char *kind = cfg[i].kind ? cfg[i].kind : "";
        const char *value = cfg[i].value ? cfg[i].value : "";
        if (strcmp(kind, "exact") == 0) {
            m->kind = VN_TAGM_EXACT;
        } else if (strcmp(kind, "prefix") == 0) {
            m->kind = VN_TAGM_PREFIX;
        } else if (strcmp(kind, "regex") == 0) {
            m->kind = VN_TAGM_REGEX;
            char why[256];
            m->re = vn_regex_compile(value, why, sizeof why);
            if (!m->re) {
                snprintf(err, errcap, "ignore_tags[%zu]: invalid regex \"%s\": %s", i, value, why);
                vn_tagm_set_destroy(set);
                return VN_ERR_CONFIG;
            }
        } else {
            snprintf(err, errcap, "ignore_tags[%zu]: unknown matcher kind \"%s\" (exact, prefix or regex)", i, kind);
            vn_tagm_set_destroy(set);
            return VN_ERR_CONFIG;
        }
        m->value = vn_xstrdup(value);
        m->len = strlen(value);
        if (m->len >= 1 && m->len <= 8) {
            uint8_t w[8] = {0}, k[8] = {0};
            memcpy(w, m->value, m->len);
            memset(k, 0xff, m->len);
            m->word = load64(w);
            m->mask = load64(k);
        }
        set->n++;
    }
    return VN_OK;
}

void vn_tagm_set_destroy(vn_tagm_set_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        vn_regex_free(set->v[i].re);
        free(set->v[i].value);
    }
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

bool vn_tagm_set_match_any(const vn_tagm_set_t *set, const char *tag, size_t len)
{
    for (size_t i = 0; i < set->n; i++) {
        const vn_tagm_t *m = &set->v[i];
        switch (m->kind) {
        /* this runs per tag per metric: a value of up to 8 bytes against a tag of 8 or more is
         * one masked word compare; otherwise the first byte first, where most tags differ */
        case VN_TAGM_EXACT:
            if (len != m->len)
                break;
            if (m->mask && len >= 8) {
                if ((load64(tag) & m->mask) == m->word)
                    return true;
                break;
            }
            if (len == 0 || (tag[0] == m->value[0] && memcmp(tag, m->value, len) == 0))
                return true;
            break;
        case VN_TAGM_PREFIX:
            if (len < m->len)
                break;
            if (m->mask && len >= 8) {
                if ((load64(tag) & m->mask) == m->word)
                    return true;
                break;
            }
            if (m->len == 0 || (tag[0] == m->value[0] && memcmp(tag, m->value, m->len) == 0))
                return true;
            break;
        case VN_TAGM_REGEX:
            if (vn_regex_match(m->re, tag, len))
                return true;
            break;
        }
    }
    return false;
}
