/* The event loop at the bottom of a worker (see loop.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockgate/log.h"
#include "fd_budget.h"
#include "loop.h"

#define EVENTS_PER_WAIT 256

uint64_t loop_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int loop_init(struct loop *l, unsigned index, struct fd_budget *budget)
{
	memset(l, 0, sizeof(*l));
	l->index = index;
	l->budget = budget;
	l->now_ms = loop_clock_ms();
	l->log_window_ms = l->now_ms;
	list_init(&l->queues);
	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return l->epoll_fd < 0 ? -errno : 0;
}

void loop_destroy(struct loop *l)
{
	loop_end_batch(l);
	free(l->later);
	l->later = NULL;
	l->later_cap = 0;
	if (l->epoll_fd >= 0)
		close(l->epoll_fd);
	l->epoll_fd = -1;
}

int loop_add(struct loop *l, int fd, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };
	return epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

int loop_modify(struct loop *l, int fd, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };
	return epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, fd, &e) < 0 ? -errno : 0;
}

int loop_remove(struct loop *l, int fd)
{
	return epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event events[EVENTS_PER_WAIT];
	int n = epoll_wait(l->epoll_fd, events, EVENTS_PER_WAIT, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->now_ms = loop_clock_ms();
	for (int i = 0; i < n; i++) {
		struct ev *ev = events[i].data.ptr;
		ev->handle(ev, events[i].events);
	}
	return n;
}

void loop_free_after_batch(struct loop *l, void *p)
{
	if (l->n_later == l->later_cap) {
		size_t cap = l->later_cap ? 2 * l->later_cap : 16;
		void **grown = realloc(l->later, cap * sizeof(*grown));
		if (!grown)
			return; /* out of memory: leaking p is safer than freeing it now */
		l->later = grown;
		l->later_cap = cap;
	}
	l->later[l->n_later++] = p;
}

void loop_end_batch(struct loop *l)
{
	for (size_t i = 0; i < l->n_later; i++)
		free(l->later[i]);
	l->n_later = 0;
}

/* ---- timers ---- */

void timer_queue_init(struct loop *l, struct timer_queue *q)
{
	list_init(&q->timers);
	list_add_tail(&l->queues, &q->node);
}

void timer_arm(struct loop *l, struct timer_queue *q, struct timer *t, unsigned ms)
{
	timer_cancel(t);
	if (!ms)
		return;
	t->deadline = l->now_ms + ms;
	list_add_tail(&q->timers, &t->node);
}

void timer_cancel(struct timer *t)
{
	if (list_linked(&t->node))
		list_del(&t->node);
}

/* A reload that shortens a queue's timeout would append deadlines earlier
 * than those already queued, which the in-order scan would not reach in
 * time. So the queued ones come down to now + the new timeout: the order
 * stays, and none waits longer than the new setting. */
void timer_queue_clamp(struct loop *l, struct timer_queue *q, unsigned ms)
{
	uint64_t latest = l->now_ms + ms;

	if (!ms)
		return;
	for (struct list *n = q->timers.next; n != &q->timers; n = n->next) {
		struct timer *t = container_of(n, struct timer, node);
		if (t->deadline > latest)
			t->deadline = latest;
	}
}

void loop_expire_timers(struct loop *l)
{
	for (struct list *qn = l->queues.next; qn != &l->queues; qn = qn->next) {
		struct timer_queue *q = container_of(qn, struct timer_queue, node);
		/* a timer re-armed by its fire lands behind the others with
		 * a deadline still to come, so this ends */
		while (!list_empty(&q->timers)) {
			struct timer *t = container_of(q->timers.next, struct timer, node);
			if (t->deadline > l->now_ms)
				break;
			list_del(&t->node);
			t->fire(t);
		}
	}
}

/* ---- log limiter ---- */

void loop_log_window(struct loop *l)
{
	if (l->now_ms < l->log_window_ms + 1000)
		return;
	if (l->log_suppressed)
		log_warn("worker %u: %u more failure lines suppressed (over %d a second)", l->index,
			 l->log_suppressed, LOOP_LOG_PER_SECOND);
	l->log_window_ms = l->now_ms;
	l->log_lines = 0;
	l->log_suppressed = 0;
}

int loop_log_allowed(struct loop *l)
{
	loop_log_window(l);
	if (l->log_lines < LOOP_LOG_PER_SECOND) {
		l->log_lines++;
		return 1;
	}
	l->log_suppressed++;
	return 0;
}

/* ---- the fd gate ---- */

void loop_close(struct loop *l, int *fd, enum close_how how)
{
	if (*fd < 0)
		return;
	/* SO_LINGER {1, 0} makes close send RST, so the peer sees a reset,
	 * not EOF. Relayed sockets carry it from their making, so that a
	 * crash resets them (tcp_relay_socket.h): an orderly close turns it
	 * off first. */
	struct linger lg = { .l_onoff = how == CLOSE_RESET, .l_linger = 0 };

	setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(*fd);
	*fd = -1;
	fd_budget_release(l->budget, 1);
}

static void loop_set_accepting(struct loop *l, int on)
{
	if (l->accept_paused == !on)
		return;
	l->accept_paused = !on;
	if (l->set_accepting)
		l->set_accepting(l, on);
	/* Workers pause and resume together; the first to notice logs. */
	if (on && atomic_exchange(&l->budget->full_logged, 0))
		log_info("fd budget has room again (%u of %u fds in use), accepting",
			 fd_budget_used(l->budget), l->budget->max);
	else if (!on && !atomic_exchange(&l->budget->full_logged, 1))
		log_warn("fd budget full (%u of %u fds in use), not accepting until flows end",
			 fd_budget_used(l->budget), l->budget->max);
}

int loop_accept_room(struct loop *l, unsigned fds)
{
	if (fd_budget_room(l->budget, fds))
		return 1;
	loop_set_accepting(l, 0);
	return 0;
}

void loop_pause_accepting(struct loop *l)
{
	loop_set_accepting(l, 0);
}

void loop_fds_released(struct loop *l)
{
	/* Hysteresis: resume once a few new flows fit, not at every close. */
	if (l->accept_paused && fd_budget_room(l->budget, 4 * LOOP_FDS_PER_FLOW))
		loop_set_accepting(l, 1);
}
