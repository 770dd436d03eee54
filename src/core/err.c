/* err.c - text for each vn_err_t. */
#include "core/err.h"

const char *vn_strerror(vn_err_t err)
{
    switch (err) {
    case VN_OK: return "ok";
    case VN_ERR_NOMEM: return "out of memory";
    case VN_ERR_PARSE: return "parse error";
    case VN_ERR_TOO_LARGE: return "too large";
    case VN_ERR_IO: return "i/o error";
    case VN_ERR_AGAIN: return "try again";
    case VN_ERR_PROTO: return "protocol error";
    case VN_ERR_TIMEOUT: return "timeout";
    case VN_ERR_CONFIG: return "configuration error";
    case VN_ERR_NOTFOUND: return "not found";
    case VN_ERR__LAST: break;
    }
    return "unknown error";
}
