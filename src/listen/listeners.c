/*
 * listeners.c - binds statsd_listen_addresses and runs their reader threads.
 *
 * Stop is parallel: every datagram reader's flag is set, then one shared
 * eventfd (in each reader's poll set) is made readable, so N readers stop in
 * the time of one instead of N idle-poll timeouts; each drains its socket
 * before exiting (dgram.h), and all drains run at the same time.
 *
 * Commit requests (vn_listeners_commit, the flusher's, dgram.c "Commits"): one
 * counter shared by every datagram reader; each acknowledges the highest value
 * it has committed for, or is idle (clean) and holds nothing.
 */
#include "listen/listeners.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "listen/addr.h"
#include "listen/dgram.h"
#include "listen/stream.h"

struct vn_listeners {
    vn_dgram_reader_t *dg;
    size_t ndg;
    int wake_fd; /* eventfd: readable once the readers must stop */
    vn_stream_loop_t *stream;
    vn_ingest_t **ingests; /* one per reader id */
    size_t nreaders;
    bool started;
    _Atomic uint64_t commit_req; /* vn_listeners_commit's request count, read by every datagram reader */
};

vn_err_t vn_listeners_open(const vn_config_t *cfg, void *tls_ctx, vn_listeners_t **out, char *errbuf, size_t errcap)
{
    vn_listeners_t *l = vn_xcalloc(1, sizeof *l);
    int nr = cfg->num_readers > 0 ? cfg->num_readers : 1;
    size_t max_dg = cfg->statsd_listen_addresses.n * (size_t)nr;
    l->dg = vn_xcalloc(max_dg ? max_dg : 1, sizeof *l->dg);
    l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wake_fd < 0) /* readers then fall back to noticing the flag within 200 ms */
        VN_LOG_ERRNO(WARN, "event=eventfd_failed what=listener_stop");
    l->stream = vn_stream_loop_new(tls_ctx, NULL);
    size_t max_len = cfg->metric_max_length > 0 ? (size_t)cfg->metric_max_length : 4096;
    for (size_t i = 0; i < cfg->statsd_listen_addresses.n; i++) {
        const char *url = cfg->statsd_listen_addresses.v[i];
        vn_addr_t a;
        if (vn_addr_parse(url, &a, errbuf, errcap) != VN_OK)
            goto fail;
        if (a.kind == VN_ADDR_UDP) {
            int *fds = vn_xcalloc((size_t)nr, sizeof *fds);
            if (vn_addr_bind_group(&a, nr, cfg->read_buffer_size_bytes, fds, errbuf, errcap) != 0) {
                free(fds);
                goto fail;
            }
            for (int r = 0; r < nr; r++)
                l->dg[l->ndg++] = (vn_dgram_reader_t){
                    .fd = fds[r], .wake_fd = l->wake_fd, .proto = VN_PROTO_UDP, .max_len = max_len};
            free(fds);
            VN_LOG(INFO, "event=listening proto=udp addr=%s readers=%d", url, nr);
        } else if (a.kind == VN_ADDR_UNIXGRAM) {
            int fd = vn_addr_bind(&a, false, cfg->read_buffer_size_bytes, errbuf, errcap);
            if (fd < 0)
                goto fail;
            l->dg[l->ndg++] = (vn_dgram_reader_t){.fd = fd, .wake_fd = l->wake_fd, .proto = VN_PROTO_UNIXGRAM, .max_len = max_len};
            VN_LOG(INFO, "event=listening proto=unixgram addr=%s", url);
        } else {
            int fd = vn_addr_bind(&a, false, 0, errbuf, errcap);
            if (fd < 0)
                goto fail;
            vn_stream_loop_add_listener(l->stream, fd, a.kind == VN_ADDR_TCP);
            VN_LOG(INFO, "event=listening proto=%s addr=%s tls=%s", a.kind == VN_ADDR_TCP ? "tcp" : "unix", url,
                   a.kind == VN_ADDR_TCP && tls_ctx ? "true" : "false");
        }
    }
    l->nreaders = l->ndg + 1; /* +1: the stream loop (idle if it has no listener) */
    for (size_t i = 0; i < l->ndg; i++) {
        l->dg[i].commit_req = &l->commit_req;
        atomic_store(&l->dg[i].clean, true); /* holds nothing until its thread runs */
    }
    *out = l;
    return VN_OK;
fail:
    for (size_t i = 0; i < l->ndg; i++)
        close(l->dg[i].fd);
    vn_stream_loop_free(l->stream);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    free(l->dg);
    free(l);
    *out = NULL;
    return VN_ERR_CONFIG;
}

size_t vn_listeners_reader_count(const vn_listeners_t *l) { return l->nreaders; }

vn_err_t vn_listeners_start(vn_listeners_t *l, const vn_ingest_shared_t *shared)
{
    l->ingests = vn_xcalloc(l->nreaders, sizeof *l->ingests);
    for (size_t i = 0; i < l->nreaders; i++)
        l->ingests[i] = vn_ingest_new(shared, i);
    for (size_t i = 0; i < l->ndg; i++) {
        l->dg[i].ingest = l->ingests[i];
        l->dg[i].stats = shared->stats;
        if (vn_dgram_reader_start(&l->dg[i]) != 0)
            return VN_ERR_IO;
    }
    vn_stream_loop_set_stats(l->stream, shared->stats);
    if (vn_stream_loop_listener_count(l->stream) > 0 && vn_stream_loop_start(l->stream, l->ingests[l->ndg]) != 0)
        return VN_ERR_IO;
    l->started = true;
    return VN_OK;
}

bool vn_listeners_commit(vn_listeners_t *l, double timeout_s)
{
    if (!l || l->ndg == 0)
        return true;
    uint64_t req = atomic_fetch_add(&l->commit_req, 1) + 1;
    double end = vn_clock_mono_s() + timeout_s;
    for (size_t i = 0; i < l->ndg; i++) {
        /* A reader answers at its loop's top: within a fill delay (4 ms) or one burst's parse. */
        while (!vn_dgram_reader_committed(&l->dg[i], req)) {
            if (vn_clock_mono_s() > end)
                return false;
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    return true;
}

void vn_listeners_stop(vn_listeners_t *l)
{
    if (!l || !l->started)
        return;
    for (size_t i = 0; i < l->ndg; i++)
        vn_dgram_reader_signal(&l->dg[i]);
    if (l->wake_fd >= 0) {
        uint64_t one = 1;
        while (write(l->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    /* The stream loop stops while the datagram readers drain. */
    vn_stream_loop_stop(l->stream);
    uint64_t drained = 0;
    for (size_t i = 0; i < l->ndg; i++) {
        vn_dgram_reader_join(&l->dg[i]);
        drained += l->dg[i].drained;
    }
    if (l->ndg)
        VN_LOG(INFO, "event=listeners_stopped readers=%zu drained_datagrams=%llu", l->ndg,
               (unsigned long long)drained);
    for (size_t i = 0; i < l->nreaders; i++)
        vn_ingest_commit(l->ingests[i]);
    l->started = false;
}

void vn_listeners_free(vn_listeners_t *l)
{
    if (!l)
        return;
    vn_listeners_stop(l);
    for (size_t i = 0; i < l->ndg; i++)
        close(l->dg[i].fd);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    vn_stream_loop_free(l->stream);
    if (l->ingests)
        for (size_t i = 0; i < l->nreaders; i++)
            vn_ingest_free(l->ingests[i]);
    free(l->ingests);
    free(l->dg);
    free(l);
}
