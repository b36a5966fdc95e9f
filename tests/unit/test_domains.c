/* Unit tests for domains.c: suffix and exact entries, the most specific
 * one winning, names normalized on the way in and out, what is not a
 * name, and a table of 50,000 names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/domains.h"

static const char A[] = "a", B[] = "b", C[] = "c";

static void test_match(void **state)
{
	struct domain_table *t = domain_table_new();
	(void)state;

	assert_non_null(t);
	assert_int_equal(domain_table_add(t, "Example.COM.", 0, A), 0);
	assert_int_equal(domain_table_add(t, "corp.example.com", 0, B), 0);
	assert_int_equal(domain_table_add(t, "www.example.com", 1, C), 0);
	assert_int_equal(domain_table_add(t, "example.com", 0, C), 1); /* there already */
	assert_int_equal(domain_table_count(t), 3);
	/* a domain and everything under it */
	assert_ptr_equal(domain_table_match(t, "example.com"), A);
	assert_ptr_equal(domain_table_match(t, "EXAMPLE.com."), A);
	assert_ptr_equal(domain_table_match(t, "x.y.example.com"), A);
	/* the most specific entry wins */
	assert_ptr_equal(domain_table_match(t, "corp.example.com"), B);
	assert_ptr_equal(domain_table_match(t, "db.corp.example.com"), B);
	/* an exact entry: that name only */
	assert_ptr_equal(domain_table_match(t, "www.example.com"), C);
	assert_ptr_equal(domain_table_match(t, "a.www.example.com"), A);
	/* not under it */
	assert_null(domain_table_match(t, "notexample.com"));
	assert_null(domain_table_match(t, "com"));
	assert_null(domain_table_match(t, "example.org"));
	assert_null(domain_table_match(t, ""));
	assert_null(domain_table_match(t, "a..example.com"));
	assert_null(domain_table_match(NULL, "example.com"));
	domain_table_free(t);
}

static void test_not_names(void **state)
{
	struct domain_table *t = domain_table_new();
	char out[DOMAIN_NAME_MAX + 1], long_label[80];
	(void)state;

	assert_int_equal(domain_table_add(t, "10.0.0.1", 0, A), -1);
	assert_int_equal(domain_table_add(t, "a b.com", 0, A), -1);
	assert_int_equal(domain_table_add(t, "-a.com", 0, A), -1);
	assert_int_equal(domain_table_add(t, "a-.com", 0, A), -1);
	assert_int_equal(domain_table_add(t, ".com", 0, A), -1);
	assert_int_equal(domain_table_add(t, "a.com..", 0, A), -1);
	assert_int_equal(domain_table_add(t, "", 0, A), -1);
	assert_int_equal(domain_table_add(t, "a/b", 0, A), -1);
	memset(long_label, 'x', sizeof(long_label));
	long_label[64] = '\0';
	assert_int_equal(domain_table_add(t, long_label, 0, A), -1);
	long_label[63] = '\0';
	assert_int_equal(domain_table_add(t, long_label, 0, A), 0);
	assert_int_equal(domain_normalize("_Srv._TCP.Example.ORG.", out), 0);
	assert_string_equal(out, "_srv._tcp.example.org");
	domain_table_free(t);
}

/* 50,000 names (growing the table many times), each found again, and
 * names under them found by their parent. */
static void test_many(void **state)
{
	struct domain_table *t = domain_table_new();
	char name[64];
	(void)state;

	for (int i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "host%d.list%d.example", i, i % 97);
		assert_int_equal(domain_table_add(t, name, i % 2, i % 3 ? A : B), 0);
	}
	assert_int_equal(domain_table_count(t), 50000);
	for (int i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "host%d.list%d.example", i, i % 97);
		assert_ptr_equal(domain_table_match(t, name), i % 3 ? A : B);
		snprintf(name, sizeof(name), "sub.host%d.list%d.example", i, i % 97);
		/* exact entries (odd i) do not cover names under them */
		assert_ptr_equal(domain_table_match(t, name), i % 2 ? NULL : (i % 3 ? A : B));
	}
	assert_null(domain_table_match(t, "host50000.list0.example"));
	domain_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_not_names),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
