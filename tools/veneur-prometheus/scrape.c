/*
 * scrape.c - one HTTP GET of the metrics endpoint with libcurl.
 *
 * Go uses net/http with a context deadline of one interval; here the same
 * deadline is CURLOPT_TIMEOUT_MS. The easy handle is kept between scrapes so
 * the connection (and TLS session) is reused, as Go's transport does.
 * Behaviour worth knowing:
 *  - the body is collected whole into a capped buffer (VN_PM_MAX_BODY); the
 *    parser needs it all anyway, since a scrape is sent only if it parses;
 *  - a non-2xx status is a failed scrape (Go would try to parse the error
 *    page and usually count a decode error);
 *  - gzip/deflate responses are decoded (Go's transport asks for gzip too);
 *  - `Accept` asks for text format 0.0.4, so a server that negotiates never
 *    answers with protobuf or OpenMetrics;
 *  - redirects are followed (up to 10, http/https only), as Go's client does;
 *  - -socket: the request goes over that unix socket and the URL's host is
 *    only the Host header; like Go, TLS is not used on the socket, so an
 *    https:// URL is requested as http://;
 *  - -cert/-key present a client certificate, -cacert replaces the system CA
 *    bundle for verifying the server (Go: RootCAs); verification stays on.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/version.h"
#include "core/xalloc.h"
#include "prom.h"

struct vn_pm_scraper {
    CURL *h;
    struct curl_slist *hdrs;
    char *url;                   /* owned; -h, possibly with https:// -> http:// for -socket */
    volatile sig_atomic_t *stop; /* borrowed */
    vn_buf_t body;               /* capped at VN_PM_MAX_BODY */
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    vn_pm_scraper_t *s = ud;
    size_t n = size * nmemb;
    if (vn_buf_add(&s->body, p, n) != VN_OK) {
        s->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    vn_pm_scraper_t *s = ud;
    return s->stop && *s->stop ? 1 : 0;
}

vn_pm_scraper_t *vn_pm_scraper_new(const vn_pm_opts_t *o, volatile sig_atomic_t *stop, char *err,
                                   size_t errlen)
{
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "libcurl: global init failed");
            return NULL;
        }
        global_done = true;
    }
    vn_pm_scraper_t *s = vn_xcalloc(1, sizeof *s);
    s->stop = stop;
    vn_buf_init(&s->body, VN_PM_MAX_BODY);
    if (o->socket && *o->socket && strncmp(o->url, "https://", 8) == 0) {
        size_t n = strlen(o->url) + 1;
        s->url = vn_xmalloc(n - 1);
        memcpy(s->url, "http://", 7);
        memcpy(s->url + 7, o->url + 8, n - 8);
    } else {
        s->url = vn_xstrdup(o->url);
    }
    s->h = curl_easy_init();
    if (!s->h) {
        snprintf(err, errlen, "libcurl: cannot create a handle");
        vn_pm_scraper_free(s);
        return NULL;
    }
    s->hdrs = curl_slist_append(NULL, "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1");
    CURL *h = s->h;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                                        \
    do {                                                                                                     \
        if (rc == CURLE_OK)                                                                                  \
            rc = curl_easy_setopt(h, opt, val);                                                              \
    } while (0)
    SET(CURLOPT_URL, s->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, s->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, s);
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    SET(CURLOPT_MAXREDIRS, 10L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_HTTPHEADER, s->hdrs);
    SET(CURLOPT_USERAGENT, "veneur-prometheus (veneur-c " VN_VERSION ")");
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)VN_PM_MAX_BODY);
    if (o->socket && *o->socket) {
        SET(CURLOPT_UNIX_SOCKET_PATH, o->socket);
    } else {
        if (o->cert && *o->cert)
            SET(CURLOPT_SSLCERT, o->cert);
        if (o->key && *o->key)
            SET(CURLOPT_SSLKEY, o->key);
        if (o->cacert && *o->cacert)
            SET(CURLOPT_CAINFO, o->cacert);
    }
#undef SET
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(rc));
        vn_pm_scraper_free(s);
        return NULL;
    }
    return s;
}

void vn_pm_scraper_free(vn_pm_scraper_t *s)
{
    if (!s)
        return;
    if (s->h)
        curl_easy_cleanup(s->h);
    curl_slist_free_all(s->hdrs);
    vn_buf_free(&s->body);
    free(s->url);
    free(s);
}

vn_pm_scrape_rc_t vn_pm_scrape(vn_pm_scraper_t *s, double timeout_s, const char **body, size_t *len,
                               char *err, size_t errlen)
{
    vn_buf_reset(&s->body);
    s->too_big = false;
    s->errbuf[0] = '\0';
    long ms = timeout_s * 1000 < 1 ? 1 : timeout_s * 1000 > 86400000.0 ? 86400000L : (long)(timeout_s * 1000);
    curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, ms);
    CURLcode rc = curl_easy_perform(s->h);
    if (rc != CURLE_OK) {
        if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
            snprintf(err, errlen, "body larger than %u bytes", VN_PM_MAX_BODY);
            return VN_PM_SCRAPE_TOO_BIG;
        }
        if (rc == CURLE_ABORTED_BY_CALLBACK) {
            snprintf(err, errlen, "stopped");
            return VN_PM_SCRAPE_STOPPED;
        }
        snprintf(err, errlen, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
        return VN_PM_SCRAPE_CONNECT;
    }
    long code = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        snprintf(err, errlen, "HTTP status %ld", code);
        return VN_PM_SCRAPE_STATUS;
    }
    *body = vn_buf_ptr(&s->body);
    *len = vn_buf_len(&s->body);
    return VN_PM_SCRAPE_OK;
}
