/* Unit tests for client_limit: per-address counting, IPv6 /64 grouping, and
 * the table staying consistent through many inserts and deletions. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_limit.h"
#include "sockgate/addr.h"

static struct sockaddr_storage v4(unsigned n)
{
	struct sockaddr_storage ss;
	char ip[32];
	snprintf(ip, sizeof(ip), "10.%u.%u.%u", (n >> 16) & 255, (n >> 8) & 255, n & 255);
	assert_int_equal(addr_from_ip(ip, 1000 + n % 1000, &ss), 0);
	return ss;
}

static void test_limit_per_client(void **state)
{
	struct client_limit *cl = client_limit_new(3, 0);
	struct sockaddr_storage a = v4(1), b = v4(2);
	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(client_limit_take(cl, &a), 1);
	assert_int_equal(client_limit_take(cl, &a), -1);
	assert_int_equal(client_limit_take(cl, &b), 1);
	client_limit_release(cl, &a);
	assert_int_equal(client_limit_take(cl, &a), 1);
	assert_int_equal(client_limit_take(cl, &a), -1);
	client_limit_free(cl);
}

/* IPv6: each address its own max, its /64 a larger budget together. */
static void test_ipv6_per_128_and_64(void **state)
{
	struct client_limit *cl = client_limit_new(2, 3);
	struct sockaddr_storage a, b, c, d;
	(void)state;
	addr_from_ip("fd00:1:2:3::1", 1, &a);
	addr_from_ip("fd00:1:2:3:ffff::9", 1, &b);
	addr_from_ip("fd00:1:2:3::77", 1, &d);
	addr_from_ip("fd00:1:2:4::1", 1, &c);
	assert_int_equal(client_limit_take(cl, &a), 1);
	assert_int_equal(client_limit_take(cl, &a), 1);
	assert_int_equal(client_limit_take(cl, &a), -1); /* a's own max */
	assert_int_equal(client_limit_take(cl, &b), 1);	 /* a neighbour still gets in */
	assert_int_equal(client_limit_take(cl, &d), -1); /* the /64 budget is spent */
	assert_int_equal(client_limit_take(cl, &c), 1);	 /* another /64 */
	client_limit_release(cl, &a);
	assert_int_equal(client_limit_take(cl, &d), 1);
	assert_int_equal(client_limit_take(cl, &d), -1);
	client_limit_release(cl, &a);
	client_limit_release(cl, &b);
	client_limit_release(cl, &d);
	/* everything released: the whole budget is back */
	assert_int_equal(client_limit_take(cl, &d), 1);
	assert_int_equal(client_limit_take(cl, &d), 1);
	assert_int_equal(client_limit_take(cl, &b), 1);
	client_limit_free(cl);
}

static void test_no_limit(void **state)
{
	struct sockaddr_storage a = v4(1);
	(void)state;
	struct client_limit *cl = client_limit_new(0, 0);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(client_limit_take(cl, &a), 0);
	client_limit_free(cl);
}

/* Thousands of clients come and go in a scrambled order; every remaining
 * client must still be found with its exact count. */
static void test_churn(void **state)
{
	enum { N = 6000 };
	struct client_limit *cl = client_limit_new(2, 0);
	static unsigned held[N];
	(void)state;
	srand(7);
	for (unsigned i = 0; i < N; i++) {
		struct sockaddr_storage a = v4(i);
		assert_int_equal(client_limit_take(cl, &a), 1);
		held[i] = 1;
		if (i % 3 == 0) {
			assert_int_equal(client_limit_take(cl, &a), 1);
			held[i] = 2;
		}
	}
	for (unsigned round = 0; round < 4 * N; round++) {
		unsigned i = (unsigned)rand() % N;
		struct sockaddr_storage a = v4(i);
		if (held[i] && rand() % 2) {
			client_limit_release(cl, &a);
			held[i]--;
		} else if (held[i] < 2) {
			assert_int_equal(client_limit_take(cl, &a), 1);
			held[i]++;
		}
	}
	for (unsigned i = 0; i < N; i++) {
		struct sockaddr_storage a = v4(i);
		/* a client at 2 is refused; below 2 it gets in */
		assert_int_equal(client_limit_take(cl, &a), held[i] == 2 ? -1 : 1);
	}
	client_limit_free(cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_per_client),
		cmocka_unit_test(test_ipv6_per_128_and_64),
		cmocka_unit_test(test_no_limit),
		cmocka_unit_test(test_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
