/* [group NAME] sections of sockgate.conf: several upstreams a route names
 * as one, with the policy that picks a member and how members are checked.
 * A group is an entry of cfg->upstreams (kind UPSTREAM_GROUP), so routes,
 * the default, [dns] server via and the SOCKS server name it like any
 * upstream; its members are looked up once the whole file is read. */
#include <stdlib.h>
#include <string.h>

#include "sockgate/addr.h"
#include "config_parse.h"

#define DEFAULT_CHECK_INTERVAL_MS 10000
#define DEFAULT_CHECK_TIMEOUT_MS  3000
#define DEFAULT_UP_AFTER	  2
#define DEFAULT_DOWN_AFTER	  2

static const char *const policy_names[] = {
	[GROUP_FAILOVER] = "failover",
	[GROUP_ROUND_ROBIN] = "round-robin",
	[GROUP_LEAST_LATENCY] = "least-latency",
	[GROUP_HASH] = "hash",
};

enum group_key_bit {
	KEY_MEMBERS = 1u << 0,
	KEY_POLICY = 1u << 1,
	KEY_ALL_DOWN = 1u << 2,
	KEY_INTERVAL = 1u << 3,
	KEY_TIMEOUT = 1u << 4,
	KEY_TARGET = 1u << 5,
	KEY_UDP = 1u << 6,
	KEY_UP_AFTER = 1u << 7,
	KEY_DOWN_AFTER = 1u << 8,
};

const char *config_group_policy_name(enum group_policy p)
{
	return (unsigned)p < sizeof(policy_names) / sizeof(policy_names[0]) ? policy_names[p] : "?";
}

/* The group called name, made on its first key; NULL after saying why. */
static struct upstream *group_section(struct parse_ctx *ctx, const char *name)
{
	struct upstream *up = config_find_upstream(ctx->cfg, name);

	if (!strcmp(name, "direct")) {
		config_report(ctx, ctx->line, "\"direct\" is built in and cannot be a group");
		return NULL;
	}
	if (up && !up->group) {
		config_report(ctx, ctx->line, "\"%s\" is an [upstream] already", name);
		return NULL;
	}
	if (up)
		return up;
	up = config_new_upstream(ctx, name);
	if (!up)
		return NULL;
	up->group = calloc(1, sizeof(*up->group));
	if (!up->group) {
		ctx->cfg->n_upstreams--;
		config_report(ctx, ctx->line, "out of memory");
		return NULL;
	}
	up->url.kind = UPSTREAM_GROUP;
	up->udp = UPSTREAM_UDP_ASSOCIATE; /* what a member says, once picked */
	up->group->check_interval_ms = DEFAULT_CHECK_INTERVAL_MS;
	up->group->check_timeout_ms = DEFAULT_CHECK_TIMEOUT_MS;
	up->group->up_after = DEFAULT_UP_AFTER;
	up->group->down_after = DEFAULT_DOWN_AFTER;
	up->group->check_udp = 1;
	return up;
}

static void group_policy(struct parse_ctx *ctx, struct upstream_group *g, const char *value)
{
	for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++) {
		if (!strcmp(value, policy_names[i])) {
			g->policy = (enum group_policy)i;
			return;
		}
	}
	config_report(ctx, ctx->line,
		      "policy: \"%s\" is not failover, round-robin, least-latency or hash", value);
}

static void group_duration(struct parse_ctx *ctx, const char *key, const char *value, unsigned *ms,
			   unsigned min, unsigned max)
{
	if (config_parse_duration(value, ms) || *ms < min || *ms > max)
		config_report(ctx, ctx->line, "%s: \"%s\" is not a duration of %ums .. %us", key,
			      value, min, max / 1000);
}

static void group_count(struct parse_ctx *ctx, const char *key, const char *value, unsigned *out)
{
	unsigned long v;

	if (config_parse_uint(value, 100, &v) || v == 0)
		config_report(ctx, ctx->line, "%s: \"%s\" is not 1..100", key, value);
	else
		*out = (unsigned)v;
}

static void group_target(struct parse_ctx *ctx, struct upstream_group *g, const char *value)
{
	int bracketed;

	if (config_split_host_port(value, g->check_host, sizeof(g->check_host), &g->check_port,
				   &bracketed) ||
	    !g->check_port) {
		g->check_host[0] = '\0';
		config_report(ctx, ctx->line,
			      "check_target: \"%s\" is not HOST:PORT (example.com:443, "
			      "192.0.2.1:80, [2001:db8::1]:443)",
			      value);
	}
}

static unsigned key_bit(const char *key)
{
	static const struct {
		const char *key;
		unsigned bit;
	} keys[] = {
		{ "members", KEY_MEMBERS },	  { "policy", KEY_POLICY },
		{ "on_all_down", KEY_ALL_DOWN },  { "check_interval", KEY_INTERVAL },
		{ "check_timeout", KEY_TIMEOUT }, { "check_target", KEY_TARGET },
		{ "check_udp", KEY_UDP },	  { "up_after", KEY_UP_AFTER },
		{ "down_after", KEY_DOWN_AFTER },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i].key))
			return keys[i].bit;
	return 0;
}

