/* libFuzzer harness: the SOCKS server handshake state machine fed hostile
 * client bytes. The first input byte picks whether a password is required,
 * the auth verdict and the read size, so partial reads are fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct socks_handshake hs;
	uint8_t out[SOCKS_HANDSHAKE_OUT_MAX];
	enum socks_handshake_result res = SOCKS_HS_MORE;
	size_t off = 1, chunk;

	if (size < 1)
		return 0;
	socks_handshake_init(&hs, data[0] & 1);
	chunk = (size_t)(data[0] >> 2) + 1;
	while (off < size && (res == SOCKS_HS_MORE || res == SOCKS_HS_AUTH)) {
		size_t n = size - off < chunk ? size - off : chunk;
		size_t consumed = 0, out_len = 0;

		if (res == SOCKS_HS_AUTH) {
			if (!hs.password_required)
				abort(); /* no verifier exists to answer this */
			if (!memchr(hs.user, '\0', sizeof(hs.user)) || !hs.user[0])
				abort(); /* credentials must be NUL-terminated, user non-empty */
			socks_handshake_auth_done(&hs, data[0] & 2, out, &out_len);
			if (out_len != 2)
				abort();
			if (!(data[0] & 2))
				break;
			out_len = 0;
		}
		res = socks_handshake_feed(&hs, data + off, n, &consumed, out, &out_len);
		if (consumed > n || out_len > SOCKS_HANDSHAKE_OUT_MAX)
			abort();
		if (res == SOCKS_HS_MORE && consumed != n)
			abort(); /* MORE must take every byte it was given */
		off += consumed;
	}
	if (res == SOCKS_HS_REQUEST) {
		if (hs.cmd < SOCKS_CMD_CONNECT || hs.cmd > SOCKS_CMD_UDP_ASSOCIATE)
			abort();
		if (hs.target.hostname &&
		    (strlen(hs.target.hostname) == 0 || strlen(hs.target.hostname) > 255 ||
		     !socks_host_valid((const uint8_t *)hs.target.hostname,
				       strlen(hs.target.hostname))))
			abort(); /* nothing a CONNECT line or a log could misread */
	}
	if (res == SOCKS_HS_ERROR && !hs.reason[0])
		abort();
	return 0;
}
