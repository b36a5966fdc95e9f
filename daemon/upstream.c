/* Dispatch of upstream handshakes to the protocol codecs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "upstream.h"

enum upstream_result upstream_fail(struct upstream_handshake *hs, enum upstream_failure failure,
				   int code, const char *fmt, ...)
{
	va_list ap;
	hs->failure = failure;
	hs->code = code;
	va_start(ap, fmt);
	vsnprintf(hs->reason, sizeof(hs->reason), fmt, ap);
	va_end(ap);
	return UPSTREAM_ERROR;
}

/* A fresh exchange of command (SOCKS5 CMD; 0: none) for url and target. */
static void handshake_reset(struct upstream_handshake *hs, const struct upstream_url *url,
			    const struct upstream_target *target, int pipelined, uint8_t *out,
			    uint8_t command)
{
	memset(hs, 0, sizeof(*hs));
	hs->kind = url->kind;
	hs->pipelined = pipelined;
	hs->url = url;
	hs->target = target;
	hs->out = out;
	hs->command = command;
}

/* An exchange only SOCKS5 has (a UDP ASSOCIATE, a check): -1 with why
 * for the other kinds. */
static int socks5_only_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			     int pipelined, uint8_t *out, uint8_t command, const char *why)
{
	/* DST.ADDR 0.0.0.0:0: for a UDP ASSOCIATE, the address we will send
	 * from is not known until the first datagram (RFC 1928 section 6
	 * allows zeros); a check sends no request at all */
	static const struct upstream_target any = { .addr.ss_family = AF_INET };

	handshake_reset(hs, url, &any, pipelined, out, command);
	if (url->kind != UPSTREAM_SOCKS5 && url->kind != UPSTREAM_SOCKS5H) {
		upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0, "%s %s",
			      upstream_kind_name(url->kind), why);
		return -1;
	}
	return upstream_socks5_begin(hs, url, &any);
}

int upstream_handshake_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			     const struct upstream_target *target, int pipelined, uint8_t *out)
{
	handshake_reset(hs, url, target, pipelined, out, 0x01);
	switch (url->kind) {
	case UPSTREAM_SOCKS5:
	case UPSTREAM_SOCKS5H:
		return upstream_socks5_begin(hs, url, target);
	case UPSTREAM_SOCKS4:
	case UPSTREAM_SOCKS4A:
		return upstream_socks4_begin(hs, url, target);
	case UPSTREAM_HTTP:
		return upstream_http_begin(hs, url, target);
	case UPSTREAM_DIRECT:
	case UPSTREAM_GROUP:
		break;
	}
	upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0, "no handshake for %s",
		      upstream_kind_name(url->kind));
	return -1;
}

int upstream_handshake_begin_check(struct upstream_handshake *hs, const struct upstream_url *url,
				   int pipelined, uint8_t *out)
{
	return socks5_only_begin(hs, url, pipelined, out, 0, "has no empty handshake");
}

int upstream_handshake_begin_resume(struct upstream_handshake *hs, const struct upstream_url *url,
				    const struct upstream_target *target, uint8_t *out)
{
	if (url->kind != UPSTREAM_SOCKS5 && url->kind != UPSTREAM_SOCKS5H)
		return upstream_handshake_begin(hs, url, target, 1, out);
	handshake_reset(hs, url, target, 1, out, 0x01);
	return upstream_socks5_begin_request(hs, url, target);
}

int upstream_handshake_begin_udp(struct upstream_handshake *hs, const struct upstream_url *url,
				 int pipelined, uint8_t *out)
{
	return socks5_only_begin(hs, url, pipelined, out, 0x03, "cannot carry UDP");
}

enum upstream_result upstream_handshake_feed(struct upstream_handshake *hs, const uint8_t *in,
					     size_t len, size_t *consumed, uint8_t *out)
{
	*consumed = 0;
	hs->out = out;
	hs->out_len = 0;
	switch (hs->kind) {
	case UPSTREAM_SOCKS5:
	case UPSTREAM_SOCKS5H:
		return upstream_socks5_feed(hs, in, len, consumed);
	case UPSTREAM_SOCKS4:
	case UPSTREAM_SOCKS4A:
		return upstream_socks4_feed(hs, in, len, consumed);
	case UPSTREAM_HTTP:
		return upstream_http_feed(hs, in, len, consumed);
	case UPSTREAM_DIRECT:
	case UPSTREAM_GROUP:
		break;
	}
	return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0, "no handshake for %s",
			     upstream_kind_name(hs->kind));
}

int upstream_handshake_stalled_pipeline(const struct upstream_handshake *hs)
{
	if (hs->kind != UPSTREAM_SOCKS5 && hs->kind != UPSTREAM_SOCKS5H)
		return 0;
	return upstream_socks5_stalled_pipeline(hs);
}

int upstream_handshake_proxy_silent(const struct upstream_handshake *hs)
{
	if (hs->kind != UPSTREAM_SOCKS5 && hs->kind != UPSTREAM_SOCKS5H)
		return 0;
	return upstream_socks5_silent(hs);
}
