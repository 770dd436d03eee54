/**
 * dogstatsd.c - DogStatsD metric, event and service-check lines (docs/behaviour.md 1, 0.3).
 *
 * Zero-copy: outputs borrow the line (or the parser's implicit tags); only
 * event text / service-check messages are copied, into the caller's scratch,
 * because "\n" unescaping changes bytes. One pass over each line: '|'
 * sections are found (scan.h: 8 bytes at a time, then memchr) by a tiny
 * splitter shared by all three grammars (Go's SplitBytes: "a||b" -> "a", "",
 * "b"). Errors are checked in
 * Go's order, so a line gets the same error category as in Go Veneur.
 * Tag work lives in tags.c; number syntax is core/gonum.h.
 */
#include "parse/dogstatsd.h"

#include <math.h>
#include <string.h>

#include "core/gonum.h"
#include "parse/scan.h"
#include "parse/tags.h"

/* ------------------------------------------------------------- splitter */

/* Go SplitBytes on '|': n pipes give n+1 chunks, empty ones included. */
typedef struct {
    const char *p;
    const char *end;
    bool last;
} pipes_t;

static inline bool next_chunk(pipes_t *sp, vn_str_t *chunk)
{
    if (sp->last)
        return false;
    const char *q = vn_parse__find(sp->p, sp->end, '|');
    if (!q) {
        *chunk = (vn_str_t){sp->p, (size_t)(sp->end - sp->p)};
        sp->last = true;
    } else {
        *chunk = (vn_str_t){sp->p, (size_t)(q - sp->p)};
        sp->p = q + 1;
    }
    return true;
}

/* The field an event or service-check section names: its letter for an "x:"
 * section with x in `known`, '#' for tags, else 0 (unknown or malformed). */
static char field_of(vn_str_t c, const char *known)
{
    if (c.len >= 1 && c.p[0] == '#')
        return '#';
    if (c.len >= 2 && c.p[1] == ':' && c.p[0] >= 'a' && c.p[0] <= 'z' && strchr(known, c.p[0]))
        return c.p[0];
    return 0;
}

static inline unsigned field_bit(char f) { return 1u << (f == '#' ? 26 : f - 'a'); }

/* Each field at most once: marks f as seen, false when it already was. */
static inline bool first_time(unsigned *seen, char f)
{
    if (*seen & field_bit(f))
        return false;
    *seen |= field_bit(f);
    return true;
}

static inline vn_str_t after(vn_str_t c, size_t n) { return (vn_str_t){c.p + n, c.len - n}; }

/* docs/behaviour.md 0.3: the DogStatsD protocol grows by new `|<key>:<value>` fields (c:
 * container, e: external data in 1.1-1.5, card: cardinality in 1.6, ...), and
 * the Datadog Agent skips any field it does not know. The key is one or more
 * lower-case letters: that is every field the Agent has ever added, and it
 * keeps real junk ("foo", "X:1", "a1:2", ":x") an error. Returns whether the
 * chunk is such a field; callers test their own keys first. */
static inline bool unknown_field(vn_str_t c)
{
    size_t i = 0;
    while (i < c.len && c.p[i] >= 'a' && c.p[i] <= 'z')
        i++;
    return i > 0 && i < c.len && c.p[i] == ':';
}

/* Metrics also take `T<digits>` (1.3 timestamp). We aggregate by arrival
 * interval, as Go Veneur does, so the value is not used. */
static bool ignorable_section(vn_str_t c)
{
    if (unknown_field(c))
        return true;
    if (c.len < 2 || c.p[0] != 'T')
        return false;
    for (size_t i = 1; i < c.len; i++)
        if (c.p[i] < '0' || c.p[i] > '9')
            return false;
    return true;
}

/* NUL would end a name early in every sink (C strings) and '\n' separates name
 * from tags in series keys, so neither may enter one; two vectorised scans are
 * cheap next to tokenising, and the line cache skips the parser for repeats. */
static inline vn_parse_err_t forbidden_bytes(const char *line, size_t len)
{
    if (memchr(line, '\0', len))
        return VN_PARSE_ERR_NUL_BYTE;
    if (memchr(line, '\n', len))
        return VN_PARSE_ERR_NEWLINE;
    return VN_PARSE_OK;
}

