/* Unit tests for config: valid input, byte-exact output and every malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <netdb.h>

#include "sockgate/config.h"

/* Loads text; returns the error count and the messages in errs. */
static int load(const char *text, struct config **cfg, char *errs, size_t len)
{
	FILE *f = fmemopen(errs, len, "w");
	int n;
	memset(errs, 0, len);
	n = config_load_string("t.conf", text, 0, cfg, f);
	fclose(f);
	return n;
}

static void expect_error(const char *text, const char *message)
{
	struct config *cfg = NULL;
	char errs[4096];
	int n = load(text, &cfg, errs, sizeof(errs));
	if (n == 0)
		fail_msg("config loaded but should fail with \"%s\"", message);
	assert_null(cfg);
	if (!strstr(errs, message))
		fail_msg("errors:\n%s\nlack \"%s\"", errs, message);
}

static void test_full(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	struct sockaddr_storage dst;
	(void)state;
	int n = load("[daemon]\n"
		     "workers = 4\n"
		     "mark = 0x1234\n"
		     "log_level = debug\n"
		     "connect_timeout = 500ms\n"
		     "handshake_timeout = 7\n"
		     "idle_timeout = 0\n"
		     "\n"
		     "[intake]\n"
		     "redirect = 4000 ; inline comment\n"
		     "# comment\n"
		     "[upstream corp]\n"
		     "url = socks5://alice:secret@10.0.0.5:1080\n"
		     "pipeline = no\n"
		     "[upstream web]\n"
		     "url = http://[fd00::5]:3128\n"
		     "[route]\n"
		     "default = corp\n"
		     "10.0.0.0/8 = direct\n"
		     "10.1.0.0/16 = web\n",
		     &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->workers, 4);
	assert_int_equal(cfg->mark, 0x1234);
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg->connect_timeout_ms, 500);
	assert_int_equal(cfg->handshake_timeout_ms, 7000);
	assert_int_equal(cfg->idle_timeout_ms, 0);
	assert_int_equal(cfg->redirect_port, 4000);
	assert_int_equal(cfg->n_upstreams, 3);
	assert_string_equal(cfg->default_upstream->name, "corp");
	assert_false(cfg->default_upstream->pipeline);
	assert_string_equal(cfg->default_upstream->url.pass, "secret");
	/* resolve = 0 still fills literal addresses */
	assert_int_equal(cfg->default_upstream->addr.ss_family, AF_INET);
	addr_from_ip("10.1.2.3", 80, &dst);
	assert_string_equal(config_route(cfg, &dst)->name, "web");
	addr_from_ip("10.2.2.3", 80, &dst);
	assert_string_equal(config_route(cfg, &dst)->name, "direct");
	addr_from_ip("8.8.8.8", 80, &dst);
	assert_string_equal(config_route(cfg, &dst)->name, "corp");
	config_free(cfg);
}

static void test_defaults(void **state)
{
	struct config *cfg = NULL;
	char errs[1024];
	(void)state;
	assert_int_equal(
	    load("[upstream only]\nurl = socks5://10.0.0.5\n", &cfg, errs, sizeof(errs)), 0);
	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->mark, 0x2a0);
	assert_int_equal(cfg->redirect_port, 12345);
	assert_string_equal(cfg->default_upstream->name, "only");
	assert_true(cfg->default_upstream->pipeline);
	config_free(cfg);
	assert_int_equal(load("[route]\ndefault = direct\n", &cfg, errs, sizeof(errs)), 0);
	assert_string_equal(cfg->default_upstream->name, "direct");
	config_free(cfg);
}

static void test_errors_with_lines(void **state)
{
	(void)state;
	expect_error("[daemon]\nbogus = 1\n[route]\ndefault = direct\n",
		     "t.conf:2: unknown key \"bogus\" in [daemon]");
	expect_error("[route]\ndefault = direct\n[nope]\nx = 1\n",
		     "t.conf:4: unknown section [nope]");
	expect_error("[route]\ndefault = direct\n[empty]\n", "t.conf:3: unknown section [empty]");
	expect_error("[daemon]\nworkers = lots\n", "t.conf:2: workers");
	expect_error("[daemon]\nworkers = 0\n", "t.conf:2: workers");
	expect_error("[daemon]\nmark = 0x1ffffffff\n", "t.conf:2: mark");
	expect_error("[daemon]\nmark = 0\n", "t.conf:2: mark");
	expect_error("[daemon]\nlog_level = loud\n", "t.conf:2: log_level");
	expect_error("[daemon]\nconnect_timeout = 0\n", "t.conf:2: connect_timeout");
	expect_error("[daemon]\nconnect_timeout = 5 s\n", "t.conf:2: connect_timeout");
	expect_error("[daemon]\nidle_timeout = 5d\n", "t.conf:2: idle_timeout");
	expect_error("[daemon]\nworkers = 2\nworkers = 3\n",
		     "t.conf:3: [daemon] workers given twice");
	expect_error("[intake]\nredirect = 99999\n", "t.conf:2: redirect: bad port \"99999\"");
	expect_error("\n\n[upstream corp]\nurl = socks5://h:99999\n",
		     "t.conf:4: upstream \"corp\": bad port \"99999\"");
	expect_error("[upstream corp]\nurl = ftp://h:1\n",
		     "t.conf:2: upstream \"corp\": unsupported");
	expect_error("[upstream corp]\nuser = x\n", "t.conf:2: unknown key \"user\"");
	expect_error("[upstream corp]\nurl = direct\nurl = direct\n",
		     "t.conf:3: [upstream corp] url given twice");
	expect_error("[upstream corp]\npipeline = maybe\n", "t.conf:2: pipeline");
	expect_error("[route]\ndefault = direct\n[upstream corp]\n",
		     "t.conf:3: [upstream corp] has no url");
	expect_error("[upstream direct]\nurl = direct\n", "t.conf:2: \"direct\" is built in");
	expect_error("[upstream bad/name]\nurl = direct\n", "t.conf:2: upstream name");
	expect_error("[route]\ndefault = nowhere\n", "t.conf:2: route default: no upstream named");
	expect_error("[route]\n10.1.2.3/8 = direct\ndefault = direct\n",
		     "t.conf:2: route \"10.1.2.3/8\"");
	expect_error("[route]\ndefault = direct\ndefault = direct\n",
		     "t.conf:3: [route] default given twice");
	expect_error("[upstream a]\nurl = direct\n[upstream b]\nurl = direct\n",
		     "several upstreams but no [route] default");
	expect_error("", "no [upstream NAME] section");
	expect_error("[route]\ndefault = direct\n[route]\n", "t.conf:3: duplicate section [route]");
	expect_error("x = 1\n[route]\ndefault = direct\n", "t.conf:1: key \"x\" outside");
	expect_error("[route]\ndefault = direct\nthis is not ini\n", "t.conf:3: syntax error");
	expect_error("[route\n", "t.conf:1: syntax error");
	expect_error("[daemon]\nworkers =\n", "t.conf:2: workers: empty value");
}

static void test_long_line(void **state)
{
	char text[600];
	(void)state;
	snprintf(text, sizeof(text),
		 "[route]\ndefault = direct\n[upstream x]\nurl = socks5://%0300d:1\n", 0);
	expect_error(text, "t.conf:4: line longer than");
}

static void test_every_error_reported(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	(void)state;
	/* one pass lists all problems, not just the first */
	int n = load(
	    "[daemon]\nworkers = x\nmark = y\n[intake]\nredirect = 0\n[route]\ndefault = direct\n",
	    &cfg, errs, sizeof(errs));
	assert_int_equal(n, 3);
	assert_non_null(strstr(errs, "t.conf:2:"));
	assert_non_null(strstr(errs, "t.conf:3:"));
	assert_non_null(strstr(errs, "t.conf:5:"));
}

static void test_names_resolved_at_load(void **state)
{
	struct config *cfg = NULL;
	FILE *f;
	char errs[1024] = "";
	int n;
	struct addrinfo *res = NULL;
	(void)state;
	/* resolve = 1: "localhost" comes from /etc/hosts, no network needed;
	 * a system where even that does not resolve cannot run this test */
	if (getaddrinfo("localhost", NULL, NULL, &res) != 0) {
		skip();
		return;
	}
	freeaddrinfo(res);
	f = fmemopen(errs, sizeof(errs), "w");
	n = config_load_string("t.conf", "[upstream lo]\nurl = socks5://localhost:1081\n", 1, &cfg,
			       f);
	fclose(f);
	if (n)
		fail_msg("%s", errs);
	assert_true(cfg->default_upstream->addr.ss_family == AF_INET ||
		    cfg->default_upstream->addr.ss_family == AF_INET6);
	assert_int_equal(addr_port(&cfg->default_upstream->addr), 1081);
	config_free(cfg);
}

