/**
 * hops.h - loop protection between veneur-proxy instances and globals
 * (issue 15): request headers on forwardrpc.Forward calls.
 *
 *   x-veneur-hops      how many veneur-proxies the call's metrics have passed
 *                      through (absent = 0: a local veneur, Go's or ours). A
 *                      proxy forwards with one more than the most it receives
 *                      and refuses a call that arrives with VN_HOPS_MAX or more;
 *                      a global refuses one with more than VN_HOPS_MAX. So a
 *                      loop of proxies (A -> B -> A), which would otherwise
 *                      bounce every metric forever, ends after a few redials.
 *   x-veneur-proxy-id  a random id per veneur-proxy process: a proxy that
 *                      receives its own id has dialled itself (its address
 *                      reached it through DNS, Consul, Kubernetes or a typo).
 *
 * Go Veneur neither sends nor reads these headers; a Go peer is hop 0.
 */
#ifndef VN_FORWARD_HOPS_H
#define VN_FORWARD_HOPS_H

#define VN_HOPS_HEADER "x-veneur-hops"
#define VN_PROXY_ID_HEADER "x-veneur-proxy-id"
/*
 * x-veneur-interval-end (issue 16): on a local's SendMetricsV2 call, the
 * wall-clock tick (unix seconds, "S" or "S.mmm") of the flush whose data the
 * call carries; sent only by synchronized veneur-c locals. A global counts
 * an import whose tick it has already flushed as late (ticker/ticker.h).
 */
#define VN_INTERVAL_HEADER "x-veneur-interval-end"
/** A chain local -> proxy -> ... -> global longer than this is taken for a loop. */
#define VN_HOPS_MAX 8
/** Characters of a proxy id (hex of 128 random bits). */
#define VN_PROXY_ID_LEN 32

#endif
