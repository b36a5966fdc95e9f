/* Unit tests for dst_guard: the fixed classes of special addresses, the
 * parsing of the kernel's route answers (built here byte by byte), and one
 * real lookup of loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/prefix_table.h"
#include "dst_guard.h"

static struct sockaddr_storage ip(const char *text)
{
	struct sockaddr_storage ss;

	assert_int_equal(addr_from_ip(text, 80, &ss), 0);
	return ss;
}

static void test_special(void **state)
{
	static const char *const special[] = {
		"0.0.0.0",	    "0.1.2.3",	       "127.0.0.1", "127.255.0.9", "224.0.0.1",
		"239.1.1.1",	    "255.255.255.255", "::",	    "::1",	   "::10.0.0.1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1",   "ff05::2",
	};
	static const char *const plain[] = {
		"10.0.0.1",    "1.1.1.1", "192.168.1.1", "169.254.1.1",	     "255.255.255.254",
		"2001:db8::1", "fe80::1", "fd00::1",	 "64:ff9b::1.1.1.1", "::1:0:0:1",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		struct sockaddr_storage ss = ip(special[i]);
		if (!dst_special(&ss))
			fail_msg("%s should be special", special[i]);
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		struct sockaddr_storage ss = ip(plain[i]);
		if (dst_special(&ss))
			fail_msg("%s should not be special", plain[i]);
	}
}

static void test_link_local(void **state)
{
	struct sockaddr_storage a = ip("169.254.0.1"), b = ip("fe80::9"), c = ip("febf::1"),
				d = ip("fec0::1"), e = ip("169.253.0.1");
	(void)state;
	assert_true(dst_link_local(&a));
	assert_true(dst_link_local(&b));
	assert_true(dst_link_local(&c));
	assert_false(dst_link_local(&d));
	assert_false(dst_link_local(&e));
}

/* An RTM_NEWROUTE answer: type, protocol, prefix length, gateway or not. */
static size_t route_msg(uint8_t *buf, uint32_t seq, uint8_t type, uint8_t proto, uint8_t dst_len,
			int gateway, uint32_t oif)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	uint32_t gw = htonl(0x0a000001);

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_type = type;
	rtm->rtm_protocol = proto;
	rtm->rtm_dst_len = dst_len;
	mnl_attr_put_u32(nlh, RTA_OIF, oif);
	if (gateway)
		mnl_attr_put(nlh, RTA_GATEWAY, 4, &gw);
	return nlh->nlmsg_len;
}

static size_t error_msg(uint8_t *buf, uint32_t seq, int error)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = error;
	return nlh->nlmsg_len;
}