/* A name that does not resolve (RFC 6761 .invalid) is a warning: the
 * config loads, the upstream has no address yet. */
static void test_unresolvable_name_warns(void **state)
{
	struct config *cfg = NULL;
	FILE *f;
	char errs[1024] = "";
	int n;
	(void)state;
	f = fmemopen(errs, sizeof(errs), "w");
	n = config_load_string("t.conf", "[upstream far]\nurl = socks5://proxy.invalid:1080\n", 1,
			       &cfg, f);
	fclose(f);
	assert_int_equal(n, 0);
	assert_non_null(cfg);
	assert_non_null(strstr(errs, "t.conf:2: warning: upstream \"far\": cannot resolve "
				     "\"proxy.invalid\""));
	assert_int_equal(cfg->default_upstream->addr.ss_family, 0);
	config_free(cfg);
}

#define TWO_UPSTREAMS                                                                              \
	"[upstream a]\nurl = socks5://10.0.0.1:1080\n"                                             \
	"[upstream b]\nurl = http://10.0.0.2:3128\n"

static void test_groups(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	struct sockaddr_storage dst;
	const struct upstream_group *g;
	(void)state;
	int n = load(TWO_UPSTREAMS "[group both]\n"
				   "members = b , a\n"
				   "policy = least-latency\n"
				   "on_all_down = direct\n"
				   "check_interval = 2s\n"
				   "check_timeout = 500ms\n"
				   "check_target = example.com:443\n"
				   "check_udp = no\n"
				   "up_after = 3\n"
				   "down_after = 1\n"
				   "[group one]\nmembers = a\n"
				   "[dns]\nlisten = 127.0.0.1:5353\nserver = 192.0.2.53 via one\n"
				   "[route]\n10.9.0.0/16 = one\ndefault = both\n",
		     &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	g = cfg->default_upstream->group;
	assert_non_null(g);
	assert_int_equal(cfg->default_upstream->url.kind, UPSTREAM_GROUP);
	assert_string_equal(upstream_kind_name(UPSTREAM_GROUP), "group");
	assert_int_equal(g->n_members, 2);
	assert_string_equal(g->members[0]->name, "b");
	assert_string_equal(g->members[1]->name, "a");
	assert_int_equal(g->policy, GROUP_LEAST_LATENCY);
	assert_string_equal(config_group_policy_name(g->policy), "least-latency");
	assert_true(g->all_down_direct);
	assert_int_equal(g->check_interval_ms, 2000);
	assert_int_equal(g->check_timeout_ms, 500);
	assert_string_equal(g->check_host, "example.com");
	assert_int_equal(g->check_port, 443);
	assert_false(g->check_udp);
	assert_int_equal(g->up_after, 3);
	assert_int_equal(g->down_after, 1);
	addr_from_ip("10.9.1.1", 80, &dst);
	assert_string_equal(config_route(cfg, &dst)->name, "one");
	assert_string_equal(config_dns_upstream(cfg, 0)->name, "one");
	g = config_route(cfg, &dst)->group;
	/* the defaults */
	assert_int_equal(g->policy, GROUP_FAILOVER);
	assert_false(g->all_down_direct);
	assert_int_equal(g->check_interval_ms, 10000);
	assert_int_equal(g->check_timeout_ms, 3000);
	assert_string_equal(g->check_host, "");
	assert_true(g->check_udp);
	assert_int_equal(g->up_after, 2);
	assert_int_equal(g->down_after, 2);
	config_free(cfg);
}

#define ROUTE_DIRECT "[route]\ndefault = direct\n"

static void test_resolve_bounds(void **state)
{
	struct config *cfg = NULL;
	char errs[1024];
	(void)state;
	assert_int_equal(load(ROUTE_DIRECT, &cfg, errs, sizeof(errs)), 0);
	assert_int_equal(cfg->resolve_min_ms, 30000);
	assert_int_equal(cfg->resolve_max_ms, 3600000);
	config_free(cfg);
	assert_int_equal(load("[daemon]\nresolve_min = 1s\nresolve_max = 10m\n" ROUTE_DIRECT, &cfg,
			      errs, sizeof(errs)),
			 0);
	assert_int_equal(cfg->resolve_min_ms, 1000);
	assert_int_equal(cfg->resolve_max_ms, 600000);
	config_free(cfg);
}

/* Lists: the key again, continuation lines, a trailing comma, @FILE. */
static void test_lists(void **state)
{
	struct config *cfg = NULL;
	char errs[4096], text[512], path[] = "/tmp/sglistXXXXXX", want[256];
	struct sockaddr_storage a;
	int fd = mkstemp(path), n;
	FILE *f = fdopen(fd, "w");
	(void)state;

	n = load(ROUTE_DIRECT "[intake]\nbypass = 10.0.0.0/8,\n  172.16.0.0/12, fd00::/8\n"
			      "bypass = 192.0.2.0/24\ninterfaces = br-lan\ninterfaces = wlan0,\n",
		 &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_bypass, 4);
	assert_int_equal(cfg->n_intercept_ifaces, 2);
	config_free(cfg);

	/* 10,000 lines, a comment and a blank line among them */
	fprintf(f, "# bypassed\n\n");
	for (int i = 0; i < 10000; i++)
		fprintf(f, "10.%d.%d.0/24\n", i / 256, i % 256);
	fclose(f);
	snprintf(text, sizeof(text), ROUTE_DIRECT "[intake]\nbypass = 192.0.2.0/24, @%s\n", path);
	n = load(text, &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_bypass, 10001);
	config_free(cfg);

	/* an error on line 5,001 of it: that file and line */
	f = fopen(path, "w");
	for (int i = 1; i <= 10000; i++)
		fprintf(f, i == 5001 ? "10.0.0.1/8\n" : "10.%d.%d.0/24\n", i / 256, i % 256);
	fclose(f);
	n = load(text, &cfg, errs, sizeof(errs));
	assert_int_not_equal(n, 0);
	snprintf(want, sizeof(want), "%s:5001: bypass: \"10.0.0.1/8\" is not", path);
	if (!strstr(errs, want))
		fail_msg("errors:\n%s\nlack \"%s\"", errs, want);

	/* a route file of CIDRs and names */
	f = fopen(path, "w");
	fprintf(f, "203.0.113.0/24\n2001:db8::/32 # documentation\nexample.org\n");
	for (int i = 0; i < 100000; i++)
		fprintf(f, "%d.%d.%d.0/24\n", 100 + i / 65536, (i / 256) % 256, i % 256);
	fclose(f);
	snprintf(text, sizeof(text),
		 "[upstream far]\nurl = socks5://10.0.0.5:1080\n[route]\ndefault = direct\n"
		 "@%s = far\n100.0.7.0/24 = direct\n",
		 path);
	n = load(text, &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_routes, 100003);
	addr_from_ip("101.2.3.4", 80, &a); /* one in the middle: 100.0.0.0 + 66051 */
	assert_string_equal(config_route(cfg, &a)->name, "far");
	addr_from_ip("100.0.7.9", 80, &a); /* the same /24 in the config: first wins */
	assert_string_equal(config_route(cfg, &a)->name, "far");
	addr_from_ip("2001:db8::1", 80, &a);
	assert_string_equal(config_route(cfg, &a)->name, "far");
	addr_from_ip("198.51.100.1", 80, &a);
	assert_string_equal(config_route(cfg, &a)->name, "direct");
	assert_string_equal(config_route_name(cfg, "www.example.org")->name, "far");
	config_free(cfg);
	unlink(path);
	/* the interception selectors */
	n = load(ROUTE_DIRECT
		 "[intake]\nexclude_src = 192.168.1.77, 52:54:00:aa:bb:cc,\n"
		 "  fd00::/64\nports = 80, 8000-8999\nports = 443\nexclude_ports = 22\n",
		 &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_exclude_src, 2);
	assert_int_equal(cfg->n_exclude_macs, 1);
	assert_int_equal(cfg->exclude_macs[0][5], 0xcc);
	assert_int_equal(cfg->n_ports, 3);
	assert_int_equal(cfg->ports[1].lo, 8000);
	assert_int_equal(cfg->ports[1].hi, 8999);
	assert_int_equal(cfg->n_exclude_ports, 1);
	config_free(cfg);
	expect_error(ROUTE_DIRECT "[intake]\nports = 0\n", "ports: \"0\" is not a port or P-Q");
	expect_error(ROUTE_DIRECT "[intake]\nexclude_ports = 9-3\n", "is not a port or P-Q");
	expect_error(ROUTE_DIRECT "[intake]\nexclude_src = somebody\n",
		     "exclude_src: \"somebody\" is not an address, CIDR or MAC address");
	expect_error(ROUTE_DIRECT "[intake]\ntproxy = 12346\nebpf = on\nports = 80\n",
		     "exclude_src, ports and exclude_ports work with nftables");
	expect_error(ROUTE_DIRECT "[intake]\nbypass = @/nonexistent/list\n",
		     "t.conf:4: bypass @/nonexistent/list: No such file or directory");
}

static const char *route_of(const struct config *cfg, const char *src, const char *mac,
			    const char *dst, uint16_t port, const char *name, enum route_by *by)
{
	struct sockaddr_storage s, d;
	uint8_t m[6];
	struct route_query q = { .dst = &d, .name = name };
	struct route_why why;
	const struct upstream *up;

	addr_from_ip(dst, port, &d);
	if (src) {
		addr_from_ip(src, 0, &s);
		q.src = &s;
	}
	if (mac && !config_parse_mac(mac, m))
		q.mac = m;
	up = config_route_flow(cfg, &q, &why);
	if (by)
		*by = why.by;
	return up->name;
}

/* [route] rules by source, MAC and port, before the name and the
 * destination; the first that matches wins. */
static void test_route_rules(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	enum route_by by;
	uint8_t mac[6];
	(void)state;
	int n = load("[upstream corp]\nurl = socks5://10.0.0.5:1080\n"
		     "[route]\ndefault = corp\n"
		     "port 22 = direct\n"
		     "from aa:bb:cc:dd:ee:01 = corp\n"
		     "from 192.168.1.50 = direct\n"
		     "from 192.168.7.0/24 port 443-444 to 10.0.0.0/8 = direct\n"
		     "from 192.168.9.0/24 to video.example = direct\n"
		     "10.0.0.0/8 = corp\n"
		     "example.org = direct\n"
		     "fromage.example = direct\n",
		     &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_rules, 5);
	assert_true(cfg->rules_need_mac);
	/* "to" a domain: the flow's name decides, not its address */
	assert_string_equal(
	    route_of(cfg, "192.168.9.5", NULL, "1.2.3.4", 443, "cdn.video.example", &by), "direct");
	assert_int_equal(by, ROUTE_BY_RULE);
	assert_string_equal(route_of(cfg, "192.168.9.5", NULL, "1.2.3.4", 443, NULL, &by), "corp");
	/* port 22 first, whoever asks */
	assert_string_equal(route_of(cfg, "192.168.1.9", NULL, "10.1.1.1", 22, NULL, &by),
			    "direct");
	assert_int_equal(by, ROUTE_BY_RULE);
	/* the device by MAC beats its address's rule */
	assert_string_equal(
	    route_of(cfg, "192.168.1.50", "aa:bb:cc:dd:ee:01", "1.1.1.1", 80, NULL, &by), "corp");
	assert_string_equal(route_of(cfg, "192.168.1.50", NULL, "1.1.1.1", 80, "example.org", &by),
			    "direct");
	assert_int_equal(by, ROUTE_BY_RULE);
	/* all three selectors must match */
	assert_string_equal(route_of(cfg, "192.168.7.3", NULL, "10.2.3.4", 443, NULL, &by),
			    "direct");
	assert_string_equal(route_of(cfg, "192.168.7.3", NULL, "10.2.3.4", 445, NULL, &by), "corp");
	assert_int_equal(by, ROUTE_BY_DST);
	assert_string_equal(route_of(cfg, "192.168.8.3", NULL, "10.2.3.4", 443, NULL, &by), "corp");
	/* then the name, the destination, the default */
	assert_string_equal(
	    route_of(cfg, "192.168.1.9", NULL, "10.2.3.4", 80, "www.example.org", &by), "direct");
	assert_int_equal(by, ROUTE_BY_NAME);
	assert_string_equal(route_of(cfg, "192.168.1.9", NULL, "1.2.3.4", 80, NULL, &by), "corp");
	assert_int_equal(by, ROUTE_BY_DEFAULT);
	/* a domain that starts like a selector is a domain */
	assert_string_equal(route_of(cfg, NULL, NULL, "1.2.3.4", 80, "fromage.example", &by),
			    "direct");
	assert_int_equal(config_parse_mac("AA-BB-CC-DD-EE-0F", mac), 0);
	assert_int_equal(mac[5], 0x0f);
	assert_int_equal(config_parse_mac("aa:bb:cc:dd:ee", mac), -1);
	assert_int_equal(config_parse_mac("aa:bb:cc:dd:ee:ff:00", mac), -1);
	config_free(cfg);
	expect_error(ROUTE_DIRECT "port 0 = direct\n",
		     "route \"port 0\": port \"0\" is not P or P-Q");
	expect_error(ROUTE_DIRECT "port 30-20 = direct\n", "is not P or P-Q");
	expect_error(ROUTE_DIRECT "from nonsense = direct\n",
		     "from: \"nonsense\" is not an address, CIDR or MAC address");
	expect_error(ROUTE_DIRECT "from 10.0.0.1 from 10.0.0.2 = direct\n", "each at most once");
	expect_error(ROUTE_DIRECT "from 10.0.0.1 via 10.0.0.2 = direct\n", "each at most once");
	expect_error(ROUTE_DIRECT "to a..b port 80 = direct\n",
		     "to: \"a..b\" is not an address, CIDR or domain name");
	/* an empty list of devices matches nobody, not everybody */
	{
		char path[] = "/tmp/sgdevXXXXXX", text[256];
		int fd = mkstemp(path);
		close(fd);
		snprintf(
		    text, sizeof(text),
		    "[upstream corp]\nurl = socks5://10.0.0.5:1080\n[route]\ndefault = direct\n"
		    "from @%s = corp\n",
		    path);
		n = load(text, &cfg, errs, sizeof(errs));
		if (n)
			fail_msg("%s", errs);
		assert_string_equal(route_of(cfg, "192.168.1.9", NULL, "1.2.3.4", 80, NULL, &by),
				    "direct");
		config_free(cfg);
		unlink(path);
	}
	expect_error(ROUTE_DIRECT "from @/nonexistent/devices = direct\n",
		     "from @/nonexistent/devices: No such file");
}

static void test_group_errors(void **state)
{
	(void)state;
	expect_error(TWO_UPSTREAMS "[group g]\npolicy = random\n[route]\ndefault = g\n",
		     "t.conf:6: policy: \"random\" is not failover");
	expect_error(TWO_UPSTREAMS "[group g]\npolicy = hash\n[route]\ndefault = g\n",
		     "t.conf:5: [group g] has no members");
	expect_error(TWO_UPSTREAMS "[group g]\n[route]\ndefault = a\n",
		     "t.conf:5: [group g] has no members");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a, c\n[route]\ndefault = g\n",
		     "t.conf:6: [group g] members: no upstream named \"c\"");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a, a\n[route]\ndefault = g\n",
		     "members: \"a\" given twice");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a,,b\n[route]\ndefault = g\n",
		     "members: an empty name");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a, direct\n[route]\ndefault = g\n",
		     "direct is not a member");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\n[group h]\nmembers = g\n"
				   "[route]\ndefault = h\n",
		     "\"g\" is a group (groups do not nest)");
	expect_error(TWO_UPSTREAMS "[group a]\nmembers = b\n[route]\ndefault = a\n",
		     "t.conf:6: \"a\" is an [upstream] already");
	expect_error("[group a]\nmembers = b\n[upstream a]\nurl = direct\n",
		     "t.conf:4: \"a\" is a [group] already");
	expect_error(TWO_UPSTREAMS "[group direct]\nmembers = a\n", "cannot be a group");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\nmembers = b\n",
		     "t.conf:7: [group g] members given twice");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\nwhatever = 1\n",
		     "unknown key \"whatever\" in [group g]");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\non_all_down = pass\n",
		     "on_all_down: \"pass\" is not reset or direct");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\ncheck_interval = 10ms\n",
		     "check_interval: \"10ms\" is not a duration");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\ncheck_interval = 1s\n"
				   "check_timeout = 2s\n",
		     "check_timeout (2000 ms) is longer than check_interval (1000 ms)");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\ncheck_target = example.com\n",
		     "check_target: \"example.com\" is not HOST:PORT");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\nup_after = 0\n",
		     "up_after: \"0\" is not 1..100");
	expect_error(TWO_UPSTREAMS "[group g]\nmembers = a\ncheck_udp = perhaps\n",
		     "check_udp: \"perhaps\" is not yes or no");
	expect_error("[daemon]\nresolve_min = 100ms\n", "resolve_min: \"100ms\" is not");
	/* the default timeout is cut to a short interval; a given one is not */
	{
		struct config *cfg = NULL;
		char errs[1024];
		assert_int_equal(load(TWO_UPSTREAMS "[group g]\nmembers = a\ncheck_interval = 1s\n"
						    "[route]\ndefault = g\n",
				      &cfg, errs, sizeof(errs)),
				 0);
		assert_int_equal(cfg->default_upstream->group->check_timeout_ms, 1000);
		config_free(cfg);
	}
	expect_error("[daemon]\nresolve_min = 2h\n" ROUTE_DIRECT,
		     "resolve_min (7200000 ms) is above resolve_max");
}

