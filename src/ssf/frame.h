/**
 * frame.h - SSF stream framing (Go protocol/wire.go) as a pure state machine:
 *
 *   [1 byte version = 0][4 bytes big-endian length][length bytes SSFSpan protobuf]
 *
 * The caller feeds whatever bytes a read returned; the machine copies the body
 * into a caller-owned buffer of `max` bytes and says when a frame is complete.
 * Any framing error is fatal for the stream (the protocol has no resync point),
 * as in Go: the caller closes the connection. No allocation, no I/O.
 */
#ifndef VN_SSF_FRAME_H
#define VN_SSF_FRAME_H

#include <stddef.h>
#include <stdint.h>

/** Go's MaxSSFPacketLength: no frame may claim more, whatever the configured limit. */
#define VN_SSF_FRAME_GO_MAX (16u * 1024u * 1024u)
#define VN_SSF_FRAME_HDR 5u

typedef struct vn_ssf_frame {
    uint8_t hdr[VN_SSF_FRAME_HDR];
    uint32_t hdr_have; /* header bytes seen of the current frame */
    uint32_t len;      /* body length, valid once hdr_have == 5 */
    uint32_t have;     /* body bytes copied */
} vn_ssf_frame_t;

typedef enum vn_ssf_frame_rc {
    VN_SSF_FRAME_MORE = 0,    /* all input consumed, frame incomplete */
    VN_SSF_FRAME_READY,       /* body[0..len) holds one frame; call again with the rest */
    VN_SSF_FRAME_ERR_VERSION, /* version byte != 0 */
    VN_SSF_FRAME_ERR_LENGTH,  /* length > max (or > Go's 16 MiB) */
} vn_ssf_frame_rc_t;

static inline void vn_ssf_frame_init(vn_ssf_frame_t *f)
{
    f->hdr_have = f->len = f->have = 0;
}

/** True when no byte of a next frame has been seen (a hang-up here is a clean EOF). */
static inline int vn_ssf_frame_idle(const vn_ssf_frame_t *f)
{
    return f->hdr_have == 0;
}

/**
 * Consumes in[0..n) up to the end of one frame. *used receives the bytes
 * consumed. On READY the frame's body is body[0..*body_len) and the machine is
 * reset for the next frame. On an error the state is undefined (close the
 * stream). body must hold max bytes.
 */
vn_ssf_frame_rc_t vn_ssf_frame_feed(vn_ssf_frame_t *f, const uint8_t *in, size_t n, size_t *used, uint8_t *body,
                                    size_t max, size_t *body_len);

#endif
