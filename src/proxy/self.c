/*
 * self.c - recognising our own listener among destinations (see self.h).
 */
#include "proxy/self.h"
#include "core/hostport.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


void vn_self_init(vn_self_t *s)
{
    memset(s, 0, sizeof *s);
    uint8_t r[VN_PROXY_ID_LEN / 2];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        /* no entropy yet (early boot): distinct enough between processes, which is all that matters */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        uint64_t x = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 30) ^ ((uint64_t)getpid() << 17);
        for (size_t i = 0; i < sizeof r; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            r[i] = (uint8_t)x;
        }
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(s->id + 2 * i, 3, "%02x", r[i]);
}

void vn_self_set_listen(vn_self_t *s, const char *bind_host, int port)
{
    snprintf(s->bind_host, sizeof s->bind_host, "%s", bind_host ? bind_host : "");
    atomic_store(&s->port, port);
}

static bool is_wildcard(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (a->sa_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
    return false;
}

static bool is_loopback(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
    return false;
}

/* Same address, ports ignored; an IPv4-mapped IPv6 address equals its IPv4 form. */
static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    struct in_addr a4 = {0}, b4 = {0};
    bool a_is4 = false, b_is4 = false;
    if (a->sa_family == AF_INET) {
        a4 = ((const struct sockaddr_in *)a)->sin_addr;
        a_is4 = true;
    } else if (a->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)a)->sin6_addr)) {
        memcpy(&a4, ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr + 12, 4);
        a_is4 = true;
    }
    if (b->sa_family == AF_INET) {
        b4 = ((const struct sockaddr_in *)b)->sin_addr;
        b_is4 = true;
    } else if (b->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)b)->sin6_addr)) {
        memcpy(&b4, ((const struct sockaddr_in6 *)b)->sin6_addr.s6_addr + 12, 4);
        b_is4 = true;
    }
    if (a_is4 || b_is4)
        return a_is4 && b_is4 && a4.s_addr == b4.s_addr;
    if (a->sa_family == AF_INET6 && b->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return false;
}

static bool local_interface(const struct sockaddr *a)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return false;
    bool found = false;
    for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
        found = i->ifa_addr && same_ip(i->ifa_addr, a);
    freeifaddrs(ifs);
    return found;
}

bool vn_self_is_addr(const vn_self_t *s, const char *hostport)
{
    int port = atomic_load(&((vn_self_t *)s)->port);
    char host[256], ps[16];
    if (port <= 0 || vn_hostport_split(hostport, false, host, sizeof host, ps, sizeof ps) != VN_OK || atoi(ps) != port)
        return false;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *dst = NULL, *bind = NULL;
    if (getaddrinfo(host, ps, &hints, &dst) != 0)
        return false;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    bool wildcard = !s->bind_host[0] || getaddrinfo(s->bind_host, NULL, &hints, &bind) != 0;
    for (struct addrinfo *b = bind; b && !wildcard; b = b->ai_next)
        wildcard = is_wildcard(b->ai_addr);
    bool self = false;
    for (struct addrinfo *d = dst; d && !self; d = d->ai_next) {
        if (wildcard)
            self = is_loopback(d->ai_addr) || is_wildcard(d->ai_addr) || local_interface(d->ai_addr);
        else
            for (struct addrinfo *b = bind; b && !self; b = b->ai_next)
                self = same_ip(d->ai_addr, b->ai_addr);
    }
    freeaddrinfo(dst);
    if (bind)
        freeaddrinfo(bind);
    return self;
}
