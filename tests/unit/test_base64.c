/* Unit tests for base64: round trips, and the decoder's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/base64.h"

static int decode(const char *s, uint8_t *out, size_t cap)
{
	return base64_decode(s, strlen(s), out, cap);
}

static void test_round_trip(void **state)
{
	static const char *plain[] = { "", "a", "ab", "abc", "alice:s3cret", "user:p\xc3\xa4ss:x" };
	char enc[64];
	uint8_t dec[64];
	(void)state;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		size_t n = strlen(plain[i]);
		assert_true(base64_encode(plain[i], n, enc, sizeof(enc)) >= 0);
		assert_int_equal(decode(enc, dec, sizeof(dec)), n);
		assert_memory_equal(dec, plain[i], n);
		assert_int_equal(dec[n], 0);
	}
	assert_int_equal(decode("YWxpY2U6c2VjcmV0", dec, sizeof(dec)), 12);
	assert_string_equal((char *)dec, "alice:secret");
}

static void test_refused(void **state)
{
	static const char *bad[] = { "YQ",   "YQ=",   "Y===",  "YQ==YQ==", "YR==",
				     "YW=j", "YW Jj", "YW\nj", "=QQQ",	   "YWJj!" };
	uint8_t dec[64];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (decode(bad[i], dec, sizeof(dec)) != -1)
			fail_msg("\"%s\" decoded", bad[i]);
	/* out too small (the NUL counts) */
	assert_int_equal(decode("YWJj", dec, 3), -1);
	assert_int_equal(decode("YWJj", dec, 4), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
