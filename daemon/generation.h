/* One loaded configuration and what hangs off it: the users file and the
 * per-upstream counters. A reload makes a new generation; workers switch to
 * it between events, and each flow keeps the generation it took its
 * upstream from, so a reload never pulls an upstream from under a flow.
 * The last reference frees it. */
#ifndef SOCKGATE_GENERATION_H
#define SOCKGATE_GENERATION_H

#include <stdatomic.h>

#include "upstream_live.h"

struct config;
struct upstream;
struct users;

/* One upstream's counters kept by one worker, read by the control socket
 * and the metrics: relaxed atomics. */
struct upstream_counters {
	atomic_ullong flows, failures, bytes_up, bytes_down; /* flows that ended */
	atomic_ullong live;
};

/* One upstream's counters summed over the workers. */
struct upstream_totals {
	unsigned long long live, flows, failures, bytes_up, bytes_down;
};

struct generation {
	struct config *cfg;
	struct users *users; /* NULL without [socks] auth = password */
	/* [upstream index][worker index], each row written by one worker */
	struct upstream_counters *counters;
	/* what is known of each upstream while running, shared by the
	 * workers (upstream_live.h) */
	struct upstream_lives live;
	unsigned n_workers;
	atomic_uint refs;
};

/* Takes ownership of cfg and users; NULL when out of memory (then they
 * are freed). One reference. */
struct generation *generation_new(struct config *cfg, struct users *users, unsigned n_workers);
struct generation *generation_ref(struct generation *g);
void generation_unref(struct generation *g);
/* Upstream up's counters (of g's config) over every worker. */
void generation_upstream_totals(struct generation *g, const struct upstream *up,
				struct upstream_totals *t);
/* The counters of upstream up (of g's config) kept by worker. */
struct upstream_counters *generation_counters(struct generation *g, const struct upstream *up,
					      unsigned worker);

#endif
