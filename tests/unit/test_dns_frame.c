/* Unit tests for dns_frame.c: messages framed and read back, whole or cut
 * anywhere, the bounds on what is queued, and the prefix's own limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns_frame.h"

static void test_put_and_next(void **state)
{
	struct dns_frames out = { 0 }, in = { 0 };
	const uint8_t *msg;
	size_t off = 0, len;
	(void)state;

	assert_int_equal(dns_frames_put(&out, (const uint8_t *)"abc", 3, 1024), 0);
	assert_int_equal(dns_frames_put(&out, (const uint8_t *)"", 0, 1024), 0);
	assert_int_equal(dns_frames_put(&out, (const uint8_t *)"hello", 5, 1024), 0);
	assert_int_equal(out.out_len, 2 + 3 + 2 + 2 + 5);
	assert_memory_equal(out.out, "\0\3abc\0\0\0\5hello", out.out_len);
	/* read back from what came in, every cut short of the whole */
	in.in = malloc(out.out_len);
	for (size_t cut = 0; cut <= out.out_len; cut++) {
		size_t got = 0;
		memcpy(in.in, out.out, cut);
		in.in_len = cut;
		off = 0;
		while (dns_frames_next(&in, &off, &msg, &len))
			got++;
		assert_int_equal(got, cut >= 14 ? 3 : cut >= 7 ? 2 : cut >= 5 ? 1 : 0);
	}
	off = 0;
	assert_int_equal(dns_frames_next(&in, &off, &msg, &len), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(msg, "abc", 3);
	dns_frames_consume(&in, off);
	assert_int_equal(in.in_len, 9);
	off = 0;
	assert_int_equal(dns_frames_next(&in, &off, &msg, &len), 1);
	assert_int_equal(len, 0);
	dns_frames_free(&in);
	dns_frames_free(&out);
	assert_null(out.out);
	assert_int_equal(out.out_len, 0);
}

static void test_bounds(void **state)
{
	static uint8_t big[70000];
	struct dns_frames b = { 0 };
	(void)state;

	/* past out_max: nothing queued */
	assert_int_equal(dns_frames_put(&b, big, 100, 101), -1);
	assert_int_equal(b.out_len, 0);
	assert_int_equal(dns_frames_put(&b, big, 99, 101), 0);
	assert_int_equal(dns_frames_put(&b, big, 1, 101), -1);
	assert_int_equal(b.out_len, 101);
	/* a message the prefix cannot say */
	assert_int_equal(dns_frames_put(&b, big, 65536, 1 << 20), -1);
	assert_int_equal(dns_frames_put(&b, big, 65535, 1 << 20), 0);
	assert_int_equal(b.out_len, 101 + 2 + 65535);
	dns_frames_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_and_next),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
