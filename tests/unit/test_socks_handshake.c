/* Unit tests for socks_handshake: the server side of SOCKS5, RFC 1929 and
 * SOCKS4/4a, fed whole and one byte at a time, with every malformed variant. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/addr.h"
#include "socks_handshake.h"

struct run {
	enum socks_handshake_result res;
	size_t consumed;
	uint8_t out[SOCKS_HANDSHAKE_OUT_MAX * 4];
	size_t out_len;
	struct socks_handshake hs;
};

/* Feeds in to a fresh codec whole and one byte at a time (stopping at the
 * first result other than MORE); both must agree. */
static void feed(int password_required, const void *in, size_t len, struct run *r)
{
	static struct run bytewise;
	const uint8_t *p = in;

	memset(r, 0, sizeof(*r));
	memset(&bytewise, 0, sizeof(bytewise));
	socks_handshake_init(&r->hs, password_required);
	socks_handshake_init(&bytewise.hs, password_required);
	r->res = socks_handshake_feed(&r->hs, p, len, &r->consumed, r->out, &r->out_len);
	bytewise.res = SOCKS_HS_MORE;
	for (size_t i = 0; i < len && bytewise.res == SOCKS_HS_MORE; i++) {
		size_t c = 0;
		bytewise.res = socks_handshake_feed(&bytewise.hs, p + i, 1, &c, bytewise.out,
						    &bytewise.out_len);
		bytewise.consumed += c;
	}
	assert_int_equal(r->res, bytewise.res);
	assert_int_equal(r->consumed, bytewise.consumed);
	assert_int_equal(r->out_len, bytewise.out_len);
	assert_memory_equal(r->out, bytewise.out, r->out_len);
}

static void expect_out(const struct run *r, const void *want, size_t len)
{
	assert_int_equal(r->out_len, len);
	assert_memory_equal(r->out, want, len);
}

static void test_socks5_connect_ipv4(void **state)
{
	static const uint8_t in[] = {
		5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 7, 0x01, 0xbb, 'G', 'E', 'T'
	};
	static const uint8_t method[] = { 5, 0 };
	struct run r;
	char ip[INET_ADDRSTRLEN];
	(void)state;
	feed(0, in, sizeof(in), &r);
	assert_int_equal(r.res, SOCKS_HS_REQUEST);
	assert_int_equal(r.consumed, sizeof(in) - 3); /* "GET" is client data */
	expect_out(&r, method, 2);
	assert_int_equal(r.hs.version, 5);
	assert_int_equal(r.hs.cmd, SOCKS_CMD_CONNECT);
	assert_null(r.hs.target.hostname);
	assert_int_equal(r.hs.target.addr.ss_family, AF_INET);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&r.hs.target.addr)->sin_addr, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.7");
	assert_int_equal(ntohs(((struct sockaddr_in *)&r.hs.target.addr)->sin_port), 443);
}

static void test_socks5_ipv6_and_domain(void **state)
{
	static const uint8_t v6[] = { 5, 1, 0, 5, 3, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0,
				      0, 0, 0, 0, 0, 0, 0, 0,	 0,    1,    0,	   53 };
	static const uint8_t dom[] = { 5,   2,	 0,   2,   5,	1,   0,	  3, 7,
				       'e', 'x', '.', 'c', 'o', 'm', '.', 0, 80 };
	struct run r;
	(void)state;
	feed(0, v6, sizeof(v6), &r);
	assert_int_equal(r.res, SOCKS_HS_REQUEST);
	assert_int_equal(r.hs.cmd, SOCKS_CMD_UDP_ASSOCIATE);
	assert_int_equal(r.hs.target.addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&r.hs.target.addr)->sin6_port), 53);
	/* offers 0 and 2; no password required: no-auth is chosen */
	feed(0, dom, sizeof(dom), &r);
	assert_int_equal(r.res, SOCKS_HS_REQUEST);
	assert_int_equal(r.out[1], 0x00);
	assert_string_equal(r.hs.target.hostname, "ex.com.");
	assert_int_equal(r.hs.target.port, 80);
}

