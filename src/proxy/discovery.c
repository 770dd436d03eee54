/*
 * discovery.c - the polling thread, the dispatch on discovery.kind, and the
 * DNS source with its hosts_file override (see discovery.h). The HTTP
 * sources (Consul, Kubernetes) are in disc_http.c.
 *
 * DNS resolution of one discovery name:
 *
 *   hosts_file lists the name?  -> its addresses (host:port tokens resolved)
 *   name starts with '_' or dns_port is 0
 *                               -> SRV: each target's A/AAAA (hosts_file,
 *                                  else asked, like Go's net.LookupSRV
 *                                  and dial: glue is not read) + SRV port
 *   otherwise                   -> A and AAAA + dns_port
 */
#include "proxy/discovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hostport.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "proxy/disc_internal.h"
#include "proxy/dns.h"

/* ---- lists ---- */

static void push(vn_strlist_t *l, const char *s)
{
    l->v = vn_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = vn_xstrdup(s);
}

void vn_disc_list_free(vn_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void vn_disc_list_normalize(vn_strlist_t *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    size_t w = 1;
    for (size_t i = 1; i < l->n; i++) {
        if (strcmp(l->v[i], l->v[w - 1]) == 0)
            free(l->v[i]);
        else
            l->v[w++] = l->v[i];
    }
    l->n = w;
}

/* ---- hosts_file ---- */

static bool name_eq(const char *a, size_t al, const char *b)
{
    size_t bl = strlen(b);
    if (al && a[al - 1] == '.')
        al--;
    if (bl && b[bl - 1] == '.')
        bl--;
    return al == bl && strncasecmp(a, b, al) == 0;
}

bool vn_disc_hosts_lookup(const char *text, size_t len, const char *name, vn_strlist_t *out)
{
    bool found = false;
    size_t pos = 0;
    while (pos < len) {
        size_t eol = pos;
        while (eol < len && text[eol] != '\n')
            eol++;
        size_t end = pos;
        while (end < eol && text[end] != '#')
            end++;
        /* tokens of text[pos..end) */
        size_t p = pos, tok = 0;
        bool match = false;
        while (p < end) {
            while (p < end && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r'))
                p++;
            size_t s = p;
            while (p < end && text[p] != ' ' && text[p] != '\t' && text[p] != '\r')
                p++;
            if (p == s)
                break;
            if (tok == 0) {
                match = name_eq(text + s, p - s, name);
            } else if (match && out->n < VN_DISC_MAX_ADDRS && p - s < 300) {
                char *t = vn_xstrndup(text + s, p - s);
                push(out, t);
                free(t);
                found = true;
            }
            tok++;
        }
        pos = eol + 1;
    }
    return found;
}

static char *read_file(const char *path, size_t max, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errcap, "hosts_file %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = vn_xmalloc(max + 1);
    *len = fread(buf, 1, max + 1, f);
    fclose(f);
    if (*len > max) {
        snprintf(err, errcap, "hosts_file %s is larger than %zu bytes", path, max);
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

/* ---- DNS ---- */

typedef struct dns_ctx {
    const vn_proxy_config_t *cfg;
    const char *hosts; /* hosts_file text or NULL */
    size_t hosts_len;
    double deadline;
    char *err;
    size_t errcap;
} dns_ctx_t;

static bool is_ip(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* IPs of host (A then AAAA): hosts_file, then the DNS server, then getaddrinfo. Appends to ips. */
static vn_err_t resolve_host(dns_ctx_t *c, const char *host, vn_strlist_t *ips)
{
    if (is_ip(host)) {
        push(ips, host);
        return VN_OK;
    }
    if (c->hosts) {
        vn_strlist_t t = {0};
        vn_disc_hosts_lookup(c->hosts, c->hosts_len, host, &t);
        for (size_t i = 0; i < t.n; i++)
            if (is_ip(t.v[i]))
                push(ips, t.v[i]);
        size_t n = t.n;
        vn_disc_list_free(&t);
        if (n)
            return ips->n ? VN_OK : VN_ERR_NOTFOUND;
    }
    if (c->cfg->dns_server[0]) {
        static const uint16_t types[] = {VN_DNS_A, VN_DNS_AAAA};
        vn_err_t last = VN_OK;
        for (int t = 0; t < 2; t++) {
            vn_dns_answer_t a;
            last = vn_dns_query(c->cfg->dns_server, host, types[t], c->deadline, &a, c->err, c->errcap);
            if (last != VN_OK)
                continue;
            for (size_t i = 0; i < a.n; i++) {
                char ip[64];
                vn_dns_format_addr(&a.rr[i], ip, sizeof ip);
                push(ips, ip);
            }
            vn_dns_answer_free(&a);
        }
        return ips->n ? VN_OK : (last != VN_OK ? last : VN_ERR_NOTFOUND);
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        snprintf(c->err, c->errcap, "resolve %s: %s", host, gai_strerror(gai));
        return VN_ERR_NOTFOUND;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char ip[64];
        const void *src = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                                    : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        if (inet_ntop(ai->ai_family, src, ip, sizeof ip))
            push(ips, ip);
    }
    freeaddrinfo(res);
    return ips->n ? VN_OK : VN_ERR_NOTFOUND;
}

static void add_all(vn_strlist_t *out, const vn_strlist_t *ips, unsigned port)
{
    for (size_t i = 0; i < ips->n && out->n < VN_DISC_MAX_ADDRS; i++) {
        char hp[300];
        vn_hostport_join(ips->v[i], port, hp, sizeof hp);
        push(out, hp);
    }
}

/* hosts_file tokens -> addresses. */
static vn_err_t from_hosts_tokens(dns_ctx_t *c, const vn_strlist_t *toks, vn_strlist_t *out)
{
    for (size_t i = 0; i < toks->n; i++) {
        const char *t = toks->v[i];
        char host[256], port[16];
        vn_strlist_t ips = {0};
        unsigned p = (unsigned)c->cfg->dns_port;
        /* a bare IPv6 address has colons but is no host:port */
        bool hp = !is_ip(t) && vn_hostport_split(t, false, host, sizeof host, port, sizeof port) == VN_OK;
        if (hp) {
            char *end;
            long v = strtol(port, &end, 10);
            if (*end || v < 1 || v > 65535) {
                snprintf(c->err, c->errcap, "hosts_file: bad port in \"%.200s\"", t);
                return VN_ERR_PARSE;
            }
            p = (unsigned)v;
        } else {
            snprintf(host, sizeof host, "%s", t);
            if (p == 0) {
                snprintf(c->err, c->errcap, "hosts_file: \"%.200s\" has no port and discovery.dns_port is 0", t);
                return VN_ERR_PARSE;
            }
        }
        vn_err_t e = resolve_host(c, host, &ips);
        if (e == VN_OK)
            add_all(out, &ips, p);
        vn_disc_list_free(&ips);
        if (e != VN_OK)
            return e;
    }
    return VN_OK;
}

/* SRV targets, each resolved on its own (hosts_file, the DNS server, getaddrinfo): glue is not read. */
static vn_err_t srv_lookup(dns_ctx_t *c, const char *name, vn_strlist_t *out)
{
    vn_dns_answer_t a;
    vn_err_t e = vn_dns_query(c->cfg->dns_server, name, VN_DNS_SRV, c->deadline, &a, c->err, c->errcap);
    if (e != VN_OK)
        return e;
    for (size_t i = 0; i < a.n && e == VN_OK; i++) {
        const vn_dns_rr_t *r = &a.rr[i];
        if (r->port == 0 || r->target[0] == '\0')
            continue; /* target "." means: no service here */
        vn_strlist_t ips = {0};
        e = resolve_host(c, r->target, &ips);
        if (e == VN_OK)
            add_all(out, &ips, r->port);
        vn_disc_list_free(&ips);
    }
    vn_dns_answer_free(&a);
    return e;
}

static vn_err_t dns_discover(const vn_proxy_config_t *cfg, vn_strlist_t *out, char *err, size_t errcap)
{
    dns_ctx_t c = {.cfg = cfg, .deadline = vn_clock_mono_s() + cfg->disc_timeout_s, .err = err, .errcap = errcap};
    char *hosts = NULL;
    if (cfg->hosts_file[0]) {
        hosts = read_file(cfg->hosts_file, VN_DISC_MAX_HOSTS_FILE, &c.hosts_len, err, errcap);
        if (!hosts)
            return VN_ERR_IO;
        c.hosts = hosts;
    }
    const char *name = cfg->forward_service;
    vn_err_t e;
    vn_strlist_t toks = {0};
    if (c.hosts && vn_disc_hosts_lookup(c.hosts, c.hosts_len, name, &toks)) {
        e = from_hosts_tokens(&c, &toks, out);
    } else if (name[0] == '_' || cfg->dns_port == 0) {
        e = srv_lookup(&c, name, out);
    } else {
        vn_strlist_t ips = {0};
        e = resolve_host(&c, name, &ips);
        if (e == VN_OK)
            add_all(out, &ips, (unsigned)cfg->dns_port);
        vn_disc_list_free(&ips);
    }
    vn_disc_list_free(&toks);
    free(hosts);
    if (e == VN_OK && out->n == 0) {
        snprintf(err, errcap, "dns: no addresses for %s", name);
        e = VN_ERR_NOTFOUND;
    }
    return e;
}

vn_err_t vn_discover(const vn_proxy_config_t *cfg, vn_strlist_t *out, char *err, size_t errcap)
{
    out->v = NULL;
    out->n = 0;
    err[0] = '\0';
    vn_err_t e;
    switch (cfg->disc_kind) {
    case VN_DISC_CONSUL: e = vn_disc__consul(cfg, out, err, errcap); break;
    case VN_DISC_DNS: e = dns_discover(cfg, out, err, errcap); break;
    case VN_DISC_KUBERNETES: e = vn_disc__kubernetes(cfg, out, err, errcap); break;
    default: snprintf(err, errcap, "no discovery configured"); return VN_ERR_CONFIG;
    }
    if (e != VN_OK) {
        if (!err[0])
            snprintf(err, errcap, "%s", vn_strerror(e));
        vn_disc_list_free(out);
        return e;
    }
    vn_disc_list_normalize(out);
    return VN_OK;
}

/* ---- the thread ---- */

struct vn_discovery {
    const vn_proxy_config_t *cfg;
    vn_router_t *router;
    vn_proxy_stats_t *stats;
    pthread_t thread;
    int efd;
    _Atomic bool stop;
};

static void poll_once(vn_discovery_t *d)
{
    char err[512];
    vn_strlist_t list;
    double t0 = vn_clock_mono_s();
    vn_err_t e = vn_discover(d->cfg, &list, err, sizeof err);
    vn_stats_add(&d->stats->discovery_duration_ns_total, (uint64_t)((vn_clock_mono_s() - t0) * 1e9));
    if (e != VN_OK) {
        vn_stats_add(&d->stats->discovery_fail, 1);
        VN_LOG(WARN, "event=proxy_discovery_failed kind=%s service=%s reason=%s",
               vn_disc_kind_name(d->cfg->disc_kind), VN_LOG_Q(d->cfg->forward_service), VN_LOG_Q(err));
        return;
    }
    vn_stats_add(&d->stats->discovery_success, 1);
    atomic_store(&d->stats->discovery_destinations, list.n);
    VN_LOG(DEBUG, "event=proxy_discovered kind=%s n=%zu", vn_disc_kind_name(d->cfg->disc_kind), list.n);
    vn_router_set_discovered(d->router, (const char *const *)list.v, list.n);
    vn_disc_list_free(&list);
}

static void *disc_main(void *arg)
{
    vn_discovery_t *d = arg;
    while (!atomic_load(&d->stop)) {
        double next = vn_clock_mono_s() + d->cfg->discovery_interval_s;
        poll_once(d);
        while (!atomic_load(&d->stop)) {
            double left = next - vn_clock_mono_s();
            if (left <= 0)
                break;
            struct pollfd p = {.fd = d->efd, .events = POLLIN};
            (void)poll(&p, 1, (int)(left * 1000) + 1);
        }
    }
    return NULL;
}

vn_discovery_t *vn_discovery_start(const vn_proxy_config_t *cfg, vn_router_t *router, vn_proxy_stats_t *stats)
{
    vn_discovery_t *d = vn_xcalloc(1, sizeof *d);
    d->cfg = cfg;
    d->router = router;
    d->stats = stats;
    d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->efd < 0 || pthread_create(&d->thread, NULL, disc_main, d) != 0) {
        VN_LOG_ERRNO(ERROR, "event=thread_create_failed what=proxy_discovery");
        abort();
    }
    return d;
}

void vn_discovery_stop(vn_discovery_t *d)
{
    if (!d)
        return;
    atomic_store(&d->stop, true);
    uint64_t one = 1;
    ssize_t w = write(d->efd, &one, sizeof one);
    (void)w;
    pthread_join(d->thread, NULL);
    close(d->efd);
    free(d);
}
