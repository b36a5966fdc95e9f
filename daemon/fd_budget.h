/* Process-wide fd budget, derived from RLIMIT_NOFILE. One counter for all
 * workers: SO_REUSEPORT hashes connections to listeners without regard to
 * which worker has room, so a per-worker share would strand connections in
 * the queue of a full worker while another has fds to spare. Touched once
 * per socket or pipe opened or closed, never per byte. */
#ifndef SOCKGATE_FD_BUDGET_H
#define SOCKGATE_FD_BUDGET_H

#include <stdatomic.h>

struct fd_budget {
	atomic_uint used;
	unsigned max;
	atomic_int full_logged; /* one log line per episode, not per worker */
};

static inline void fd_budget_take(struct fd_budget *b, unsigned n)
{
	atomic_fetch_add_explicit(&b->used, n, memory_order_relaxed);
}

static inline void fd_budget_release(struct fd_budget *b, unsigned n)
{
	atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
}

static inline unsigned fd_budget_used(struct fd_budget *b)
{
	return atomic_load_explicit(&b->used, memory_order_relaxed);
}

/* Whether n more fds fit. */
static inline int fd_budget_room(struct fd_budget *b, unsigned n)
{
	return fd_budget_used(b) + n <= b->max;
}

#endif
