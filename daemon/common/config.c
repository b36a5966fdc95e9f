/* A loaded configuration: what is asked of it besides the routes
 * (route_rules.c), and its release. The loader is config_load.c. */
#include <stdlib.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/domains.h"
#include "sockgate/prefix_table.h"
#include "config_parse.h"

void config_rule_free(struct route_rule *rule)
{
	prefix_table_free(rule->src);
	prefix_table_free(rule->dst);
	domain_table_free(rule->dst_names);
	free(rule->macs);
	free(rule->text);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_upstreams; i++)
		free(cfg->upstreams[i].group);
	free(cfg->upstreams);
	prefix_table_free(cfg->dst_routes);
	for (size_t i = 0; i < cfg->n_rules; i++)
		config_rule_free(&cfg->rules[i]);
	free(cfg->rules);
	prefix_table_free(cfg->intake_deny_table);
	prefix_table_free(cfg->socks.allow_table);
	prefix_table_free(cfg->socks.deny_dst_table);
	prefix_table_free(cfg->socks.allow_dst_table);
	prefix_table_free(cfg->dns.allow_table);
	free(cfg->control_path);
	free(cfg->intercept_ifaces);
	for (size_t i = 0; i < cfg->n_cgroups; i++)
		free(cfg->cgroups[i]);
	free(cfg->cgroups);
	free(cfg->intercept_src);
	free(cfg->bypass);
	free(cfg->exclude_src);
	free(cfg->exclude_macs);
	free(cfg->ports);
	free(cfg->exclude_ports);
	free(cfg->intake_deny_dst);
	free(cfg->socks.listen);
	free(cfg->socks.users_path);
	free(cfg->socks.allow);
	free(cfg->socks.deny_dst);
	free(cfg->socks.allow_dst);
	free(cfg->dns.allow);
	domain_table_free(cfg->domain_routes);
	free(cfg->dns.fakeip_file);
	for (size_t i = 0; i < cfg->n_keywords; i++)
		free(cfg->keywords[i].word);
	free(cfg->keywords);
	free(cfg);
}

int config_cidrs_hold(const struct prefix_table *t, const struct sockaddr_storage *a)
{
	return prefix_table_lookup(t, a) != NULL;
}

const struct sockaddr_storage *config_dns_hijack_target(const struct dns_config *dc, int family)
{
	for (size_t i = 0; i < dc->n_listen; i++)
		if (dc->listen[i].ss_family == family && !addr_is_loopback(&dc->listen[i]))
			return &dc->listen[i];
	return NULL;
}

/* Never intercepted, whatever the config says. */
const char *const config_always_bypass[] = {
	"0.0.0.0/8",
	"127.0.0.0/8",
	"169.254.0.0/16",
	"224.0.0.0/4",
	"255.255.255.255",
	/* ::, ::1 and IPv4-compatible; IPv4-mapped, which an IPv6 socket
	 * would turn into IPv4 (the router's own 127.0.0.1 among them) */
	"::/96",
	"::ffff:0:0/96",
	"fe80::/10",
	"ff00::/8",
};
/* Private and reserved ranges: bypassed unless bypass_private = no. */
const char *const config_private_bypass[] = {
	"10.0.0.0/8",	  "100.64.0.0/10", "172.16.0.0/12",   "192.0.0.0/24",	"192.0.2.0/24",
	"192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
	"100::/64",	  "2001:db8::/32", "fc00::/7",
};

const size_t config_n_always_bypass =
    sizeof(config_always_bypass) / sizeof(config_always_bypass[0]);
const size_t config_n_private_bypass =
    sizeof(config_private_bypass) / sizeof(config_private_bypass[0]);
