/* Unit tests for upstream_socks5: valid input, byte-exact output and every malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "feed.h"
#include "sockgate/addr.h"

static const uint8_t ok_noauth[] = { 5, 0 };
static const uint8_t ok_reply_v4[] = { 5, 0, 0, 1, 10, 0, 0, 5, 0x9c, 0x40 };

static void test_request_noauth_v4_pipelined(void **state)
{
	struct upstream_target t = test_target("192.0.2.7", 443);
	static const uint8_t want[] = { 5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 7, 0x01, 0xbb };
	(void)state;
	expect_request("socks5://10.0.0.5:1080", &t, 1, want, sizeof(want));
}

static void test_request_auth_v6_pipelined(void **state)
{
	struct upstream_target t = test_target("2001:db8::1", 80);
	static const uint8_t want[] = {
		5, 1, 2,			 /* greeting: user/pass only */
		1, 2, 'a', 'l', 2,    'p',  'w', /* RFC 1929 */
		5, 1, 0,   4,	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80,
	};
	(void)state;
	expect_request("socks5://al:pw@10.0.0.5:1080", &t, 1, want, sizeof(want));
}

static void test_not_pipelined_sends_step_by_step(void **state)
{
	struct upstream_url u = test_url("socks5://al:pw@10.0.0.5:1080");
	struct upstream_target t = test_target("192.0.2.7", 80);
	struct upstream_handshake hs;
	size_t c;
	static const uint8_t method[] = { 5, 2 }, auth_ok[] = { 1, 0 };
	static const uint8_t auth[] = { 1, 2, 'a', 'l', 2, 'p', 'w' };
	static const uint8_t req[] = { 5, 1, 0, 1, 192, 0, 2, 7, 0, 80 };
	(void)state;
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 0, test_out), 0);
	assert_int_equal(hs.out_len, 3);
	hs.out_len = 0;
	assert_int_equal(upstream_handshake_feed(&hs, method, 2, &c, test_out), UPSTREAM_MORE);
	assert_int_equal(hs.out_len, sizeof(auth));
	assert_memory_equal(hs.out, auth, sizeof(auth));
	hs.out_len = 0;
	assert_int_equal(upstream_handshake_feed(&hs, auth_ok, 2, &c, test_out), UPSTREAM_MORE);
	assert_int_equal(hs.out_len, sizeof(req));
	assert_memory_equal(hs.out, req, sizeof(req));
	hs.out_len = 0;
	assert_int_equal(
	    upstream_handshake_feed(&hs, ok_reply_v4, sizeof(ok_reply_v4), &c, test_out),
	    UPSTREAM_DONE);
}

static void test_socks5h_hostname(void **state)
{
	struct upstream_url u = test_url("socks5h://10.0.0.5:1080");
	struct upstream_target t = test_target("192.0.2.7", 80);
	struct upstream_handshake hs;
	static const uint8_t want[] = { 5,   1,	  0,   5,   1,	 0,   3,    7,	 'e',
					'x', '.', 'c', 'o', 'm', '.', 0x1f, 0x90 };
	(void)state;
	t.hostname = "ex.com.";
	t.port = 8080;
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), 0);
	assert_memory_equal(hs.out, want, sizeof(want));
	/* plain socks5 sends the address even when a name is known */
	u = test_url("socks5://10.0.0.5:1080");
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), 0);
	assert_int_equal(hs.out[6], 1);
}

