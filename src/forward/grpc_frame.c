/*
 * grpc_frame.c - gRPC message framing and header encodings (see grpc_frame.h
 * for the byte layout).
 *
 * The reader is a two-state machine: collecting the 5-byte prefix (which
 * may itself arrive in pieces), then collecting the body. A body that lies
 * wholly inside the bytes of one feed is delivered in place; only a body
 * split across feeds is copied, into a buffer reserved from the shared
 * budget once its length is known and validated.
 */
#include "forward/grpc_frame.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/xalloc.h"

void vn_grpc_reader_init(vn_grpc_reader_t *r, size_t max, const vn_grpc_budget_t *budget)
{
    memset(r, 0, sizeof *r);
    r->max = max;
    if (budget)
        r->budget = *budget;
}

static void release(vn_grpc_reader_t *r)
{
    free(r->buf);
    if (r->held && r->budget.release)
        r->budget.release(r->budget.ctx, r->held);
    r->buf = NULL;
    r->need = r->have = r->held = 0;
    r->hdr_have = 0;
}

void vn_grpc_reader_destroy(vn_grpc_reader_t *r)
{
    if (r)
        release(r);
}

void vn_grpc_reader_drop(vn_grpc_reader_t *r)
{
    release(r);
    r->error = VN_GRPC_RESOURCE_EXHAUSTED;
}

bool vn_grpc_reader_idle(const vn_grpc_reader_t *r) { return r->hdr_have == 0; }

static vn_err_t fail(vn_grpc_reader_t *r, vn_err_t e, vn_grpc_status_t st)
{
    r->error = st;
    return e;
}

/* The prefix is complete: validate flag and length. */
static vn_err_t check_prefix(vn_grpc_reader_t *r)
{
    if (r->hdr[0] == 1)
        return fail(r, VN_ERR_PROTO, VN_GRPC_UNIMPLEMENTED);
    if (r->hdr[0] != 0)
        return fail(r, VN_ERR_PROTO, VN_GRPC_INTERNAL);
    size_t n = (size_t)r->hdr[1] << 24 | (size_t)r->hdr[2] << 16 | (size_t)r->hdr[3] << 8 | r->hdr[4];
    if (n > r->max)
        return fail(r, VN_ERR_TOO_LARGE, VN_GRPC_RESOURCE_EXHAUSTED);
    r->need = n;
    r->have = 0;
    return VN_OK;
}

static vn_err_t deliver(vn_grpc_reader_t *r, const uint8_t *msg, size_t len, vn_grpc_msg_fn fn, void *ctx)
{
    r->messages++;
    vn_err_t e = fn(ctx, msg, len);
    return e == VN_OK ? VN_OK : fail(r, e, VN_GRPC_INVALID_ARGUMENT);
}

/* Makes room for `want` body bytes: the buffer doubles (so a 4 MiB message
 * costs ~11 copies, not one per DATA frame) but never past what arrived
 * rounded up to that doubling, nor past the announced length. */
static vn_err_t grow(vn_grpc_reader_t *r, size_t want)
{
    if (want <= r->held)
        return VN_OK;
    size_t cap = r->held ? r->held * 2 : VN_GRPC_REASM_MIN;
    while (cap < want)
        cap *= 2;
    if (cap > r->need)
        cap = r->need;
    if (r->budget.reserve && !r->budget.reserve(r->budget.ctx, cap - r->held))
        return fail(r, VN_ERR_TOO_LARGE, VN_GRPC_RESOURCE_EXHAUSTED);
    r->buf = vn_xrealloc(r->buf, cap);
    r->held = cap;
    return VN_OK;
}

vn_err_t vn_grpc_reader_feed(vn_grpc_reader_t *r, const uint8_t *data, size_t len, vn_grpc_msg_fn fn, void *ctx)
{
    r->error = VN_GRPC_OK;
    while (len > 0) {
        if (r->hdr_have < VN_GRPC_PREFIX) {
            size_t take = VN_GRPC_PREFIX - r->hdr_have;
            if (take > len)
                take = len;
            memcpy(r->hdr + r->hdr_have, data, take);
            r->hdr_have += (uint32_t)take;
            data += take;
            len -= take;
            if (r->hdr_have < VN_GRPC_PREFIX)
                return VN_OK;
            vn_err_t e = check_prefix(r);
            if (e != VN_OK)
                return e;
            if (r->need <= len) { /* whole body here: in place */
                size_t n = r->need;
                r->hdr_have = 0;
                r->need = 0;
                e = deliver(r, data, n, fn, ctx);
                if (e != VN_OK)
                    return e;
                data += n;
                len -= n;
                continue;
            }
            if (len == 0)
                return VN_OK; /* a bare prefix holds nothing */
        }
        if (r->have == 0 && r->need <= len) { /* prefix came earlier, body whole here: in place */
            size_t n = r->need;
            r->hdr_have = 0;
            r->need = 0;
            vn_err_t e = deliver(r, data, n, fn, ctx);
            if (e != VN_OK)
                return e;
            data += n;
            len -= n;
            continue;
        }
        size_t take = r->need - r->have;
        if (take > len)
            take = len;
        vn_err_t e = grow(r, r->have + take);
        if (e != VN_OK)
            return e;
        memcpy(r->buf + r->have, data, take);
        r->have += take;
        data += take;
        len -= take;
        if (r->have < r->need)
            return VN_OK;
        uint8_t *msg = r->buf;
        size_t n = r->need, held = r->held;
        r->buf = NULL; /* delivered; freed below whatever fn says */
        r->hdr_have = 0;
        r->need = r->have = r->held = 0;
        if (r->budget.release)
            r->budget.release(r->budget.ctx, held);
        e = deliver(r, msg, n, fn, ctx);
        free(msg);
        if (e != VN_OK)
            return e;
    }
    return VN_OK;
}

char *vn_grpc_message_encode(const char *msg, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (cap == 0)
        return out;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        bool plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
        size_t need = plain ? 1 : 3;
        if (o + need >= cap)
            break;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return out;
}

char *vn_grpc_message_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return out;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        int h, l;
        if (in[i] == '%' && i + 2 < len && (h = vn_hex_digit((unsigned char)in[i + 1])) >= 0 &&
            (l = vn_hex_digit((unsigned char)in[i + 2])) >= 0) {
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
    return out;
}

char *vn_grpc_timeout_format(double seconds, char out[10])
{
    static const struct {
        char unit;
        double per_second;
    } units[] = {{'n', 1e9}, {'u', 1e6}, {'m', 1e3}, {'S', 1}, {'M', 1.0 / 60}, {'H', 1.0 / 3600}};
    if (!(seconds > 0))
        seconds = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        double v = fmax(0, ceil(seconds * units[i].per_second - 1e-6)); /* up, but not for FP noise */
        if (v <= 99999999.0) {
            snprintf(out, 10, "%.0f%c", v, units[i].unit);
            return out;
        }
    }
    snprintf(out, 10, "99999999H");
    return out;
}

bool vn_grpc_timeout_parse(const char *in, size_t len, double *seconds)
{
    if (len < 2 || len > 9)
        return false;
    double v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (in[i] < '0' || in[i] > '9')
            return false;
        v = v * 10 + (in[i] - '0');
    }
    switch (in[len - 1]) {
    case 'n': *seconds = v / 1e9; return true;
    case 'u': *seconds = v / 1e6; return true;
    case 'm': *seconds = v / 1e3; return true;
    case 'S': *seconds = v; return true;
    case 'M': *seconds = v * 60; return true;
    case 'H': *seconds = v * 3600; return true;
    default: return false;
    }
}
