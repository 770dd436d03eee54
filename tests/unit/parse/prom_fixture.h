/*
 * prom_fixture.h - what test_prom_text.c and test_prom_translate.c share: one parsed
 * document (g_doc, set up and torn down per group) and parse_ok. Header-only: each
 * runner is its own binary. Include after <cmocka.h>.
 */
#ifndef VN_TEST_PROM_FIXTURE_H
#define VN_TEST_PROM_FIXTURE_H

#include <string.h>

#include "parse/prom_text.h"

/* ------------------------------------------------------------ helpers */

static vn_prom_doc_t g_doc;

static inline void parse_ok(const char *body)
{
    vn_prom_error_t e;
    vn_err_t rc = vn_prom_parse(&g_doc, body, strlen(body), &e);
    if (rc != VN_OK)
        fail_msg("parse failed at line %u: %s\n--- body:\n%s", e.line, e.msg, body);
}

static inline int setup(void **state)
{
    (void)state;
    vn_prom_doc_init(&g_doc, NULL);
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    vn_prom_doc_destroy(&g_doc);
    return 0;
}

#endif
