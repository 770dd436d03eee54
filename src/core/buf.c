/*
 * buf.c - capped growable byte buffer (see buf.h).
 *
 * Invariants: _len <= _max; when _p != NULL, _alloc >= _len + 1 and
 * _p[_len] == '\0'. Growth doubles (from 64 bytes) and is clamped to _max + 1 so
 * a buffer never holds more memory than its cap allows.
 */
#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define BUF_MIN_ALLOC 64

void vn_buf_init(vn_buf_t *b, size_t max)
{
    b->_p = NULL;
    b->_len = 0;
    b->_alloc = 0;
    b->_max = max;
}

void vn_buf_free(vn_buf_t *b)
{
    if (!b)
        return;
    free(b->_p);
    b->_p = NULL;
    b->_len = 0;
    b->_alloc = 0;
}

void vn_buf_reset(vn_buf_t *b)
{
    b->_len = 0;
    if (b->_p)
        b->_p[0] = '\0';
}

void vn_buf_truncate(vn_buf_t *b, size_t len)
{
    if (len >= b->_len)
        return;
    b->_len = len;
    b->_p[len] = '\0';
}

/* Makes room for n more bytes plus the terminator, or fails without change. */
static vn_err_t ensure(vn_buf_t *b, size_t n)
{
    if (n > b->_max - b->_len || b->_len + n == SIZE_MAX)
        return VN_ERR_TOO_LARGE;
    size_t need = b->_len + n + 1;
    if (b->_p && need <= b->_alloc)
        return VN_OK;
    size_t a = b->_alloc ? b->_alloc : BUF_MIN_ALLOC;
    while (a < need)
        a = a > SIZE_MAX / 2 ? need : a * 2;
    /* never hold more than the cap allows (b->_max + 1 with the terminator) */
    if (b->_max < SIZE_MAX && a > b->_max + 1)
        a = b->_max + 1;
    b->_p = vn_xrealloc(b->_p, a);
    b->_alloc = a;
    return VN_OK;
}

vn_err_t vn_buf_add(vn_buf_t *b, const void *p, size_t n)
{
    vn_err_t err = ensure(b, n);
    if (err != VN_OK)
        return err;
    if (n)
        memcpy(b->_p + b->_len, p, n);
    b->_len += n;
    b->_p[b->_len] = '\0';
    return VN_OK;
}

vn_err_t vn_buf_add_str(vn_buf_t *b, const char *s)
{
    return vn_buf_add(b, s, strlen(s));
}

vn_err_t vn_buf_add_byte(vn_buf_t *b, unsigned char c)
{
    if (b->_p && b->_len + 1 < b->_alloc && b->_len < b->_max) {
        /* fast path: room already allocated */
        b->_p[b->_len++] = (char)c;
        b->_p[b->_len] = '\0';
        return VN_OK;
    }
    return vn_buf_add(b, &c, 1);
}

static vn_err_t buf_vprintf(vn_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static vn_err_t buf_vprintf(vn_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    size_t room = b->_p ? b->_alloc - b->_len : 0;
    int n = room ? vsnprintf(b->_p + b->_len, room, fmt, ap2) : vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        if (b->_p)
            b->_p[b->_len] = '\0';
        return VN_ERR_PARSE; /* bad format string; nothing added */
    }
    if ((size_t)n < room && (size_t)n <= b->_max - b->_len) {
        b->_len += (size_t)n;
        return VN_OK;
    }
    if (b->_p)
        b->_p[b->_len] = '\0'; /* undo a partial write past the cap */
    vn_err_t err = ensure(b, (size_t)n);
    if (err != VN_OK)
        return err;
    va_copy(ap2, ap);
    vsnprintf(b->_p + b->_len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->_len += (size_t)n;
    return VN_OK;
}

vn_err_t vn_buf_printf(vn_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vn_err_t err = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return err;
}

vn_err_t vn_buf_reserve(vn_buf_t *b, size_t n, char **tail)
{
    vn_err_t err = ensure(b, n);
    if (err != VN_OK)
        return err;
    *tail = b->_p + b->_len;
    return VN_OK;
}

void vn_buf_commit(vn_buf_t *b, size_t k)
{
    /* The caller reserved at least k bytes, so _len + k <= _max and < _alloc. */
    if (k > b->_max - b->_len || !b->_p || b->_len + k >= b->_alloc)
        abort(); /* misuse: committing more than was reserved corrupts the heap */
    b->_len += k;
    b->_p[b->_len] = '\0';
}

const char *vn_buf_ptr(const vn_buf_t *b)
{
    return b->_p ? b->_p : "";
}

size_t vn_buf_len(const vn_buf_t *b)
{
    return b->_len;
}

size_t vn_buf_max(const vn_buf_t *b)
{
    return b->_max;
}

size_t vn_buf_room(const vn_buf_t *b)
{
    return b->_max - b->_len;
}
