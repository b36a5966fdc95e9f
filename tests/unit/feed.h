/* Helpers for the handshake codec tests: run a reply through a codec whole,
 * and again one byte at a time, and check both agree. */
#ifndef SOCKGATE_TEST_FEED_H
#define SOCKGATE_TEST_FEED_H

#include <arpa/inet.h>
#include <string.h>

#include "upstream.h"

/* Where the codecs under test write the bytes to send. */
static uint8_t test_out[UPSTREAM_OUT_MAX];

static inline struct upstream_url test_url(const char *s)
{
	struct upstream_url u;
	char err[160];
	if (url_parse(s, &u, err, sizeof(err)))
		fail_msg("url %s: %s", s, err);
	return u;
}

static inline struct upstream_target test_target(const char *ip, uint16_t port)
{
	struct upstream_target t;
	memset(&t, 0, sizeof(t));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&t.addr)->sin_addr) == 1) {
		t.addr.ss_family = AF_INET;
		((struct sockaddr_in *)&t.addr)->sin_port = htons(port);
	} else {
		assert_int_equal(
		    inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&t.addr)->sin6_addr), 1);
		t.addr.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&t.addr)->sin6_port = htons(port);
	}
	return t;
}

/* begin() for url and target must write exactly want. */
static inline void expect_request(const char *url, const struct upstream_target *t, int pipelined,
				  const void *want, size_t len)
{
	struct upstream_url u = test_url(url);
	struct upstream_handshake hs;

	assert_int_equal(upstream_handshake_begin(&hs, &u, t, pipelined, test_out), 0);
	assert_int_equal(hs.out_len, len);
	assert_memory_equal(test_out, want, len);
}

/* Feeds reply to a fresh handshake whole and byte by byte; both runs must
 * give the same result and consume the same bytes. *hs_out gets the
 * bytewise state for inspection. */
static inline enum upstream_result feed_both(const struct upstream_url *url,
					     const struct upstream_target *t, int pipelined,
					     const void *reply, size_t len, size_t *consumed,
					     struct upstream_handshake *hs_out)
{
	static struct upstream_handshake whole, bytewise;
	enum upstream_result r1, r2 = UPSTREAM_MORE;
	size_t c1 = 0, c2 = 0;
	const uint8_t *p = reply;

	assert_int_equal(upstream_handshake_begin(&whole, url, t, pipelined, test_out), 0);
	assert_int_equal(upstream_handshake_begin(&bytewise, url, t, pipelined, test_out), 0);
	r1 = upstream_handshake_feed(&whole, p, len, &c1, test_out);
	for (size_t i = 0; i < len && r2 == UPSTREAM_MORE; i++) {
		size_t c = 0;
		r2 = upstream_handshake_feed(&bytewise, p + i, 1, &c, test_out);
		assert_true(c <= 1);
		c2 += c;
	}
	assert_int_equal(r1, r2);
	if (r1 != UPSTREAM_ERROR)
		assert_int_equal(c1, c2);
	else
		assert_string_equal(whole.reason, bytewise.reason);
	if (consumed)
		*consumed = c1;
	if (hs_out)
		*hs_out = bytewise;
	return r1;
}

#endif
