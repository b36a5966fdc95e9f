/* Unit tests for the HTTP proxy's message parser: heads, proxy targets,
 * the rewritten heads, body framing, and every request smuggling shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_msg.h"

static struct http_head head;

static int req(const char *s)
{
	return http_parse_request((const uint8_t *)s, strlen(s), &head);
}

static int resp(const char *s, int head_request)
{
	return http_parse_response((const uint8_t *)s, strlen(s), head_request, &head);
}

static void test_request_ok(void **state)
{
	const char *s = "GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n"
			"User-Agent: curl/7.88\r\nProxy-Connection: Keep-Alive\r\n\r\nrest";
	(void)state;
	assert_int_equal(req(s), HTTP_PARSE_DONE);
	assert_int_equal(head.len, strlen(s) - 4);
	assert_int_equal(head.minor, 1);
	assert_int_equal(head.n_fields, 3);
	assert_int_equal(head.body, HTTP_BODY_NONE);
	assert_true(head.conn_keep_alive);
	assert_false(head.conn_close);
	assert_true(http_method_is((const uint8_t *)s, &head, "GET"));
	assert_int_equal(http_find_field((const uint8_t *)s, &head, "user-agent"), 1);
	assert_true(head.fields[2].hop);
	assert_int_equal(head.proxy_auth, -1);
}

static void test_request_more(void **state)
{
	(void)state;
	assert_int_equal(req(""), HTTP_PARSE_MORE);
	assert_int_equal(req("GET http://a/ HTTP/1.1\r"), HTTP_PARSE_MORE);
	assert_int_equal(req("GET http://a/ HTTP/1.1\r\nHost: a\r\n"), HTTP_PARSE_MORE);
	assert_int_equal(req("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r"), HTTP_PARSE_MORE);
}

static void test_request_bodies(void **state)
{
	(void)state;
	assert_int_equal(req("POST http://a/ HTTP/1.1\r\nContent-Length: 1048576\r\n"
			     "Expect: 100-continue\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_LENGTH);
	assert_int_equal(head.content_length, 1048576);
	assert_true(head.expect_continue);
	assert_int_equal(req("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_CHUNKED);
	assert_int_equal(req("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_CHUNKED);
	assert_int_equal(req("POST http://a/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
			 HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_NONE);
}

/* Each is refused with the status given, never parsed as something. */
static void test_request_refused(void **state)
{
	static const struct {
		const char *text;
		int status;
	} cases[] = {
		/* request smuggling shapes */
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		  400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		  400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: "
		  "chunked\r\n\r\n",
		  400 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "POST http://a/ HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: 1\r\n\tfolded\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\nHost: a\n\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nHost: a\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nContent-Length : 5\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: a\001b\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nX: a\177\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\n: novalue\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		/* request lines */
		{ "\r\nGET http://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET  http://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/  HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/1.1 \r\n\r\n", 400 },
		{ "GET http://a/\r\n\r\n", 400 },
		{ "GET http://a/ HTTP/2.0\r\n\r\n", 505 },
		{ "GET http://a/ HTTP/1.12\r\n\r\n", 400 },
		{ "GET http://a/ http/1.1\r\n\r\n", 400 },
		{ "G(T http://a/ HTTP/1.1\r\n\r\n", 400 },
		{ "GET http://a/\001 HTTP/1.1\r\n\r\n", 400 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = req(cases[i].text);
		if (rc != HTTP_PARSE_ERROR || head.error != cases[i].status)
			fail_msg("case %zu (%s): rc %d status %d", i, cases[i].text, rc,
				 head.error);
	}
}

static void test_limits(void **state)
{
	static char big[HTTP_HEAD_MAX + 64];
	size_t n;
	(void)state;
	/* a request line past HTTP_LINE_MAX: 414, complete or not */
	n = (size_t)snprintf(big, sizeof(big), "GET http://a/");
	memset(big + n, 'x', HTTP_LINE_MAX);
	big[n + HTTP_LINE_MAX] = 0;
	assert_int_equal(req(big), HTTP_PARSE_ERROR);
	assert_int_equal(head.error, 414);
	/* a head past HTTP_HEAD_MAX: 431 */
	n = (size_t)snprintf(big, sizeof(big), "GET http://a/ HTTP/1.1\r\n");
	while (n + 40 < sizeof(big))
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Filler: %026zu\r\n", n);
	assert_int_equal(req(big), HTTP_PARSE_ERROR);
	assert_int_equal(head.error, 431);
	/* more than HTTP_FIELDS_MAX fields */
	n = (size_t)snprintf(big, sizeof(big), "GET http://a/ HTTP/1.1\r\n");
	for (int i = 0; i <= HTTP_FIELDS_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X: %d\r\n", i);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(req(big), HTTP_PARSE_ERROR);
	assert_int_equal(head.error, 431);
}

static int target(const char *s, struct http_target *t)
{
	const char *why = NULL;
	assert_int_equal(req(s), HTTP_PARSE_DONE);
	return http_request_target((const uint8_t *)s, &head, t, &why);
}

static void test_targets(void **state)
{
	struct http_target t;
	(void)state;
	assert_int_equal(target("CONNECT example.com:443 HTTP/1.1\r\n\r\n", &t), 0);
	assert_true(t.is_connect);
	assert_string_equal(t.host, "example.com");
	assert_int_equal(t.port, 443);
	assert_int_equal(target("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n", &t), 0);
	assert_string_equal(t.host, "2001:db8::1");
	assert_int_equal(t.port, 8443);
	assert_int_equal(target("GET HTTP://10.0.0.1:8080/x/y?z HTTP/1.1\r\n\r\n", &t), 0);
	assert_string_equal(t.host, "10.0.0.1");
	assert_int_equal(t.port, 8080);
	assert_int_equal(t.path_len, 6);
	assert_memory_equal(t.path, "/x/y?z", 6);
	assert_int_equal(target("GET http://a.example HTTP/1.1\r\n\r\n", &t), 0);
	assert_int_equal(t.port, 80);
	assert_int_equal(t.path_len, 0);
	assert_int_equal(target("GET http://a.example?q HTTP/1.1\r\n\r\n", &t), 0);
	assert_string_equal(t.host, "a.example");
	assert_memory_equal(t.path, "?q", 2);
	assert_int_equal(target("GET http://[fd00::2]/ HTTP/1.1\r\n\r\n", &t), 0);
	assert_string_equal(t.host, "fd00::2");
	/* refused */
	assert_int_equal(target("CONNECT example.com HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("CONNECT example.com:0 HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("CONNECT example.com:65536 HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("CONNECT [::1:443 HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("GET /index.html HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("GET https://a/ HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("GET http://u:p@a/ HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("GET http://a/#f HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("GET http://a%2f/ HTTP/1.1\r\n\r\n", &t), -1);
	assert_int_equal(target("GET http:///x HTTP/1.1\r\n\r\n", &t), -1);
}

static void test_rewrite_request(void **state)
{
	const char *s = "POST http://example.com:8080/up HTTP/1.1\r\nHost: evil.example\r\n"
			"Proxy-Authorization: Basic YTpi\r\nConnection: keep-alive, X-Hop\r\n"
			"X-Hop: 1\r\nContent-Length: 3\r\nAccept: */*\r\n\r\n";
	const char *want = "POST /up HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 3\r\n"
			   "Accept: */*\r\nVia: 1.1 sockgate\r\nConnection: close\r\n\r\n";
	struct http_target t;
	uint8_t out[512];
	ssize_t n;
	(void)state;
	assert_int_equal(target(s, &t), 0);
	assert_int_equal(head.proxy_auth, 1);
	n = http_rewrite_request((const uint8_t *)s, &head, &t, 1, 0, NULL, out, sizeof(out));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, strlen(want));
	/* too small a buffer */
	assert_int_equal(http_rewrite_request((const uint8_t *)s, &head, &t, 1, 0, NULL, out, 20),
			 -1);
	/* HTTP/1.0, no path, IPv6 on port 80 */
	s = "GET http://[fd00::2] HTTP/1.0\r\n\r\n";
	want = "GET / HTTP/1.0\r\nHost: [fd00::2]\r\nConnection: close\r\n\r\n";
	assert_int_equal(target(s, &t), 0);
	n = http_rewrite_request((const uint8_t *)s, &head, &t, 0, 0, NULL, out, sizeof(out));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, strlen(want));
	/* absolute form for an HTTP upstream, with its credentials */
	s = "GET http://a.example:8080/x?y HTTP/1.1\r\nAccept: */*\r\n\r\n";
	want = "GET http://a.example:8080/x?y HTTP/1.1\r\nHost: a.example:8080\r\nAccept: */*\r\n"
	       "Proxy-Authorization: Basic dTpw\r\nConnection: close\r\n\r\n";
	assert_int_equal(target(s, &t), 0);
	n = http_rewrite_request((const uint8_t *)s, &head, &t, 0, 1,
				 "Proxy-Authorization: Basic dTpw\r\n", out, sizeof(out));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, strlen(want));
}

static void test_responses(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n"
			"Keep-Alive: timeout=5\r\nServer: nginx\r\n\r\nhello world!";
	const char *want = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nServer: nginx\r\n\r\n";
	uint8_t out[512];
	ssize_t n;
	(void)state;
	assert_int_equal(resp(s, 0), HTTP_PARSE_DONE);
	assert_int_equal(head.status, 200);
	assert_int_equal(head.body, HTTP_BODY_LENGTH);
	assert_int_equal(head.content_length, 12);
	n = http_rewrite_response((const uint8_t *)s, &head, 1, 1, 0, out, sizeof(out));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, strlen(want));
	/* an HTTP/1.0 client kept alive is told so; a closed one too */
	n = http_rewrite_response((const uint8_t *)s, &head, 1, 0, 0, out, sizeof(out));
	assert_non_null(memmem(out, (size_t)n, "Connection: keep-alive\r\n\r\n", 26));
	n = http_rewrite_response((const uint8_t *)s, &head, 0, 1, 0, out, sizeof(out));
	assert_non_null(memmem(out, (size_t)n, "Connection: close\r\n\r\n", 21));
	/* framing */
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", 1), HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_NONE);
	assert_int_equal(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n", 0),
			 HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_NONE);
	assert_int_equal(resp("HTTP/1.1 100 Continue\r\n\r\n", 0), HTTP_PARSE_DONE);
	assert_int_equal(head.status, 100);
	assert_int_equal(head.body, HTTP_BODY_NONE);
	assert_int_equal(resp("HTTP/1.0 200 OK\r\n\r\n", 0), HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_CLOSE);
	assert_int_equal(resp("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n", 0),
			 HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_CHUNKED);
	/* Transfer-Encoding overrides a response's Content-Length, which is dropped */
	s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
	assert_int_equal(resp(s, 0), HTTP_PARSE_DONE);
	assert_int_equal(head.body, HTTP_BODY_CHUNKED);
	n = http_rewrite_response((const uint8_t *)s, &head, 1, 1, 0, out, sizeof(out));
	assert_null(memmem(out, (size_t)n, "Content-Length", 14));
	/* malformed: 502 */
	assert_int_equal(resp("HTTP/1.1 20 OK\r\n\r\n", 0), HTTP_PARSE_ERROR);
	assert_int_equal(head.error, 502);
	assert_int_equal(resp("HTTP/1.1 200OK\r\n\r\n", 0), HTTP_PARSE_ERROR);
	assert_int_equal(resp("ICY 200 OK\r\n\r\n", 0), HTTP_PARSE_ERROR);
	assert_int_equal(resp("HTTP/1.1 200 OK\nX: y\n\n", 0), HTTP_PARSE_ERROR);
	assert_int_equal(
	    resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0),
	    HTTP_PARSE_ERROR);
}

/* Feeds text to a body in pieces of step bytes: bytes taken, or -1. */
static long scan(struct http_body *b, const char *text, size_t step)
{
	size_t len = strlen(text), at = 0;

	while (at < len && !b->done) {
		size_t n = len - at < step ? len - at : step;
		ssize_t took = http_body_scan(b, (const uint8_t *)text + at, n);
		if (took < 0)
			return -1;
		at += (size_t)took;
		if ((size_t)took < n)
			break;
	}
	return (long)at;
}

static void test_chunked(void **state)
{
	const char *body = "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
	struct http_body b;
	(void)state;
	for (size_t step = 1; step <= strlen(body) + 4; step++) {
		char with_more[256];
		snprintf(with_more, sizeof(with_more), "%sGET", body);
		http_body_init(&b, HTTP_BODY_CHUNKED, 0);
		assert_int_equal(scan(&b, with_more, step), strlen(body));
		assert_true(b.done);
	}
	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	assert_int_equal(scan(&b, "0\r\n\r\n", 3), 5);
	assert_true(b.done);
	/* malformed framing */
	static const char *bad[] = {
		"\r\n",
		"g\r\n",
		"5\nhello\r\n0\r\n\r\n",
		"5\r\nhelloX\r\n",
		"5\r\nhello\n0\r\n\r\n",
		"0\r\nX\n\r\n",
		"0\r\n\n",
		"fffffffffffffffff\r\n",
		"5\001\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		http_body_init(&b, HTTP_BODY_CHUNKED, 0);
		if (scan(&b, bad[i], 64) != -1)
			fail_msg("bad chunked body %zu accepted", i);
	}
	/* lengths */
	http_body_init(&b, HTTP_BODY_LENGTH, 4);
	assert_int_equal(scan(&b, "abcdefg", 3), 4);
	assert_true(b.done);
	http_body_init(&b, HTTP_BODY_NONE, 0);
	assert_true(b.done);
	http_body_init(&b, HTTP_BODY_CLOSE, 0);
	assert_int_equal(scan(&b, "abc", 2), 3);
	assert_false(b.done);
}

static int may_end(const char *s, size_t from)
{
	return http_head_may_end((const uint8_t *)s, from, strlen(s));
}

static void test_head_may_end(void **state)
{
	(void)state;
	assert_false(may_end("GET http://a/ HTTP/1.1\r\nHost: a\r\n", 0));
	assert_true(may_end("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 0));
	assert_true(may_end("GET http://a/ HTTP/1.1\n\n", 0)); /* bare LF: parsed, refused */
	/* an end that straddles what was looked at before */
	assert_true(may_end("GET / HTTP/1.1\r\n\r\n", 16));
	assert_true(may_end("GET / HTTP/1.1\r\n\r\n", 17));
	assert_false(may_end("GET / HTTP/1.1\r\n\r", 14));
	assert_false(may_end("", 0));
	/* every split of a complete head finds the end from the last look */
	const char *h = "GET http://a/ HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
	for (size_t looked = 0; looked < strlen(h); looked++) {
		char part[128];
		snprintf(part, sizeof(part), "%.*s", (int)looked, h);
		if (may_end(part, 0))
			fail_msg("a head cut at %zu seems whole", looked);
		if (!may_end(h, looked))
			fail_msg("the end missed when looked up to %zu", looked);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_ok),	cmocka_unit_test(test_request_more),
		cmocka_unit_test(test_request_bodies),	cmocka_unit_test(test_request_refused),
		cmocka_unit_test(test_limits),		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_rewrite_request), cmocka_unit_test(test_responses),
		cmocka_unit_test(test_chunked),		cmocka_unit_test(test_head_may_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