#define ROUTE "[route]\ndefault = direct\n"

static void test_socks(void **state)
{
	struct config *cfg = NULL;
	char errs[4096], a[ADDR_STRLEN];
	(void)state;
	int n = load(ROUTE "[socks]\n"
			   "listen = 192.168.1.1:1080, [fd00::1]:1081 ,127.0.0.1:1080\n"
			   "users = /etc/sockgate/users\n"
			   "allow = 192.168.1.0/24, fd00::/64\n"
			   "deny_dst = 10.0.0.0/8\n"
			   "allow_dst = 192.168.1.1\n"
			   "max_conns_per_client = 0\n"
			   "bind_timeout = 30s\n",
		     &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->socks.n_listen, 3);
	assert_string_equal(addr_format(&cfg->socks.listen[0], a, sizeof(a)), "192.168.1.1:1080");
	assert_string_equal(addr_format(&cfg->socks.listen[1], a, sizeof(a)), "[fd00::1]:1081");
	assert_string_equal(addr_format(&cfg->socks.listen[2], a, sizeof(a)), "127.0.0.1:1080");
	assert_int_equal(cfg->socks.auth_password, 1); /* the default beyond loopback */
	assert_string_equal(cfg->socks.users_path, "/etc/sockgate/users");
	assert_int_equal(cfg->socks.n_allow, 2);
	assert_int_equal(cfg->socks.allow[1].family, AF_INET6);
	assert_int_equal(cfg->socks.allow[1].prefix_len, 64);
	assert_int_equal(cfg->socks.n_deny_dst, 1);
	assert_int_equal(cfg->socks.n_allow_dst, 1);
	assert_int_equal(cfg->socks.allow_dst[0].prefix_len, 32);
	assert_int_equal(cfg->socks.max_conns_per_client, 0);
	assert_int_equal(cfg->socks.bind_timeout_ms, 30000);
	config_free(cfg);

	/* loopback only: auth defaults to none, no allow list needed */
	n = load(ROUTE "[socks]\nlisten = 127.0.0.1:1080, [::1]:1080\n", &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->socks.auth_password, 0);
	assert_int_equal(cfg->socks.max_conns_per_client, 256);
	assert_int_equal(cfg->socks.bind_timeout_ms, 60000);
	config_free(cfg);

	/* auth = none beyond loopback is fine with an allow list */
	n = load(ROUTE "[socks]\nlisten = 10.0.0.1:1080\nauth = none\nallow = 10.0.0.0/24\n", &cfg,
		 errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->socks.auth_password, 0);
	config_free(cfg);

	/* no [socks]: off */
	n = load(ROUTE, &cfg, errs, sizeof(errs));
	assert_int_equal(n, 0);
	assert_int_equal(cfg->socks.n_listen, 0);
	config_free(cfg);
}

