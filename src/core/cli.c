/* cli.c - Go-style flag matching; see cli.h. */
#include "core/cli.h"

#include <stdio.h>
#include <string.h>

#include "core/gonum.h"

vn_cli_tok_t vn_cli_next(int argc, char **argv, int *i, const char **name, size_t *nlen, const char **val)
{
    if (*i >= argc)
        return VN_CLI_END;
    const char *s = argv[*i];
    if (s[0] != '-' || s[1] == '\0')
        return VN_CLI_END; /* first non-flag argument */
    const char *n = s + 1;
    if (s[1] == '-') {
        if (s[2] == '\0') { /* "--" ends the flags and is consumed */
            (*i)++;
            return VN_CLI_END;
        }
        n = s + 2;
    }
    if (n[0] == '\0' || n[0] == '-' || n[0] == '=')
        return VN_CLI_BAD;
    (*i)++;
    /* -name=foo: the '=' is never the first byte of the name
     *  ^^^^ ^^^                                               */
    const char *eq = strchr(n + 1, '=');
    *name = n;
    *nlen = eq ? (size_t)(eq - n) : strlen(n);
    *val = eq ? eq + 1 : NULL;
    return VN_CLI_FLAG;
}

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
    if (!inline_val) {
        *out = true;
        return true;
    }
    if (vn_gonum_parse_bool(inline_val, out))
        return true;
    fprintf(stderr, "invalid boolean value \"%s\" for -%s: parse error\n", inline_val, name);
    return false;
}
