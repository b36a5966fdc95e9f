/* libFuzzer harness: the SOCKS5 UDP datagram header parser, fed what any
 * host on the LAN can send to an association's port. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upstream_target t;
	char host[256];
	size_t hdr = 0;
	const char *why = NULL;
	uint8_t out[SOCKS_UDP_HEADER_MAX];

	if (socks_udp_parse(data, size, &t, host, &hdr, &why) < 0) {
		if (!why)
			abort();
		return 0;
	}
	if (hdr > size || hdr < 8) /* a one-byte name: 4 + 1 + 1 + 2 */
		abort();
	if (t.hostname) {
		if (t.hostname != host || !strlen(host) || strlen(host) > 255 || !t.port)
			abort();
	} else {
		/* an address header re-encodes to the same bytes */
		size_t n = socks_udp_header(&t.addr, out);
		if (n != hdr || memcmp(out, data, n))
			abort();
	}
	return 0;
}
