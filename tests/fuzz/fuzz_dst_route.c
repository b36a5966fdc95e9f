/* libFuzzer harness: the parser of the kernel's RTM_GETROUTE answers (the
 * destination guard's verdicts depend on it) fed arbitrary bytes; the
 * first four bytes are the sequence number asked for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dst_guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dst_route r = { .kind = DST_ROUTED, .oif = -1 };
	uint32_t seq;
	uint8_t *copy;
	int rc;

	if (size < 4)
		return 0;
	memcpy(&seq, data, 4);
	/* aligned, as a receive buffer is */
	copy = malloc(size - 4 ? size - 4 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 4, size - 4);
	rc = dst_route_parse(copy, size - 4, seq, &r);
	if (rc > 0)
		abort(); /* 0 or -errno only */
	if (rc == 0 && r.kind != DST_ROUTED && r.kind != DST_CONNECTED && r.kind != DST_LOCAL)
		abort();
	free(copy);
	return 0;
}
