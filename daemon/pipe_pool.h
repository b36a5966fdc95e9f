/* Per-worker pool of pipes for splice(2). A flow borrows a pipe only while
 * bytes are in flight in one direction and gives it back empty. */
#ifndef SOCKGATE_PIPE_POOL_H
#define SOCKGATE_PIPE_POOL_H

#include <stdatomic.h>
#include <stddef.h>

struct pipe_pair {
	int rd, wr;
	size_t cap;  /* what the kernel gave */
	size_t want; /* what was asked for: the pool's size then */
	struct pipe_pair *next;
};

struct fd_budget;

/* What a pool holds open, pooled and in use: written by its thread, read
 * by the control socket and the metrics (relaxed). */
struct pipe_pool_gauges {
	atomic_ullong pipes, bytes; /* bytes: the capacity the kernel gave */
};

struct pipe_pool {
	struct pipe_pair *free_list;
	unsigned n_free;
	unsigned max_free;
	size_t size;		  /* bytes a new pipe asks for ([daemon] pipe_size) */
	struct fd_budget *budget; /* charged two fds per live pipe */
	struct pipe_pool_gauges *gauges;
};

void pipe_pool_init(struct pipe_pool *pool, unsigned max_free, size_t size,
		    struct fd_budget *budget, struct pipe_pool_gauges *gauges);
/* New pipes ask for size bytes; pooled ones of another size are closed,
 * and those in use when they are given back. */
void pipe_pool_set_size(struct pipe_pool *pool, size_t size);
/* A pooled or new pipe; NULL with errno set when none can be made. */
struct pipe_pair *pipe_pool_get(struct pipe_pool *pool);
/* Gives back an empty pipe (kept or closed, as the pool's size allows). */
void pipe_pool_put(struct pipe_pool *pool, struct pipe_pair *p);
/* Closes a pipe that may still hold bytes. */
void pipe_pool_discard(struct pipe_pool *pool, struct pipe_pair *p);
void pipe_pool_destroy(struct pipe_pool *pool);

#endif
