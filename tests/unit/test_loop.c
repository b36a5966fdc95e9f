/* Unit tests for the loop under every worker: timers (order, re-arming,
 * clamping, fires that free their owner), frees deferred to the end of a
 * batch, event dispatch, the log limiter and the fd gate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fd_budget.h"
#include "loop.h"

static struct fd_budget budget = { .max = 100 };

struct timed {
	struct timer t;
	int id;
	int rearm_ms; /* > 0: fire arms it again on q */
	struct timer_queue *q;
	struct loop *l;
};

static int fired[16], n_fired;

static void record(struct timer *t)
{
	struct timed *x = container_of(t, struct timed, t);
	fired[n_fired++] = x->id;
	if (x->rearm_ms > 0)
		timer_arm(x->l, x->q, t, (unsigned)x->rearm_ms);
}

static void init_timed(struct timed *x, int id, struct loop *l, struct timer_queue *q)
{
	memset(x, 0, sizeof(*x));
	list_init(&x->t.node);
	x->t.fire = record;
	x->id = id;
	x->l = l;
	x->q = q;
}

static void test_timers_fire_in_order_when_due(void **state)
{
	struct loop l;
	struct timer_queue a, b;
	struct timed x[4];
	(void)state;
	assert_int_equal(loop_init(&l, 0, &budget), 0);
	timer_queue_init(&l, &a);
	timer_queue_init(&l, &b);
	n_fired = 0;
	l.now_ms = 1000;
	for (int i = 0; i < 3; i++) {
		init_timed(&x[i], i, &l, &a);
		timer_arm(&l, &a, &x[i].t, 100);
		l.now_ms += 10; /* deadlines 1100, 1110, 1120 */
	}
	init_timed(&x[3], 3, &l, &b);
	timer_arm(&l, &b, &x[3].t, 50); /* 1080 */
	l.now_ms = 1099;
	loop_expire_timers(&l);
	assert_int_equal(n_fired, 1);
	assert_int_equal(fired[0], 3);
	assert_false(timer_armed(&x[3].t)); /* taken off before its fire */
	l.now_ms = 1110;
	loop_expire_timers(&l);
	assert_int_equal(n_fired, 3);
	assert_int_equal(fired[1], 0);
	assert_int_equal(fired[2], 1);
	assert_true(timer_armed(&x[2].t));
	timer_cancel(&x[2].t);
	timer_cancel(&x[2].t); /* twice is harmless */
	l.now_ms = 5000;
	loop_expire_timers(&l);
	assert_int_equal(n_fired, 3);
	loop_destroy(&l);
}

/* A fire that arms its timer again does not fire twice in one pass, and
 * 0 ms means no timeout at all. */
static void test_rearm_and_zero(void **state)
{
	struct loop l;
	struct timer_queue q;
	struct timed x;
	(void)state;
	assert_int_equal(loop_init(&l, 0, &budget), 0);
	timer_queue_init(&l, &q);
	n_fired = 0;
	init_timed(&x, 7, &l, &q);
	x.rearm_ms = 30;
	timer_arm(&l, &q, &x.t, 30);
	l.now_ms += 30;
	loop_expire_timers(&l);
	assert_int_equal(n_fired, 1);
	assert_true(timer_armed(&x.t));
	assert_int_equal(x.t.deadline, l.now_ms + 30);
	timer_arm(&l, &q, &x.t, 0);
	assert_false(timer_armed(&x.t));
	l.now_ms += 1000;
	loop_expire_timers(&l);
	assert_int_equal(n_fired, 1);
	loop_destroy(&l);
}

/* A reload that shortens a queue's timeout brings the queued deadlines
 * down to now + the new timeout, keeping the order. */
static void test_clamp(void **state)
{
	struct loop l;
	struct timer_queue q;
	struct timed x[3];
	(void)state;
	assert_int_equal(loop_init(&l, 0, &budget), 0);
	timer_queue_init(&l, &q);
	n_fired = 0;
	l.now_ms = 0;
	for (int i = 0; i < 3; i++) {
		init_timed(&x[i], i, &l, &q);
		timer_arm(&l, &q, &x[i].t, 10000 + 10 * i);
	}
	l.now_ms = 5;
	timer_queue_clamp(&l, &q, 100);
	for (int i = 0; i < 3; i++)
		assert_int_equal(x[i].t.deadline, 105);
	timer_queue_clamp(&l, &q, 0); /* no timeout: left alone */
	assert_int_equal(x[0].t.deadline, 105);
	l.now_ms = 105;
	loop_expire_timers(&l);
	assert_int_equal(n_fired, 3);
	loop_destroy(&l);
}

/* A fire may free what holds the timer, and the timers after it on the
 * same queue still fire. */
static void free_self(struct timer *t)
{
	struct timed *x = container_of(t, struct timed, t);
	fired[n_fired++] = x->id;
	free(x);
}

static void test_fire_frees_owner(void **state)
{
	struct loop l;
	struct timer_queue q;
	(void)state;
	assert_int_equal(loop_init(&l, 0, &budget), 0);
	timer_queue_init(&l, &q);
	n_fired = 0;
	for (int i = 0; i < 3; i++) {
		struct timed *x = malloc(sizeof(*x));
		assert_non_null(x);
		init_timed(x, i, &l, &q);
		x->t.fire = free_self;
		timer_arm(&l, &q, &x->t, 1);
	}
	l.now_ms += 1;
	loop_expire_timers(&l);
	assert_int_equal(n_fired, 3);
	assert_true(list_empty(&q.timers));
	loop_destroy(&l);
}

