/**
 * http_get.h - one blocking HTTP GET of a small JSON document into a bounded
 * buffer: the fetch that control-plane pollers share (the SignalFx token
 * fetcher, veneur-proxy's Consul and Kubernetes discovery). Not for the
 * delivery path (sinks/http_client.h is). Thread safe: each call has its own
 * curl handle; no redirects, http and https only, no signals.
 */
#ifndef VN_SINKS_HTTP_GET_H
#define VN_SINKS_HTTP_GET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

#define VN_HTTP_GET_MAX_HEADERS 4

typedef struct vn_http_get_opts {
    const char *url;                                  /* borrowed */
    const char *headers[VN_HTTP_GET_MAX_HEADERS];     /* "Name: value", borrowed; NULL entries skipped */
    double timeout_s;                                 /* whole request; at least 0.1 s is given */
    size_t max_body;                                  /* bytes; a longer body fails with VN_ERR_TOO_LARGE */
    const char *ca_file;                              /* NULL or "" = system CAs */
    const char *user_agent;                           /* NULL = curl's */
    const _Atomic bool *cancel;                       /* NULL, or: true ends the transfer (VN_ERR_IO) */
} vn_http_get_opts_t;

/**
 * GETs o->url. @return VN_OK with *body set (caller frees with vn_buf_free),
 * else *body untouched and a one-line reason (without the URL) in err:
 * VN_ERR_TOO_LARGE (body over max_body), VN_ERR_TIMEOUT, VN_ERR_IO (any other
 * transport failure), VN_ERR_PROTO (a status other than 200; *status holds it).
 * status may be NULL.
 */
vn_err_t vn_http_get(const vn_http_get_opts_t *o, vn_buf_t *body, long *status, char *err, size_t errcap);

#endif
