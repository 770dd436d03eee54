/*
 * sketch_fixtures.h - helpers shared by test_tdigest.c and test_hll.c: read
 * the Go-produced fixtures of tests/data/wire/ (see its README.md) and the
 * values Go computed for them (expected.txt), and generate seeded test data.
 *
 * expected.txt has one value per line: "<file> <kind> <arg> <value...>":
 *   tdigest_x.pb quantile 0.5 407f460000000000 500.375   (float64 bits, then text)
 *   tdigest_x.pb centroids - 141                         (integer)
 *   hll_x.bin estimate - 200                             (integer)
 *   c_x.pb go_roundtrip - 1     (1: Go decoded our bytes and re-encoded them identically)
 */
#ifndef VN_TEST_SKETCH_FIXTURES_H
#define VN_TEST_SKETCH_FIXTURES_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx_value {
    char file[64];
    char kind[16];
    double arg;    /* NaN when the line has "-" */
    uint64_t bits; /* float64 bits (kinds other than centroids/estimate) */
    uint64_t ival; /* integer value (centroids, estimate, go_roundtrip) */
} fx_value_t;

static inline FILE *fx_open(const char *name)
{
    static const char *const dirs[] = {"tests/data/wire/", "../tests/data/wire/", "../../tests/data/wire/"};
    char path[512];
    const char *env = getenv("VN_TEST_WIRE_DIR");
    if (env) {
        snprintf(path, sizeof path, "%s/%s", env, name);
        return fopen(path, "rb");
    }
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", dirs[i], name);
        FILE *f = fopen(path, "rb");
        if (f)
            return f;
    }
    return NULL;
}

/** Reads a whole fixture; returns owned memory (free()) or NULL. */
static inline uint8_t *fx_read(const char *name, size_t *len)
{
    *len = 0;
    FILE *f = fx_open(name);
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Splits s in place on spaces into at most max tokens. */
static inline int fx_split(char *s, char **tok, int max)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ' || *s == '\n' || *s == '\r')
            *s++ = '\0';
        if (!*s)
            break;
        tok[n++] = s;
        while (*s && *s != ' ' && *s != '\n' && *s != '\r')
            s++;
    }
    return n;
}

/** Loads expected.txt into out (at most max); returns the number loaded. */
static inline size_t fx_load_values(fx_value_t *out, size_t max)
{
    FILE *f = fx_open("expected.txt");
    if (!f)
        return 0;
    char line[256];
    size_t n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        char *tok[6];
        if (fx_split(line, tok, 6) < 4)
            continue;
        fx_value_t *v = &out[n];
        memset(v, 0, sizeof(*v));
        snprintf(v->file, sizeof v->file, "%s", tok[0]);
        snprintf(v->kind, sizeof v->kind, "%s", tok[1]);
        v->arg = strcmp(tok[2], "-") == 0 ? NAN : strtod(tok[2], NULL);
        if (strcmp(v->kind, "centroids") == 0 || strcmp(v->kind, "estimate") == 0 ||
            strcmp(v->kind, "go_roundtrip") == 0)
            v->ival = strtoull(tok[3], NULL, 10);
        else
            v->bits = strtoull(tok[3], NULL, 16);
        n++;
    }
    fclose(f);
    return n;
}

static inline double fx_f64(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/** Finds the value of (file, kind) with no argument; NULL if absent. */
static inline const fx_value_t *fx_find(const fx_value_t *v, size_t n, const char *file, const char *kind)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].file, file) == 0 && strcmp(v[i].kind, kind) == 0)
            return &v[i];
    return NULL;
}

/* ---- seeded data (splitmix64), as in bench/sketch_accuracy.c ---- */

typedef struct fx_rng {
    uint64_t s;
} fx_rng_t;

static inline uint64_t fx_next(fx_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline double fx_unif(fx_rng_t *r) { return (double)(fx_next(r) >> 11) * 0x1.0p-53; }

static inline double fx_gauss(fx_rng_t *r)
{
    double u = fx_unif(r), v = fx_unif(r);
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

#endif
