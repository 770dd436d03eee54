/*
 * test_tls.c - vn_tls_* contexts: PEM loading errors and real handshakes.
 *
 * Each handshake runs over a socketpair: the server side in a thread, the client
 * side in the test thread, both with 5 s socket timeouts so nothing can hang.
 * After the handshake the client sends "ping\n" and expects "pong\n", which in
 * TLS 1.3 is also where a client learns that the server rejected its certificate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tls/tls.h"
#include "tls_testcerts.h"

#define IO_TIMEOUT_S 5

static testcerts_t pki;   /* the trusted PKI */
static testcerts_t other; /* an unrelated PKI */

static int group_setup(void **st)
{
    (void)st;
    /* OpenSSL writes with write(2): an alert sent to a peer that already closed
     * would kill the process. The daemon ignores SIGPIPE the same way. */
    signal(SIGPIPE, SIG_IGN);
    return testcerts_make(&pki, 1) && testcerts_make(&other, 1) ? 0 : -1;
}

static int group_teardown(void **st)
{
    (void)st;
    testcerts_free(&pki);
    testcerts_free(&other);
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Handshake harness                                                          */

typedef struct {
    SSL_CTX *ctx;
    int fd;
    bool handshake_ok;
    bool exchange_ok;
    char peer_cn[128]; /* server: the client certificate's CN, if any */
    char error[256];   /* first OpenSSL error on failure */
} side_t;

static void record_error(side_t *s)
{
    unsigned long e = ERR_get_error();
    if (e != 0)
        ERR_error_string_n(e, s->error, sizeof s->error);
    ERR_clear_error();
}

static void *server_main(void *arg)
{
    side_t *s = arg;
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, s->fd);
    if (SSL_accept(ssl) == 1) {
        s->handshake_ok = true;
        X509 *peer = SSL_get1_peer_certificate(ssl);
        if (peer != NULL) {
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, s->peer_cn,
                                      sizeof s->peer_cn);
            X509_free(peer);
        }
        char buf[16] = {0};
        int n = SSL_read(ssl, buf, sizeof buf - 1);
        s->exchange_ok = n == 5 && memcmp(buf, "ping\n", 5) == 0 && SSL_write(ssl, "pong\n", 5) == 5;
        SSL_shutdown(ssl);
    }
    record_error(s);
    SSL_free(ssl);
    close(s->fd);
    return NULL;
}

/*
 * Runs one handshake between sctx and cctx. peer_name is what the client checks
 * the server certificate against (NULL = no name check).
 */
static void handshake(SSL_CTX *sctx, SSL_CTX *cctx, const char *peer_name, side_t *srv, side_t *cli)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(setsockopt(sv[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
        assert_int_equal(setsockopt(sv[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    }
    memset(srv, 0, sizeof *srv);
    memset(cli, 0, sizeof *cli);
    srv->ctx = sctx;
    srv->fd = sv[0];
    cli->ctx = cctx;
    cli->fd = sv[1];
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, server_main, srv), 0);

    SSL *ssl = SSL_new(cctx);
    SSL_set_fd(ssl, cli->fd);
    if (peer_name != NULL)
        assert_int_equal(vn_tls_set_peer_name(ssl, peer_name), VN_OK);
    if (SSL_connect(ssl) == 1) {
        cli->handshake_ok = true;
        char buf[16] = {0};
        cli->exchange_ok = SSL_write(ssl, "ping\n", 5) == 5 && SSL_read(ssl, buf, sizeof buf - 1) == 5 &&
                           memcmp(buf, "pong\n", 5) == 0;
    }
    record_error(cli);
    /* Closing our end lets a server still waiting for data see EOF. */
    SSL_free(ssl);
    close(cli->fd);
    assert_int_equal(pthread_join(th, NULL), 0);
}

static SSL_CTX *server_ctx(const char *key, const char *cert, const char *ca)
{
    SSL_CTX *ctx = NULL;
    char err[256] = "";
    vn_err_t e = vn_tls_server_ctx_new(key, cert, ca, &ctx, err, sizeof err);
    if (e != VN_OK)
        fail_msg("server ctx: %s", err);
    return ctx;
}

static SSL_CTX *client_ctx(const char *ca, const char *cert, const char *key)
{
    SSL_CTX *ctx = NULL;
    char err[256] = "";
    vn_err_t e = vn_tls_client_ctx_new(ca, cert, key, &ctx, err, sizeof err);
    if (e != VN_OK)
        fail_msg("client ctx: %s", err);
    return ctx;
}

/* ------------------------------------------------------------------------- */
/* Handshakes                                                                 */

static void test_tls__handshake_without_client_certs(void **st)
{
    (void)st;
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, NULL);
    SSL_CTX *c = client_ctx(pki.ca_pem, NULL, NULL);
    side_t srv, cli;
    handshake(s, c, "127.0.0.1", &srv, &cli);
    assert_true(srv.handshake_ok);
    assert_true(cli.handshake_ok);
    assert_true(cli.exchange_ok);
    assert_true(srv.exchange_ok);
    assert_string_equal(srv.peer_cn, ""); /* no certificate was asked for */

    /* a client that presents a certificate anyway is fine too */
    SSL_CTX *c2 = client_ctx(pki.ca_pem, pki.client_pem, pki.client_key_pem);
    handshake(s, c2, "localhost", &srv, &cli);
    assert_true(srv.exchange_ok);
    assert_true(cli.exchange_ok);
    SSL_CTX_free(c2);
    SSL_CTX_free(c);
    SSL_CTX_free(s);
}

static void test_tls__client_cert_required_and_missing(void **st)
{
    (void)st;
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, pki.ca_pem);
    SSL_CTX *c = client_ctx(pki.ca_pem, NULL, NULL);
    side_t srv, cli;
    handshake(s, c, "127.0.0.1", &srv, &cli);
    assert_false(srv.handshake_ok);
    assert_false(cli.exchange_ok);
    assert_non_null(strstr(srv.error, "peer did not return a certificate"));
    SSL_CTX_free(c);
    SSL_CTX_free(s);
}

