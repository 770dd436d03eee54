/**
 * metric.h - the metric vocabulary shared by parse, aggregate, flush and forward.
 */
#ifndef VN_CORE_METRIC_H
#define VN_CORE_METRIC_H

/** Internal metric types; the names are Go Veneur's MetricKey type strings. */
typedef enum vn_mtype {
    VN_MT_COUNTER = 0,
    VN_MT_GAUGE = 1,
    VN_MT_HISTOGRAM = 2, /* |h and |d */
    VN_MT_TIMER = 3,     /* |ms */
    VN_MT_SET = 4,
    VN_MT_STATUS = 5, /* service checks */
    VN_MT__COUNT
} vn_mtype_t;

/** Magic-tag scope (docs/behaviour.md 1.2 step 7); numbers match metricpb.Scope. */
typedef enum vn_scope { VN_SCOPE_MIXED = 0, VN_SCOPE_LOCAL = 1, VN_SCOPE_GLOBAL = 2 } vn_scope_t;

/** "counter", "gauge", "histogram", "timer", "set", "status". */
static inline const char *vn_mtype_name(vn_mtype_t t)
{
    static const char *const names[] = {"counter", "gauge", "histogram", "timer", "set", "status"};
    return (unsigned)t < VN_MT__COUNT ? names[t] : "unknown";
}

/** Histogram aggregate bitmask (docs/behaviour.md 2.6). */
enum {
    VN_AGG_MIN = 1,
    VN_AGG_MAX = 2,
    VN_AGG_MEDIAN = 4,
    VN_AGG_AVG = 8,
    VN_AGG_COUNT = 16,
    VN_AGG_SUM = 32,
    VN_AGG_HMEAN = 64,
};

#endif
