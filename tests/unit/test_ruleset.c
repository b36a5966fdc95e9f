/* Unit tests for the rules the CLI installs: interval merging and printing,
 * the ruleset built from a config, the nft text, and the netlink
 * expressions of each rule (as libnftnl renders them). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>

#include "nft.h"
#include "ruleset.h"

static void add(struct interval_set *s, const char *text)
{
	struct cidr c;
	assert_int_equal(cidr_parse(text, &c), 0);
	assert_int_equal(interval_set_add(s, &c), 0);
}

/* "a, b, c" of the set's ranges */
static const char *show(const struct interval_set *s, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		char one[100];
		interval_format(s, i, one, sizeof(one));
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", one);
	}
	return buf;
}

static void test_intervals(void **state)
{
	struct interval_set s;
	char buf[512];
	(void)state;

	interval_set_init(&s, AF_INET);
	add(&s, "10.0.0.0/8");
	add(&s, "10.1.2.3"); /* inside */
	add(&s, "192.168.1.0/24");
	add(&s, "192.168.0.0/24"); /* adjacent below: merges into a /23 */
	add(&s, "1.2.3.4");
	assert_string_equal(show(&s, buf, sizeof(buf)), "1.2.3.4, 10.0.0.0/8, 192.168.0.0/23");
	add(&s, "1.2.3.5"); /* adjacent: a range that is no prefix */
	add(&s, "1.2.3.6");
	assert_string_equal(show(&s, buf, sizeof(buf)),
			    "1.2.3.4-1.2.3.6, 10.0.0.0/8, 192.168.0.0/23");
	add(&s, "0.0.0.0/1"); /* swallows the first two */
	assert_string_equal(show(&s, buf, sizeof(buf)), "0.0.0.0/1, 192.168.0.0/23");
	add(&s, "255.255.255.255"); /* the last address: no successor */
	add(&s, "128.0.0.0/1");
	assert_string_equal(show(&s, buf, sizeof(buf)), "0.0.0.0/0");
	assert_int_equal(s.n, 1);
	interval_set_free(&s);

	interval_set_init(&s, AF_INET6);
	add(&s, "fe80::/10");
	add(&s, "::1");
	add(&s, "::");
	add(&s, "fc00::/7");
	assert_string_equal(show(&s, buf, sizeof(buf)), "::/127, fc00::/7, fe80::/10");
	add(&s, "fd00::/8"); /* inside fc00::/7 */
	assert_int_equal(s.n, 3);
	interval_set_free(&s);
}

static void del(struct interval_set *s, const char *text)
{
	struct cidr c;
	assert_int_equal(cidr_parse(text, &c), 0);
	assert_int_equal(interval_set_remove(s, &c), 0);
}

static void test_interval_remove(void **state)
{
	struct interval_set s;
	char buf[512];
	(void)state;

	interval_set_init(&s, AF_INET);
	add(&s, "10.0.0.0/8");
	add(&s, "192.168.0.0/16");
	del(&s, "10.1.0.0/16"); /* splits in two */
	assert_string_equal(show(&s, buf, sizeof(buf)),
			    "10.0.0.0/16, 10.2.0.0-10.255.255.255, 192.168.0.0/16");
	del(&s, "10.0.0.0/16");	    /* a whole range */
	del(&s, "192.168.255.255"); /* the top end */
	del(&s, "172.16.0.0/12");   /* nothing there */
	assert_string_equal(show(&s, buf, sizeof(buf)),
			    "10.2.0.0-10.255.255.255, 192.168.0.0-192.168.255.254");
	del(&s, "0.0.0.0/0");
	assert_int_equal(s.n, 0);
	/* removing then adding back gives the merged range again */
	add(&s, "10.0.0.0/8");
	del(&s, "10.9.9.9");
	add(&s, "10.9.9.9");
	assert_string_equal(show(&s, buf, sizeof(buf)), "10.0.0.0/8");
	interval_set_free(&s);
}

/* Elements as the kernel returns them: a start key, and the address after
 * the range flagged as an end (none after the last address). */
