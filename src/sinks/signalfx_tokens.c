/*
 * signalfx_tokens.c - the SignalFx sink's dynamic per-tag tokens (Go's
 * dynamic_per_tag_api_keys_enable): a thread that pages through the SignalFx
 * token API every refresh period and adds what it finds to the sink's
 * per-tag token table (signalfx.h).
 *
 * Why a thread of its own: the token API can be slow or down, and neither the
 * flush thread (which must meet its deadline) nor the delivery queue (POSTs
 * of bodies it owns, no response bodies) should wait on it. Each GET has a
 * timeout of min(period, 10 s) and a response cap of VN_SFX_TOKEN_MAX_BODY.
 * The table only grows (as in Go) up to VN_SFX_DYNAMIC_TOKENS_MAX names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mono_cond.h"
#include "core/xalloc.h"
#include "core/json_read.h"
#include "sinks/http_get.h"
#include "sinks/signalfx.h"

#define MAX_PAGES 1000 /* 200 000 tokens: a runaway server cannot keep us paging forever */

/* ------------------------------------------------------------ parsing and merging */

static bool header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

vn_err_t vn_sfx__parse_token_page(vn_sfx_token_list_t *l, const char *body, size_t len, size_t *count, char *err,
                                  size_t errcap)
{
    *count = 0;
    vn_jread_doc_t doc;
    vn_err_t e = vn_jread_parse(body, len, len / 2 + 16, &doc, err, errcap);
    if (e != VN_OK)
        return VN_ERR_PARSE;
    const vn_jread_node_t *root = vn_jread_root(&doc);
    const vn_jread_node_t *res = root && root->type == VN_JREAD_OBJECT ? vn_jread_get(&doc, root, "results") : NULL;
    if (!res || res->type != VN_JREAD_ARRAY) {
        snprintf(err, errcap, "unknown results structure returned from signalfx api");
        vn_jread_free(&doc);
        return VN_ERR_PARSE;
    }
    /* validate the whole page before taking anything from it */
    for (const vn_jread_node_t *it = vn_jread_child(&doc, res, NULL); it; it = vn_jread_child(&doc, res, it)) {
        const vn_jread_node_t *nm = it->type == VN_JREAD_OBJECT ? vn_jread_get(&doc, it, "name") : NULL;
        const vn_jread_node_t *sc = it->type == VN_JREAD_OBJECT ? vn_jread_get(&doc, it, "secret") : NULL;
        size_t sl = 0;
        const char *sec = sc ? vn_jread_str(&doc, sc, &sl) : NULL;
        if (!nm || nm->type != VN_JREAD_STRING || !sec) {
            snprintf(err, errcap, "a result lacks a string name or secret");
            vn_jread_free(&doc);
            return VN_ERR_PARSE;
        }
        if (strlen(sec) != sl || !sl || !header_safe(sec)) {
            snprintf(err, errcap, "a result has a secret that cannot be a header value");
            vn_jread_free(&doc);
            return VN_ERR_PARSE;
        }
    }
    if (l->n + res->count > VN_SFX_DYNAMIC_TOKENS_MAX) {
        snprintf(err, errcap, "more than %d tokens", VN_SFX_DYNAMIC_TOKENS_MAX);
        vn_jread_free(&doc);
        return VN_ERR_TOO_LARGE;
    }
    for (const vn_jread_node_t *it = vn_jread_child(&doc, res, NULL); it; it = vn_jread_child(&doc, res, it)) {
        size_t nl;
        const char *name = vn_jread_str(&doc, vn_jread_get(&doc, it, "name"), &nl);
        const char *sec = vn_jread_str(&doc, vn_jread_get(&doc, it, "secret"), NULL);
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 64;
            l->names = vn_xrealloc(l->names, l->cap * sizeof *l->names);
            l->secrets = vn_xrealloc(l->secrets, l->cap * sizeof *l->secrets);
        }
        l->names[l->n] = vn_xstrndup(name, nl); /* a NUL inside a name cuts it: it could never match a tag */
        l->secrets[l->n] = vn_xstrdup(sec);
        l->n++;
        (*count)++;
    }
    vn_jread_free(&doc);
    return VN_OK;
}

void vn_sfx__token_list_free(vn_sfx_token_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->names[i]);
        free(l->secrets[i]);
    }
    free(l->names);
    free(l->secrets);
    memset(l, 0, sizeof *l);
}

static void set_token(vn_sfx_token_t *t, const char *name, const char *secret)
{
    free(t->token);
    free(t->header);
    if (!t->name)
        t->name = vn_xstrdup(name);
    t->token = vn_xstrdup(secret);
    size_t n = strlen(secret) + 16;
    t->header = vn_xmalloc(n);
    snprintf(t->header, n, "X-Sf-Token: %s", secret);
}

