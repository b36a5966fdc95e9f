/* Upstreams' live state and the group policies (see upstream_live.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "fnv.h"
#include "upstream_live.h"

#define relaxed memory_order_relaxed

static atomic_uint downs;

unsigned upstream_live_downs(void)
{
	return atomic_load_explicit(&downs, relaxed);
}

static size_t index_of(const struct upstream_lives *lives, const struct upstream *up)
{
	return (size_t)(up - lives->cfg->upstreams);
}

struct upstream_live *upstream_live_of(const struct upstream_lives *lives,
				       const struct upstream *up)
{
	size_t i = index_of(lives, up);

	return i < lives->cfg->n_upstreams ? &lives->v[i] : NULL;
}

/* The first group that lists up governs its checks and thresholds. */
static const struct upstream_group *governing_group(const struct config *cfg,
						    const struct upstream *up)
{
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		const struct upstream_group *grp = cfg->upstreams[i].group;
		for (size_t m = 0; grp && m < grp->n_members; m++)
			if (grp->members[m] == up)
				return grp;
	}
	return NULL;
}

int upstream_live_init(struct upstream_lives *lives, const struct config *cfg)
{
	lives->cfg = cfg;

	lives->v = calloc(cfg->n_upstreams, sizeof(*lives->v));
	if (!lives->v)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		const struct upstream *up = &cfg->upstreams[i];
		struct upstream_live *l = &lives->v[i];
		struct sockaddr_storage literal;

		pthread_mutex_init(&l->lock, NULL);
		atomic_init(&l->pinned, -1);
		l->governed_by = governing_group(cfg, up);
		if (up->url.kind == UPSTREAM_DIRECT || up->group)
			continue;
		l->by_name = addr_from_ip(up->url.host, up->url.port, &literal) != 0;
		if (up->addr.ss_family) {
			l->addrs[0] = up->addr;
			l->n_addrs = 1;
		} else {
			/* the load could not resolve it: down until a lookup does */
			atomic_init(&l->down, 1);
			snprintf(l->error, sizeof(l->error), "cannot resolve \"%s\" yet",
				 up->url.host);
		}
	}
	return 0;
}

void upstream_live_free(struct upstream_lives *lives)
{
	if (!lives->v)
		return;
	for (size_t i = 0; i < lives->cfg->n_upstreams; i++)
		pthread_mutex_destroy(&lives->v[i].lock);
	free(lives->v);
	lives->v = NULL;
}

static int same_upstream(const struct upstream *a, const struct upstream *b)
{
	return !strcmp(a->name, b->name) && a->url.kind == b->url.kind &&
	       !strcmp(a->url.host, b->url.host) && a->url.port == b->url.port;
}

/* A group's pin, carried by the member's name. */
static void inherit_pin(struct upstream_live *to, const struct upstream *up,
			const struct upstream_live *from, const struct upstream *old)
{
	int pos = atomic_load_explicit(&from->pinned, relaxed);

	if (!up->group || !old->group || pos < 0 || (size_t)pos >= old->group->n_members)
		return;
	for (size_t m = 0; m < up->group->n_members; m++)
		if (!strcmp(up->group->members[m]->name, old->group->members[pos]->name))
			atomic_store_explicit(&to->pinned, (int)m, relaxed);
}

static void inherit_one(struct upstream_live *to, const struct upstream *up,
			struct upstream_live *from, const struct upstream *old)
{
	inherit_pin(to, up, from, old);
	if (up->group)
		return;
	atomic_store_explicit(&to->down, atomic_load_explicit(&from->down, relaxed), relaxed);
	atomic_store_explicit(&to->udp_down, atomic_load_explicit(&from->udp_down, relaxed),
			      relaxed);
	atomic_store_explicit(&to->fails, atomic_load_explicit(&from->fails, relaxed), relaxed);
	atomic_store_explicit(&to->goods, atomic_load_explicit(&from->goods, relaxed), relaxed);
	atomic_store_explicit(&to->checks, atomic_load_explicit(&from->checks, relaxed), relaxed);
	atomic_store_explicit(&to->checks_failed,
			      atomic_load_explicit(&from->checks_failed, relaxed), relaxed);
	atomic_store_explicit(&to->check_ms, atomic_load_explicit(&from->check_ms, relaxed),
			      relaxed);
	atomic_store_explicit(&to->check_latency_ms,
			      atomic_load_explicit(&from->check_latency_ms, relaxed), relaxed);
	atomic_store_explicit(&to->changed_ms, atomic_load_explicit(&from->changed_ms, relaxed),
			      relaxed);
	pthread_mutex_lock(&from->lock);
	memcpy(to->error, from->error, sizeof(to->error));
	if (from->n_addrs) { /* fresher than the load's first address */
		memcpy(to->addrs, from->addrs, sizeof(to->addrs));
		to->n_addrs = from->n_addrs;
	}
	to->resolved_ms = from->resolved_ms;
	to->refresh_ms = from->refresh_ms;
	pthread_mutex_unlock(&from->lock);
}

