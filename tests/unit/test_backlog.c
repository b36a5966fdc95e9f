/* Unit tests for backlog: a relayed direction's bound over real loopback
 * TCP sockets (the receive buffer the kernel reports): the start, growth
 * by need, a slow destination and one that keeps up again, the let-go. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "backlog.h"

struct pair {
	int src, dst; /* the direction's sockets: the two ends of one connection */
};

static int setup(void **state)
{
	static struct pair p;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	p.src = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(p.src, (struct sockaddr *)&a, sizeof(a)), 0);
	p.dst = accept(l, NULL, NULL);
	assert_true(p.dst >= 0);
	close(l);
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	close(p->src);
	close(p->dst);
	return 0;
}

static int rcvbuf(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
	return v;
}

/* A window of bytes: the clamp at it, the buffer twice it (for the
 * kernel's overhead per packet). */
static void assert_window(int fd, int bytes)
{
	int clamp = 0;
	socklen_t len = sizeof(clamp);

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, &len), 0);
	assert_int_equal(clamp, bytes);
	assert_int_equal(rcvbuf(fd), 2 * bytes);
}

static enum backlog_change judge(struct backlog *b, const struct pair *p, uint64_t now,
				 uint64_t delivered, size_t in_pipe)
{
	struct backlog_sample s = { .now_ms = now,
				    .delivered = delivered,
				    .in_pipe = in_pipe,
				    .src = p->src,
				    .dst = p->dst };

	return backlog_judge(b, &s);
}

/* A new direction starts at BACKLOG_FIRST; its pipe keeps its capacity
 * until held. */
static void test_start(void **state)
{
	struct pair *p = *state;
	struct backlog b;

	backlog_start(&b, 1000, p->src);
	assert_int_equal(b.bound, BACKLOG_FIRST);
	assert_window(p->src, BACKLOG_FIRST);
	assert_int_equal(backlog_fill(&b, 1u << 20), 1u << 20);
	assert_false(backlog_held(&b));
}

/* A destination that keeps up (the pipe emptied) grows the buffer to
 * four times its pace times the source path's round trip, plus
 * BACKLOG_MIN, by at most four times a step: on loopback (a round trip of
 * microseconds) even 100 MB/s needs no more than the start. */
static void test_grow_by_need(void **state)
{
	struct pair *p = *state;
	struct backlog b;
	uint64_t now = 1000, delivered = 0;

	backlog_start(&b, now, p->src);
	assert_int_equal(judge(&b, p, now + 10, 0, 0), BACKLOG_SAME); /* not due */
	for (int i = 0; i < 20; i++) {
		now += BACKLOG_RAMP_MS;
		delivered += 5000000; /* 100 MB/s */
		assert_int_equal(judge(&b, p, now, delivered, 0), BACKLOG_SAME);
	}
	assert_true(b.bound >= BACKLOG_MIN && b.bound <= BACKLOG_FIRST);
	assert_false(backlog_held(&b));
	assert_int_equal(backlog_fill(&b, 1u << 20), 1u << 20);
}

/* A destination that leaves the pipe backed up holds the direction to a
 * second of its pace, never below BACKLOG_MIN, the receive buffer and the
 * pipe with it; emptied again, it is no longer held. */
static void test_slow_destination(void **state)
{
	struct pair *p = *state;
	struct backlog b;
	uint64_t now = 1000;

	backlog_start(&b, now, p->src);
	now += BACKLOG_RAMP_MS;
	/* backed up, 5 KB in 50 ms: 100 KB a second, below the start */
	assert_int_equal(judge(&b, p, now, 5000, 4096), BACKLOG_HELD);
	assert_true(backlog_held(&b));
	assert_int_equal(b.bound, 100000);
	assert_window(p->src, 100000);
	assert_int_equal(backlog_fill(&b, 1u << 20), 100000);
	/* held: judged once a second */
	assert_int_equal(judge(&b, p, now + 500, 6000, 4096), BACKLOG_SAME);
	assert_int_equal(b.bound, 100000);
	/* 2 KB in a second: held to the least */
	now += BACKLOG_WINDOW_MS;
	assert_int_equal(judge(&b, p, now, 7000, 4096), BACKLOG_SAME);
	assert_int_equal(b.bound, BACKLOG_MIN);
	assert_window(p->src, BACKLOG_MIN);
	/* it empties the pipe: judged soon, no longer held */
	assert_int_equal(judge(&b, p, now + 10, 8000, 0), BACKLOG_SAME);
	assert_int_equal(judge(&b, p, now + BACKLOG_RAMP_MS, 9000, 0), BACKLOG_FREED);
	assert_false(backlog_held(&b));
	/* its need over loopback's round trip: hardly more than the least */
	assert_true(b.bound >= BACKLOG_MIN && b.bound < BACKLOG_MIN + 4096);
	assert_int_equal(backlog_fill(&b, 1u << 20), 1u << 20);
}

