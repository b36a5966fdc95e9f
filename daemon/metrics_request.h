/* The request the metrics endpoint takes: HTTP/1.x GET /metrics, judged
 * from untrusted bytes without allocating. */
#ifndef SOCKGATE_METRICS_REQUEST_H
#define SOCKGATE_METRICS_REQUEST_H

#include <stddef.h>

/* What a request (its bytes so far) asks for: an HTTP status to answer
 * with, or 0 while the header block is not complete. */
enum metrics_verdict {
	METRICS_INCOMPLETE = 0,
	METRICS_OK = 200,
	METRICS_BAD_REQUEST = 400,
	METRICS_NOT_FOUND = 404,
	METRICS_METHOD_NOT_ALLOWED = 405,
	METRICS_TOO_LARGE = 431,
	METRICS_BAD_VERSION = 505,
};

/* The largest request header block taken. */
#define METRICS_REQUEST_MAX 4096

/* Judges the request in buf[0..len): strict about the request line (GET,
 * /metrics with an optional query, HTTP/1.0 or 1.1) and the header lines
 * (name: value, no control bytes); the body is never read. */
enum metrics_verdict metrics_parse_request(const char *buf, size_t len);

#endif
