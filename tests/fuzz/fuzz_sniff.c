/* libFuzzer harness: the TLS ClientHello and HTTP head sniffers, and the
 * name normalization routing by name uses. Every
 * prefix of the input is tried as what has arrived so far: a name found
 * must be a valid name, and once found it stays found as more arrives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"
#include "sockgate/domains.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(enum sniff_result r, const char *name)
{
	char again[SNIFF_NAME_MAX + 1];

	if (r == SNIFF_FOUND && domain_normalize(name, again) < 0)
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
	/* the input as a name a client asks for: a normal form is its own */
	if (size <= DOMAIN_NAME_MAX + 1) {
		char s[DOMAIN_NAME_MAX + 2], norm[DOMAIN_NAME_MAX + 1], again[DOMAIN_NAME_MAX + 1];
		memcpy(s, data, size);
		s[size] = '\0';
		if (domain_normalize(s, norm) == 0 &&
		    (domain_normalize(norm, again) < 0 || strcmp(norm, again)))
			abort();
	}
	return 0;
}