static void test_socks5_password(void **state)
{
	uint8_t in[600];
	size_t n = 0;
	struct run r;
	static const uint8_t method[] = { 5, 2 };
	static const uint8_t ok[] = { 1, 0 }, no[] = { 1, 1 };
	uint8_t out[SOCKS_HANDSHAKE_OUT_MAX];
	size_t out_len = 0, c = 0;
	(void)state;
	in[n++] = 5, in[n++] = 2, in[n++] = 0, in[n++] = 2;
	in[n++] = 1, in[n++] = 255;
	memset(in + n, 'u', 255), n += 255;
	in[n++] = 3, memcpy(in + n, "pw!", 3), n += 3;
	size_t auth_end = n;
	memcpy(in + n, "\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x50", 10), n += 10;
	feed(1, in, n, &r);
	/* password required: method 2 even though 0 is offered first */
	assert_int_equal(r.res, SOCKS_HS_AUTH);
	expect_out(&r, method, 2);
	assert_int_equal(r.consumed, auth_end); /* the request waits for the verdict */
	assert_int_equal(strlen(r.hs.user), 255);
	assert_string_equal(r.hs.pass, "pw!");
	/* the message buffer keeps no copy of the password */
	assert_null(memmem(r.hs.msg, sizeof(r.hs.msg), "pw!", 3));
	socks_handshake_auth_done(&r.hs, 1, out, &out_len);
	assert_int_equal(out_len, 2);
	assert_memory_equal(out, ok, 2);
	assert_int_equal(
	    socks_handshake_feed(&r.hs, in + auth_end, n - auth_end, &c, out, &out_len),
	    SOCKS_HS_REQUEST);
	assert_int_equal(c, 10);
	/* rejected credentials */
	feed(1, in, n, &r);
	out_len = 0;
	socks_handshake_auth_done(&r.hs, 0, out, &out_len);
	assert_memory_equal(out, no, 2);
	assert_int_equal(socks_handshake_feed(&r.hs, in + auth_end, 1, &c, out, &out_len),
			 SOCKS_HS_ERROR);
	/* empty password is well-formed (it simply matches no user) */
	static const uint8_t empty_pw[] = { 5, 1, 2, 1, 1, 'a', 0 };
	feed(1, empty_pw, sizeof(empty_pw), &r);
	assert_int_equal(r.res, SOCKS_HS_AUTH);
	assert_string_equal(r.hs.pass, "");
}

struct bad {
	const char *what;
	int password_required;
	uint8_t in[24];
	size_t len;
	enum socks_handshake_result res;
	uint8_t out[12];
	size_t out_len;
};

