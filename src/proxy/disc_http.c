/*
 * disc_http.c - the HTTP discovery sources (see discovery.h): Consul's
 * health API and the Kubernetes Endpoints API, fetched with libcurl and
 * read with the strict JSON reader.
 *
 * Consul answer (one entry per passing instance; other fields ignored):
 *   [{"Node": {"Address": "10.1.10.12", ...}, "Service": {"Port": 8000, ...}, ...}, ...]
 * Kubernetes Endpoints (subsets group addresses that share a port set):
 *   {"kind": "Endpoints", "subsets": [{"addresses": [{"ip": "10.0.0.7"}],
 *                                      "notReadyAddresses": [...],
 *                                      "ports": [{"name": "grpc", "port": 8128, "protocol": "TCP"}]}]}
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hostport.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "proxy/disc_internal.h"
#include "sinks/http_get.h"
#include "core/json_read.h"

#define MAX_JSON_NODES 1000000

static void push(vn_strlist_t *l, const char *s)
{
    l->v = vn_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = vn_xstrdup(s);
}

/* A malformed answer yields nothing: what this parse appended is taken back. */
static void drop_from(vn_strlist_t *l, size_t n0)
{
    while (l->n > n0)
        free(l->v[--l->n]);
}

/* A host as an address string may carry: printable, no spaces, no '/', not too long. */
static bool sane_host(const char *h, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '[' || c == ']' || c == '@')
            return false;
    }
    return strlen(h) == len; /* no embedded NUL from a \u0000 escape */
}

static bool is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* Parses a discovery response into d (free with parse_end) and returns its root;
 * NULL when it is not JSON, with err saying who answered (what) and why. */
static const vn_jread_node_t *parse_doc(const char *what, const char *body, size_t len, vn_jread_doc_t *d,
                                        char *err, size_t errcap)
{
    char jerr[160];
    if (vn_jread_parse(body, len, MAX_JSON_NODES, d, jerr, sizeof jerr) != VN_OK) {
        snprintf(err, errcap, "%s: invalid response: %s", what, jerr);
        return NULL;
    }
    return vn_jread_root(d);
}

/* Frees d; a failed parse adds nothing: what it added after n0 is taken back. */
static vn_err_t parse_end(vn_jread_doc_t *d, vn_strlist_t *out, size_t n0, vn_err_t e)
{
    vn_jread_free(d);
    if (e != VN_OK)
        drop_from(out, n0);
    return e;
}

/* Appends host:port, or fails at VN_DISC_MAX_ADDRS with "<what>: more than N <items>". */
static vn_err_t add_addr(vn_strlist_t *out, const char *what, const char *items, const char *host, int64_t port,
                         char *err, size_t errcap)
{
    if (out->n >= VN_DISC_MAX_ADDRS) {
        snprintf(err, errcap, "%s: more than %d %s", what, VN_DISC_MAX_ADDRS, items);
        return VN_ERR_TOO_LARGE;
    }
    char hp[300];
    vn_hostport_join(host, (unsigned)port, hp, sizeof hp);
    push(out, hp);
    return VN_OK;
}

vn_err_t vn_disc_parse_consul(const char *body, size_t len, vn_strlist_t *out, char *err, size_t errcap)
{
    size_t n0 = out->n;
    vn_jread_doc_t d;
    const vn_jread_node_t *root = parse_doc("consul", body, len, &d, err, errcap);
    if (!root)
        return VN_ERR_PARSE;
    vn_err_t e = VN_OK;
    if (root->type != VN_JREAD_ARRAY) {
        snprintf(err, errcap, "consul: invalid response: expected an array of service entries");
        e = VN_ERR_PARSE;
    }
    size_t i = 0;
    for (const vn_jread_node_t *en = vn_jread_child(&d, root, NULL); en && e == VN_OK;
         en = vn_jread_child(&d, root, en), i++) {
        size_t alen = 0;
        const char *addr = vn_jread_str(&d, vn_jread_get(&d, vn_jread_get(&d, en, "Node"), "Address"), &alen);
        int64_t port;
        if (!addr || !sane_host(addr, alen)) {
            snprintf(err, errcap, "consul: entry %zu: Node.Address missing or not a host", i);
            e = VN_ERR_PARSE;
        } else if (!vn_jread_int(&d, vn_jread_get(&d, vn_jread_get(&d, en, "Service"), "Port"), &port) ||
                   port < 1 || port > 65535) {
            snprintf(err, errcap, "consul: entry %zu: Service.Port missing or not a port", i);
            e = VN_ERR_PARSE;
        } else {
            e = add_addr(out, "consul", "entries", addr, port, err, errcap);
        }
    }
    return parse_end(&d, out, n0, e);
}

