/**
 * err.h - the one error code type of veneur-c.
 *
 * Values never change once assigned (they appear in logs and self-metrics).
 * Add new codes just before VN_ERR__LAST.
 */
#ifndef VN_CORE_ERR_H
#define VN_CORE_ERR_H

typedef enum vn_err {
    VN_OK = 0,            /* 0 success */
    VN_ERR_NOMEM = 1,     /* 1 allocation failed (normally fatal instead) */
    VN_ERR_PARSE = 2,     /* 2 malformed input */
    VN_ERR_TOO_LARGE = 3, /* 3 input or buffer over its cap */
    VN_ERR_IO = 4,        /* 4 system call failed; see errno */
    VN_ERR_AGAIN = 5,     /* 5 try later (queue full, would block) */
    VN_ERR_PROTO = 6,     /* 6 peer broke a wire protocol */
    VN_ERR_TIMEOUT = 7,   /* 7 deadline passed */
    VN_ERR_CONFIG = 8,    /* 8 bad configuration value */
    VN_ERR_NOTFOUND = 9,  /* 9 no such item */
    VN_ERR__LAST
} vn_err_t;

/** Static text for an error code; never NULL. Thread-safe. */
const char *vn_strerror(vn_err_t err);

#endif
