/*
 * s3.c - the "s3" metric sink (s3.h): gzip'd TSV objects PUT to S3 through
 * the delivery queue, signed by libcurl.
 *
 *   metric_sinks:
 *     - kind: s3
 *       config:
 *         s3_bucket: my-archive            # required
 *         region: us-west-2                # required (or AWS_REGION / AWS_DEFAULT_REGION)
 *         access_key_id: AKIA...           # or AWS_ACCESS_KEY_ID
 *         secret_access_key: "..."         # or AWS_SECRET_ACCESS_KEY
 *         # veneur-c: s3_endpoint (path-style base URL: MinIO, a test server),
 *         # and the delivery keys of delivery.h
 *
 * Differences from Go, on purpose: counters are divided by the real interval
 * (Go's S3 sink never sets its Interval field, so its rate column is +Inf and
 * its interval column 0); the key's date is UTC (Go uses the local zone); a
 * failed upload is retried by the delivery queue (Go drops it); credentials
 * come only from the config or the AWS_* environment variables (no shared
 * credentials file, no instance metadata: a missing pair is a config error).
 * AWS_SESSION_TOKEN, when set, is sent as x-amz-security-token.
 */
#include "sinks/s3.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/gzip.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "sinks/delivery.h"
#include "sinks/sink_internal.h"

typedef struct s3_sink {
    char *bucket, *region, *base; /* base: "https://host" or "http://host/bucket" (no trailing '/') */
    char *sigv4;                  /* "aws:amz:REGION:s3" */
    char *userpwd;                /* "KEY:SECRET" */
    char *token_header;           /* "x-amz-security-token: ..." or NULL */
    char *secret;
    vn_buf_t tsv;
    int64_t last_ts;
    unsigned chunk;
    vn_delivery_t *dl;
} s3_sink_t;

size_t vn_s3__key(char *out, size_t cap, const char *hostname, int64_t ts, unsigned k)
{
    struct tm tm;
    time_t t = (time_t)ts;
    if (!gmtime_r(&t, &tm))
        return 0;
    int n = k ? snprintf(out, cap, "%04d/%02d/%02d/%s/%lld-%u.tsv.gz", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         hostname ? hostname : "", (long long)ts, k)
              : snprintf(out, cap, "%04d/%02d/%02d/%s/%lld.tsv.gz", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         hostname ? hostname : "", (long long)ts);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

vn_err_t vn_s3__escape_key(vn_buf_t *b, const char *key)
{
    static const char hex[] = "0123456789ABCDEF";
    vn_err_t err = VN_OK;
    for (const unsigned char *p = (const unsigned char *)key; *p && err == VN_OK; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '_' || c == '.' || c == '~' || c == '/';
        if (plain) {
            err = vn_buf_add_byte(b, c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            err = vn_buf_add(b, e, 3);
        }
    }
    return err;
}

/* ------------------------------------------------------------ config */

static vn_err_t bad(char *errbuf, size_t errcap, const char *sink, const char *what)
{
    if (errbuf && errcap)
        snprintf(errbuf, errcap, "sink \"%s\" (s3): %s", sink, what);
    return VN_ERR_CONFIG;
}

static const char *key_or_env(const vn_sink_config_t *sc, const char *key, const char *env1, const char *env2)
{
    const char *v = vn_sink_config_get(sc, key);
    if (v && v[0])
        return v;
    v = env1 ? getenv(env1) : NULL;
    if (v && v[0])
        return v;
    v = env2 ? getenv(env2) : NULL;
    return v && v[0] ? v : NULL;
}

static bool safe(const char *s, const char *extra_bad)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || strchr(extra_bad, *p))
            return false;
    return true;
}

