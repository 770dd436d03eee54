/**
 * gzip.h - the one deflate writer: a whole buffer compressed into one complete
 * stream at zlib's default level, with a gzip (RFC 1952: localfile CSV members,
 * SignalFx bodies) or zlib (RFC 1950: HTTP `Content-Encoding: deflate`, what
 * Go's compress/zlib writes for Datadog) wrapper.
 *
 * Output is sized to deflate's worst case up front, so one Z_FINISH call ends
 * the stream and nothing is streamed or retried. Reentrant, thread-safe.
 */
#ifndef VN_CORE_GZIP_H
#define VN_CORE_GZIP_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

typedef enum vn_gzip_wrap {
    VN_GZIP_ZLIB = 0, /* RFC 1950 */
    VN_GZIP_GZIP = 1, /* RFC 1952 */
} vn_gzip_wrap_t;

/** Largest input accepted (zlib counts input in 32-bit uInt). */
#define VN_GZIP_MAX_IN ((size_t)1 << 30)

/**
 * Appends one complete stream holding in[0..len) to out. VN_ERR_TOO_LARGE
 * past VN_GZIP_MAX_IN or when the worst case does not fit out's cap (out then
 * unchanged), VN_ERR_IO on a zlib failure (out unchanged).
 */
vn_err_t vn_gzip_append(vn_buf_t *out, const char *in, size_t len, vn_gzip_wrap_t wrap);

/**
 * The same into a new malloc'd buffer (*out, *out_len), owned by the caller;
 * *out is NULL on error. Same errors (no cap but VN_GZIP_MAX_IN).
 */
vn_err_t vn_gzip_alloc(const char *in, size_t len, vn_gzip_wrap_t wrap, char **out, size_t *out_len);

#endif
