/*
 * h2_client_stream.c - the gRPC client's long-lived streams (h2_client.h): one call whose
 * request body the owner hands over buffer by buffer, kept alive by PINGs and empty DATA
 * heartbeats, declared dead when PINGs go unanswered or output stops moving, and drained
 * (finished, then reopened by the owner) when the server sends GOAWAY.
 */
#include <poll.h>
#include <string.h>

#include "core/clock.h"
#include "forward/grpc_frame.h"
#include "forward/h2_client_internal.h"

/* A stream's verdict on what the server did: it may only ever end it. */
static vn_err_t check_state(vn_h2_client_t *c)
{
    if (c->failed)
        return VN_ERR_IO;
    if (c->closed) {
        if (c->own_res.grpc_status >= 0)
            vn_h2c__why(c, "server ended the stream: grpc-status %d %.150s", c->own_res.grpc_status,
                        c->own_res.grpc_message);
        else
            vn_h2c__why(c, "stream reset by the server (code %u)", c->own_res.reset_code);
        return VN_ERR_PROTO;
    }
    return VN_OK;
}

/* Pumps until *flag turns false (the server's SETTINGS, the opening PING's answer) or the deadline. */
static vn_err_t open_wait(vn_h2_client_t *c, const bool *until_true, const double *until_zero, double deadline,
                          const char *what)
{
    vn_err_t e = VN_OK;
    while (e == VN_OK && (until_true ? !*until_true : *until_zero > 0)) {
        e = vn_h2c__flush_out(c);
        if (e != VN_OK)
            break;
        int ms = vn_clock_ms_until(deadline);
        if (ms == 0) {
            vn_h2c__why(c, "no %s before the dial timeout", what);
            return VN_ERR_TIMEOUT;
        }
        e = vn_h2c__wait_io(c, ms, -1, NULL);
        if (e == VN_OK)
            e = check_state(c);
    }
    return e;
}

vn_err_t vn_h2_client_stream_open(vn_h2_client_t *c, const char *path, const vn_h2_client_timing_t *t,
                                  double deadline)
{
    c->why[0] = '\0';
    vn_h2c__timing_defaults(&c->t, t);
    c->streaming = true;
    c->goaway = false;
    c->failed = false;
    c->ending = false;
    c->heartbeat_due = false;
    c->body = NULL;
    c->body_len = c->body_off = 0;
    c->ping_sent = 0;
    memset(&c->own_res, 0, sizeof c->own_res);
    c->own_res.grpc_status = -1;
    c->res = &c->own_res;
    c->sid = 0;
    c->closed = false;
    c->dialled = false;
    vn_err_t e = vn_h2c__connect_all(c, deadline);
    /* the dial completes when the server's SETTINGS arrive (Go's WithBlock waits for READY) */
    if (e == VN_OK)
        e = open_wait(c, &c->got_settings, NULL, deadline, "HTTP/2 SETTINGS from the server");
    if (e == VN_OK)
        e = vn_h2c__submit(c, path, NULL);
    if (e == VN_OK)
        e = vn_h2c__flush_out(c);
    /* a PING after the HEADERS: its answer means the server has processed them */
    if (e == VN_OK && nghttp2_submit_ping(c->sess, NGHTTP2_FLAG_NONE, NULL) != 0) {
        vn_h2c__why(c, "%s", "http2: cannot send PING");
        e = VN_ERR_PROTO;
    }
    if (e == VN_OK) {
        c->ping_sent = vn_clock_mono_s();
        e = open_wait(c, NULL, &c->ping_sent, deadline, "answer to the opening PING");
    }
    if (e == VN_OK)
        e = check_state(c);
    if (e != VN_OK) {
        if (!c->why[0])
            vn_h2c__why(c, "%s", vn_strerror(e));
        c->failed = true;
        vn_h2c__disconnect(c);
        return e;
    }
    c->last_ping_ack = c->last_progress = c->last_data = vn_clock_mono_s();
    return VN_OK;
}

bool vn_h2_client_dialled(const vn_h2_client_t *c) { return c->dialled; }

bool vn_h2_client_stream_goaway(const vn_h2_client_t *c) { return c->goaway && !c->failed; }

bool vn_h2_client_stream_idle(const vn_h2_client_t *c) { return c->body_off == c->body_len; }

