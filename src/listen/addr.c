/* addr.c - listen address parsing and socket binding. */
#include "listen/addr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static vn_err_t split_hostport(const char *hp, vn_addr_t *out, const char *url, char *errbuf, size_t errcap)
{
    const char *colon;
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb || rb[1] != ':')
            goto bad;
        size_t hl = (size_t)(rb - hp - 1);
        if (hl >= sizeof out->host)
            goto bad;
        memcpy(out->host, hp + 1, hl);
        out->host[hl] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            goto bad;
        size_t hl = (size_t)(colon - hp);
        if (hl >= sizeof out->host)
            goto bad;
        memcpy(out->host, hp, hl);
        out->host[hl] = '\0';
    }
    size_t pl = strlen(colon + 1);
    if (pl == 0 || pl >= sizeof out->port || strspn(colon + 1, "0123456789") != pl)
        goto bad;
    memcpy(out->port, colon + 1, pl + 1);
    return VN_OK;
bad:
    snprintf(errbuf, errcap, "invalid host:port in address \"%s\"", url);
    return VN_ERR_CONFIG;
}

vn_err_t vn_addr_parse(const char *url, vn_addr_t *out, char *errbuf, size_t errcap)
{
    memset(out, 0, sizeof *out);
    const char *sep = strstr(url, "://");
    const char *rest;
    char scheme[16];
    if (sep) {
        size_t sl = (size_t)(sep - url);
        if (sl >= sizeof scheme)
            sl = sizeof scheme - 1;
        memcpy(scheme, url, sl);
        scheme[sl] = '\0';
        rest = sep + 3;
    } else {
        /* unixgram:@abstract form */
        const char *c = strchr(url, ':');
        size_t sl = c ? (size_t)(c - url) : strlen(url);
        if (sl >= sizeof scheme)
            sl = sizeof scheme - 1;
        memcpy(scheme, url, sl);
        scheme[sl] = '\0';
        rest = c ? c + 1 : "";
    }
    struct {
        const char *name;
        vn_addr_kind_t kind;
        int family;
    } schemes[] = {
        {"udp", VN_ADDR_UDP, AF_UNSPEC},   {"udp4", VN_ADDR_UDP, AF_INET},   {"udp6", VN_ADDR_UDP, AF_INET6},
        {"tcp", VN_ADDR_TCP, AF_UNSPEC},   {"tcp4", VN_ADDR_TCP, AF_INET},   {"tcp6", VN_ADDR_TCP, AF_INET6},
        {"unixgram", VN_ADDR_UNIXGRAM, 0}, {"unix", VN_ADDR_UNIX, 0},
    };
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        if (strcmp(scheme, schemes[i].name) != 0)
            continue;
        out->kind = schemes[i].kind;
        out->family = schemes[i].family;
        if (out->kind == VN_ADDR_UNIX || out->kind == VN_ADDR_UNIXGRAM) {
            size_t pl = strlen(rest);
            if (pl == 0 || pl >= sizeof out->path) {
                snprintf(errbuf, errcap, "invalid unix socket path in address \"%s\"", url);
                return VN_ERR_CONFIG;
            }
            memcpy(out->path, rest, pl + 1);
            return VN_OK;
        }
        return split_hostport(rest, out, url, errbuf, errcap);
    }
    snprintf(errbuf, errcap, "unknown address family \"%s\" on address \"%s\"", scheme, url);
    return VN_ERR_CONFIG;
}

static int bind_unix(const vn_addr_t *a, int type, char *errbuf, size_t errcap)
{
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, errcap, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    size_t pl = strlen(a->path);
    memcpy(sun.sun_path, a->path, pl);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl);
    if (a->path[0] == '@')
        sun.sun_path[0] = '\0'; /* abstract namespace */
    else
        unlink(a->path); /* a stale socket file from a previous run */
    if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
        snprintf(errbuf, errcap, "bind %s: %s", a->path, strerror(errno));
        close(fd);
        return -1;
    }
    if (a->path[0] != '@')
        chmod(a->path, 0666); /* any local client may write, as Go Veneur */
    if (type == SOCK_STREAM && listen(fd, 128) < 0) {
        snprintf(errbuf, errcap, "listen %s: %s", a->path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int vn_addr_bind(const vn_addr_t *a, bool reuseport, int rcvbuf, char *errbuf, size_t errcap)
{
    if (a->kind == VN_ADDR_UNIXGRAM || a->kind == VN_ADDR_UNIX) {
        int fd = bind_unix(a, a->kind == VN_ADDR_UNIX ? SOCK_STREAM : SOCK_DGRAM, errbuf, errcap);
        if (fd >= 0 && rcvbuf > 0 && a->kind == VN_ADDR_UNIXGRAM)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        return fd;
    }
    int type = a->kind == VN_ADDR_UDP ? SOCK_DGRAM : SOCK_STREAM;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = a->family;
    hints.ai_socktype = type;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(a->host[0] ? a->host : NULL, a->port, &hints, &res);
    if (gai != 0) {
        snprintf(errbuf, errcap, "resolve %s:%s: %s", a->host, a->port, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
        if (reuseport)
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#endif
        if (rcvbuf > 0 && type == SOCK_DGRAM) {
            /* SO_RCVBUFFORCE passes rmem_max when we are root; fall back to the capped one. */
            if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && (type == SOCK_DGRAM || listen(fd, 512) == 0))
            break;
        snprintf(errbuf, errcap, "bind %s:%s: %s", a->host, a->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int vn_addr_bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}