/* Every parser's first checks: an empty line is `empty` (which also keeps
 * NULL + 0 out of the pointer math), then forbidden bytes; sets up the '|' splitter. */
static inline vn_parse_err_t begin_line(const char *line, size_t len, vn_parse_err_t empty, pipes_t *sp)
{
    if (len == 0)
        return empty;
    vn_parse_err_t fb = forbidden_bytes(line, len);
    if (fb != VN_PARSE_OK)
        return fb;
    *sp = (pipes_t){line, line + len, false};
    return VN_PARSE_OK;
}

/* ---------------------------------------------------------------- metrics */

bool vn_parser_implicit_key(const vn_parser_t *p, const char *k, size_t klen)
{
    for (size_t i = 0; p && i < p->n_implicit; i++) {
        vn_str_t t = p->implicit_tags[i];
        if (!t.len)
            continue;
        const char *c = memchr(t.p, ':', t.len);
        size_t tk = c ? (size_t)(c - t.p) : t.len;
        if (tk == klen && memcmp(t.p, k, klen) == 0)
            return true;
    }
    return false;
}

vn_parse_err_t vn_parse_metric(const vn_parser_t *p, const char *line, size_t len, vn_metric_line_t *out)
{
    pipes_t sp;
    vn_parse_err_t e0 = begin_line(line, len, VN_PARSE_ERR_NO_PIPE, &sp);
    if (e0 != VN_PARSE_OK)
        return e0;
    vn_str_t head, chunk;

    /* "a.b:1:2|ms|@0.5|#x:y"
     *  ^^^^^^^               up to the first '|' (none -> no_pipe) */
    next_chunk(&sp, &head);
    if (sp.last)
        return VN_PARSE_ERR_NO_PIPE;

    /* "a.b:1:2|ms|@0.5|#x:y"
     *  ^^^                   name: up to the first ':' before that '|'
     *      ^^^               values: the rest, split later by the iterator */
    const char *colon = vn_parse__find(head.p, head.p + head.len, ':');
    if (!colon)
        return VN_PARSE_ERR_NO_COLON;
    if (colon == head.p)
        return VN_PARSE_ERR_EMPTY_NAME;
    out->name = (vn_str_t){head.p, (size_t)(colon - head.p)};
    out->values = (vn_str_t){colon + 1, (size_t)(head.p + head.len - colon - 1)};

    /* "a.b:1:2|ms|@0.5|#x:y"
     *          ^^            type: first byte only ("ms" == "m" == "mfoo") */
    next_chunk(&sp, &chunk);
    if (chunk.len == 0)
        return VN_PARSE_ERR_NO_TYPE;
    switch (chunk.p[0]) {
    case 'c': out->type = VN_MT_COUNTER; break;
    case 'g': out->type = VN_MT_GAUGE; break;
    case 'h':
    case 'd': out->type = VN_MT_HISTOGRAM; break; /* distribution == histogram */
    case 'm': out->type = VN_MT_TIMER; break;
    case 's': out->type = VN_MT_SET; break;
    default: return VN_PARSE_ERR_BAD_TYPE;
    }

    out->scope = VN_SCOPE_MIXED;
    out->rate = 1.0;
    out->ignored_sections = 0;
    out->ntags = 0;
    bool have_rate = false, have_tags = false;
    size_t n_imp = p->n_implicit ? vn_parse__n_implicit(p) : 0;
    if (n_imp > VN_PARSE_MAX_TAGS)
        return VN_PARSE_ERR_TOO_MANY_TAGS;

    while (next_chunk(&sp, &chunk)) {
        if (chunk.len == 0)
            return VN_PARSE_ERR_EMPTY_SECTION;
        switch (chunk.p[0]) {
        case '@': {
            /* "a.b:1:2|ms|@0.5|#x:y"
             *             ^^^^       sample rate, 0 < r <= 1, at most once */
            if (have_rate)
                return VN_PARSE_ERR_MULTI_RATE;
            double r;
            if (vn_gonum_parse_float(chunk.p + 1, chunk.len - 1, VN_GONUM_UNDERSCORE_HEX_ONLY, &r) != VN_GONUM_OK)
                return VN_PARSE_ERR_BAD_RATE;
            if (!(r > 0 && r <= 1)) /* NaN fails too */
                return VN_PARSE_ERR_RATE_RANGE;
            out->rate = r;
            have_rate = true;
            break;
        }
        case '#': {
            /* "a.b:1:2|ms|@0.5|#x:y"
             *                  ^^^^  tags, at most one section (tags.c) */
            if (have_tags)
                return VN_PARSE_ERR_MULTI_TAGS;
            have_tags = true;
            vn_parse_err_t e = vn_parse__split_tags(p, chunk.p + 1, chunk.len - 1, VN_MAGIC_PREFIX, &out->scope,
                                                    out->tags, &out->ntags, VN_PARSE_MAX_TAGS - n_imp);
            if (e != VN_PARSE_OK)
                return e;
            break;
        }
        default:
            /* "a.b:1|c|c:abc123|T1700000000|card:low"
             *          ^^^^^^^^ ^^^^^^^^^^^ ^^^^^^^^  DogStatsD 1.1+ fields: skipped, counted */
            if (!ignorable_section(chunk))
                return VN_PARSE_ERR_UNKNOWN_SECTION;
            out->ignored_sections++;
        }
    }
    vn_parse__finish_tags(p, out->tags, &out->ntags);
    return VN_PARSE_OK;
}

