/* The requests the router's small HTTP endpoints take (metrics, PAC):
 * HTTP/1.x GET of one of a few paths, judged from untrusted bytes without
 * allocating, and the whole answer in one buffer. */
#ifndef SOCKGATE_HTTP_GET_H
#define SOCKGATE_HTTP_GET_H

#include <stddef.h>
#include <stdio.h>

/* What a request (its bytes so far) asks for: an HTTP status to answer
 * with, or 0 while the header block is not complete. */
enum http_get_verdict {
	HTTP_GET_INCOMPLETE = 0,
	HTTP_GET_OK = 200,
	HTTP_GET_BAD_REQUEST = 400,
	HTTP_GET_FORBIDDEN = 403,
	HTTP_GET_NOT_FOUND = 404,
	HTTP_GET_METHOD_NOT_ALLOWED = 405,
	HTTP_GET_TOO_LARGE = 431,
	HTTP_GET_BAD_VERSION = 505,
};

/* The largest request header block taken. */
#define HTTP_GET_REQUEST_MAX 4096

/* Judges the request in buf[0..len): strict about the request line (GET,
 * one of the n paths with an optional query, HTTP/1.0 or 1.1) and the
 * header lines (name: value, no control bytes); the body is never read.
 * On HTTP_GET_OK, *which is the index of the path asked for. */
enum http_get_verdict http_get_parse(const char *buf, size_t len, const char *const *paths,
				     size_t n, size_t *which);
/* The status line's reason phrase. */
const char *http_get_reason(enum http_get_verdict v);
/* "HTTP/1.1 STATUS ..." with Content-Type type and Content-Length, then
 * body (for a status other than 200: a line naming it, whatever body is),
 * in one malloc'd buffer; 0, or -1 when out of memory. */
int http_get_response(enum http_get_verdict v, const char *type, const char *body, size_t body_len,
		      char **resp, size_t *resp_len);
/* The same with the body of a 200 written by render (0, or -1 to give
 * up) to a memory stream. 0, or -1. */
int http_get_answer(enum http_get_verdict v, const char *type, int (*render)(void *arg, FILE *out),
		    void *arg, char **resp, size_t *resp_len);

#endif