/* [route] by name: domains (and what is under them), exact names, and
 * @FILE lists of them; errors in a list as FILE:LINE. */
static void test_domain_routes(void **state)
{
	char path[] = "/tmp/sgroutesXXXXXX", text[1024], errs[4096];
	struct config *cfg = NULL;
	int fd = mkstemp(path), n;
	FILE *f;
	(void)state;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "# corporate names\nintranet.example\n\nexact wiki.example  # only it\n");
	for (int i = 0; i < 100; i++)
		fprintf(f, "h%d.list.example\n", i);
	fclose(f);
	snprintf(
	    text, sizeof(text),
	    "[upstream corp]\nurl = socks5h://10.0.0.2:1080\n[upstream far]\n"
	    "url = http://10.0.0.3:3128\n[route]\ndefault = corp\n10.0.0.0/8 = direct\n"
	    "example.org = far\nexact www.example.net = far\n@%s = direct\nkeyword track = far\n"
	    "keyword ads = corp\n",
	    path);
	n = load(text, &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_routes, 1);
	assert_int_equal(domain_table_count(cfg->domain_routes), 104);
	assert_string_equal(config_route_name(cfg, "a.b.Example.ORG")->name, "far");
	assert_string_equal(config_route_name(cfg, "www.example.net")->name, "far");
	assert_null(config_route_name(cfg, "x.www.example.net"));
	assert_string_equal(config_route_name(cfg, "db.intranet.example")->name, "direct");
	assert_string_equal(config_route_name(cfg, "wiki.example")->name, "direct");
	assert_null(config_route_name(cfg, "a.wiki.example"));
	assert_string_equal(config_route_name(cfg, "h99.list.example")->name, "direct");
	assert_null(config_route_name(cfg, "example.com"));
	/* keywords: where no domain entry covers the name, the first found */
	assert_int_equal(cfg->n_keywords, 2);
	assert_string_equal(config_route_name(cfg, "x.Tracking-ads.net")->name, "far");
	assert_string_equal(config_route_name(cfg, "ads.example.com")->name, "corp");
	assert_string_equal(config_route_name(cfg, "track.intranet.example")->name, "direct");
	config_free(cfg);

	/* a bad entry in the list: FILE:LINE */
	f = fopen(path, "w");
	fprintf(f, "ok.example\nnot a name\n");
	fclose(f);
	snprintf(text, sizeof(text), "[route]\ndefault = direct\n@%s = direct\n", path);
	n = load(text, &cfg, errs, sizeof(errs));
	assert_int_not_equal(n, 0);
	snprintf(text, sizeof(text),
		 "%s:2: \"not a name\" is not a CIDR, domain name, exact NAME or keyword WORD",
		 path);
	if (!strstr(errs, text))
		fail_msg("errors:\n%s\nlack \"%s\"", errs, text);
	unlink(path);
	snprintf(text, sizeof(text), "[route]\ndefault = direct\n@%s = direct\n", path);
	n = load(text, &cfg, errs, sizeof(errs));
	assert_non_null(strstr(errs, "t.conf:3: route @/tmp/sgroutes"));
	assert_non_null(strstr(errs, "No such file or directory"));
	expect_error(ROUTE "a..b = direct\n", "t.conf:3: route \"a..b\": not \"default\", a "
					      "destination CIDR (10.0.0.0/8, fd00::/8), a domain");
	expect_error(ROUTE "example.com = direct\nEXAMPLE.com. = direct\n",
		     "route \"EXAMPLE.com.\" given twice");
	expect_error(ROUTE "example.com = nowhere\n", "no upstream named \"nowhere\"");
	expect_error(ROUTE "keyword Ads = direct\n", "route \"keyword Ads\": not \"default\"");
	expect_error(ROUTE "keyword ads = direct\nkeyword ads = direct\n", "given twice");
}

