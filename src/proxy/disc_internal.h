/**
 * disc_internal.h - the discovery sources, shared by discovery.c (which
 * dispatches on discovery.kind) and the files that implement them. Not a
 * public API. Each appends what it found to *out (owned by the caller) and
 * returns VN_OK only with at least one address; otherwise a one-line reason
 * is in err.
 */
#ifndef VN_PROXY_DISC_INTERNAL_H
#define VN_PROXY_DISC_INTERNAL_H

#include "proxy/discovery.h"

vn_err_t vn_disc__consul(const vn_proxy_config_t *cfg, vn_strlist_t *out, char *err, size_t errcap);
vn_err_t vn_disc__kubernetes(const vn_proxy_config_t *cfg, vn_strlist_t *out, char *err, size_t errcap);

#endif
