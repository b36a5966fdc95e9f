/* Unit tests for upstream_socks4: valid input, byte-exact output and every malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "feed.h"

static void test_request_socks4(void **state)
{
	struct upstream_target t = test_target("192.0.2.7", 80);
	static const uint8_t want[] = { 4, 1, 0, 80, 192, 0, 2, 7, 0 };
	(void)state;
	expect_request("socks4://10.0.0.5:1080", &t, 1, want, sizeof(want));
}

static void test_request_user_id(void **state)
{
	struct upstream_target t = test_target("192.0.2.7", 443);
	static const uint8_t want[] = { 4, 1, 1, 0xbb, 192, 0, 2, 7, 'b', 'o', 'b', 0 };
	(void)state;
	expect_request("socks4://bob@10.0.0.5:1080", &t, 1, want, sizeof(want));
}

static void test_request_socks4a_name(void **state)
{
	struct upstream_url u = test_url("socks4a://10.0.0.5:1080");
	struct upstream_target t = test_target("192.0.2.7", 80);
	struct upstream_handshake hs;
	static const uint8_t want[] = { 4, 1, 0, 81, 0, 0, 0, 1, 0, 'e', '.', 'x', 0 };
	(void)state;
	t.hostname = "e.x";
	t.port = 81;
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), 0);
	assert_int_equal(hs.out_len, sizeof(want));
	assert_memory_equal(hs.out, want, sizeof(want));
	/* socks4a without a name sends the address, like socks4 */
	t.hostname = NULL;
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), 0);
	assert_int_equal(hs.out[4], 192);
}

static void test_ipv6_unsupported(void **state)
{
	struct upstream_url u = test_url("socks4://10.0.0.5:1080");
	struct upstream_target t = test_target("2001:db8::1", 80);
	struct upstream_handshake hs;
	(void)state;
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), -1);
	assert_int_equal(hs.failure, UPSTREAM_FAIL_UNSUPPORTED);
	assert_non_null(strstr(hs.reason, "IPv6"));
}

static void test_replies(void **state)
{
	struct upstream_url u = test_url("socks4://10.0.0.5:1080");
	struct upstream_target t = test_target("192.0.2.7", 80);
	struct upstream_handshake hs;
	size_t c;
	static const uint8_t ok[] = { 0, 90, 0, 0, 0, 0, 0, 0, 'd', 'a', 't', 'a' };
	static const uint8_t ok4[] = { 4, 90, 0, 0, 0, 0, 0, 0 };
	static const struct {
		uint8_t b[8];
		enum upstream_failure f;
		const char *reason;
	} bad[] = {
		{ { 0, 91 }, UPSTREAM_FAIL_REFUSED, "rejected or failed" },
		{ { 0, 92 }, UPSTREAM_FAIL_AUTH, "identd unreachable" },
		{ { 0, 93 }, UPSTREAM_FAIL_AUTH, "mismatch" },
		{ { 0, 89 }, UPSTREAM_FAIL_PROTOCOL, "unknown reply code" },
		{ { 5, 90 }, UPSTREAM_FAIL_PROTOCOL, "bad reply version" },
		{ { 0xff, 0 }, UPSTREAM_FAIL_PROTOCOL, "bad reply version" },
	};
	(void)state;
	assert_int_equal(feed_both(&u, &t, 1, ok, sizeof(ok), &c, NULL), UPSTREAM_DONE);
	assert_int_equal(c, 8);
	assert_int_equal(feed_both(&u, &t, 1, ok4, sizeof(ok4), &c, NULL), UPSTREAM_DONE);
	for (size_t n = 0; n < 8; n++)
		assert_int_equal(feed_both(&u, &t, 1, ok, n, NULL, NULL), UPSTREAM_MORE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(feed_both(&u, &t, 1, bad[i].b, 8, NULL, &hs), UPSTREAM_ERROR);
		assert_int_equal(hs.failure, bad[i].f);
		if (!strstr(hs.reason, bad[i].reason))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, hs.reason, bad[i].reason);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_socks4),
		cmocka_unit_test(test_request_user_id),
		cmocka_unit_test(test_request_socks4a_name),
		cmocka_unit_test(test_ipv6_unsupported),
		cmocka_unit_test(test_replies),
	};
	return cmocka_run_group_tests_name("upstream_socks4", tests, NULL, NULL);
}
