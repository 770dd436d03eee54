/**
 * proxy_config_internal.h - the key table shared by proxy_config.c (loading)
 * and proxy_config_dump.c (/config/json, /config/yaml). Not a public API.
 */
#ifndef VN_PROXY_PROXY_CONFIG_INTERNAL_H
#define VN_PROXY_PROXY_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy/proxy_config.h"

typedef enum {
    VN_PCFG_STR,       /* char *, "" when unset */
    VN_PCFG_BOOL,      /* bool (Go strconv.ParseBool forms) */
    VN_PCFG_DURATION,  /* double seconds, Go duration syntax, >= 0 */
    VN_PCFG_STRLIST,   /* vn_strlist_t (env: comma-separated) */
    VN_PCFG_ULONG,     /* unsigned long, 0..VN_PROXY_MAX_SEND_BUFFER */
    VN_PCFG_LONG,      /* long within int's range */
    VN_PCFG_MATCHERS,  /* ignore_tags (YAML only) */
    VN_PCFG_DISC_KIND, /* vn_disc_kind_t from consul|dns|kubernetes */
} vn_pcfg_type_t;

typedef struct vn_pcfg_key {
    const char *yaml;   /* "grpc_server.max_connection_idle" */
    const char *gofield; /* "GrpcServer.MaxConnectionIdle"; NULL = no env form */
    vn_pcfg_type_t type;
    size_t off;
    bool secret;
} vn_pcfg_key_t;

/** One row per key, grouped by YAML prefix (the dumps rely on groups being adjacent). */
extern const vn_pcfg_key_t vn_proxy__keys[];
extern const size_t vn_proxy__nkeys;

#define VN_PCFG_FIELD(c, k, T) ((T *)((char *)(c) + (k)->off))

#endif
