/* libFuzzer harness: an upstream handshake codec fed a hostile reply.
 * Built once per protocol with FUZZ_URL set to that protocol's URL. The
 * first input byte picks pipelining, target family (or, both bits set, a
 * UDP ASSOCIATE), chunk size, and (top bit) a health check's exchange
 * with no request, so partial reads are exercised as well as whole ones. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upstream.h"

#ifndef FUZZ_URL
#error "FUZZ_URL must name the upstream URL under test"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct upstream_handshake hs;
	static uint8_t out[UPSTREAM_OUT_MAX];
	struct upstream_url url;
	struct upstream_target target;
	char err[160];
	size_t chunk, off = 1;
	int udp, check;
	enum upstream_result res = UPSTREAM_MORE;

	if (size < 1)
		return 0;
	if (url_parse(FUZZ_URL, &url, err, sizeof(err)))
		abort();
	memset(&target, 0, sizeof(target));
	if (data[0] & 2) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&target.addr;
		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
		sin6->sin6_port = htons(443);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&target.addr;
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
		sin->sin_port = htons(443);
	}
	if (data[0] & 4) {
		target.hostname = "example.org";
		target.port = 443;
	}
	chunk = (size_t)((data[0] >> 3) & 0xf) + 1;
	udp = (data[0] & 6) == 6;
	check = (data[0] & 0x80) != 0;
	if (check ? upstream_handshake_begin_check(&hs, &url, data[0] & 1, out) < 0
	    : udp ? upstream_handshake_begin_udp(&hs, &url, data[0] & 1, out) < 0
		  : upstream_handshake_begin(&hs, &url, &target, data[0] & 1, out) < 0)
		return 0;
	while (off < size && res == UPSTREAM_MORE) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t consumed = 0;
		res = upstream_handshake_feed(&hs, data + off, n, &consumed, out);
		if (consumed > n || hs.out_len > UPSTREAM_OUT_MAX)
			abort();
		if (res == UPSTREAM_MORE && consumed != n)
			abort(); /* MORE must take every byte it was given */
		hs.out_len = 0;
		off += consumed;
	}
	if (res == UPSTREAM_ERROR && hs.reason[0] == '\0')
		abort();
	if (check && res == UPSTREAM_DONE && off > 1 + 4)
		abort(); /* a check is done after the method reply (2) and auth status (2) */
	if (!check && udp && res == UPSTREAM_DONE) {
		struct sockaddr_storage bnd;
		uint16_t port;
		if (upstream_socks5_bound(&hs, &bnd, &port) == 0 && bnd.ss_family != AF_INET &&
		    bnd.ss_family != AF_INET6)
			abort();
	}
	return 0;
}
