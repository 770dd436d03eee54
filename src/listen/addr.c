/* addr.c - listen address parsing and socket binding. */
#include "listen/addr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/hostport.h"

static vn_err_t split_hostport(const char *hp, vn_addr_t *out, const char *url, char *errbuf, size_t errcap)
{
    if (vn_hostport_split(hp, true, out->host, sizeof out->host, out->port, sizeof out->port) != VN_OK ||
        vn_hostport_port_num(out->port) == -1) {
        snprintf(errbuf, errcap, "invalid host:port in address \"%s\"", url);
        return VN_ERR_CONFIG;
    }
    if (vn_hostport_port_num(out->port) < 0) {
        snprintf(errbuf, errcap, "invalid port in address \"%s\" (must be 0 to 65535)", url);
        return VN_ERR_CONFIG;
    }
    return VN_OK;
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

/* A unix socket path may only be replaced when nothing listens on it: a second
 * instance (or a mistaken config) must fail, not unlink the live socket of the
 * first one, which would then receive nothing for the rest of its life. A stale
 * file from a crashed run refuses connections (ECONNREFUSED) and is removed. */
static int check_unix_path(const char *path, const struct sockaddr_un *sun, socklen_t len, int type, char *errbuf,
                           size_t errcap)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(errbuf, errcap, "bind %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(errbuf, errcap, "bind %s: the path exists and is not a socket; refusing to replace it", path);
        return -1;
    }
    int probe = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe < 0) {
        snprintf(errbuf, errcap, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(probe, (const struct sockaddr *)sun, len);
    int e = errno;
    close(probe);
    if (rc != 0 && e == ECONNREFUSED) {
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(errbuf, errcap, "bind %s: cannot remove the stale socket: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
        snprintf(errbuf, errcap, "bind %s: address already in use by a live listener (another veneur?)", path);
    else
        snprintf(errbuf, errcap, "bind %s: the path exists and its listener cannot be checked (%s); "
                 "refusing to replace it", path, strerror(e));
    return -1;
}

static int bind_unix(const vn_addr_t *a, int type, char *errbuf, size_t errcap)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    size_t pl = strlen(a->path);
    memcpy(sun.sun_path, a->path, pl);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl);
    if (a->path[0] == '@')
        sun.sun_path[0] = '\0'; /* abstract namespace: the kernel refuses a second bind itself */
    else if (check_unix_path(a->path, &sun, len, type, errbuf, errcap) != 0)
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, errcap, "socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
        /* EADDRINUSE here: another process bound it between the check and now */
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

static void set_rcvbuf(int fd, int rcvbuf)
{
    if (rcvbuf <= 0)
        return;
    /* SO_RCVBUFFORCE passes rmem_max when we are root; fall back to the capped one. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
}

static void bind_error(const vn_addr_t *a, int e, char *errbuf, size_t errcap)
{
    if (e == EADDRINUSE)
        snprintf(errbuf, errcap, "bind %s:%s: address already in use (another veneur or another process has it)",
                 a->host, a->port);
    else
        snprintf(errbuf, errcap, "bind %s:%s: %s", a->host, a->port, strerror(e));
}

/* One inet socket on ai. UDP never sets SO_REUSEADDR: on Linux it lets any
 * process, of any uid, bind the same address and take the datagrams. TCP keeps
 * it: for a listening TCP socket it only allows the bind while old connections
 * of a previous run sit in TIME_WAIT; Linux still refuses a second listener. */
static int bind_inet(const struct addrinfo *ai, bool reuseport, int rcvbuf, int *err_out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err_out = errno;
        return -1;
    }
    int one = 1;
    if (ai->ai_socktype == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#else
    (void)reuseport;
#endif
    if (ai->ai_socktype == SOCK_DGRAM)
        set_rcvbuf(fd, rcvbuf);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && (ai->ai_socktype == SOCK_DGRAM || listen(fd, 512) == 0))
        return fd;
    *err_out = errno;
    close(fd);
    return -1;
}

static int resolve(const vn_addr_t *a, struct addrinfo **res, char *errbuf, size_t errcap)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = a->family;
    hints.ai_socktype = a->kind == VN_ADDR_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(a->host[0] ? a->host : NULL, a->port, &hints, res);
    if (gai != 0) {
        snprintf(errbuf, errcap, "resolve %s:%s: %s", a->host, a->port, gai_strerror(gai));
        return -1;
    }
    return 0;
}

static void set_port(struct sockaddr *sa, int port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)(void *)sa)->sin_port = htons((uint16_t)port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons((uint16_t)port);
}

int vn_addr_bind(const vn_addr_t *a, bool reuseport, int rcvbuf, char *errbuf, size_t errcap)
{
    if (errbuf && errcap)
        errbuf[0] = '\0';
    if (a->kind == VN_ADDR_UNIXGRAM || a->kind == VN_ADDR_UNIX) {
        int fd = bind_unix(a, a->kind == VN_ADDR_UNIX ? SOCK_STREAM : SOCK_DGRAM, errbuf, errcap);
        if (fd >= 0 && rcvbuf > 0 && a->kind == VN_ADDR_UNIXGRAM)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        return fd;
    }
    struct addrinfo *res = NULL;
    if (resolve(a, &res, errbuf, errcap) != 0)
        return -1;
    int fd = -1, e = EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = bind_inet(ai, reuseport, rcvbuf, &e);
    if (fd < 0)
        bind_error(a, e, errbuf, errcap);
    freeaddrinfo(res);
    return fd;
}

int vn_addr_bind_group(const vn_addr_t *a, int n, int rcvbuf, int *fds, char *errbuf, size_t errcap)
{
    if (errbuf && errcap)
        errbuf[0] = '\0';
    if (n < 1 || a->kind != VN_ADDR_UDP) {
        snprintf(errbuf, errcap, "bind %s:%s: a socket group needs a udp address and n >= 1", a->host, a->port);
        return -1;
    }
    if (n == 1) {
        fds[0] = vn_addr_bind(a, false, rcvbuf, errbuf, errcap);
        return fds[0] < 0 ? -1 : 0;
    }
#ifndef SO_REUSEPORT
    snprintf(errbuf, errcap, "bind %s:%s: num_readers > 1 needs SO_REUSEPORT", a->host, a->port);
    return -1;
#else
    struct addrinfo *res = NULL;
    if (resolve(a, &res, errbuf, errcap) != 0)
        return -1;
    int e = EADDRNOTAVAIL, got = 0;
    for (struct addrinfo *ai = res; ai && got < n; ai = ai->ai_next) {
        /* The probe binds without SO_REUSEPORT: it fails if any socket holds the
         * address, including another veneur's SO_REUSEPORT group, which would
         * otherwise accept ours as members and split the traffic between the
         * two processes. Port 0 takes the kernel's choice for the whole group. */
        int probe = bind_inet(ai, false, 0, &e);
        if (probe < 0)
            continue;
        int port = vn_addr_bound_port(probe);
        close(probe);
        set_port(ai->ai_addr, port);
        for (got = 0; got < n; got++) {
            fds[got] = bind_inet(ai, true, rcvbuf, &e);
            if (fds[got] < 0)
                break;
        }
        if (got < n) {
            while (got > 0)
                close(fds[--got]);
        }
    }
    freeaddrinfo(res);
    if (got < n) {
        bind_error(a, e, errbuf, errcap);
        return -1;
    }
    return 0;
#endif
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
