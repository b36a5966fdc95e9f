/* Warm sessions (see warm_pool.h). A session is a marked, non-blocking
 * connection registered with the loop under its own handler: connecting,
 * then (SOCKS5) exchanging the greeting and credentials through the
 * upstream codec's check exchange, then ready, when any event on it means
 * the upstream closed or spoke out of turn and it is dropped. A pool is a
 * list of sessions per upstream of the worker's configuration. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "fd_budget.h"
#include "generation.h"
#include "list.h"
#include "relay.h"
#include "tcp_relay_socket.h"
#include "upstream.h"
#include "upstream_live.h"
#include "warm_pool.h"

/* Of the fd budget, this share is never taken by warm sessions: real
 * flows always find room. */
#define WARM_FD_RESERVE_DIV 4

enum warm_state {
	WS_CONNECTING,
	WS_GREETING, /* SOCKS5: greeting and credentials under way */
	WS_READY,
};

struct warm_pool;

struct warm_session {
	struct ev ev;
	struct warm_pool *pool;
	int fd;
	enum warm_state state;
	struct sockaddr_storage addr;
	uint8_t addr_index;
	uint64_t opened_ms, ready_ms;
	struct upstream_handshake *hs; /* WS_GREETING only */
	struct list node;
};

struct warm_pool {
	struct relay *r;
	const struct upstream *up; /* of the relay's generation */
	struct list sessions;
	unsigned n_ready, n_opening;
	/* the rate of new flows: those of the current second, and a moving
	 * average over seconds (flows/s) */
	unsigned window_flows;
	uint64_t window_start_ms, last_flow_ms;
	double rate;
	double make_ms; /* moving average: connect to ready */
	struct list node;
};

struct warm_pools {
	struct list pools;
};

static void warm_event(struct ev *ev, uint32_t events);

int warm_pools_new(struct relay *r)
{
	struct warm_pools *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	list_init(&w->pools);
	r->warm = w;
	return 0;
}

static void session_close(struct warm_session *s)
{
	struct warm_pool *p = s->pool;

	if (s->state == WS_READY) {
		p->n_ready--;
		atomic_fetch_sub_explicit(&p->r->counters.warm_ready, 1, memory_order_relaxed);
	} else {
		p->n_opening--;
	}
	loop_close(&p->r->loop, &s->fd, CLOSE_FIN);
	free(s->hs);
	list_del(&s->node);
	/* an event later in this batch may still name it */
	loop_free_after_batch(&p->r->loop, s);
}

static void pool_free(struct warm_pool *p)
{
	while (!list_empty(&p->sessions))
		session_close(container_of(p->sessions.next, struct warm_session, node));
	list_del(&p->node);
	free(p);
}

void warm_drop_all(struct relay *r)
{
	struct warm_pools *w = r->warm;

	while (w && !list_empty(&w->pools))
		pool_free(container_of(w->pools.next, struct warm_pool, node));
}

void warm_pools_free(struct relay *r)
{
	warm_drop_all(r);
	free(r->warm);
	r->warm = NULL;
}

static struct warm_pool *pool_of(struct relay *r, const struct upstream *up, int make)
{
	struct warm_pools *w = r->warm;
	struct warm_pool *p;

