/* libFuzzer harness: the HTTP proxy's message parser. The input is taken
 * as a request head (then its target and rewrite), as a response head,
 * and as a chunked body fed whole and byte by byte, which must agree; the
 * cheap "may a head end here" hint must never miss a head the parser takes. */
#include <stdint.h>
#include <stdlib.h>

#include "http_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(const uint8_t *data, size_t size)
{
	struct http_body whole, bytes;
	ssize_t n_whole;
	size_t n_bytes = 0;
	int bad = 0;

	http_body_init(&whole, HTTP_BODY_CHUNKED, 0);
	http_body_init(&bytes, HTTP_BODY_CHUNKED, 0);
	n_whole = http_body_scan(&whole, data, size);
	for (size_t i = 0; i < size && !bytes.done; i++) {
		ssize_t n = http_body_scan(&bytes, data + i, 1);
		if (n < 0) {
			bad = 1;
			break;
		}
		n_bytes += (size_t)n;
	}
	if ((n_whole < 0) != bad ||
	    (!bad && ((size_t)n_whole != n_bytes || whole.done != bytes.done)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head h;
	struct http_target t;
	uint8_t out[HTTP_HEAD_MAX + 512];
	const char *why;

	if (http_parse_request(data, size, &h) == HTTP_PARSE_DONE) {
		/* the hint never misses a whole head, wherever the last look was */
		if (h.len > size || !http_head_may_end(data, 0, h.len) ||
		    !http_head_may_end(data, h.len / 2, h.len) ||
		    !http_head_may_end(data, h.len - 1, h.len))
			abort();
		if (http_request_target(data, &h, &t, &why) == 0 && !t.is_connect &&
		    http_rewrite_request(data, &h, &t, 1, size & 2, "X: y\r\n", out, sizeof(out)) <
			0)
			abort(); /* a head that fit fits rewritten, with room for Host */
	} else if (h.error &&
		   !(h.error == 400 || h.error == 414 || h.error == 431 || h.error == 505)) {
		abort();
	}
	if (http_parse_response(data, size, size & 1, &h) == HTTP_PARSE_DONE) {
		if (h.len > size || http_rewrite_response(data, &h, 1, 0, 1, out, sizeof(out)) < 0)
			abort();
	}
	check_body(data, size);
	return 0;
}