/* The port of a subset: the one named name, else the only one. 0 when none fits. */
static int64_t subset_port(const vn_jread_doc_t *d, const vn_jread_node_t *ports, const char *name)
{
    int64_t only = 0, named = 0;
    size_t n = 0;
    for (const vn_jread_node_t *p = vn_jread_child(d, ports, NULL); p; p = vn_jread_child(d, ports, p), n++) {
        int64_t v;
        if (!vn_jread_int(d, vn_jread_get(d, p, "port"), &v) || v < 1 || v > 65535)
            continue;
        const char *proto = vn_jread_str(d, vn_jread_get(d, p, "protocol"), NULL);
        if (proto && strcmp(proto, "TCP") != 0)
            continue;
        const char *pn = vn_jread_str(d, vn_jread_get(d, p, "name"), NULL);
        if (pn && strcmp(pn, name) == 0)
            named = v;
        only = v;
    }
    return named ? named : (n == 1 ? only : 0);
}

vn_err_t vn_disc_parse_k8s_endpoints(const char *body, size_t len, const char *port_name, vn_strlist_t *out,
                                     char *err, size_t errcap)
{
    size_t n0 = out->n;
    vn_jread_doc_t d;
    const vn_jread_node_t *root = parse_doc("kubernetes", body, len, &d, err, errcap);
    if (!root)
        return VN_ERR_PARSE;
    vn_err_t e = VN_OK;
    const char *kind = vn_jread_str(&d, vn_jread_get(&d, root, "kind"), NULL);
    const vn_jread_node_t *subsets = vn_jread_get(&d, root, "subsets");
    if (root->type != VN_JREAD_OBJECT || (kind && strcmp(kind, "Endpoints") != 0)) {
        snprintf(err, errcap, "kubernetes: invalid response: expected an Endpoints object");
        e = VN_ERR_PARSE;
    } else if (subsets && subsets->type != VN_JREAD_ARRAY && subsets->type != VN_JREAD_NULL) {
        snprintf(err, errcap, "kubernetes: invalid response: subsets is not a list");
        e = VN_ERR_PARSE;
    }
    size_t si = 0;
    for (const vn_jread_node_t *s = vn_jread_child(&d, subsets, NULL); s && e == VN_OK;
         s = vn_jread_child(&d, subsets, s), si++) {
        const vn_jread_node_t *addrs = vn_jread_get(&d, s, "addresses");
        if (!addrs || addrs->type == VN_JREAD_NULL)
            continue; /* only not-ready addresses in this subset */
        int64_t port = subset_port(&d, vn_jread_get(&d, s, "ports"), port_name);
        if (addrs->type != VN_JREAD_ARRAY || port == 0) {
            VN_LOG(DEBUG, "event=proxy_discovery_subset_skipped subset=%zu reason=\"no usable port\" port_name=%s",
                   si, VN_LOG_Q(port_name));
            continue;
        }
        for (const vn_jread_node_t *a = vn_jread_child(&d, addrs, NULL); a && e == VN_OK;
             a = vn_jread_child(&d, addrs, a)) {
            size_t il = 0;
            const char *ip = vn_jread_str(&d, vn_jread_get(&d, a, "ip"), &il);
            if (!ip || !sane_host(ip, il) || !is_ip(ip)) {
                snprintf(err, errcap, "kubernetes: subset %zu: an address has no valid ip", si);
                e = VN_ERR_PARSE;
            } else {
                e = add_addr(out, "kubernetes", "addresses", ip, port, err, errcap);
            }
        }
    }
    return parse_end(&d, out, n0, e);
}

/* ---- fetching ---- */