	for (struct list *n = w->pools.next; n != &w->pools; n = n->next) {
		p = container_of(n, struct warm_pool, node);
		if (p->up == up)
			return p;
	}
	if (!make || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->r = r;
	p->up = up;
	list_init(&p->sessions);
	list_add_tail(&w->pools, &p->node);
	return p;
}

/* How many sessions p should hold now. */
static unsigned pool_target(const struct warm_pool *p, uint64_t now_ms)
{
	double want;

	if (!p->last_flow_ms || now_ms - p->last_flow_ms > p->up->warm_idle_ms)
		return 0;
	if (p->up->warm > 0)
		return (unsigned)p->up->warm;
	/* enough to cover the flows that come while one is being made, and
	 * one more for a burst */
	want = p->rate * (p->make_ms > 0 ? p->make_ms : 100) / 1000.0 * 1.5 + 1;
	return want >= WARM_AUTO_MAX ? WARM_AUTO_MAX : (unsigned)want + (want > (unsigned)want);
}

/* Whether a warm session may take an fd now: never the last quarter. */
static int warm_fd_room(struct relay *r)
{
	struct fd_budget *b = r->loop.budget;
	return fd_budget_room(b, 1 + b->max / WARM_FD_RESERVE_DIV);
}

static void session_ready(struct warm_session *s)
{
	struct warm_pool *p = s->pool;
	uint64_t took = p->r->loop.now_ms - s->opened_ms;

	free(s->hs);
	s->hs = NULL;
	s->state = WS_READY;
	s->ready_ms = p->r->loop.now_ms;
	p->n_opening--;
	p->n_ready++;
	p->make_ms = p->make_ms > 0 ? 0.8 * p->make_ms + 0.2 * (double)took : (double)took;
	atomic_fetch_add_explicit(&p->r->counters.warm_ready, 1, memory_order_relaxed);
	upstream_live_addr_worked(&p->r->gen->live, p->up, s->addr_index);
}

/* Sends what the codec wrote; the socket is fresh, its buffer empty. */
static int session_send(struct warm_session *s, const uint8_t *out)
{
	ssize_t n = send(s->fd, out, s->hs->out_len, MSG_NOSIGNAL);
	return n == (ssize_t)s->hs->out_len ? 0 : -1;
}

/* Connected: SOCKS5 begins its greeting; the others are ready. */
static int session_connected(struct warm_session *s)
{
	const struct upstream *up = s->pool->up;
	uint8_t out[UPSTREAM_OUT_MAX];

	if (up->url.kind != UPSTREAM_SOCKS5 && up->url.kind != UPSTREAM_SOCKS5H) {
		session_ready(s);
		return 0;
	}
	s->hs = malloc(sizeof(*s->hs));
	if (!s->hs || upstream_handshake_begin_check(s->hs, &up->url, up->pipeline, out) < 0)
		return -1;
	s->state = WS_GREETING;
	return session_send(s, out);
}

/* The greeting's replies: 0 on the way, -1 failed. */
static int session_greeting(struct warm_session *s)
{
	uint8_t buf[64], out[UPSTREAM_OUT_MAX];

	for (;;) {
		size_t used;
		enum upstream_result res;
		ssize_t n = recv(s->fd, buf, sizeof(buf), 0);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;
		res = upstream_handshake_feed(s->hs, buf, (size_t)n, &used, out);
		if (res == UPSTREAM_ERROR || (res == UPSTREAM_DONE && used < (size_t)n))
			return -1; /* refused, or bytes no exchange explains */
		if (res == UPSTREAM_DONE) {
			session_ready(s);
			return 0;
		}
		if (s->hs->out_len && session_send(s, out) < 0)
			return -1;
	}
}

static void warm_event(struct ev *ev, uint32_t events)
{
	struct warm_session *s = container_of(ev, struct warm_session, ev);
	int err = 0;
	socklen_t len = sizeof(err);

	if (s->fd < 0)
		return; /* closed earlier in this batch */
	switch (s->state) {
	case WS_CONNECTING:
		if ((events & (EPOLLERR | EPOLLHUP)) ||
		    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			break;
		if (events & EPOLLOUT) {
			if (session_connected(s) < 0)
				break;
			return;
		}
		return;
	case WS_GREETING:
		if (!(events & (EPOLLERR | EPOLLHUP)) && session_greeting(s) == 0)
			return;
		break;
	case WS_READY:
		/* a ready session has nothing to say: any word is its end */
		if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
			return;
		atomic_fetch_add_explicit(&s->pool->r->counters.warm_died, 1, memory_order_relaxed);
		break;
	}
	session_close(s);
}

/* Opens one more session of p to the address the upstream uses now. */
static void session_open(struct warm_pool *p)
{
	struct relay *r = p->r;
	const struct upstream *up = p->up;
	struct warm_session *s;
	int one = 1, index;

	if (!warm_fd_room(r) || !(s = calloc(1, sizeof(*s))))
		return;
	index = upstream_live_addr_to_use(&r->gen->live, up, &s->addr);
	if (index < 0) {
		free(s);
		return;
	}
	s->addr_index = (uint8_t)index;
	s->pool = p;
	s->ev.handle = warm_event;
	s->opened_ms = r->loop.now_ms;
	s->state = WS_CONNECTING;
	list_add_tail(&p->sessions, &s->node);
	p->n_opening++;
	s->fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		session_close(s);
		return;
	}
	fd_budget_take(r->loop.budget, 1);
	atomic_fetch_add_explicit(&r->counters.warm_opened, 1, memory_order_relaxed);
	tcp_relay_socket_setup(s->fd);
	if (up->fastopen) /* the greeting rides in the SYN once a cookie is known */
		setsockopt(s->fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one));
	if (relay_mark_socket(s->fd, r->cfg->mark) < 0 ||
	    (connect(s->fd, (const struct sockaddr *)&s->addr, addr_len(&s->addr)) < 0 &&
	     errno != EINPROGRESS) ||
	    loop_add(&r->loop, s->fd, &s->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
		session_close(s);
		return;
	}
	/* TCP_FASTOPEN_CONNECT reports connected at once: EPOLLOUT comes */
}

/* Opens sessions up to the pool's target (counting those under way). */
static void pool_fill(struct warm_pool *p)
{
	unsigned target = pool_target(p, p->r->loop.now_ms);
	struct upstream_live *live = upstream_live_of(&p->r->gen->live, p->up);

	if (live && atomic_load_explicit(&live->down, memory_order_relaxed))
		target = 0; /* its checks will tell when it is back */
	while (p->n_ready + p->n_opening < target) {
		unsigned before = p->n_opening;
		session_open(p);
		if (p->n_opening == before)
			return; /* no fd, no memory, no address: next tick */
	}
}

/* The moving average of flows per second, over whole seconds. */
static void pool_count_flow(struct warm_pool *p, uint64_t now_ms)
{
	if (!p->window_start_ms)
		p->window_start_ms = now_ms;
	while (now_ms - p->window_start_ms >= 1000) {
		p->rate = 0.7 * p->rate + 0.3 * p->window_flows;
		p->window_flows = 0;
		p->window_start_ms += 1000;
		if (now_ms - p->window_start_ms > p->up->warm_idle_ms)
			p->window_start_ms = now_ms - (now_ms - p->window_start_ms) % 1000;
	}
	p->window_flows++;
	p->last_flow_ms = now_ms;
	/* a burst counts before its second is over */
	if (p->window_flows > p->rate)
		p->rate = p->window_flows;
}

int warm_take(struct relay *r, const struct upstream *up, struct sockaddr_storage *addr,
	      uint8_t *addr_index)
{
	struct warm_session *pick = NULL;
	struct warm_pool *p;
	int fd;

	const struct config *cfg = r->gen->cfg;

	if (!up->warm || !r->warm || up->url.kind == UPSTREAM_DIRECT || up->group)
		return -1;
	/* a flow still on an older configuration (retrying a member after a
	 * reload) goes cold: the pools are the current one's */
	if (up < cfg->upstreams || up >= cfg->upstreams + cfg->n_upstreams)
		return -1;
	p = pool_of(r, up, 1);
	if (!p)
		return -1;
	pool_count_flow(p, r->loop.now_ms);
	/* the youngest ready one: the least likely to have been closed */
	for (struct list *n = p->sessions.next; n != &p->sessions; n = n->next) {
		struct warm_session *s = container_of(n, struct warm_session, node);
		if (s->state == WS_READY && (!pick || s->ready_ms >= pick->ready_ms))
			pick = s;
	}
	if (!pick) {
		atomic_fetch_add_explicit(&r->counters.warm_missed, 1, memory_order_relaxed);
		pool_fill(p);
		return -1;
	}
	/* the fd is the flow's now, budget and all; the session goes */
	fd = pick->fd;
	loop_remove(&r->loop, fd);
	pick->fd = -1;
	*addr = pick->addr;
	*addr_index = pick->addr_index;
	p->n_ready--;
	list_del(&pick->node);
	loop_free_after_batch(&r->loop, pick);
	atomic_fetch_sub_explicit(&r->counters.warm_ready, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->counters.warm_used, 1, memory_order_relaxed);
	pool_fill(p);
	return fd;
}

/* Renews p's old sessions and drops the ones a smaller target leaves
 * over; 1 when p is empty and idle (to be freed). */
static int pool_tick(struct warm_pool *p, uint64_t now, unsigned setup_ms)
{
	unsigned target = pool_target(p, now);
	struct list *n, *next;

	for (n = p->sessions.next; n != &p->sessions; n = next) {
		struct warm_session *s = container_of(n, struct warm_session, node);
		int old = s->state == WS_READY ? now - s->ready_ms >= p->up->warm_max_age_ms
					       : now - s->opened_ms >= setup_ms;
		next = n->next;
		/* renewed before the upstream's own timeout */
		if (old || (s->state == WS_READY && p->n_ready > target)) {
			if (old && s->state == WS_READY)
				atomic_fetch_add_explicit(&p->r->counters.warm_expired, 1,
							  memory_order_relaxed);
			session_close(s);
		}
	}
	if (!target && list_empty(&p->sessions))
		return 1;
	pool_fill(p);
	return 0;
}

void warm_tick(struct relay *r)
{
	struct warm_pools *w = r->warm;
	unsigned setup_ms = r->cfg->connect_timeout_ms + r->cfg->handshake_timeout_ms;
	struct list *n, *next;

	if (!w)
		return;
	for (n = w->pools.next; n != &w->pools; n = next) {
		struct warm_pool *p = container_of(n, struct warm_pool, node);
		next = n->next;
		if (pool_tick(p, r->loop.now_ms, setup_ms))
			pool_free(p);
	}
}
