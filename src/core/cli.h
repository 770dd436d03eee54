/**
 * cli.h - Go `flag`-style command lines shared by the binaries: one or two
 * leading dashes, `-name=value` or `-name value`.
 */
#ifndef VN_CORE_CLI_H
#define VN_CORE_CLI_H

#include <stdbool.h>

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
