/*
 * remote_write_pb.c - one flushed metric -> one prometheus.TimeSeries inside a
 * WriteRequest (proto/remote.proto), written straight into the request buffer.
 *
 * Labels (docs/behaviour.md W4.6): __name__ = sanitise(name), host = the configured
 * hostname, then every "k:v" tag as sanitise(k) = v. Unlike Go (which emits
 * labels in map order), labels are sorted by name, byte order, and each name
 * appears once: Prometheus, Cortex, Mimir and Thanos reject or mis-index series
 * whose labels are unsorted or duplicated. Example, metric "api.hits" with tags
 * ["code:200", "env:prod", "9x:y"], host "h1", value 3 at 1700000000 s:
 *
 *   labels  9x -> _9x:"y"  __name__:"api_hits"  code:"200"  env:"prod"  host:"h1"
 *           ('_' (0x5f) sorts after the digits and upper case, before lower case)
 *   sample  value 3, timestamp 1700000000000
 *
 * Bytes of one TimeSeries (field 1 of WriteRequest), sizes computed first so
 * the message is written in one pass:
 *
 *   0a <len TS>
 *      0a <len L> 0a <len> "__name__" 12 <len> "api_hits"     (one per label)
 *      12 <len S> 09 <8-byte LE double> 10 <varint ms>         (the sample)
 *
 * proto3 defaults are omitted like Prometheus's own encoder does: a +0.0 value
 * or a 0 timestamp is not written.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "sinks/pbwire.h"
#include "sinks/remote_write_internal.h"

/* The scratch text of one series: sanitised names and repaired values. */
#define RW_TEXT_MAX ((size_t)4 << 20)

struct vn_rw_label {
    /* name and value are either borrowed (ptr) or in e->_text at off (in_text) */
    const char *name, *value;
    size_t name_off, name_len, value_off, value_len;
    bool name_in_text, value_in_text;
    bool dead;     /* removed by an exclusion rule */
    uint32_t seq;  /* insertion order: among equal names the last one wins */
};

typedef struct vn_rw_label rw_label_t;

void vn_rw__enc_init(vn_rw_enc_t *e)
{
    memset(e, 0, sizeof *e);
    vn_buf_init(&e->_text, RW_TEXT_MAX);
}

void vn_rw__enc_free(vn_rw_enc_t *e)
{
    vn_buf_free(&e->_text);
    free(e->_labels);
    e->_labels = NULL;
    e->_n = e->_cap = 0;
}

