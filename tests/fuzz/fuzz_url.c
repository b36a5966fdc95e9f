/* libFuzzer harness: upstream URL parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upstream_url url;
	char err[160];
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (url_parse(s, &url, err, sizeof(err)) == 0) {
		/* what parsed must be within its bounds */
		if (strlen(url.host) > URL_HOST_MAX || strlen(url.user) > URL_CRED_MAX ||
		    strlen(url.pass) > URL_CRED_MAX)
			abort();
		if (url.kind != UPSTREAM_DIRECT && (url.port == 0 || url.host[0] == '\0'))
			abort();
	}
	free(s);
	return 0;
}
