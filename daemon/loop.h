/* The event loop at the bottom of a worker: epoll, the clock, timers,
 * frees deferred to the end of an event batch, the rate limit on log lines
 * clients can cause, and the gate that stops accepting while the process
 * is out of fds. It knows no other module: everything registered with it
 * carries its own handler. */
#ifndef SOCKGATE_LOOP_H
#define SOCKGATE_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "list.h"

struct fd_budget;

/* First member of everything registered with epoll, carrying its own
 * handler: the loop calls it and knows nothing of the module behind it. */
struct ev {
	void (*handle)(struct ev *ev, uint32_t events);
};

/* A timer, embedded in what it times. */
struct timer {
	struct list node;
	uint64_t deadline; /* loop.now_ms */
	void (*fire)(struct timer *t);
};

/* Timers that all take the same timeout: appending keeps the queue in
 * deadline order, so arming is O(1) and expiry looks only at the head. */
struct timer_queue {
	struct list timers;
	struct list node; /* loop.queues */
};

/* Lines about failures clients can cause, per second and loop. */
#define LOOP_LOG_PER_SECOND 20

struct loop {
	int epoll_fd;
	unsigned index;	 /* the worker's, in log lines */
	uint64_t now_ms; /* CLOCK_MONOTONIC_COARSE, refreshed once per batch */
	struct list queues;
	/* what loop_free_after_batch holds until the batch is done */
	void **later;
	size_t n_later, later_cap;
	/* see loop_log_allowed */
	unsigned log_lines, log_suppressed;
	uint64_t log_window_ms;
	/* the fd gate: the owner's listeners stop while the budget is full */
	struct fd_budget *budget;
	int accept_paused;
	void (*set_accepting)(struct loop *l, int on);
};

/* 0, or -errno. */
int loop_init(struct loop *l, unsigned index, struct fd_budget *budget);
/* Frees what the loop holds, deferred frees included; the owner has
 * taken its fds out first (closing them does). */
void loop_destroy(struct loop *l);
uint64_t loop_clock_ms(void);

int loop_add(struct loop *l, int fd, struct ev *ev, uint32_t events);
int loop_modify(struct loop *l, int fd, struct ev *ev, uint32_t events);
/* For an fd that stays open; closing one takes it out by itself. */
int loop_remove(struct loop *l, int fd);
/* Waits up to timeout_ms for events, refreshes the clock and calls each
 * event's handler; the number handled, or -errno. */
int loop_run_once(struct loop *l, int timeout_ms);

/* Frees p once the events of the current batch are handled: one of them
 * may still point into it. Its owner marks it dead before handing it over,
 * and its event handlers look at that mark first. */
void loop_free_after_batch(struct loop *l, void *p);
void loop_end_batch(struct loop *l);

void timer_queue_init(struct loop *l, struct timer_queue *q);
/* Arms t to fire ms from now at the tail of q (every timer of q takes the
 * same ms, so the order holds), replacing an earlier arming; 0 ms: no
 * timeout, t stays disarmed. */
void timer_arm(struct loop *l, struct timer_queue *q, struct timer *t, unsigned ms);
void timer_cancel(struct timer *t);
static inline int timer_armed(const struct timer *t)
{
	return list_linked(&t->node);
}
/* After the timeout of q changed to ms: no timer waits past now + ms, so
 * the order holds for the timers armed from now on. */
void timer_queue_clamp(struct loop *l, struct timer_queue *q, unsigned ms);
/* Fires every timer whose deadline has come, each taken off its queue
 * first (so its fire may arm it again, or free what holds it). */
void loop_expire_timers(struct loop *l);

/* Whether one more line about a failure a client can cause (a refused
 * connect, a bad handshake, a wrong password) may be logged now: at most
 * LOOP_LOG_PER_SECOND, the rest counted and summed up once a second, so a
 * misbehaving client cannot flood the log. */
int loop_log_allowed(struct loop *l);
/* Ends a log window that is over, with a line on what it suppressed. */
void loop_log_window(struct loop *l);

/* How a socket ends: FIN, or RST (what a failed transparent flow's
 * client must see), whatever SO_LINGER it carried before. */
enum close_how {
	CLOSE_FIN,
	CLOSE_RESET,
};
/* Closes *fd (when open) as how says, sets it to -1 and gives its slot
 * back to the fd budget. */
void loop_close(struct loop *l, int *fd, enum close_how how);

/* The fd gate. Whether a new connection needing fds fits the budget;
 * when not, the owner's listeners pause. */
int loop_accept_room(struct loop *l, unsigned fds);
void loop_pause_accepting(struct loop *l);
/* Called after fds were closed: accepting may resume. */
void loop_fds_released(struct loop *l);
/* fds a new flow may need at once: two sockets and one pipe */
#define LOOP_FDS_PER_FLOW 4

#endif
