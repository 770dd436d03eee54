/*
 * json_read.c - strict JSON reader (see json_read.h for the rules).
 *
 * Recursive descent over the bytes, depth-limited, building nodes in
 * document order. Each parse step names what it accepts, e.g. a number:
 *
 *   -12.5e+3
 *   ^          optional minus
 *    ^^        int: "0" or [1-9][0-9]*   (so "01" stops after "0", then fails)
 *      ^^      frac: "." [0-9]+
 *        ^^^   exp: [eE] [+-]? [0-9]+
 *
 * The number's text is copied into the pool and converted with strtod
 * ("C" locale; the daemon never calls setlocale).
 */
#include "core/json_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/xalloc.h"

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    size_t max_nodes;
    vn_jread_doc_t *doc;
    size_t nodes_cap, pool_cap;
    char *err;
    size_t errcap;
    vn_err_t rc;
} parser_t;

static vn_err_t fail(parser_t *p, vn_err_t rc, const char *what)
{
    if (p->rc == VN_OK) {
        p->rc = rc;
        snprintf(p->err, p->errcap, "json: %s at byte %zu", what, p->pos);
    }
    return rc;
}

static void skip_ws(parser_t *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static long new_node(parser_t *p, vn_jread_type_t t)
{
    vn_jread_doc_t *d = p->doc;
    if (d->n >= p->max_nodes) {
        fail(p, VN_ERR_TOO_LARGE, "too many values");
        return -1;
    }
    if (d->n == p->nodes_cap) {
        p->nodes_cap = p->nodes_cap ? p->nodes_cap * 2 : 64;
        if (p->nodes_cap > p->max_nodes)
            p->nodes_cap = p->max_nodes;
        d->nodes = vn_xrealloc(d->nodes, p->nodes_cap * sizeof *d->nodes);
    }
    vn_jread_node_t *n = &d->nodes[d->n];
    memset(n, 0, sizeof *n);
    n->type = t;
    n->key = UINT32_MAX;
    return (long)d->n++;
}

/* Room for k more pool bytes; the pool never outgrows the input plus NULs. */
static void pool_reserve(parser_t *p, size_t k)
{
    vn_jread_doc_t *d = p->doc;
    if (d->pool_len + k <= p->pool_cap)
        return;
    size_t cap = p->pool_cap ? p->pool_cap * 2 : 256;
    while (cap < d->pool_len + k)
        cap *= 2;
    d->pool = vn_xrealloc(d->pool, cap);
    p->pool_cap = cap;
}

static void pool_put(parser_t *p, const void *b, size_t k)
{
    pool_reserve(p, k);
    memcpy(p->doc->pool + p->doc->pool_len, b, k);
    p->doc->pool_len += k;
}

static bool read_hex4(parser_t *p, unsigned *out)
{
    if (p->len - p->pos < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = vn_hex_digit((unsigned char)p->s[p->pos + (size_t)i]);
        if (h < 0)
            return false;
        v = v * 16 + (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return true;
}

static void put_utf8(parser_t *p, unsigned cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    pool_put(p, b, n);
}

/* Length of the valid UTF-8 sequence at s[0..avail) that starts with a byte >= 0x80, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned min, cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/*
 * "a\u00e9\n"  ->  pool: 61 c3 a9 0a 00
 * ^ opening quote at p->pos. Appends the decoded bytes and a NUL to the pool;
 * off and len locate them.
 */
static vn_err_t parse_string(parser_t *p, uint32_t *off, uint32_t *len)
{
    p->pos++; /* the opening quote */
    size_t start = p->doc->pool_len;
    for (;;) {
        if (p->pos >= p->len)
            return fail(p, VN_ERR_PARSE, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return fail(p, VN_ERR_PARSE, "control character in string");
        if (c == '\\') {
            if (p->pos + 1 >= p->len)
                return fail(p, VN_ERR_PARSE, "unterminated escape");
            unsigned char e = p->s[p->pos + 1];
            p->pos += 2;
            char out = 0;
            switch (e) {
            case '"': out = '"'; break;
            case '\\': out = '\\'; break;
            case '/': out = '/'; break;
            case 'b': out = '\b'; break;
            case 'f': out = '\f'; break;
            case 'n': out = '\n'; break;
            case 'r': out = '\r'; break;
            case 't': out = '\t'; break;
            case 'u': {
                unsigned cp;
                if (!read_hex4(p, &cp))
                    return fail(p, VN_ERR_PARSE, "bad \\u escape");
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail(p, VN_ERR_PARSE, "unpaired low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                        return fail(p, VN_ERR_PARSE, "unpaired high surrogate");
                    p->pos += 2;
                    if (!read_hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return fail(p, VN_ERR_PARSE, "unpaired high surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(p, cp);
                continue;
            }
            default: p->pos -= 1; return fail(p, VN_ERR_PARSE, "unknown escape");
            }
            pool_put(p, &out, 1);
            continue;
        }
        if (c < 0x80) {
            /* a run of plain ASCII in one copy */
            size_t q = p->pos;
            while (q < p->len && p->s[q] >= 0x20 && p->s[q] < 0x80 && p->s[q] != '"' && p->s[q] != '\\')
                q++;
            pool_put(p, p->s + p->pos, q - p->pos);
            p->pos = q;
            continue;
        }
        size_t n = utf8_seq(p->s + p->pos, p->len - p->pos);
        if (n == 0)
            return fail(p, VN_ERR_PARSE, "invalid UTF-8 in string");
        pool_put(p, p->s + p->pos, n);
        p->pos += n;
    }
    size_t l = p->doc->pool_len - start;
    pool_put(p, "", 1);
    if (start > UINT32_MAX || l > UINT32_MAX)
        return fail(p, VN_ERR_TOO_LARGE, "document too large");
    *off = (uint32_t)start;
    *len = (uint32_t)l;
    return VN_OK;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static vn_err_t parse_number(parser_t *p, vn_jread_node_t *n)
{
    size_t start = p->pos;
    if (p->pos < p->len && p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return fail(p, VN_ERR_PARSE, "bad number");
    if (p->s[p->pos] == '0')
        p->pos++;
    else
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return fail(p, VN_ERR_PARSE, "bad number: digits expected after '.'");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return fail(p, VN_ERR_PARSE, "bad number: digits expected in exponent");
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    size_t l = p->pos - start;
    size_t off = p->doc->pool_len;
    pool_put(p, p->s + start, l);
    pool_put(p, "", 1);
    if (off > UINT32_MAX)
        return fail(p, VN_ERR_TOO_LARGE, "document too large");
    n->str = (uint32_t)off;
    n->str_len = (uint32_t)l;
    n->num = strtod(p->doc->pool + off, NULL);
    return VN_OK;
}

static bool literal(parser_t *p, const char *word)
{
    size_t l = strlen(word);
    if (p->len - p->pos < l || memcmp(p->s + p->pos, word, l) != 0)
        return false;
    p->pos += l;
    return true;
}

static vn_err_t parse_value(parser_t *p, int depth, long *out);

/* '[' or '{' at p->pos; idx is the container's node. */
static vn_err_t parse_container(parser_t *p, int depth, long idx, bool obj)
{
    char close = obj ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return VN_OK;
    }
    uint32_t count = 0;
    for (;;) {
        uint32_t koff = UINT32_MAX, klen = 0;
        skip_ws(p);
        if (obj) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return fail(p, VN_ERR_PARSE, "object key expected");
            if (parse_string(p, &koff, &klen) != VN_OK)
                return p->rc;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail(p, VN_ERR_PARSE, "':' expected");
            p->pos++;
        }
        long child;
        if (parse_value(p, depth + 1, &child) != VN_OK)
            return p->rc;
        p->doc->nodes[child].key = koff;
        p->doc->nodes[child].key_len = klen;
        count++;
        skip_ws(p);
        if (p->pos >= p->len)
            return fail(p, VN_ERR_PARSE, obj ? "unterminated object" : "unterminated array");
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        return fail(p, VN_ERR_PARSE, obj ? "',' or '}' expected" : "',' or ']' expected");
    }
    p->doc->nodes[idx].count = count;
    return VN_OK;
}

static vn_err_t parse_value(parser_t *p, int depth, long *out)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, VN_ERR_PARSE, "value expected");
    unsigned char c = p->s[p->pos];
    vn_jread_type_t t;
    switch (c) {
    case '{': t = VN_JREAD_OBJECT; break;
    case '[': t = VN_JREAD_ARRAY; break;
    case '"': t = VN_JREAD_STRING; break;
    case 't': t = VN_JREAD_TRUE; break;
    case 'f': t = VN_JREAD_FALSE; break;
    case 'n': t = VN_JREAD_NULL; break;
    default:
        if (c != '-' && !is_digit(c))
            return fail(p, VN_ERR_PARSE, "unexpected character");
        t = VN_JREAD_NUMBER;
        break;
    }
    /* depth counts the containers around this value: at most MAX_DEPTH open at once */
    if ((t == VN_JREAD_OBJECT || t == VN_JREAD_ARRAY) && depth >= VN_JREAD_MAX_DEPTH)
        return fail(p, VN_ERR_TOO_LARGE, "nesting too deep");
    long idx = new_node(p, t);
    if (idx < 0)
        return p->rc;
    *out = idx;
    vn_err_t rc = VN_OK;
    switch (t) {
    case VN_JREAD_OBJECT: rc = parse_container(p, depth, idx, true); break;
    case VN_JREAD_ARRAY: rc = parse_container(p, depth, idx, false); break;
    case VN_JREAD_STRING: {
        uint32_t off, len;
        rc = parse_string(p, &off, &len);
        if (rc == VN_OK) {
            p->doc->nodes[idx].str = off;
            p->doc->nodes[idx].str_len = len;
        }
        break;
    }
    case VN_JREAD_TRUE: rc = literal(p, "true") ? VN_OK : fail(p, VN_ERR_PARSE, "bad literal"); break;
    case VN_JREAD_FALSE: rc = literal(p, "false") ? VN_OK : fail(p, VN_ERR_PARSE, "bad literal"); break;
    case VN_JREAD_NULL: rc = literal(p, "null") ? VN_OK : fail(p, VN_ERR_PARSE, "bad literal"); break;
    case VN_JREAD_NUMBER: rc = parse_number(p, &p->doc->nodes[idx]); break;
    }
    if (rc != VN_OK)
        return rc;
    p->doc->nodes[idx].end = (uint32_t)p->doc->n;
    return VN_OK;
}

vn_err_t vn_jread_parse(const char *text, size_t len, size_t max_nodes, vn_jread_doc_t *doc, char *err,
                        size_t errcap)
{
    char dummy[1];
    memset(doc, 0, sizeof *doc);
    parser_t p = {.s = (const unsigned char *)text,
                  .len = len,
                  .max_nodes = max_nodes < UINT32_MAX ? max_nodes : UINT32_MAX - 1,
                  .doc = doc,
                  .err = err && errcap ? err : dummy,
                  .errcap = err && errcap ? errcap : sizeof dummy,
                  .rc = VN_OK};
    p.err[0] = '\0';
    if (len > UINT32_MAX / 2) {
        snprintf(p.err, p.errcap, "json: document too large");
        return VN_ERR_TOO_LARGE;
    }
    long root;
    if (parse_value(&p, 0, &root) == VN_OK) {
        skip_ws(&p);
        if (p.pos != p.len)
            fail(&p, VN_ERR_PARSE, "trailing data after the value");
    }
    if (p.rc != VN_OK) {
        vn_jread_free(doc);
        return p.rc;
    }
    return VN_OK;
}

void vn_jread_free(vn_jread_doc_t *doc)
{
    if (!doc)
        return;
    free(doc->nodes);
    free(doc->pool);
    memset(doc, 0, sizeof *doc);
}

const vn_jread_node_t *vn_jread_root(const vn_jread_doc_t *doc) { return doc->n ? &doc->nodes[0] : NULL; }

const vn_jread_node_t *vn_jread_child(const vn_jread_doc_t *doc, const vn_jread_node_t *c,
                                      const vn_jread_node_t *prev)
{
    if (!c || (c->type != VN_JREAD_ARRAY && c->type != VN_JREAD_OBJECT) || c->count == 0)
        return NULL;
    size_t i = prev ? prev->end : (size_t)(c - doc->nodes) + 1;
    return i < c->end ? &doc->nodes[i] : NULL;
}

const vn_jread_node_t *vn_jread_get(const vn_jread_doc_t *doc, const vn_jread_node_t *obj, const char *key)
{
    if (!obj || obj->type != VN_JREAD_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    const vn_jread_node_t *found = NULL;
    for (const vn_jread_node_t *m = vn_jread_child(doc, obj, NULL); m; m = vn_jread_child(doc, obj, m))
        if (m->key_len == kl && memcmp(doc->pool + m->key, key, kl) == 0)
            found = m;
    return found;
}

const char *vn_jread_str(const vn_jread_doc_t *doc, const vn_jread_node_t *n, size_t *len)
{
    if (!n || n->type != VN_JREAD_STRING)
        return NULL;
    if (len)
        *len = n->str_len;
    return doc->pool + n->str;
}

const char *vn_jread_key(const vn_jread_doc_t *doc, const vn_jread_node_t *n)
{
    return n && n->key != UINT32_MAX ? doc->pool + n->key : NULL;
}

bool vn_jread_int(const vn_jread_doc_t *doc, const vn_jread_node_t *n, int64_t *out)
{
    if (!n || n->type != VN_JREAD_NUMBER)
        return false;
    const char *s = doc->pool + n->str;
    bool neg = *s == '-';
    if (neg)
        s++;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!is_digit((unsigned char)*s))
            return false; /* a fraction or an exponent */
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}