static void test_tls__client_cert_required_and_present(void **st)
{
    (void)st;
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, pki.ca_pem);
    SSL_CTX *c = client_ctx(pki.ca_pem, pki.client_pem, pki.client_key_pem);
    side_t srv, cli;
    handshake(s, c, "127.0.0.1", &srv, &cli);
    assert_true(srv.handshake_ok);
    assert_true(srv.exchange_ok);
    assert_true(cli.exchange_ok);
    assert_string_equal(srv.peer_cn, TESTCERTS_CLIENT_CN);
    SSL_CTX_free(c);
    SSL_CTX_free(s);
}

static void test_tls__client_cert_from_other_ca_rejected(void **st)
{
    (void)st;
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, pki.ca_pem);
    SSL_CTX *c = client_ctx(pki.ca_pem, other.client_pem, other.client_key_pem);
    side_t srv, cli;
    handshake(s, c, "127.0.0.1", &srv, &cli);
    assert_false(srv.handshake_ok);
    assert_false(cli.exchange_ok);
    assert_non_null(strstr(srv.error, "certificate verify failed"));
    SSL_CTX_free(c);
    SSL_CTX_free(s);
}

static void test_tls__server_cert_used_as_client_cert_rejected(void **st)
{
    (void)st;
    /* signed by the right CA, but its extendedKeyUsage is serverAuth only */
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, pki.ca_pem);
    SSL_CTX *c = client_ctx(pki.ca_pem, pki.server_pem, pki.server_key_pem);
    side_t srv, cli;
    handshake(s, c, "127.0.0.1", &srv, &cli);
    assert_false(srv.handshake_ok);
    assert_false(cli.exchange_ok);
    SSL_CTX_free(c);
    SSL_CTX_free(s);
}

static void test_tls__client_verifies_server(void **st)
{
    (void)st;
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, NULL);
    side_t srv, cli;
    /* trusts another CA */
    SSL_CTX *c = client_ctx(other.ca_pem, NULL, NULL);
    handshake(s, c, "127.0.0.1", &srv, &cli);
    assert_false(cli.handshake_ok);
    assert_non_null(strstr(cli.error, "certificate verify failed"));
    SSL_CTX_free(c);
    /* right CA, wrong name */
    c = client_ctx(pki.ca_pem, NULL, NULL);
    handshake(s, c, "example.com", &srv, &cli);
    assert_false(cli.handshake_ok);
    handshake(s, c, "10.1.2.3", &srv, &cli);
    assert_false(cli.handshake_ok);
    /* right CA, names on the certificate */
    handshake(s, c, "::1", &srv, &cli);
    assert_true(cli.exchange_ok);
    SSL_CTX_free(c);
    SSL_CTX_free(s);
}

static void test_tls__refuses_tls11(void **st)
{
    (void)st;
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, NULL);
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    assert_non_null(c);
    SSL_CTX_set_security_level(c, 0); /* let the client really offer TLS 1.1 */
    assert_int_equal(SSL_CTX_set_min_proto_version(c, TLS1_1_VERSION), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(c, TLS1_1_VERSION), 1);
    side_t srv, cli;
    handshake(s, c, NULL, &srv, &cli);
    assert_false(srv.handshake_ok);
    assert_false(cli.handshake_ok);
    assert_non_null(strstr(srv.error, "unsupported protocol"));
    SSL_CTX_free(c);
    SSL_CTX_free(s);
}