static void s3_free(s3_sink_t *x)
{
    if (!x)
        return;
    vn_delivery_free(x->dl); /* drains for the grace period first */
    free(x->bucket);
    free(x->region);
    free(x->base);
    free(x->sigv4);
    free(x->userpwd);
    free(x->token_header);
    free(x->secret);
    vn_buf_free(&x->tsv);
    free(x);
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = vn_xmalloc(n);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* ------------------------------------------------------------ flush */

static vn_err_t s3_flush(vn_sink_t *s, const vn_inter_metric_t *m, size_t n, const vn_flush_info_t *info)
{
    s3_sink_t *x = s->impl;
    vn_delivery_bind_stats(x->dl, s->stats);
    vn_buf_reset(&x->tsv);
    size_t rows = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        if (!vn_sink__wants(s, &m[i]) || m[i].type == VN_IM_STATUS)
            continue;
        size_t mark = vn_buf_len(&x->tsv);
        if (vn_sink__csv_row(&x->tsv, s, &m[i], "\t", 1, info->hostname, info->interval_s, info->timestamp) != VN_OK) {
            vn_buf_truncate(&x->tsv, mark);
            dropped++;
            continue;
        }
        rows++;
    }
    if (dropped && s->stats)
        vn_stats_add(&s->stats->dropped, dropped);
    if (rows == 0)
        return VN_OK; /* Go uploads an empty object; nothing to archive is not worth a request */
    x->chunk = info->timestamp == x->last_ts ? x->chunk + 1 : 0;
    x->last_ts = info->timestamp;
    char key[1024];
    if (!vn_s3__key(key, sizeof key, info->hostname, info->timestamp, x->chunk)) {
        if (s->stats)
            vn_stats_add(&s->stats->dropped, rows);
        return VN_ERR_TOO_LARGE;
    }
    char *z = NULL;
    size_t zl = 0;
    vn_err_t err = vn_gzip_alloc(vn_buf_ptr(&x->tsv), vn_buf_len(&x->tsv), VN_GZIP_GZIP, &z, &zl);
    if (err != VN_OK) {
        if (s->stats)
            vn_stats_add(&s->stats->dropped, rows);
        return err;
    }
    /* S3 wants the payload hash as a header, and libcurl 7.x does not add it;
     * it signs the header along with the rest (SignedHeaders). */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char sha_hdr[32 + 2 * EVP_MAX_MD_SIZE + 1];
    if (!EVP_Digest(z, zl, md, &mdlen, EVP_sha256(), NULL)) {
        free(z);
        if (s->stats)
            vn_stats_add(&s->stats->dropped, rows);
        return VN_ERR_IO;
    }
    int hl = snprintf(sha_hdr, sizeof sha_hdr, "x-amz-content-sha256: ");
    for (unsigned i = 0; i < mdlen; i++)
        hl += snprintf(sha_hdr + hl, sizeof sha_hdr - (size_t)hl, "%02x", md[i]);
    vn_buf_t url = VN_BUF_INIT(4096);
    err = vn_buf_add_str(&url, x->base);
    if (err == VN_OK)
        err = vn_buf_add_byte(&url, '/');
    if (err == VN_OK)
        err = vn_s3__escape_key(&url, key);
    if (err != VN_OK) {
        free(z);
        vn_buf_free(&url);
        if (s->stats)
            vn_stats_add(&s->stats->dropped, rows);
        return err;
    }
    vn_delivery_req_t r = {.what = "object",
                           .url = vn_buf_ptr(&url),
                           .body = z,
                           .len = zl,
                           .nmetrics = rows,
                           .method = "PUT",
                           .aws_sigv4 = x->sigv4,
                           .userpwd = x->userpwd};
    r.headers[r.nheaders++] = "Content-Type: application/octet-stream";
    r.headers[r.nheaders++] = sha_hdr;
    if (x->token_header)
        r.headers[r.nheaders++] = x->token_header;
    err = vn_delivery_enqueue(x->dl, &r);
    vn_buf_free(&url);
    return err;
}

static void s3_destroy(vn_sink_t *s)
{
    s3_free(s->impl);
    s->impl = NULL;
}

static const vn_sink_ops_t s3_ops = {
    .kind = "s3",
    .flush = s3_flush,
    .destroy = s3_destroy,
};

vn_err_t vn_sink__s3_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                         size_t errcap)
{
    const char *bucket = vn_sink_config_get(sc, "s3_bucket");
    const char *region = key_or_env(sc, "region", "AWS_REGION", "AWS_DEFAULT_REGION");
    const char *akid = key_or_env(sc, "access_key_id", "AWS_ACCESS_KEY_ID", NULL);
    const char *secret = key_or_env(sc, "secret_access_key", "AWS_SECRET_ACCESS_KEY", NULL);
    const char *endpoint = vn_sink_config_get(sc, "s3_endpoint");
    const char *token = getenv("AWS_SESSION_TOKEN");
    if (!bucket || !bucket[0] || !safe(bucket, "/?#%\\"))
        return bad(errbuf, errcap, s->name, "config key s3_bucket is required (a bucket name)");
    if (!region || !safe(region, "/?#%:@\\"))
        return bad(errbuf, errcap, s->name, "config key region is required (or AWS_REGION), e.g. us-west-2");
    if (!akid || !secret)
        return bad(errbuf, errcap, s->name,
                   "config keys access_key_id and secret_access_key (or AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY) are required");
    if (strchr(akid, ':') || !safe(akid, "") || !safe(secret, ""))
        return bad(errbuf, errcap, s->name, "config key access_key_id or secret_access_key: invalid characters");
    if (endpoint && endpoint[0] && strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
        return bad(errbuf, errcap, s->name, "config key s3_endpoint: want an http:// or https:// URL");
    vn_delivery_opts_t o;
    vn_err_t err = vn_delivery_config(sc, cfg, s->name, &o, errbuf, errcap);
    if (err != VN_OK)
        return err;

    s3_sink_t *x = vn_xcalloc(1, sizeof *x);
    x->bucket = vn_xstrdup(bucket);
    x->region = vn_xstrdup(region);
    if (endpoint && endpoint[0]) {
        size_t el = strlen(endpoint);
        while (el > 0 && endpoint[el - 1] == '/')
            el--;
        char *e = vn_xstrndup(endpoint, el);
        x->base = join3(e, "/", bucket);
        free(e);
    } else {
        char *host = join3(bucket, ".s3.", region);
        x->base = join3("https://", host, ".amazonaws.com");
        free(host);
    }
    x->sigv4 = join3("aws:amz:", region, ":s3");
    x->userpwd = join3(akid, ":", secret);
    x->secret = vn_xstrdup(secret);
    if (token && token[0] && safe(token, ""))
        x->token_header = join3("x-amz-security-token: ", token, "");
    vn_buf_init(&x->tsv, VN_S3_RAW_CAP);
    x->last_ts = -1;
    const char *secrets[] = {x->secret};
    o.name = s->name;
    o.secrets = secrets;
    o.nsecrets = 1;
    x->dl = vn_delivery_new(&o, NULL);
    s->impl = x;
    s->ops = &s3_ops;
    VN_LOG(INFO, "event=sink_started sink=%s kind=s3 bucket=%s region=%s url=%s max_queue_bytes=%zu", s->name, bucket,
           region, x->base, o.max_queue_bytes);
    return VN_OK;
}
