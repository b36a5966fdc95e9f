/* Our own UDP ASSOCIATE with one upstream (see udp_assoc.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fd_budget.h"
#include "generation.h"
#include "relay.h"
#include "udp_assoc.h"
#include "udp_control.h"
#include "upstream_live.h"

#define UDP_ASSOC_RETRY_MS    1000 /* after a failed setup, before the next try */
#define UDP_ASSOC_QUEUE_FIRST 2048 /* a queue's first allocation: grown on demand */

/* What an association needs only until it is granted. */
struct udp_assoc_setup {
	struct udp_control_setup control;
	/* waiting datagrams: 2-byte length of header and data, 2-byte length
	 * of the data alone (host order), header, data */
	uint8_t *queue;
	size_t queue_len, queue_cap;
	unsigned queue_n;
};

static void control_ev_handle(struct ev *ev, uint32_t events);
static void relay_ev_handle(struct ev *ev, uint32_t events);
static void setup_expired(struct timer *t);

void udp_assoc_init(struct udp_assoc *a, struct relay *r, const struct udp_assoc_ops *ops,
		    const struct udp_assoc_limits *limits, struct generation *gen,
		    const struct upstream *up, uint32_t mark, unsigned setup_ms)
{
	memset(a, 0, sizeof(*a));
	a->control_ev.handle = control_ev_handle;
	a->relay_ev.handle = relay_ev_handle;
	list_init(&a->setup_timer.node);
	a->setup_timer.fire = setup_expired;
	a->r = r;
	a->ops = ops;
	a->limits = limits;
	a->gen = gen;
	a->up = up;
	a->counters = generation_counters(gen, up, r->index);
	a->mark = mark;
	a->setup_ms = setup_ms;
	a->state = UDP_ASSOC_DOWN; /* retry_at 0: the first datagram starts it */
	a->control_fd = a->relay_fd = -1;
}

static void setup_free(struct udp_assoc *a)
{
	struct udp_assoc_setup *s = a->setup;

	if (!s)
		return;
	if (a->limits->shared)
		*a->limits->shared -= s->queue_cap;
	free(s->queue);
	free(s);
	a->setup = NULL;
}

void udp_assoc_close(struct udp_assoc *a)
{
	struct loop *l = &a->r->loop;

	timer_cancel(&a->setup_timer);
	setup_free(a);
	loop_close(l, &a->control_fd, CLOSE_FIN);
	loop_close(l, &a->relay_fd, CLOSE_FIN);
	loop_fds_released(l);
	a->state = UDP_ASSOC_DOWN;
	a->retry_at = l->now_ms;
}

/* Down: sockets closed, what waited dropped, the owner told; the next
 * datagram after retry_ms starts over. */