static uint32_t rmem(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len), 0);
	return mem[SK_MEMINFO_RMEM_ALLOC];
}

/* Up to max bytes, as much as one end may send the other without
 * waiting. */
static size_t send_some(int fd, size_t max)
{
	static char buf[64 << 10];
	size_t sent = 0;
	ssize_t n;

	while (sent < max && (n = send(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		sent += (size_t)n;
	usleep(50000); /* for loopback to deliver it */
	return sent;
}

static size_t recv_all(int fd)
{
	static char buf[64 << 10];
	size_t got = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	return got;
}

/* Held while its socket holds what the sender was let send: the window
 * comes down at once, the buffer no lower than what is queued (lower, the
 * kernel would drop what arrives inside the window it advertised, and the
 * sender back off), and further as the queue drains. */
static void test_hold_keeps_what_was_let_in(void **state)
{
	struct pair *p = *state;
	struct backlog b;
	uint64_t now = 1000;
	int held_buf;

	backlog_start(&b, now, p->src);
	assert_true(send_some(p->dst, 1u << 20) > BACKLOG_FIRST);
	assert_true(rmem(p->src) > 2 * BACKLOG_MIN);
	now += BACKLOG_RAMP_MS;
	/* backed up, 1 KB in 50 ms: held at BACKLOG_MIN */
	assert_int_equal(judge(&b, p, now, 1000, 4096), BACKLOG_HELD);
	assert_int_equal(b.bound, BACKLOG_MIN);
	held_buf = rcvbuf(p->src);
	assert_true(held_buf >= (int)rmem(p->src));
	/* read down, the sender's queue following inside the window */
	for (int i = 0; i < 100 && recv_all(p->src); i++) {
		usleep(20000);
		now += BACKLOG_WINDOW_MS;
		judge(&b, p, now, 1000, 4096);
		assert_true(rcvbuf(p->src) <= held_buf);
		assert_true(rcvbuf(p->src) >= (int)rmem(p->src));
	}
	now += BACKLOG_WINDOW_MS;
	judge(&b, p, now, 1000, 4096);
	assert_window(p->src, BACKLOG_MIN);
}

static void test_let_go(void **state)
{
	struct pair *p = *state;
	struct backlog b;
	uint64_t now = 1000;

	backlog_start(&b, now, p->src);
	assert_int_equal(backlog_let_go(&b, p->src, p->dst), BACKLOG_SAME); /* not held */
	assert_int_equal(b.bound, 0);
	assert_true(rcvbuf(p->src) > (int)BACKLOG_FIRST);
	backlog_start(&b, now, p->src);
	now += BACKLOG_RAMP_MS;
	assert_int_equal(judge(&b, p, now, 1000, 4096), BACKLOG_HELD);
	assert_int_equal(backlog_let_go(&b, p->src, -1), BACKLOG_FREED);
	assert_int_equal(b.bound, 0);
	assert_int_equal(backlog_let_go(&b, -1, -1), BACKLOG_SAME);
}

/* A direction judged without a start (zeroed) is left to the kernel. */
static void test_not_started(void **state)
{
	struct pair *p = *state;
	struct backlog b = { 0 };
	int before = rcvbuf(p->src);

	assert_int_equal(judge(&b, p, 5000, 100, 4096), BACKLOG_SAME);
	assert_int_equal(judge(&b, p, 7000, 200, 4096), BACKLOG_SAME);
	assert_int_equal(b.bound, 0);
	assert_int_equal(rcvbuf(p->src), before);
	assert_int_equal(backlog_fill(&b, 4096), 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grow_by_need, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_keeps_what_was_let_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_let_go, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_started, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
