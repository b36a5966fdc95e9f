/* libFuzzer harness: the small endpoints' request parser (metrics, PAC).
 * Every prefix of an input is judged too, as the bytes arrive in pieces. */
#include <stdint.h>
#include <stdlib.h>

#include "http_get.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = { "/metrics", "/proxy.pac", "/wpad.dat" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t which = 99;
	enum http_get_verdict whole = http_get_parse((const char *)data, size, paths, 3, &which);

	if (whole != HTTP_GET_INCOMPLETE && whole != HTTP_GET_OK && whole != HTTP_GET_BAD_REQUEST &&
	    whole != HTTP_GET_NOT_FOUND && whole != HTTP_GET_METHOD_NOT_ALLOWED &&
	    whole != HTTP_GET_TOO_LARGE && whole != HTTP_GET_BAD_VERSION)
		abort();
	if (whole == HTTP_GET_OK && which > 2)
		abort();
	/* a verdict, once reached, does not change with more bytes */
	for (size_t n = 0; n < size && n < 512; n++) {
		enum http_get_verdict part =
		    http_get_parse((const char *)data, n, paths, 3, &which);
		if (part != HTTP_GET_INCOMPLETE && part != whole && whole != HTTP_GET_TOO_LARGE)
			abort();
	}
	return 0;
}