static void test_dns(void **state)
{
	struct config *cfg = NULL;
	char errs[4096], a[ADDR_STRLEN];
	(void)state;
	int n =
	    load(ROUTE "[upstream far]\nurl = socks5://127.0.0.1:1080\n[dns]\n"
		       "listen = 192.168.1.1:53, [fd00::1]:53\n"
		       "server = 9.9.9.9, [2620:fe::fe]:53 via far tcp, 10.0.0.53:5353 via direct\n"
		       "allow = 192.168.1.0/24, fd00::/64\n"
		       "hijack = yes\n"
		       "timeout = 1500ms\n"
		       "cache_size = 500\n"
		       "cache_bytes = 65536\n",
		 &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->dns.n_listen, 2);
	assert_string_equal(addr_format(&cfg->dns.listen[1], a, sizeof(a)), "[fd00::1]:53");
	assert_int_equal(cfg->dns.n_server, 3);
	assert_string_equal(addr_format(&cfg->dns.server[0].addr, a, sizeof(a)), "9.9.9.9:53");
	assert_string_equal(addr_format(&cfg->dns.server[2].addr, a, sizeof(a)), "10.0.0.53:5353");
	/* options: an upstream forced, TCP forced; else the route's */
	assert_null(cfg->dns.server[0].via);
	assert_ptr_equal(config_dns_upstream(cfg, 0), cfg->default_upstream);
	assert_string_equal(cfg->dns.server[1].via->name, "far");
	assert_int_equal(cfg->dns.server[1].tcp, 1);
	assert_int_equal(cfg->dns.server[0].tcp, 0);
	assert_string_equal(config_dns_upstream(cfg, 2)->name, "direct");
	assert_int_equal(cfg->dns.hijack, 1);
	assert_string_equal(addr_format(config_dns_hijack_target(&cfg->dns, AF_INET), a, sizeof(a)),
			    "192.168.1.1:53");
	assert_string_equal(
	    addr_format(config_dns_hijack_target(&cfg->dns, AF_INET6), a, sizeof(a)),
	    "[fd00::1]:53");
	assert_int_equal(cfg->dns.n_allow, 2);
	assert_int_equal(cfg->dns.timeout_ms, 1500);
	assert_int_equal(config_dns_attempt_ms(&cfg->dns), 500);
	assert_int_equal(cfg->dns.cache_entries, 500);
	assert_int_equal(cfg->dns.cache_bytes, 65536);
	config_free(cfg);

	/* loopback only: no allow list needed; defaults */
	n = load(ROUTE "[dns]\nlisten = 127.0.0.1:5353\nserver = 127.0.0.1:53\n", &cfg, errs,
		 sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->dns.timeout_ms, 2000);
	assert_int_equal(cfg->dns.cache_entries, 10000);
	config_free(cfg);

	/* fake-IP: defaults, then pools of one's own */
	n = load(ROUTE "[dns]\nlisten = 127.0.0.1:5353\nserver = 127.0.0.1:53\nmode = fakeip\n",
		 &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->dns.fakeip, 1);
	assert_int_equal(cfg->dns.fakeip4.prefix_len, 15);
	assert_int_equal(cfg->dns.fakeip6.family, AF_INET6);
	assert_int_equal(cfg->dns.fakeip_size, 65536);
	assert_int_equal(cfg->dns.fakeip_ttl, 1);
	config_free(cfg);
	n = load(ROUTE "[dns]\nlisten = 127.0.0.1:5353\nserver = 127.0.0.1:53\nmode = fakeip\n"
		       "fakeip_range = 10.99.0.0/16\nfakeip_size = 1000\nfakeip_ttl = 30\n"
		       "fakeip_file = /var/lib/sockgate/fakeip\n",
		 &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->dns.fakeip4.prefix_len, 16);
	assert_int_equal(cfg->dns.fakeip6.family, 0); /* none given: none */
	assert_int_equal(cfg->dns.fakeip_size, 1000);
	assert_int_equal(cfg->dns.fakeip_ttl, 30);
	assert_string_equal(cfg->dns.fakeip_file, "/var/lib/sockgate/fakeip");
	config_free(cfg);
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\nfakeip_file = x\n",
		     "fakeip_file: \"x\" is not an absolute path");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\nmode = magic\n",
		     "mode: \"magic\" is not forward or fakeip");
	expect_error(ROUTE
		     "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\nfakeip_range = 10.0.0.0/30\n",
		     "fakeip_range: \"10.0.0.0/30\" is too small");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\n"
			   "fakeip_range = 10.0.0.0/16, 10.1.0.0/16\n",
		     "fakeip_range: one IPv4 and one IPv6 range at most");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\nfakeip_size = 0\n",
		     "fakeip_size: \"0\" is not 1 .. 4194304 names");

	/* no [dns]: off */
	n = load(ROUTE, &cfg, errs, sizeof(errs));
	assert_int_equal(n, 0);
	assert_int_equal(cfg->dns.n_listen, 0);
	config_free(cfg);
}

static void test_dns_errors(void **state)
{
	(void)state;
	expect_error(ROUTE "[dns]\nlisten = 10.0.0.1:53\nserver = 9.9.9.9\n",
		     "t.conf:4: [dns] listening beyond loopback needs an allow");
	expect_error(ROUTE "[dns]\nserver = 9.9.9.9\n", "t.conf:4: [dns] has no listen address");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\n", "t.conf:4: [dns] has no server");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1\nserver = 9.9.9.9\n",
		     "listen: \"127.0.0.1\" is not ADDRESS:PORT");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = dns.google\n",
		     "server: \"dns.google\" is not ADDRESS:PORT");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9, 9.9.9.9:53\n",
		     "given twice");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\ntimeout = 50ms\n",
		     "timeout: \"50ms\" is not a duration of 100ms .. 30s");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\ncache_size = -1\n",
		     "cache_size: \"-1\" is not 0 .. 1000000 answers");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\nhijack = yes\n",
		     "t.conf:4: [dns] hijack = yes needs a listen address beyond loopback");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\nhijack = maybe\n",
		     "hijack: \"maybe\" is not yes or no");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9 via nowhere\n",
		     "t.conf:5: server: no upstream named \"nowhere\"");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9 udp\n",
		     "server: options are \"via UPSTREAM\" (or via direct) and \"tcp\"");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9 via\n",
		     "server: options are");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53 tcp\nserver = 9.9.9.9\n",
		     "listen: \"127.0.0.1:53 tcp\" is not ADDRESS:PORT");
	expect_error(ROUTE "[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9 via a/b\n",
		     "server: via \"a/b\" is not an upstream name");
}

static void test_socks_errors(void **state)
{
	(void)state;
	expect_error(ROUTE "[socks]\nlisten = 10.0.0.1:1080\n",
		     "t.conf:4: [socks] auth = password needs users = FILE");
	expect_error(ROUTE "[socks]\nlisten = 10.0.0.1:1080\nauth = none\n",
		     "t.conf:4: [socks] auth = none on a non-loopback address needs an allow");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1080\nusers = /x\n",
		     "users is set but auth = none");
	expect_error(ROUTE "[socks]\nauth = none\n", "t.conf:4: [socks] has no listen address");
	expect_error(ROUTE "[socks]\n", "t.conf:3: [socks] has no listen address");
	expect_error(ROUTE "[socks]\nlisten = 10.0.0.1\n", "t.conf:4: listen: \"10.0.0.1\" is not");
	expect_error(ROUTE "[socks]\nlisten = ::1:1080\n", "listen: \"::1:1080\" is not");
	expect_error(ROUTE "[socks]\nlisten = [10.0.0.1]:1080\n", "is not ADDRESS:PORT");
	expect_error(ROUTE "[socks]\nlisten = [::1]1080\n", "is not ADDRESS:PORT");
	expect_error(ROUTE "[socks]\nlisten = host:1080\n", "is not ADDRESS:PORT");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:0\n", "is not ADDRESS:PORT");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1080, ,127.0.0.1:1081\n",
		     "listen: empty element");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1080, 127.0.0.1:1080\n", "given twice");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1\nauth = maybe\n", "t.conf:5: auth:");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1\nallow = 10.0.0.1/8\n",
		     "t.conf:5: allow: \"10.0.0.1/8\" is not");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1\ndeny_dst = nope\n", "deny_dst:");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1\nallow_dst = ::/129\n", "allow_dst:");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1\nmax_conns_per_client = -1\n",
		     "max_conns_per_client:");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1\nbind_timeout = 0\n", "bind_timeout:");
	expect_error(ROUTE "[socks]\nlisten = 127.0.0.1:1\nport = 1\n",
		     "t.conf:5: unknown key \"port\" in [socks]");
}

/* inih splits keys at ':' as well as '=': IPv6 route keys must survive. */
static void test_ipv6_routes(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	struct sockaddr_storage dst;
	(void)state;
	int n = load("[upstream corp]\nurl = socks5://10.0.0.5:1080\n"
		     "[route]\ndefault = corp\n"
		     "fd00::/8 = direct\n"
		     "2001:db8:1::/48=direct ; comment\n"
		     "::ffff:0:0/96 = corp\n",
		     &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_routes, 3);
	addr_from_ip("fd12::1", 80, &dst);
	assert_string_equal(config_route(cfg, &dst)->name, "direct");
	addr_from_ip("2001:db8:1:2::1", 80, &dst);
	assert_string_equal(config_route(cfg, &dst)->name, "direct");
	addr_from_ip("2001:db8:2::1", 80, &dst);
	assert_string_equal(config_route(cfg, &dst)->name, "corp");
	config_free(cfg);
	expect_error("[route]\ndefault = direct\nfd00::/8 = nowhere\n",
		     "t.conf:3: route fd00::/8: no upstream named \"nowhere\"");
	expect_error("[route]\ndefault = direct\nfd00::/8 =\n",
		     "t.conf:3: route \"fd00::/8\": empty");
}

