/*
 * fuzz_ssf_frame.c - libFuzzer target for ssf/frame.h (SSF stream framing).
 *
 * Input: byte 0 picks the frame limit, byte 1.. a split seed, the rest is the
 * stream. The stream is fed whole and again in fuzzer-chosen pieces; both must
 * give the same frames (compared by a running hash of the bodies) and the same
 * end state. Bodies never exceed the limit; the machine never consumes more
 * than it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssf/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
    uint64_t hash;
    int frames;
    vn_ssf_frame_rc_t end;
} run_t;

static run_t feed(const uint8_t *s, size_t n, size_t max, uint32_t seed, int split)
{
    static uint8_t body[4096];
    vn_ssf_frame_t f;
    vn_ssf_frame_init(&f);
    run_t r = {.hash = 1469598103934665603ull, .frames = 0, .end = VN_SSF_FRAME_MORE};
    size_t off = 0;
    while (off < n) {
        size_t piece = n - off;
        if (split) {
            seed = seed * 1103515245u + 12345u;
            piece = 1 + (seed >> 16) % 7;
            if (piece > n - off)
                piece = n - off;
        }
        size_t pos = 0;
        while (pos < piece) {
            size_t used, blen;
            vn_ssf_frame_rc_t rc = vn_ssf_frame_feed(&f, s + off + pos, piece - pos, &used, body, max, &blen);
            if (used > piece - pos)
                abort();
            pos += used;
            if (rc == VN_SSF_FRAME_READY) {
                if (blen > max)
                    abort();
                r.frames++;
                for (size_t i = 0; i < blen; i++)
                    r.hash = (r.hash ^ body[i]) * 1099511628211ull;
                r.hash = (r.hash ^ 0x100) * 1099511628211ull;
            } else if (rc != VN_SSF_FRAME_MORE) {
                r.end = rc;
                return r;
            }
        }
        off += piece;
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t max = (size_t)data[0] * 16; /* 0..4080 */
    uint32_t seed = (uint32_t)data[1] << 8 | data[2];
    run_t a = feed(data + 3, size - 3, max, seed, 0), b = feed(data + 3, size - 3, max, seed, 1);
    if (a.hash != b.hash || a.frames != b.frames || a.end != b.end)
        abort();
    return 0;
}
