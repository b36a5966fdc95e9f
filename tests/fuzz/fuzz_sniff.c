/* libFuzzer harness: the TLS ClientHello and HTTP head sniffers. Every
 * prefix of the input is tried as what has arrived so far: a name found
 * must be a valid name, and once found it stays found as more arrives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(enum sniff_result r, const char *name)
{
	char again[SNIFF_NAME_MAX + 1];

	if (r == SNIFF_FOUND && !sniff_valid_name(name, strlen(name), again))
		abort();
	if (r == SNIFF_FOUND && strcmp(name, again))
		abort(); /* a found name is already in its final form */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[SNIFF_NAME_MAX + 1];
	enum sniff_result tls = SNIFF_MORE, http = SNIFF_MORE;

	/* the whole input, and a few prefixes (every one would be slow) */
	for (size_t n = size;; n = n / 2) {
		enum sniff_result t = sniff_tls(data, n, name), h;
		check(t, name);
		h = sniff_http(data, n, name);
		check(h, name);
		/* a shorter prefix never finds what the whole refused, but may
		 * still be "more"; a longer one never goes back to "more" */
		if (n < size &&
		    ((t == SNIFF_FOUND && tls == SNIFF_NOTHING) ||
		     (h == SNIFF_FOUND && http == SNIFF_NOTHING && size <= SNIFF_HTTP_MAX)))
			abort();
		if (n == size) {
			tls = t;
			http = h;
		}
		check(sniff_name(SNIFF_TLS | SNIFF_HTTP, data, n, name), name);
		if (n == 0)
			break;
	}
	return 0;
}