/* ---------------------------------------------------------------- values */

void vn_value_iter_init(vn_value_iter_t *it, const vn_metric_line_t *m)
{
    it->p = m->values.p;
    it->end = m->values.p + m->values.len;
    it->done = m->values.len == 0; /* "x:|c": no samples, no error */
}

int vn_value_next_str(vn_value_iter_t *it, vn_str_t *out)
{
    /* "1:2:" -> "1", "2", "" */
    if (it->done)
        return 0;
    const char *c = vn_parse__find(it->p, it->end, ':');
    if (c) {
        *out = (vn_str_t){it->p, (size_t)(c - it->p)};
        it->p = c + 1;
    } else {
        *out = (vn_str_t){it->p, (size_t)(it->end - it->p)};
        it->p = it->end;
        it->done = true;
    }
    return 1;
}

int vn_value_next_num(vn_value_iter_t *it, double *out)
{
    vn_str_t piece;
    if (!vn_value_next_str(it, &piece))
        return 0;
    double v;
    if (vn_gonum_parse_float(piece.p, piece.len, VN_GONUM_UNDERSCORE_HEX_ONLY, &v) != VN_GONUM_OK || !isfinite(v))
        return -1;
    *out = v;
    return 1;
}

/* -------------------------------------------------- events, service checks */

/* Copies s into scratch replacing the two bytes `\n` by a newline (Go
 * strings.Replace, left to right). Returns false if scratch is too small. */
static bool unescape_nl(vn_str_t s, char *scratch, size_t cap, vn_str_t *out)
{
    if (s.len > cap || (s.len && !scratch))
        return false;
    size_t w = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == '\\' && i + 1 < s.len && s.p[i + 1] == 'n') {
            scratch[w++] = '\n';
            i++;
        } else {
            scratch[w++] = s.p[i];
        }
    }
    *out = (vn_str_t){scratch, w};
    return true;
}

static inline bool str_is(vn_str_t s, const char *lit, size_t n) { return s.len == n && memcmp(s.p, lit, n) == 0; }

/* Go strconv.Atoi for the _e{a,b} lengths: must be an integer > 0. */
static bool positive_len(const char *s, size_t n, int64_t *out)
{
    return vn_gonum_parse_int64(s, n, 10, out) == VN_GONUM_OK && *out > 0;
}

