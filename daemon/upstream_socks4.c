/* SOCKS4 and SOCKS4a client handshake. SOCKS4 carries IPv4 only; 4a adds a
 * host name, used only when one is known (never for intercepted flows). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "codec_collect.h"
#include "upstream.h"

int upstream_socks4_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			  const struct upstream_target *t)
{
	uint8_t *p = hs->out;
	size_t n = 0, ul = url->has_user ? strlen(url->user) : 0;
	int by_name = t->hostname && url->kind == UPSTREAM_SOCKS4A;
	uint16_t port;

	if (t->name_only && !by_name) {
		upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0,
			      "socks4 cannot carry a host name (a fake-IP flow): use socks4a");
		return -1;
	}
	if (!by_name && t->addr.ss_family != AF_INET) {
		upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0, "%s cannot carry an IPv6 target",
			      upstream_kind_name(url->kind));
		return -1;
	}
	if (by_name && (strlen(t->hostname) == 0 || strlen(t->hostname) > 255)) {
		upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0, "bad host name length");
		return -1;
	}
	port = by_name ? t->port : ntohs(((const struct sockaddr_in *)&t->addr)->sin_port);
	p[n++] = 0x04;
	p[n++] = 0x01; /* CONNECT */
	p[n++] = (uint8_t)(port >> 8);
	p[n++] = (uint8_t)port;
	if (by_name) {
		/* 0.0.0.x with x != 0 tells a 4a server a name follows the user id */
		static const uint8_t marker[4] = { 0, 0, 0, 1 };
		memcpy(p + n, marker, 4);
	} else {
		memcpy(p + n, &((const struct sockaddr_in *)&t->addr)->sin_addr, 4);
	}
	n += 4;
	memcpy(p + n, url->user, ul);
	n += ul;
	p[n++] = 0x00;
	if (by_name) {
		size_t hl = strlen(t->hostname);
		memcpy(p + n, t->hostname, hl);
		n += hl;
		p[n++] = 0x00;
	}
	hs->out_len = n;
	hs->have = 0;
	hs->need = 8;
	return 0;
}

enum upstream_result upstream_socks4_feed(struct upstream_handshake *hs, const uint8_t *in,
					  size_t len, size_t *consumed)
{
	if (hs->stage)
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0, "socks4: fed after done");
	*consumed = codec_collect(hs->msg, &hs->have, hs->need, in, len);
	if (hs->have < hs->need)
		return UPSTREAM_MORE;

	/* The reply version is 0 by the protocol; some servers echo 4. */
	if (hs->msg[0] != 0x00 && hs->msg[0] != 0x04)
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0, "socks4: bad reply version %#x",
				     hs->msg[0]);
	switch (hs->msg[1]) {
	case 90:
		hs->stage = 1;
		return UPSTREAM_DONE;
	case 91:
		return upstream_fail(hs, UPSTREAM_FAIL_REFUSED, 91,
				     "socks4: request rejected or failed (91)");
	case 92:
		return upstream_fail(hs, UPSTREAM_FAIL_AUTH, 92,
				     "socks4: rejected, identd unreachable (92)");
	case 93:
		return upstream_fail(hs, UPSTREAM_FAIL_AUTH, 93,
				     "socks4: rejected, identd user id mismatch (93)");
	default:
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, hs->msg[1],
				     "socks4: unknown reply code %d", hs->msg[1]);
	}
}
