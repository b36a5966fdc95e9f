/* Unit tests for prefix_table: longest-prefix match against a plain scan
 * over random prefix sets, both families, and the edges of the space. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/addr.h"
#include "sockgate/prefix_table.h"

static const char *values[] = { "a", "b", "c", "d", "e" };

static struct sockaddr_storage addr(const char *ip)
{
	struct sockaddr_storage ss;
	if (addr_from_ip(ip, 1, &ss))
		fail_msg("bad address %s", ip);
	return ss;
}

static struct cidr cidr(const char *s)
{
	struct cidr c;
	if (cidr_parse(s, &c))
		fail_msg("bad cidr %s", s);
	return c;
}

static const char *look(const struct prefix_table *t, const char *ip)
{
	struct sockaddr_storage a = addr(ip);
	const char *v = prefix_table_lookup(t, &a);
	return v ? v : "-";
}

static void test_nesting_and_edges(void **state)
{
	struct prefix_table *t = prefix_table_new();
	struct cidr c;
	(void)state;

	c = cidr("0.0.0.0/0");
	prefix_table_add(t, &c, "any");
	c = cidr("10.0.0.0/8");
	prefix_table_add(t, &c, "ten");
	c = cidr("10.1.0.0/16");
	prefix_table_add(t, &c, "ten-one");
	c = cidr("10.1.2.3");
	prefix_table_add(t, &c, "host");
	c = cidr("10.0.0.0/8");
	prefix_table_add(t, &c, "later"); /* given again: the first holds */
	c = cidr("255.255.255.255/32");
	prefix_table_add(t, &c, "top");
	c = cidr("fd00::/8");
	prefix_table_add(t, &c, "ula");
	c = cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124");
	prefix_table_add(t, &c, "end6");
	assert_int_equal(prefix_table_build(t), 0);
	assert_string_equal(look(t, "0.0.0.0"), "any");
	assert_string_equal(look(t, "9.255.255.255"), "any");
	assert_string_equal(look(t, "10.0.0.0"), "ten");
	assert_string_equal(look(t, "10.1.2.2"), "ten-one");
	assert_string_equal(look(t, "10.1.2.3"), "host");
	assert_string_equal(look(t, "10.1.2.4"), "ten-one");
	assert_string_equal(look(t, "10.2.0.0"), "ten");
	assert_string_equal(look(t, "11.0.0.0"), "any");
	assert_string_equal(look(t, "255.255.255.254"), "any");
	assert_string_equal(look(t, "255.255.255.255"), "top");
	assert_string_equal(look(t, "::"), "-");
	assert_string_equal(look(t, "fcff::1"), "-");
	assert_string_equal(look(t, "fd12::1"), "ula");
	assert_string_equal(look(t, "fe00::"), "-");
	assert_string_equal(look(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "end6");
	assert_int_equal(prefix_table_count(t), 8);
	prefix_table_free(t);
	/* empty, and NULL */
	t = prefix_table_new();
	assert_int_equal(prefix_table_build(t), 0);
	assert_string_equal(look(t, "1.2.3.4"), "-");
	prefix_table_free(t);
	assert_null(prefix_table_lookup(NULL, &(struct sockaddr_storage){ .ss_family = AF_INET }));
}

/* The longest of list[0..n) holding a, by a plain scan; first wins among
 * equal prefixes. */
static const void *scan(const struct cidr *list, const void **vals, size_t n,
			const struct sockaddr_storage *a)
{
	const void *best = NULL;
	int best_len = -1;

	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&list[i], a) && (int)list[i].prefix_len > best_len) {
			best = vals[i];
			best_len = (int)list[i].prefix_len;
		}
	return best;
}

static void random_round(int family, unsigned seed)
{
	enum { N = 600, PROBES = 20000 };
	struct cidr list[N];
	const void *vals[N];
	struct prefix_table *t = prefix_table_new();
	size_t bytes = family == AF_INET ? 4 : 16;

	srand(seed);
	for (size_t i = 0; i < N; i++) {
		struct cidr *c = &list[i];
		unsigned bits = (unsigned)bytes * 8;
		memset(c, 0, sizeof(*c));
		c->family = family;
		/* few top bits vary, so prefixes nest and touch often */
		c->bytes[0] = (uint8_t)(rand() % 4);
		c->bytes[1] = (uint8_t)(rand() % 8);
		c->bytes[bytes - 1] = (uint8_t)rand();
		c->prefix_len = (unsigned)rand() % (bits + 1);
		for (unsigned b = c->prefix_len; b < bits; b++)
			c->bytes[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
		vals[i] = values[rand() % 5];
		assert_int_equal(prefix_table_add(t, c, vals[i]), 0);
	}
	assert_int_equal(prefix_table_build(t), 0);
	for (int p = 0; p < PROBES; p++) {
		struct sockaddr_storage a = { 0 };
		uint8_t *ab;
		a.ss_family = (sa_family_t)family;
		ab = family == AF_INET ? (uint8_t *)&((struct sockaddr_in *)&a)->sin_addr
				       : ((struct sockaddr_in6 *)&a)->sin6_addr.s6_addr;
		for (size_t b = 0; b < bytes; b++)
			ab[b] = (uint8_t)rand();
		ab[0] = (uint8_t)(rand() % 4);
		ab[1] = (uint8_t)(rand() % 8);
		if (rand() % 2) /* right on a prefix's edge */
			memcpy(ab, list[rand() % N].bytes, bytes);
		if (prefix_table_lookup(t, &a) != scan(list, vals, N, &a)) {
			char s[ADDR_STRLEN];
			fail_msg("seed %u: %s differs from the scan", seed,
				 addr_format(&a, s, sizeof(s)));
		}
	}
	assert_true(prefix_table_bytes(t) > 0);
	prefix_table_free(t);
}

static void test_random_against_scan(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 20; seed++) {
		random_round(AF_INET, seed);
		random_round(AF_INET6, seed);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_edges),
		cmocka_unit_test(test_random_against_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