static void test_tls__certificate_with_chain(void **st)
{
    (void)st;
    /* leaf followed by its CA, as operators often paste a full chain */
    size_t n = strlen(pki.server_pem) + strlen(pki.ca_pem) + 1;
    char *chain = malloc(n);
    snprintf(chain, n, "%s%s", pki.server_pem, pki.ca_pem);
    SSL_CTX *s = server_ctx(pki.server_key_pem, chain, pki.ca_pem);
    STACK_OF(X509) *extra = NULL;
    assert_int_equal(SSL_CTX_get0_chain_certs(s, &extra), 1);
    assert_int_equal(sk_X509_num(extra), 1);
    SSL_CTX *c = client_ctx(pki.ca_pem, pki.client_pem, pki.client_key_pem);
    side_t srv, cli;
    handshake(s, c, "127.0.0.1", &srv, &cli);
    assert_true(srv.exchange_ok);
    assert_true(cli.exchange_ok);
    SSL_CTX_free(c);
    SSL_CTX_free(s);
    free(chain);
}

static void test_tls__ca_bundle_skips_junk(void **st)
{
    (void)st;
    /* a key block and the other CA first: only parsable CERTIFICATE blocks count */
    size_t n = strlen(pki.ca_key_pem) + strlen(other.ca_pem) + strlen(pki.ca_pem) + 64;
    char *bundle = malloc(n);
    snprintf(bundle, n, "# comment\n%s%s\n%s", pki.ca_key_pem, other.ca_pem, pki.ca_pem);
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, bundle);
    SSL_CTX *c = client_ctx(pki.ca_pem, pki.client_pem, pki.client_key_pem);
    SSL_CTX *c2 = client_ctx(pki.ca_pem, other.client_pem, other.client_key_pem);
    side_t srv, cli;
    handshake(s, c, "127.0.0.1", &srv, &cli);
    assert_true(srv.exchange_ok);
    handshake(s, c2, "127.0.0.1", &srv, &cli); /* the other CA is trusted too */
    assert_true(srv.exchange_ok);
    assert_string_equal(srv.peer_cn, TESTCERTS_CLIENT_CN);
    SSL_CTX_free(c2);
    SSL_CTX_free(c);
    SSL_CTX_free(s);
    free(bundle);
}

/* ------------------------------------------------------------------------- */
/* Configuration errors                                                       */

