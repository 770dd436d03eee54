/*
 * vn-testcerts - writes a throwaway PKI for end-to-end TLS tests, so they need no
 * openssl command line:
 *
 *   vn-testcerts DIR [DAYS]
 *
 * creates DIR if needed and writes ca.pem, server.pem, server.key (0600),
 * client.pem and client.key (0600). The server certificate is CN=127.0.0.1 with
 * subjectAltName IP:127.0.0.1, IP:::1, DNS:localhost; the client certificate is
 * CN=veneur-test-client for clientAuth; both are signed by ca.pem. Keys are EC
 * P-256 in unencrypted PKCS#8 PEM. DAYS defaults to 7. The generator is shared
 * with the unit tests (tests/unit/tls/tls_testcerts.h). Exit 0 on success,
 * 1 on failure, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tests/unit/tls/tls_testcerts.h"

static int write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        fprintf(stderr, "vn-testcerts: path too long: %s/%s\n", dir, name);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "vn-testcerts: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "vn-testcerts: write %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    /* O_CREAT's mode does not apply to an existing file */
    if (fchmod(fd, mode) != 0 || close(fd) != 0) {
        fprintf(stderr, "vn-testcerts: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: vn-testcerts DIR [DAYS]\n"
                        "writes ca.pem server.pem server.key client.pem client.key into DIR\n");
        return 2;
    }
    int days = 7;
    if (argc == 3) {
        long d = 0;
        const char *p = argv[2];
        for (; *p >= '0' && *p <= '9' && d <= 36500; p++)
            d = d * 10 + (*p - '0');
        if (p == argv[2] || *p != '\0' || d < 1 || d > 36500) {
            fprintf(stderr, "vn-testcerts: DAYS must be 1..36500\n");
            return 2;
        }
        days = (int)d;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "vn-testcerts: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    testcerts_t tc;
    if (!testcerts_make(&tc, days)) {
        fprintf(stderr, "vn-testcerts: could not generate certificates\n");
        return 1;
    }
    int rc = write_file(dir, "ca.pem", tc.ca_pem, 0644) ||
             write_file(dir, "server.pem", tc.server_pem, 0644) ||
             write_file(dir, "server.key", tc.server_key_pem, 0600) ||
             write_file(dir, "client.pem", tc.client_pem, 0644) ||
             write_file(dir, "client.key", tc.client_key_pem, 0600);
    testcerts_free(&tc);
    return rc ? 1 : 0;
}