static void test_interval_from_keys(void **state)
{
	struct set_key keys[6];
	struct interval_set s;
	char buf[512];
	(void)state;

	memset(keys, 0, sizeof(keys));
	/* in no particular order: 10.0.0.0/8, 1.2.3.4, 255.0.0.0-255.255.255.255 */
	keys[0].key[0] = 11, keys[0].end = 1;
	keys[1].key[0] = 10;
	keys[2].key[0] = 1, keys[2].key[1] = 2, keys[2].key[2] = 3, keys[2].key[3] = 4;
	keys[3].key[0] = 1, keys[3].key[1] = 2, keys[3].key[2] = 3, keys[3].key[3] = 5;
	keys[3].end = 1;
	keys[4].key[0] = 255;
	interval_set_init(&s, AF_INET);
	assert_int_equal(interval_set_from_keys(&s, keys, 5), 0);
	assert_string_equal(show(&s, buf, sizeof(buf)), "1.2.3.4, 10.0.0.0/8, 255.0.0.0/8");
	interval_set_free(&s);
	/* nothing at all */
	interval_set_init(&s, AF_INET6);
	assert_int_equal(interval_set_from_keys(&s, keys, 0), 0);
	assert_int_equal(s.n, 0);
	interval_set_free(&s);
}

static struct config *load(const char *text)
{
	struct config *cfg = NULL;
	char errs[2048] = "";
	FILE *f = fmemopen(errs, sizeof(errs), "w");
	int n = config_load_string("t.conf", text, 0, &cfg, f);
	fclose(f);
	if (n)
		fail_msg("%s", errs);
	return cfg;
}

