/* libFuzzer harness: the control socket's request line. Whatever the bytes,
 * the parse stays inside them, and what it returns is consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req;
	int rc = control_request_parse((const char *)data, size, &req);

	if (rc != 0 && rc != -1)
		abort();
	if (rc == -1)
		return 0;
	if (req.verb > CONTROL_UNKNOWN)
		abort();
	if (memchr(req.group, '\0', sizeof(req.group)) == NULL ||
	    memchr(req.member, '\0', sizeof(req.member)) == NULL)
		abort();
	if (req.verb == CONTROL_UPSTREAM_USE && !req.usage_error &&
	    (!req.group[0] || !req.member[0] || strchr(req.group, ' ') || strchr(req.member, ' ')))
		abort();
	return 0;
}
