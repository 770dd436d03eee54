/*
 * tag_match.c - ignore_tags matchers (see tag_match.h).
 *
 * Regex matching runs on tags that are slices of a gRPC message, not C
 * strings: REG_STARTEND (glibc, the BSDs) gives regexec the bounds, so no
 * copy is made per tag.
 */
#include "proxy/tag_match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* Appends s to out at *o; false when it does not fit (with the NUL). */
static bool put(char *out, size_t cap, size_t *o, const char *s)
{
    size_t n = strlen(s);
    if (*o + n + 1 > cap)
        return false;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return true;
}

bool vn_tagm_translate_re2(const char *re2, char *out, size_t cap, bool *icase)
{
    size_t o = 0;
    *icase = false;
    if (cap == 0)
        return false;
    out[0] = '\0';
    const char *p = re2;
    if (strncmp(p, "(?i)", 4) == 0) {
        *icase = true;
        p += 4;
    }
    bool in_bracket = false;
    for (; *p; p++) {
        char tmp[2] = {*p, 0};
        if (*p == '\\' && p[1]) {
            char c = p[1];
            const char *in = NULL, *outside = NULL;
            switch (c) {
            case 'd': in = "0-9"; outside = "[0-9]"; break;
            case 'D': outside = "[^0-9]"; break;
            case 'w': in = "A-Za-z0-9_"; outside = "[A-Za-z0-9_]"; break;
            case 'W': outside = "[^A-Za-z0-9_]"; break;
            case 's': in = "[:space:]"; outside = "[[:space:]]"; break;
            case 'S': outside = "[^[:space:]]"; break;
            default: break;
            }
            const char *rep = in_bracket ? in : outside;
            if (rep) {
                if (!put(out, cap, &o, rep))
                    return false;
                p++;
                continue;
            }
            if (in_bracket) {
                /* POSIX brackets have no escapes. A negated class (\D) or an
                 * escaped ] \ ^ - cannot be written in place: refuse rather
                 * than change the pattern's meaning. Others are literals. */
                if (c == 'D' || c == 'W' || c == 'S' || c == ']' || c == '\\' || c == '^' || c == '-')
                    return false;
                tmp[0] = c;
                if (!put(out, cap, &o, tmp))
                    return false;
                p++;
                continue;
            }
            char esc[3] = {'\\', c, 0};
            if (!put(out, cap, &o, esc))
                return false;
            p++;
            continue;
        }
        if (!in_bracket && *p == '[') {
            in_bracket = true;
            if (!put(out, cap, &o, "["))
                return false;
            /* a leading ^ and a leading ] belong to the bracket */
            if (p[1] == '^') {
                if (!put(out, cap, &o, "^"))
                    return false;
                p++;
            }
            if (p[1] == ']') {
                if (!put(out, cap, &o, "]"))
                    return false;
                p++;
            }
            continue;
        }
        if (in_bracket && *p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            /* a POSIX class like [:alpha:] inside a bracket: copy through its closing ":]" */
            char delim = p[1];
            const char *end = p + 2;
            while (*end && !(end[0] == delim && end[1] == ']'))
                end++;
            if (!*end)
                return false;
            size_t n = (size_t)(end + 2 - p);
            if (o + n + 1 > cap)
                return false;
            memcpy(out + o, p, n);
            o += n;
            out[o] = '\0';
            p = end + 1;
            continue;
        }
        if (in_bracket && *p == ']')
            in_bracket = false;
        if (!put(out, cap, &o, tmp))
            return false;
    }
    return true;
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
            size_t cap = strlen(value) * 14 + 16; /* "\w" -> "[A-Za-z0-9_]" is the worst growth */
            char *ere = vn_xmalloc(cap);
            bool icase = false;
            int rc = -1;
            if (vn_tagm_translate_re2(value, ere, cap, &icase))
                rc = regcomp(&m->re, ere, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
            free(ere);
            if (rc != 0) {
                char why[128] = "unsupported RE2 syntax (see docs/internals/proxy.md)";
                if (rc > 0)
                    regerror(rc, NULL, why, sizeof why);
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
        set->n++;
    }
    return VN_OK;
}

void vn_tagm_set_destroy(vn_tagm_set_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++) {
        if (set->v[i].kind == VN_TAGM_REGEX)
            regfree(&set->v[i].re);
        free(set->v[i].value);
    }
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

bool vn_tagm_set_match(const vn_tagm_set_t *set, const char *tag, size_t len)
{
    for (size_t i = 0; i < set->n; i++) {
        const vn_tagm_t *m = &set->v[i];
        switch (m->kind) {
        case VN_TAGM_EXACT:
            if (len == m->len && memcmp(tag, m->value, len) == 0)
                return true;
            break;
        case VN_TAGM_PREFIX:
            if (len >= m->len && memcmp(tag, m->value, m->len) == 0)
                return true;
            break;
        case VN_TAGM_REGEX: {
            regmatch_t pm = {.rm_so = 0, .rm_eo = (regoff_t)len};
            if (regexec(&m->re, len ? tag : "", 1, &pm, REG_STARTEND) == 0)
                return true;
            break;
        }
        }
    }
    return false;
}
