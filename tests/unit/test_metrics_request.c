/* Unit tests for the metrics endpoint's request parser: what is served,
 * what is refused with which status, and malformed bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics_request.h"

static enum metrics_verdict judge(const char *s)
{
	return metrics_parse_request(s, strlen(s));
}

static void test_served(void **state)
{
	(void)state;
	assert_int_equal(judge("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9180\r\n\r\n"),
			 METRICS_OK);
	assert_int_equal(judge("GET /metrics HTTP/1.0\r\n\r\n"), METRICS_OK);
	/* bare LF line ends, a query, several headers with tabs in values */
	assert_int_equal(judge("GET /metrics?name[]=x HTTP/1.1\nAccept: text/plain;\tq=1\n"
			       "User-Agent: Prometheus/2.45.0\n\n"),
			 METRICS_OK);
}

static void test_incomplete(void **state)
{
	(void)state;
	assert_int_equal(judge(""), METRICS_INCOMPLETE);
	assert_int_equal(judge("GET /metrics HTTP/1.1\r\n"), METRICS_INCOMPLETE);
	assert_int_equal(judge("GET /metrics HTTP/1.1\r\nHost: x\r\n\r"), METRICS_INCOMPLETE);
}

static void test_refused_with_status(void **state)
{
	(void)state;
	assert_int_equal(judge("GET / HTTP/1.1\r\n\r\n"), METRICS_NOT_FOUND);
	assert_int_equal(judge("GET /metricsX HTTP/1.1\r\n\r\n"), METRICS_NOT_FOUND);
	assert_int_equal(judge("GET /metrics/ HTTP/1.1\r\n\r\n"), METRICS_NOT_FOUND);
	assert_int_equal(judge("POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"),
			 METRICS_METHOD_NOT_ALLOWED);
	assert_int_equal(judge("HEAD /metrics HTTP/1.1\r\n\r\n"), METRICS_METHOD_NOT_ALLOWED);
	assert_int_equal(judge("GET /metrics HTTP/1.2\r\n\r\n"), METRICS_BAD_VERSION);
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
		enum metrics_verdict v = judge(bad[i]);
		if (v != METRICS_BAD_REQUEST && v != METRICS_BAD_VERSION)
			fail_msg("case %zu: verdict %d", i, (int)v);
	}
	/* a NUL inside the request line */
	assert_int_equal(metrics_parse_request("GET /\0etrics HTTP/1.1\r\n\r\n", 26),
			 METRICS_BAD_REQUEST);
}

static void test_too_large(void **state)
{
	static char big[METRICS_REQUEST_MAX + 64];
	size_t n;
	(void)state;
	n = (size_t)snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n);
	/* never a complete header block within the limit */
	assert_int_equal(metrics_parse_request(big, METRICS_REQUEST_MAX), METRICS_TOO_LARGE);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	assert_int_equal(metrics_parse_request(big, sizeof(big)), METRICS_TOO_LARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_served),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_refused_with_status),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_too_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
