/* SOCKS5 client handshake (RFC 1928, RFC 1929 username/password). We offer
 * exactly one method, so the reply can be predicted and, when pipelined, the
 * greeting, the credentials and the request leave in one segment. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "sockgate/addr.h"
#include "codec_collect.h"
#include "socks5_addr.h"
#include "upstream.h"

enum {
	S5_METHOD, /* waiting for VER METHOD */
	S5_AUTH,   /* waiting for VER STATUS (RFC 1929) */
	S5_REPLY,  /* waiting for VER REP RSV ATYP BND.ADDR BND.PORT */
	S5_DONE,
};

static const char *socks5_rep_text(int rep, enum upstream_failure *failure)
{
	switch (rep) {
	case 0x01:
		*failure = UPSTREAM_FAIL_OTHER;
		return "general failure";
	case 0x02:
		*failure = UPSTREAM_FAIL_DENIED;
		return "connection not allowed by ruleset";
	case 0x03:
		*failure = UPSTREAM_FAIL_UNREACHABLE;
		return "network unreachable";
	case 0x04:
		*failure = UPSTREAM_FAIL_UNREACHABLE;
		return "host unreachable";
	case 0x05:
		*failure = UPSTREAM_FAIL_REFUSED;
		return "connection refused";
	case 0x06:
		*failure = UPSTREAM_FAIL_UNREACHABLE;
		return "TTL expired";
	case 0x07:
		*failure = UPSTREAM_FAIL_PROTOCOL;
		return "command not supported";
	case 0x08:
		*failure = UPSTREAM_FAIL_UNSUPPORTED;
		return "address type not supported";
	default:
		*failure = UPSTREAM_FAIL_PROTOCOL;
		return "unknown reply code";
	}
}

/* Encodes the RFC 1929 request at p; returns its length. */
static size_t socks5_encode_auth(uint8_t *p, const struct upstream_url *url)
{
	size_t n = 0, ul = strlen(url->user), pl = strlen(url->pass);

	p[n++] = 0x01;
	p[n++] = (uint8_t)ul;
	memcpy(p + n, url->user, ul);
	n += ul;
	p[n++] = (uint8_t)pl;
	memcpy(p + n, url->pass, pl);
	return n + pl;
}

/* Encodes the CONNECT request for target at p; returns its length or 0. */
static size_t socks5_encode_request(uint8_t *p, const struct upstream_url *url,
				    const struct upstream_target *t, uint8_t command)
{
	size_t n = 0;
	uint16_t port;

	p[n++] = 0x05;
	p[n++] = command;
	p[n++] = 0x00;
	if (t->hostname && (url->kind == UPSTREAM_SOCKS5H || t->name_only)) {
		size_t hl = strlen(t->hostname);
		if (hl == 0 || hl > 255)
			return 0;
		p[n++] = 0x03;
		p[n++] = (uint8_t)hl;
		memcpy(p + n, t->hostname, hl);
		n += hl;
		port = t->port;
	} else if (t->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&t->addr;
		p[n++] = 0x01;
		memcpy(p + n, &sin->sin_addr, 4);
		n += 4;
		port = ntohs(sin->sin_port);
	} else if (t->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&t->addr;
		p[n++] = 0x04;
		memcpy(p + n, &sin6->sin6_addr, 16);
		n += 16;
		port = ntohs(sin6->sin6_port);
	} else {
		return 0;
	}
	p[n++] = (uint8_t)(port >> 8);
	p[n++] = (uint8_t)port;
	return n;
}

int upstream_socks5_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			  const struct upstream_target *target)
{
	uint8_t *p = hs->out;
	size_t n = 0, request_len;

	hs->with_auth = url->has_user;
	if (hs->with_auth &&
	    (strlen(url->user) == 0 || strlen(url->user) > 255 || strlen(url->pass) > 255)) {
		upstream_fail(hs, UPSTREAM_FAIL_AUTH, 0, "bad credential length");
		return -1;
	}
	p[n++] = 0x05;
	p[n++] = 0x01;
	p[n++] = hs->with_auth ? 0x02 : 0x00;
	if (hs->pipelined && hs->with_auth)
		n += socks5_encode_auth(p + n, url);
	if (!hs->command) { /* a check: no request at all */
		hs->out_len = n;
		hs->stage = S5_METHOD;
		hs->have = 0;
		hs->need = 2;
		return 0;
	}
	/* Encoded even when not pipelined, to refuse an unsendable target now. */
	request_len = socks5_encode_request(p + n, url, target, hs->command);
	if (!request_len) {
		upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0,
			      "target cannot be sent over SOCKS5");
		return -1;
	}
	if (hs->pipelined)
		n += request_len;
	hs->out_len = n;
	hs->stage = S5_METHOD;
	hs->have = 0;
	hs->need = 2;
	return 0;
}

int upstream_socks5_begin_request(struct upstream_handshake *hs, const struct upstream_url *url,
				  const struct upstream_target *target)
{
	hs->with_auth = url->has_user;
	hs->out_len = socks5_encode_request(hs->out, url, target, hs->command);
	if (!hs->out_len) {
		upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0,
			      "target cannot be sent over SOCKS5");
		return -1;
	}
	hs->stage = S5_REPLY;
	hs->have = 0;
	hs->need = 5; /* up to the first address byte (domain length) */
	return 0;
}

/* Not pipelined: each message goes out once its predecessor is answered. */
static void socks5_send_next(struct upstream_handshake *hs, int auth)
{
	if (hs->pipelined)
		return;
	hs->out_len = auth ? socks5_encode_auth(hs->out, hs->url)
			   : socks5_encode_request(hs->out, hs->url, hs->target, hs->command);
}

