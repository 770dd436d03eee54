/*
 * fuzz_routing.c - libFuzzer target for src/flush/routing.h (issue 19).
 *
 * Input: line 1 = a name regex, line 2 = a tag regex, line 3 = a strip regex,
 * then one metric per line: "name tag1 tag2 ..." (space-separated, at most 64
 * tags). The three patterns go into a config with routing on and every limit
 * set; lines past the third are routed through the sink's route.
 * Invariants: no crash, leak or UB; a pattern that fails to compile fails the
 * load (never the route); every output respects max_name_length, max_tags and
 * max_tag_length; the status counts add up to the metrics in; an unchanged
 * run returns the input array itself.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/log.h"
#include "flush/routing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    vn_log_set_level(VN_LOG_ERROR);
    return 0;
}

/* A YAML single-quoted scalar of s[0..n): '' for ', no newlines or NULs (else false). */
static bool quote(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    out[o++] = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' || s[i] == '\r' || s[i] == '\0' || o + 4 >= cap)
            return false;
        if (s[i] == '\'')
            out[o++] = '\'';
        out[o++] = s[i];
    }
    out[o++] = '\'';
    out[o] = '\0';
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *lines[3] = {0};
    char *p = buf;
    for (int i = 0; i < 3; i++) {
        char *nl = strchr(p, '\n');
        if (!nl) {
            free(buf);
            return 0;
        }
        *nl = '\0';
        lines[i] = p;
        p = nl + 1;
    }
    char q[3][600];
    for (int i = 0; i < 3; i++)
        if (!quote(q[i], sizeof q[i], lines[i], strlen(lines[i]))) {
            free(buf);
            return 0;
        }
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "features: {enable_metric_sink_routing: true}\n"
             "metric_sinks:\n  - kind: debug\n    name: s\n    max_name_length: 24\n    max_tag_length: 12\n"
             "    max_tags: 3\n    strip_tags: [{kind: regex, value: %s}]\n    add_tags: {k: v, kk: vv}\n"
             "metric_sink_routing:\n"
             "  - name: r\n    match:\n      - name: {kind: regex, value: %s}\n"
             "        tags: [{kind: regex, value: %s, unset: true}]\n"
             "      - name: {kind: prefix, value: a}\n"
             "    sinks: {matched: [s], not_matched: []}\n",
             q[2], q[0], q[1]);
    char err[512];
    char *env[] = {NULL};
    vn_config_t *cfg = NULL;
    if (vn_config_load(yaml, strlen(yaml), env, false, &cfg, err, sizeof err) != VN_OK) {
        free(buf);
        return 0;
    }
    vn_sink_route_t *route = NULL;
    if (vn_sink_route_new(cfg, "s", &route, err, sizeof err) != VN_OK || !route)
        abort(); /* the load compiled every pattern already */

    enum { MAXM = 64, MAXT = 64 };
    vn_inter_metric_t in[MAXM];
    const char *tags[MAXM][MAXT];
    size_t n = 0;
    while (*p && n < MAXM) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        size_t nt = 0;
        char *save = NULL;
        char *name = strtok_r(p, " ", &save);
        if (name) {
            char *t;
            while (nt < MAXT && (t = strtok_r(NULL, " ", &save)))
                tags[n][nt++] = t;
            in[n] = (vn_inter_metric_t){.name = name, .tags = tags[n], .ntags = nt, .value = 1};
            n++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    vn_route_scratch_t sc = {0};
    vn_route_counts_t k = {0};
    const vn_inter_metric_t *out = NULL;
    size_t nout = vn_sink_route_apply(route, in, n, &sc, &out, &k);
    if (k.skipped + k.max_name_length + k.max_tags + k.max_tag_length + k.flushed != n || k.flushed != nout)
        abort();
    for (size_t i = 0; i < nout; i++) {
        if (strlen(out[i].name) > 24 || out[i].ntags > 3 || out[i].sink_only)
            abort();
        for (size_t j = 0; j < out[i].ntags; j++)
            if (strlen(out[i].tags[j]) > 12)
                abort();
    }
    if (out != in && out != sc.m)
        abort();
    vn_route_scratch_free(&sc);
    vn_sink_route_free(route);
    vn_config_free(cfg);
    free(buf);
    return 0;
}
