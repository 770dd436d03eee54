/**
 * version.h - build identity: VN_VERSION (git short sha, or "dirty") and
 * VN_BUILD_DATE (commit time, unix seconds), from the generated
 * vn_build_info.h that the Makefile rewrites only when they change.
 */
#ifndef VN_CORE_VERSION_H
#define VN_CORE_VERSION_H
#if defined(__has_include)
#if __has_include("vn_build_info.h")
#include "vn_build_info.h"
#endif
#endif
#ifndef VN_VERSION
#define VN_VERSION "dirty"
#endif
#ifndef VN_BUILD_DATE
#define VN_BUILD_DATE "dirty"
#endif
#endif