static void test_success_replies(void **state)
{
	struct upstream_url u = test_url("socks5://10.0.0.5:1080");
	struct upstream_target t = test_target("192.0.2.7", 80);
	uint8_t buf[300];
	size_t c;
	(void)state;
	/* IPv4 BND, then tunnel data that must not be consumed */
	memcpy(buf, ok_noauth, 2);
	memcpy(buf + 2, ok_reply_v4, sizeof(ok_reply_v4));
	memcpy(buf + 12, "SSH-2.0", 7);
	assert_int_equal(feed_both(&u, &t, 1, buf, 19, &c, NULL), UPSTREAM_DONE);
	assert_int_equal(c, 12);
	/* IPv6 BND */
	static const uint8_t v6[] = { 5, 0, 5, 0,  0,  4,  1,  2,  3,  4,  5, 6,
				      7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 1 };
	assert_int_equal(feed_both(&u, &t, 1, v6, sizeof(v6), &c, NULL), UPSTREAM_DONE);
	assert_int_equal(c, sizeof(v6));
	/* domain BND */
	static const uint8_t dom[] = { 5, 0, 5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 1, 'x' };
	assert_int_equal(feed_both(&u, &t, 1, dom, sizeof(dom), &c, NULL), UPSTREAM_DONE);
	assert_int_equal(c, sizeof(dom) - 1);
	/* with auth */
	u = test_url("socks5://a:b@10.0.0.5:1080");
	static const uint8_t auth[] = { 5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	assert_int_equal(feed_both(&u, &t, 1, auth, sizeof(auth), &c, NULL), UPSTREAM_DONE);
	assert_int_equal(c, sizeof(auth));
}

static void test_partial_is_more(void **state)
{
	struct upstream_url u = test_url("socks5://10.0.0.5:1080");
	struct upstream_target t = test_target("192.0.2.7", 80);
	uint8_t buf[12];
	(void)state;
	memcpy(buf, ok_noauth, 2);
	memcpy(buf + 2, ok_reply_v4, sizeof(ok_reply_v4));
	for (size_t n = 0; n < sizeof(buf); n++)
		assert_int_equal(feed_both(&u, &t, 1, buf, n, NULL, NULL), UPSTREAM_MORE);
}

struct bad_reply {
	const char *url;
	uint8_t bytes[16];
	size_t len;
	enum upstream_failure failure;
	int code;
	const char *reason;
};

static void test_malformed_and_refused(void **state)
{
	static const struct bad_reply cases[] = {
		{ "socks5://h:1", { 4, 0 }, 2, UPSTREAM_FAIL_PROTOCOL, 0, "bad version" },
		{ "socks5://h:1", { 5, 0xff }, 2, UPSTREAM_FAIL_AUTH, 0, "no acceptable" },
		{ "socks5://h:1", { 5, 2 }, 2, UPSTREAM_FAIL_PROTOCOL, 0, "did not offer" },
		{ "socks5://a:b@h:1", { 5, 0 }, 2, UPSTREAM_FAIL_PROTOCOL, 0, "did not offer" },
		{ "socks5://a:b@h:1", { 5, 2, 1, 1 }, 4, UPSTREAM_FAIL_AUTH, 1, "rejected" },
		{ "socks5://a:b@h:1",
		  { 5, 2, 5, 0 },
		  4,
		  UPSTREAM_FAIL_PROTOCOL,
		  0,
		  "auth reply version" },
		{ "socks5://h:1",
		  { 5, 0, 4, 0, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_PROTOCOL,
		  0,
		  "bad reply version" },
		{ "socks5://h:1",
		  { 5, 0, 5, 0, 1, 1, 0 },
		  7,
		  UPSTREAM_FAIL_PROTOCOL,
		  0,
		  "reserved" },
		{ "socks5://h:1",
		  { 5, 0, 5, 0, 0, 2, 0 },
		  7,
		  UPSTREAM_FAIL_PROTOCOL,
		  0,
		  "address type" },
		{ "socks5://h:1",
		  { 5, 0, 5, 0, 0, 3, 0 },
		  7,
		  UPSTREAM_FAIL_PROTOCOL,
		  0,
		  "address type" },
		{ "socks5://h:1",
		  { 5, 0, 5, 1, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_OTHER,
		  1,
		  "general failure" },
		{ "socks5://h:1",
		  { 5, 0, 5, 2, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_DENIED,
		  2,
		  "not allowed" },
		{ "socks5://h:1",
		  { 5, 0, 5, 3, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_UNREACHABLE,
		  3,
		  "network unreachable" },
		{ "socks5://h:1",
		  { 5, 0, 5, 4, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_UNREACHABLE,
		  4,
		  "host unreachable" },
		{ "socks5://h:1",
		  { 5, 0, 5, 5, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_REFUSED,
		  5,
		  "connection refused" },
		{ "socks5://h:1",
		  { 5, 0, 5, 6, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_UNREACHABLE,
		  6,
		  "TTL expired" },
		{ "socks5://h:1",
		  { 5, 0, 5, 7, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_PROTOCOL,
		  7,
		  "command not supported" },
		{ "socks5://h:1",
		  { 5, 0, 5, 8, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_UNSUPPORTED,
		  8,
		  "address type not" },
		{ "socks5://h:1",
		  { 5, 0, 5, 0x42, 0, 1, 0 },
		  7,
		  UPSTREAM_FAIL_PROTOCOL,
		  0x42,
		  "unknown reply" },
	};
	struct upstream_target t = test_target("192.0.2.7", 80);
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct upstream_url u = test_url(cases[i].url);
		struct upstream_handshake hs;
		assert_int_equal(feed_both(&u, &t, 1, cases[i].bytes, cases[i].len, NULL, &hs),
				 UPSTREAM_ERROR);
		assert_int_equal(hs.failure, cases[i].failure);
		assert_int_equal(hs.code, cases[i].code);
		if (!strstr(hs.reason, cases[i].reason))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, hs.reason, cases[i].reason);
	}
}

static void test_feed_after_done(void **state)
{
	struct upstream_url u = test_url("socks5://h:1");
	struct upstream_target t = test_target("192.0.2.7", 80);
	struct upstream_handshake hs;
	uint8_t buf[12];
	size_t c;
	(void)state;
	memcpy(buf, ok_noauth, 2);
	memcpy(buf + 2, ok_reply_v4, sizeof(ok_reply_v4));
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), 0);
	assert_int_equal(upstream_handshake_feed(&hs, buf, sizeof(buf), &c, test_out),
			 UPSTREAM_DONE);
	assert_int_equal(upstream_handshake_feed(&hs, buf, 1, &c, test_out), UPSTREAM_ERROR);
}

static void test_stalled_pipeline_hint(void **state)
{
	struct upstream_url u = test_url("socks5://h:1");
	struct upstream_target t = test_target("192.0.2.7", 80);
	struct upstream_handshake hs;
	size_t c;
	(void)state;
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), 0);
	assert_false(upstream_handshake_stalled_pipeline(&hs));
	assert_int_equal(upstream_handshake_feed(&hs, ok_noauth, 2, &c, test_out), UPSTREAM_MORE);
	assert_true(upstream_handshake_stalled_pipeline(&hs));
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 0, test_out), 0);
	assert_int_equal(upstream_handshake_feed(&hs, ok_noauth, 2, &c, test_out), UPSTREAM_MORE);
	assert_false(upstream_handshake_stalled_pipeline(&hs));
}

static void test_bad_credentials_length(void **state)
{
	struct upstream_url u = test_url("socks5://a:b@h:1");
	struct upstream_target t = test_target("192.0.2.7", 80);
	struct upstream_handshake hs;
	(void)state;
	u.user[0] = '\0';
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), -1);
	assert_int_equal(hs.failure, UPSTREAM_FAIL_AUTH);
}

