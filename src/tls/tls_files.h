/**
 * tls_files.h - the contexts of Go Veneur's `tls:` block (util/tls: ca_file,
 * cert_file, key_file, server_name; file *paths*, unlike the tls_* keys of
 * tls.h, which carry PEM text), for gRPC over HTTP/2:
 *
 *   client (a local's forward_address, veneur-proxy's destinations): verifies
 *     the server against ca_file, presents cert_file/key_file when asked.
 *   server (veneur-proxy's grpc_tls_address): presents cert_file/key_file,
 *     selects ALPN "h2" (grpc-go clients insist on it), and requires a client
 *     certificate that chains to ca_file (mutual TLS). Go's proxy builds its
 *     tls.Config with RootCAs only, so it asks for no client certificate;
 *     veneur-c refuses such clients (docs/behaviour.md 0).
 *
 * Each file is read whole, at most VN_TLS_FILE_MAX bytes. The returned
 * SSL_CTX is owned by the caller (SSL_CTX_free) and safe to share between
 * threads.
 */
#ifndef VN_TLS_TLS_FILES_H
#define VN_TLS_TLS_FILES_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "core/err.h"

/** Largest PEM file read (bytes). */
#define VN_TLS_FILE_MAX (1u << 20)

/**
 * Reads path into an owned NUL-terminated string (free). key names the
 * setting in the error ("tls.<key> <path>: why"). @return NULL on failure.
 */
char *vn_tls_file_read(const char *key, const char *path, char *errbuf, size_t errcap);

/**
 * Client context from the three files (all paths borrowed, all required).
 * @return VN_OK with *out owned, VN_ERR_CONFIG (unreadable or bad PEM, reason
 *   in errbuf naming the tls.* key), VN_ERR_NOMEM.
 */
vn_err_t vn_tls_files_client_ctx(const char *ca_file, const char *cert_file, const char *key_file, SSL_CTX **out,
                                 char *errbuf, size_t errcap);

/** Server context (mutual TLS, ALPN h2) from the three files; same contract as the client's. */
vn_err_t vn_tls_files_server_ctx(const char *ca_file, const char *cert_file, const char *key_file, SSL_CTX **out,
                                 char *errbuf, size_t errcap);

/**
 * A client context from a veneur-c block of the same three paths
 * (veneur-proxy's forward_tls): ca_file ""/NULL = the system trust store;
 * cert_file and key_file both set (a client certificate is presented when
 * asked) or both empty (none). block names the block in errors
 * ("forward_tls.ca_file <path>: why"). Paths borrowed.
 * @return VN_OK with *out owned, VN_ERR_CONFIG, VN_ERR_NOMEM.
 */
vn_err_t vn_tls_files_client_ctx_block(const char *block, const char *ca_file, const char *cert_file,
                                       const char *key_file, SSL_CTX **out, char *errbuf, size_t errcap);

/**
 * A gRPC server context from PEM *contents* (the daemon's tls_key,
 * tls_certificate, tls_authority_certificate; tls.h's
 * vn_tls_server_ctx_new, whose contract this keeps) that also selects ALPN
 * "h2": the global's grpc_tls_address. ca_pem ""/NULL = no client
 * certificate asked for; else one chaining to it is required (mutual TLS).
 */
vn_err_t vn_tls_grpc_server_ctx_pem(const char *key_pem, const char *cert_pem, const char *ca_pem, SSL_CTX **out,
                                    char *errbuf, size_t errcap);

#endif
