/* Reference-counted configuration generations. */
#include <stdlib.h>
#include <string.h>

#include "sockgate/config.h"
#include "generation.h"
#include "upstream_live.h"
#include "users.h"

struct generation *generation_new(struct config *cfg, struct users *users, unsigned n_workers)
{
	struct generation *g = calloc(1, sizeof(*g));

	if (g)
		g->counters =
		    calloc(cfg->n_upstreams * (n_workers ? n_workers : 1), sizeof(*g->counters));
	if (g)
		g->cfg = cfg;
	if (!g || !g->counters || upstream_live_init(&g->live, cfg) < 0) {
		if (g)
			free(g->counters);
		free(g);
		config_free(cfg);
		users_free(users);
		return NULL;
	}
	g->cfg = cfg;
	g->users = users;
	g->n_workers = n_workers ? n_workers : 1;
	atomic_init(&g->refs, 1);
	return g;
}

struct generation *generation_ref(struct generation *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

void generation_unref(struct generation *g)
{
	if (!g || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
		return;
	upstream_live_free(&g->live);
	config_free(g->cfg);
	users_free(g->users);
	free(g->counters);
	free(g);
}

struct upstream_counters *generation_counters(struct generation *g, const struct upstream *up,
					      unsigned worker)
{
	size_t index = (size_t)(up - g->cfg->upstreams);

	if (index >= g->cfg->n_upstreams || worker >= g->n_workers)
		return NULL;
	return &g->counters[index * g->n_workers + worker];
}

void generation_upstream_totals(struct generation *g, const struct upstream *up,
				struct upstream_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < g->n_workers; i++) {
		const struct upstream_counters *uc = generation_counters(g, up, i);
		if (!uc)
			continue;
		t->live += atomic_load_explicit(&uc->live, memory_order_relaxed);
		t->flows += atomic_load_explicit(&uc->flows, memory_order_relaxed);
		t->failures += atomic_load_explicit(&uc->failures, memory_order_relaxed);
		t->bytes_up += atomic_load_explicit(&uc->bytes_up, memory_order_relaxed);
		t->bytes_down += atomic_load_explicit(&uc->bytes_down, memory_order_relaxed);
	}
}
