/**
 * proxy_config_internal.h - the key table shared by proxy_config.c (loading)
 * and proxy_config_dump.c (/config/json, /config/yaml). Not a public API.
 */
#ifndef VN_PROXY_PROXY_CONFIG_INTERNAL_H
#define VN_PROXY_PROXY_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config_schema.h"
#include "proxy/proxy_config.h"

/** One row per key, grouped by YAML prefix (the dumps rely on groups being adjacent). */
extern const vn_config_key_t vn_proxy__keys[];
extern const size_t vn_proxy__nkeys;
/** The proxy's schema for src/config's loader: vn_proxy__keys under VENEUR_PROXY_. */
extern const vn_config_schema_t vn_proxy__schema;

#define VN_PCFG_FIELD(c, k, T) ((T *)((char *)(c) + (k)->off))

#endif