/* Two registered events in one batch: the first hands the second's owner
 * to loop_free_after_batch; the second still reads it (a use after free
 * the sanitizer build would report if the free were not deferred). */
struct owner {
	struct ev ev;
	int fd;
	int dead;
	int handled;
	struct owner *peer;
	struct loop *l;
};

static int saw_dead_peer;

static void owner_event(struct ev *ev, uint32_t events)
{
	struct owner *o = container_of(ev, struct owner, ev);
	uint64_t v;
	assert_true(events & EPOLLIN);
	assert_int_equal(read(o->fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	if (o->dead) {
		saw_dead_peer = 1;
		return;
	}
	o->handled++;
	if (o->peer && !o->peer->dead) {
		o->peer->dead = 1;
		loop_free_after_batch(o->l, o->peer);
	}
}

static void test_deferred_free_and_dispatch(void **state)
{
	struct loop l;
	struct owner *o[2];
	uint64_t one = 1;
	(void)state;
	assert_int_equal(loop_init(&l, 0, &budget), 0);
	for (int i = 0; i < 2; i++) {
		o[i] = calloc(1, sizeof(*o[i]));
		assert_non_null(o[i]);
		o[i]->ev.handle = owner_event;
		o[i]->l = &l;
		o[i]->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		assert_true(o[i]->fd >= 0);
		assert_int_equal(loop_add(&l, o[i]->fd, &o[i]->ev, EPOLLIN), 0);
	}
	o[0]->peer = o[1];
	o[1]->peer = o[0];
	int fds[2] = { o[0]->fd, o[1]->fd };
	for (int i = 0; i < 2; i++)
		assert_int_equal(write(fds[i], &one, sizeof(one)), (ssize_t)sizeof(one));
	saw_dead_peer = 0;
	l.now_ms = 0;
	assert_int_equal(loop_run_once(&l, 1000), 2);
	assert_true(l.now_ms > 0);	    /* the clock was refreshed */
	assert_int_equal(saw_dead_peer, 1); /* the second handler ran on a dead owner */
	assert_int_equal(l.n_later, 1);
	loop_end_batch(&l);
	assert_int_equal(l.n_later, 0);
	/* the survivor is free to go now; nothing else is pending */
	for (int i = 0; i < 2; i++)
		close(fds[i]);
	free(o[0]->dead ? o[1] : o[0]);
	assert_int_equal(loop_run_once(&l, 0), 0);
	loop_destroy(&l);
}

static void test_log_limiter(void **state)
{
	struct loop l;
	(void)state;
	assert_int_equal(loop_init(&l, 3, &budget), 0);
	for (int i = 0; i < LOOP_LOG_PER_SECOND; i++)
		assert_true(loop_log_allowed(&l));
	assert_false(loop_log_allowed(&l));
	assert_false(loop_log_allowed(&l));
	assert_int_equal(l.log_suppressed, 2);
	l.now_ms += 999;
	assert_false(loop_log_allowed(&l));
	l.now_ms += 1;
	assert_true(loop_log_allowed(&l)); /* a new window */
	assert_int_equal(l.log_suppressed, 0);
	loop_destroy(&l);
}

static int accepting_calls, accepting_on;

static void set_accepting(struct loop *l, int on)
{
	(void)l;
	accepting_calls++;
	accepting_on = on;
}

/* The gate closes when a new flow would not fit, tells the owner once,
 * and opens again only when a few flows fit (hysteresis). */
static void test_fd_gate(void **state)
{
	struct fd_budget b = { .max = 4 * LOOP_FDS_PER_FLOW + 2 };
	struct loop l;
	int sv[2];
	(void)state;
	assert_int_equal(loop_init(&l, 0, &b), 0);
	l.set_accepting = set_accepting;
	accepting_calls = 0;
	fd_budget_take(&b, b.max - 1);
	assert_false(loop_accept_room(&l, LOOP_FDS_PER_FLOW));
	assert_false(loop_accept_room(&l, LOOP_FDS_PER_FLOW));
	assert_int_equal(accepting_calls, 1);
	assert_int_equal(accepting_on, 0);
	assert_true(l.accept_paused);
	/* one socket closed: still no room for four flows */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	loop_close(&l, &sv[0], CLOSE_RESET);
	loop_close(&l, &sv[0], CLOSE_RESET); /* closed already: nothing */
	assert_int_equal(sv[0], -1);
	loop_fds_released(&l);
	assert_int_equal(accepting_calls, 1);
	fd_budget_release(&b, fd_budget_used(&b) - 2); /* four flows fit */
	loop_fds_released(&l);
	assert_int_equal(accepting_calls, 2);
	assert_int_equal(accepting_on, 1);
	assert_false(l.accept_paused);
	close(sv[1]);
	loop_destroy(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_order_when_due),
		cmocka_unit_test(test_rearm_and_zero),
		cmocka_unit_test(test_clamp),
		cmocka_unit_test(test_fire_frees_owner),
		cmocka_unit_test(test_deferred_free_and_dispatch),
		cmocka_unit_test(test_log_limiter),
		cmocka_unit_test(test_fd_gate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