static void test_intake_rules_keys(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	(void)state;
	int n = load(ROUTE "[intake]\n"
			   "interfaces = br-lan, 192.168.7.0/24, wg0, fd00:7::/64\n"
			   "bypass = 203.0.113.0/24, 2001:db8::/32\n"
			   "bypass_private = no\n"
			   "local = yes\n",
		     &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_intercept_ifaces, 2);
	assert_string_equal(cfg->intercept_ifaces[0], "br-lan");
	assert_string_equal(cfg->intercept_ifaces[1], "wg0");
	assert_int_equal(cfg->n_intercept_src, 2);
	assert_int_equal(cfg->intercept_src[1].family, AF_INET6);
	assert_int_equal(cfg->n_bypass, 2);
	assert_int_equal(cfg->bypass_private, 0);
	assert_int_equal(cfg->intercept_local, 1);
	config_free(cfg);
	n = load(ROUTE, &cfg, errs, sizeof(errs));
	assert_int_equal(n, 0);
	assert_int_equal(cfg->bypass_private, 1);
	assert_int_equal(cfg->bypass_connected, 1);
	assert_int_equal(cfg->max_flows_per_client, 1024);
	assert_int_equal(cfg->max_udp_per_client, 256);
	assert_int_equal(cfg->n_intercept_ifaces, 0);
	assert_int_equal(cfg->sniff, 0);
	assert_int_equal(cfg->sniff_timeout_ms, 300);
	config_free(cfg);
	n = load(ROUTE "[intake]\nbypass_connected = no\ndeny_dst = 10.9.0.0/16, fd09::/16\n"
		       "bypass = 1.2.3.4\nmax_flows_per_client = 0\nmax_udp_per_client = 8\n"
		       "sniff = http, tls\nsniff_timeout = 150ms\nwhen_down = block\n",
		 &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->bypass_connected, 0);
	assert_int_equal(cfg->n_intake_deny_dst, 2);
	assert_int_equal(cfg->intake_deny_dst[1].family, AF_INET6);
	assert_int_equal(cfg->n_bypass, 1); /* deny_dst is a list of its own */
	assert_int_equal(cfg->max_flows_per_client, 0);
	assert_int_equal(cfg->max_udp_per_client, 8);
	assert_int_equal(cfg->sniff, CONFIG_SNIFF_TLS | CONFIG_SNIFF_HTTP);
	assert_int_equal(cfg->sniff_timeout_ms, 150);
	assert_int_equal(cfg->when_down_block, 1);
	config_free(cfg);
	expect_error(ROUTE "[intake]\nwhen_down = maybe\n",
		     "when_down: \"maybe\" is not pass or block");
	n = load(ROUTE "[intake]\nsniff = none\n", &cfg, errs, sizeof(errs));
	assert_int_equal(n, 0);
	assert_int_equal(cfg->sniff, 0);
	config_free(cfg);
	expect_error(ROUTE "[intake]\nsniff = tls, quic\n",
		     "sniff: \"quic\" is not tls or http (or none alone)");
	expect_error(ROUTE "[intake]\nsniff = none, tls\n", "sniff: \"none\" is not tls or http");
	expect_error(ROUTE "[intake]\nsniff_timeout = 5ms\n",
		     "sniff_timeout: \"5ms\" is not a duration of 10ms .. 5s");
	expect_error(ROUTE "[intake]\ndeny_dst = example.com\n",
		     "deny_dst: \"example.com\" is not");
	expect_error(ROUTE "[intake]\nmax_udp_per_client = -1\n", "max_udp_per_client:");
	expect_error(ROUTE "[intake]\nbypass_connected = maybe\n", "bypass_connected:");

	expect_error(
	    ROUTE "[intake]\ninterfaces = averyveryverylongname0\n",
	    "t.conf:4: interfaces: \"averyveryverylongname0\" is neither an interface name");
	expect_error(ROUTE "[intake]\ninterfaces = 10.0.0.1/8\n", "is not a valid CIDR");
	expect_error(ROUTE "[intake]\ninterfaces = 10.0.1\n", "is not a valid CIDR");
	expect_error(ROUTE "[intake]\ninterfaces = eth0, eth0\n", "\"eth0\" given twice");
	expect_error(ROUTE "[intake]\ninterfaces = ..\n", "neither an interface name");
	expect_error(ROUTE "[intake]\ninterfaces = br lan\n", "neither an interface name");
	expect_error(ROUTE "[intake]\nbypass = example.com\n", "bypass: \"example.com\" is not");
	expect_error(ROUTE "[intake]\nbypass_private = perhaps\n", "bypass_private:");
	expect_error(ROUTE "[intake]\nlocal = sometimes\n", "t.conf:4: local:");
	expect_error(ROUTE "[intake]\ninterfaces = a\ninterfaces = a\n",
		     "t.conf:5: interfaces: \"a\" given twice");
	expect_error(ROUTE "[intake]\nredirect = 1\nredirect = 2\n",
		     "t.conf:5: [intake] redirect given twice");
}

static void test_tproxy_keys(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	(void)state;
	/* tproxy alone: TCP goes there, the redirect listener is off */
	int n = load(ROUTE "[intake]\ntproxy = 12346\n", &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->tproxy_port, 12346);
	assert_int_equal(cfg->redirect_port, 0);
	assert_int_equal(cfg->tproxy_mark, 0x2a1);
	assert_int_equal(cfg->tproxy_table, 673);
	config_free(cfg);
	/* both: redirect stays for TCP */
	n = load(ROUTE
		 "[intake]\nredirect = 4000\ntproxy = 4001\ntproxy_mark = 7\ntproxy_table = 100\n",
		 &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->redirect_port, 4000);
	assert_int_equal(cfg->tproxy_port, 4001);
	assert_int_equal(cfg->tproxy_mark, 7);
	assert_int_equal(cfg->tproxy_table, 100);
	config_free(cfg);
	expect_error(ROUTE "[intake]\ntproxy = 0\n", "t.conf:4: tproxy: bad port");
	expect_error(ROUTE "[intake]\nredirect = 5\ntproxy = 5\n", "are the same port 5");
	expect_error(ROUTE "[intake]\ntproxy_mark = 0x2a0\n",
		     "tproxy_mark and [daemon] mark are both");
	expect_error(ROUTE "[intake]\ntproxy_mark = 0\n", "tproxy_mark:");
	expect_error(ROUTE "[intake]\ntproxy_table = 254\n",
		     "tproxy_table: \"254\" is not a routing table");
	expect_error(ROUTE "[intake]\ntproxy_table = main\n", "tproxy_table:");
	/* the eBPF intake hands traffic to the TPROXY sockets */
	n = load(ROUTE "[intake]\ntproxy = 12346\nebpf = on\n", &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->ebpf, INTAKE_EBPF_ON);
	config_free(cfg);
	n = load(ROUTE "[intake]\nebpf = auto\n", &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->ebpf, INTAKE_EBPF_AUTO);
	config_free(cfg);
	n = load(ROUTE, &cfg, errs, sizeof(errs));
	assert_int_equal(cfg->ebpf, INTAKE_EBPF_OFF);
	config_free(cfg);
	expect_error(ROUTE "[intake]\nebpf = on\n", "ebpf = on needs tproxy");
	n = load(ROUTE "[intake]\nebpf = on\ncgroups = /sys/fs/cgroup/a, /sys/fs/cgroup/b c\n",
		 &cfg, errs, sizeof(errs));
	assert_int_equal(n, 1);
	assert_non_null(strstr(errs, "\"/sys/fs/cgroup/b c\" is not an absolute cgroup path"));
	n = load(ROUTE "[intake]\nebpf = auto\ncgroups = /sys/fs/cgroup/a, /x/y\n", &cfg, errs,
		 sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->n_cgroups, 2);
	assert_string_equal(cfg->cgroups[1], "/x/y");
	config_free(cfg);
	expect_error(ROUTE "[intake]\ncgroups = relative/path\nebpf = on\n",
		     "not an absolute cgroup path");
	expect_error(ROUTE "[intake]\ncgroups = /a/../b\nebpf = on\n",
		     "not an absolute cgroup path");
	expect_error(ROUTE "[intake]\ncgroups = /a\n", "cgroups needs ebpf = on or auto");
	expect_error(ROUTE "[intake]\ntproxy = 1\ncgroups = /a\nebpf = on\n",
		     "cgroups needs redirect");
	expect_error(ROUTE "[intake]\nebpf = yes\n",
		     "t.conf:4: ebpf: \"yes\" is not auto, on or off");
}