size_t vn_sfx__merge_tokens(vn_sfx_t *x, const vn_sfx_token_list_t *l)
{
    size_t added = 0;
    for (size_t i = 0; i < l->n; i++) {
        int at = vn_sfx__token_for(x, l->names[i]);
        if (at >= 0) {
            if (strcmp(x->per_tag[at].token, l->secrets[i]) != 0)
                set_token(&x->per_tag[at], l->names[i], l->secrets[i]);
            continue;
        }
        if (x->n_per_tag >= VN_SFX_DYNAMIC_TOKENS_MAX)
            break;
        x->per_tag = vn_xrealloc(x->per_tag, (x->n_per_tag + 1) * sizeof *x->per_tag);
        vn_sfx_token_t *t = &x->per_tag[x->n_per_tag++];
        memset(t, 0, sizeof *t);
        set_token(t, l->names[i], l->secrets[i]);
        added++;
    }
    return added;
}

/* ------------------------------------------------------------ fetching */

struct vn_sfx_fetcher {
    vn_sfx_t *x;
    pthread_mutex_t *enc_mu;
    char *name, *url, *token_header;
    double period_s;
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static vn_err_t get_page(vn_sfx_fetcher_t *f, size_t offset, vn_buf_t *body, char *err, size_t errcap)
{
    char url[2048];
    snprintf(url, sizeof url, "%s?limit=%d&name=&offset=%zu", f->url, VN_SFX_TOKEN_PAGE, offset);
    vn_http_get_opts_t o = {
        .url = url,
        .headers = {f->token_header, "Content-Type: application/json"},
        .timeout_s = f->period_s < 10 ? f->period_s : 10.0,
        .max_body = VN_SFX_TOKEN_MAX_BODY,
    };
    long status;
    vn_err_t e = vn_http_get(&o, body, &status, err, errcap);
    if (e == VN_ERR_PROTO) /* Go's wording */
        snprintf(err, errcap, "signalfx api returned unknown response code: %ld", status);
    return e;
}

static void fetch_all(vn_sfx_fetcher_t *f)
{
    vn_sfx_token_list_t l = {0};
    char err[256] = "";
    vn_err_t e = VN_OK;
    size_t pages = 0;
    for (size_t offset = 0;; offset += VN_SFX_TOKEN_PAGE) {
        if (++pages > MAX_PAGES) {
            snprintf(err, sizeof err, "more than %d pages", MAX_PAGES);
            e = VN_ERR_TOO_LARGE;
            break;
        }
        vn_buf_t body;
        e = get_page(f, offset, &body, err, sizeof err);
        size_t count = 0;
        if (e == VN_OK) {
            e = vn_sfx__parse_token_page(&l, vn_buf_ptr(&body), vn_buf_len(&body), &count, err, sizeof err);
            vn_buf_free(&body);
        }
        if (e != VN_OK || count == 0)
            break;
    }
    if (e != VN_OK) {
        char q[VN_LOG_QUOTE_CAP];
        VN_LOG(WARN, "event=signalfx_token_fetch_failed sink=%s err=%s msg=\"keeping the tokens we have\"", f->name,
               vn_log_quote_cstr(q, sizeof q, err));
        vn_sfx__token_list_free(&l);
        return;
    }
    pthread_mutex_lock(f->enc_mu);
    size_t added = vn_sfx__merge_tokens(f->x, &l);
    size_t total = f->x->n_per_tag;
    pthread_mutex_unlock(f->enc_mu);
    VN_LOG(DEBUG, "event=signalfx_tokens_fetched sink=%s fetched=%zu added=%zu per_tag_tokens=%zu", f->name, l.n,
           added, total);
    vn_sfx__token_list_free(&l);
}

static void *fetcher_main(void *arg)
{
    vn_sfx_fetcher_t *f = arg;
    double next = vn_clock_mono_s();
    for (;;) {
        next += f->period_s;
        struct timespec dl = vn_mono_cond_deadline(next);
        pthread_mutex_lock(&f->mu);
        while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu, &dl) != ETIMEDOUT)
            ;
        bool stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            return NULL;
        fetch_all(f);
        double now = vn_clock_mono_s();
        if (now > next)
            next = now; /* a slow fetch: ticks that passed are skipped, as Go's ticker drops them */
    }
}

vn_sfx_fetcher_t *vn_sfx_fetcher_start(vn_sfx_t *x, pthread_mutex_t *mu, const char *sink_name, const char *token_url,
                                       const char *default_token, double period_s)
{
    vn_sfx_fetcher_t *f = vn_xcalloc(1, sizeof *f);
    f->x = x;
    f->enc_mu = mu;
    f->name = vn_xstrdup(sink_name);
    f->url = vn_xstrdup(token_url);
    size_t n = strlen(default_token) + 16;
    f->token_header = vn_xmalloc(n);
    snprintf(f->token_header, n, "X-Sf-Token: %s", default_token);
    f->period_s = period_s;
    pthread_mutex_init(&f->mu, NULL);
    vn_mono_cond_init(&f->cv);
    if (pthread_create(&f->thr, NULL, fetcher_main, f) != 0) {
        VN_LOG(ERROR, "event=thread_create_failed what=signalfx_token_fetcher sink=%s", sink_name);
        abort();
    }
    return f;
}

void vn_sfx_fetcher_free(vn_sfx_fetcher_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thr, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f->name);
    free(f->url);
    free(f->token_header);
    free(f);
}
