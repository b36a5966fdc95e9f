/* [route] rules with selectors, and the decisions every route comes from:
 * config_route_flow for a flow, and the lookups by name and by destination
 * it is made of.
 *
 *   from 192.168.1.50 = corp            a device by address
 *   from aa:bb:cc:dd:ee:ff = corp       ... or by MAC (a directly attached LAN)
 *   from @/etc/sockgate/tv.list = corp  addresses and MACs, one a line
 *   port 22 = direct                    the destination port (or P-Q)
 *   from 192.168.7.0/24 port 443 to 10.0.0.0/8 = direct
 *   from 192.168.9.0/24 to video.example = direct   a name, and those under it
 *
 * Rules are tried first, in the order of the file, and the first whose
 * selectors all match decides; then the name's route, the destination's
 * longest prefix, and the default. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/prefix_table.h"
#include "config_parse.h"

static int mac_order(const void *a, const void *b)
{
	return memcmp(a, b, 6);
}

/* One source of "from": a CIDR or a MAC address. 0 or -1 (reported). */
static int rule_source(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct route_rule *rule = ctx->rule;
	static const char held[] = "held";
	uint8_t mac[6];
	struct cidr c;
	int kind = config_source(ctx, key, s, &c, mac);

	if (kind < 0)
		return -1;
	if (kind == 1 && !config_append_mac(&rule->macs, &rule->n_macs, mac)) {
		ctx->cfg->rules_need_mac = 1;
		return 0;
	}
	if (kind == 0 && (rule->src || (rule->src = prefix_table_new())) &&
	    prefix_table_add(rule->src, &c, held) == 0)
		return 0;
	config_report(ctx, ctx->line, "out of memory");
	return -1;
}

/* One destination of "to": a CIDR, or a domain (the name a flow has, and
 * the names under it). */
static int rule_destination(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct route_rule *rule = ctx->rule;
	static const char held[] = "held";
	struct cidr c;
	int rc;

	if (!cidr_parse(s, &c)) {
		ctx->cfg->rules_by_dst = 1;
		rc = (rule->dst || (rule->dst = prefix_table_new())) &&
			     prefix_table_add(rule->dst, &c, held) == 0
			 ? 0
			 : -2;
	} else {
		rc = rule->dst_names || (rule->dst_names = domain_table_new())
			 ? domain_table_add(rule->dst_names, s, 0, held)
			 : -2;
	}
	if (rc == 0 || rc == 1) /* a name given twice: harmless */
		return 0;
	if (rc == -2)
		config_report(ctx, ctx->line, "out of memory");
	else
		config_report(ctx, ctx->line, "%s: \"%s\" is not an address, CIDR or domain name",
			      key, s);
	return -1;
}

/* The selectors of key ("from X", "port P", "to Y", in any order, each at
 * most once) into rule; 0 or -1 (reported). */
static int rule_selectors(struct parse_ctx *ctx, const char *key, struct route_rule *rule)
{
	char buf[INI_MAX_LINE], *rest = buf, *word;
	unsigned seen = 0;

	snprintf(buf, sizeof(buf), "%s", key);
	ctx->rule = rule;
	while ((word = strsep(&rest, " \t"))) {
		char *arg;
		unsigned bit = !strcmp(word, "from")   ? 1
			       : !strcmp(word, "port") ? 2
			       : !strcmp(word, "to")   ? 4
						       : 0;
		if (!*word)
			continue;
		while (rest && (*rest == ' ' || *rest == '\t'))
			rest++;
		arg = strsep(&rest, " \t");
		if (!bit || !arg || !*arg || (seen & bit)) {
			config_report(
			    ctx, ctx->line,
			    "route \"%s\": selectors are \"from SRC\", \"port P[-Q]\" and "
			    "\"to DST\", each at most once",
			    key);
			return -1;
		}
		seen |= bit;
		rule->by_src |= bit == 1;
		rule->by_dst |= bit == 4;
		if (bit == 2 && config_parse_port_range(arg, &rule->port_lo, &rule->port_hi) < 0) {
			config_report(ctx, ctx->line, "route \"%s\": port \"%s\" is not P or P-Q",
				      key, arg);
			return -1;
		}
		if (bit == 1 && (arg[0] == '@' ? config_list_file(ctx, "from", arg + 1, rule_source)
					       : rule_source(ctx, "from", arg)) < 0)
			return -1;
		if (bit == 4 &&
		    (arg[0] == '@' ? config_list_file(ctx, "to", arg + 1, rule_destination)
				   : rule_destination(ctx, "to", arg)) < 0)
			return -1;
	}
	return 0;
}

