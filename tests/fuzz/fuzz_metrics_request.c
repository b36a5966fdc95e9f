/* libFuzzer harness: the metrics endpoint's request parser. Every prefix
 * of an input is judged too, as the bytes arrive in pieces. */
#include <stdint.h>
#include <stdlib.h>

#include "metrics_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum metrics_verdict whole = metrics_parse_request((const char *)data, size);

	if (whole != METRICS_INCOMPLETE && whole != METRICS_OK && whole != METRICS_BAD_REQUEST &&
	    whole != METRICS_NOT_FOUND && whole != METRICS_METHOD_NOT_ALLOWED &&
	    whole != METRICS_TOO_LARGE && whole != METRICS_BAD_VERSION)
		abort();
	/* a verdict, once reached, does not change with more bytes */
	for (size_t n = 0; n < size && n < 512; n++) {
		enum metrics_verdict part = metrics_parse_request((const char *)data, n);
		if (part != METRICS_INCOMPLETE && part != whole && whole != METRICS_TOO_LARGE)
			abort();
	}
	return 0;
}
