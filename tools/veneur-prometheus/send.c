/*
 * send.c - the statsd side: -s address -> connected datagram socket, and
 * translated lines -> datagrams.
 *
 * Packing matches datadog-go's UDP writer: whole lines "\n"-joined, no
 * trailing newline, each datagram at most 1432 bytes (so it fits a 1500-byte
 * Ethernet MTU after IP/UDP headers). The translator leaves every line
 * followed by '\n' in one buffer, so a datagram is simply a slice of that
 * buffer minus its last newline: nothing is copied.
 *
 * A send that fails (ECONNREFUSED while veneur restarts, a full unixgram
 * queue) is counted and logged once per scrape: losing a datagram is what
 * statsd over UDP means, and the next scrape carries on.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "prom.h"

vn_err_t vn_pm_sender_open(vn_pm_sender_t *s, const char *addr, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (!addr || !*addr) {
        snprintf(err, errlen, "-s: empty statsd address");
        return VN_ERR_CONFIG;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    int family;
    if (strncmp(addr, "unix://", 7) == 0) {
        /* unix:///var/run/veneur.sock: everything after the scheme is the path */
        const char *path = addr + 7;
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        if (!*path || strlen(path) >= sizeof un->sun_path) {
            snprintf(err, errlen, "-s %s: bad unix socket path", addr);
            return VN_ERR_CONFIG;
        }
        memset(un, 0, sizeof *un);
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path));
        sslen = (socklen_t)sizeof *un;
        family = AF_UNIX;
        snprintf(s->display, sizeof s->display, "%s", path);
    } else {
        /* host:port, [v6]:port or :port */
        const char *colon = strrchr(addr, ':');
        if (!colon || !colon[1]) {
            snprintf(err, errlen, "-s %s: want host:port", addr);
            return VN_ERR_CONFIG;
        }
        char host[256];
        size_t hl = (size_t)(colon - addr);
        const char *h = addr;
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            h++;
            hl -= 2;
        }
        if (hl >= sizeof host) {
            snprintf(err, errlen, "-s %s: host too long", addr);
            return VN_ERR_CONFIG;
        }
        memcpy(host, h, hl);
        host[hl] = '\0';
        struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
        int g = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res);
        if (g != 0) {
            snprintf(err, errlen, "-s %s: %s", addr, gai_strerror(g));
            return VN_ERR_IO;
        }
        const struct addrinfo *pick = res;
        for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
            if (ai->ai_family == AF_INET) { /* Go prefers IPv4 */
                pick = ai;
                break;
            }
        memcpy(&ss, pick->ai_addr, pick->ai_addrlen);
        sslen = pick->ai_addrlen;
        family = pick->ai_family;
        freeaddrinfo(res);
        snprintf(s->display, sizeof s->display, "%s", addr);
    }
    s->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        snprintf(err, errlen, "-s %s: socket: %s", addr, strerror(errno));
        return VN_ERR_IO;
    }
    /* a blocked unixgram peer must not stall the poll loop for long */
    struct timeval tv = {1, 0};
    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(s->fd, (struct sockaddr *)&ss, sslen) != 0) {
        snprintf(err, errlen, "-s %s: connect: %s", addr, strerror(errno));
        close(s->fd);
        s->fd = -1;
        return VN_ERR_IO;
    }
    return VN_OK;
}

void vn_pm_sender_close(vn_pm_sender_t *s)
{
    if (s && s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

bool vn_pm_next_datagram(const char *buf, size_t len, size_t *pos, size_t *off, size_t *n)
{
    size_t p = *pos;
    for (;;) {
        if (p >= len) {
            *pos = p;
            return false;
        }
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - buf) : len;
        if (e - p <= VN_PM_MAX_DATAGRAM) {
            size_t start = p, end = e;
            p = e + 1;
            /* add following lines while the datagram stays within the cap */
            while (p < len) {
                nl = memchr(buf + p, '\n', len - p);
                e = nl ? (size_t)(nl - buf) : len;
                if (e - start > VN_PM_MAX_DATAGRAM)
                    break;
                end = e;
                p = e + 1;
            }
            *off = start;
            *n = end - start;
            *pos = p;
            return true;
        }
        p = e + 1; /* a line that can never fit */
    }
}

size_t vn_pm_send_lines(vn_pm_sender_t *s, const char *buf, size_t len, bool debug)
{
    size_t pos = 0, off, n, sent = 0;
    bool logged = false;
    while (vn_pm_next_datagram(buf, len, &pos, &off, &n)) {
        if (debug) {
            char esc[2 * VN_PM_MAX_DATAGRAM + 1];
            size_t k = 0;
            for (size_t i = 0; i < n && k + 2 < sizeof esc; i++) {
                char c = buf[off + i];
                if (c == '\n' || c == '"' || c == '\\')
                    esc[k++] = '\\';
                esc[k++] = c == '\n' ? 'n' : c;
            }
            esc[k] = '\0';
            VN_LOG(DEBUG, "event=send bytes=%zu payload=\"%s\"", n, esc);
        }
        ssize_t w = send(s->fd, buf + off, n, 0);
        if (w < 0 && errno == ECONNREFUSED)   /* an earlier datagram's ICMP error, reported now: */
            w = send(s->fd, buf + off, n, 0); /* this one was not sent, and the error is cleared */
        if (w < 0) {
            s->send_errors++;
            if (!logged)
                VN_LOG_ERRNO(WARN, "event=send_failed stats_host=%s", s->display);
            logged = true;
            continue;
        }
        s->datagrams++;
        sent++;
    }
    return sent;
}
