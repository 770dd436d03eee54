/*
 * fuzz_ingest.c - libFuzzer target for the whole statsd ingest path: stream
 * framing (listen/linebuf) split at fuzzer-chosen points, vn_ingest_line /
 * vn_ingest_packet (parse, key, line cache, pack into 64 KiB batches), the
 * worker rings and the workers applying the batches into series maps.
 *
 * Input layout:
 *   byte 0        flags: bits 0-2 number of split points k; bit 3 also feed the
 *                 stream as one datagram (unixgram path); bit 4 no EOF at the end
 *   3*k bytes     split offsets, 24-bit little endian, modulo the stream length
 *   rest          the stream, with one expansion so lines past 64 KiB are
 *                 reachable from short inputs: 0xFE c b -> byte b repeated
 *                 (c + 1) * 512 times. The expanded stream is capped at 256 KiB.
 * Run with -max_len=200000 (fuzz/fuzz_ingest.options) so long raw lines are
 * explored too.
 *
 * Checked for every input: no sanitizer report; every series key is
 * name '\n' tags with exactly one '\n', no NUL and the stored length; and the
 * framing is split-independent: the split feed yields the same series and
 * counter sums as feeding the same bytes in one piece.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/events.h"
#include "aggregate/worker.h"
#include "core/stats.h"
#include "listen/ingest.h"
#include "listen/linebuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NWORKERS 2
#define MAX_STREAM (256u * 1024u)

static const vn_str_t k_implicit[] = {VN_STR_LIT("env:fuzz")};
static const vn_parser_t k_parser = {k_implicit, 1};

static vn_stats_t g_stats;
static vn_worker_t *g_workers[NWORKERS];
static vn_event_store_t g_events;
static vn_ingest_t *g_in;
static char *g_stream;

static vn_ingest_t *new_reader(void);

static void setup_once(void)
{
    if (g_in)
        return;
    vn_stats_init(&g_stats);
    for (int i = 0; i < NWORKERS; i++)
        g_workers[i] = vn_worker_start(i, 1, 0, &g_stats);
    vn_event_store_init(&g_events, 16, &g_stats);
    g_in = new_reader();
    g_stream = malloc(MAX_STREAM);
}

static size_t expand(const uint8_t *p, size_t n, char *out)
{
    size_t w = 0;
    for (size_t i = 0; i < n && w < MAX_STREAM; i++) {
        if (p[i] == 0xFE && i + 2 < n) {
            size_t rep = ((size_t)p[i + 1] + 1) * 512;
            if (rep > MAX_STREAM - w)
                rep = MAX_STREAM - w;
            memset(out + w, p[i + 2], rep);
            w += rep;
            i += 2;
        } else {
            out[w++] = (char)p[i];
        }
    }
    return w;
}

static bool on_line(void *ctx, const char *line, size_t len)
{
    return vn_ingest_line(ctx, line, len);
}

/* A fresh reader per comparison run: both runs start with an empty line cache, so their float
 * additions happen in the same order and the sums compare exactly. */
static vn_ingest_t *new_reader(void)
{
    vn_ingest_shared_t sh = {
        .parser = &k_parser, .workers = g_workers, .nworkers = NWORKERS, .events = &g_events, .stats = &g_stats};
    return vn_ingest_new(&sh, 0);
}

typedef struct summary {
    size_t series;
    double counter_sum;
    uint64_t key_bytes;
} summary_t;

/* Applies everything pushed and summarises the maps, checking each key. */
static summary_t collect(void)
{
    vn_ingest_commit(g_in);
    summary_t s = {0, 0, 0};
    for (int w = 0; w < NWORKERS; w++) {
        vn_series_map_t *m = vn_worker_swap(g_workers[w]);
        for (size_t i = 0; i < m->cap; i++) {
            vn_series_t *se = m->slots[i];
            if (!se)
                continue;
            s.series++;
            s.key_bytes += se->key_len;
            if (strlen(se->key) != se->key_len)
                abort(); /* a NUL inside a key */
            const char *nl = memchr(se->key, '\n', se->key_len);
            if (!nl || nl == se->key || memchr(nl + 1, '\n', se->key_len - (size_t)(nl + 1 - se->key)))
                abort(); /* a key must be non-empty name '\n' tags */
            if (se->type == VN_MT_COUNTER)
                s.counter_sum += se->u.counter;
        }
        vn_series_map_free(m);
    }
    vn_event_list_t evs;
    vn_event_store_take(&g_events, &evs);
    vn_event_list_free(&evs);
    return s;
}

static void feed_stream(const char *buf, size_t n, const size_t *cuts, size_t ncuts, bool eof)
{
    vn_ingest_t *in = new_reader();
    vn_linebuf_t lb;
    vn_linebuf_init(&lb, 64 * 1024, NULL);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        if (end < at)
            continue;
        if (vn_linebuf_feed(&lb, buf + at, end - at, on_line, in) != VN_LINEBUF_READING)
            break;
        at = end;
    }
    if (eof)
        vn_linebuf_eof(&lb, on_line, in);
    if (lb.state == VN_LINEBUF_READING && lb.len >= lb.max_line)
        abort(); /* a buffer past the line limit while still reading */
    vn_linebuf_destroy(&lb);
    vn_ingest_free(in); /* commits: every record is pushed */
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static bool same(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t k = flags & 7;
    if (size < 1 + 3 * k)
        return 0;
    const uint8_t *cp = data + 1;
    size_t n = expand(data + 1 + 3 * k, size - 1 - 3 * k, g_stream);
    size_t cuts[8];
    for (size_t i = 0; i < k; i++) {
        size_t off = (size_t)cp[3 * i] | (size_t)cp[3 * i + 1] << 8 | (size_t)cp[3 * i + 2] << 16;
        cuts[i] = n ? off % (n + 1) : 0;
    }
    qsort(cuts, k, sizeof cuts[0], cmp_size);
    bool eof = !(flags & 16);

    collect(); /* start from empty maps */
    uint64_t dropped0 = vn_stats_get(&g_stats.queue_dropped_samples);
    feed_stream(g_stream, n, cuts, k, eof);
    summary_t split = collect();
    feed_stream(g_stream, n, NULL, 0, eof);
    summary_t whole = collect();
    if (vn_stats_get(&g_stats.queue_dropped_samples) == dropped0 &&
        (split.series != whole.series || split.key_bytes != whole.key_bytes ||
         !same(split.counter_sum, whole.counter_sum)))
        abort(); /* framing must not depend on where the reads were split */

    if (flags & 8) {
        vn_ingest_packet(g_in, g_stream, n);
        collect();
    }
    return 0;
}