void config_group_key(struct parse_ctx *ctx, const char *name, const char *key, const char *value)
{
	struct upstream *up = group_section(ctx, name);
	struct upstream_lines *lines;
	struct upstream_group *g;
	unsigned bit = key_bit(key);

	if (!up)
		return;
	g = up->group;
	lines = &ctx->up_lines[up - ctx->cfg->upstreams];
	if (!bit) {
		config_report(ctx, ctx->line, "unknown key \"%s\" in [group %s]", key, name);
		return;
	}
	if (lines->group_seen & bit) {
		config_report(ctx, ctx->line, "[group %s] %s given twice", name, key);
		return;
	}
	lines->group_seen |= bit;
	switch (bit) {
	case KEY_MEMBERS:
		lines->members_line = ctx->line;
		if (!(lines->members = strdup(value)))
			config_report(ctx, ctx->line, "out of memory");
		break;
	case KEY_POLICY:
		group_policy(ctx, g, value);
		break;
	case KEY_ALL_DOWN:
		if (!strcmp(value, "reset") || !strcmp(value, "direct"))
			g->all_down_direct = value[0] == 'd';
		else
			config_report(ctx, ctx->line, "on_all_down: \"%s\" is not reset or direct",
				      value);
		break;
	case KEY_INTERVAL:
		group_duration(ctx, key, value, &g->check_interval_ms, 100, 3600000);
		break;
	case KEY_TIMEOUT:
		group_duration(ctx, key, value, &g->check_timeout_ms, 100, 60000);
		break;
	case KEY_TARGET:
		group_target(ctx, g, value);
		break;
	case KEY_UDP:
		if (config_parse_bool(value, &g->check_udp))
			config_report(ctx, ctx->line, "check_udp: \"%s\" is not yes or no", value);
		break;
	case KEY_UP_AFTER:
		group_count(ctx, key, value, &g->up_after);
		break;
	case KEY_DOWN_AFTER:
		group_count(ctx, key, value, &g->down_after);
		break;
	}
}

/* One name of a members list: an upstream of this file, once. */
static void group_member(struct parse_ctx *ctx, struct upstream *up, const char *name,
			 unsigned line)
{
	struct upstream_group *g = up->group;
	const struct upstream *m = config_find_upstream(ctx->cfg, name);

	if (!m) {
		config_report(ctx, line, "[group %s] members: no upstream named \"%s\"", up->name,
			      name);
	} else if (m->group) {
		config_report(ctx, line,
			      "[group %s] members: \"%s\" is a group (groups do not nest)",
			      up->name, name);
	} else if (m->url.kind == UPSTREAM_DIRECT) {
		config_report(ctx, line,
			      "[group %s] members: direct is not a member (use on_all_down = "
			      "direct)",
			      up->name);
	} else if (g->n_members == GROUP_MEMBERS_MAX) {
		config_report(ctx, line, "[group %s] members: more than %d", up->name,
			      GROUP_MEMBERS_MAX);
	} else {
		for (size_t i = 0; i < g->n_members; i++) {
			if (g->members[i] == m) {
				config_report(ctx, line, "[group %s] members: \"%s\" given twice",
					      up->name, name);
				return;
			}
		}
		g->members[g->n_members++] = m;
	}
}

void config_finish_groups(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;

	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		struct upstream *up = &cfg->upstreams[i];
		struct upstream_lines *lines = &ctx->up_lines[i];
		char *rest;

		if (!up->group)
			continue;
		if (!lines->members) {
			config_report(ctx, lines->section_line, "[group %s] has no members",
				      up->name);
			continue;
		}
		rest = lines->members;
		for (char *tok = strsep(&rest, ","); tok; tok = strsep(&rest, ",")) {
			tok += strspn(tok, " \t");
			size_t n = strlen(tok);
			while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
				tok[--n] = '\0';
			if (!n)
				config_report(ctx, lines->members_line,
					      "[group %s] members: an empty name", up->name);
			else
				group_member(ctx, up, tok, lines->members_line);
		}
		/* the default timeout fits a short interval by itself */
		if (!(lines->group_seen & KEY_TIMEOUT) &&
		    up->group->check_timeout_ms > up->group->check_interval_ms)
			up->group->check_timeout_ms = up->group->check_interval_ms;
		if (up->group->check_timeout_ms > up->group->check_interval_ms)
			config_report(ctx, lines->section_line,
				      "[group %s] check_timeout (%u ms) is longer than "
				      "check_interval (%u ms)",
				      up->name, up->group->check_timeout_ms,
				      up->group->check_interval_ms);
	}
}
