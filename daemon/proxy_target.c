/* Proxy clients' destinations (see proxy_target.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "dst_guard.h"
#include "flow_core.h"
#include "generation.h"
#include "proxy_target.h"

/* No pivoting into the router: loopback, the unspecified address, link-
 * local addresses and this host's own (as its routing table says: local
 * routes and anycast too) are refused unless allow_dst names them. */
int proxy_dst_allowed(struct flow *f, const struct sockaddr_storage *dst)
{
	const struct socks_config *sc = &f->r->cfg->socks;

	if (config_cidrs_hold(sc->allow_dst_table, dst))
		return 1;
	if (config_cidrs_hold(sc->deny_dst_table, dst))
		return 0;
	/* link-local: the router's own neighbours, metadata services */
	if (dst_link_local(dst))
		return 0;
	return !flow_is_local_address(f, dst); /* special ones included */
}

/* The upstream a name goes to unresolved, or NULL when something here
 * needs its address: the upstream [route] picks for it (a rule by client
 * or port, the name's route, or, when there are no destination routes,
 * the default) must take names. That keeps the lookup (and what it
 * reveals) on the proxy's side. */
static const struct upstream *name_upstream(struct flow *f)
{
	const struct config *cfg = f->r->cfg;
	struct sockaddr_storage port_only = { .ss_family = AF_INET };
	const struct upstream_group *g;
	struct route_why why;
	const struct upstream *up;
	size_t n;

	/* deny_dst, and rules by destination, can only judge addresses */
	if (cfg->socks.n_deny_dst || cfg->rules_by_dst)
		return NULL;
	addr_set_port(&port_only, f->target.port);
	up = relay_route(f->r, f->r->gen, &f->client, &port_only, f->target.hostname, &why);
	if (why.by == ROUTE_BY_DST || (why.by == ROUTE_BY_DEFAULT && cfg->n_routes))
		return NULL; /* a destination route may hold its address */
	g = up->group;
	n = g ? g->n_members : 1;
	/* every member must take names (a group's all-down direct would
	 * need the address), and none may be a proxy on this router, which
	 * would resolve a name to this router's own addresses */
	if (g && g->all_down_direct)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct upstream *m = g ? g->members[i] : up;
		enum upstream_kind k = m->url.kind;
		if (!(k == UPSTREAM_SOCKS5H || k == UPSTREAM_SOCKS4A || k == UPSTREAM_HTTP) ||
		    dst_guard_is_local(f->r->dst_guard, &m->addr, f->r->loop.now_ms))
			return NULL;
	}
	return up;
}

/* A name that is an address literal ("127.0.0.1", "::1") becomes that
 * address, so the destination policy sees it. */
static void literal_name(struct flow *f)
{
	struct sockaddr_storage ss;

	if (addr_from_ip(f->target.hostname, f->target.port, &ss) == 0) {
		f->target.hostname = NULL;
		f->target.addr = ss;
	}
}

/* RFC 6761: "localhost" and names under it mean this host. */
static int name_is_localhost(const char *name)
{
	size_t n = strlen(name);

	if (n && name[n - 1] == '.')
		n--;
	return (n == 9 && !strncasecmp(name, "localhost", 9)) ||
	       (n > 10 && !strncasecmp(name + n - 10, ".localhost", 10));
}

/* Tries the request's addresses in order until one gets a connection under
 * way. The flow may be gone when it returns. */
static void connect_next(struct proxy_target *s)
{
	struct flow *f = s->flow;
	uint8_t rep = REP_NOT_ALLOWED;
	char reason[UPSTREAM_ERROR_MAX] = "destination not allowed (loopback or this router; "
					  "see allow_dst/deny_dst)";

	while (s->next_addr < s->n_addrs) {
		struct sockaddr_storage dst = s->addrs[s->next_addr++];
		const struct upstream *up;
		char a[ADDR_STRLEN];

		addr_unmap_v4(&dst);
		f->target.addr = dst;
		if (!proxy_dst_allowed(f, &dst)) {
			rep = REP_NOT_ALLOWED;
			snprintf(reason, sizeof(reason),
				 "destination not allowed (loopback or this router; see "
				 "allow_dst/deny_dst)");
			if (s->n_addrs > 1)
				log_debug("flow %u.%llu: %s not allowed, next address", f->r->index,
					  (unsigned long long)f->id,
					  addr_format(&dst, a, sizeof(a)));
			continue;
		}
		/* [route] by name holds for every address the name has */
		up = relay_route(f->r, f->r->gen, &f->client, &dst, f->target.hostname, NULL);
		if (flow_take_route(f, up, reason, sizeof(reason)) < 0) {
			rep = REP_NETWORK_UNREACHABLE;
			continue;
		}
		if (s->open)
			s->open(f);
		else
			flow_connect(f); /* a failure tries the next address (retry) */
		return;
	}
	flow_fail_rep(f, rep, "%s", reason);
}

int proxy_target_retry(struct proxy_target *s, const char *desc, const char *reason)
{
	struct flow *f = s->flow;

	if (s->next_addr >= s->n_addrs)
		return 0;
	log_debug("flow %u.%llu %s: %s; trying the next address", f->r->index,
		  (unsigned long long)f->id, desc, reason);
	loop_close(&f->r->loop, &f->upstream_fd, CLOSE_FIN);
	free(f->hs);
	f->hs = NULL;
	f->upstream_readable = 0;
	connect_next(s);
	return 1;
}

static void resolved(void *arg, const struct sockaddr_storage *addrs, size_t n, unsigned ttl_s,
		     const char *err)
{
	struct proxy_target *s = arg;
	struct flow *f = s->flow;
	(void)ttl_s; /* looked up for one connection */

	if (!n) {
		flow_fail_rep(f, REP_HOST_UNREACHABLE, "cannot resolve \"%s\": %s",
			      f->target.hostname, err);
		return;
	}
	memcpy(s->addrs, addrs, n * sizeof(*addrs));
	s->n_addrs = n;
	s->next_addr = 0;
	connect_next(s);
}

void proxy_target_start(struct flow *f, struct proxy_target *s)
{
	struct relay *r = f->r;

	s->flow = f;
	if (f->target.hostname)
		literal_name(f);
	if (f->target.hostname && name_is_localhost(f->target.hostname)) {
		flow_fail_rep(f, REP_NOT_ALLOWED, "destination not allowed (a localhost name)");
		return;
	}
	if (f->target.hostname) {
		const struct upstream *up = s->name_upstream ? name_upstream(f) : NULL;
		if (up) {
			char why[UPSTREAM_ERROR_MAX];
			if (flow_take_route(f, up, why, sizeof(why)) < 0)
				flow_fail_rep(f, REP_NETWORK_UNREACHABLE, "%s", why);
			else
				flow_connect(f);
			return;
		}
		f->state = FLOW_RESOLVING;
		flow_set_timer(f, &r->connect_timers, r->cfg->connect_timeout_ms);
		/* the last thing done here: the answer may come at once */
		dns_resolve(r->dns, f->target.hostname, f->target.port, &f->client, resolved, s,
			    &s->dns);
		return;
	}
	s->addrs[0] = f->target.addr;
	s->n_addrs = 1;
	s->next_addr = 0;
	connect_next(s);
}

void proxy_target_end(struct proxy_target *pt)
{
	dns_cancel(&pt->dns);
}
