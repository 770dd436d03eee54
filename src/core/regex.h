/**
 * regex.h - user-supplied regular expressions matched against untrusted
 * input (tags, label names, metric names), through RE2.
 *
 * Why RE2 and not <regex.h>: glibc's regexec backtracks on some patterns,
 * so one 64 KiB tag could stall a routing thread for seconds (issue 15).
 * RE2 matches in time linear in the input, in memory bounded at compile
 * time (max_mem below), and its syntax is the one Go's regexp follows, so
 * patterns written for Go Veneur (\d, \w, (?i), non-greedy *?, \pL, ...)
 * mean the same here.
 *
 * The wrapper is an extern "C" shim over the C++ library (core/re2_shim.cc);
 * the only other C++ is core/dtoa_shim.cc (core/dtoa.h).
 *
 * Thread safety: a compiled vn_regex_t is immutable; vn_regex_match may be
 * called on it from any number of threads at once.
 */
#ifndef VN_CORE_REGEX_H
#define VN_CORE_REGEX_H

#include <stdbool.h>
#include <stddef.h>

/** Memory one compiled pattern may use (program + DFA caches); a pattern that needs more fails to compile. */
#define VN_REGEX_MAX_MEM ((long long)8 << 20)

typedef struct vn_regex vn_regex_t; /* opaque */

/**
 * Compiles pattern (NUL-terminated, Go/RE2 syntax, UTF-8). @return an owned
 * regex (vn_regex_free), or NULL with a one-line reason in err (syntax
 * error, pattern too large for VN_REGEX_MAX_MEM, out of memory).
 */
vn_regex_t *vn_regex_compile(const char *pattern, char *err, size_t errcap);

/**
 * True when the pattern matches anywhere in s[0..len) (Go's MatchString:
 * unanchored unless the pattern anchors itself). s need not be
 * NUL-terminated and may contain NUL bytes. Never allocates per call
 * beyond RE2's bounded caches.
 */
bool vn_regex_match(const vn_regex_t *re, const char *s, size_t len);

/** Frees. NULL ok. */
void vn_regex_free(vn_regex_t *re);

#endif