static void test_route_parse(void **state)
{
	static const struct {
		const char *what;
		uint8_t type, proto, dst_len;
		int gateway;
		enum dst_kind want;
	} cases[] = {
		{ "local address", RTN_LOCAL, RTPROT_KERNEL, 32, 0, DST_LOCAL },
		{ "local route (ip route add local)", RTN_LOCAL, RTPROT_BOOT, 24, 0, DST_LOCAL },
		{ "subnet-router anycast", RTN_ANYCAST, RTPROT_KERNEL, 128, 0, DST_LOCAL },
		{ "broadcast", RTN_BROADCAST, RTPROT_KERNEL, 32, 0, DST_LOCAL },
		{ "multicast", RTN_MULTICAST, RTPROT_KERNEL, 8, 0, DST_LOCAL },
		{ "an interface's prefix", RTN_UNICAST, RTPROT_KERNEL, 24, 0, DST_CONNECTED },
		{ "via a gateway", RTN_UNICAST, RTPROT_BOOT, 0, 1, DST_ROUTED },
		{ "default out of a tunnel (no gateway)", RTN_UNICAST, RTPROT_BOOT, 0, 0,
		  DST_ROUTED },
		{ "static on-link route", RTN_UNICAST, RTPROT_STATIC, 24, 0, DST_ROUTED },
		{ "blackhole", RTN_BLACKHOLE, RTPROT_BOOT, 24, 0, DST_ROUTED },
	};
	uint8_t buf[512];
	struct dst_route r;
	size_t len;
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = route_msg(buf, 7, cases[i].type, cases[i].proto, cases[i].dst_len,
				cases[i].gateway, 3);
		if (dst_route_parse(buf, len, 7, &r) < 0 || r.kind != cases[i].want)
			fail_msg("%s: kind %d, want %d", cases[i].what, r.kind, cases[i].want);
		assert_int_equal(r.oif, 3);
	}
	/* no route: routed (a connect fails on its own); other errors fail */
	len = error_msg(buf, 8, -ENETUNREACH);
	assert_int_equal(dst_route_parse(buf, len, 8, &r), 0);
	assert_int_equal(r.kind, DST_ROUTED);
	len = error_msg(buf, 9, -ENOMEM);
	assert_int_equal(dst_route_parse(buf, len, 9, &r), -ENOMEM);
	/* a stale answer (another sequence number) is no answer */
	len = route_msg(buf, 5, RTN_UNICAST, RTPROT_BOOT, 0, 1, 3);
	assert_int_equal(dst_route_parse(buf, len, 6, &r), -EBADMSG);
	/* truncated */
	assert_int_equal(dst_route_parse(buf, 10, 5, &r), -EBADMSG);
	/* a length above INT_MAX (libmnl's own walk would read past the end) */
	len = route_msg(buf, 5, RTN_LOCAL, RTPROT_KERNEL, 32, 0, 1);
	((struct nlmsghdr *)buf)->nlmsg_len = 0xff9b0000u;
	assert_int_equal(dst_route_parse(buf, len, 5, &r), -EBADMSG);
	len = route_msg(buf, 5, RTN_LOCAL, RTPROT_KERNEL, 32, 0, 1);
	assert_int_equal(dst_route_parse(buf, sizeof(struct nlmsghdr) + 4, 5, &r), -EBADMSG);
}

/* The kernel itself: loopback is ours, in every namespace. */
static void test_kernel_lookup(void **state)
{
	struct dst_guard *g = dst_guard_new();
	struct sockaddr_storage lo = ip("127.0.0.2"), any = ip("0.0.0.0");
	struct cidr deny;
	struct config cfg = { .bypass_connected = 1,
			      .intake_deny_dst = &deny,
			      .n_intake_deny_dst = 1 };
	struct dst_route r;
	(void)state;
	assert_non_null(g);
	assert_int_equal(dst_guard_route(g, &lo, 1000, &r), 0);
	assert_int_equal(r.kind, DST_LOCAL);
	/* cached: the same answer again */
	assert_int_equal(dst_guard_route(g, &lo, 1001, &r), 0);
	assert_int_equal(r.kind, DST_LOCAL);
	assert_true(dst_guard_is_local(g, &lo, 1002));
	assert_true(dst_guard_is_local(g, &any, 1002));
	assert_non_null(dst_guard_intercepted(g, &cfg, &lo, &lo, 1003));
	/* [intake] deny_dst: an address nowhere special is refused by name */
	{
		struct sockaddr_storage there = ip("192.0.2.7");
		assert_int_equal(cidr_parse("192.0.2.0/24", &deny), 0);
		cfg.intake_deny_table = prefix_table_new();
		assert_int_equal(prefix_table_add(cfg.intake_deny_table, &deny, "held"), 0);
		assert_int_equal(prefix_table_build(cfg.intake_deny_table), 0);
		assert_string_equal(dst_guard_intercepted(g, &cfg, &lo, &there, 1004),
				    "destination refused by [intake] deny_dst");
		prefix_table_free(cfg.intake_deny_table);
	}
	dst_guard_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_special),
		cmocka_unit_test(test_link_local),
		cmocka_unit_test(test_route_parse),
		cmocka_unit_test(test_kernel_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