vn_parse_err_t vn_parse_event(const vn_parser_t *p, const char *line, size_t len, int64_t now, char *scratch,
                              size_t scratch_cap, vn_event_t *out)
{
    pipes_t sp;
    vn_parse_err_t e0 = begin_line(line, len, VN_PARSE_ERR_EV_NO_COLON, &sp);
    if (e0 != VN_PARSE_OK)
        return e0;
    vn_str_t head, chunk;

    /* "_e{5,4}:title|text|p:low|#a:b"
     *  ^^^^^^^^^^^^^                  first chunk: lengths, ':', title */
    next_chunk(&sp, &head);
    const char *colon = vn_parse__find(head.p, head.p + head.len, ':');
    if (!colon)
        return VN_PARSE_ERR_EV_NO_COLON;
    size_t lcl = (size_t)(colon - head.p);
    /* "_e{5,4}:title"
     *  ^^^   ^        the _e{ } wrapper */
    if (lcl < 4 || memcmp(head.p, "_e{", 3) != 0 || head.p[lcl - 1] != '}')
        return VN_PARSE_ERR_EV_WRAPPER;
    /* "_e{5,4}:title"
     *     ^^^         title length ',' text length: integers > 0 */
    const char *in = head.p + 3;
    size_t inl = lcl - 4;
    const char *comma = vn_parse__find(in, in + inl, ',');
    if (!comma)
        return VN_PARSE_ERR_EV_COMMA;
    int64_t title_len, text_len;
    if (!positive_len(in, (size_t)(comma - in), &title_len))
        return VN_PARSE_ERR_EV_TITLE_LEN;
    if (!positive_len(comma + 1, (size_t)(in + inl - comma - 1), &text_len))
        return VN_PARSE_ERR_EV_TEXT_LEN;
    /* "_e{5,4}:title|"
     *          ^^^^^   title: exactly title_len bytes, so it cannot hold '|' */
    out->title = (vn_str_t){colon + 1, (size_t)(head.p + head.len - colon - 1)};
    if ((uint64_t)title_len != out->title.len)
        return VN_PARSE_ERR_EV_TITLE_LEN;
    /* "_e{5,4}:title|text|"
     *                ^^^^   text: exactly text_len bytes, `\n` unescaped */
    if (!next_chunk(&sp, &chunk))
        return VN_PARSE_ERR_EV_NO_TEXT;
    if ((uint64_t)text_len != chunk.len)
        return VN_PARSE_ERR_EV_TEXT_LEN;
    if (!unescape_nl(chunk, scratch, scratch_cap, &out->text))
        return VN_PARSE_ERR_EV_TEXT_LEN; /* caller broke "scratch holds len bytes" */

    out->timestamp = now;
    out->ignored_sections = 0;
    out->hostname = out->agg_key = out->priority = out->source_type = out->alert_type = (vn_str_t){line, 0};
    vn_str_t tags = {NULL, 0};
    unsigned seen = 0;

    /* "_e{5,4}:title|text|d:1700000000|h:web1|k:key|p:low|s:src|t:info|#a:b"
     *                     ^^^^^^^^^^^^ ^^^^^^ ^^^^^ ^^^^^ ^^^^^ ^^^^^^ ^^^^
     *                     each at most once, any order; unknown `x:` fields skipped */
    while (next_chunk(&sp, &chunk)) {
        if (chunk.len == 0)
            return VN_PARSE_ERR_EV_EMPTY_SECTION;
        char f = field_of(chunk, "dhkpst");
        if (f == 0) {
            /* "...|#a:b|c:ci-abc|e:it-false|card:low"
             *           ^^^^^^^^ ^^^^^^^^^^ ^^^^^^^^  datadog-go v5 / datadogpy: skipped, counted */
            if (!unknown_field(chunk))
                return VN_PARSE_ERR_EV_UNKNOWN;
            out->ignored_sections++;
            continue;
        }
        if (!first_time(&seen, f))
            return VN_PARSE_ERR_EV_MULTI;
        vn_str_t v = after(chunk, f == '#' ? 1 : 2);
        switch (f) {
        case 'd':
            if (vn_gonum_parse_int64(v.p, v.len, 10, &out->timestamp) != VN_GONUM_OK)
                return VN_PARSE_ERR_EV_DATE;
            break;
        case 'h': out->hostname = v; break;
        case 'k': out->agg_key = v; break;
        case 'p':
            if (!str_is(v, "normal", 6) && !str_is(v, "low", 3))
                return VN_PARSE_ERR_EV_PRIORITY;
            out->priority = v;
            break;
        case 's': out->source_type = v; break;
        case 't':
            if (!str_is(v, "error", 5) && !str_is(v, "warning", 7) && !str_is(v, "info", 4) &&
                !str_is(v, "success", 7))
                return VN_PARSE_ERR_EV_ALERT;
            out->alert_type = v;
            break;
        default: tags = v; break; /* '#' */
        }
    }
    return vn_parse__event_tags(p, tags.p, tags.len, (seen & field_bit('#')) != 0, out->tags, &out->ntags);
}

