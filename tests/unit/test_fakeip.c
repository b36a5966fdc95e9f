/* Unit tests for fakeip.c: a name keeps its address, the address gives
 * the name back, IPv6 too, the least recently used name leaves a full
 * table, a pool that comes round takes its oldest address back, and an
 * address the table never gave is no name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fakeip.h"

static struct cidr net(const char *s)
{
	struct cidr c;
	assert_int_equal(cidr_parse(s, &c), 0);
	return c;
}

static const char *fmt(const struct sockaddr_storage *ss, char *buf)
{
	return addr_format(ss, buf, ADDR_STRLEN);
}

static void test_names_and_addresses(void **state)
{
	struct cidr v4 = net("198.18.0.0/15"), v6 = net("fd00:5a::/64");
	struct fakeip *t = fakeip_new(&v4, &v6, 100);
	struct sockaddr_storage a, b, c;
	char buf[ADDR_STRLEN], name[256];
	(void)state;

	assert_non_null(t);
	assert_int_equal(fakeip_address_of(t, "a.example", AF_INET, &a), 0);
	assert_string_equal(fmt(&a, buf), "198.18.0.1:0");
	assert_int_equal(fakeip_address_of(t, "b.example", AF_INET, &b), 0);
	assert_string_equal(fmt(&b, buf), "198.18.0.2:0");
	assert_int_equal(fakeip_address_of(t, "a.example", AF_INET, &c), 0);
	assert_true(addr_same_ip(&a, &c)); /* the same name, the same address */
	assert_int_equal(fakeip_address_of(t, "a.example", AF_INET6, &c), 0);
	assert_string_equal(fmt(&c, buf), "[fd00:5a::1]:0");
	assert_int_equal(fakeip_count(t), 3);
	/* back, whatever the port */
	assert_int_equal(addr_from_ip("198.18.0.2", 443, &c), 0);
	assert_int_equal(fakeip_name_of(t, &c, name), 0);
	assert_string_equal(name, "b.example");
	assert_int_equal(addr_from_ip("fd00:5a::1", 80, &c), 0);
	assert_int_equal(fakeip_name_of(t, &c, name), 0);
	assert_string_equal(name, "a.example");
	/* in the pool, but never given; outside; above the low 32 bits */
	assert_int_equal(addr_from_ip("198.18.7.7", 80, &c), 0);
	assert_int_equal(fakeip_name_of(t, &c, name), -2); /* in the pool, no name */
	assert_int_equal(addr_from_ip("10.0.0.1", 80, &c), 0);
	assert_int_equal(fakeip_name_of(t, &c, name), -1); /* not in the pool */
	assert_int_equal(addr_from_ip("fd00:5a::1:0:1", 80, &c), 0);
	assert_int_equal(fakeip_name_of(t, &c, name), -1);
	fakeip_free(t);
}

static void test_bounds(void **state)
{
	struct cidr v4 = net("10.0.0.0/24"), tiny = net("10.9.0.0/30");
	struct fakeip *t = fakeip_new(&v4, NULL, 3), *w;
	struct sockaddr_storage a, c;
	char name[256];
	(void)state;

	fakeip_address_of(t, "one", AF_INET, &a);
	fakeip_address_of(t, "two", AF_INET, &c);
	fakeip_address_of(t, "three", AF_INET, &c);
	/* "one" used again: "two" is now the least recently used */
	fakeip_address_of(t, "one", AF_INET, &c);
	fakeip_address_of(t, "four", AF_INET, &c);
	assert_int_equal(fakeip_count(t), 3);
	assert_int_equal(addr_from_ip("10.0.0.2", 0, &c), 0);
	assert_int_equal(fakeip_name_of(t, &c, name), -2); /* two's, gone */
	assert_int_equal(fakeip_name_of(t, &a, name), 0);
	assert_string_equal(name, "one");
	/* no IPv6 pool */
	assert_int_equal(fakeip_address_of(t, "one", AF_INET6, &c), -1);
	fakeip_free(t);

	/* a /30 has two addresses to give: the third name takes the first */
	w = fakeip_new(&tiny, NULL, 10);
	fakeip_address_of(w, "p", AF_INET, &a);
	fakeip_address_of(w, "q", AF_INET, &c);
	fakeip_address_of(w, "r", AF_INET, &c);
	assert_true(addr_same_ip(&a, &c));
	assert_int_equal(fakeip_name_of(w, &a, name), 0);
	assert_string_equal(name, "r");
	assert_int_equal(fakeip_count(w), 2);
	fakeip_free(w);
	/* a pool too small, no room */
	tiny = net("10.9.0.1/32");
	assert_null(fakeip_new(&tiny, NULL, 10));
	assert_null(fakeip_new(&v4, NULL, 0));
}

/* Saved and read back: the same names at the same addresses, the pool
 * going on where it was; under other ranges nothing is taken. */
static void test_save_load(void **state)
{
	struct cidr v4 = net("198.18.0.0/15"), v6 = net("fd00:5a::/64"), other = net("10.5.0.0/16");
	struct fakeip *t = fakeip_new(&v4, &v6, 100), *u;
	struct sockaddr_storage a, b, c;
	char path[] = "/tmp/sgfakeXXXXXX", name[256];
	size_t n;
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	close(fd);
	fakeip_address_of(t, "a.example", AF_INET, &a);
	fakeip_address_of(t, "b.example", AF_INET6, &b);
	assert_int_equal(fakeip_save(t, path), 0);
	u = fakeip_new(&v4, &v6, 100);
	assert_int_equal(fakeip_load(u, path, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fakeip_name_of(u, &a, name), 0);
	assert_string_equal(name, "a.example");
	assert_int_equal(fakeip_name_of(u, &b, name), 0);
	assert_string_equal(name, "b.example");
	/* a new name does not take a kept one's address */
	fakeip_address_of(u, "c.example", AF_INET, &c);
	assert_false(addr_same_ip(&a, &c));
	fakeip_free(u);
	/* other ranges: nothing */
	u = fakeip_new(&other, NULL, 100);
	assert_int_equal(fakeip_load(u, path, &n), 0);
	assert_int_equal(n, 0);
	fakeip_free(u);
	unlink(path);
	assert_int_equal(fakeip_load(t, path, &n), -ENOENT);
	fakeip_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_addresses),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_save_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
