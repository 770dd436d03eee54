/*
 * linebuf.c - the stream framing state machine (see linebuf.h).
 *
 * Invariant while READING: buf[0..len) holds no '\n' between calls (complete
 * lines are delivered and removed at once), so a commit scans only the new
 * bytes, and len < max_line.
 */
#include "listen/linebuf.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

void vn_linebuf_init(vn_linebuf_t *lb, size_t max_line, vn_linebuf_budget_t *budget)
{
    *lb = (vn_linebuf_t){.max_line = max_line < VN_LINEBUF_BASE ? VN_LINEBUF_BASE : max_line, .budget = budget};
}

static void set_cap(vn_linebuf_t *lb, size_t ncap)
{
    if (lb->budget)
        lb->budget->used = lb->budget->used - lb->cap + ncap;
    if (ncap == 0) {
        free(lb->buf);
        lb->buf = NULL;
    } else {
        lb->buf = vn_xrealloc(lb->buf, ncap);
    }
    lb->cap = ncap;
}

/* The stream is over: no byte is kept past this point, so a finished connection pins nothing. */
static vn_linebuf_state_t finish(vn_linebuf_t *lb, vn_linebuf_state_t st)
{
    set_cap(lb, 0);
    lb->len = 0;
    lb->state = st;
    return st;
}

void vn_linebuf_destroy(vn_linebuf_t *lb)
{
    set_cap(lb, 0);
    lb->len = 0;
}

char *vn_linebuf_space(vn_linebuf_t *lb, size_t *room)
{
    if (lb->state != VN_LINEBUF_READING)
        return NULL;
    if (lb->len == lb->cap) {
        size_t ncap = lb->cap ? lb->cap * 2 : VN_LINEBUF_BASE;
        if (ncap > lb->max_line)
            ncap = lb->max_line;
        vn_linebuf_budget_t *b = lb->budget;
        if (b && b->limit && b->used + (ncap - lb->cap) > b->limit) {
            finish(lb, VN_LINEBUF_NO_MEMORY);
            return NULL;
        }
        set_cap(lb, ncap);
    }
    *room = lb->cap - lb->len;
    return lb->buf + lb->len;
}

vn_linebuf_state_t vn_linebuf_commit(vn_linebuf_t *lb, size_t n, vn_linebuf_line_fn fn, void *ctx)
{
    if (lb->state != VN_LINEBUF_READING || n == 0)
        return lb->state;
    size_t scan = lb->len; /* bytes before it hold no '\n' */
    lb->len += n;
    size_t start = 0;
    const char *nl;
    while (scan < lb->len && (nl = memchr(lb->buf + scan, '\n', lb->len - scan)) != NULL) {
        size_t end = (size_t)(nl - lb->buf);
        size_t ll = end - start;
        if (ll && lb->buf[start + ll - 1] == '\r')
            ll--; /* bufio.ScanLines strips one trailing CR */
        if (!fn(ctx, lb->buf + start, ll))
            return finish(lb, VN_LINEBUF_BAD_LINE); /* Go closes the stream on its first bad line */
        start = scan = end + 1;
    }
    if (start) {
        memmove(lb->buf, lb->buf + start, lb->len - start);
        lb->len -= start;
    }
    if (lb->len >= lb->max_line)
        return finish(lb, VN_LINEBUF_TOO_LONG);
    /* A long line is done: give its bytes back so one burst does not pin 64 KiB for good. */
    if (lb->cap > VN_LINEBUF_BASE && lb->len <= VN_LINEBUF_BASE / 2)
        set_cap(lb, VN_LINEBUF_BASE);
    return lb->state;
}

vn_linebuf_state_t vn_linebuf_eof(vn_linebuf_t *lb, vn_linebuf_line_fn fn, void *ctx)
{
    if (lb->state != VN_LINEBUF_READING)
        return lb->state;
    size_t ll = lb->len;
    if (ll && lb->buf[ll - 1] == '\r')
        ll--; /* bufio.ScanLines drops a final CR at EOF too */
    if (lb->len && !fn(ctx, lb->buf, ll))
        return finish(lb, VN_LINEBUF_BAD_LINE);
    return finish(lb, VN_LINEBUF_EOF);
}

vn_linebuf_state_t vn_linebuf_feed(vn_linebuf_t *lb, const char *data, size_t n, vn_linebuf_line_fn fn, void *ctx)
{
    while (n > 0) {
        size_t room;
        char *p = vn_linebuf_space(lb, &room);
        if (!p)
            break;
        size_t k = n < room ? n : room;
        memcpy(p, data, k);
        data += k;
        n -= k;
        if (vn_linebuf_commit(lb, k, fn, ctx) != VN_LINEBUF_READING)
            break;
    }
    return lb->state;
}

const char *vn_linebuf_state_name(vn_linebuf_state_t s)
{
    switch (s) {
    case VN_LINEBUF_READING: return "reading";
    case VN_LINEBUF_BAD_LINE: return "bad_line";
    case VN_LINEBUF_TOO_LONG: return "too_long";
    case VN_LINEBUF_NO_MEMORY: return "no_memory";
    case VN_LINEBUF_EOF: return "eof";
    }
    return "unknown";
}