static void test_malformed(void **state)
{
	static const struct bad cases[] = {
		{ "bad version", 0, { 6, 1, 0 }, 3, SOCKS_HS_ERROR, { 0 }, 0 },
		{ "HTTP instead of SOCKS", 0, { 'G', 'E', 'T' }, 3, SOCKS_HS_ERROR, { 0 }, 0 },
		{ "zero methods", 0, { 5, 0 }, 2, SOCKS_HS_ERROR, { 5, 0xff }, 2 },
		{ "NMETHODS larger than the bytes", 0, { 5, 9, 0, 2 }, 4, SOCKS_HS_MORE, { 0 }, 0 },
		{ "no acceptable method", 0, { 5, 1, 1 }, 3, SOCKS_HS_ERROR, { 5, 0xff }, 2 },
		/* no verifier exists without a password requirement: offering
		 * only username/password, then sending RFC 1929 bytes, is refused */
		{ "no password required, only username/password offered",
		  0,
		  { 5, 1, 2, 1, 1, 'u', 1, 'p' },
		  8,
		  SOCKS_HS_ERROR,
		  { 5, 0xff },
		  2 },
		{ "password required, only no-auth offered",
		  1,
		  { 5, 1, 0 },
		  3,
		  SOCKS_HS_ERROR,
		  { 5, 0xff },
		  2 },
		{ "username length 0",
		  1,
		  { 5, 1, 2, 1, 0, 1, 'p' },
		  7,
		  SOCKS_HS_ERROR,
		  { 5, 2, 1, 1 },
		  4 },
		{ "auth version 5",
		  1,
		  { 5, 1, 2, 5, 1, 'u', 1, 'p' },
		  8,
		  SOCKS_HS_ERROR,
		  { 5, 2, 1, 1 },
		  4 },
		{ "NUL in user name",
		  1,
		  { 5, 1, 2, 1, 2, 'u', 0, 1, 'p' },
		  9,
		  SOCKS_HS_ERROR,
		  { 5, 2, 1, 1 },
		  4 },
		{ "request version 4",
		  0,
		  { 5, 1, 0, 4, 1, 0, 1, 1 },
		  8,
		  SOCKS_HS_ERROR,
		  { 5, 0 },
		  2 },
		{ "unknown command",
		  0,
		  { 5, 1, 0, 5, 9, 0, 1, 1 },
		  8,
		  SOCKS_HS_ERROR,
		  { 5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0 },
		  12 },
		{ "reserved byte set",
		  0,
		  { 5, 1, 0, 5, 1, 1, 1, 1 },
		  8,
		  SOCKS_HS_ERROR,
		  { 5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0 },
		  12 },
		{ "unknown ATYP",
		  0,
		  { 5, 1, 0, 5, 1, 0, 2, 1 },
		  8,
		  SOCKS_HS_ERROR,
		  { 5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0 },
		  12 },
		{ "domain length 0",
		  0,
		  { 5, 1, 0, 5, 1, 0, 3, 0 },
		  8,
		  SOCKS_HS_ERROR,
		  { 5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0 },
		  12 },
		{ "space in domain",
		  0,
		  { 5, 1, 0, 5, 1, 0, 3, 2, 'a', ' ', 0, 80 },
		  12,
		  SOCKS_HS_ERROR,
		  { 5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0 },
		  12 },
		{ "truncated IPv4 address",
		  0,
		  { 5, 1, 0, 5, 1, 0, 1, 10, 0 },
		  9,
		  SOCKS_HS_MORE,
		  { 5, 0 },
		  2 },
		{ "truncated IPv6 address",
		  0,
		  { 5, 1, 0, 5, 1, 0, 4, 1, 2, 3 },
		  10,
		  SOCKS_HS_MORE,
		  { 5, 0 },
		  2 },
		{ "trailing garbage after the greeting",
		  0,
		  { 5, 1, 0, 0xde, 0xad, 0xbe, 0xef, 0 },
		  8,
		  SOCKS_HS_ERROR,
		  { 5, 0 },
		  2 },
		{ "socks4 unknown command",
		  0,
		  { 4, 3, 0, 80, 1, 2, 3, 4, 0 },
		  9,
		  SOCKS_HS_ERROR,
		  { 0, 91, 0, 0, 0, 0, 0, 0 },
		  8 },
		{ "socks4 when a password is required",
		  1,
		  { 4, 1, 0, 80, 1, 2, 3, 4, 0 },
		  9,
		  SOCKS_HS_ERROR,
		  { 0, 91, 0, 0, 0, 0, 0, 0 },
		  8 },
		{ "socks4 user id unterminated",
		  0,
		  { 4, 1, 0, 80, 1, 2, 3, 4, 'a', 'b' },
		  10,
		  SOCKS_HS_MORE,
		  { 0 },
		  0 },
		{ "socks4a empty host name",
		  0,
		  { 4, 1, 0, 80, 0, 0, 0, 1, 0, 0 },
		  10,
		  SOCKS_HS_ERROR,
		  { 0, 91, 0, 0, 0, 0, 0, 0 },
		  8 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;
		feed(cases[i].password_required, cases[i].in, cases[i].len, &r);
		if (r.res != cases[i].res)
			fail_msg("%s: result %d, want %d (%s)", cases[i].what, r.res, cases[i].res,
				 r.hs.reason);
		if (r.out_len != cases[i].out_len || memcmp(r.out, cases[i].out, r.out_len))
			fail_msg("%s: wrong reply bytes (%zu)", cases[i].what, r.out_len);
		if (r.res == SOCKS_HS_ERROR && !r.hs.reason[0])
			fail_msg("%s: no reason", cases[i].what);
	}
}

static void test_socks4_and_4a(void **state)
{
	static const uint8_t v4[] = { 4, 1, 0x1f, 0x90, 10, 1, 2, 3, 'b', 'o', 'b', 0, 'x' };
	static const uint8_t v4a[] = { 4, 1, 0, 80, 0, 0, 0, 9, 0, 'h', '.', 'l', 'a', 'n', 0 };
	struct run r;
	(void)state;
	feed(0, v4, sizeof(v4), &r);
	assert_int_equal(r.res, SOCKS_HS_REQUEST);
	assert_int_equal(r.consumed, sizeof(v4) - 1);
	assert_int_equal(r.out_len, 0); /* SOCKS4 replies only after the connect */
	assert_int_equal(r.hs.version, 4);
	assert_int_equal(ntohs(((struct sockaddr_in *)&r.hs.target.addr)->sin_port), 8080);
	feed(0, v4a, sizeof(v4a), &r);
	assert_int_equal(r.res, SOCKS_HS_REQUEST);
	assert_string_equal(r.hs.target.hostname, "h.lan");
	assert_int_equal(r.hs.target.port, 80);
}

static void test_socks4_long_fields(void **state)
{
	uint8_t in[600];
	struct run r;
	(void)state;
	memcpy(in, "\x04\x01\x00\x50\x00\x00\x00\x01", 8);
	memset(in + 8, 'u', 300);
	feed(0, in, 308, &r);
	assert_int_equal(r.res, SOCKS_HS_ERROR);
	assert_non_null(strstr(r.hs.reason, "user id"));
	/* 255-byte user id and 255-byte host name are the maximum */
	memset(in + 8, 'u', 255);
	in[263] = 0;
	memset(in + 264, 'h', 255);
	in[519] = 0;
	feed(0, in, 520, &r);
	assert_int_equal(r.res, SOCKS_HS_REQUEST);
	assert_int_equal(strlen(r.hs.target.hostname), 255);
	memset(in + 264, 'h', 300);
	feed(0, in, 564, &r);
	assert_int_equal(r.res, SOCKS_HS_ERROR);
}

static void test_replies(void **state)
{
	uint8_t out[SOCKS_REPLY_MAX];
	struct sockaddr_storage ss;
	static const uint8_t zero5[] = { 5, 4, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t v4[] = { 5, 0, 0, 1, 10, 0, 0, 1, 0x30, 0x39 };
	static const uint8_t v6[] = { 5, 0, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0,
				      0, 0, 0, 0, 0,	0, 0, 0, 1, 0, 80 };
	static const uint8_t s4ok[] = { 0, 90, 0x30, 0x39, 10, 0, 0, 1 };
	static const uint8_t s4no[] = { 0, 91, 0, 0, 0, 0, 0, 0 };
	(void)state;
	for (uint8_t rep = 0; rep <= 8; rep++) {
		uint8_t want[10] = { 5, rep, 0, 1, 0, 0, 0, 0, 0, 0 };
		assert_int_equal(socks_handshake_reply5(rep, NULL, out), 10);
		assert_memory_equal(out, want, 10);
	}
	assert_int_equal(socks_handshake_reply5(4, NULL, out), sizeof(zero5));
	assert_memory_equal(out, zero5, sizeof(zero5));
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", &((struct sockaddr_in *)&ss)->sin_addr);
	((struct sockaddr_in *)&ss)->sin_port = htons(12345);
	assert_int_equal(socks_handshake_reply5(0, &ss, out), sizeof(v4));
	assert_memory_equal(out, v4, sizeof(v4));
	assert_int_equal(socks_handshake_reply4(1, &ss, out), 8);
	assert_memory_equal(out, s4ok, 8);
	assert_int_equal(socks_handshake_reply4(0, NULL, out), 8);
	assert_memory_equal(out, s4no, 8);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET6;
	inet_pton(AF_INET6, "fd00::1", &((struct sockaddr_in6 *)&ss)->sin6_addr);
	((struct sockaddr_in6 *)&ss)->sin6_port = htons(80);
	assert_int_equal(socks_handshake_reply5(0, &ss, out), sizeof(v6));
	assert_memory_equal(out, v6, sizeof(v6));
	/* SOCKS4 cannot say IPv6: zeros */
	assert_int_equal(socks_handshake_reply4(1, &ss, out), 8);
	assert_int_equal(out[1], 90);
	assert_int_equal(out[4] | out[5] | out[6] | out[7], 0);
}

static void expect_udp_error(const uint8_t *buf, size_t len, const char *why_part)
{
	struct upstream_target t;
	char host[256];
	size_t hdr = 0;
	const char *why = NULL;
	assert_int_equal(socks_udp_parse(buf, len, &t, host, &hdr, &why), -1);
	assert_non_null(why);
	if (!strstr(why, why_part))
		fail_msg("reason \"%s\" lacks \"%s\"", why, why_part);
}

static void test_host_names(void **state)
{
	static const char *const good[] = { "example.com", "a-b_c.d9", "LOCALHOST",	 "x",
					    "::1",	   "fd00::1",  "::ffff:10.0.0.1" };
	static const char *const bad[] = {
		"a:b",	      "user@host",   "host/path", "[::1]", "host#x", "a b",
		"host\nX: y", "caf\xc3\xa9", "::1]x",	  "1:2:3", "%",
	};
	uint8_t req[300];
	struct run r;
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(socks_host_valid((const uint8_t *)good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (socks_host_valid((const uint8_t *)bad[i], strlen(bad[i])))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(socks_host_valid((const uint8_t *)"", 0));
	/* on the wire: a CONNECT to "h:25@evil" is refused with REP 1 */
	memcpy(req, "\x05\x01\x00\x05\x01\x00\x03\x09h:25@evil\x00\x50", 19);
	feed(0, req, 19, &r);
	assert_int_equal(r.res, SOCKS_HS_ERROR);
}

static void test_udp_datagrams(void **state)
{
	static const uint8_t v4[] = { 0, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90, 'h', 'i' };
	static const uint8_t v6[] = { 0, 0, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0,
				      0, 0, 0, 0, 0,	0, 0, 0, 1, 0, 53 };
	static const uint8_t name[] = { 0, 0, 0, 3, 3, 'a', '.', 'b', 0, 53, 'q' };
	struct upstream_target t;
	char host[256], a[ADDR_STRLEN];
	size_t hdr = 0;
	const char *why = NULL;
	uint8_t out[SOCKS_UDP_HEADER_MAX];
	(void)state;

	assert_int_equal(socks_udp_parse(v4, sizeof(v4), &t, host, &hdr, &why), 0);
	assert_int_equal(hdr, 10);
	assert_null(t.hostname);
	assert_string_equal(addr_format(&t.addr, a, sizeof(a)), "10.0.0.1:8080");
	/* the reply header for the same source is the same bytes */
	assert_int_equal(socks_udp_header(&t.addr, out), 10);
	assert_memory_equal(out, v4, 10);

	assert_int_equal(socks_udp_parse(v6, sizeof(v6), &t, host, &hdr, &why), 0);
	assert_int_equal(hdr, 22);
	assert_string_equal(addr_format(&t.addr, a, sizeof(a)), "[fd00::1]:53");
	assert_int_equal(socks_udp_header(&t.addr, out), 22);
	assert_memory_equal(out, v6, 22);

	assert_int_equal(socks_udp_parse(name, sizeof(name), &t, host, &hdr, &why), 0);
	assert_int_equal(hdr, 10);
	assert_string_equal(t.hostname, "a.b");
	assert_int_equal(t.port, 53);
	/* a header by name (fake-IP datagrams) is the same bytes */
	assert_int_equal(socks_udp_header_name("a.b", 53, out), 10);
	assert_memory_equal(out, name, 10);
	assert_int_equal(socks_udp_header_name("", 53, out), 0);

	/* an empty payload is a valid datagram */
	assert_int_equal(socks_udp_parse(v4, 10, &t, host, &hdr, &why), 0);

	{
		uint8_t bad[sizeof(v4)];
		memcpy(bad, v4, sizeof(v4));
		expect_udp_error(bad, 3, "shorter");
		bad[0] = 1;
		expect_udp_error(bad, sizeof(bad), "reserved");
		bad[0] = 0;
		bad[2] = 1;
		expect_udp_error(bad, sizeof(bad), "fragment");
		bad[2] = 0;
		bad[3] = 2;
		expect_udp_error(bad, sizeof(bad), "unknown address type");
		bad[3] = 1;
		expect_udp_error(bad, 9, "truncated");
		bad[8] = bad[9] = 0;
		expect_udp_error(bad, sizeof(bad), "port 0");
	}
	expect_udp_error(v6, 21, "truncated");
	expect_udp_error(name, 4, "truncated");
	expect_udp_error(name, 9, "truncated");
	{
		uint8_t bad[sizeof(name)];
		memcpy(bad, name, sizeof(name));
		bad[4] = 0;
		expect_udp_error(bad, sizeof(bad), "empty domain");
		bad[4] = 3;
		bad[6] = ' ';
		expect_udp_error(bad, sizeof(bad), "malformed domain");
		bad[6] = '.';
		bad[8] = bad[9] = 0;
		expect_udp_error(bad, sizeof(bad), "port 0");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socks5_connect_ipv4),
		cmocka_unit_test(test_socks5_ipv6_and_domain),
		cmocka_unit_test(test_socks5_password),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_socks4_and_4a),
		cmocka_unit_test(test_socks4_long_fields),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_udp_datagrams),
	};
	return cmocka_run_group_tests_name("socks_handshake", tests, NULL, NULL);
}
