/*
 * tls.c - SSL_CTX construction from PEM strings held in memory.
 *
 * Everything is read from memory BIOs: Go Veneur's tls_* keys carry PEM text, not
 * file names, and so do ours. What each input accepts, mirroring Go's crypto/tls:
 *   key   the first private-key block (PKCS#8, "RSA PRIVATE KEY", "EC PRIVATE KEY");
 *         encrypted keys fail (the passphrase callback refuses) instead of prompting.
 *   cert  the first CERTIFICATE block is the leaf, later ones are sent as its chain;
 *         the key must match the leaf (Go: "private key does not match public key").
 *   CA    every CERTIFICATE block without PEM headers that parses is trusted; others
 *         are skipped; zero trusted certificates is an error (Go's AppendCertsFromPEM).
 * Both sides allow TLS 1.2 and 1.3 only. The server refuses renegotiation, and sets
 * a session-id context so session resumption keeps working with client certs.
 * OpenSSL's per-thread error queue is always left empty on return.
 */
#include "tls/tls.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Sent to clients in session tickets/ids; any fixed string works. */
static const unsigned char session_ctx[] = "veneur-c statsd";

__attribute__((format(printf, 3, 4))) static void set_err(char *errbuf, size_t errcap, const char *fmt, ...)
{
    if (errbuf == NULL || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errcap, fmt, ap);
    va_end(ap);
}

/*
 * "<what>: <OpenSSL text>" using the oldest queued error (the root cause; later
 * entries are the callers that gave up), then empties the queue.
 */
static void set_ossl_err(char *errbuf, size_t errcap, const char *what)
{
    unsigned long e = ERR_get_error();
    char text[256];
    if (e == 0)
        snprintf(text, sizeof text, "unknown OpenSSL error");
    else
        ERR_error_string_n(e, text, sizeof text);
    set_err(errbuf, errcap, "%s: %s", what, text);
    ERR_clear_error();
}

static bool empty(const char *s) { return s == NULL || s[0] == '\0'; }

/* Passphrase callback that refuses: encrypted keys fail instead of prompting on a tty. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* True when the error queue's newest entry is the normal "no more PEM blocks". */
static bool at_pem_end(void)
{
    unsigned long e = ERR_peek_last_error();
    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

static BIO *pem_bio(const char *pem)
{
    return BIO_new_mem_buf(pem, -1); /* read-only view; pem must outlive the BIO */
}

/*
 * Loads the private key in pem into ctx, after the certificate (use_cert_chain).
 * `label` names the config key in errors.
 */
static vn_err_t use_key(SSL_CTX *ctx, const char *pem, const char *label, char *errbuf, size_t errcap)
{
    char what[96];
    BIO *bio = pem_bio(pem);
    if (bio == NULL)
        return VN_ERR_NOMEM;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (key == NULL) {
        /* Name the two common mistakes plainly; OpenSSL's text for them is cryptic. */
        if (strstr(pem, "PRIVATE KEY-----") == NULL)
            set_err(errbuf, errcap, "%s: no PEM private key block found", label);
        else if (strstr(pem, "ENCRYPTED") != NULL)
            set_err(errbuf, errcap, "%s: encrypted private keys are not supported", label);
        else {
            snprintf(what, sizeof what, "%s: could not parse the PEM private key", label);
            set_ossl_err(errbuf, errcap, what);
        }
        ERR_clear_error();
        return VN_ERR_CONFIG;
    }
    /* Checked here because OpenSSL's own mismatch path drops the certificate. */
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf != NULL && X509_check_private_key(leaf, key) != 1) {
        EVP_PKEY_free(key);
        snprintf(what, sizeof what, "%s: private key does not match public key", label);
        set_ossl_err(errbuf, errcap, what);
        return VN_ERR_CONFIG;
    }
    int ok = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (!ok) {
        snprintf(what, sizeof what, "%s: key rejected", label);
        set_ossl_err(errbuf, errcap, what);
        return VN_ERR_CONFIG;
    }
    return VN_OK;
}

/* Loads the leaf certificate and any chain certificates in pem into ctx. */
static vn_err_t use_cert_chain(SSL_CTX *ctx, const char *pem, const char *label, char *errbuf, size_t errcap)
{
    char what[96];
    vn_err_t err = VN_OK;
    BIO *bio = pem_bio(pem);
    if (bio == NULL)
        return VN_ERR_NOMEM;
    X509 *leaf = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    if (leaf == NULL) {
        if (strstr(pem, "-----BEGIN " PEM_STRING_X509 "-----") == NULL) {
            set_err(errbuf, errcap, "%s: no PEM certificate block found", label);
        } else {
            snprintf(what, sizeof what, "%s: could not parse the PEM certificate", label);
            set_ossl_err(errbuf, errcap, what);
        }
        err = VN_ERR_CONFIG;
        goto out;
    }
    if (!SSL_CTX_use_certificate(ctx, leaf)) {
        snprintf(what, sizeof what, "%s: certificate rejected", label);
        set_ossl_err(errbuf, errcap, what);
        err = VN_ERR_CONFIG;
        goto out;
    }
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
        if (x == NULL) {
            if (!at_pem_end()) {
                snprintf(what, sizeof what, "%s: bad chain certificate", label);
                set_ossl_err(errbuf, errcap, what);
                err = VN_ERR_CONFIG;
            }
            break;
        }
        if (!SSL_CTX_add0_chain_cert(ctx, x)) { /* takes x only on success */
            X509_free(x);
            snprintf(what, sizeof what, "%s: chain certificate rejected", label);
            set_ossl_err(errbuf, errcap, what);
            err = VN_ERR_CONFIG;
            break;
        }
    }
