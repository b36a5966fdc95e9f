/* The upstreams and groups as the control socket shows them (status, text
 * and JSON), and `upstream-use GROUP MEMBER|auto`, which pins a group's
 * member live. */
#include <stdio.h>
#include <string.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/json_out.h"
#include "control_upstreams.h"
#include "generation.h"
#include "loop.h"
#include "upstream_live.h"

#define relaxed memory_order_relaxed

/* The member new flows (from no client in particular) take now. */
static const struct upstream *group_active(const struct generation *g, const struct upstream *grp)
{
	int pos;

	return upstream_live_pick(&g->live, grp, NULL, 0, PICK_STABLE, &pos);
}

/* "10.0.0.5:1080, 10.0.0.6:1080" or "no address". */
static void format_addrs(const struct generation *g, const struct upstream *up, char *buf,
			 size_t len)
{
	struct sockaddr_storage a;
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; upstream_live_addr(&g->live, up, i, &a) == 0 && used < len; i++) {
		char one[ADDR_STRLEN];
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 addr_format(&a, one, sizeof(one)));
		used += n > 0 ? (size_t)n : 0;
	}
	if (!buf[0])
		snprintf(buf, len, "no address");
}

static void upstream_text(struct generation *g, const struct upstream *up, uint64_t now, FILE *out)
{
	struct upstream_live *l = upstream_live_of(&g->live, up);
	struct upstream_totals t;
	char addrs[8 * ADDR_STRLEN], err[UPSTREAM_ERROR_MAX];
	int down = atomic_load_explicit(&l->down, relaxed);
	uint64_t changed = atomic_load_explicit(&l->changed_ms, relaxed);
	uint64_t checked = atomic_load_explicit(&l->check_ms, relaxed);

	generation_upstream_totals(g, up, &t);
	format_addrs(g, up, addrs, sizeof(addrs));
	upstream_live_error(&g->live, up, err, sizeof(err));
	fprintf(out, "  %s (%s %s:%u): %s", up->name, upstream_kind_name(up->url.kind),
		up->url.host, up->url.port, down ? "DOWN" : "up");
	if (changed)
		fprintf(out, " for %llu s", (unsigned long long)(now - changed) / 1000);
	if (down && err[0])
		fprintf(out, " (%s)", err);
	if (up->udp == UPSTREAM_UDP_ASSOCIATE && atomic_load_explicit(&l->udp_down, relaxed))
		fprintf(out, ", UDP down");
	fprintf(out, "; %s", addrs);
	if (checked)
		fprintf(out, "; checked %llu s ago, last good in %llu ms",
			(unsigned long long)(now - checked) / 1000,
			(unsigned long long)atomic_load_explicit(&l->check_latency_ms, relaxed));
	if (!down && err[0])
		fprintf(out, "; last error: %s", err);
	fprintf(out, "; flows %llu live, %llu ended, %llu failed; bytes up %llu, down %llu\n",
		t.live, t.flows, t.failures, t.bytes_up, t.bytes_down);
}

static void group_text(struct generation *g, const struct upstream *grp, FILE *out)
{
	const struct upstream_group *gr = grp->group;
	const struct upstream *active = group_active(g, grp);
	int pinned = atomic_load_explicit(&upstream_live_of(&g->live, grp)->pinned, relaxed);

	fprintf(out, "  %s (%s, on_all_down %s): members", grp->name,
		config_group_policy_name(gr->policy), gr->all_down_direct ? "direct" : "reset");
	for (size_t m = 0; m < gr->n_members; m++)
		fprintf(out, "%s%s", m ? ", " : " ", gr->members[m]->name);
	if (pinned >= 0)
		fprintf(out, "; pinned to %s", gr->members[pinned]->name);
	fprintf(out, "; new flows take %s\n",
		active ? active->name : "none (every member is down: reset)");
}

void control_upstreams_text(struct generation *g, FILE *out)
{
	const struct config *cfg = g->cfg;
	uint64_t now = loop_clock_ms();
	int groups = 0;

	fprintf(out, "upstreams:\n");
	for (size_t u = 1; u < cfg->n_upstreams; u++) {
		if (cfg->upstreams[u].group)
			groups = 1;
		else
			upstream_text(g, &cfg->upstreams[u], now, out);
	}
	if (!groups)
		return;
	fprintf(out, "groups:\n");
	for (size_t u = 1; u < cfg->n_upstreams; u++)
		if (cfg->upstreams[u].group)
			group_text(g, &cfg->upstreams[u], out);
}