/* UDP ASSOCIATE: CMD 3 for 0.0.0.0:0, and the relay address read back
 * from the reply for each ATYP. */
static void feed_udp(const struct upstream_url *u, const uint8_t *reply, size_t len,
		     struct upstream_handshake *hs)
{
	size_t used;
	assert_int_equal(upstream_handshake_begin_udp(hs, u, 1, test_out), 0);
	assert_int_equal(upstream_handshake_feed(hs, reply, len, &used, test_out), UPSTREAM_DONE);
	assert_int_equal(used, len);
}

static void test_udp_associate(void **state)
{
	static const uint8_t want[] = { 5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t v4[] = { 5, 0, 5, 0, 0, 1, 10, 0, 0, 5, 0x9c, 0x41 };
	static const uint8_t v6[] = { 5, 0, 5, 0, 0, 4, 0xfd, 0, 0, 0, 0, 0,
				      0, 0, 0, 0, 0, 0, 0,    0, 0, 5, 0, 1 };
	static const uint8_t zero[] = { 5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 4, 0 };
	static const uint8_t dom[] = { 5, 0, 5, 0, 0, 3, 2, 'r', 'y', 0x13, 0x88 };
	struct upstream_url u = test_url("socks5://10.0.0.5:1080");
	struct upstream_handshake hs;
	struct sockaddr_storage ss;
	uint16_t port;
	char a[ADDR_STRLEN];
	(void)state;

	assert_int_equal(upstream_handshake_begin_udp(&hs, &u, 1, test_out), 0);
	assert_int_equal(hs.out_len, sizeof(want));
	assert_memory_equal(test_out, want, sizeof(want));

	feed_udp(&u, v4, sizeof(v4), &hs);
	assert_int_equal(upstream_socks5_bound(&hs, &ss, &port), 0);
	assert_string_equal(addr_format(&ss, a, sizeof(a)), "10.0.0.5:40001");
	feed_udp(&u, v6, sizeof(v6), &hs);
	assert_int_equal(upstream_socks5_bound(&hs, &ss, &port), 0);
	assert_string_equal(addr_format(&ss, a, sizeof(a)), "[fd00::5]:1");
	feed_udp(&u, zero, sizeof(zero), &hs);
	assert_int_equal(upstream_socks5_bound(&hs, &ss, &port), 0);
	assert_string_equal(addr_format(&ss, a, sizeof(a)), "0.0.0.0:1024");
	/* by name: only the port */
	feed_udp(&u, dom, sizeof(dom), &hs);
	assert_int_equal(upstream_socks5_bound(&hs, &ss, &port), -1);
	assert_int_equal(port, 5000);

	/* the command is refused like any other */
	{
		static const uint8_t refused[] = { 5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0 };
		size_t used;
		assert_int_equal(upstream_handshake_begin_udp(&hs, &u, 1, test_out), 0);
		assert_int_equal(
		    upstream_handshake_feed(&hs, refused, sizeof(refused), &used, test_out),
		    UPSTREAM_ERROR);
		assert_non_null(strstr(hs.reason, "command not supported"));
		assert_int_equal(upstream_socks5_bound(&hs, &ss, &port), -1);
	}
	/* not pipelined: the request follows the method reply */
	{
		size_t used;
		assert_int_equal(upstream_handshake_begin_udp(&hs, &u, 0, test_out), 0);
		assert_int_equal(hs.out_len, 3);
		assert_int_equal(upstream_handshake_feed(&hs, ok_noauth, 2, &used, test_out),
				 UPSTREAM_MORE);
		assert_int_equal(hs.out_len, 10);
		assert_memory_equal(test_out, want + 3, 10);
	}
	/* protocols without UDP */
	u = test_url("http://10.0.0.5:3128");
	assert_int_equal(upstream_handshake_begin_udp(&hs, &u, 1, test_out), -1);
	assert_non_null(strstr(hs.reason, "cannot carry UDP"));
	u = test_url("socks4://10.0.0.5:1080");
	assert_int_equal(upstream_handshake_begin_udp(&hs, &u, 1, test_out), -1);
}

/* Where datagrams go after the reply: udp_address first; the named
 * relay; the upstream's own address with the named port when the name is
 * of no use from here. */
static void test_udp_relay_address(void **state)
{
	static const uint8_t v4[] = { 5, 0, 5, 0, 0, 1, 10, 0, 0, 9, 0x9c, 0x41 };
	static const uint8_t zero[] = { 5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 4, 0 };
	/* loopback from a remote upstream: behind NAT or in a container */
	static const uint8_t loop[] = { 5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 4, 1 };
	/* another family than the control connection's */
	static const uint8_t v6[] = { 5, 0, 5, 0, 0, 4, 0xfd, 0, 0, 0, 0, 0,
				      0, 0, 0, 0, 0, 0, 0,    0, 0, 5, 0, 1 };
	static const uint8_t dom[] = { 5, 0, 5, 0, 0, 3, 2, 'r', 'y', 0x13, 0x88 };
	static const uint8_t port0[] = { 5, 0, 5, 0, 0, 1, 10, 0, 0, 9, 0, 0 };
	static const struct {
		const uint8_t *reply;
		size_t len;
		int fixed;	  /* udp_address 192.0.2.6:4000 */
		const char *want; /* NULL: -1 */
	} cases[] = {
		{ v4, sizeof(v4), 0, "10.0.0.9:40001" },
		{ v4, sizeof(v4), 1, "192.0.2.6:4000" },
		{ zero, sizeof(zero), 0, "10.0.0.5:1024" },
		{ loop, sizeof(loop), 0, "10.0.0.5:1025" },
		{ v6, sizeof(v6), 0, "10.0.0.5:1" },
		{ dom, sizeof(dom), 0, "10.0.0.5:5000" },
		{ port0, sizeof(port0), 0, NULL },
	};
	struct upstream_url u = test_url("socks5://10.0.0.5:1080");
	struct upstream_handshake hs;
	struct sockaddr_storage up, fixed, relay;
	char a[ADDR_STRLEN];
	(void)state;

	assert_int_equal(addr_from_ip("10.0.0.5", 1080, &up), 0);
	assert_int_equal(addr_from_ip("192.0.2.6", 4000, &fixed), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		feed_udp(&u, cases[i].reply, cases[i].len, &hs);
		int rc =
		    upstream_udp_relay_address(&hs, &up, cases[i].fixed ? &fixed : NULL, &relay);
		if (!cases[i].want) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(addr_format(&relay, a, sizeof(a)), cases[i].want);
	}
}

/* A warm session: greeting and credentials first (a check's exchange),
 * the request alone later, and its reply ends it; a refusal then is the
 * target's, with the code. */
static void test_warm_session_resumed(void **state)
{
	struct upstream_url u = test_url("socks5://al:pw@10.0.0.5:1080");
	struct upstream_target t = test_target("192.0.2.7", 80);
	struct upstream_handshake hs;
	size_t c;
	static const uint8_t method[] = { 5, 2 }, auth_ok[] = { 1, 0 };
	static const uint8_t req[] = { 5, 1, 0, 1, 192, 0, 2, 7, 0, 80 };
	static const uint8_t refused[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
	(void)state;
	assert_int_equal(upstream_handshake_begin_check(&hs, &u, 1, test_out), 0);
	assert_int_equal(hs.out_len, 3 + 7);
	assert_int_equal(upstream_handshake_feed(&hs, method, 2, &c, test_out), UPSTREAM_MORE);
	assert_int_equal(upstream_handshake_feed(&hs, auth_ok, 2, &c, test_out), UPSTREAM_DONE);
	/* later: the request alone */
	assert_int_equal(upstream_handshake_begin_resume(&hs, &u, &t, test_out), 0);
	assert_int_equal(hs.out_len, sizeof(req));
	assert_memory_equal(hs.out, req, sizeof(req));
	assert_int_equal(
	    upstream_handshake_feed(&hs, ok_reply_v4, sizeof(ok_reply_v4), &c, test_out),
	    UPSTREAM_DONE);
	assert_int_equal(c, sizeof(ok_reply_v4));
	assert_int_equal(upstream_handshake_begin_resume(&hs, &u, &t, test_out), 0);
	assert_int_equal(upstream_handshake_feed(&hs, refused, sizeof(refused), &c, test_out),
			 UPSTREAM_ERROR);
	assert_int_equal(hs.failure, UPSTREAM_FAIL_REFUSED);
	assert_int_equal(hs.code, 5);
	/* the kinds without a greeting: the whole exchange */
	u = test_url("http://10.0.0.5:3128");
	assert_int_equal(upstream_handshake_begin_resume(&hs, &u, &t, test_out), 0);
	assert_memory_equal(hs.out, "CONNECT 192.0.2.7:80 HTTP/1.1", 29);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_noauth_v4_pipelined),
		cmocka_unit_test(test_request_auth_v6_pipelined),
		cmocka_unit_test(test_not_pipelined_sends_step_by_step),
		cmocka_unit_test(test_socks5h_hostname),
		cmocka_unit_test(test_success_replies),
		cmocka_unit_test(test_partial_is_more),
		cmocka_unit_test(test_malformed_and_refused),
		cmocka_unit_test(test_feed_after_done),
		cmocka_unit_test(test_stalled_pipeline_hint),
		cmocka_unit_test(test_bad_credentials_length),
		cmocka_unit_test(test_udp_associate),
		cmocka_unit_test(test_udp_relay_address),
		cmocka_unit_test(test_warm_session_resumed),
	};
	return cmocka_run_group_tests_name("upstream_socks5", tests, NULL, NULL);
}
