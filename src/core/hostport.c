/* hostport.c - host:port splitting and joining (see hostport.h). */
#include "core/hostport.h"

#include <stdio.h>
#include <string.h>

vn_err_t vn_hostport_split(const char *addr, bool allow_empty_host, char *host, size_t hostcap, char *port,
                           size_t portcap)
{
    const char *colon, *hs = addr, *he;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return VN_ERR_CONFIG;
        hs = addr + 1;
        he = rb;
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return VN_ERR_CONFIG;
        he = colon;
    }
    size_t hl = (size_t)(he - hs), pl = strlen(colon + 1);
    if ((hl == 0 && !allow_empty_host) || hl >= hostcap || pl == 0 || pl >= portcap)
        return VN_ERR_CONFIG;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return VN_OK;
}

int vn_hostport_port_num(const char *port)
{
    size_t pl = strlen(port);
    if (pl == 0 || strspn(port, "0123456789") != pl)
        return -1;
    /* stop early: getaddrinfo would take "65537" modulo 2^16 */
    unsigned long n = 0;
    for (const char *d = port; *d; d++)
        if ((n = n * 10 + (unsigned long)(*d - '0')) > 65535)
            return -2;
    return (int)n;
}

void vn_hostport_join(const char *host, unsigned port, char *out, size_t cap)
{
    bool v6 = strchr(host, ':') != NULL;
    snprintf(out, cap, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* Go's exact rules and messages (net.SplitHostPort, then net.Listen's port check). */
vn_err_t vn_hostport_split_go(const char *addr, char *host, size_t hcap, char *port, size_t pcap, char *errbuf,
                             size_t errcap)
{
    const char *why = NULL;
    const char *hp = NULL, *he = NULL, *colon = NULL;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (rb == NULL) {
            why = "missing ']' in address";
        } else if (rb[1] != ':') {
            why = rb[1] == '\0' ? "missing port in address" : "unexpected ']' in address";
        } else {
            hp = addr + 1;
            he = rb;
            colon = rb + 1;
            if (memchr(hp, '[', (size_t)(he - hp)) != NULL)
                why = "unexpected '[' in address";
        }
    } else {
        colon = strrchr(addr, ':');
        hp = addr;
        he = colon;
        if (colon == NULL)
            why = "missing port in address";
        else if (memchr(addr, ':', (size_t)(colon - addr)) != NULL)
            why = "too many colons in address";
        else if (memchr(addr, '[', (size_t)(colon - addr)) != NULL || strchr(colon, ']') != NULL)
            why = "unexpected '[' or ']' in address";
    }
    if (why == NULL) {
        size_t hl = (size_t)(he - hp), pl = strlen(colon + 1);
        if (hl >= hcap || pl >= pcap) {
            why = "address too long";
        } else {
            memcpy(host, hp, hl);
            host[hl] = '\0';
            memcpy(port, colon + 1, pl + 1);
            if (pl == 0)
                snprintf(port, pcap, "0");
        }
    }
    if (why != NULL) {
        snprintf(errbuf, errcap, "address \"%s\": %s", addr, why);
        return VN_ERR_CONFIG;
    }
    bool numeric = true;
    unsigned long pn = 0;
    for (const char *p = port; *p != '\0' && numeric; p++) {
        numeric = *p >= '0' && *p <= '9';
        if (numeric && (pn = pn * 10 + (unsigned long)(*p - '0')) > 65535) {
            snprintf(errbuf, errcap, "address \"%s\": invalid port", addr);
            return VN_ERR_CONFIG;
        }
    }
    return VN_OK;
}