/* ---------------------------------------------------------------- UTF-8 and names */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s[0] does not start
 * one (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

static bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* Copies s with each byte that is not part of valid UTF-8 replaced by U+FFFD. */
static vn_err_t utf8_repair(vn_buf_t *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    vn_err_t err = VN_OK;
    for (size_t i = 0; err == VN_OK && i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (k) {
            err = vn_buf_add(out, p + i, k);
            i += k;
        } else {
            err = vn_buf_add(out, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    return err;
}

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
}

vn_err_t vn_rw__sanitise(vn_buf_t *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    vn_err_t err = VN_OK;
    if (len > 0 && p[0] >= '0' && p[0] <= '9')
        err = vn_buf_add_byte(out, '_');
    for (size_t i = 0; err == VN_OK && i < len;) {
        if (name_char(p[i])) {
            err = vn_buf_add_byte(out, p[i]);
            i++;
            continue;
        }
        size_t k = utf8_seq(p + i, len - i);
        err = vn_buf_add_byte(out, '_');
        i += k ? k : 1;
    }
    return err;
}

/* True when s[0..len) is already a valid label name body (no copy needed). */
static bool name_clean(const char *s, size_t len)
{
    if (len > 0 && s[0] >= '0' && s[0] <= '9')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!name_char((unsigned char)s[i]))
            return false;
    return true;
}

/* ---------------------------------------------------------------- building labels */

static rw_label_t *new_label(vn_rw_enc_t *e)
{
    if (e->_n == e->_cap) {
        size_t cap = e->_cap ? e->_cap * 2 : 16;
        e->_labels = vn_xrealloc(e->_labels, cap * sizeof *e->_labels);
        e->_cap = cap;
    }
    rw_label_t *l = &e->_labels[e->_n];
    memset(l, 0, sizeof *l);
    l->seq = (uint32_t)e->_n++;
    return l;
}

/* Sets the label's name: borrowed when already clean, else sanitised into the text. */
static vn_err_t set_name(vn_rw_enc_t *e, rw_label_t *l, const char *s, size_t len)
{
    if (name_clean(s, len)) {
        l->name = s;
        l->name_len = len;
        return VN_OK;
    }
    l->name_in_text = true;
    l->name_off = vn_buf_len(&e->_text);
    vn_err_t err = vn_rw__sanitise(&e->_text, s, len);
    l->name_len = vn_buf_len(&e->_text) - l->name_off;
    return err;
}

/* Sets the label's value: borrowed when valid UTF-8, else repaired into the text. */
static vn_err_t set_value(vn_rw_enc_t *e, rw_label_t *l, const char *s, size_t len)
{
    if (utf8_valid(s, len)) {
        l->value = s;
        l->value_len = len;
        return VN_OK;
    }
    l->value_in_text = true;
    l->value_off = vn_buf_len(&e->_text);
    vn_err_t err = utf8_repair(&e->_text, s, len);
    l->value_len = vn_buf_len(&e->_text) - l->value_off;
    return err;
}

static const char *lname(const vn_rw_enc_t *e, const rw_label_t *l)
{
    return l->name_in_text ? vn_buf_ptr(&e->_text) + l->name_off : l->name;
}

static bool name_is(const vn_rw_enc_t *e, const rw_label_t *l, const char *s, size_t len)
{
    return l->name_len == len && memcmp(lname(e, l), s, len) == 0;
}

/* Go's exclusion: delete the label whose name equals sanitise(rule), host included. */
static vn_err_t apply_go_exclusions(vn_rw_enc_t *e, const vn_sink_t *s)
{
    for (size_t r = 0; s && r < s->n_excluded_tags; r++) {
        size_t mark = vn_buf_len(&e->_text);
        vn_err_t err = vn_rw__sanitise(&e->_text, s->excluded_tags[r], strlen(s->excluded_tags[r]));
        if (err != VN_OK)
            return err;
        const char *rule = vn_buf_ptr(&e->_text) + mark;
        size_t rlen = vn_buf_len(&e->_text) - mark;
        for (size_t i = 1; i < e->_n; i++) /* label 0 is __name__, which Go never deletes */
            if (name_is(e, &e->_labels[i], rule, rlen))
                e->_labels[i].dead = true;
        vn_buf_truncate(&e->_text, mark);
    }
    return VN_OK;
}

static int cmp_label(const void *a, const void *b)
{
    const rw_label_t *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Builds, filters and sorts the labels of one series into e->_labels[0.._n). */
static vn_err_t build_labels(vn_rw_enc_t *e, const vn_sink_t *s, const char *name, const char *const *tags,
                             size_t ntags, const char *hostname)
{
    vn_buf_reset(&e->_text);
    e->_n = 0;
    rw_label_t *l = new_label(e);
    l->name = "__name__";
    l->name_len = 8;
    l->value_in_text = true;
    l->value_off = 0;
    vn_err_t err = vn_rw__sanitise(&e->_text, name, strlen(name));
    l->value_len = vn_buf_len(&e->_text);
    if (err == VN_OK && l->value_len == 0)
        return VN_ERR_PARSE;

    if (err == VN_OK && hostname && hostname[0]) {
        l = new_label(e);
        l->name = "host";
        l->name_len = 4;
        err = set_value(e, l, hostname, strlen(hostname));
    }
    for (size_t i = 0; err == VN_OK && i < ntags && e->_n < VN_RW_MAX_LABELS; i++) {
        const char *tag = tags[i];
        const char *colon = strchr(tag, ':');
        if (!colon || (s && vn_sink__tag_excluded(s, tag)))
            continue; /* Go drops tags without ':' ("illegal") */
        size_t mark_text = vn_buf_len(&e->_text);
        l = new_label(e);
        err = set_name(e, l, tag, (size_t)(colon - tag));
        if (err == VN_OK && name_is(e, l, "__name__", 8)) {
            e->_n--; /* the metric's own name wins */
            vn_buf_truncate(&e->_text, mark_text);
            continue;
        }
        if (err == VN_OK)
            err = set_value(e, l, colon + 1, strlen(colon + 1));
    }
    if (err == VN_OK)
        err = apply_go_exclusions(e, s);
    if (err != VN_OK)
        return err;

    /* The text no longer moves: resolve offsets, sort, keep the last of each name. */
    const char *base = vn_buf_ptr(&e->_text);
    for (size_t i = 0; i < e->_n; i++) {
        rw_label_t *x = &e->_labels[i];
        if (x->name_in_text)
            x->name = base + x->name_off;
        if (x->value_in_text)
            x->value = base + x->value_off;
    }
    qsort(e->_labels, e->_n, sizeof *e->_labels, cmp_label);
    size_t out = 0;
    for (size_t i = 0; i < e->_n; i++) {
        rw_label_t *x = &e->_labels[i];
        const rw_label_t *next = i + 1 < e->_n ? &e->_labels[i + 1] : NULL;
        bool superseded = next && next->name_len == x->name_len && memcmp(next->name, x->name, x->name_len) == 0;
        if (superseded || x->dead || x->name_len == 0 || x->value_len == 0)
            continue;
        e->_labels[out++] = *x;
    }
    e->_n = out;
    return VN_OK;
}

/* ---------------------------------------------------------------- encoding */

static size_t label_payload(const rw_label_t *l)
{
    return pbw_len_field_size(1, l->name_len) + pbw_len_field_size(2, l->value_len);
}

static size_t sample_payload(double value, int64_t ts_ms)
{
    return (pbw_double_is_default(value) ? 0 : 9) + (ts_ms ? 1 + pbw_varint_size((uint64_t)ts_ms) : 0);
}

vn_err_t vn_rw__append_series(vn_rw_enc_t *e, vn_buf_t *pb, const vn_sink_t *s, const char *name,
                              const char *const *tags, size_t ntags, const char *hostname, double value,
                              int64_t ts_ms)
{
    vn_err_t err = build_labels(e, s, name ? name : "", tags, ntags, hostname);
    if (err != VN_OK)
        return err;
    size_t ts_len = pbw_len_field_size(2, sample_payload(value, ts_ms));
    for (size_t i = 0; i < e->_n; i++)
        ts_len += pbw_len_field_size(1, label_payload(&e->_labels[i]));

    size_t mark = vn_buf_len(pb);
    err = pbw_msg_begin(pb, 1, ts_len);
    for (size_t i = 0; err == VN_OK && i < e->_n; i++) {
        const rw_label_t *l = &e->_labels[i];
        err = pbw_msg_begin(pb, 1, label_payload(l));
        if (err == VN_OK)
            err = pbw_bytes(pb, 1, l->name, l->name_len);
        if (err == VN_OK)
            err = pbw_bytes(pb, 2, l->value, l->value_len);
    }
    if (err == VN_OK)
        err = pbw_msg_begin(pb, 2, sample_payload(value, ts_ms));
    if (err == VN_OK && !pbw_double_is_default(value))
        err = pbw_double(pb, 1, value);
    if (err == VN_OK && ts_ms)
        err = pbw_int64(pb, 2, ts_ms);
    if (err != VN_OK)
        vn_buf_truncate(pb, mark);
    return err;
}
