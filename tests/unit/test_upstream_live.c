/* Unit tests for upstream_live: the group policies, the hysteresis of up and
 * down, pins, name resolution bounds and what a reload keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "generation.h"
#include "upstream_live.h"

#define CONF(policy, extra)                                                                        \
	"[upstream a]\nurl = socks5://10.0.0.1:1080\n"                                             \
	"[upstream b]\nurl = socks5://10.0.0.2:1080\n"                                             \
	"[upstream c]\nurl = http://10.0.0.3:3128\n"                                               \
	"[upstream named]\nurl = socks5://proxy.example:1080\n"                                    \
	"[group g]\nmembers = a, b, c\npolicy = " policy "\n" extra "[route]\ndefault = g\n"

static struct generation *load(const char *text)
{
	struct config *cfg = NULL;
	char errs[2048] = "";
	FILE *f = fmemopen(errs, sizeof(errs), "w");
	int n = config_load_string("t.conf", text, 0, &cfg, f);

	fclose(f);
	if (n)
		fail_msg("%s", errs);
	return generation_new(cfg, NULL, 1);
}

static const struct upstream *up_named(const struct generation *g, const char *name)
{
	for (size_t i = 0; i < g->cfg->n_upstreams; i++)
		if (!strcmp(g->cfg->upstreams[i].name, name))
			return &g->cfg->upstreams[i];
	fail_msg("no upstream %s", name);
	return NULL;
}

static const char *pick(const struct generation *g, const struct sockaddr_storage *client,
			uint32_t tried, unsigned how)
{
	int pos;
	const struct upstream *m =
	    upstream_live_pick(&g->live, g->cfg->default_upstream, client, tried, how, &pos);
	return m ? m->name : "none";
}

/* n failures in a row of a real flow's handshake */
static void fail_n(struct generation *g, const char *name, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		upstream_live_note(&g->live, up_named(g, name), 0, 0, 0, "refused", 1000);
}

static void test_failover_and_hysteresis(void **state)
{
	struct generation *g = load(CONF("failover", "up_after = 2\ndown_after = 2\n"));
	(void)state;

	assert_string_equal(pick(g, NULL, 0, 0), "a");
	/* tried a: the next in order */
	assert_string_equal(pick(g, NULL, 1u << 0, 0), "b");
	fail_n(g, "a", 1);
	assert_string_equal(pick(g, NULL, 0, 0), "a"); /* one failure: still up */
	fail_n(g, "a", 1);
	assert_string_equal(pick(g, NULL, 0, 0), "b"); /* two in a row: down */
	/* a real flow's success does not bring a checked member back */
	upstream_live_note(&g->live, up_named(g, "a"), 0, 1, 0, NULL, 2000);
	assert_string_equal(pick(g, NULL, 0, 0), "b");
	/* up_after good checks do */
	upstream_live_note(&g->live, up_named(g, "a"), 1, 1, 5, NULL, 3000);
	assert_string_equal(pick(g, NULL, 0, 0), "b");
	upstream_live_note(&g->live, up_named(g, "a"), 1, 1, 5, NULL, 4000);
	assert_string_equal(pick(g, NULL, 0, 0), "a");
	/* a failure between good checks starts the count again */
	fail_n(g, "a", 2);
	upstream_live_note(&g->live, up_named(g, "a"), 1, 1, 5, NULL, 5000);
	fail_n(g, "a", 1);
	upstream_live_note(&g->live, up_named(g, "a"), 1, 1, 5, NULL, 6000);
	assert_string_equal(pick(g, NULL, 0, 0), "b");
	generation_unref(g);
}

static void test_all_down(void **state)
{
	struct generation *g = load(CONF("failover", "down_after = 1\n"));
	struct generation *d = load(CONF("failover", "down_after = 1\non_all_down = direct\n"));
	(void)state;

	fail_n(g, "a", 1);
	fail_n(g, "b", 1);
	fail_n(g, "c", 1);
	assert_string_equal(pick(g, NULL, 0, 0), "none");
	/* every member tried: the same */
	assert_string_equal(pick(d, NULL, 7, 0), "direct");
	generation_unref(g);
	generation_unref(d);
}

static void test_round_robin(void **state)
{
	struct generation *g = load(CONF("round-robin", ""));
	struct sockaddr_storage client;
	const char *first;
	(void)state;

	assert_string_equal(pick(g, NULL, 0, 0), "a");
	assert_string_equal(pick(g, NULL, 0, 0), "b");
	assert_string_equal(pick(g, NULL, 0, 0), "c");
	assert_string_equal(pick(g, NULL, 0, 0), "a");
	fail_n(g, "b", 2);
	assert_string_equal(pick(g, NULL, 0, 0), "c"); /* b skipped */
	/* a stable pick (UDP, the DNS service) keeps one member per client */
	addr_from_ip("192.168.1.9", 0, &client);
	first = pick(g, &client, 0, PICK_STABLE);
	assert_string_equal(pick(g, &client, 0, PICK_STABLE), first);
	/* UDP: the same, among the members that carry it (c is http) */
	first = pick(g, &client, 0, PICK_UDP);
	assert_string_not_equal(first, "c");
	assert_string_equal(pick(g, &client, 0, PICK_UDP), first);
	generation_unref(g);
}

