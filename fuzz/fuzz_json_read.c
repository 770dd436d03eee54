/*
 * fuzz_json_read.c - libFuzzer target for src/core/json_read.h, the strict
 * JSON reader that discovery responses (Consul, Kubernetes) go through.
 *
 * The input is one document, copied into an exact-size allocation so any
 * read past its end traps. On success the tree is checked: document order
 * (every child lies inside its parent's range, counts match the children
 * walked), keys only on object members, strings valid UTF-8 and within the
 * pool. Then the tree is written back with the JSON writer (core/json.h)
 * and read again: the second tree must have the same shape, keys and
 * strings (numbers compared as doubles when finite). A parse with a node
 * limit below what the document needs must fail with VN_ERR_TOO_LARGE.
 * On failure the error must name a byte offset within the input.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/json_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t l = c < 0x80                   ? 1
                   : c >= 0xC2 && c <= 0xDF ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 0;
        if (!l || i + l > n)
            return 0;
        for (size_t k = 1; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        if (l == 3 && ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0)))
            return 0;
        if (l == 4 && ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90)))
            return 0;
        i += l;
    }
    return 1;
}

static void check_tree(const vn_jread_doc_t *d, const vn_jread_node_t *n, int depth)
{
    if (depth > VN_JREAD_MAX_DEPTH + 1)
        abort();
    size_t idx = (size_t)(n - d->nodes);
    if (idx >= d->n || n->end <= idx || n->end > d->n)
        abort();
    if (n->type == VN_JREAD_STRING || n->type == VN_JREAD_NUMBER) {
        if ((size_t)n->str + n->str_len >= d->pool_len || d->pool[n->str + n->str_len] != '\0')
            abort();
        if (n->type == VN_JREAD_STRING && !utf8_ok((const unsigned char *)d->pool + n->str, n->str_len))
            abort();
    }
    if (n->type != VN_JREAD_ARRAY && n->type != VN_JREAD_OBJECT) {
        if (n->end != idx + 1)
            abort();
        return;
    }
    uint32_t count = 0;
    const vn_jread_node_t *prev = NULL;
    for (const vn_jread_node_t *c = vn_jread_child(d, n, NULL); c; c = vn_jread_child(d, n, c)) {
        if (c <= n || (prev && c != d->nodes + prev->end))
            abort();
        if ((n->type == VN_JREAD_OBJECT) != (vn_jread_key(d, c) != NULL))
            abort();
        check_tree(d, c, depth + 1);
        prev = c;
        count++;
    }
    if (count != n->count || (prev ? prev->end : idx + 1) != n->end)
        abort();
}

static void write_tree(const vn_jread_doc_t *d, const vn_jread_node_t *n, vn_json_t *w)
{
    switch (n->type) {
    case VN_JREAD_NULL: vn_json_null(w); break;
    case VN_JREAD_TRUE: vn_json_bool(w, true); break;
    case VN_JREAD_FALSE: vn_json_bool(w, false); break;
    case VN_JREAD_NUMBER: vn_json_double(w, n->num); break;
    case VN_JREAD_STRING: {
        size_t l;
        const char *s = vn_jread_str(d, n, &l);
        vn_json_string_n(w, s, l);
        break;
    }
    case VN_JREAD_ARRAY:
    case VN_JREAD_OBJECT:
        if (n->type == VN_JREAD_ARRAY)
            vn_json_array_begin(w);
        else
            vn_json_object_begin(w);
        for (const vn_jread_node_t *c = vn_jread_child(d, n, NULL); c; c = vn_jread_child(d, n, c)) {
            if (n->type == VN_JREAD_OBJECT) {
                /* keys with a NUL cannot go through vn_json_key; the comparison below skips them */
                vn_json_key(w, vn_jread_key(d, c));
            }
            write_tree(d, c, w);
        }
        if (n->type == VN_JREAD_ARRAY)
            vn_json_array_end(w);
        else
            vn_json_object_end(w);
        break;
    }
}

static void same(const vn_jread_doc_t *a, const vn_jread_node_t *x, const vn_jread_doc_t *b,
                 const vn_jread_node_t *y)
{
    vn_jread_type_t tx = x->type, ty = y->type;
    if (tx == VN_JREAD_NUMBER && !isfinite(x->num)) {
        if (ty != VN_JREAD_NULL) /* the writer has no form for Inf */
            abort();
        return;
    }
    if (tx != ty || x->count != y->count)
        abort();
    if (tx == VN_JREAD_NUMBER && x->num != y->num)
        abort();
    if (tx == VN_JREAD_STRING) {
        size_t lx, ly;
        const char *sx = vn_jread_str(a, x, &lx), *sy = vn_jread_str(b, y, &ly);
        if (lx != ly || memcmp(sx, sy, lx) != 0)
            abort();
    }
    const vn_jread_node_t *cx = vn_jread_child(a, x, NULL), *cy = vn_jread_child(b, y, NULL);
    for (; cx && cy; cx = vn_jread_child(a, x, cx), cy = vn_jread_child(b, y, cy)) {
        if (tx == VN_JREAD_OBJECT && strcmp(vn_jread_key(a, cx), vn_jread_key(b, cy)) != 0)
            abort();
        same(a, cx, b, cy);
    }
    if (cx || cy)
        abort();
}

static int keys_have_nul(const vn_jread_doc_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->nodes[i].key != UINT32_MAX && strlen(d->pool + d->nodes[i].key) != d->nodes[i].key_len)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    vn_jread_doc_t d;
    char err[160];
    vn_err_t e = vn_jread_parse(text, size, 100000, &d, err, sizeof err);
    if (e != VN_OK) {
        const char *at = strstr(err, "at byte ");
        if (e == VN_ERR_PARSE && (!at || (size_t)strtoull(at + 8, NULL, 10) > size))
            abort();
        if (d.nodes || d.n)
            abort();
        free(text);
        return 0;
    }
    const vn_jread_node_t *root = vn_jread_root(&d);
    if (!root || root->end != d.n)
        abort();
    check_tree(&d, root, 0);
    if (d.n > 1) {
        vn_jread_doc_t small;
        if (vn_jread_parse(text, size, d.n - 1, &small, NULL, 0) != VN_ERR_TOO_LARGE)
            abort();
    }
    if (!keys_have_nul(&d)) {
        vn_buf_t b = VN_BUF_INIT((size_t)64 << 20);
        vn_json_t w;
        vn_json_init(&w, &b);
        write_tree(&d, root, &w);
        if (vn_json_finish(&w) == VN_OK) {
            vn_jread_doc_t d2;
            if (vn_jread_parse(vn_buf_ptr(&b), vn_buf_len(&b), 100000, &d2, err, sizeof err) != VN_OK)
                abort();
            same(&d, root, &d2, vn_jread_root(&d2));
            vn_jread_free(&d2);
        }
        vn_buf_free(&b);
    }
    vn_jread_free(&d);
    free(text);
    return 0;
}
