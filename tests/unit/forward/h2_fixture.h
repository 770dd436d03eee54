/*
 * h2_fixture.h - raw HTTP/2 client bytes for the h2_server tests (test_h2_server.c,
 * test_h2_lifecycle.c): a growable byte buffer and writers for the preface, frames and a
 * gRPC request's HEADERS (HPACK literals without indexing, no Huffman). Header-only: each
 * runner is its own binary. The buffer's memory is the caller's (free(w->b)); allocation
 * failure is not handled (tests only).
 */
#ifndef VN_TEST_H2_FIXTURE_H
#define VN_TEST_H2_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct wire {
    uint8_t *b;
    size_t n, cap;
} wire_t;

static inline void put(wire_t *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2;
        w->b = realloc(w->b, w->cap);
    }
    if (n)
        memcpy(w->b + w->n, p, n);
    w->n += n;
}

static inline void frame(wire_t *w, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
    uint8_t h[9] = {(uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, type, flags,
                    (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    put(w, h, 9);
    put(w, p, n);
}

/* The client preface, its SETTINGS, and the ACK of the server's SETTINGS
 * (which apply the server's 1 MiB stream window). */
static inline void preface(wire_t *w)
{
    put(w, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    frame(w, 4, 0, 0, NULL, 0);
    frame(w, 4, 1, 0, NULL, 0);
}

static inline void lit(wire_t *w, const char *name, const char *value)
{
    uint8_t z = 0, l;
    put(w, &z, 1);
    l = (uint8_t)strlen(name);
    put(w, &l, 1);
    put(w, name, l);
    l = (uint8_t)strlen(value);
    put(w, &l, 1);
    put(w, value, l);
}

static inline void request(wire_t *w, uint32_t sid)
{
    wire_t h = {0};
    lit(&h, ":method", "POST");
    lit(&h, ":scheme", "http");
    lit(&h, ":path", "/forwardrpc.Forward/SendMetricsV2");
    lit(&h, ":authority", "t");
    lit(&h, "content-type", "application/grpc");
    frame(w, 1, 4, sid, h.b, h.n);
    free(h.b);
}

#endif