/* Reads a small file (token, namespace) whole, trailing whitespace trimmed; NULL on error. */
static char *read_small(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = vn_xmalloc(65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    return buf;
}

/* GET url into body; HTTP status other than 200 is an error. */
static vn_err_t fetch(const vn_proxy_config_t *cfg, const char *url, const char *auth_header, const char *ca_file,
                      vn_buf_t *body, char *err, size_t errcap)
{
    vn_http_get_opts_t o = {
        .url = url,
        .headers = {"Accept: application/json", auth_header},
        .timeout_s = cfg->disc_timeout_s > 0 ? cfg->disc_timeout_s : 5.0,
        .max_body = VN_DISC_MAX_BODY,
        .ca_file = ca_file,
        .user_agent = "veneur-proxy-c",
    };
    char why[256];
    vn_err_t e = vn_http_get(&o, body, NULL, why, sizeof why);
    if (e != VN_OK)
        snprintf(err, errcap, "GET %s: %s", url, why);
    return e;
}

/* Appends name to url, percent-encoding anything outside RFC 3986's unreserved set. */
static void add_escaped(vn_buf_t *u, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~')
            vn_buf_add_byte(u, *p);
        else
            vn_buf_printf(u, "%%%02X", *p);
    }
}

static void add_base(vn_buf_t *u, const char *base)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (!strstr(base, "://"))
        vn_buf_add_str(u, "http://");
    vn_buf_add(u, base, n);
}

vn_err_t vn_disc__consul(const vn_proxy_config_t *cfg, vn_strlist_t *out, char *err, size_t errcap)
{
    vn_buf_t url = VN_BUF_INIT(8192), body;
    add_base(&url, cfg->consul_address);
    vn_buf_add_str(&url, "/v1/health/service/");
    add_escaped(&url, cfg->forward_service);
    vn_buf_add_str(&url, "?passing=1");
    char auth[600];
    bool tok = cfg->consul_token && cfg->consul_token[0] && strlen(cfg->consul_token) < 500;
    if (tok)
        snprintf(auth, sizeof auth, "X-Consul-Token: %s", cfg->consul_token);
    vn_err_t e = fetch(cfg, vn_buf_ptr(&url), tok ? auth : NULL, NULL, &body, err, errcap);
    vn_buf_free(&url);
    if (e != VN_OK)
        return e;
    e = vn_disc_parse_consul(vn_buf_ptr(&body), vn_buf_len(&body), out, err, errcap);
    vn_buf_free(&body);
    if (e == VN_OK && out->n == 0) {
        snprintf(err, errcap, "received no hosts from Consul");
        e = VN_ERR_NOTFOUND;
    }
    return e;
}

vn_err_t vn_disc__kubernetes(const vn_proxy_config_t *cfg, vn_strlist_t *out, char *err, size_t errcap)
{
    char *ns = cfg->k8s_namespace[0] ? vn_xstrdup(cfg->k8s_namespace) : read_small(cfg->k8s_namespace_file);
    if (!ns || !ns[0]) {
        free(ns);
        ns = vn_xstrdup("default");
    }
    char *token = read_small(cfg->k8s_token_file); /* re-read each poll: tokens are rotated */
    vn_buf_t url = VN_BUF_INIT(8192), auth = VN_BUF_INIT(70000), body;
    add_base(&url, cfg->k8s_api);
    vn_buf_add_str(&url, "/api/v1/namespaces/");
    add_escaped(&url, ns);
    vn_buf_add_str(&url, "/endpoints/");
    add_escaped(&url, cfg->forward_service);
    if (token && token[0])
        vn_buf_printf(&auth, "Authorization: Bearer %s", token);
    free(token);
    free(ns);
    vn_err_t e = fetch(cfg, vn_buf_ptr(&url), vn_buf_len(&auth) ? vn_buf_ptr(&auth) : NULL, cfg->k8s_ca_file, &body,
                       err, errcap);
    vn_buf_free(&url);
    vn_buf_free(&auth);
    if (e != VN_OK)
        return e;
    e = vn_disc_parse_k8s_endpoints(vn_buf_ptr(&body), vn_buf_len(&body), cfg->k8s_port_name, out, err, errcap);
    vn_buf_free(&body);
    if (e == VN_OK && out->n == 0) {
        snprintf(err, errcap, "kubernetes: no ready endpoints for service %s", cfg->forward_service);
        e = VN_ERR_NOTFOUND;
    }
    return e;
}