static void test_build(void **state)
{
	struct config *cfg;
	struct ruleset rs;
	char err[256], buf[2048];
	(void)state;

	cfg = load("[intake]\nredirect = 4000\ninterfaces = br-lan, 192.168.7.0/24, eth1\n"
		   "bypass = 8.8.8.0/24\n"
		   "[upstream corp]\nurl = socks5://45.33.0.9:1080\n"
		   "[upstream six]\nurl = http://[2a01:4f8::1]:3128\n"
		   "[route]\ndefault = corp\n");
	assert_int_equal(ruleset_build(cfg, &rs, err, sizeof(err)), 0);
	assert_int_equal(rs.redirect_port, 4000);
	assert_int_equal(rs.n_ifaces, 2);
	assert_string_equal(rs.ifaces[1], "eth1");
	assert_string_equal(show(&rs.intercept4, buf, sizeof(buf)), "192.168.7.0/24");
	assert_int_equal(rs.intercept6.n, 0);
	/* loopback, private ranges, the extra bypass and the upstream */
	show(&rs.bypass4, buf, sizeof(buf));
	assert_non_null(strstr(buf, "127.0.0.0/8"));
	assert_non_null(strstr(buf, "10.0.0.0/8"));
	assert_non_null(strstr(buf, "8.8.8.0/24"));
	assert_non_null(strstr(buf, "45.33.0.9"));
	show(&rs.bypass6, buf, sizeof(buf));
	assert_non_null(strstr(buf, "2a01:4f8::1"));
	assert_non_null(strstr(buf, "fe80::/10"));
	ruleset_free(&rs);
	config_free(cfg);

	/* bypass_private = no keeps only what is never routed, the IPv4-mapped
	 * range (the router's own 127.0.0.1 seen through IPv6) among it */
	cfg = load("[intake]\ninterfaces = lan\nbypass_private = no\n[route]\ndefault = direct\n");
	assert_int_equal(ruleset_build(cfg, &rs, err, sizeof(err)), 0);
	assert_string_equal(show(&rs.bypass4, buf, sizeof(buf)),
			    "0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, 255.255.255.255");
	assert_string_equal(show(&rs.bypass6, buf, sizeof(buf)),
			    "::/96, ::ffff:0.0.0.0/96, fe80::/10, ff00::/8");
	ruleset_free(&rs);
	config_free(cfg);

	cfg = load("[route]\ndefault = direct\n");
	assert_int_equal(ruleset_build(cfg, &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nothing to intercept"));
	config_free(cfg);

	cfg = load(
	    "[intake]\ninterfaces = lan\ntproxy = 1\nlocal = yes\n[route]\ndefault = direct\n");
	assert_int_equal(ruleset_build(cfg, &rs, err, sizeof(err)), 0);
	assert_true(rs.tproxy && rs.local);
	ruleset_free(&rs);
	config_free(cfg);
}

static void test_nft_text(void **state)
{
	struct config *cfg;
	struct ruleset rs;
	char err[256], *text = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;

	cfg = load("[intake]\ninterfaces = br-lan\n[route]\ndefault = direct\n");
	assert_int_equal(ruleset_build(cfg, &rs, err, sizeof(err)), 0);
	f = open_memstream(&text, &len);
	ruleset_print_nft(&rs, f);
	fclose(f);
	assert_non_null(strstr(text, "table inet sockgate {"));
	assert_non_null(strstr(text, "elements = { \"br-lan\" }"));
	assert_non_null(strstr(text, "type nat hook prerouting priority dstnat; policy accept;"));
	assert_non_null(strstr(text, "iifname @intercept_ifaces goto capture"));
	assert_non_null(strstr(text, "fib daddr type local return"));
	assert_non_null(strstr(text, "meta l4proto tcp redirect to :12345"));
	/* an empty set is declared without elements */
	assert_non_null(
	    strstr(text, "set intercept4 {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t}"));
	free(text);
	ruleset_free(&rs);
	config_free(cfg);
}

/* A rule's expressions as libnftnl prints them, on one line. */
static void rule_text(struct nftnl_rule *r, char *buf, size_t len)
{
	char *p, *q;

	nftnl_rule_snprintf(buf, len, r, NFTNL_OUTPUT_DEFAULT, 0);
	p = strchr(buf, '\n');
	assert_non_null(p);
	for (q = buf; *++p;)
		if (*p != '\n' && !(*p == ' ' && (q == buf || q[-1] == ' ')))
			*q++ = *p == '\n' ? ' ' : *p;
	*q = '\0';
	while (q > buf && q[-1] == ' ')
		*--q = '\0';
}

/* Rule i of rs built, in chain (unless NULL), as rule_text prints it. */
static void built_rule(const struct ruleset *rs, int i, const char *chain, char *buf, size_t len)
{
	struct nftnl_rule *r = nft_build_rule(rs, i);

	assert_non_null(r);
	if (chain)
		assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), chain);
	rule_text(r, buf, len);
	nftnl_rule_free(r);
}

