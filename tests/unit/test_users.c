/* Unit tests for users: the users file parser, lookup and --hash-password. */
#include <crypt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "users.h"

#define SHA512_SECRET                                                                              \
	"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN."   \
	"Pq."                                                                                      \
	"H91p5hVO1"
#define YESCRYPT_SECRET "$y$j9T$abcdefghijklmnopqrstu.$7uryFExhLbAhrpK1WytVzeNObCUVaK3VoKccP3fJEIB"

static int parse(const char *text, struct users **u, char *errs, size_t len)
{
	FILE *f = fmemopen(errs, len, "w");
	int n;
	memset(errs, 0, len);
	n = users_parse("users", text, strlen(text), u, f);
	fclose(f);
	return n;
}

static void expect_error(const char *text, const char *message)
{
	struct users *u = NULL;
	char errs[2048];
	if (parse(text, &u, errs, sizeof(errs)) == 0)
		fail_msg("parsed but should fail with \"%s\"", message);
	assert_null(u);
	if (!strstr(errs, message))
		fail_msg("errors:\n%s\nlack \"%s\"", errs, message);
}

static void test_valid(void **state)
{
	struct users *u = NULL;
	char errs[2048];
	(void)state;
	int n = parse("# sockgate users\n\n"
		      "zed:" SHA512_SECRET "\r\n"
		      "  alice:" YESCRYPT_SECRET "  \n"
		      "bob@example.org:" SHA512_SECRET,
		      &u, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(users_count(u), 3);
	assert_string_equal(users_find(u, "alice"), YESCRYPT_SECRET);
	assert_string_equal(users_find(u, "zed"), SHA512_SECRET);
	assert_string_equal(users_find(u, "bob@example.org"), SHA512_SECRET);
	assert_null(users_find(u, "ali"));
	assert_null(users_find(u, ""));
	users_free(u);

	n = parse("", &u, errs, sizeof(errs));
	assert_int_equal(n, 0);
	assert_int_equal(users_count(u), 0);
	assert_null(users_find(u, "alice"));
	users_free(u);
}

static void test_malformed(void **state)
{
	char long_user[300];
	char text[400];
	(void)state;
	expect_error("alice\n", "users:1: expected user:hash");
	expect_error("\nalice:secret\n", "users:2: user \"alice\": not a crypt(3) hash");
	expect_error("alice:\n", "not a crypt(3) hash");
	expect_error("alice:abNANd1rDfiNc\n", "not a crypt(3) hash"); /* legacy DES */
	expect_error("alice:$6$\n", "not a crypt(3) hash");
	expect_error("alice:$6$saltsalt$\n", "not a crypt(3) hash");
	expect_error("alice:$6$saltsalt$short\n", "not a crypt(3) hash");
	expect_error("alice:" SHA512_SECRET "!\n", "not a crypt(3) hash");
	expect_error("alice:$nonsense$x$y\n", "not a crypt(3) hash");
	expect_error(":" SHA512_SECRET "\n", "users:1: user name must be");
	expect_error("al ice:" SHA512_SECRET "\n", "user name must be");
	expect_error("al\tice:" SHA512_SECRET "\n", "user name must be");
	memset(long_user, 'u', 256);
	long_user[256] = '\0';
	snprintf(text, sizeof(text), "%s:%s\n", long_user, SHA512_SECRET);
	expect_error(text, "user name must be 1..255 bytes");
	expect_error("alice:" SHA512_SECRET "\nbob:" SHA512_SECRET "\nalice:" YESCRYPT_SECRET "\n",
		     "users:3: user \"alice\" listed twice (also line 1)");
	/* every bad line is reported */
	{
		struct users *u = NULL;
		char errs[2048];
		assert_int_equal(parse("a\nb:c\nok:" SHA512_SECRET "\nd\n", &u, errs, sizeof(errs)),
				 3);
	}
}

static void test_nul_byte(void **state)
{
	struct users *u = NULL;
	(void)state;
	assert_int_equal(users_parse("users", "alice\0:x\n", 9, &u, NULL), 1);
	assert_null(u);
}

static void test_hash_password(void **state)
{
	char line[512], again[512];
	struct users *u = NULL;
	struct crypt_data data;
	const char *hash;
	(void)state;
	assert_int_equal(users_hash_password("alice", "s3cr:t pw", line, sizeof(line)), 0);
	assert_memory_equal(line, "alice:$", 7);
	assert_null(strstr(line, "s3cr:t"));
	assert_int_equal(users_parse("users", line, strlen(line), &u, NULL), 0);
	hash = users_find(u, "alice");
	assert_non_null(hash);
	memset(&data, 0, sizeof(data));
	assert_string_equal(crypt_r("s3cr:t pw", hash, &data), hash);
	assert_string_not_equal(crypt_r("s3cr:t pX", hash, &data), hash);
	users_free(u);
	/* a fresh salt each time */
	assert_int_equal(users_hash_password("alice", "s3cr:t pw", again, sizeof(again)), 0);
	assert_string_not_equal(line, again);
	assert_int_equal(users_hash_password("bad user", "x", line, sizeof(line)), -1);
	assert_int_equal(users_hash_password("", "x", line, sizeof(line)), -1);
	assert_int_equal(users_hash_password("alice", "x", line, 10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_hash_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
