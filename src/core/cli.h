/**
 * cli.h - Go `flag`-style command lines shared by the binaries: one or two
 * leading dashes, `-name=value` or `-name value`.
 */
#ifndef VN_CORE_CLI_H
#define VN_CORE_CLI_H

#include <stdbool.h>
#include <stddef.h>

/** What vn_cli_next found. */
typedef enum vn_cli_tok {
    VN_CLI_END = 0,  /* no more flags: *i indexes the first argument left */
    VN_CLI_FLAG = 1, /* a flag: name, value */
    VN_CLI_BAD = 2,  /* "---x", "-=x": Go's "bad flag syntax" (argv[*i] is the culprit) */
} vn_cli_tok_t;

/**
 * One step of Go flag.Parse's scan at argv[*i]: a flag is "-name", "--name" or
 * either with "=value". On VN_CLI_FLAG, *name, *nlen (borrowed from argv, not
 * NUL-terminated at nlen) and *val (after '=', else NULL: the caller takes the
 * next argument for a non-boolean flag) are set and *i is advanced. The flags
 * end at the first non-flag argument ("-" alone is one) or after "--".
 */
vn_cli_tok_t vn_cli_next(int argc, char **argv, int *i, const char **name, size_t *nlen, const char **val);

/**
 * True when arg is flag `name` ("-f", "--f", "-f=x"). *inline_val points into
 * arg after '=' (borrowed), or is NULL when the value, if any, is the next argument.
 */
bool vn_cli_flag(const char *arg, const char *name, const char **inline_val);

/**
 * The value of a flag that needs one: inline_val, else argv[*i + 1] (then *i is
 * advanced). NULL, with a Go-style message on stderr, when it is missing.
 */
const char *vn_cli_value(int argc, char **argv, int *i, const char *name, const char *inline_val);

/**
 * The value of a boolean flag, as Go's flag package (strconv.ParseBool) takes
 * it: no inline value means true; 1 t T TRUE true True / 0 f F FALSE false False.
 * Anything else returns false and prints Go's message ("invalid boolean value
 * \"maybe\" for -name: parse error") on stderr; the caller exits with 2.
 */
bool vn_cli_bool(const char *name, const char *inline_val, bool *out);

#endif
