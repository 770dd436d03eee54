// re2_shim.cc - the C interface of core/regex.h over RE2 (with core/dtoa_shim.cc, the only C++ in
// veneur-c; see regex.h for why).
//
// Options: RE2's defaults are Go's dialect (Perl classes, UTF-8, leftmost-
// first); we only bound memory and silence RE2's own stderr logging, since
// the error is returned to the caller who names the config key.
#include <re2/re2.h>

#include <cstdio>
#include <new>

extern "C" {
#include "core/regex.h"
}

struct vn_regex {
    RE2 *re;
};

extern "C" vn_regex_t *vn_regex_compile(const char *pattern, char *err, size_t errcap)
{
    RE2::Options opt;
    opt.set_log_errors(false);
    opt.set_max_mem(VN_REGEX_MAX_MEM);
    RE2 *re = new (std::nothrow) RE2(pattern ? pattern : "", opt);
    if (!re) {
        if (errcap)
            std::snprintf(err, errcap, "out of memory");
        return nullptr;
    }
    if (!re->ok()) {
        if (errcap)
            std::snprintf(err, errcap, "%s", re->error().c_str());
        delete re;
        return nullptr;
    }
    vn_regex_t *r = new (std::nothrow) vn_regex_t;
    if (!r) {
        delete re;
        if (errcap)
            std::snprintf(err, errcap, "out of memory");
        return nullptr;
    }
    r->re = re;
    return r;
}

extern "C" bool vn_regex_match(const vn_regex_t *r, const char *s, size_t len)
{
    // RE2::PartialMatch is an unanchored search; with no submatch arguments
    // it runs the DFA only (falling back to the NFA if its cache fills).
    return RE2::PartialMatch(re2::StringPiece(len ? s : "", len), *r->re);
}

extern "C" void vn_regex_free(vn_regex_t *r)
{
    if (!r)
        return;
    delete r->re;
    delete r;
}
