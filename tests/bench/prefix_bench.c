/* Route lookups for make bench: N random prefixes of a family in a
 * prefix_table (the daemon's [route] and CIDR lists), then lookups of
 * random addresses for a second. Prints "load_ms BYTES lookups_per_s".
 * Usage: prefix_bench 4|6 N */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netinet/in.h>

#include "sockgate/addr.h"
#include "sockgate/prefix_table.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(void)
{
	static uint64_t x = 88172645463325252ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

int main(int argc, char **argv)
{
	int v6 = argc > 1 && !strcmp(argv[1], "6");
	long n = argc > 2 ? atol(argv[2]) : 100000;
	size_t len = v6 ? 16 : 4;
	struct prefix_table *t = prefix_table_new();
	static const char *values[] = { "a", "b", "c" };
	struct sockaddr_storage *probes;
	unsigned long long found = 0, lookups = 0;
	double t0, t1;

	probes = calloc(65536, sizeof(*probes));
	if (!t || !probes)
		return 1;
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		struct cidr c = { .family = v6 ? AF_INET6 : AF_INET };
		uint64_t r = rnd(), r2 = rnd();
		memcpy(c.bytes, &r, 8);
		memcpy(c.bytes + 8, &r2, 8);
		/* country-list sizes: /16../24 for IPv4, /32../48 for IPv6 */
		c.prefix_len = v6 ? 32 + (unsigned)(rnd() % 17) : 16 + (unsigned)(rnd() % 9);
		for (unsigned b = c.prefix_len; b < len * 8; b++)
			c.bytes[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
		if (prefix_table_add(t, &c, values[i % 3]) < 0)
			return 1;
	}
	if (prefix_table_build(t) < 0)
		return 1;
	t1 = now_s();
	for (int i = 0; i < 65536; i++) {
		uint64_t r = rnd(), r2 = rnd();
		probes[i].ss_family = v6 ? AF_INET6 : AF_INET;
		if (v6) {
			memcpy(((struct sockaddr_in6 *)&probes[i])->sin6_addr.s6_addr, &r, 8);
			memcpy(((struct sockaddr_in6 *)&probes[i])->sin6_addr.s6_addr + 8, &r2, 8);
		} else {
			memcpy(&((struct sockaddr_in *)&probes[i])->sin_addr, &r, 4);
		}
	}
	{
		double start = now_s(), end;
		do {
			for (int i = 0; i < 65536; i++)
				found += prefix_table_lookup(t, &probes[i]) != NULL;
			lookups += 65536;
			end = now_s();
		} while (end - start < 1.0);
		printf("%.1f %zu %.0f %llu\n", (t1 - t0) * 1000, prefix_table_bytes(t),
		       (double)lookups / (end - start), found);
	}
	prefix_table_free(t);
	free(probes);
	return 0;
}