void upstream_live_inherit(struct upstream_lives *next, const struct upstream_lives *prev)
{
	for (size_t i = 0; i < next->cfg->n_upstreams; i++) {
		const struct upstream *up = &next->cfg->upstreams[i];
		for (size_t j = 0; j < prev->cfg->n_upstreams; j++) {
			const struct upstream *old = &prev->cfg->upstreams[j];
			if (same_upstream(up, old)) {
				inherit_one(&next->v[i], up, &prev->v[j], old);
				break;
			}
		}
	}
}

int upstream_live_addr(const struct upstream_lives *lives, const struct upstream *up, size_t i,
		       struct sockaddr_storage *out)
{
	struct upstream_live *l = upstream_live_of(lives, up);
	int rc = -1;

	if (!l)
		return -1;
	pthread_mutex_lock(&l->lock);
	if (i < l->n_addrs) {
		*out = l->addrs[i];
		rc = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static unsigned good_addr(const struct upstream_lives *lives, const struct upstream *up)
{
	struct upstream_live *l = upstream_live_of(lives, up);

	return l ? atomic_load_explicit(&l->good_addr, relaxed) : 0;
}

void upstream_live_addr_worked(const struct upstream_lives *lives, const struct upstream *up,
			       unsigned i)
{
	struct upstream_live *l = upstream_live_of(lives, up);

	if (l)
		atomic_store_explicit(&l->good_addr, i, relaxed);
}

int upstream_live_addr_to_use(const struct upstream_lives *lives, const struct upstream *up,
			      struct sockaddr_storage *out)
{
	unsigned good = good_addr(lives, up);

	if (upstream_live_addr(lives, up, good, out) == 0)
		return (int)good;
	return upstream_live_addr(lives, up, 0, out);
}

int upstream_live_is_upstream_address(const struct upstream_lives *lives,
				      const struct sockaddr_storage *addr)
{
	int found = 0;

	for (size_t i = 0; i < lives->cfg->n_upstreams && !found; i++) {
		struct upstream_live *l = &lives->v[i];
		pthread_mutex_lock(&l->lock);
		for (size_t a = 0; a < l->n_addrs && !found; a++)
			found = addr_equal(&l->addrs[a], addr);
		pthread_mutex_unlock(&l->lock);
	}
	return found;
}

void upstream_live_resolved(struct upstream_lives *lives, const struct upstream *up,
			    const struct sockaddr_storage *addrs, size_t n, unsigned ttl_s,
			    const char *err, uint64_t now_ms)
{
	struct upstream_live *l = upstream_live_of(lives, up);
	const struct config *cfg = lives->cfg;
	uint64_t ttl_ms = (uint64_t)ttl_s * 1000;
	int changed = 0, was_unresolved;

	if (!l)
		return;
	if (ttl_ms < cfg->resolve_min_ms)
		ttl_ms = cfg->resolve_min_ms;
	if (ttl_ms > cfg->resolve_max_ms)
		ttl_ms = cfg->resolve_max_ms;
	pthread_mutex_lock(&l->lock);
	was_unresolved = l->n_addrs == 0;
	l->resolved_ms = now_ms;
	if (n) {
		if (n > UPSTREAM_ADDRS_MAX)
			n = UPSTREAM_ADDRS_MAX;
		changed = n != l->n_addrs || memcmp(l->addrs, addrs, n * sizeof(*addrs));
		memcpy(l->addrs, addrs, n * sizeof(*addrs));
		l->n_addrs = n;
		l->refresh_ms = now_ms + ttl_ms;
		if (changed)
			atomic_store_explicit(&l->good_addr, 0, relaxed);
	} else {
		/* a failed lookup keeps what was known; asked again soon */
		l->refresh_ms = now_ms + cfg->resolve_min_ms;
		if (!l->n_addrs)
			snprintf(l->error, sizeof(l->error), "cannot resolve \"%s\": %s",
				 up->url.host, err ? err : "no address");
	}
	pthread_mutex_unlock(&l->lock);
	if (changed) {
		char a[ADDR_STRLEN];
		log_info("upstream %s: \"%s\" is now %s%s (%zu address%s)", up->name, up->url.host,
			 addr_format(&addrs[0], a, sizeof(a)), n > 1 ? " and more" : "", n,
			 n == 1 ? "" : "es");
	}
	/* a member down only for want of an address is up once it has one;
	 * a group's checks still have their say */
	if (n && was_unresolved && !l->governed_by &&
	    atomic_exchange_explicit(&l->down, 0, relaxed)) {
		atomic_store_explicit(&l->changed_ms, now_ms, relaxed);
		log_info("upstream %s is up: its name resolves", up->name);
	}
}

static void set_error(struct upstream_live *l, const char *why)
{
	pthread_mutex_lock(&l->lock);
	snprintf(l->error, sizeof(l->error), "%s", why ? why : "failed");
	pthread_mutex_unlock(&l->lock);
}

void upstream_live_note(struct upstream_lives *lives, const struct upstream *up, int check, int ok,
			uint64_t latency_ms, const char *why, uint64_t now_ms)
{
	struct upstream_live *l = upstream_live_of(lives, up);
	const struct upstream_group *grp;
	unsigned up_after, down_after;

	if (!l || up->url.kind == UPSTREAM_DIRECT || up->group)
		return;
	grp = l->governed_by;
	up_after = grp ? grp->up_after : 1;
	down_after = grp ? grp->down_after : 1;
	if (check) {
		atomic_fetch_add_explicit(&l->checks, 1, relaxed);
		atomic_store_explicit(&l->check_ms, now_ms, relaxed);
		if (ok)
			atomic_store_explicit(&l->check_latency_ms, latency_ms ? latency_ms : 1,
					      relaxed);
		else
			atomic_fetch_add_explicit(&l->checks_failed, 1, relaxed);
	}
	if (!ok) {
		atomic_store_explicit(&l->goods, 0, relaxed);
		set_error(l, why);
		if (atomic_fetch_add_explicit(&l->fails, 1, relaxed) + 1 >= down_after &&
		    !atomic_exchange_explicit(&l->down, 1, relaxed)) {
			atomic_store_explicit(&l->changed_ms, now_ms, relaxed);
			atomic_fetch_add_explicit(&downs, 1, relaxed);
			log_warn("upstream %s is down: %s", up->name, why ? why : "failed");
		}
		return;
	}
	atomic_store_explicit(&l->fails, 0, relaxed);
	if (!atomic_load_explicit(&l->down, relaxed))
		return;
	/* a checked member comes back after up_after good checks; one that is
	 * not checked, on its first success */
	if (grp && (!check || atomic_fetch_add_explicit(&l->goods, 1, relaxed) + 1 < up_after))
		return;
	atomic_store_explicit(&l->goods, 0, relaxed);
	if (atomic_exchange_explicit(&l->down, 0, relaxed)) {
		atomic_store_explicit(&l->changed_ms, now_ms, relaxed);
		log_info("upstream %s is up again", up->name);
	}
}

void upstream_live_note_udp(struct upstream_lives *lives, const struct upstream *up, int ok,
			    const char *why)
{
	struct upstream_live *l = upstream_live_of(lives, up);

	if (!l)
		return;
	if (atomic_exchange_explicit(&l->udp_down, !ok, relaxed) != !ok)
		log_info("upstream %s: UDP ASSOCIATE %s%s%s", up->name,
			 ok ? "works again" : "fails", ok ? "" : ": ", ok ? "" : why);
}

/* Whether member m of the group may take a new flow (or association). */
static int usable(const struct upstream_lives *lives, const struct upstream *m, int udp)
{
	const struct upstream_live *l = upstream_live_of(lives, m);

	if (atomic_load_explicit(&l->down, relaxed))
		return 0;
	return !udp ||
	       (m->udp != UPSTREAM_UDP_DROP &&
		!(m->udp == UPSTREAM_UDP_ASSOCIATE && atomic_load_explicit(&l->udp_down, relaxed)));
}

/* The usable member from position start on (wrapping), or -1. */
static int first_usable_from(const struct upstream_lives *lives, const struct upstream_group *grp,
			     size_t start, uint32_t tried, int udp)
{
	for (size_t k = 0; k < grp->n_members; k++) {
		size_t m = (start + k) % grp->n_members;
		if (!(tried & (1u << m)) && usable(lives, grp->members[m], udp))
			return (int)m;
	}
	return -1;
}

/* The usable member with the fastest last check; one never checked yet
 * comes after those that were. */
static int fastest_usable(const struct upstream_lives *lives, const struct upstream_group *grp,
			  uint32_t tried, int udp)
{
	uint64_t best_ms = UINT64_MAX;
	int best = -1;

	for (size_t m = 0; m < grp->n_members; m++) {
		const struct upstream *member = grp->members[m];
		uint64_t ms;
		if ((tried & (1u << m)) || !usable(lives, member, udp))
			continue;
		ms = atomic_load_explicit(&upstream_live_of(lives, member)->check_latency_ms,
					  relaxed);
		if (!ms)
			ms = UINT64_MAX - 1;
		if (ms < best_ms) {
			best_ms = ms;
			best = (int)m;
		}
	}
	return best;
}

static uint32_t client_hash(const struct sockaddr_storage *client)
{
	if (client->ss_family == AF_INET)
		return fnv1a((const uint8_t *)&((const struct sockaddr_in *)client)->sin_addr, 4);
	if (client->ss_family == AF_INET6)
		return fnv1a((const uint8_t *)&((const struct sockaddr_in6 *)client)->sin6_addr,
			     16);
	return 0;
}

const struct upstream *upstream_live_pick(const struct upstream_lives *lives,
					  const struct upstream *route,
					  const struct sockaddr_storage *client, uint32_t tried,
					  unsigned how, int *pos)
{
	int udp = !!(how & PICK_UDP);
	const struct upstream_group *grp = route->group;
	struct upstream_live *l;
	int m = -1, pinned;

	*pos = -1;
	if (!grp)
		return route;
	l = upstream_live_of(lives, route);
	pinned = atomic_load_explicit(&l->pinned, relaxed);
	if (pinned >= 0 && (size_t)pinned < grp->n_members) {
		/* the admin's choice holds, up or not; tried once */
		m = tried & (1u << pinned) ? -1 : pinned;
	} else if (grp->policy == GROUP_FAILOVER) {
		m = first_usable_from(lives, grp, 0, tried, udp);
	} else if (grp->policy == GROUP_ROUND_ROBIN && !(how & (PICK_UDP | PICK_STABLE))) {
		m = first_usable_from(lives, grp, atomic_fetch_add_explicit(&l->next, 1, relaxed),
				      tried, udp);
	} else if (grp->policy == GROUP_LEAST_LATENCY) {
		m = fastest_usable(lives, grp, tried, udp);
	} else {
		/* a device keeps its member while that member is up (and a
		 * stable pick of a round-robin group spreads by client too) */
		m = first_usable_from(lives, grp, client ? client_hash(client) % grp->n_members : 0,
				      tried, udp);
	}
	if (m >= 0) {
		*pos = m;
		return grp->members[m];
	}
	return grp->all_down_direct ? &lives->cfg->upstreams[0] : NULL;
}

int upstream_live_pin(struct upstream_lives *lives, const char *group, const char *member,
		      char *why, size_t len)
{
	const struct config *cfg = lives->cfg;

	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		const struct upstream *up = &cfg->upstreams[i];
		if (strcmp(up->name, group))
			continue;
		if (!up->group) {
			snprintf(why, len, "\"%s\" is an upstream, not a group", group);
			return -1;
		}
		if (!strcmp(member, "auto")) {
			atomic_store_explicit(&lives->v[i].pinned, -1, relaxed);
			log_info("group %s: back to its policy (%s)", group,
				 config_group_policy_name(up->group->policy));
			return 0;
		}
		for (size_t m = 0; m < up->group->n_members; m++) {
			if (!strcmp(up->group->members[m]->name, member)) {
				atomic_store_explicit(&lives->v[i].pinned, (int)m, relaxed);
				log_info("group %s: pinned to %s", group, member);
				return 0;
			}
		}
		snprintf(why, len, "\"%s\" is not a member of group %s", member, group);
		return -1;
	}
	snprintf(why, len, "no group named \"%s\"", group);
	return -1;
}

void upstream_live_error(const struct upstream_lives *lives, const struct upstream *up, char *buf,
			 size_t len)
{
	struct upstream_live *l = upstream_live_of(lives, up);

	if (!l) {
		snprintf(buf, len, "%s", "");
		return;
	}
	pthread_mutex_lock(&l->lock);
	snprintf(buf, len, "%s", l->error);
	pthread_mutex_unlock(&l->lock);
}
