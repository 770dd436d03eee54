/* cli.c - Go-style flag matching; see cli.h. */
#include "core/cli.h"

#include <stdio.h>
#include <string.h>

bool vn_cli_flag(const char *arg, const char *name, const char **inline_val)
{
    if (arg[0] != '-')
        return false;
    arg += arg[1] == '-' ? 2 : 1;
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
        return false;
    *inline_val = arg[n] == '=' ? arg + n + 1 : NULL;
    return true;
}

const char *vn_cli_value(int argc, char **argv, int *i, const char *name, const char *inline_val)
{
    if (inline_val)
        return inline_val;
    if (*i + 1 >= argc) {
        fprintf(stderr, "flag needs an argument: -%s\n", name);
        return NULL;
    }
    return argv[++*i];
}

bool vn_cli_bool(const char *name, const char *inline_val, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    if (!inline_val) {
        *out = true;
        return true;
    }
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(inline_val, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(inline_val, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    fprintf(stderr, "invalid boolean value \"%s\" for -%s: parse error\n", inline_val, name);
    return false;
}
