/*
 * gzip.c - one-shot deflate into a gzip or zlib stream (see gzip.h).
 *
 * Both entry points size the output with deflateBound, which counts the
 * wrapper too, so a single deflate(Z_FINISH) must return Z_STREAM_END;
 * anything else is a zlib failure, not a "buffer full" to retry.
 */
#include "core/gzip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/xalloc.h"

/* windowBits 15: zlib wrapper; 15 + 16: gzip header and trailer instead. */
static vn_err_t begin(z_stream *zs, size_t len, vn_gzip_wrap_t wrap, size_t *bound)
{
    if (len > VN_GZIP_MAX_IN)
        return VN_ERR_TOO_LARGE;
    memset(zs, 0, sizeof *zs);
    int wbits = wrap == VN_GZIP_GZIP ? 15 + 16 : 15;
    if (deflateInit2(zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return VN_ERR_IO;
    *bound = deflateBound(zs, (uLong)len);
    return VN_OK;
}

/* Runs the stream to its end into out[0..cap) and frees zlib's state. */
static vn_err_t finish(z_stream *zs, const char *in, size_t len, char *out, size_t cap, size_t *n)
{
    zs->next_in = (Bytef *)(uintptr_t)in;
    zs->avail_in = (uInt)len;
    zs->next_out = (Bytef *)out;
    zs->avail_out = (uInt)cap;
    int rc = deflate(zs, Z_FINISH);
    *n = zs->total_out;
    deflateEnd(zs);
    return rc == Z_STREAM_END ? VN_OK : VN_ERR_IO;
}

vn_err_t vn_gzip_append(vn_buf_t *out, const char *in, size_t len, vn_gzip_wrap_t wrap)
{
    z_stream zs;
    size_t bound, n;
    vn_err_t err = begin(&zs, len, wrap, &bound);
    if (err != VN_OK)
        return err;
    char *tail;
    err = vn_buf_reserve(out, bound, &tail);
    if (err != VN_OK) {
        deflateEnd(&zs);
        return err;
    }
    err = finish(&zs, in, len, tail, bound, &n);
    if (err == VN_OK)
        vn_buf_commit(out, n);
    return err;
}

vn_err_t vn_gzip_alloc(const char *in, size_t len, vn_gzip_wrap_t wrap, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    z_stream zs;
    size_t bound, n;
    vn_err_t err = begin(&zs, len, wrap, &bound);
    if (err != VN_OK)
        return err;
    char *buf = vn_xmalloc(bound ? bound : 1);
    err = finish(&zs, in, len, buf, bound, &n);
    if (err != VN_OK) {
        free(buf);
        return err;
    }
    char *shrunk = realloc(buf, n ? n : 1); /* give back deflateBound's slack */
    *out = shrunk ? shrunk : buf;
    *out_len = n;
    return VN_OK;
}
