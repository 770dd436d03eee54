/*
 * main.c - veneur-proxy: flags, config, signals. The proxy itself is
 * src/proxy/ (proxy.h).
 *
 * Flags are Go's (cmd/veneur-proxy): -f FILE (required), -strict and
 * -print-secrets (Go's util flag: /config/json and /config/yaml show secrets),
 * with one or two dashes and "-x=v" or "-x v"; plus -version and -h/--help.
 * Exit status: 0 after a graceful stop, 1 for a config or start-up error
 * (Go's logrus.Fatal), 2 for a bad flag (Go's flag package).
 * Signals: SIGINT, SIGTERM, SIGHUP and SIGUSR2 all stop gracefully (Go
 * cancels on Interrupt, SIGUSR2 and SIGHUP; SIGTERM is what orchestrators
 * send, so it does the same here rather than killing at once).
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/log.h"
#include "core/version.h"
#include "proxy/proxy.h"
#include "proxy/proxy_config.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out, "Usage of veneur-proxy:\n"
                 "  -f string\n"
                 "        The config file to read for settings.\n"
                 "  -print-secrets\n"
                 "        Disables redacting config secrets\n"
                 "  -strict\n"
                 "        Fails if unknown config fields are present\n"
                 "  -version\n"
                 "        Print the version and exit.\n"
                 "Environment variables VENEUR_PROXY_<FIELD> override config keys\n"
                 "(e.g. VENEUR_PROXY_FORWARDADDRESSES=a:8128,b:8128, VENEUR_PROXY_GRPCADDRESS=:8128).\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool strict = false, print_secrets = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (vn_cli_flag(argv[i], "f", &v)) {
            if (!(path = vn_cli_value(argc, argv, &i, "f", v))) {
                usage(stderr);
                return 2;
            }
        } else if (vn_cli_flag(argv[i], "strict", &v)) {
            if (v && strcmp(v, "true") != 0 && strcmp(v, "1") != 0 && strcmp(v, "false") != 0 &&
                strcmp(v, "0") != 0) {
                fprintf(stderr, "invalid boolean value \"%s\" for -strict\n", v);
                usage(stderr);
                return 2;
            }
            strict = !v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
        } else if (vn_cli_flag(argv[i], "print-secrets", &v)) {
            if (!vn_cli_bool("print-secrets", v, &print_secrets)) {
                usage(stderr);
                return 2;
            }
        } else if (vn_cli_flag(argv[i], "version", &v)) {
            printf("veneur-proxy (veneur-c) %s (built %s)\n", VN_VERSION, VN_BUILD_DATE);
            return 0;
        } else if (vn_cli_flag(argv[i], "help", &v) || vn_cli_flag(argv[i], "h", &v)) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "flag provided but not defined: %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path || !path[0]) {
        fprintf(stderr, "veneur-proxy: missing required config file (-f)\n");
        usage(stderr);
        return 1;
    }
    char err[1024] = "";
    vn_proxy_config_t *cfg = NULL;
    if (vn_proxy_config_load_file(path, environ, strict, &cfg, err, sizeof err) != VN_OK) {
        fprintf(stderr, "veneur-proxy: failed to load config file: %s\n", err);
        return 1;
    }
    cfg->print_secrets = print_secrets;
    vn_log_set_level(cfg->debug ? VN_LOG_DEBUG : VN_LOG_INFO);
    VN_LOG(INFO, "event=starting version=%s", VN_VERSION);

    /* Before any thread: signals go to sigwait below only; libcurl's globals set up once. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "veneur-proxy: curl_global_init failed\n");
        vn_proxy_config_free(cfg);
        return 1;
    }

    vn_proxy_t *p = NULL;
    if (vn_proxy_start(cfg, &p, err, sizeof err) != VN_OK) {
        fprintf(stderr, "veneur-proxy: %s\n", err);
        vn_proxy_config_free(cfg);
        return 1;
    }
    VN_LOG(INFO, "event=started grpc_port=%d http_port=%d static_destinations=%zu discovery=%s",
           vn_proxy_grpc_port(p), vn_proxy_http_port(p), cfg->forward_addresses.n, vn_disc_kind_name(cfg->disc_kind));
    for (;;) {
        /* Wakes every second to report log lines dropped by a burst that went quiet (core/log.h). */
        struct timespec tick = {.tv_sec = 1};
        int sig = sigtimedwait(&sigs, NULL, &tick);
        vn_log_report_suppressed();
        if (sig > 0)
            break;
    }
    VN_LOG(INFO, "event=shutdown");
    vn_proxy_shutdown(p);
    vn_proxy_config_free(cfg);
    curl_global_cleanup();
    VN_LOG(INFO, "event=stopped");
    return 0;
}
