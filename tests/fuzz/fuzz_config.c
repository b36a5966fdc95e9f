/* libFuzzer harness: sockgate.conf loader (libinih + validation). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* resolve = 0: no name lookups from the fuzzer */
	if (config_load_string("fuzz.conf", text, 0, &cfg, NULL) == 0) {
		if (!cfg || !cfg->default_upstream || cfg->n_upstreams < 1)
			abort();
		config_free(cfg);
	} else if (cfg) {
		abort();
	}
	free(text);
	return 0;
}
