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
