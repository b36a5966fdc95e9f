/* sockgate route test SRC DST:PORT [NAME]: which [route] entry and which
 * upstream a flow would take, and why, decided by the same code as the
 * daemon's (config_route_flow). The source's MAC address is the one the
 * router's neighbour table has now, unless --mac gives one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/json_out.h"
#include "sockgate/neigh.h"
#include "subcommands.h"

void route_usage(FILE *out)
{
	fprintf(out,
		"Usage: sockgate [-c FILE] [--json] route test SRC DST:PORT [NAME] [--mac MAC]\n"
		"\n"
		"Says which upstream a flow from SRC to DST:PORT (with the name NAME, when\n"
		"sniffing or fake-IP or a SOCKS client gives one) would take, and which part\n"
		"of [route] decides: a rule (the first that matches, in the order of the\n"
		"file), the name's route, the destination's longest prefix, or the default.\n"
		"DST is 10.0.0.1:443 or [2001:db8::1]:443. SRC's MAC is looked up in the\n"
		"neighbour table unless --mac gives it.\n");
}

/* "ADDR:PORT" or "[V6]:PORT". */
static int parse_dst(const char *s, struct sockaddr_storage *out)
{
	char host[64];
	const char *colon;
	uint16_t port;
	size_t n;

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		n = (size_t)(close - s - 1);
		s++;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		n = (size_t)(colon - s);
	}
	if (!n || n >= sizeof(host) || addr_parse_port(colon + 1, &port))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	return addr_from_ip(host, port, out);
}

static const char *by_text(const struct route_why *why, char *buf, size_t len)
{
	switch (why->by) {
	case ROUTE_BY_RULE:
		snprintf(buf, len, "[route] line %u: %s = %s", why->rule->line, why->rule->text,
			 why->rule->upstream->name);
		break;
	case ROUTE_BY_NAME:
		snprintf(buf, len, "the name's route ([route] domain, exact or keyword entry)");
		break;
	case ROUTE_BY_DST:
		snprintf(buf, len, "the destination's longest matching [route] prefix");
		break;
	case ROUTE_BY_DEFAULT:
		snprintf(buf, len, "[route] default");
		break;
	}
	return buf;
}

static int route_test(const struct cli_opts *opts, const char *src_s, const char *dst_s,
		      const char *name, const char *mac_s)
{
	struct sockaddr_storage src, dst;
	struct config *cfg = NULL;
	struct route_why why;
	struct route_query q = { .src = &src, .dst = &dst, .name = name };
	const struct upstream *up;
	uint8_t mac[6];
	char macs[18] = "", by[320], a[ADDR_STRLEN];
	int ret = CLI_FAILED;

	if (addr_from_ip(src_s, 0, &src) || parse_dst(dst_s, &dst) ||
	    (mac_s && config_parse_mac(mac_s, mac))) {
		route_usage(stderr);
		return CLI_USAGE;
	}
	if (config_load(opts->config_path, 0, &cfg, stderr))
		return CLI_FAILED;
	if (mac_s) {
		q.mac = mac;
	} else if (cfg->rules_need_mac) {
		struct neigh *n = neigh_new();
		if (n && neigh_mac(n, &src, 1, mac) == 0)
			q.mac = mac;
		neigh_free(n);
	}
	if (q.mac)
		snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
			 mac[2], mac[3], mac[4], mac[5]);
	up = config_route_flow(cfg, &q, &why);
	by_text(&why, by, sizeof(by));
	addr_format(&dst, a, sizeof(a));
	if (opts->json) {
		json_print(stdout, json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:s, s:s}", "source",
					     src_s, "mac", q.mac ? macs : NULL, "destination", a,
					     "name", name, "upstream", up->name, "kind",
					     upstream_kind_name(up->url.kind), "by", by));
	} else {
		printf("%s%s%s%s -> %s%s%s: %s %s\n  by %s\n", src_s, q.mac ? " (" : "",
		       q.mac ? macs : "", q.mac ? ")" : "", a, name ? " " : "", name ? name : "",
		       up->group ? "group" : "upstream", up->name, by);
		if (cfg->rules_need_mac && !q.mac)
			printf("  (no MAC known for %s: rules by MAC did not match; --mac gives "
			       "one)\n",
			       src_s);
	}
	ret = CLI_OK;
	config_free(cfg);
	return ret;
}

int route_main(int argc, char *argv[], const struct cli_opts *opts)
{
	const char *mac = NULL;

	if (argc >= 3 && !strcmp(argv[argc - 2], "--mac")) {
		mac = argv[argc - 1];
		argc -= 2;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "test"))
		return route_test(opts, argv[2], argv[3], argc == 5 ? argv[4] : NULL, mac);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		route_usage(stdout);
		return CLI_OK;
	}
	route_usage(stderr);
	return CLI_USAGE;
}