static void test_udp_keys(void **state)
{
	struct config *cfg = NULL;
	char errs[4096], a[ADDR_STRLEN];
	(void)state;
	int n = load("[daemon]\nudp_idle_timeout = 2s\nudp_associations = 10\n"
		     "[upstream s5]\nurl = socks5://10.0.0.5:1080\n"
		     "[upstream nat]\nurl = socks5h://10.0.0.6:1080\nudp_address = 192.0.2.6:4000\n"
		     "[upstream web]\nurl = http://10.0.0.7:3128\n"
		     "[upstream web2]\nurl = http://10.0.0.8:3128\nudp = direct\n"
		     "[upstream s5off]\nurl = socks5://10.0.0.9:1080\nudp = drop\n"
		     "[route]\ndefault = s5\n",
		     &cfg, errs, sizeof(errs));
	if (n)
		fail_msg("%s", errs);
	assert_int_equal(cfg->udp_idle_timeout_ms, 2000);
	assert_int_equal(cfg->udp_associations, 10);
	assert_int_equal(cfg->upstreams[0].udp, UPSTREAM_UDP_DIRECT); /* direct */
	assert_int_equal(cfg->upstreams[1].udp, UPSTREAM_UDP_ASSOCIATE);
	assert_int_equal(cfg->upstreams[1].udp_addr.ss_family, 0);
	assert_int_equal(cfg->upstreams[2].udp, UPSTREAM_UDP_ASSOCIATE);
	assert_string_equal(addr_format(&cfg->upstreams[2].udp_addr, a, sizeof(a)),
			    "192.0.2.6:4000");
	assert_int_equal(cfg->upstreams[3].udp, UPSTREAM_UDP_DROP);
	assert_int_equal(cfg->upstreams[4].udp, UPSTREAM_UDP_DIRECT);
	assert_int_equal(cfg->upstreams[5].udp, UPSTREAM_UDP_DROP);
	config_free(cfg);
	/* defaults */
	n = load(ROUTE, &cfg, errs, sizeof(errs));
	assert_int_equal(n, 0);
	assert_int_equal(cfg->udp_idle_timeout_ms, 60000);
	assert_int_equal(cfg->udp_associations, 4096);
	config_free(cfg);

	expect_error("[upstream w]\nurl = http://10.0.0.7:3128\nudp = associate\n" ROUTE,
		     "t.conf:3: [upstream w] udp = associate needs a socks5:// or socks5h:// url");
	expect_error("[upstream w]\nurl = socks5://10.0.0.7:1\nudp = maybe\n" ROUTE,
		     "t.conf:3: udp: \"maybe\" is not associate, direct or drop");
	expect_error("[upstream w]\nurl = socks5://10.0.0.7:1\nudp = drop\nudp = drop\n" ROUTE,
		     "t.conf:4: [upstream w] udp given twice");
	expect_error("[upstream w]\nurl = socks5://10.0.0.7:1\nudp_address = 10.0.0.7\n" ROUTE,
		     "t.conf:3: udp_address: \"10.0.0.7\" is not HOST:PORT");
	expect_error("[upstream w]\nurl = socks5://10.0.0.7:1\nudp_address = [x]:5\n" ROUTE,
		     "udp_address: \"[x]:5\" is not HOST:PORT");
	expect_error("[upstream w]\nurl = http://10.0.0.7:1\nudp_address = 10.0.0.7:5\n" ROUTE,
		     "t.conf:3: [upstream w] udp_address is only used with udp = associate");
	expect_error("[daemon]\nudp_idle_timeout = 500ms\n" ROUTE,
		     "udp_idle_timeout: \"500ms\" is not a duration of 1s or more");
	expect_error("[daemon]\nudp_associations = 0\n" ROUTE, "udp_associations: \"0\" is not");
}

/* [daemon] max_flows and pipe_size: the memory budget's knobs. */
static void test_budget_keys(void **state)
{
	static const struct {
		const char *value;
		unsigned bytes;
	} sizes[] = { { "4096", 4096 },
		      { "64K", 65536 },
		      { "256k", 262144 },
		      { "1M", 1048576 },
		      { "1048576", 1048576 } };
	static const char *const bad_sizes[] = { "0", "4095", "2M",	"1048577", "1G", "64KB",
						 "K", "-64K", "0x1000", "010K",	   "" };
	struct config *cfg = NULL;
	char errs[4096], text[128];
	(void)state;

	assert_int_equal(load(ROUTE, &cfg, errs, sizeof(errs)), 0);
	assert_int_equal(cfg->max_flows, 16384);
	assert_int_equal(cfg->pipe_size, 1048576);
	config_free(cfg);
	assert_int_equal(load("[daemon]\nmax_flows = 0\n" ROUTE, &cfg, errs, sizeof(errs)), 0);
	assert_int_equal(cfg->max_flows, 0);
	config_free(cfg);
	assert_int_equal(load("[daemon]\nmax_flows = 4000000\n" ROUTE, &cfg, errs, sizeof(errs)),
			 0);
	assert_int_equal(cfg->max_flows, 4000000);
	config_free(cfg);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\npipe_size = %s\n" ROUTE, sizes[i].value);
		if (load(text, &cfg, errs, sizeof(errs)))
			fail_msg("%s: %s", sizes[i].value, errs);
		assert_int_equal(cfg->pipe_size, sizes[i].bytes);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\npipe_size = %s\n" ROUTE, bad_sizes[i]);
		expect_error(text, "pipe_size: ");
	}
	expect_error("[daemon]\nmax_flows = 4000001\n" ROUTE,
		     "t.conf:2: max_flows: \"4000001\" is not 0 (no cap) .. 4000000");
	expect_error("[daemon]\nmax_flows = -1\n" ROUTE, "max_flows: \"-1\" is not");
	expect_error("[daemon]\nmax_flows = 5\nmax_flows = 6\n" ROUTE, "max_flows given twice");
	expect_error("[daemon]\npipe_size = 64K\npipe_size = 64K\n" ROUTE, "pipe_size given twice");
}

static void test_metrics_key(void **state)
{
	static const struct {
		const char *value, *addr;
	} good[] = {
		{ "9180", "127.0.0.1:9180" },
		{ "0.0.0.0:9100", "0.0.0.0:9100" },
		{ "[::1]:9180", "[::1]:9180" },
		{ "off", NULL },
	};
	struct config *cfg = NULL;
	char errs[4096], text[256], a[ADDR_STRLEN];
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\nmetrics = %s\n" ROUTE, good[i].value);
		if (load(text, &cfg, errs, sizeof(errs)))
			fail_msg("%s: %s", good[i].value, errs);
		if (good[i].addr)
			assert_string_equal(addr_format(&cfg->metrics, a, sizeof(a)), good[i].addr);
		else
			assert_int_equal(cfg->metrics.ss_family, 0);
		config_free(cfg);
	}
	/* off unless asked for */
	assert_int_equal(load(ROUTE, &cfg, errs, sizeof(errs)), 0);
	assert_int_equal(cfg->metrics.ss_family, 0);
	config_free(cfg);
	expect_error("[daemon]\nmetrics = 0\n" ROUTE, "t.conf:2: metrics: \"0\" is not");
	expect_error("[daemon]\nmetrics = localhost:9180\n" ROUTE,
		     "metrics: \"localhost:9180\" is not \"off\", PORT or ADDRESS:PORT");
	expect_error("[daemon]\nmetrics = ::1:9180\n" ROUTE, "metrics: \"::1:9180\" is not");
	expect_error("[daemon]\nmetrics = [127.0.0.1]:9180\n" ROUTE, "is not");
	expect_error("[daemon]\nmetrics = 127.0.0.1:99999\n" ROUTE, "is not");
	expect_error("[daemon]\nmetrics = 9180\nmetrics = 9181\n" ROUTE,
		     "t.conf:3: [daemon] metrics given twice");
}

static void test_user_key(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	(void)state;
	assert_int_equal(load(ROUTE, &cfg, errs, sizeof(errs)), 0);
	assert_string_equal(cfg->user, "nobody");
	config_free(cfg);
	assert_int_equal(
	    load("[daemon]\nuser = sockgate-proxy_1\n" ROUTE, &cfg, errs, sizeof(errs)), 0);
	assert_string_equal(cfg->user, "sockgate-proxy_1");
	config_free(cfg);
	expect_error("[daemon]\nlog = journal\n" ROUTE,
		     "t.conf:2: log: \"journal\" is not auto, stderr or syslog");
	assert_int_equal(load("[daemon]\nlog = syslog\n" ROUTE, &cfg, errs, sizeof(errs)), 0);
	assert_int_equal(cfg->log_target, LOG_TARGET_SYSLOG);
	config_free(cfg);
	expect_error("[daemon]\nuser = ../etc\n" ROUTE,
		     "t.conf:2: user: \"../etc\" is not a user name");
	expect_error("[daemon]\nuser = -r\n" ROUTE, "user: \"-r\" is not a user name");
	expect_error("[daemon]\nuser = a b\n" ROUTE, "is not a user name");
	expect_error("[daemon]\nuser = abcdefghijklmnopqrstuvwxyzabcdefgh\n" ROUTE,
		     "is not a user name");
}

