/*
 * frame.c - the SSF wire framing state machine (see frame.h).
 */
#include "ssf/frame.h"

#include <string.h>

vn_ssf_frame_rc_t vn_ssf_frame_feed(vn_ssf_frame_t *f, const uint8_t *in, size_t n, size_t *used, uint8_t *body,
                                    size_t max, size_t *body_len)
{
    size_t i = 0;
    *used = 0;
    *body_len = 0;
    while (f->hdr_have < VN_SSF_FRAME_HDR) {
        if (i == n) {
            *used = i;
            return VN_SSF_FRAME_MORE;
        }
        f->hdr[f->hdr_have++] = in[i++];
        if (f->hdr_have == 1 && f->hdr[0] != 0) {
            *used = i;
            return VN_SSF_FRAME_ERR_VERSION;
        }
        if (f->hdr_have == VN_SSF_FRAME_HDR) {
            f->len = (uint32_t)f->hdr[1] << 24 | (uint32_t)f->hdr[2] << 16 | (uint32_t)f->hdr[3] << 8 | f->hdr[4];
            f->have = 0;
            if (f->len > max || f->len > VN_SSF_FRAME_GO_MAX) {
                *used = i;
                return VN_SSF_FRAME_ERR_LENGTH;
            }
        }
    }
    size_t want = f->len - f->have, take = n - i < want ? n - i : want;
    if (take)
        memcpy(body + f->have, in + i, take);
    f->have += (uint32_t)take;
    i += take;
    *used = i;
    if (f->have < f->len)
        return VN_SSF_FRAME_MORE;
    *body_len = f->len;
    vn_ssf_frame_init(f);
    return VN_SSF_FRAME_READY;
}
