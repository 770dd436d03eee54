/**
 * buf.h - a growable byte buffer with a hard size cap (curl dynbuf style).
 *
 * Every buffer gets its cap at init; an append that would take the length past
 * the cap fails with VN_ERR_TOO_LARGE. Unlike curl's dynbuf, a failed append
 * leaves the buffer exactly as it was (nothing partially appended, nothing
 * freed): writers of record-oriented output (JSON lines, CSV rows) remember
 * vn_buf_len() before a record, roll back with vn_buf_truncate() when the record
 * does not fit, write out the whole records they have and start again. Memory is
 * allocated lazily and kept across vn_buf_reset() so a per-flush buffer stops
 * allocating after its first interval.
 *
 * The content is always NUL-terminated (the terminator is not counted in the
 * length or the cap), so vn_buf_ptr() can be handed to C string functions when
 * the content has no embedded NUL.
 *
 * Callers must not touch the `_` members. Not thread-safe: one owner at a time.
 */
#ifndef VN_CORE_BUF_H
#define VN_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/err.h"

typedef struct vn_buf {
    char *_p;      /* owned allocation, or NULL before the first append */
    size_t _len;   /* bytes used */
    size_t _alloc; /* bytes allocated (>= _len + 1 once allocated) */
    size_t _max;   /* hard cap on _len */
} vn_buf_t;

/** Static initializer: an empty buffer whose length may not exceed max bytes. */
#define VN_BUF_INIT(max) {NULL, 0, 0, (max)}

/** Initializes an empty buffer with a cap of max bytes. Allocates nothing. */
void vn_buf_init(vn_buf_t *b, size_t max);

/** Frees the memory; the buffer stays usable (empty, same cap). NULL ok. */
void vn_buf_free(vn_buf_t *b);

/** Empties the buffer but keeps its memory for reuse. */
void vn_buf_reset(vn_buf_t *b);

/** Shortens the content to len bytes (no-op when len >= current length). */
void vn_buf_truncate(vn_buf_t *b, size_t len);

/**
 * Appends n bytes (copies). Returns VN_OK, or VN_ERR_TOO_LARGE when the length
 * would exceed the cap (buffer unchanged). Allocation failure is fatal.
 */
vn_err_t vn_buf_add(vn_buf_t *b, const void *p, size_t n);

/** vn_buf_add of a NUL-terminated string (without its NUL). */
vn_err_t vn_buf_add_str(vn_buf_t *b, const char *s);

/** Appends one byte. */
vn_err_t vn_buf_add_byte(vn_buf_t *b, unsigned char c);

/** Appends printf-formatted text; VN_ERR_TOO_LARGE leaves the buffer unchanged. */
vn_err_t vn_buf_printf(vn_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * Makes room for n more bytes without adding them and returns (in *tail) where
 * they go; fill them, then vn_buf_commit(b, k) with k <= n. *tail is valid until
 * the next call that changes the buffer. VN_ERR_TOO_LARGE when len + n > cap.
 * For producers that write directly into the buffer (zlib's deflate).
 */
vn_err_t vn_buf_reserve(vn_buf_t *b, size_t n, char **tail);
/** Adds k bytes previously written at the tail returned by vn_buf_reserve. */
void vn_buf_commit(vn_buf_t *b, size_t k);

/** Content, NUL-terminated; "" for an empty buffer. Borrowed: valid until the next change. */
const char *vn_buf_ptr(const vn_buf_t *b);
/** Bytes in the buffer. */
size_t vn_buf_len(const vn_buf_t *b);
/** The cap given at init. */
size_t vn_buf_max(const vn_buf_t *b);
/** Bytes that can still be appended before the cap. */
size_t vn_buf_room(const vn_buf_t *b);

#endif