/* The netlink expressions of each rule, as libnftnl prints them. */
static void test_rule_expressions(void **state)
{
	static const char *const want[7] = {
		"[ meta load iifname => reg 1 ] [ lookup reg 1 set intercept_ifaces ] "
		"[ immediate reg 0 goto -> capture ]",
		"[ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ] "
		"[ payload load 4b @ network header + 12 => reg 1 ] "
		"[ lookup reg 1 set intercept4 ] [ immediate reg 0 goto -> capture ]",
		"[ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ] "
		"[ payload load 16b @ network header + 8 => reg 1 ] "
		"[ lookup reg 1 set intercept6 ] [ immediate reg 0 goto -> capture ]",
		"[ fib daddr type => reg 1 ] [ cmp eq reg 1 0x00000002 ] [ immediate reg 0 return "
		"]",
		"[ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ] "
		"[ payload load 4b @ network header + 16 => reg 1 ] "
		"[ lookup reg 1 set bypass4 ] [ immediate reg 0 return ]",
		"[ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ] "
		"[ payload load 16b @ network header + 24 => reg 1 ] "
		"[ lookup reg 1 set bypass6 ] [ immediate reg 0 return ]",
		"[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
		"[ immediate reg 1 0x00003930 ] [ redir proto_min reg 1 ]",
	};
	struct ruleset rs;
	char buf[1024];
	(void)state;

	memset(&rs, 0, sizeof(rs));
	rs.redirect_port = 12345; /* 0x3039, in network order 0x3930 as printed */
	assert_int_equal(nft_rule_count(&rs), 7);
	for (int i = 0; i < 7; i++) {
		built_rule(&rs, i, NULL, buf, sizeof(buf));
		if (strcmp(buf, want[i]))
			fail_msg("rule %d:\n got  %s\n want %s", i, buf, want[i]);
	}
	assert_null(nft_build_rule(&rs, 7));

	/* TPROXY: the last rules differ. The mark is set only after tproxy
	 * found a socket, and what none took is dropped, never forwarded */
	{
		static const char *const want_tp[3] = {
			"[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
			"[ socket load transparent => reg 1 ] [ cmp eq reg 1 0x00000001 ] "
			"[ immediate reg 1 0x000002a1 ] [ meta set mark with reg 1 ] "
			"[ immediate reg 0 accept ]",
			"[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
			"[ immediate reg 1 0x00003a30 ] [ tproxy port reg 1 ] "
			"[ immediate reg 1 0x000002a1 ] [ meta set mark with reg 1 ] "
			"[ immediate reg 0 accept ]",
			"[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
			"[ immediate reg 0 drop ]",
		};
		rs.tproxy = 1;
		rs.tproxy_port = 12346;
		rs.tproxy_mark = 0x2a1;
		assert_int_equal(nft_rule_count(&rs), 9);
		for (int i = 6; i < 9; i++) {
			built_rule(&rs, i, NULL, buf, sizeof(buf));
			if (strcmp(buf, want_tp[i - 6]))
				fail_msg("tproxy rule %d:\n got  %s\n want %s", i, buf,
					 want_tp[i - 6]);
		}
		assert_null(nft_build_rule(&rs, 9));
		{
			struct nftnl_rule *r = nft_build_rule(&rs, 7);
			assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), "capture");
			nftnl_rule_free(r);
		}
	}

	/* local = yes (redirect): an output chain skips the daemon's mark */
	{
		static const char *const want_out[2] = {
			"[ meta load mark => reg 1 ] [ cmp eq reg 1 0x000002a0 ] "
			"[ immediate reg 0 return ]",
			"[ immediate reg 0 goto -> capture ]",
		};
		rs.tproxy = 0;
		rs.local = 1;
		rs.daemon_mark = 0x2a0;
		assert_int_equal(nft_rule_count(&rs), 9);
		for (int i = 7; i < 9; i++) {
			built_rule(&rs, i, "output", buf, sizeof(buf));
			if (strcmp(buf, want_out[i - 7]))
				fail_msg("output rule %d:\n got  %s\n want %s", i, buf,
					 want_out[i - 7]);
		}
		assert_null(nft_build_rule(&rs, 9));
	}

	/* local = yes with TPROXY: mark on the way out, take from lo */
	{
		static const struct {
			const char *chain, *text;
		} want_tl[] = {
			{ "output", "[ meta load mark => reg 1 ] [ cmp eq reg 1 0x000002a0 ] "
				    "[ immediate reg 0 return ]" },
			{ "output", "[ immediate reg 0 goto -> local_mark ]" },
			{ "local_mark", "[ fib daddr type => reg 1 ] [ cmp eq reg 1 0x00000002 ] "
					"[ immediate reg 0 return ]" },
			{ "local_mark", NULL },
			{ "local_mark", NULL },
			{ "local_mark",
			  "[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ] "
			  "[ immediate reg 1 0x000002a1 ] [ meta set mark with reg 1 ]" },
		};
		/* the router's own packets back in through lo come first */
		static const char *const want_lo =
		    "[ meta load iifname => reg 1 ] [ cmp eq reg 1 0x00006f6c ] "
		    "[ meta load mark => reg 1 ] [ cmp eq reg 1 0x000002a1 ] "
		    "[ immediate reg 0 goto -> capture ]";
		rs.tproxy = 1;
		rs.local = 1;
		assert_int_equal(nft_rule_count(&rs), 16);
		built_rule(&rs, 0, "prerouting", buf, sizeof(buf));
		assert_string_equal(buf, want_lo);
		for (int i = 10; i < 16; i++) {
			built_rule(&rs, i, want_tl[i - 10].chain, buf, sizeof(buf));
			if (want_tl[i - 10].text && strcmp(buf, want_tl[i - 10].text))
				fail_msg("tproxy local rule %d:\n got  %s\n want %s", i, buf,
					 want_tl[i - 10].text);
		}
	}
}