size_t vn_h2_client_stream_unsent(const vn_h2_client_t *c) { return c->body_len - c->body_off; }

void vn_h2_client_stream_write(vn_h2_client_t *c, const uint8_t *data, size_t len)
{
    c->body = data;
    c->body_len = len;
    c->body_off = 0;
    if (len && c->sess)
        nghttp2_session_resume_data(c->sess, c->sid);
}

static vn_err_t keepalive(vn_h2_client_t *c)
{
    double now = vn_clock_mono_s();
    bool pending = c->out_len > 0 || c->body_off < c->body_len;
    if (!pending)
        c->last_progress = now;
    else if (now - c->last_progress > c->t.stall_timeout_s) {
        vn_h2c__why(c, "no progress sending for %g s (the server stopped reading)", c->t.stall_timeout_s);
        return VN_ERR_TIMEOUT;
    }
    if (!pending && !c->heartbeat_due && now - c->last_data >= c->t.heartbeat_s) {
        c->heartbeat_due = true;
        nghttp2_session_resume_data(c->sess, c->sid);
    }
    if (c->ping_sent > 0) {
        if (now - c->ping_sent > c->t.ping_timeout_s) {
            vn_h2c__why(c, "%s", "keepalive PING not answered in time");
            return VN_ERR_TIMEOUT;
        }
    } else if (now - c->last_ping_ack >= c->t.ping_interval_s) {
        if (nghttp2_submit_ping(c->sess, NGHTTP2_FLAG_NONE, NULL) != 0) {
            vn_h2c__why(c, "%s", "http2: cannot send PING");
            return VN_ERR_PROTO;
        }
        c->ping_sent = now;
    }
    return VN_OK;
}

vn_err_t vn_h2_client_stream_pump(vn_h2_client_t *c, int timeout_ms, int wake_fd, bool *woken)
{
    if (!c->sess)
        return VN_ERR_IO;
    vn_err_t e = check_state(c);
    if (e == VN_OK)
        e = keepalive(c);
    if (e == VN_OK)
        e = vn_h2c__flush_out(c);
    if (e == VN_OK) {
        /* never sleep past the next keepalive or stall check */
        double next = c->ping_sent > 0 ? c->ping_sent + c->t.ping_timeout_s : c->last_ping_ack + c->t.ping_interval_s;
        if (c->last_progress + c->t.stall_timeout_s < next)
            next = c->last_progress + c->t.stall_timeout_s;
        if (c->last_data + c->t.heartbeat_s < next)
            next = c->last_data + c->t.heartbeat_s;
        int ka = vn_clock_ms_until(next) + 1;
        e = vn_h2c__wait_io(c, timeout_ms < ka ? timeout_ms : ka, wake_fd, woken);
    }
    if (e == VN_OK)
        e = check_state(c);
    if (e == VN_OK)
        e = vn_h2c__flush_out(c); /* WINDOW_UPDATE, PING ACK, SETTINGS ACK for what was read */
    if (e != VN_OK)
        c->failed = true;
    return e;
}

vn_err_t vn_h2_client_stream_finish(vn_h2_client_t *c, double deadline)
{
    if (c->failed || !c->sess)
        return VN_ERR_IO;
    c->ending = true;
    nghttp2_session_resume_data(c->sess, c->sid);
    vn_err_t e = VN_OK;
    while (!c->closed && e == VN_OK) {
        e = vn_h2c__flush_out(c);
        int ms = vn_clock_ms_until(deadline);
        if (e == VN_OK && ms == 0) {
            vn_h2c__why(c, "%s", "no answer before the shutdown deadline");
            e = VN_ERR_TIMEOUT;
        }
        if (e == VN_OK)
            e = vn_h2c__wait_io(c, ms, -1, NULL);
        if (e == VN_OK && c->failed)
            e = VN_ERR_IO;
    }
    /* A server that closes the connection once its last call is answered (after a GOAWAY)
     * sends the trailers and EOF together: the answer counts, the EOF after it does not. */
    if (c->closed && e == VN_ERR_IO)
        e = VN_OK;
    if (e == VN_OK && c->own_res.grpc_status != 0) {
        vn_h2c__why(c, "grpc-status %d %.150s", c->own_res.grpc_status, c->own_res.grpc_message);
        e = VN_ERR_PROTO;
    }
    return e;
}