static void test_tls__bad_pem(void **st)
{
    (void)st;
    char *encrypted = NULL;
    {
        BIO *bio = BIO_new_mem_buf(pki.server_key_pem, -1);
        EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        assert_non_null(k);
        encrypted = testcerts_key_pem(k, "secret");
        EVP_PKEY_free(k);
        assert_non_null(strstr(encrypted, "ENCRYPTED PRIVATE KEY"));
    }
    static const char junk[] = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    static const char bad_key[] = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    const struct {
        const char *key, *cert, *ca;
        const char *want; /* exact message, or prefix when it ends with ':' */
    } cases[] = {
        {"", pki.server_pem, NULL, "tls_key is not set"},
        {NULL, pki.server_pem, NULL, "tls_key is not set"},
        {pki.server_key_pem, "", NULL, "tls_key is set; must set tls_certificate"},
        {pki.server_key_pem, NULL, pki.ca_pem, "tls_key is set; must set tls_certificate"},
        {"not a key", pki.server_pem, NULL, "tls_key: no PEM private key block found"},
        {pki.server_pem, pki.server_pem, NULL, "tls_key: no PEM private key block found"},
        {encrypted, pki.server_pem, NULL, "tls_key: encrypted private keys are not supported"},
        {bad_key, pki.server_pem, NULL, "tls_key: could not parse the PEM private key: error:"},
        {pki.server_key_pem, "garbage", NULL, "tls_certificate: no PEM certificate block found"},
        {pki.server_key_pem, junk, NULL, "tls_certificate: could not parse the PEM certificate: error:"},
        {pki.server_key_pem, pki.server_key_pem, NULL, "tls_certificate: no PEM certificate block found"},
        {pki.client_key_pem, pki.server_pem, NULL, "tls_key: private key does not match public key: error:"},
        {pki.server_key_pem, pki.server_pem, "garbage",
         "tls_authority_certificate: Could not load any certificates"},
        {pki.server_key_pem, pki.server_pem, junk,
         "tls_authority_certificate: Could not load any certificates"},
        {pki.server_key_pem, pki.server_pem, pki.ca_key_pem,
         "tls_authority_certificate: Could not load any certificates"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SSL_CTX *ctx = (SSL_CTX *)&cases; /* must be reset to NULL */
        char err[256] = "";
        assert_int_equal(
            vn_tls_server_ctx_new(cases[i].key, cases[i].cert, cases[i].ca, &ctx, err, sizeof err),
            VN_ERR_CONFIG);
        assert_null(ctx);
        size_t wl = strlen(cases[i].want);
        if (cases[i].want[wl - 1] == ':') {
            if (strncmp(err, cases[i].want, wl) != 0)
                fail_msg("case %zu: got \"%s\", want prefix \"%s\"", i, err, cases[i].want);
        } else {
            assert_string_equal(err, cases[i].want);
        }
        assert_int_equal(ERR_peek_error(), 0); /* queue left clean */
    }
    /* NULL errbuf is allowed */
    SSL_CTX *ctx = NULL;
    assert_int_equal(vn_tls_server_ctx_new("x", "y", NULL, &ctx, NULL, 0), VN_ERR_CONFIG);
    free(encrypted);
}

static void test_tls__client_ctx_errors(void **st)
{
    (void)st;
    SSL_CTX *ctx = NULL;
    char err[256];
    assert_int_equal(vn_tls_client_ctx_new(pki.ca_pem, pki.client_pem, NULL, &ctx, err, sizeof err),
                     VN_ERR_CONFIG);
    assert_string_equal(err, "tls client: certificate and key must be given together");
    assert_int_equal(vn_tls_client_ctx_new(pki.ca_pem, NULL, pki.client_key_pem, &ctx, err, sizeof err),
                     VN_ERR_CONFIG);
    assert_int_equal(vn_tls_client_ctx_new("nope", NULL, NULL, &ctx, err, sizeof err), VN_ERR_CONFIG);
    assert_string_equal(err, "tls client ca: Could not load any certificates");
    assert_int_equal(
        vn_tls_client_ctx_new(pki.ca_pem, pki.client_pem, pki.server_key_pem, &ctx, err, sizeof err),
        VN_ERR_CONFIG);
    assert_null(ctx);
    /* system trust store */
    assert_int_equal(vn_tls_client_ctx_new(NULL, NULL, NULL, &ctx, err, sizeof err), VN_OK);
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
    SSL_CTX_free(ctx);
}

static void test_tls__server_ctx_settings(void **st)
{
    (void)st;
    SSL_CTX *s = server_ctx(pki.server_key_pem, pki.server_pem, NULL);
    assert_int_equal(SSL_CTX_get_min_proto_version(s), TLS1_2_VERSION);
    assert_int_equal(SSL_CTX_get_verify_mode(s), SSL_VERIFY_NONE);
    SSL_CTX_free(s);
    s = server_ctx(pki.server_key_pem, pki.server_pem, pki.ca_pem);
    assert_int_equal(SSL_CTX_get_verify_mode(s), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
    STACK_OF(X509_NAME) *names = SSL_CTX_get_client_CA_list(s);
    assert_int_equal(sk_X509_NAME_num(names), 1);
    SSL_CTX_free(s);
    SSL_CTX_free(NULL);
}

static void test_tls__set_peer_name(void **st)
{
    (void)st;
    SSL_CTX *c = client_ctx(pki.ca_pem, NULL, NULL);
    SSL *ssl = SSL_new(c);
    assert_int_equal(vn_tls_set_peer_name(ssl, "127.0.0.1"), VN_OK);
    assert_int_equal(vn_tls_set_peer_name(ssl, "::1"), VN_OK);
    assert_int_equal(vn_tls_set_peer_name(ssl, "veneur.example"), VN_OK);
    assert_string_equal(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "veneur.example");
    SSL_free(ssl);
    SSL_CTX_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls__handshake_without_client_certs),
        cmocka_unit_test(test_tls__client_cert_required_and_missing),
        cmocka_unit_test(test_tls__client_cert_required_and_present),
        cmocka_unit_test(test_tls__client_cert_from_other_ca_rejected),
        cmocka_unit_test(test_tls__server_cert_used_as_client_cert_rejected),
        cmocka_unit_test(test_tls__client_verifies_server),
        cmocka_unit_test(test_tls__refuses_tls11),
        cmocka_unit_test(test_tls__certificate_with_chain),
        cmocka_unit_test(test_tls__ca_bundle_skips_junk),
        cmocka_unit_test(test_tls__bad_pem),
        cmocka_unit_test(test_tls__client_ctx_errors),
        cmocka_unit_test(test_tls__server_ctx_settings),
        cmocka_unit_test(test_tls__set_peer_name),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
