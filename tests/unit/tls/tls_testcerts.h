/*
 * tls_testcerts.h - throwaway PKI for TLS tests, made with the OpenSSL API at run
 * time (no openssl command line, no files checked in that could expire).
 *
 *   CA      CN=veneur-c test CA, basicConstraints CA:TRUE, keyCertSign|cRLSign
 *   server  CN=127.0.0.1, SAN IP:127.0.0.1, IP:::1, DNS:localhost, serverAuth
 *   client  CN=veneur-test-client, clientAuth
 * Keys are EC P-256, signatures ECDSA-SHA256, validity from an hour ago for `days`.
 * Every string is PEM (keys as unencrypted PKCS#8) and owned by the struct.
 *
 * Header-only with static functions so unit tests and tools/vn-testcerts share it
 * without putting test code into libveneur.
 */
#ifndef VN_TESTS_TLS_TESTCERTS_H
#define VN_TESTS_TLS_TESTCERTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TESTCERTS_SERVER_CN "127.0.0.1"
#define TESTCERTS_CLIENT_CN "veneur-test-client"

typedef struct testcerts {
    char *ca_pem, *ca_key_pem;
    char *server_pem, *server_key_pem;
    char *client_pem, *client_key_pem;
} testcerts_t;

/* PEM text of what `write` puts into a memory BIO; owned (free), NULL on failure. */
__attribute__((unused)) static char *testcerts__bio_string(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    BIO_free(bio);
    return s;
}

/** Certificate as PEM; owned (free). */
__attribute__((unused)) static char *testcerts_cert_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_X509(bio, x)) {
        BIO_free(bio);
        return NULL;
    }
    return testcerts__bio_string(bio);
}

/** Private key as PEM (PKCS#8; encrypted with AES-128-CBC when pass != NULL); owned (free). */
__attribute__((unused)) static char *testcerts_key_pem(EVP_PKEY *k, const char *pass)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio != NULL && PEM_write_bio_PKCS8PrivateKey(bio, k, pass ? EVP_aes_128_cbc() : NULL, NULL, 0,
                                                          NULL, (void *)pass);
    if (!ok) {
        BIO_free(bio);
        return NULL;
    }
    return testcerts__bio_string(bio);
}

/* Adds one v3 extension written in openssl.cnf syntax ("critical,CA:TRUE"). */
__attribute__((unused)) static bool testcerts__ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    bool ok = e != NULL && X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok;
}

/* One v3 extension: its NID and its value in openssl.cnf syntax. */
typedef struct testcerts_ext {
    int nid;
    const char *value;
} testcerts_ext_t;

/*
 * A certificate for key with subject CN=cn, signed by issuer/issuer_key (NULL =
 * self-signed), carrying exts (ended by nid 0). Owned (X509_free); NULL on failure.
 */
__attribute__((unused)) static X509 *testcerts__cert(EVP_PKEY *key, const char *cn, X509 *issuer,
                                                     EVP_PKEY *issuer_key, int days,
                                                     const testcerts_ext_t *exts)
{
    X509 *x = X509_new();
    uint64_t serial = 0;
    if (x == NULL || RAND_bytes((unsigned char *)&serial, sizeof serial) != 1)
        goto fail;
    serial = (serial >> 1) | 1; /* positive and non-zero, as RFC 5280 asks */
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_set_version(x, 2) || !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) || !X509_set_pubkey(x, key) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name))
        goto fail;
    for (const testcerts_ext_t *e = exts; e->nid != 0; e++)
        if (!testcerts__ext(x, issuer ? issuer : x, e->nid, e->value))
            goto fail;
    if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

/** Frees every string; tc may be partly filled. */
__attribute__((unused)) static void testcerts_free(testcerts_t *tc)
{
    free(tc->ca_pem);
    free(tc->ca_key_pem);
    free(tc->server_pem);
    free(tc->server_key_pem);
    free(tc->client_pem);
    free(tc->client_key_pem);
    memset(tc, 0, sizeof *tc);
}

/**
 * Makes a fresh CA, server and client certificate valid for `days` days.
 * Returns true with every field set (free with testcerts_free), false on failure.
 */
__attribute__((unused)) static bool testcerts_make(testcerts_t *tc, int days)
{
    static const testcerts_ext_t ca_exts[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"},
        {0, NULL},
    };
    static const testcerts_ext_t srv_exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost"},
        {NID_authority_key_identifier, "keyid"},
        {0, NULL},
    };
    static const testcerts_ext_t cli_exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "clientAuth"},
        {NID_authority_key_identifier, "keyid"},
        {0, NULL},
    };
    memset(tc, 0, sizeof *tc);
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *srv_key = EVP_EC_gen("P-256");
    EVP_PKEY *cli_key = EVP_EC_gen("P-256");
    X509 *ca = NULL, *srv = NULL, *cli = NULL;
    bool ok = false;
    if (ca_key == NULL || srv_key == NULL || cli_key == NULL)
        goto out;
    ca = testcerts__cert(ca_key, "veneur-c test CA", NULL, NULL, days, ca_exts);
    if (ca == NULL)
        goto out;
    srv = testcerts__cert(srv_key, TESTCERTS_SERVER_CN, ca, ca_key, days, srv_exts);
    cli = testcerts__cert(cli_key, TESTCERTS_CLIENT_CN, ca, ca_key, days, cli_exts);
    if (srv == NULL || cli == NULL)
        goto out;
    tc->ca_pem = testcerts_cert_pem(ca);
    tc->ca_key_pem = testcerts_key_pem(ca_key, NULL);
    tc->server_pem = testcerts_cert_pem(srv);
    tc->server_key_pem = testcerts_key_pem(srv_key, NULL);
    tc->client_pem = testcerts_cert_pem(cli);
    tc->client_key_pem = testcerts_key_pem(cli_key, NULL);
    ok = tc->ca_pem && tc->ca_key_pem && tc->server_pem && tc->server_key_pem && tc->client_pem &&
         tc->client_key_pem;
out:
    X509_free(ca);
    X509_free(srv);
    X509_free(cli);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    EVP_PKEY_free(cli_key);
    if (!ok)
        testcerts_free(tc);
    return ok;
}

#endif