static void udp_assoc_fail(struct udp_assoc *a, enum udp_assoc_down kind, unsigned retry_ms,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void udp_assoc_fail(struct udp_assoc *a, enum udp_assoc_down kind, unsigned retry_ms,
			   const char *fmt, ...)
{
	unsigned dropped = a->setup ? a->setup->queue_n : 0;
	char why[UDP_CONTROL_WHY_MAX];
	int failed = kind == UDP_ASSOC_FAILED || kind == UDP_ASSOC_REFUSED;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (failed && a->counters)
		atomic_fetch_add_explicit(&a->counters->failures, 1, memory_order_relaxed);
	/* a group's UDP goes to another member until this one works again */
	if (failed)
		upstream_live_note_udp(&a->gen->live, a->up, 0, why);
	udp_assoc_close(a);
	a->retry_at += retry_ms;
	a->ops->down(a, kind, why, dropped);
}

int udp_assoc_start(struct udp_assoc *a)
{
	struct relay *r = a->r;
	char why[UDP_CONTROL_WHY_MAX];

	udp_assoc_close(a);
	if (!fd_budget_room(r->loop.budget, 2) || !(a->setup = calloc(1, sizeof(*a->setup)))) {
		udp_assoc_fail(a, UDP_ASSOC_NO_ROOM, 0, "no file descriptor or memory to spare");
		return -1;
	}
	a->state = UDP_ASSOC_CONNECTING;
	timer_arm(&r->loop, &r->udp_setup_timers, &a->setup_timer, a->setup_ms);
	if (upstream_live_addr_to_use(&a->gen->live, a->up, &a->up_addr) < 0) {
		upstream_live_error(&a->gen->live, a->up, why, sizeof(why));
		udp_assoc_fail(a, UDP_ASSOC_FAILED, UDP_ASSOC_RETRY_MS, "%s", why);
		return -1;
	}
	if (udp_control_open(r, a->up, &a->up_addr, a->mark, &a->setup->control, &a->control_ev,
			     &a->control_fd, why) == UDP_CONTROL_FAILED) {
		udp_assoc_fail(a, UDP_ASSOC_FAILED, UDP_ASSOC_RETRY_MS, "%s", why);
		return -1;
	}
	return 0;
}

static void setup_expired(struct timer *t)
{
	struct udp_assoc *a = container_of(t, struct udp_assoc, setup_timer);

	/* connected and never granted: as good as refused */
	udp_assoc_fail(
	    a, a->setup && a->setup->control.connected ? UDP_ASSOC_REFUSED : UDP_ASSOC_FAILED,
	    UDP_ASSOC_RETRY_MS, "no association within %u ms", a->setup_ms);
}

/* Granted: the datagram socket towards the relay, then what waited. */
static void udp_assoc_ready(struct udp_assoc *a)
{
	struct udp_assoc_setup *s = a->setup;
	char why[UDP_CONTROL_WHY_MAX];

	if (udp_control_open_relay(a->r, a->up, &a->up_addr, a->mark, a->control_fd, &s->control,
				   &a->relay_ev, &a->relay_fd, &a->relay, why) < 0) {
		udp_assoc_fail(a, UDP_ASSOC_FAILED, UDP_ASSOC_RETRY_MS, "%s", why);
		return;
	}
	timer_cancel(&a->setup_timer);
	a->state = UDP_ASSOC_READY;
	upstream_live_note_udp(&a->gen->live, a->up, 1, NULL);
	for (size_t off = 0; off < s->queue_len;) {
		uint16_t n, payload;
		memcpy(&n, s->queue + off, sizeof(n));
		memcpy(&payload, s->queue + off + sizeof(n), sizeof(payload));
		a->ops->sent(a, send(a->relay_fd, s->queue + off + 4, n, MSG_DONTWAIT), payload);
		off += 4 + n;
	}
	setup_free(a);
	a->ops->ready(a);
}

static void control_event(struct udp_assoc *a, uint32_t events)
{
	char why[UDP_CONTROL_WHY_MAX];
	struct udp_control_setup *s = a->setup ? &a->setup->control : NULL;

	switch (udp_control_event(a->r, a->control_fd, &a->control_ev, s, events, why)) {
	case UDP_CONTROL_WAIT:
		if (s && s->connected)
			a->state = UDP_ASSOC_HANDSHAKE;
		break;
	case UDP_CONTROL_FAILED:
		/* RFC 1928: the relay ends with the control connection; after a
		 * grant, the next datagram makes a new one at once */
		if (a->state == UDP_ASSOC_READY)
			udp_assoc_fail(a, UDP_ASSOC_ENDED, 0, "%s", why);
		else
			udp_assoc_fail(a, s && s->connected ? UDP_ASSOC_REFUSED : UDP_ASSOC_FAILED,
				       UDP_ASSOC_RETRY_MS, "%s", why);
		break;
	case UDP_CONTROL_GRANTED:
		udp_assoc_ready(a);
		break;
	}
}

/* A socket closed earlier in this batch (a failure, or the end of the
 * association) has nothing more to say. */
static void control_ev_handle(struct ev *ev, uint32_t events)
{
	struct udp_assoc *a = container_of(ev, struct udp_assoc, control_ev);

	if (a->control_fd >= 0)
		control_event(a, events);
}

static void relay_ev_handle(struct ev *ev, uint32_t events)
{
	struct udp_assoc *a = container_of(ev, struct udp_assoc, relay_ev);

	(void)events;
	if (a->relay_fd >= 0)
		a->ops->readable(a);
}

/* Room for need more queued bytes: the queue grows by doubling, within
 * its own cap and the owner's. 0, or -1. */
static int queue_room(struct udp_assoc *a, size_t need)
{
	const struct udp_assoc_limits *lim = a->limits;
	struct udp_assoc_setup *s = a->setup;
	size_t cap = s->queue_cap ? s->queue_cap : UDP_ASSOC_QUEUE_FIRST;
	uint8_t *q;

	if (s->queue_n >= lim->datagrams)
		return -1;
	if (s->queue_len + need <= s->queue_cap)
		return 0;
	while (cap < s->queue_len + need)
		cap *= 2;
	if (cap > lim->bytes ||
	    (lim->shared && *lim->shared - s->queue_cap + cap > lim->shared_max))
		return -1;
	q = realloc(s->queue, cap);
	if (!q)
		return -1;
	if (lim->shared)
		*lim->shared += cap - s->queue_cap;
	s->queue = q;
	s->queue_cap = cap;
	return 0;
}

static enum udp_assoc_send enqueue(struct udp_assoc *a, const uint8_t *hdr, size_t hl,
				   const uint8_t *data, size_t len)
{
	struct udp_assoc_setup *s = a->setup;
	uint16_t n = (uint16_t)(hl + len), payload = (uint16_t)len;
	uint8_t *p;

	if (hl + len > UINT16_MAX || queue_room(a, 4 + hl + len) < 0)
		return UDP_ASSOC_QUEUE_FULL;
	p = s->queue + s->queue_len;
	memcpy(p, &n, sizeof(n));
	memcpy(p + sizeof(n), &payload, sizeof(payload));
	memcpy(p + 4, hdr, hl);
	memcpy(p + 4 + hl, data, len);
	s->queue_len += 4 + hl + len;
	s->queue_n++;
	return UDP_ASSOC_QUEUED;
}

enum udp_assoc_send udp_assoc_send(struct udp_assoc *a, const uint8_t *hdr, size_t hl,
				   const uint8_t *data, size_t len)
{
	if (a->state == UDP_ASSOC_DOWN &&
	    (a->r->loop.now_ms < a->retry_at || udp_assoc_start(a) < 0))
		return UDP_ASSOC_UNAVAILABLE;
	if (a->state == UDP_ASSOC_READY) {
		struct iovec iov[2] = { { (void *)hdr, hl }, { (void *)data, len } };
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
		return sendmsg(a->relay_fd, &m, MSG_DONTWAIT) < 0 ? UDP_ASSOC_SEND_FAILED
								  : UDP_ASSOC_SENT;
	}
	return enqueue(a, hdr, hl, data, len);
}

const char *udp_assoc_state_name(const struct udp_assoc *a)
{
	static const char *const names[] = {
		[UDP_ASSOC_DOWN] = "failed",
		[UDP_ASSOC_CONNECTING] = "connecting",
		[UDP_ASSOC_HANDSHAKE] = "handshake",
		[UDP_ASSOC_READY] = "ready",
	};
	return names[a->state];
}
