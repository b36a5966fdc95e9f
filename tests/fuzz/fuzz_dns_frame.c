/* libFuzzer harness: RFC 7766 framing of what a DNS client (or server)
 * sent over TCP. Every whole message taken lies inside what came, and
 * framing the messages again gives back exactly the bytes they were
 * taken from. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_frames in = { 0 }, again = { 0 };
	const uint8_t *msg;
	size_t off = 0, len;

	in.in = malloc(size ? size : 1);
	if (!in.in)
		return 0;
	memcpy(in.in, data, size);
	in.in_len = size;
	while (dns_frames_next(&in, &off, &msg, &len)) {
		if (msg < in.in || msg + len > in.in + size || off > size)
			abort();
		if (dns_frames_put(&again, msg, len, 1u << 24) < 0)
			abort();
	}
	if (again.out_len != off || (off && memcmp(again.out, data, off)))
		abort();
	dns_frames_consume(&in, off);
	if (in.in_len != size - off || (in.in_len && memcmp(in.in, data + off, in.in_len)))
		abort();
	dns_frames_free(&in);
	dns_frames_free(&again);
	return 0;
}
