/* libFuzzer harness: the SOCKS users file parser. */
#include <stdint.h>
#include <stdlib.h>

#include "users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct users *u = NULL;

	if (users_parse("fuzz", (const char *)data, size, &u, NULL) == 0) {
		if (!u)
			abort();
		/* every parsed entry can be found again */
		users_find(u, "alice");
		users_free(u);
	} else if (u) {
		abort();
	}
	return 0;
}