/* UDP goes by TPROXY whenever the tproxy port is set: in the TPROXY chains,
 * or beside TCP redirect in chains of its own; no socket rule for UDP. */
static void test_udp_rules(void **state)
{
	static const char *const want_udp =
	    "[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000011 ] "
	    "[ immediate reg 1 0x00003a30 ] [ tproxy port reg 1 ] "
	    "[ immediate reg 1 0x000002a1 ] [ meta set mark with reg 1 ] [ immediate reg 0 accept "
	    "]";
	struct ruleset rs;
	struct chain_spec chains[RULESET_CHAINS_MAX];
	struct rule_spec plan[RULESET_RULES_MAX];
	size_t n_chains;
	char buf[1024], *text = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;

	memset(&rs, 0, sizeof(rs));
	rs.tproxy = rs.udp = 1;
	rs.tproxy_port = 12346;
	rs.tproxy_mark = 0x2a1;
	rs.daemon_mark = 0x2a0;
	assert_int_equal(nft_rule_count(&rs), 11);
	built_rule(&rs, 9, "capture", buf, sizeof(buf));
	assert_string_equal(buf, want_udp);

	/* with local: the router's own UDP is marked too */
	rs.local = 1;
	assert_int_equal(ruleset_plan(&rs, chains, &n_chains, plan), 19);
	assert_int_equal(n_chains, 4);
	assert_int_equal(plan[0].kind, RK_LO_MARKED_GOTO);
	assert_int_equal(plan[18].kind, RK_SET_TPROXY_MARK);
	assert_int_equal(plan[18].proto, IPPROTO_UDP);

	/* eBPF intake: the tc program takes the interfaces, so the plan has no
	 * iifname rule; source CIDRs and lo stay with nftables */
	rs.ebpf = 1;
	assert_int_equal(ruleset_plan(&rs, chains, &n_chains, plan), 18);
	assert_int_equal(plan[1].kind, RK_SADDR4_GOTO);
	for (int i = 0; i < 18; i++)
		assert_int_not_equal(plan[i].kind, RK_IIF_GOTO);
	rs.ebpf = 0;

	/* beside redirect: nat chains for TCP, udp_* chains for UDP */
	rs.tproxy = 0;
	rs.local = 0;
	rs.redirect_port = 12345;
	assert_int_equal(ruleset_plan(&rs, chains, &n_chains, plan), 15);
	assert_int_equal(n_chains, 4);
	assert_string_equal(chains[2].name, "udp_prerouting");
	assert_int_equal(chains[2].type, CHAIN_FILTER_PREROUTING);
	for (int i = 7; i < 10; i++)
		assert_string_equal(plan[i].target, "udp_capture");
	built_rule(&rs, 13, "udp_capture", buf, sizeof(buf));
	assert_string_equal(buf, want_udp);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	ruleset_print_nft(&rs, f);
	fclose(f);
	assert_non_null(strstr(text, "\tchain udp_prerouting {\n\t\ttype filter hook prerouting "
				     "priority mangle; policy accept;\n\t\tiifname "
				     "@intercept_ifaces goto udp_capture\n"));
	assert_non_null(strstr(text, "meta l4proto udp tproxy to :12346 meta mark set 0x000002a1 "
				     "accept\n\t\tmeta l4proto udp drop\n"));
	assert_non_null(strstr(text, "meta l4proto tcp redirect to :12345\n"));
	assert_null(strstr(text, "meta l4proto udp socket"));
	free(text);
}

/* [dns] hijack: a NAT chain ahead of the others sends port 53 to the
 * service; the TPROXY chain lets port 53 through, after lo, before the LAN. */
