/*
 * dogstatsd_fixture.h - what the test_dogstatsd*.c runners share: the fixed clock and the two
 * parsers (no implicit tags; one implicit tag). Header-only: each runner is its own binary.
 */
#ifndef VN_TEST_DOGSTATSD_FIXTURE_H
#define VN_TEST_DOGSTATSD_FIXTURE_H

#include "parse/dogstatsd.h"

#define NOW 1700000000

static const vn_str_t k_imp1[] = {VN_STR_LIT("implicit")};
static const vn_parser_t k_plain = {NULL, 0};
static const vn_parser_t k_implicit = {k_imp1, 1};

#endif