static void test_duration(void **state)
{
	unsigned ms;
	(void)state;
	assert_int_equal(config_parse_duration("10", &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(config_parse_duration("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(config_parse_duration("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(config_parse_duration("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(config_parse_duration("", &ms), -1);
	assert_int_equal(config_parse_duration("s", &ms), -1);
	assert_int_equal(config_parse_duration("-1", &ms), -1);
	assert_int_equal(config_parse_duration("1.5s", &ms), -1);
	assert_int_equal(config_parse_duration("9999999h", &ms), -1);
}

/* [socks] http keys and [pac]: values, defaults, every error. */
static void test_http_and_pac(void **state)
{
	const char *socks =
	    "[route]\ndefault = direct\n[socks]\nlisten = 10.0.0.1:1080\nauth = none\n"
	    "allow = 10.0.0.0/8\n";
	struct config *cfg = NULL;
	char text[1024], errs[4096];
	(void)state;
	snprintf(text, sizeof(text),
		 "%shttp_via = yes\n[pac]\nlisten = 10.0.0.1:80, [fd00::1]:8080\n"
		 "proxy = router.lan:1080\nfallback_direct = yes\n",
		 socks);
	assert_int_equal(load(text, &cfg, errs, sizeof(errs)), 0);
	assert_true(cfg->socks.http);
	assert_true(cfg->socks.http_via);
	assert_int_equal(cfg->pac.n_listen, 2);
	assert_string_equal(cfg->pac.proxy_host, "router.lan");
	assert_int_equal(cfg->pac.proxy_port, 1080);
	assert_true(cfg->pac.fallback_direct);
	config_free(cfg);
	snprintf(text, sizeof(text), "%shttp = no\n", socks);
	assert_int_equal(load(text, &cfg, errs, sizeof(errs)), 0);
	assert_false(cfg->socks.http);
	assert_false(cfg->socks.http_via);
	assert_int_equal(cfg->pac.n_listen, 0);
	config_free(cfg);
	snprintf(text, sizeof(text), "%shttp = maybe\n", socks);
	expect_error(text, "t.conf:7: http: \"maybe\" is not yes or no");
	expect_error("[route]\ndefault = direct\n[pac]\nlisten = 10.0.0.1:80\n",
		     "t.conf:4: [pac] names the proxy port: it needs [socks] listen");
	snprintf(text, sizeof(text), "%s[pac]\nproxy = a:1\n", socks);
	expect_error(text, "t.conf:8: [pac] has no listen address");
	snprintf(text, sizeof(text), "%s[pac]\nlisten = 10.0.0.1\n", socks);
	expect_error(text, "t.conf:8: listen: \"10.0.0.1\" is not ADDRESS:PORT");
	snprintf(text, sizeof(text), "%s[pac]\nlisten = 10.0.0.1:80\nproxy = a b:1\n", socks);
	expect_error(text, "t.conf:9: proxy: \"a b:1\" is not HOST:PORT");
	snprintf(text, sizeof(text), "%s[pac]\nlisten = 10.0.0.1:80\nproxy = a:0\n", socks);
	expect_error(text, "t.conf:9: proxy");
	snprintf(text, sizeof(text), "%s[pac]\nlisten = 10.0.0.1:80\nfallback_direct = 2\n", socks);
	expect_error(text, "t.conf:9: fallback_direct");
	/* a list: given again, it adds */
	snprintf(text, sizeof(text), "%s[pac]\nlisten = 10.0.0.1:80\nlisten = 10.0.0.1:81\n",
		 socks);
	assert_int_equal(load(text, &cfg, errs, sizeof(errs)), 0);
	assert_int_equal(cfg->pac.n_listen, 2);
	config_free(cfg);
	snprintf(text, sizeof(text), "%s[pac]\nlisten = 10.0.0.1:80\nport = 1\n", socks);
	expect_error(text, "t.conf:9: unknown key \"port\" in [pac]");
	snprintf(text, sizeof(text),
		 "%s[pac]\nlisten = 1.1.1.1:1, 1.1.1.1:2, 1.1.1.1:3, 1.1.1.1:4, 1.1.1.1:5\n",
		 socks);
	expect_error(text, "t.conf:8: listen: more than 4 addresses");
}

/* [upstream] warm, warm_max_age, warm_idle, optimistic, fastopen. */
static void test_warm_keys(void **state)
{
	struct config *cfg = NULL;
	char errs[4096];
	(void)state;
	assert_int_equal(
	    load("[upstream a]\nurl = socks5://10.0.0.1:1080\nwarm = auto\n"
		 "warm_max_age = 10s\nwarm_idle = 5s\noptimistic = yes\nfastopen = yes\n"
		 "[upstream b]\nurl = socks5://10.0.0.2:1080\nwarm = 4\n"
		 "[upstream c]\nurl = http://10.0.0.3:3128\n"
		 "[route]\ndefault = a\n",
		 &cfg, errs, sizeof(errs)),
	    0);
	assert_int_equal(cfg->upstreams[1].warm, UPSTREAM_WARM_AUTO);
	assert_int_equal(cfg->upstreams[1].warm_max_age_ms, 10000);
	assert_int_equal(cfg->upstreams[1].warm_idle_ms, 5000);
	assert_true(cfg->upstreams[1].optimistic);
	assert_true(cfg->upstreams[1].fastopen);
	assert_int_equal(cfg->upstreams[2].warm, 4);
	/* defaults: off, 20 s, a minute */
	assert_int_equal(cfg->upstreams[3].warm, 0);
	assert_int_equal(cfg->upstreams[3].warm_max_age_ms, UPSTREAM_WARM_MAX_AGE_MS);
	assert_int_equal(cfg->upstreams[3].warm_idle_ms, UPSTREAM_WARM_IDLE_MS);
	assert_false(cfg->upstreams[3].optimistic);
	assert_false(cfg->upstreams[3].fastopen);
	config_free(cfg);
	expect_error("[upstream a]\nurl = socks5://h:1\nwarm = 0\n",
		     "t.conf:3: warm: \"0\" is not off, auto or 1..64");
	expect_error("[upstream a]\nurl = socks5://h:1\nwarm = 65\n", "t.conf:3: warm:");
	expect_error("[upstream a]\nurl = socks5://h:1\nwarm = lots\n", "t.conf:3: warm:");
	expect_error("[upstream a]\nurl = socks5://h:1\nwarm_max_age = 500ms\n",
		     "t.conf:3: warm_max_age: \"500ms\" is not a duration of 1s or more");
	expect_error("[upstream a]\nurl = socks5://h:1\nwarm_idle = x\n", "t.conf:3: warm_idle:");
	expect_error("[upstream a]\nurl = socks5://h:1\noptimistic = sure\n",
		     "t.conf:3: optimistic:");
	expect_error("[upstream a]\nurl = socks5://h:1\nfastopen = 2\n", "t.conf:3: fastopen:");
	expect_error("[upstream a]\nurl = socks5://h:1\nwarm = 2\nwarm = 3\n",
		     "t.conf:4: [upstream a] warm given twice");
	expect_error(
	    "[upstream a]\nurl = direct\nwarm = auto\n",
	    "t.conf:1: [upstream a] is direct: warm, optimistic and fastopen are for proxies");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors_with_lines),
		cmocka_unit_test(test_http_and_pac),
		cmocka_unit_test(test_warm_keys),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_socks),
		cmocka_unit_test(test_intake_rules_keys),
		cmocka_unit_test(test_tproxy_keys),
		cmocka_unit_test(test_udp_keys),
		cmocka_unit_test(test_budget_keys),
		cmocka_unit_test(test_metrics_key),
		cmocka_unit_test(test_user_key),
		cmocka_unit_test(test_ipv6_routes),
		cmocka_unit_test(test_socks_errors),
		cmocka_unit_test(test_domain_routes),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_dns_errors),
		cmocka_unit_test(test_names_resolved_at_load),
		cmocka_unit_test(test_unresolvable_name_warns),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_group_errors),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_route_rules),
		cmocka_unit_test(test_resolve_bounds),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