out:
    X509_free(leaf);
    BIO_free(bio);
    ERR_clear_error();
    return err;
}

/*
 * Trusts every parsable CERTIFICATE block of pem (no PEM headers), like Go's
 * AppendCertsFromPEM. With `ask_clients`, their subjects also go into the
 * CertificateRequest so clients can pick the right certificate.
 * Returns how many certificates were added.
 */
static int add_trusted(SSL_CTX *ctx, const char *pem, bool ask_clients)
{
    BIO *bio = pem_bio(pem);
    if (bio == NULL)
        return 0;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    while (PEM_read_bio(bio, &name, &header, &data, &len)) {
        if (strcmp(name, PEM_STRING_X509) == 0 && header[0] == '\0') {
            const unsigned char *p = data;
            X509 *x = d2i_X509(NULL, &p, len);
            if (x != NULL && p == data + len && X509_STORE_add_cert(store, x) &&
                (!ask_clients || SSL_CTX_add_client_CA(ctx, x)))
                added++;
            X509_free(x);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
    }
    BIO_free(bio);
    ERR_clear_error(); /* skipped blocks and the final "no start line" */
    return added;
}

static SSL_CTX *new_ctx(const SSL_METHOD *method)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (ctx == NULL)
        return NULL;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

vn_err_t vn_tls_server_ctx_new(const char *key_pem, const char *cert_pem, const char *ca_pem, SSL_CTX **out,
                               char *errbuf, size_t errcap)
{
    *out = NULL;
    if (empty(key_pem)) {
        set_err(errbuf, errcap, "tls_key is not set");
        return VN_ERR_CONFIG;
    }
    if (empty(cert_pem)) {
        set_err(errbuf, errcap, "tls_key is set; must set tls_certificate");
        return VN_ERR_CONFIG;
    }
    vn_err_t err = VN_OK;
    SSL_CTX *ctx = new_ctx(TLS_server_method());
    if (ctx == NULL) {
        set_ossl_err(errbuf, errcap, "tls: could not create a server context");
        return VN_ERR_NOMEM;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (!SSL_CTX_set_session_id_context(ctx, session_ctx, sizeof session_ctx - 1)) {
        set_ossl_err(errbuf, errcap, "tls: session id context");
        err = VN_ERR_NOMEM;
        goto fail;
    }
    if ((err = use_cert_chain(ctx, cert_pem, "tls_certificate", errbuf, errcap)) != VN_OK)
        goto fail;
    if ((err = use_key(ctx, key_pem, "tls_key", errbuf, errcap)) != VN_OK)
        goto fail;
    if (!SSL_CTX_check_private_key(ctx)) {
        set_ossl_err(errbuf, errcap, "tls_key: private key does not match public key");
        err = VN_ERR_CONFIG;
        goto fail;
    }
    if (!empty(ca_pem)) {
        if (add_trusted(ctx, ca_pem, true) == 0) {
            set_err(errbuf, errcap, "tls_authority_certificate: Could not load any certificates");
            err = VN_ERR_CONFIG;
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    *out = ctx;
    return VN_OK;

fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return err;
}

vn_err_t vn_tls_client_ctx_new(const char *ca_pem, const char *cert_pem, const char *key_pem, SSL_CTX **out,
                               char *errbuf, size_t errcap)
{
    *out = NULL;
    if (empty(cert_pem) != empty(key_pem)) {
        set_err(errbuf, errcap, "tls client: certificate and key must be given together");
        return VN_ERR_CONFIG;
    }
    vn_err_t err = VN_OK;
    SSL_CTX *ctx = new_ctx(TLS_client_method());
    if (ctx == NULL) {
        set_ossl_err(errbuf, errcap, "tls: could not create a client context");
        return VN_ERR_NOMEM;
    }
    if (empty(ca_pem)) {
        if (!SSL_CTX_set_default_verify_paths(ctx)) {
            set_ossl_err(errbuf, errcap, "tls client: system trust store");
            err = VN_ERR_CONFIG;
            goto fail;
        }
    } else if (add_trusted(ctx, ca_pem, false) == 0) {
        set_err(errbuf, errcap, "tls client ca: Could not load any certificates");
        err = VN_ERR_CONFIG;
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (!empty(cert_pem)) {
        if ((err = use_cert_chain(ctx, cert_pem, "tls client certificate", errbuf, errcap)) != VN_OK)
            goto fail;
        if ((err = use_key(ctx, key_pem, "tls client key", errbuf, errcap)) != VN_OK)
            goto fail;
        if (!SSL_CTX_check_private_key(ctx)) {
            set_ossl_err(errbuf, errcap, "tls client key: private key does not match public key");
            err = VN_ERR_CONFIG;
            goto fail;
        }
    }
    *out = ctx;
    return VN_OK;

fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return err;
}

vn_err_t vn_tls_set_peer_name(SSL *ssl, const char *name)
{
    unsigned char ip[16];
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1)
            goto fail;
        return VN_OK;
    }
    if (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1)
        goto fail;
    return VN_OK;
fail:
    ERR_clear_error();
    return VN_ERR_CONFIG;
}