/* The method reply (RFC 1928 section 3). */
static enum upstream_result socks5_on_method(struct upstream_handshake *hs, const uint8_t *m)
{
	if (m[0] != 0x05)
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
				     "socks5: bad version %#x in method reply", m[0]);
	if (m[1] == 0xff)
		return upstream_fail(hs, UPSTREAM_FAIL_AUTH, 0,
				     "socks5: no acceptable authentication method");
	if (m[1] != (hs->with_auth ? 0x02 : 0x00))
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
				     "socks5: server chose method %#x we did not offer", m[1]);
	if (!hs->with_auth && !hs->command) {
		hs->stage = S5_DONE; /* a check: the greeting was answered */
		return UPSTREAM_DONE;
	}
	hs->stage = hs->with_auth ? S5_AUTH : S5_REPLY;
	socks5_send_next(hs, hs->with_auth);
	hs->have = 0;
	hs->need = hs->stage == S5_AUTH ? 2 : 5;
	return UPSTREAM_MORE;
}

/* The username/password status (RFC 1929 section 2). */
static enum upstream_result socks5_on_auth(struct upstream_handshake *hs, const uint8_t *m)
{
	if (m[0] != 0x01)
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
				     "socks5: bad auth reply version %#x", m[0]);
	if (m[1] != 0x00)
		return upstream_fail(hs, UPSTREAM_FAIL_AUTH, m[1],
				     "socks5: username/password rejected");
	if (!hs->command) {
		hs->stage = S5_DONE; /* a check: the credentials were taken */
		return UPSTREAM_DONE;
	}
	socks5_send_next(hs, 0);
	hs->stage = S5_REPLY;
	hs->have = 0;
	hs->need = 5; /* up to the first address byte (domain length) */
	return UPSTREAM_MORE;
}

/* The reply's first five bytes: its code, and how long it is in all. */
static enum upstream_result socks5_on_reply_head(struct upstream_handshake *hs, const uint8_t *m)
{
	if (m[0] != 0x05)
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0, "socks5: bad reply version %#x",
				     m[0]);
	if (m[1] != 0x00) {
		enum upstream_failure f;
		const char *text = socks5_rep_text(m[1], &f);
		return upstream_fail(hs, f, m[1], "socks5: %s (reply %#04x)", text, m[1]);
	}
	if (m[2] != 0x00)
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
				     "socks5: reserved byte %#x not zero", m[2]);
	if (!socks5_addr_len(m[3], m[4]))
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
				     "socks5: bad address type %#x/length in reply", m[3]);
	hs->need = 4 + socks5_addr_len(m[3], m[4]) + 2; /* header, address, port */
	return UPSTREAM_MORE;
}

enum upstream_result upstream_socks5_feed(struct upstream_handshake *hs, const uint8_t *in,
					  size_t len, size_t *consumed)
{
	size_t used = 0;
	enum upstream_result res = UPSTREAM_MORE;

	while (res == UPSTREAM_MORE && used < len) {
		used += codec_collect(hs->msg, &hs->have, hs->need, in + used, len - used);
		if (hs->have < hs->need)
			break;
		switch (hs->stage) {
		case S5_METHOD:
			res = socks5_on_method(hs, hs->msg);
			break;
		case S5_AUTH:
			res = socks5_on_auth(hs, hs->msg);
			break;
		case S5_REPLY:
			if (hs->need == 5) {
				res = socks5_on_reply_head(hs, hs->msg);
				break;
			}
			hs->stage = S5_DONE;
			res = UPSTREAM_DONE;
			break;
		default:
			res =
			    upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0, "socks5: fed after done");
		}
	}
	*consumed = used;
	return res;
}

int upstream_socks5_stalled_pipeline(const struct upstream_handshake *hs)
{
	return hs->pipelined && hs->stage != S5_METHOD && hs->stage != S5_DONE && hs->have == 0;
}

int upstream_socks5_bound(const struct upstream_handshake *hs, struct sockaddr_storage *ss,
			  uint16_t *port)
{
	const uint8_t *m = hs->msg;

	memset(ss, 0, sizeof(*ss));
	*port = 0;
	if (hs->stage != S5_DONE)
		return -1;
	if (m[3] == 0x01) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, m + 4, 4);
		memcpy(&sin->sin_port, m + 8, 2);
		*port = ntohs(sin->sin_port);
		return 0;
	}
	if (m[3] == 0x04) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, m + 4, 16);
		memcpy(&sin6->sin6_port, m + 20, 2);
		*port = ntohs(sin6->sin6_port);
		return 0;
	}
	/* by name: only the port is of use */
	*port = (uint16_t)(m[4 + 1 + m[4]] << 8 | m[4 + 1 + m[4] + 1]);
	return -1;
}

int upstream_udp_relay_address(const struct upstream_handshake *hs,
			       const struct sockaddr_storage *upstream_addr,
			       const struct sockaddr_storage *udp_addr,
			       struct sockaddr_storage *relay)
{
	struct sockaddr_storage bnd;
	uint16_t port;
	int named = upstream_socks5_bound(hs, &bnd, &port) == 0;

	if (udp_addr && udp_addr->ss_family) {
		*relay = *udp_addr;
		return 0;
	}
	addr_unmap_v4(&bnd);
	if (named && !addr_is_unspecified(&bnd) &&
	    !(addr_is_loopback(&bnd) && !addr_is_loopback(upstream_addr)) &&
	    bnd.ss_family == upstream_addr->ss_family) {
		*relay = bnd;
	} else {
		*relay = *upstream_addr;
		addr_set_port(relay, port);
	}
	return port ? 0 : -1;
}

int upstream_socks5_silent(const struct upstream_handshake *hs)
{
	return hs->stage == S5_METHOD && hs->have == 0;
}
