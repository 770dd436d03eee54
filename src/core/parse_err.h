/**
 * parse_err.h - why a statsd line was rejected: the reasons the parser returns
 * and the self-metric counts per reason (core/stats.h) are indexed by.
 *
 * The vocabulary lives in core, below parse, so that stats can size its
 * per-reason counters and name them on /metrics without depending on the
 * parser. The parser (parse/dogstatsd.h) produces these values; listen counts
 * them; nothing else interprets them.
 */
#ifndef VN_CORE_PARSE_ERR_H
#define VN_CORE_PARSE_ERR_H

/** Why a line was rejected. The reason string is the self-metric tag value. */
typedef enum vn_parse_err {
    VN_PARSE_OK = 0,
    /* metrics */
    VN_PARSE_ERR_NO_PIPE,         /* "need at least 1 pipe for type" */
    VN_PARSE_ERR_NO_COLON,        /* "need at least 1 colon" */
    VN_PARSE_ERR_EMPTY_NAME,      /* "name cannot be empty" */
    VN_PARSE_ERR_NO_TYPE,         /* "metric type not specified" */
    VN_PARSE_ERR_BAD_TYPE,        /* "Invalid type for metric" */
    VN_PARSE_ERR_EMPTY_SECTION,   /* "empty string after/between pipes" */
    VN_PARSE_ERR_BAD_RATE,        /* "Invalid float for sample rate" */
    VN_PARSE_ERR_RATE_RANGE,      /* "Sample rate <x> must be >0 and <=1" */
    VN_PARSE_ERR_MULTI_RATE,      /* "multiple sample rates specified" */
    VN_PARSE_ERR_MULTI_TAGS,      /* "multiple tag sections specified" */
    VN_PARSE_ERR_UNKNOWN_SECTION, /* "contains unknown section" */
    VN_PARSE_ERR_BAD_VALUE,       /* "Invalid number for metric value" */
    VN_PARSE_ERR_TOO_MANY_TAGS,   /* more than VN_PARSE_MAX_TAGS (parse/dogstatsd.h) tags */
    /* events */
    VN_PARSE_ERR_EV_NO_COLON,     /* "need at least 1 colon" */
    VN_PARSE_ERR_EV_WRAPPER,      /* "must have _e{} wrapper" */
    VN_PARSE_ERR_EV_COMMA,        /* "length section requires comma divider" */
    VN_PARSE_ERR_EV_TITLE_LEN,    /* bad/non-positive/mismatched title length */
    VN_PARSE_ERR_EV_TEXT_LEN,     /* bad/non-positive/mismatched text length */
    VN_PARSE_ERR_EV_NO_TEXT,      /* "must have at least 1 pipe for text" */
    VN_PARSE_ERR_EV_DATE,         /* "could not parse date" */
    VN_PARSE_ERR_EV_PRIORITY,     /* priority not normal|low */
    VN_PARSE_ERR_EV_ALERT,        /* alert type not error|warning|info|success */
    VN_PARSE_ERR_EV_MULTI,        /* "multiple X sections" */
    VN_PARSE_ERR_EV_EMPTY_SECTION,/* "empty string after/between pipes" */
    VN_PARSE_ERR_EV_UNKNOWN,      /* "unrecognized metadata section" */
    /* service checks */
    VN_PARSE_ERR_SC_PREFIX,       /* "no _sc prefix" */
    VN_PARSE_ERR_SC_NO_NAME,      /* "need name section" */
    VN_PARSE_ERR_SC_EMPTY_NAME,   /* "empty name" */
    VN_PARSE_ERR_SC_NO_STATUS,    /* "need status section" */
    VN_PARSE_ERR_SC_STATUS,       /* "must have status of 0, 1, 2, or 3" */
    VN_PARSE_ERR_SC_DATE,         /* "could not parse date" */
    VN_PARSE_ERR_SC_MULTI,        /* "multiple X sections" */
    VN_PARSE_ERR_SC_EMPTY_SECTION,/* "empty string after/between pipes" */
    VN_PARSE_ERR_SC_UNKNOWN,      /* "unrecognized metadata section" */
    VN_PARSE_ERR_SC_MSG_NOT_LAST, /* "message must be the last metadata section" */
    /* any line (not in Go: these bytes would corrupt names downstream) */
    VN_PARSE_ERR_NUL_BYTE,        /* a NUL byte anywhere: sinks and gRPC treat names as C strings */
    VN_PARSE_ERR_NEWLINE,         /* a '\n' inside a line: it separates name from tags in series keys */
    VN_PARSE_ERR_KEY_TOO_LONG,    /* series key or record over a batch record (listen/ingest.c) */
    VN_PARSE_ERR__COUNT
} vn_parse_err_t;

/** Short snake_case reason for self-metrics, e.g. "no_pipe". Never NULL. */
const char *vn_parse_err_reason(vn_parse_err_t e);
/** Human message, Go Veneur's wording where it has one. Never NULL. */
const char *vn_parse_err_message(vn_parse_err_t e);

#endif
