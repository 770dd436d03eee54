/*
 * fuzz_dogstatsd.c - libFuzzer target for src/parse/dogstatsd.h.
 *
 * The input is one datagram: split on '\n' like the listeners do (docs/behaviour.md 1.1),
 * and every line goes through all three parsers (not only the one its prefix
 * selects), the value iterators and vn_tags_join. The parser has two implicit
 * tags so the override/append paths run. Outputs are checked for invariants
 * that must hold for any input: borrowed slices stay inside the line, the
 * implicit tags or the scratch buffer; tags are sorted; the rate is in (0, 1].
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse/dogstatsd.h"

static const vn_str_t k_implicit[] = {VN_STR_LIT("env:fuzz"), VN_STR_LIT("host")};
static const vn_parser_t k_parser = {k_implicit, 2};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_in(vn_str_t s, const char *lo, size_t n)
{
    if (s.len == 0)
        return;
    if (s.p < lo || s.p + s.len > lo + n)
        abort();
}

static void check_tag(vn_str_t t, const char *line, size_t len)
{
    for (size_t i = 0; i < 2; i++)
        if (t.p >= k_implicit[i].p && t.p + t.len <= k_implicit[i].p + k_implicit[i].len)
            return;
    check_in(t, line, len);
}

static void check_tags(const vn_str_t *tags, size_t n, const char *line, size_t len)
{
    static char joined[1 << 17];
    if (n > VN_PARSE_MAX_TAGS)
        abort();
    for (size_t i = 0; i < n; i++) {
        check_tag(tags[i], line, len);
        if (i && vn_str_cmp(tags[i - 1], tags[i]) > 0)
            abort();
    }
    size_t j = vn_tags_join(tags, n, joined, sizeof(joined));
    if (j == SIZE_MAX)
        abort(); /* a line of < 64 KiB always fits */
    size_t want = n ? n - 1 : 0;
    for (size_t i = 0; i < n; i++)
        want += tags[i].len;
    if (j != want || (j && vn_tags_join(tags, n, joined, j - 1) != SIZE_MAX))
        abort();
}

static char num_copy[4096];

/* Characters of a plain decimal float: strtod and Go agree on these. */
static int decimal_only(vn_str_t s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!strchr("0123456789.eE+-", s.p[i]) || s.p[i] == '\0')
            return 0;
    return 1;
}

static void run_line(const char *line, size_t len)
{
    static vn_metric_line_t m;
    static vn_event_t ev;
    static vn_service_check_t sc;
    static char scratch[1 << 17];

    if (vn_parse_metric(&k_parser, line, len, &m) == VN_PARSE_OK) {
        check_in(m.name, line, len);
        check_in(m.values, line, len);
        if (m.name.len == 0 || !(m.rate > 0 && m.rate <= 1) || (unsigned)m.type >= VN_MT_STATUS)
            abort();
        check_tags(m.tags, m.ntags, line, len);
        vn_value_iter_t it;
        vn_str_t s;
        size_t pieces = 0;
        vn_value_iter_init(&it, &m);
        while (vn_value_next_str(&it, &s) == 1) {
            check_in(s, line, len);
            if (++pieces > len + 1)
                abort();
        }
        /* Oracle for accepted decimals: glibc strtod (correctly rounded) on a
         * terminated copy must give the same bits. */
        vn_value_iter_t it2;
        double v;
        vn_value_iter_init(&it, &m);
        vn_value_iter_init(&it2, &m);
        while (vn_value_next_str(&it2, &s) == 1) {
            int r = vn_value_next_num(&it, &v);
            if (r == 0)
                abort();
            if (r < 0)
                break;
            if (!isfinite(v))
                abort();
            if (s.len < sizeof(num_copy) && decimal_only(s)) {
                memcpy(num_copy, s.p, s.len);
                num_copy[s.len] = '\0';
                double w = strtod(num_copy, NULL);
                if (memcmp(&w, &v, sizeof(v)) != 0)
                    abort();
            }
        }
    }
    vn_parse_err_t e = vn_parse_event(&k_parser, line, len, 42, scratch, sizeof(scratch), &ev);
    if (e == VN_PARSE_OK) {
        check_in(ev.title, line, len);
        check_in(ev.text, scratch, sizeof(scratch));
        check_in(ev.hostname, line, len);
        check_in(ev.agg_key, line, len);
        check_in(ev.priority, line, len);
        check_in(ev.source_type, line, len);
        check_in(ev.alert_type, line, len);
        if (ev.title.len == 0 || ev.text.len > len)
            abort();
        check_tags(ev.tags, ev.ntags, line, len);
    }
    if (vn_parse_service_check(&k_parser, line, len, 42, scratch, sizeof(scratch), &sc) == VN_PARSE_OK) {
        check_in(sc.name, line, len);
        check_in(sc.hostname, line, len);
        check_in(sc.message, scratch, sizeof(scratch));
        if (sc.status < 0 || sc.status > 3 || sc.name.len == 0)
            abort();
        check_tags(sc.tags, sc.ntags, line, len);
    }
    if (vn_parse_err_reason(e) == NULL || vn_parse_err_message(e) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0; /* the TCP line limit; UDP datagrams are smaller */
    /* Copy so ASan sees reads past the datagram end as overflows. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    const char *p = buf, *end = buf + size;
    for (;;) {
        const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        size_t len = (size_t)((nl ? nl : end) - p);
        if (len) {
            /* each line in its own exact-size allocation: any over-read traps */
            char *line = malloc(len);
            if (line) {
                memcpy(line, p, len);
                run_line(line, len);
                free(line);
            }
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    free(buf);
    return 0;
}