vn_parse_err_t vn_parse_service_check(const vn_parser_t *p, const char *line, size_t len, int64_t now,
                                      char *scratch, size_t scratch_cap, vn_service_check_t *out)
{
    pipes_t sp;
    vn_parse_err_t e0 = begin_line(line, len, VN_PARSE_ERR_SC_PREFIX, &sp);
    if (e0 != VN_PARSE_OK)
        return e0;
    vn_str_t chunk;

    /* "_sc|db.up|2|d:1700000000|h:db1|#env:prod|m:down"
     *  ^^^                                              exactly "_sc" */
    next_chunk(&sp, &chunk);
    if (!str_is(chunk, "_sc", 3))
        return VN_PARSE_ERR_SC_PREFIX;
    /* "_sc|db.up|2|..."
     *      ^^^^^        name: required, non-empty */
    if (!next_chunk(&sp, &chunk))
        return VN_PARSE_ERR_SC_NO_NAME;
    if (chunk.len == 0)
        return VN_PARSE_ERR_SC_EMPTY_NAME;
    out->name = chunk;
    /* "_sc|db.up|2|..."
     *            ^      status: exactly one of 0 1 2 3 */
    if (!next_chunk(&sp, &chunk))
        return VN_PARSE_ERR_SC_NO_STATUS;
    if (chunk.len != 1 || chunk.p[0] < '0' || chunk.p[0] > '3')
        return VN_PARSE_ERR_SC_STATUS;
    out->status = chunk.p[0] - '0';

    out->timestamp = now;
    out->hostname = out->message = (vn_str_t){line, 0};
    out->scope = VN_SCOPE_MIXED;
    out->ntags = 0;
    out->ignored_sections = 0;
    unsigned seen = 0;
    size_t n_imp = p->n_implicit ? vn_parse__n_implicit(p) : 0;
    if (n_imp > VN_PARSE_MAX_TAGS)
        return VN_PARSE_ERR_TOO_MANY_TAGS;

    /* "_sc|db.up|2|d:1700000000|h:db1|#env:prod|m:down|c:ci-abc|e:it-false"
     *              ^^^^^^^^^^^^ ^^^^^ ^^^^^^^^^ ^^^^^^ ^^^^^^^^ ^^^^^^^^^^
     *              each at most once; m: after d: h: # (Go Veneur's rule);
     *              unknown `x:` fields anywhere, also after m: (the Agent's
     *              rule: the message ends at the next '|', datadog-go v5 and
     *              datadogpy append c:/e:/card: after it) */
    while (next_chunk(&sp, &chunk)) {
        if (chunk.len == 0)
            return VN_PARSE_ERR_SC_EMPTY_SECTION;
        bool after_m = seen & field_bit('m');
        char f = field_of(chunk, "dhm");
        if (f == 0) {
            if (!unknown_field(chunk)) /* Go checks "message last" before the section: keep its category */
                return after_m ? VN_PARSE_ERR_SC_MSG_NOT_LAST : VN_PARSE_ERR_SC_UNKNOWN;
            out->ignored_sections++;
            continue;
        }
        if (after_m) /* Go: a second m: is "message must be last" too */
            return VN_PARSE_ERR_SC_MSG_NOT_LAST;
        if (!first_time(&seen, f))
            return VN_PARSE_ERR_SC_MULTI;
        vn_str_t v = after(chunk, f == '#' ? 1 : 2);
        switch (f) {
        case 'd':
            if (vn_gonum_parse_int64(v.p, v.len, 10, &out->timestamp) != VN_GONUM_OK)
                return VN_PARSE_ERR_SC_DATE;
            break;
        case 'h': out->hostname = v; break;
        case 'm':
            if (!unescape_nl(v, scratch, scratch_cap, &out->message))
                return VN_PARSE_ERR_SC_UNKNOWN; /* caller broke "scratch holds len bytes" */
            break;
        default: { /* '#' */
            vn_parse_err_t e = vn_parse__split_tags(p, v.p, v.len, VN_MAGIC_EXACT, &out->scope, out->tags,
                                                    &out->ntags, VN_PARSE_MAX_TAGS - n_imp);
            if (e != VN_PARSE_OK)
                return e;
        }
        }
    }
    vn_parse__finish_tags(p, out->tags, &out->ntags);
    return VN_PARSE_OK;
}
