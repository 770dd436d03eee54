/*
 * http_get.c - bounded blocking GET (see http_get.h).
 */
#include "sinks/http_get.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct sink {
    vn_buf_t b;
    bool too_large;
} sink_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sink_t *s = ud;
    if (vn_buf_add(&s->b, p, size * n) != VN_OK) {
        s->too_large = true;
        return 0; /* aborts the transfer */
    }
    return size * n;
}

/* Polled by curl about once a second and on every read: a stop request ends a slow scrape. */
static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    (void)dlt, (void)dln, (void)ult, (void)uln;
    return atomic_load_explicit((const _Atomic bool *)ud, memory_order_relaxed) ? 1 : 0;
}

vn_err_t vn_http_get(const vn_http_get_opts_t *o, vn_buf_t *body, long *status, char *err, size_t errcap)
{
    long st = 0;
    if (status)
        *status = 0;
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errcap, "curl_easy_init failed");
        return VN_ERR_IO;
    }
    sink_t s = {.b = VN_BUF_INIT(o->max_body)};
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < VN_HTTP_GET_MAX_HEADERS; i++)
        if (o->headers[i])
            h = curl_slist_append(h, o->headers[i]);
    long ms = (long)(o->timeout_s * 1000);
    curl_easy_setopt(c, CURLOPT_URL, o->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms > 100 ? ms : 100L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (o->user_agent)
        curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent);
    if (o->cancel) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)o->cancel);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    if (o->ca_file && o->ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    vn_err_t e = VN_OK;
    if (s.too_large) {
        snprintf(err, errcap, "response larger than %zu bytes", o->max_body);
        e = VN_ERR_TOO_LARGE;
    } else if (rc != CURLE_OK) {
        snprintf(err, errcap, "%s", curl_easy_strerror(rc));
        e = rc == CURLE_OPERATION_TIMEDOUT ? VN_ERR_TIMEOUT : VN_ERR_IO;
    } else if (st != 200) {
        snprintf(err, errcap, "HTTP status %ld", st);
        e = VN_ERR_PROTO;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (status)
        *status = st;
    if (e == VN_OK)
        *body = s.b;
    else
        vn_buf_free(&s.b);
    return e;
}
