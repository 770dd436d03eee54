/**
 * s3.h - the "s3" metric sink (Go's sinks/s3): each flush becomes one
 * gzip'd, tab-separated object in an S3 bucket (module-internal to
 * src/sinks/; s3.c).
 *
 * Rows are the localfile sink's CSV rows (vn_sink__csv_row) with a tab
 * delimiter and no header row, as Go's util.EncodeInterMetricsCSV writes
 * them for S3. Object keys follow Go's S3Path: "YYYY/MM/DD/HOSTNAME/UNIX.tsv.gz"
 * (UTC date of the flush, the configured hostname, the flush's unix seconds).
 * When the flusher hands one interval over in several chunks (flush/flusher.h),
 * the second and later chunks go to "UNIX-K.tsv.gz" (K = 1, 2, ...) instead of
 * overwriting the first.
 *
 * Upload: PUT {endpoint}/{bucket}/{key} (path style) or, without s3_endpoint,
 * https://{bucket}.s3.{region}.amazonaws.com/{key}, signed with AWS SigV4 by
 * libcurl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"), through the delivery queue
 * (delivery.h: retries, age limit, byte cap).
 */
#ifndef VN_SINKS_S3_H
#define VN_SINKS_S3_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "sinks/sink.h"

/** Cap on one object's uncompressed TSV (a flush chunk is far smaller). */
#define VN_S3_RAW_CAP ((size_t)128 << 20)

/** The registry's constructor for kind "s3" (sink_internal.h contract). */
vn_err_t vn_sink__s3_new(vn_sink_t *s, const vn_sink_config_t *sc, const vn_config_t *cfg, char *errbuf,
                         size_t errcap);

/**
 * Writes the object key for a flush at unix time ts of hostname into out
 * (cap bytes): "YYYY/MM/DD/HOSTNAME/TS.tsv.gz", or "TS-K.tsv.gz" for chunk
 * k > 0 of the same flush. Returns the length, or 0 if it does not fit.
 */
size_t vn_s3__key(char *out, size_t cap, const char *hostname, int64_t ts, unsigned k);

/**
 * Appends key to b with every byte outside RFC 3986's unreserved set and '/'
 * percent-encoded (what SigV4 signs as the canonical URI of an S3 object).
 */
vn_err_t vn_s3__escape_key(vn_buf_t *b, const char *key);

#endif