static void test_dns_hijack(void **state)
{
	static const char *const want_dnat =
	    "[ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ] "
	    "[ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000011 ] "
	    "[ payload load 2b @ transport header + 2 => reg 1 ] [ cmp eq reg 1 0x00003500 ] "
	    "[ immediate reg 1 0x0101a8c0 ] [ immediate reg 2 0x0000e914 ] "
	    "[ nat dnat ip addr_min reg 1 proto_min reg 2 ]";
	struct ruleset rs;
	struct chain_spec chains[RULESET_CHAINS_MAX];
	struct rule_spec plan[RULESET_RULES_MAX];
	size_t n_chains;
	char buf[1024];
	int n;
	(void)state;

	memset(&rs, 0, sizeof(rs));
	rs.tproxy = rs.udp = rs.local = 1;
	rs.tproxy_port = 12346;
	rs.tproxy_mark = 0x2a1;
	assert_int_equal(addr_from_ip("192.168.1.1", 5353, &rs.hijack4), 0);
	n = ruleset_plan(&rs, chains, &n_chains, plan);
	/* 3 + 2 hijack rules (IPv4 only), 19 TPROXY rules, 2 passes */
	assert_int_equal(n, 26);
	assert_string_equal(chains[0].name, "dns_prerouting");
	assert_int_equal(chains[0].type, CHAIN_NAT_PREROUTING_DNS);
	assert_string_equal(chains[1].name, "dns_hijack");
	assert_int_equal(plan[3].kind, RK_DNS_HIJACK);
	assert_int_equal(plan[3].nfproto, NFPROTO_IPV4);
	assert_int_equal(plan[4].proto, IPPROTO_TCP);
	assert_int_equal(plan[5].kind, RK_LO_MARKED_GOTO);
	assert_int_equal(plan[6].kind, RK_DNS_PASS);
	assert_int_equal(plan[7].kind, RK_DNS_PASS);
	assert_int_equal(plan[8].kind, RK_IIF_GOTO);
	ruleset_rule_text(&rs, &plan[3], buf, sizeof(buf));
	assert_string_equal(
	    buf, "meta nfproto ipv4 meta l4proto udp th dport 53 dnat ip to 192.168.1.1:5353");
	ruleset_rule_text(&rs, &plan[6], buf, sizeof(buf));
	assert_string_equal(buf, "meta nfproto ipv4 meta l4proto udp th dport 53 return");
	built_rule(&rs, 3, NULL, buf, sizeof(buf));
	assert_string_equal(buf, want_dnat);

	/* IPv6 on a wildcard listener: the port on the address it came in on */
	assert_int_equal(addr_from_ip("::", 53, &rs.hijack6), 0);
	n = ruleset_plan(&rs, chains, &n_chains, plan);
	assert_int_equal(n, 30);
	ruleset_rule_text(&rs, &plan[5], buf, sizeof(buf));
	assert_string_equal(buf, "meta nfproto ipv6 meta l4proto udp th dport 53 redirect to :53");
	built_rule(&rs, 5, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "[ redir proto_min reg 1 ]"));
}

/* [intake] exclude_src, ports, exclude_ports: a return each, first in the
 * capture chain, only for lists that are given. */
