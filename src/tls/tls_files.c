/*
 * tls_files.c - Go's `tls:` block (ca_file, cert_file, key_file) into
 * OpenSSL contexts for gRPC (see tls_files.h). The PEM handling is tls.c's;
 * this file reads the files and adds what HTTP/2 needs (ALPN).
 */
#include "tls/tls_files.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "tls/tls.h"

/* Reads path whole; errors name the setting as block.key. */
static char *read_named(const char *block, const char *key, const char *path, char *errbuf, size_t errcap)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(errbuf, errcap, "%s.%s %s: %s", block, key, path, strerror(errno));
        return NULL;
    }
    char *buf = vn_xmalloc(VN_TLS_FILE_MAX + 1);
    size_t n = fread(buf, 1, VN_TLS_FILE_MAX + 1, fp);
    bool bad = ferror(fp) != 0;
    fclose(fp);
    if (bad || n > VN_TLS_FILE_MAX) {
        snprintf(errbuf, errcap, "%s.%s %s: %s", block, key, path, bad ? "read error" : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

char *vn_tls_file_read(const char *key, const char *path, char *errbuf, size_t errcap)
{
    return read_named("tls", key, path, errbuf, errcap);
}

/* Picks "h2" from the client's ALPN list; a client that offers no ALPN at
 * all is let through (it may still speak HTTP/2 with prior knowledge). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    static const unsigned char h2[] = "\x02h2";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, h2, sizeof h2 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* it offered only other protocols: not a gRPC client */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static vn_err_t files_ctx(bool server, const char *ca_file, const char *cert_file, const char *key_file,
                          SSL_CTX **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    if (!ca_file || !ca_file[0] || !cert_file || !cert_file[0] || !key_file || !key_file[0]) {
        snprintf(errbuf, errcap, "tls: ca_file, cert_file, and key_file must all be set");
        return VN_ERR_CONFIG;
    }
    char *ca = vn_tls_file_read("ca_file", ca_file, errbuf, errcap);
    char *cert = ca ? vn_tls_file_read("cert_file", cert_file, errbuf, errcap) : NULL;
    char *key = cert ? vn_tls_file_read("key_file", key_file, errbuf, errcap) : NULL;
    vn_err_t e = VN_ERR_CONFIG;
    if (key) {
        char why[256] = "";
        e = server ? vn_tls_server_ctx_new(key, cert, ca, out, why, sizeof why)
                   : vn_tls_client_ctx_new(ca, cert, key, out, why, sizeof why);
        if (e != VN_OK)
            snprintf(errbuf, errcap, "tls (ca_file %s, cert_file %s, key_file %s): %s", ca_file, cert_file,
                     key_file, why);
    }
    if (e == VN_OK && server)
        SSL_CTX_set_alpn_select_cb(*out, alpn_select, NULL);
    free(ca);
    free(cert);
    free(key);
    return e;
}

vn_err_t vn_tls_files_client_ctx(const char *ca_file, const char *cert_file, const char *key_file, SSL_CTX **out,
                                 char *errbuf, size_t errcap)
{
    return files_ctx(false, ca_file, cert_file, key_file, out, errbuf, errcap);
}

vn_err_t vn_tls_files_server_ctx(const char *ca_file, const char *cert_file, const char *key_file, SSL_CTX **out,
                                 char *errbuf, size_t errcap)
{
    return files_ctx(true, ca_file, cert_file, key_file, out, errbuf, errcap);
}

vn_err_t vn_tls_files_client_ctx_block(const char *block, const char *ca_file, const char *cert_file,
                                       const char *key_file, SSL_CTX **out, char *errbuf, size_t errcap)
{
    *out = NULL;
    bool has_cert = cert_file && cert_file[0], has_key = key_file && key_file[0];
    if (has_cert != has_key) {
        snprintf(errbuf, errcap, "%s: cert_file and key_file must be set together", block);
        return VN_ERR_CONFIG;
    }
    char *ca = NULL, *cert = NULL, *key = NULL;
    vn_err_t e = VN_ERR_CONFIG;
    if (ca_file && ca_file[0] && !(ca = read_named(block, "ca_file", ca_file, errbuf, errcap)))
        goto out;
    if (has_cert && !(cert = read_named(block, "cert_file", cert_file, errbuf, errcap)))
        goto out;
    if (has_key && !(key = read_named(block, "key_file", key_file, errbuf, errcap)))
        goto out;
    char why[256] = "";
    e = vn_tls_client_ctx_new(ca, cert, key, out, why, sizeof why);
    if (e != VN_OK)
        snprintf(errbuf, errcap, "%s (ca_file %s, cert_file %s, key_file %s): %s", block, ca_file ? ca_file : "",
                 has_cert ? cert_file : "", has_key ? key_file : "", why);
out:
    free(ca);
    free(cert);
    free(key);
    return e;
}

vn_err_t vn_tls_grpc_server_ctx_pem(const char *key_pem, const char *cert_pem, const char *ca_pem, SSL_CTX **out,
                                    char *errbuf, size_t errcap)
{
    vn_err_t e = vn_tls_server_ctx_new(key_pem, cert_pem, ca_pem, out, errbuf, errcap);
    if (e == VN_OK)
        SSL_CTX_set_alpn_select_cb(*out, alpn_select, NULL);
    return e;
}
