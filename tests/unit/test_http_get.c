/* Unit tests for the small endpoints' request parser (metrics, PAC): what
 * is served, what is refused with which status, and malformed bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_get.h"

static const char *const paths[] = { "/metrics", "/proxy.pac", "/wpad.dat" };
static size_t which;

static enum http_get_verdict judge(const char *s)
{
	return http_get_parse(s, strlen(s), paths, 3, &which);
}

static void test_served(void **state)
{
	(void)state;
	assert_int_equal(judge("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9180\r\n\r\n"),
			 HTTP_GET_OK);
	assert_int_equal(judge("GET /metrics HTTP/1.0\r\n\r\n"), HTTP_GET_OK);
	assert_int_equal(which, 0);
	assert_int_equal(judge("GET /wpad.dat HTTP/1.1\r\nHost: wpad\r\n\r\n"), HTTP_GET_OK);
	assert_int_equal(which, 2);
	assert_int_equal(judge("GET /proxy.pac?x=1 HTTP/1.1\r\n\r\n"), HTTP_GET_OK);
	assert_int_equal(which, 1);
	/* bare LF line ends, a query, several headers with tabs in values */
	assert_int_equal(judge("GET /metrics?name[]=x HTTP/1.1\nAccept: text/plain;\tq=1\n"
			       "User-Agent: Prometheus/2.45.0\n\n"),
			 HTTP_GET_OK);
}

static void test_incomplete(void **state)
{
	(void)state;
	assert_int_equal(judge(""), HTTP_GET_INCOMPLETE);
	assert_int_equal(judge("GET /metrics HTTP/1.1\r\n"), HTTP_GET_INCOMPLETE);
	assert_int_equal(judge("GET /metrics HTTP/1.1\r\nHost: x\r\n\r"), HTTP_GET_INCOMPLETE);
}

static void test_refused_with_status(void **state)
{
	(void)state;
	assert_int_equal(judge("GET / HTTP/1.1\r\n\r\n"), HTTP_GET_NOT_FOUND);
	assert_int_equal(judge("GET /metricsX HTTP/1.1\r\n\r\n"), HTTP_GET_NOT_FOUND);
	assert_int_equal(judge("GET /metrics/ HTTP/1.1\r\n\r\n"), HTTP_GET_NOT_FOUND);
	assert_int_equal(judge("GET /proxy.pacx HTTP/1.1\r\n\r\n"), HTTP_GET_NOT_FOUND);
	assert_int_equal(judge("GET /wpad.dat/.. HTTP/1.1\r\n\r\n"), HTTP_GET_NOT_FOUND);
	assert_int_equal(judge("POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"),
			 HTTP_GET_METHOD_NOT_ALLOWED);
	assert_int_equal(judge("HEAD /metrics HTTP/1.1\r\n\r\n"), HTTP_GET_METHOD_NOT_ALLOWED);
	assert_int_equal(judge("GET /metrics HTTP/1.2\r\n\r\n"), HTTP_GET_BAD_VERSION);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"\r\n\r\n",			  /* no request line */
		"GET\r\n\r\n",			  /* no target */
		"GET /metrics\r\n\r\n",		  /* no version */
		"GET  /metrics HTTP/1.1\r\n\r\n", /* two spaces */
		"GET /metrics HTTP/1.1 \r\n\r\n", /* trailing space */
		"GET /metrics HTTP/2.0\r\n\r\n",  /* not HTTP/1.x */
		"GET /metrics HTTX/1.1\r\n\r\n",
		"GET /metrics HTTP/1.11\r\n\r\n",
		"G(T /metrics HTTP/1.1\r\n\r\n",	    /* not a token */
		"GET /met\trics HTTP/1.1\r\n\r\n",	    /* control byte in the line */
		"GET /m\x80trics HTTP/1.1\r\n\r\n",	    /* not ASCII */
		"GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n", /* header without ':' */
		"GET /metrics HTTP/1.1\r\n: empty\r\n\r\n", /* empty header name */
		"GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nX: a\x01z\r\n\r\n", /* control byte in a value */
		"GET /metrics HTTP/1.1\r\nX: a\x7fz\r\n\r\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum http_get_verdict v = judge(bad[i]);
		if (v != HTTP_GET_BAD_REQUEST && v != HTTP_GET_BAD_VERSION)
			fail_msg("case %zu: verdict %d", i, (int)v);
	}
	/* a NUL inside the request line */
	assert_int_equal(http_get_parse("GET /\0etrics HTTP/1.1\r\n\r\n", 26, paths, 3, &which),
			 HTTP_GET_BAD_REQUEST);
}

static void test_too_large(void **state)
{
	static char big[HTTP_GET_REQUEST_MAX + 64];
	size_t n;
	(void)state;
	n = (size_t)snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n);
	/* never a complete header block within the limit */
	assert_int_equal(http_get_parse(big, HTTP_GET_REQUEST_MAX, paths, 3, &which),
			 HTTP_GET_TOO_LARGE);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	assert_int_equal(http_get_parse(big, sizeof(big), paths, 3, &which), HTTP_GET_TOO_LARGE);
}

static void test_response(void **state)
{
	char *resp = NULL;
	size_t len = 0;
	(void)state;
	assert_int_equal(http_get_response(HTTP_GET_OK, "text/x", "abc", 3, &resp, &len), 0);
	assert_string_equal(resp, "HTTP/1.1 200 OK\r\nContent-Type: text/x\r\nContent-Length: 3\r\n"
				  "Connection: close\r\n\r\nabc");
	free(resp);
	assert_int_equal(
	    http_get_response(HTTP_GET_METHOD_NOT_ALLOWED, "text/x", NULL, 0, &resp, &len), 0);
	assert_non_null(strstr(resp, "405 Method Not Allowed\r\n"));
	assert_non_null(strstr(resp, "Allow: GET\r\n"));
	assert_non_null(strstr(resp, "\r\n\r\n405 Method Not Allowed\n"));
	free(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_served),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_refused_with_status),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