static json_t *addrs_json(const struct generation *g, const struct upstream *up)
{
	json_t *list = json_array();
	struct sockaddr_storage a;
	char one[ADDR_STRLEN];

	for (size_t i = 0; list && upstream_live_addr(&g->live, up, i, &a) == 0; i++)
		json_array_append_new(list, json_string(addr_format(&a, one, sizeof(one))));
	return list;
}

static json_t *upstream_json(struct generation *g, const struct upstream *up, uint64_t now)
{
	struct upstream_live *l = upstream_live_of(&g->live, up);
	struct upstream_totals t;
	char err[UPSTREAM_ERROR_MAX];
	uint64_t checked = atomic_load_explicit(&l->check_ms, relaxed);
	uint64_t changed = atomic_load_explicit(&l->changed_ms, relaxed);

	generation_upstream_totals(g, up, &t);
	upstream_live_error(&g->live, up, err, sizeof(err));
	return json_pack(
	    "{s:s, s:s, s:I, s:s, s:b, s:o*, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o}",
	    "kind", upstream_kind_name(up->url.kind), "host", up->url.host, "port",
	    (json_int_t)up->url.port, "state",
	    atomic_load_explicit(&l->down, relaxed) ? "down" : "up", "udp_up",
	    up->udp == UPSTREAM_UDP_ASSOCIATE && !atomic_load_explicit(&l->udp_down, relaxed),
	    "addresses", addrs_json(g, up), "last_error", json_text(err), "state_for_ms",
	    changed ? json_count(now - changed) : json_null(), "checked_ms_ago",
	    checked ? json_count(now - checked) : json_null(), "check_latency_ms",
	    json_count(atomic_load_explicit(&l->check_latency_ms, relaxed)), "checks",
	    json_count(atomic_load_explicit(&l->checks, relaxed)), "checks_failed",
	    json_count(atomic_load_explicit(&l->checks_failed, relaxed)), "flows_live",
	    json_count(t.live), "flows", json_count(t.flows), "failures", json_count(t.failures),
	    "bytes_up", json_count(t.bytes_up), "bytes_down", json_count(t.bytes_down));
}

static json_t *group_json(struct generation *g, const struct upstream *grp)
{
	const struct upstream_group *gr = grp->group;
	const struct upstream *active = group_active(g, grp);
	int pinned = atomic_load_explicit(&upstream_live_of(&g->live, grp)->pinned, relaxed);
	json_t *members = json_array();

	for (size_t m = 0; members && m < gr->n_members; m++)
		json_array_append_new(members, json_string(gr->members[m]->name));
	return json_pack("{s:s, s:s, s:o*, s:o, s:o}", "policy",
			 config_group_policy_name(gr->policy), "on_all_down",
			 gr->all_down_direct ? "direct" : "reset", "members", members, "pinned",
			 pinned >= 0 ? json_string(gr->members[pinned]->name) : json_null(),
			 "active", active ? json_string(active->name) : json_null());
}

json_t *control_upstreams_json(struct generation *g)
{
	const struct config *cfg = g->cfg;
	json_t *ups = json_object(), *groups = json_object();
	uint64_t now = loop_clock_ms();

	for (size_t u = 1; ups && groups && u < cfg->n_upstreams; u++) {
		const struct upstream *up = &cfg->upstreams[u];
		json_object_set_new(up->group ? groups : ups, up->name,
				    up->group ? group_json(g, up) : upstream_json(g, up, now));
	}
	return json_pack("{s:o*, s:o*}", "upstreams", ups, "groups", groups);
}

int control_upstream_use(struct generation *g, const char *group, const char *member, char *msg,
			 size_t len)
{
	if (upstream_live_pin(&g->live, group, member, msg, len) < 0)
		return -1;
	if (!strcmp(member, "auto"))
		snprintf(msg, len, "group %s: new flows follow its policy again", group);
	else
		snprintf(msg, len,
			 "group %s: new flows take %s until `upstream use %s auto` (or a "
			 "restart)",
			 group, member, group);
	return 0;
}
