/*
 * h2_server_conn.c - the gRPC server's connection records (h2_server_internal.h).
 *
 * Connections sit in one list in accept order. A connection closed while the
 * loop may still hold its pointer in this wake-up's event array (evicted on
 * accept, closed by the sweep) is only unlinked and shut (vn_h2s__conn_kill)
 * and put in a graveyard freed at the end of the wake-up (vn_h2s__reap).
 */
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "forward/h2_server_internal.h"

conn_t *vn_h2s__conn_create(struct vn_h2_server *s, int fd, const uint8_t peer[16])
{
    conn_t *cn = vn_xcalloc(1, sizeof *cn);
    cn->srv = s;
    cn->fd = fd;
    cn->accepted_at = cn->last_active = cn->last_frame = now_s(s);
    memcpy(cn->peer, peer, 16);
    if (fd >= 0 && s->o.tls) {
        cn->ssl = SSL_new(s->o.tls);
        if (!cn->ssl || SSL_set_fd(cn->ssl, fd) != 1) {
            SSL_free(cn->ssl);
            ERR_clear_error();
            free(cn);
            return NULL;
        }
        SSL_set_accept_state(cn->ssl);
        SSL_set_mode(cn->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    if (vn_h2s__session_new(cn) != 0) {
        SSL_free(cn->ssl);
        free(cn);
        return NULL;
    }
    vn_h2s__lifecycle_start(cn);
    /* Large windows: locals stream a whole interval per call. */
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->o.max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16 * 1024},
    };
    nghttp2_submit_settings(cn->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    nghttp2_session_set_local_window_size(cn->sess, NGHTTP2_FLAG_NONE, 0, 8 << 20);
    cn->prev = s->conns_tail;
    if (s->conns_tail)
        s->conns_tail->next = cn;
    else
        s->conns = cn;
    s->conns_tail = cn;
    s->nconns++;
    return cn;
}

/* Closes cn politely (GOAWAY first, so a client about to reuse it learns it is gone). */
void vn_h2s__conn_goaway_kill(conn_t *cn)
{
    if (cn->fd >= 0) {
        nghttp2_session_terminate_session(cn->sess, NGHTTP2_NO_ERROR);
        (void)vn_h2s__conn_flush(cn);
    }
    vn_h2s__conn_kill(cn);
}

/* Unlinks and shuts cn; the memory stays until vn_h2s__reap (see the file comment). */
void vn_h2s__conn_kill(conn_t *cn)
{
    struct vn_h2_server *s = cn->srv;
    if (cn->dead)
        return;
    while (cn->calls)
        vn_h2s__call_close(cn->calls);
    nghttp2_session_del(cn->sess);
    cn->sess = NULL;
    if (cn->ssl) {
        SSL_free(cn->ssl); /* no close_notify: the peer learns from GOAWAY or EOF */
        cn->ssl = NULL;
    }
    if (cn->fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, cn->fd, NULL);
        close(cn->fd);
        cn->fd = -1;
    }
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        s->conns = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    else
        s->conns_tail = cn->prev;
    s->nconns--;
    cn->dead = true;
    cn->prev = NULL;
    cn->next = s->graveyard;
    s->graveyard = cn;
}

void vn_h2s__reap(struct vn_h2_server *s)
{
    while (s->graveyard) {
        conn_t *cn = s->graveyard;
        s->graveyard = cn->next;
        free(cn);
    }
}

void vn_h2s__set_want_out(conn_t *cn, bool want)
{
    if (cn->want_out == want || cn->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = cn};
    epoll_ctl(cn->srv->epfd, EPOLL_CTL_MOD, cn->fd, &ev);
    cn->want_out = want;
}

bool vn_h2s__conn_alive(conn_t *cn)
{
    return nghttp2_session_want_read(cn->sess) || nghttp2_session_want_write(cn->sess);
}
