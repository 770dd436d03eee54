/**
 * tls.h - OpenSSL contexts for the statsd TCP listener (server side) and for
 * tests and tools that talk to it (client side).
 *
 * Config keys (docs/behaviour.md 4.2) hold PEM *contents*, not paths, as in Go Veneur:
 *   tls_key                    private key (PEM; PKCS#8, PKCS#1 RSA or SEC1 EC)
 *   tls_certificate            certificate, optionally followed by its chain
 *   tls_authority_certificate  CA bundle; when set, clients must present a
 *                              certificate that chains to it
 * TLS is on iff tls_key is non-empty (Go's rule); then the TCP listeners accept
 * only TLS. Contexts allow TLS 1.2 and 1.3 only. Encrypted keys are rejected
 * (OpenSSL is never allowed to prompt for a passphrase).
 *
 * An SSL_CTX is reference-counted and safe to share between threads once built;
 * free it with SSL_CTX_free (NULL ok).
 */
#ifndef VN_TLS_TLS_H
#define VN_TLS_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "core/err.h"

/**
 * Builds the server context for statsd TCP listeners.
 *
 * @arg key_pem   tls_key contents; must be non-empty (callers enable TLS only then).
 * @arg cert_pem  tls_certificate contents: leaf first, then any intermediates.
 * @arg ca_pem    tls_authority_certificate contents; NULL or "" = no client
 *                certificates asked for. Otherwise every CERTIFICATE block that
 *                parses is trusted (others are skipped, as Go's AppendCertsFromPEM
 *                does) and clients without a certificate chaining to one of them
 *                fail the handshake.
 * All three are borrowed; nothing is kept after the call.
 * @arg out       receives an owned SSL_CTX (free with SSL_CTX_free); NULL on error.
 * @arg errbuf    one-line reason on failure (may be NULL):
 *                "tls_key is set; must set tls_certificate",
 *                "tls_authority_certificate: Could not load any certificates",
 *                or "tls_key: ..."/"tls_certificate: ..." with OpenSSL's error text.
 * @return VN_OK, VN_ERR_CONFIG for bad or missing PEM, VN_ERR_NOMEM if OpenSSL
 *         could not allocate. Thread-safe.
 */
vn_err_t vn_tls_server_ctx_new(const char *key_pem, const char *cert_pem, const char *ca_pem, SSL_CTX **out,
                               char *errbuf, size_t errcap);

/**
 * Builds a client context (tests, tools, e2e peers).
 *
 * @arg ca_pem    CA bundle that must sign the server's certificate; NULL or "" =
 *                the system's default trust store. The peer is always verified.
 * @arg cert_pem  client certificate (+ chain), or NULL/"" for none.
 * @arg key_pem   its private key; NULL/"" exactly when cert_pem is.
 * All borrowed. `out` receives an owned SSL_CTX (SSL_CTX_free).
 * Host checking is per connection: see vn_tls_set_peer_name.
 * @return VN_OK, VN_ERR_CONFIG, VN_ERR_NOMEM. Thread-safe.
 */
vn_err_t vn_tls_client_ctx_new(const char *ca_pem, const char *cert_pem, const char *key_pem, SSL_CTX **out,
                               char *errbuf, size_t errcap);

/**
 * Makes a client connection verify that the server certificate names `name`:
 * an IP literal ("127.0.0.1", "::1") is matched against IP subjectAltNames, any
 * other string against DNS names and sent as SNI. Call before SSL_connect.
 * `name` is copied. @return VN_OK, or VN_ERR_CONFIG if OpenSSL refused it.
 */
vn_err_t vn_tls_set_peer_name(SSL *ssl, const char *name);

#endif