static void test_hash(void **state)
{
	struct generation *g = load(CONF("hash", ""));
	struct sockaddr_storage client;
	char ip[32];
	int seen[3] = { 0 };
	(void)state;

	for (int i = 1; i < 60; i++) {
		const char *m;
		snprintf(ip, sizeof(ip), "192.168.1.%d", i);
		addr_from_ip(ip, 0, &client);
		m = pick(g, &client, 0, 0);
		assert_string_equal(pick(g, &client, 0, 0), m); /* one device, one member */
		seen[m[0] - 'a']++;
	}
	/* spread over all three */
	assert_true(seen[0] && seen[1] && seen[2]);
	/* a member down: its devices move on, the others stay */
	addr_from_ip("192.168.1.1", 0, &client);
	{
		char before[CONFIG_NAME_MAX + 1];
		snprintf(before, sizeof(before), "%s", pick(g, &client, 0, 0));
		fail_n(g, before, 2);
		assert_string_not_equal(pick(g, &client, 0, 0), before);
	}
	generation_unref(g);
}

static void test_least_latency_and_udp(void **state)
{
	struct generation *g = load(CONF("least-latency", ""));
	(void)state;

	/* none checked yet: in order */
	assert_string_equal(pick(g, NULL, 0, 0), "a");
	upstream_live_note(&g->live, up_named(g, "a"), 1, 1, 80, NULL, 1000);
	upstream_live_note(&g->live, up_named(g, "b"), 1, 1, 20, NULL, 1000);
	assert_string_equal(pick(g, NULL, 0, 0), "b");
	upstream_live_note(&g->live, up_named(g, "c"), 1, 1, 5, NULL, 1000);
	assert_string_equal(pick(g, NULL, 0, 0), "c");
	/* c (http) carries no UDP; b's UDP ASSOCIATE fails: UDP goes to a */
	upstream_live_note_udp(&g->live, up_named(g, "b"), 0, "refused");
	assert_string_equal(pick(g, NULL, 0, PICK_UDP), "a");
	assert_string_equal(pick(g, NULL, 0, 0), "c");
	generation_unref(g);
}

static void test_pin_and_inherit(void **state)
{
	struct generation *g = load(CONF("failover", "down_after = 1\n"));
	struct generation *next = load(CONF("failover", "down_after = 1\n"));
	char why[128];
	(void)state;

	assert_int_equal(upstream_live_pin(&g->live, "g", "c", why, sizeof(why)), 0);
	fail_n(g, "c", 1);
	assert_string_equal(pick(g, NULL, 0, 0), "c"); /* a pin holds, up or not */
	assert_string_equal(pick(g, NULL, 1u << 2, 0), "none");
	assert_int_equal(upstream_live_pin(&g->live, "g", "x", why, sizeof(why)), -1);
	assert_string_equal(why, "\"x\" is not a member of group g");
	assert_int_equal(upstream_live_pin(&g->live, "a", "b", why, sizeof(why)), -1);
	assert_int_equal(upstream_live_pin(&g->live, "nope", "b", why, sizeof(why)), -1);
	/* a reload keeps the pin and what was known */
	upstream_live_inherit(&next->live, &g->live);
	assert_string_equal(pick(next, NULL, 0, 0), "c");
	assert_int_equal(upstream_live_pin(&next->live, "g", "auto", why, sizeof(why)), 0);
	assert_string_equal(pick(next, NULL, 0, 0), "a");
	fail_n(next, "a", 1);
	assert_string_equal(pick(next, NULL, 0, 0), "b");
	generation_unref(g);
	generation_unref(next);
}

static void test_names(void **state)
{
	struct generation *g =
	    load("[daemon]\nresolve_min = 10s\nresolve_max = 60s\n" CONF("failover", ""));
	const struct upstream *named = up_named(g, "named");
	struct upstream_live *l = upstream_live_of(&g->live, named);
	struct sockaddr_storage addrs[2], a;
	(void)state;

	/* not resolved at load (resolve = 0): down, no address */
	assert_int_equal(atomic_load(&l->down), 1);
	assert_int_equal(upstream_live_addr(&g->live, named, 0, &a), -1);
	addr_from_ip("192.0.2.7", 1080, &addrs[0]);
	addr_from_ip("192.0.2.8", 1080, &addrs[1]);
	/* a TTL of 1 s is held to resolve_min, of a day to resolve_max */
	upstream_live_resolved(&g->live, named, addrs, 2, 1, NULL, 1000);
	assert_int_equal(l->refresh_ms, 1000 + 10000);
	assert_int_equal(atomic_load(&l->down), 0); /* no group: up once resolved */
	assert_int_equal(upstream_live_addr(&g->live, named, 1, &a), 0);
	assert_true(addr_equal(&a, &addrs[1]));
	assert_true(upstream_live_is_upstream_address(&g->live, &addrs[1]));
	upstream_live_resolved(&g->live, named, addrs, 1, 86400, NULL, 2000);
	assert_int_equal(l->refresh_ms, 2000 + 60000);
	assert_int_equal(upstream_live_addr(&g->live, named, 1, &a), -1);
	/* a failed lookup keeps what was known */
	upstream_live_resolved(&g->live, named, NULL, 0, 0, "timeout", 3000);
	assert_int_equal(upstream_live_addr(&g->live, named, 0, &a), 0);
	/* the address that answered is where the next connection starts */
	upstream_live_resolved(&g->live, named, addrs, 2, 30, NULL, 4000);
	upstream_live_addr_worked(&g->live, named, 1);
	assert_int_equal(upstream_live_addr_to_use(&g->live, named, &a), 1); /* its index */
	assert_true(addr_equal(&a, &addrs[1]));
	generation_unref(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failover_and_hysteresis),
		cmocka_unit_test(test_all_down),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_least_latency_and_udp),
		cmocka_unit_test(test_pin_and_inherit),
		cmocka_unit_test(test_names),
	};
	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
