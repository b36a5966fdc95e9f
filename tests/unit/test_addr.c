/* Unit tests for addr: valid input, byte-exact output and every malformed case. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/addr.h"

static void test_port(void **state)
{
	uint16_t p;
	(void)state;
	assert_int_equal(addr_parse_port("1", &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(addr_parse_port("65535", &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(addr_parse_port("0", &p), -1);
	assert_int_equal(addr_parse_port("65536", &p), -1);
	assert_int_equal(addr_parse_port("", &p), -1);
	assert_int_equal(addr_parse_port("+1", &p), -1);
	assert_int_equal(addr_parse_port("1 ", &p), -1);
	assert_int_equal(addr_parse_port("000080", &p), -1);
}

static void test_format(void **state)
{
	struct sockaddr_storage ss;
	char buf[ADDR_STRLEN];
	(void)state;
	assert_int_equal(addr_from_ip("10.1.2.3", 80, &ss), 0);
	assert_string_equal(addr_format(&ss, buf, sizeof(buf)), "10.1.2.3:80");
	assert_int_equal(addr_from_ip("fd00::1", 443, &ss), 0);
	assert_string_equal(addr_format(&ss, buf, sizeof(buf)), "[fd00::1]:443");
	assert_int_equal(addr_port(&ss), 443);
	assert_int_equal(addr_from_ip("nope", 1, &ss), -1);
}

static void test_equal(void **state)
{
	struct sockaddr_storage a, b;
	(void)state;
	addr_from_ip("10.0.0.1", 80, &a);
	addr_from_ip("10.0.0.1", 80, &b);
	assert_true(addr_equal(&a, &b));
	addr_from_ip("10.0.0.1", 81, &b);
	assert_false(addr_equal(&a, &b));
	addr_from_ip("::ffff:10.0.0.1", 80, &b);
	assert_false(addr_equal(&a, &b));
}

static void test_cidr(void **state)
{
	struct cidr c;
	struct sockaddr_storage ss;
	(void)state;
	assert_int_equal(cidr_parse("10.0.0.0/8", &c), 0);
	assert_int_equal(c.prefix_len, 8);
	addr_from_ip("10.200.1.1", 1, &ss);
	assert_true(cidr_contains(&c, &ss));
	addr_from_ip("11.0.0.1", 1, &ss);
	assert_false(cidr_contains(&c, &ss));
	addr_from_ip("fd00::1", 1, &ss);
	assert_false(cidr_contains(&c, &ss));

	assert_int_equal(cidr_parse("fc00::/7", &c), 0);
	addr_from_ip("fdff::1", 1, &ss);
	assert_true(cidr_contains(&c, &ss));
	addr_from_ip("fe00::1", 1, &ss);
	assert_false(cidr_contains(&c, &ss));

	assert_int_equal(cidr_parse("192.168.1.7", &c), 0);
	assert_int_equal(c.prefix_len, 32);
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
	addr_from_ip("1.2.3.4", 1, &ss);
	assert_true(cidr_contains(&c, &ss));

	assert_int_equal(cidr_parse("10.1.2.3/8", &c), -1); /* host bits */
	assert_int_equal(cidr_parse("fd00::/7", &c), -1);
	assert_int_equal(cidr_parse("10.0.0.0/33", &c), -1);
	assert_int_equal(cidr_parse("fd00::/129", &c), -1);
	assert_int_equal(cidr_parse("10.0.0.0/", &c), -1);
	assert_int_equal(cidr_parse("/8", &c), -1);
	assert_int_equal(cidr_parse("10.0.0.0/8x", &c), -1);
	assert_int_equal(cidr_parse("10.0.0/8", &c), -1);
	assert_int_equal(cidr_parse("", &c), -1);
}

static void test_same_ip_set_port_unmap(void **state)
{
	struct sockaddr_storage a, b;
	char buf[ADDR_STRLEN];
	(void)state;
	assert_int_equal(addr_from_ip("10.0.0.1", 80, &a), 0);
	assert_int_equal(addr_from_ip("10.0.0.1", 81, &b), 0);
	assert_true(addr_same_ip(&a, &b));
	assert_false(addr_equal(&a, &b));
	addr_set_port(&b, 80);
	assert_true(addr_equal(&a, &b));
	assert_int_equal(addr_from_ip("::ffff:10.0.0.1", 80, &b), 0);
	assert_false(addr_same_ip(&a, &b)); /* families differ until unmapped */
	addr_unmap_v4(&b);
	assert_int_equal(b.ss_family, AF_INET);
	assert_true(addr_equal(&a, &b));
	assert_string_equal(addr_format(&b, buf, sizeof(buf)), "10.0.0.1:80");
	assert_int_equal(addr_from_ip("fd00::1", 443, &a), 0);
	addr_unmap_v4(&a); /* not mapped: unchanged */
	assert_string_equal(addr_format(&a, buf, sizeof(buf)), "[fd00::1]:443");
	addr_set_port(&a, 8443);
	assert_int_equal(addr_port(&a), 8443);
	assert_int_equal(addr_from_ip("fd00::2", 443, &b), 0);
	assert_false(addr_same_ip(&a, &b));
}

static void test_loopback_unspecified(void **state)
{
	static const struct {
		const char *ip;
		int loopback, unspecified;
	} cases[] = {
		{ "127.0.0.1", 1, 0 }, { "127.255.0.9", 1, 0 }, { "0.0.0.0", 0, 1 },
		{ "10.0.0.1", 0, 0 },  { "::1", 1, 0 },		{ "::", 0, 1 },
		{ "::2", 0, 0 },       { "fd00::1", 0, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		assert_int_equal(addr_from_ip(cases[i].ip, 80, &ss), 0);
		if (addr_is_loopback(&ss) != cases[i].loopback ||
		    addr_is_unspecified(&ss) != cases[i].unspecified)
			fail_msg("%s: loopback %d unspecified %d", cases[i].ip,
				 addr_is_loopback(&ss), addr_is_unspecified(&ss));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_ip_set_port_unmap),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_loopback_unspecified),
	};
	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
