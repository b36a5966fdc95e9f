/* Unit tests for upstream_http: valid input, byte-exact output and every malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "feed.h"

static void test_request(void **state)
{
	struct upstream_target t = test_target("192.0.2.7", 443);
	static const char want[] = "CONNECT 192.0.2.7:443 HTTP/1.1\r\nHost: 192.0.2.7:443\r\n\r\n";
	(void)state;
	expect_request("http://10.0.0.5:3128", &t, 1, want, strlen(want));
}

static void test_request_v6_auth(void **state)
{
	struct upstream_target t = test_target("2001:db8::1", 80);
	/* RFC 7617's example credentials */
	static const char want[] =
	    "CONNECT [2001:db8::1]:80 HTTP/1.1\r\n"
	    "Host: [2001:db8::1]:80\r\n"
	    "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n";
	(void)state;
	expect_request("http://Aladdin:open%20sesame@10.0.0.5:3128", &t, 1, want, strlen(want));
}

static void test_request_hostname(void **state)
{
	struct upstream_url u = test_url("http://10.0.0.5:3128");
	struct upstream_target t = test_target("192.0.2.7", 443);
	struct upstream_handshake hs;
	(void)state;
	t.hostname = "example.org";
	t.port = 443;
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), 0);
	assert_memory_equal(hs.out, "CONNECT example.org:443 HTTP/1.1\r\n", 34);
	t.hostname = "evil\r\nX: y";
	assert_int_equal(upstream_handshake_begin(&hs, &u, &t, 1, test_out), -1);
}

static enum upstream_result feed_text(const char *reply, size_t *consumed,
				      struct upstream_handshake *hs)
{
	struct upstream_url u = test_url("http://10.0.0.5:3128");
	struct upstream_target t = test_target("192.0.2.7", 443);
	return feed_both(&u, &t, 1, reply, strlen(reply), consumed, hs);
}

static void test_success(void **state)
{
	size_t c;
	struct upstream_handshake hs;
	const char *r1 = "HTTP/1.1 200 Connection established\r\n\r\n";
	const char *r2 = "HTTP/1.0 200 OK\r\nProxy-Agent: x/1.0\r\nVia: a\r\n\r\nSSH-2.0-banner";
	const char *r3 = "HTTP/1.1 204\r\n\r\n";
	(void)state;
	assert_int_equal(feed_text(r1, &c, &hs), UPSTREAM_DONE);
	assert_int_equal(c, strlen(r1));
	assert_int_equal(hs.code, 200);
	assert_int_equal(feed_text(r2, &c, NULL), UPSTREAM_DONE);
	assert_int_equal(c, strlen(r2) - strlen("SSH-2.0-banner"));
	assert_int_equal(feed_text(r3, &c, NULL), UPSTREAM_DONE);
	/* every prefix is incomplete */
	for (size_t n = 0; n < strlen(r2) - strlen("SSH-2.0-banner"); n++) {
		char buf[128];
		snprintf(buf, sizeof(buf), "%.*s", (int)n, r2);
		assert_int_equal(feed_text(buf, NULL, NULL), UPSTREAM_MORE);
	}
}

static void test_failures(void **state)
{
	static const struct {
		const char *reply;
		enum upstream_failure f;
		int code;
		const char *reason;
	} cases[] = {
		{ "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
		  UPSTREAM_FAIL_AUTH, 407, "authentication" },
		{ "HTTP/1.1 403 Forbidden\r\n\r\n", UPSTREAM_FAIL_DENIED, 403, "forbidden" },
		{ "HTTP/1.1 502 Bad Gateway\r\n\r\n", UPSTREAM_FAIL_UNREACHABLE, 502,
		  "unreachable" },
		{ "HTTP/1.1 503 x\r\n\r\n", UPSTREAM_FAIL_UNREACHABLE, 503, "unreachable" },
		{ "HTTP/1.1 500 x\r\n\r\n", UPSTREAM_FAIL_OTHER, 500, "refused with 500" },
		{ "HTTP/1.1 301 Moved\r\nLocation: x\r\n\r\n", UPSTREAM_FAIL_OTHER, 301, "301" },
		{ "HTTP/1.1 100 Continue\r\n\r\n", UPSTREAM_FAIL_OTHER, 100, "100" },
		{ "HTTP/2 200\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0, "bad status line" },
		{ "HTTP/1.2 200 OK\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0, "bad status line" },
		{ "http/1.1 200 OK\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0, "bad status line" },
		{ "HTTP/1.1 2x0 OK\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0, "bad status code" },
		{ "HTTP/1.1 20 OK\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0, "bad status" },
		{ "HTTP/1.1 2000 OK\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0, "bad status line" },
		{ "HTTP/1.1 099 x\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 99, "bad status code" },
		{ "SSH-2.0-OpenSSH\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0, "bad status line" },
		{ "HTTP/1.1 200 OK\n\n", UPSTREAM_FAIL_PROTOCOL, 0, "control character" },
		{ "HTTP/1.1 200 OK\r\rX", UPSTREAM_FAIL_PROTOCOL, 0, "CR not followed" },
		{ "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0,
		  "without ':'" },
		{ "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0,
		  "without ':'" },
		{ "HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0,
		  "control character" },
		{ "HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0,
		  "control character" },
		{ "HTTP/1.1 200 \x7f\r\n\r\n", UPSTREAM_FAIL_PROTOCOL, 0, "control character" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct upstream_handshake hs;
		if (feed_text(cases[i].reply, NULL, &hs) != UPSTREAM_ERROR)
			fail_msg("case %zu was accepted", i);
		assert_int_equal(hs.failure, cases[i].f);
		if (cases[i].code)
			assert_int_equal(hs.code, cases[i].code);
		if (!strstr(hs.reason, cases[i].reason))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, hs.reason, cases[i].reason);
	}
}

static void test_oversized(void **state)
{
	static char big[UPSTREAM_HTTP_HEADER_MAX + 200];
	static char longline[600];
	struct upstream_handshake hs;
	size_t n;
	(void)state;
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
	while (n < UPSTREAM_HTTP_HEADER_MAX + 100)
		n += (size_t)sprintf(big + n, "X-Pad: aaaaaaaaaaaaaaaa\r\n");
	strcpy(big + n, "\r\n");
	assert_int_equal(feed_text(big, NULL, &hs), UPSTREAM_ERROR);
	assert_non_null(strstr(hs.reason, "larger than"));
	memset(longline, 'a', sizeof(longline) - 1);
	memcpy(longline, "HTTP/1.1 200 ", 13);
	assert_int_equal(feed_text(longline, NULL, &hs), UPSTREAM_ERROR);
	assert_non_null(strstr(hs.reason, "too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),		 cmocka_unit_test(test_request_v6_auth),
		cmocka_unit_test(test_request_hostname), cmocka_unit_test(test_success),
		cmocka_unit_test(test_failures),	 cmocka_unit_test(test_oversized),
	};
	return cmocka_run_group_tests_name("upstream_http", tests, NULL, NULL);
}