static void test_selectors(void **state)
{
	static const struct port_range ports[] = { { 80, 80 }, { 8000, 8999 } },
				       none[] = { { 22, 22 } };
	static const uint8_t macs[1][6] = { { 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc } };
	struct ruleset rs;
	struct chain_spec chains[RULESET_CHAINS_MAX];
	struct rule_spec plan[RULESET_RULES_MAX];
	struct cidr c;
	size_t n_chains;
	char buf[1024];
	FILE *out;
	char *text = NULL;
	size_t len = 0;
	int n, base;
	(void)state;

	memset(&rs, 0, sizeof(rs));
	interval_set_init(&rs.exclude4, AF_INET);
	interval_set_init(&rs.exclude6, AF_INET6);
	rs.redirect_port = 12345;
	base = ruleset_plan(&rs, chains, &n_chains, plan);
	assert_int_equal(cidr_parse("192.168.1.77", &c), 0);
	assert_int_equal(interval_set_add(&rs.exclude4, &c), 0);
	rs.exclude_macs = macs;
	rs.n_exclude_macs = 1;
	rs.ports = ports;
	rs.n_ports = 2;
	rs.exclude_ports = none;
	rs.n_exclude_ports = 1;
	n = ruleset_plan(&rs, chains, &n_chains, plan);
	assert_int_equal(n, base + 4); /* no exclude6: no rule for it */
	assert_int_equal(plan[3].kind, RK_EXCLUDE4_RETURN);
	assert_string_equal(plan[3].chain, "capture");
	assert_int_equal(plan[4].kind, RK_EXCLUDE_MAC_RETURN);
	assert_int_equal(plan[5].kind, RK_PORTS_RETURN);
	assert_int_equal(plan[6].kind, RK_EXCLUDE_PORTS_RETURN);
	ruleset_rule_text(&rs, &plan[5], buf, sizeof(buf));
	assert_string_equal(buf, "th dport != @ports return");
	built_rule(&rs, 4, "capture", buf, sizeof(buf));
	assert_string_equal(buf, "[ meta load iiftype => reg 1 ] [ cmp eq reg 1 0x00000001 ] "
				 "[ payload load 6b @ link header + 6 => reg 1 ] "
				 "[ lookup reg 1 set exclude_mac ] [ immediate reg 0 return ]");
	built_rule(&rs, 5, "capture", buf, sizeof(buf));
	assert_string_equal(buf, "[ payload load 2b @ transport header + 2 => reg 1 ] "
				 "[ lookup reg 1 set ports 0x1 ] [ immediate reg 0 return ]");
	out = open_memstream(&text, &len);
	ruleset_print_nft(&rs, out);
	fclose(out);
	assert_non_null(strstr(text, "set exclude_mac {\n\t\ttype ether_addr\n\t\telements = { "
				     "52:54:00:aa:bb:cc }"));
	assert_non_null(strstr(text, "elements = { 80, 8000-8999 }"));
	assert_null(strstr(text, "set exclude6"));
	free(text);
	interval_set_free(&rs.exclude4);
	interval_set_free(&rs.exclude6);
}

/* [intake] when_down = block: what no socket takes is refused, not dropped. */
static void test_when_down_block(void **state)
{
	struct ruleset rs;
	struct chain_spec chains[RULESET_CHAINS_MAX];
	struct rule_spec plan[RULESET_RULES_MAX];
	size_t n_chains;
	char buf[1024];
	int n, seen = 0;
	(void)state;

	memset(&rs, 0, sizeof(rs));
	rs.tproxy = rs.udp = rs.block = 1;
	rs.tproxy_port = 12346;
	rs.tproxy_mark = 0x2a1;
	n = ruleset_plan(&rs, chains, &n_chains, plan);
	for (int i = 0; i < n; i++) {
		if (plan[i].kind != RK_TP_DROP)
			continue;
		ruleset_rule_text(&rs, &plan[i], buf, sizeof(buf));
		assert_string_equal(buf, plan[i].proto == IPPROTO_TCP
					     ? "meta l4proto tcp reject with tcp reset"
					     : "meta l4proto udp reject");
		built_rule(&rs, i, NULL, buf, sizeof(buf));
		assert_non_null(strstr(buf, plan[i].proto == IPPROTO_TCP
						? "[ reject type 1 code 0 ]"
						: "[ reject type 2 code 1 ]"));
		seen++;
	}
	assert_int_equal(seen, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_rules),	   cmocka_unit_test(test_dns_hijack),
		cmocka_unit_test(test_when_down_block),	   cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_intervals),	   cmocka_unit_test(test_interval_remove),
		cmocka_unit_test(test_interval_from_keys), cmocka_unit_test(test_build),
		cmocka_unit_test(test_nft_text),	   cmocka_unit_test(test_rule_expressions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