int config_route_rule(struct parse_ctx *ctx, const char *key, const struct upstream *up)
{
	struct config *cfg = ctx->cfg;
	struct route_rule rule = { .upstream = up, .line = ctx->line };
	void *grown;

	if (strncmp(key, "from", 4) && strncmp(key, "port", 4) && strncmp(key, "to", 2))
		return 0;
	if (!isspace((unsigned char)key[strncmp(key, "to", 2) ? 4 : 2]))
		return 0; /* a domain such as "fromage.example" */
	if (rule_selectors(ctx, key, &rule) < 0) {
		config_rule_free(&rule);
		return -1;
	}
	if ((rule.src && prefix_table_build(rule.src) < 0) ||
	    (rule.dst && prefix_table_build(rule.dst) < 0) || !(rule.text = strdup(key)) ||
	    !(grown = config_grow(cfg->rules, cfg->n_rules, sizeof(*cfg->rules)))) {
		config_report(ctx, ctx->line, "out of memory");
		config_rule_free(&rule);
		return -1;
	}
	if (rule.macs)
		qsort(rule.macs, rule.n_macs, sizeof(*rule.macs), mac_order);
	cfg->rules = grown;
	cfg->rules[cfg->n_rules++] = rule;
	return 1;
}

static int rule_matches(const struct route_rule *rule, const struct route_query *q)
{
	uint16_t port = addr_port(q->dst);

	if (rule->port_lo && (port < rule->port_lo || port > rule->port_hi))
		return 0;
	if (rule->by_dst && !prefix_table_lookup(rule->dst, q->dst) &&
	    !(q->name && domain_table_match(rule->dst_names, q->name)))
		return 0;
	if (!rule->by_src)
		return 1;
	if (rule->src && q->src && prefix_table_lookup(rule->src, q->src))
		return 1;
	return rule->n_macs && q->mac &&
	       bsearch(q->mac, rule->macs, rule->n_macs, sizeof(*rule->macs), mac_order);
}

const struct upstream *config_route_flow(const struct config *cfg, const struct route_query *q,
					 struct route_why *why)
{
	struct route_why none;
	const struct upstream *up;

	if (!why)
		why = &none;
	why->rule = NULL;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		if (rule_matches(&cfg->rules[i], q)) {
			why->by = ROUTE_BY_RULE;
			why->rule = &cfg->rules[i];
			return cfg->rules[i].upstream;
		}
	}
	if (q->name && (up = config_route_name(cfg, q->name))) {
		why->by = ROUTE_BY_NAME;
		return up;
	}
	if ((up = prefix_table_lookup(cfg->dst_routes, q->dst))) {
		why->by = ROUTE_BY_DST;
		return up;
	}
	why->by = ROUTE_BY_DEFAULT;
	return cfg->default_upstream;
}

const struct upstream *config_route_name(const struct config *cfg, const char *name)
{
	const struct upstream *up = domain_table_match(cfg->domain_routes, name);
	char norm[DOMAIN_NAME_MAX + 1];

	if (up || !cfg->n_keywords || domain_normalize(name, norm) < 0)
		return up;
	for (size_t i = 0; i < cfg->n_keywords; i++)
		if (strstr(norm, cfg->keywords[i].word))
			return cfg->keywords[i].upstream;
	return NULL;
}

const struct upstream *config_route_by_name(const struct config *cfg, const char *name)
{
	const struct upstream *up = config_route_name(cfg, name);

	return up ? up : cfg->default_upstream;
}

const struct upstream *config_dns_upstream(const struct config *cfg, size_t i)
{
	const struct dns_server *srv = &cfg->dns.server[i];

	return srv->via ? srv->via : config_route(cfg, &srv->addr);
}

const struct upstream *config_route(const struct config *cfg, const struct sockaddr_storage *dst)
{
	const struct upstream *up = prefix_table_lookup(cfg->dst_routes, dst);

	return up ? up : cfg->default_upstream;
}
