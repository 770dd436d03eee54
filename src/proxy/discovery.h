/**
 * discovery.h - where the globals are (docs/behaviour.md W3.3, 0.9; veneur-c adds DNS and
 * Kubernetes to Go's Consul): a thread that polls the configured source for
 * forward_service at start and every discovery_interval, and hands each
 * successful answer to the router (which adds new addresses and removes
 * those no longer listed). A failed poll, or one that finds nothing, leaves
 * the destinations as they are (Go: "received no hosts" is an error).
 *
 * Sources (discovery.kind):
 *   consul      GET {consul_address}/v1/health/service/<name>?passing=1 ->
 *               "<Node.Address>:<Service.Port>" per entry (Go's choice of
 *               Node.Address; an IPv6 one is bracketed). X-Consul-Token from
 *               $CONSUL_HTTP_TOKEN.
 *   dns         SRV when the name starts with '_' or discovery.dns_port is
 *               0 ("<ip>:<srv port>" per target address), else A and AAAA
 *               ("<ip>:<dns_port>"); asked to discovery.dns_server, else
 *               SRV to the first nameserver of /etc/resolv.conf and A/AAAA
 *               through getaddrinfo. discovery.hosts_file, when set, is
 *               read first on every poll (format below) and wins for the
 *               names it lists.
 *   kubernetes  GET {kubernetes_api}/api/v1/namespaces/<ns>/endpoints/<name>
 *               with the service account's bearer token, TLS checked
 *               against its CA -> "<ip>:<port>" for each ready address of
 *               each subset, the port being the one named
 *               kubernetes_port_name (else the subset's only port).
 *
 * hosts_file: one entry per line, '#' starts a comment:
 *     <name> <address> [<address> ...]
 * where an address is an IP ("10.0.0.1", used with dns_port), "ip:port",
 * "[v6]:port", or "host:port" (host looked up in the same file, then DNS).
 *
 * Every list handed on is sorted and has no duplicates. Responses are
 * untrusted: bodies are capped at VN_DISC_MAX_BODY, JSON is read strictly
 * (json_read.h), and a malformed answer is an error, never a partial set.
 */
#ifndef VN_PROXY_DISCOVERY_H
#define VN_PROXY_DISCOVERY_H

#include <stddef.h>

#include "config/config.h"
#include "core/err.h"
#include "proxy/proxy_config.h"
#include "proxy/proxy_stats.h"
#include "proxy/router.h"

/** Largest discovery response body read (bytes). */
#define VN_DISC_MAX_BODY ((size_t)8 << 20)
/** Most addresses taken from one answer. */
#define VN_DISC_MAX_ADDRS 4096
/** Largest hosts_file read (bytes). */
#define VN_DISC_MAX_HOSTS_FILE ((size_t)1 << 20)

/**
 * One poll of cfg's source for cfg->forward_service (blocking, bounded by
 * cfg->disc_timeout_s per request). @return VN_OK with *out holding at
 * least one address (owned: free with vn_disc_list_free), or an error with
 * a one-line reason in err and *out empty.
 */
vn_err_t vn_discover(const vn_proxy_config_t *cfg, vn_strlist_t *out, char *err, size_t errcap);

/** Frees the list's strings and array; it is then empty. */
void vn_disc_list_free(vn_strlist_t *l);

/** Sorts byte-wise and removes duplicates in place. */
void vn_disc_list_normalize(vn_strlist_t *l);

/* ---- response parsers (pure functions; fuzzed by fuzz/fuzz_discovery.c) ---- */

/*
 * Both parsers append to *out (owned by the caller) and return VN_OK, or
 * VN_ERR_PARSE / VN_ERR_TOO_LARGE with a reason in err and *out as it was
 * before the call: a malformed answer never yields part of a set.
 */

/** Consul /v1/health/service answer -> "Node.Address:Service.Port" list (appended to *out). */
vn_err_t vn_disc_parse_consul(const char *body, size_t len, vn_strlist_t *out, char *err, size_t errcap);

/** Kubernetes Endpoints object -> "ip:port" for each ready address (appended to *out). */
vn_err_t vn_disc_parse_k8s_endpoints(const char *body, size_t len, const char *port_name, vn_strlist_t *out,
                                     char *err, size_t errcap);

/**
 * The address tokens a hosts_file text lists for name (case-insensitive, a
 * trailing dot ignored), appended to *out as written. @return true if the
 * name has at least one line.
 */
bool vn_disc_hosts_lookup(const char *text, size_t len, const char *name, vn_strlist_t *out);

/* ---- the polling thread ---- */

typedef struct vn_discovery vn_discovery_t;

/**
 * Starts polling (first poll at once). cfg, router and stats are borrowed
 * and must outlive the discovery. Returns owned (vn_discovery_stop).
 */
vn_discovery_t *vn_discovery_start(const vn_proxy_config_t *cfg, vn_router_t *router, vn_proxy_stats_t *stats);

/** Stops the thread (a poll in progress finishes within its timeout) and frees. NULL ok. */
void vn_discovery_stop(vn_discovery_t *d);

#endif
