/*
 * fuzz_openmetrics.c - libFuzzer target for the openmetrics source's mapping
 * (src/sources/openmetrics.h): through one mapper, the body's first half (cut
 * at a newline) when it parses, then the whole body twice (deltas against the
 * half, new series, then an unchanged scrape).
 *
 * Invariants per emitted sample: a non-empty name without '\n' or NUL; tags
 * sorted byte-wise, each free of ',', '\n' and NUL (a series key joins tags
 * with ','), at most VN_OM_MAX_TAGS; a counter never 0 (zero deltas are not
 * sent); a gauge finite.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "sources/openmetrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vn_om_cfg_t g_cfg;
static vn_prom_doc_t g_doc;
static int g_ready;

static void on_sample(void *ctx, vn_str_t name, vn_mtype_t type, double value, const vn_str_t *tags, size_t ntags)
{
    (void)ctx;
    if (name.len == 0 || memchr(name.p, '\n', name.len) || memchr(name.p, 0, name.len))
        abort();
    if (ntags > VN_OM_MAX_TAGS)
        abort();
    for (size_t i = 0; i < ntags; i++) {
        if (memchr(tags[i].p, ',', tags[i].len) || memchr(tags[i].p, '\n', tags[i].len) ||
            memchr(tags[i].p, 0, tags[i].len))
            abort();
        if (i && vn_str_cmp(tags[i - 1], tags[i]) > 0)
            abort();
    }
    if (type == VN_MT_COUNTER ? value == 0 : !isfinite(value))
        abort();
}

static void setup(void)
{
    vn_kv_t kv[] = {{.key = "scrape_interval", .value = "1s"},
                    {.key = "scrape_target", .value = "http://x/m"},
                    {.key = "denylist", .value = "^go_"}};
    char *tags[] = {"env:fuzz", "zz"};
    vn_source_config_t sc = {.kind = "openmetrics", .name = "f", .kv = kv, .n_kv = 3, .tags = {tags, 2}};
    char err[256];
    if (vn_om_cfg_parse(&sc, &g_cfg, err, sizeof err) != VN_OK)
        abort();
    vn_prom_limits_t lim = {.max_series = 20000, .max_points = 200000, .max_families = 20000};
    vn_prom_doc_init(&g_doc, &lim);
    g_ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_ready)
        setup();
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    vn_om_mapper_t m;
    vn_om_mapper_init(&m);
    vn_om_counts_t c = {0};
    size_t half = size / 2;
    while (half && body[half - 1] != '\n')
        half--;
    if (vn_prom_parse(&g_doc, body, half, NULL) == VN_OK)
        vn_om_map(&m, &g_cfg, &g_doc, on_sample, NULL, &c);
    if (vn_prom_parse(&g_doc, body, size, NULL) == VN_OK) {
        vn_om_map(&m, &g_cfg, &g_doc, on_sample, NULL, &c); /* series of the first half: deltas; others: new */
        vn_om_map(&m, &g_cfg, &g_doc, on_sample, NULL, &c); /* unchanged: no counter at all */
    }
    vn_om_mapper_destroy(&m);
    free(body);
    return 0;
}
