/* Relayed TCP flows. A flow goes CONNECTING (to the upstream or, for direct,
 * the target) -> HANDSHAKE (proxy protocol) -> RELAY (splice both ways).
 * Any failure before RELAY resets the client: it must not believe it
 * reached a target that was never reached. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/json_out.h"
#include "sockgate/log.h"
#include "dns.h"
#include "fakeip.h"
#include "fd_budget.h"
#include "flow.h"
#include "flow_core.h"
#include "generation.h"
#include "intake.h"
#include "client_limit.h"
#include "dst_guard.h"
#include "tcp_relay_socket.h"
#include "upstream.h"
#include "upstream_live.h"
#include "warm_pool.h"
#include "relay.h"
#include "sniff.h"

/* Splice rounds one direction may take per event before yielding the loop
 * to other flows (up to 4 MiB with the pool's 1 MiB pipes). */
#define PUMP_ROUNDS    4
#define FLOW_CACHE_MAX 1024
#define FLOW_EVENTS    (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
/* optimistic data: the most of the client's first bytes sent behind the
 * request (a TLS ClientHello, an HTTP request head) */
#define FLOW_EARLY_MAX 8192

static void client_ev_handle(struct ev *ev, uint32_t events);
static void upstream_ev_handle(struct ev *ev, uint32_t events);
static void flow_expire(struct timer *t);
static void flow_route_and_open(struct flow *f);
static void flow_sniff(struct flow *f);
static void flow_look_up(struct flow *f);

/* Takes a place under [daemon] max_flows (given back by flow_destroy); 1,
 * counted and logged, when there is none. */
static int flow_over_cap(struct relay *r)
{
	unsigned cap = r->cfg->max_flows;

	if (atomic_fetch_add_explicit(r->shared->flows_live, 1, memory_order_relaxed) < cap || !cap)
		return 0;
	atomic_fetch_sub_explicit(r->shared->flows_live, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->counters.flows_shed, 1, memory_order_relaxed);
	if (loop_log_allowed(&r->loop))
		log_warn("worker %u: %u flows live (max_flows): new connections are reset",
			 r->index, cap);
	return 1;
}

struct flow *flow_new(struct relay *r, int client_fd, const struct sockaddr_storage *client,
		      enum intake intake)
{
	struct flow *f;

	fd_budget_take(r->loop.budget, 1);
	if (flow_over_cap(r)) {
		loop_close(&r->loop, &client_fd, CLOSE_RESET);
		return NULL;
	}
	if (!list_empty(&r->free_flows)) {
		f = container_of(r->free_flows.next, struct flow, node);
		list_del(&f->node);
		r->n_free_flows--;
	} else {
		f = malloc(sizeof(*f));
		if (!f) {
			atomic_fetch_sub_explicit(r->shared->flows_live, 1, memory_order_relaxed);
			loop_close(&r->loop, &client_fd, CLOSE_RESET);
			log_error("out of memory for a new flow");
			return NULL;
		}
	}
	memset(f, 0, sizeof(*f));
	f->client_ev.handle = client_ev_handle;
	f->upstream_ev.handle = upstream_ev_handle;
	f->r = r;
	f->client_fd = client_fd;
	f->client = *client;
	f->upstream_fd = -1;
	f->id = ++r->next_flow_id;
	f->created_ms = r->loop.now_ms;
	f->gen = generation_ref(r->gen);
	f->intake = (uint8_t)intake;
	atomic_fetch_add_explicit(&r->counters.flows_total, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->counters.flows_live, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->counters.intake_total[intake], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->counters.intake_live[intake], 1, memory_order_relaxed);
	list_init(&f->node);
	list_init(&f->timer.node);
	f->timer.fire = flow_expire;
	list_init(&f->resume);
	list_add_tail(&r->flows, &f->node);
	return f;
}

static void flow_release_pipe(struct flow *f, struct relay_dir *d)
{
	struct relay *r = f->r;

	if (!d->pipe)
		return;
	if (d->in_pipe)
		pipe_pool_discard(&r->pipes, d->pipe);
	else
		pipe_pool_put(&r->pipes, d->pipe);
	d->pipe = NULL;
	d->in_pipe = 0;
	/* A flow waiting for a pipe can have this one (or its fds). */
	if (!list_empty(&r->pipe_waiters)) {
		struct list *waiter = r->pipe_waiters.next;
		list_del(waiter);
		list_add_tail(&r->resume, waiter);
	}
}

/* The counters of the flow's upstream, in its generation. */
static struct upstream_counters *flow_up_counters(const struct flow *f)
{
	return f->up ? generation_counters(f->gen, f->up, f->r->index) : NULL;
}

/* Sets f->up (a member, or NULL), keeping the live count of each. */
static void flow_use_upstream(struct flow *f, const struct upstream *up)
{
	struct upstream_counters *uc = flow_up_counters(f);

	if (uc)
		atomic_fetch_sub_explicit(&uc->live, 1, memory_order_relaxed);
	f->up = up;
	uc = flow_up_counters(f);
	if (uc)
		atomic_fetch_add_explicit(&uc->live, 1, memory_order_relaxed);
}

/* The next member of f->route not tried yet that has an address (or is
 * direct), made f->up with that address; 0, or -1 with f->up unchanged. */
static int flow_pick_member(struct flow *f, char *why, size_t len)
{
	for (;;) {
		int pos;
		const struct upstream *up =
		    upstream_live_pick(&f->gen->live, f->route, &f->client, f->tried, 0, &pos);
		struct sockaddr_storage addr = { 0 };
		int first = 0;

		if (!up) {
			snprintf(why, len, "every member of group %s is down (on_all_down = reset)",
				 f->route->name);
			return -1;
		}
		if (pos >= 0)
			f->tried |= 1u << pos;
		/* from the address that answered last */
		if (up->url.kind == UPSTREAM_DIRECT ||
		    (first = upstream_live_addr_to_use(&f->gen->live, up, &addr)) >= 0) {
			flow_use_upstream(f, up);
			f->up_addr = addr;
			f->addr_index = f->addr_first = (uint8_t)first;
			return 0;
		}
		upstream_live_error(&f->gen->live, up, why, len);
		if (pos < 0)
			return -1; /* no group: nothing else to try */
	}
}

int flow_take_route(struct flow *f, const struct upstream *route, char *why, size_t len)
{
	struct relay *r = f->r;

	flow_use_upstream(f, NULL);
	if (f->gen != r->gen) {
		generation_unref(f->gen);
		f->gen = generation_ref(r->gen);
	}
	f->route = route;
	f->tried = 0;
	f->retry_until_ms =
	    r->loop.now_ms + r->cfg->connect_timeout_ms + r->cfg->handshake_timeout_ms;
	return flow_pick_member(f, why, len);
}

/* Whether the flow's upstream proxy answered (ok) or could not be reached
 * or failed to answer (why); once per attempt, never for direct. */
static void flow_note_upstream(struct flow *f, int ok, const char *why)
{
	if (!f->up || f->up_noted || f->up->url.kind == UPSTREAM_DIRECT)
		return;
	f->up_noted = 1;
	if (ok)
		upstream_live_addr_worked(&f->gen->live, f->up, f->addr_index);
	upstream_live_note(&f->gen->live, f->up, 0, ok, 0, why, f->r->loop.now_ms);
}

static const unsigned handshake_bounds_ms[HANDSHAKE_BUCKETS - 1] = { HANDSHAKE_BUCKET_BOUNDS_MS };

/* The upstream's handshake succeeded: its latency into the histogram. */
static void flow_observe_handshake(struct flow *f)
{
	struct relay_counters *c = &f->r->counters;
	uint64_t ms = f->r->loop.now_ms - f->connect_ms;
	unsigned b = 0;

	while (b < HANDSHAKE_BUCKETS - 1 && ms > handshake_bounds_ms[b])
		b++;
	atomic_fetch_add_explicit(&c->handshake_buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->handshake_ms_sum, ms, memory_order_relaxed);
	flow_note_upstream(f, 1, NULL);
}

/* f's bytes into the totals and its upstream's, which f leaves. */
static void flow_account(struct flow *f)
{
	struct relay *r = f->r;
	struct upstream_counters *uc = flow_up_counters(f);

	atomic_fetch_add_explicit(&r->counters.bytes_up, f->bytes[DIR_UP], memory_order_relaxed);
	atomic_fetch_add_explicit(&r->counters.bytes_down, f->bytes[DIR_DOWN],
				  memory_order_relaxed);
	if (uc) {
		atomic_fetch_sub_explicit(&uc->live, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&uc->flows, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&uc->bytes_up, f->bytes[DIR_UP], memory_order_relaxed);
		atomic_fetch_add_explicit(&uc->bytes_down, f->bytes[DIR_DOWN],
					  memory_order_relaxed);
	}
	f->bytes[DIR_UP] = f->bytes[DIR_DOWN] = 0;
	f->up = NULL;
}

/* A held or freed direction counted. */
static void flow_count_backlog(struct flow *f, enum backlog_change change)
{
	struct relay_counters *c = &f->r->counters;

	switch (change) {
	case BACKLOG_HELD:
		relay_count(&c->backlog_holds);
		atomic_fetch_add_explicit(&c->backlog_held, 1, memory_order_relaxed);
		break;
	case BACKLOG_FREED:
		atomic_fetch_sub_explicit(&c->backlog_held, 1, memory_order_relaxed);
		break;
	case BACKLOG_SAME:
		break;
	}
}

void flow_destroy(struct flow *f, enum close_how how)
{
	struct relay *r = f->r;

	atomic_fetch_sub_explicit(&r->counters.flows_live, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(r->shared->flows_live, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&r->counters.intake_live[f->intake], 1, memory_order_relaxed);
	flow_account(f);

	if (f->fe)
		f->fe->session_end(f);
	if (f->counted_in) {
		client_limit_release(f->counted_in, &f->client);
		f->counted_in = NULL;
	}
	loop_close(&r->loop, &f->client_fd, how);
	loop_close(&r->loop, &f->upstream_fd, how);
	for (int d = 0; d < 2; d++) {
		flow_release_pipe(f, &f->dir[d]);
		flow_count_backlog(f, backlog_let_go(&f->dir[d].backlog, -1, -1)); /* closed */
	}
	free(f->hs);
	f->hs = NULL;
	free(f->name);
	f->name = NULL;
	dns_cancel(&f->lookup);
	timer_cancel(&f->timer);
	if (list_linked(&f->resume))
		list_del(&f->resume);
	list_del(&f->node);
	generation_unref(f->gen);
	f->gen = NULL;
	/* an event later in this batch may still name it: kept until then */
	f->state = FLOW_DEAD;
	list_add_tail(&r->dead_flows, &f->node);
	loop_fds_released(&r->loop);
}

void flow_reap(struct relay *r)
{
	while (!list_empty(&r->dead_flows)) {
		struct flow *f = container_of(r->dead_flows.next, struct flow, node);
		list_del(&f->node);
		if (r->n_free_flows < FLOW_CACHE_MAX) {
			list_add_tail(&r->free_flows, &f->node);
			r->n_free_flows++;
		} else {
			free(f);
		}
	}
}

const char *flow_describe(const struct flow *f, char *buf, size_t len)
{
	char client[ADDR_STRLEN], dst[ADDR_STRLEN + 260], up[ADDR_STRLEN], kind[32] = "";
	char via[2 * CONFIG_NAME_MAX + 2] = "";

	if (f->fe) /* "socks 10.0.0.2:4711 -> ..." */
		snprintf(kind, sizeof(kind), "%s ", f->fe->name);
	addr_format(&f->client, client, sizeof(client));
	if (f->target.hostname && f->target.addr.ss_family) {
		char a[ADDR_STRLEN];
		snprintf(dst, sizeof(dst), "%s:%u (%s)", f->target.hostname, f->target.port,
			 addr_format(&f->target.addr, a, sizeof(a)));
	} else if (f->target.hostname) {
		snprintf(dst, sizeof(dst), "%s:%u", f->target.hostname, f->target.port);
	} else if (f->target.addr.ss_family) {
		addr_format(&f->target.addr, dst, sizeof(dst));
	} else {
		snprintf(dst, sizeof(dst), "?");
	}
	if (f->route && f->up && f->route != f->up) /* "via group/member" */
		snprintf(via, sizeof(via), "%s/%s", f->route->name, f->up->name);
	else if (f->up)
		snprintf(via, sizeof(via), "%s", f->up->name);
	if (!f->up)
		snprintf(buf, len, "%s%s -> %s", kind, client, dst);
	else if (f->up->url.kind == UPSTREAM_DIRECT)
		snprintf(buf, len, "%s%s -> %s via %s", kind, client, dst, via);
	else
		snprintf(buf, len, "%s%s -> %s via %s (%s %s)", kind, client, dst, via,
			 upstream_kind_name(f->up->url.kind),
			 addr_format(&f->up_addr, up, sizeof(up)));
	return buf;
}

/* Failures a next address of the same name may not have. */
static int rep_is_retryable(uint8_t rep)
{
	return rep == REP_NETWORK_UNREACHABLE || rep == REP_HOST_UNREACHABLE ||
	       rep == REP_REFUSED || rep == REP_TTL_EXPIRED;
}

/* Whether a failure before the tunnel was up is the proxy's own (it could
 * not be reached, went away, spoke nonsense, refused our credentials, or
 * said nothing at all where it should have) rather than the target's,
 * which another member would not reach either. */
static int flow_failure_is_proxys(const struct flow *f, uint8_t rep)
{
	const struct upstream_handshake *hs = f->hs;

	if (f->up->url.kind == UPSTREAM_DIRECT)
		return 0;
	if (f->state == FLOW_CONNECTING)
		return 1;
	if (f->state != FLOW_HANDSHAKE || !hs)
		return 0;
	if (hs->failure == UPSTREAM_FAIL_AUTH || hs->failure == UPSTREAM_FAIL_PROTOCOL)
		return 1;
	if (hs->code)
		return 0; /* it answered for the target */
	/* a timeout: the proxy's only if it owed an answer before reaching
	 * the target (a SOCKS5 greeting); else the target may be slow */
	return rep != REP_TTL_EXPIRED || upstream_handshake_proxy_silent(hs);
}

/* The member's address after the one just tried, round from where the
 * flow started; 0, or -1 when every one was tried. */
static int flow_next_address(struct flow *f, struct sockaddr_storage *next)
{
	unsigned i = f->addr_index + 1u;

	if (upstream_live_addr(&f->gen->live, f->up, i, next) < 0)
		i = 0;
	if (i == f->addr_first || upstream_live_addr(&f->gen->live, f->up, i, next) < 0)
		return -1;
	f->addr_index = (uint8_t)i;
	return 0;
}

/* A failure of the proxy itself before the tunnel was up: counted against
 * it, then the member's next address, else the group's next member, while
 * the connect and handshake timeouts since the first attempt last. 1 when
 * another attempt is under way. */
static int flow_retry_elsewhere(struct flow *f, uint8_t rep, const char *reason)
{
	struct relay *r = f->r;
	char desc[FLOW_DESCRIBE_MAX], why[UPSTREAM_ERROR_MAX];
	struct sockaddr_storage next;

	if (!f->route || !f->up || !flow_failure_is_proxys(f, rep))
		return 0;
	flow_note_upstream(f, 0, reason);
	if (r->loop.now_ms >= f->retry_until_ms)
		return 0;
	flow_describe(f, desc, sizeof(desc));
	if (flow_next_address(f, &next) == 0) {
		f->up_addr = next;
	} else if (!f->route->group || flow_pick_member(f, why, sizeof(why)) < 0) {
		return 0;
	}
	if (loop_log_allowed(&r->loop))
		log_info("flow %u.%llu %s: %s; trying %s", r->index, (unsigned long long)f->id,
			 desc, reason, f->up->name);
	timer_cancel(&f->timer);
	loop_close(&r->loop, &f->upstream_fd, CLOSE_RESET);
	free(f->hs);
	f->hs = NULL;
	f->upstream_readable = 0;
	f->up_noted = 0;
	flow_connect(f);
	return 1;
}

void flow_leave_down_members(struct relay *r)
{
	struct list *q = &r->connect_timers.timers, *last = q->prev, *node, *next;

	if (list_empty(q))
		return;
	/* retried flows go to the queue's end: only those there before */
	for (node = q->next; node != q; node = next) {
		struct flow *f = container_of(node, struct flow, timer.node);
		int done = node == last;

		next = node->next;
		if (f->state == FLOW_CONNECTING && f->route && f->route->group && f->up &&
		    f->up->url.kind != UPSTREAM_DIRECT &&
		    atomic_load_explicit(&upstream_live_of(&f->gen->live, f->up)->down,
					 memory_order_relaxed))
			flow_retry_elsewhere(f, REP_TTL_EXPIRED,
					     "its member went down while connecting");
		if (done)
			break;
	}
}

int flow_fail_rep(struct flow *f, uint8_t rep, const char *fmt, ...)
{
	char desc[FLOW_DESCRIBE_MAX], reason[192];
	int replied;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (flow_retry_elsewhere(f, rep, reason))
		return -1; /* not a failure yet: another member or address is tried */
	if (f->fe && rep_is_retryable(rep) &&
	    (f->state == FLOW_CONNECTING || f->state == FLOW_HANDSHAKE) &&
	    f->fe->retry(f, flow_describe(f, desc, sizeof(desc)), reason))
		return -1; /* not a failure yet: the next address is tried */
	if (f->up && flow_failure_is_proxys(f, rep))
		flow_note_upstream(f, 0, reason);
	atomic_fetch_add_explicit(&f->r->counters.failures[rep < RELAY_FAIL_KINDS ? rep : 1], 1,
				  memory_order_relaxed);
	if (flow_up_counters(f))
		atomic_fetch_add_explicit(&flow_up_counters(f)->failures, 1, memory_order_relaxed);
	/* A SOCKS client owed a reply gets it, and a normal close so that it
	 * arrives; anyone else a reset. Under a flood, lines beyond the
	 * limit are not even formatted. */
	replied = f->fe && f->fe->reply_failure(f, rep, reason);
	if (loop_log_allowed(&f->r->loop)) {
		flow_describe(f, desc, sizeof(desc));
		if (replied)
			log_info("flow %u.%llu %s: %s; replied %#x", f->r->index,
				 (unsigned long long)f->id, desc, reason, rep);
		else
			log_warn("flow %u.%llu %s: %s; client reset", f->r->index,
				 (unsigned long long)f->id, desc, reason);
	}
	flow_destroy(f, replied ? CLOSE_FIN : CLOSE_RESET);
	return -1;
}

/* An intercepted flow the guards refuse: counted as a loop, reset. */
static void flow_refuse(struct flow *f, const char *why)
{
	char desc[FLOW_DESCRIBE_MAX];

	atomic_fetch_add_explicit(&f->r->counters.failures[RELAY_FAIL_LOOP], 1,
				  memory_order_relaxed);
	if (loop_log_allowed(&f->r->loop))
		log_warn("flow %u.%llu %s: %s; client reset", f->r->index,
			 (unsigned long long)f->id, flow_describe(f, desc, sizeof(desc)), why);
	flow_destroy(f, CLOSE_RESET);
}

/* Logs why the flow failed and resets the client. Returns -1 (destroyed). */
static int flow_fail(struct flow *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int flow_fail(struct flow *f, const char *fmt, ...)
{
	char reason[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return flow_fail_rep(f, REP_GENERAL_FAILURE, "%s", reason);
}

uint8_t flow_rep_for_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return REP_REFUSED;
	case ENETUNREACH:
	case ENETDOWN:
		return REP_NETWORK_UNREACHABLE;
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case EADDRNOTAVAIL:
		return REP_HOST_UNREACHABLE;
	case ETIMEDOUT:
		return REP_TTL_EXPIRED;
	case EACCES:
	case EPERM:
		return REP_NOT_ALLOWED;
	default:
		return REP_GENERAL_FAILURE;
	}
}

/* What the upstream's refusal means for a SOCKS client of ours. */
static uint8_t rep_for_upstream(const struct upstream_handshake *hs)
{
	switch (hs->failure) {
	case UPSTREAM_FAIL_REFUSED:
		return REP_REFUSED;
	case UPSTREAM_FAIL_UNREACHABLE:
		/* a SOCKS5 upstream said exactly which */
		return hs->code >= REP_NETWORK_UNREACHABLE && hs->code <= REP_TTL_EXPIRED
			   ? (uint8_t)hs->code
			   : REP_HOST_UNREACHABLE;
	case UPSTREAM_FAIL_DENIED:
		return REP_NOT_ALLOWED;
	case UPSTREAM_FAIL_UNSUPPORTED:
		return REP_ATYP_UNSUPPORTED;
	default:
		return REP_GENERAL_FAILURE;
	}
}

void flow_set_timer(struct flow *f, struct timer_queue *q, unsigned ms)
{
	timer_arm(&f->r->loop, q, &f->timer, ms);
}

static void flow_queue_resume(struct flow *f)
{
	if (!list_linked(&f->resume))
		list_add_tail(&f->r->resume, &f->resume);
}

/* A pipe for one direction, within the worker's fd budget; NULL means the
 * flow waits on r->pipe_waiters until one is given back. */
static struct pipe_pair *flow_get_pipe(struct flow *f)
{
	struct relay *r = f->r;
	struct pipe_pair *p = NULL;

	if (r->pipes.free_list || fd_budget_room(r->loop.budget, 2))
		p = pipe_pool_get(&r->pipes);
	if (!p && !list_linked(&f->resume))
		list_add_tail(&r->pipe_waiters, &f->resume);
	return p;
}

/* What one round of a direction's pump did. */
enum pump_step {
	PUMP_IDLE,   /* nothing to move now */
	PUMP_MOVED,  /* bytes or an EOF went on */
	PUMP_CLOSED, /* the flow ended and was destroyed */
};

/* One side reset or failed: pass the reset on to the other side. */
static enum pump_step flow_pump_broken(struct flow *f, int failed_side)
{
	int err = errno;

	if (log_get_level() >= LOG_LEVEL_DEBUG) {
		char desc[FLOW_DESCRIBE_MAX];
		log_debug("flow %u.%llu %s: %s side: %s; resetting both", f->r->index,
			  (unsigned long long)f->id, flow_describe(f, desc, sizeof(desc)),
			  failed_side == DIR_UP ? "client" : "upstream", strerror(err));
	}
	flow_destroy(f, CLOSE_RESET);
	return PUMP_CLOSED;
}

/* What direction rd's pipe may take now: its capacity, or its backlog's
 * bound, less what it holds (more than the bound after a shrink). */
static size_t flow_pipe_room(const struct relay_dir *rd)
{
	size_t fill = backlog_fill(&rd->backlog, rd->pipe->cap);

	return rd->in_pipe < fill ? fill - rd->in_pipe : 0;
}

/* One splice into direction d's pipe and one out of it, then the
 * half-close once its source ended and the pipe is empty. */
static enum pump_step flow_pump_round(struct flow *f, int d, int src, int dst)
{
	struct relay_dir *rd = &f->dir[d];
	enum pump_step step = PUMP_IDLE;
	ssize_t n;

	if (!rd->eof && (!rd->pipe || flow_pipe_room(rd))) {
		if (!rd->pipe && !(rd->pipe = flow_get_pipe(f)))
			return PUMP_IDLE; /* queued for a pipe */
		n = splice(src, NULL, rd->pipe->wr, NULL, flow_pipe_room(rd),
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			rd->in_pipe += (size_t)n;
		else if (n == 0)
			rd->eof = 1;
		else if (errno != EAGAIN && errno != EINTR)
			return flow_pump_broken(f, d);
		if (n >= 0)
			step = PUMP_MOVED;
	}
	if (rd->in_pipe) {
		n = splice(rd->pipe->rd, NULL, dst, NULL, rd->in_pipe,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			rd->in_pipe -= (size_t)n;
			f->bytes[d] += (uint64_t)n;
			step = PUMP_MOVED;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return flow_pump_broken(f, !d);
		}
	}
	if (rd->eof && !rd->in_pipe && !rd->shut) {
		/* Both ways done: close() sends the last FIN itself. */
		if (f->dir[!d].shut) {
			flow_destroy(f, CLOSE_FIN);
			return PUMP_CLOSED;
		}
		/* Pass the half-close on; the other direction may go on. */
		shutdown(dst, SHUT_WR);
		rd->shut = 1;
	}
	return step;
}

/* Direction d judged after its pump (see backlog.h). */
static void flow_judge_backlog(struct flow *f, int d, int src, int dst)
{
	struct relay_dir *rd = &f->dir[d];
	struct backlog_sample s = {
		.now_ms = f->r->loop.now_ms,
		.delivered = f->bytes[d],
		.in_pipe = rd->in_pipe,
		.src = src,
		.dst = dst,
	};

	flow_count_backlog(f, backlog_judge(&rd->backlog, &s));
}

/* Moves bytes one way until source and destination would both block, or
 * for PUMP_ROUNDS rounds before yielding the loop to other flows. Returns
 * 0, or -1 when the flow was destroyed. */
static int flow_pump(struct flow *f, int d)
{
	struct relay_dir *rd = &f->dir[d];
	int src = d == DIR_UP ? f->client_fd : f->upstream_fd;
	int dst = d == DIR_UP ? f->upstream_fd : f->client_fd;
	int moved = 0;

	for (unsigned round = 0;; round++) {
		enum pump_step step;

		if (round == PUMP_ROUNDS) {
			flow_queue_resume(f);
			break;
		}
		step = flow_pump_round(f, d, src, dst);
		if (step == PUMP_CLOSED)
			return -1;
		if (step == PUMP_IDLE)
			break;
		moved = 1;
	}
	if (rd->pipe && !rd->in_pipe)
		flow_release_pipe(f, rd);
	if (moved)
		f->last_active = f->r->loop.now_ms;
	flow_judge_backlog(f, d, src, dst);
	return 0;
}

/* An event on the socket that is the source of direction d (and the
 * destination of the other one). Writability matters only to a direction
 * with bytes waiting in its pipe: any event on a writable socket carries
 * EPOLLOUT, whatever raised it. */
static void flow_relay_event(struct flow *f, uint32_t events, int d)
{
	if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && flow_pump(f, d) < 0)
		return;
	if ((events & (EPOLLHUP | EPOLLERR)) || ((events & EPOLLOUT) && f->dir[!d].in_pipe))
		flow_pump(f, !d);
}

void flow_start_relay(struct flow *f)
{
	free(f->hs);
	f->hs = NULL;
	f->state = FLOW_RELAY;
	f->last_active = f->r->loop.now_ms;
	flow_set_timer(f, &f->r->idle_timers, f->r->cfg->idle_timeout_ms);
	backlog_start(&f->dir[DIR_UP].backlog, f->last_active, f->client_fd);
	backlog_start(&f->dir[DIR_DOWN].backlog, f->last_active, f->upstream_fd);
	/* Edge-triggered: an edge seen before the relay started was not
	 * acted on, so look now where one was. */
	if (f->client_readable && flow_pump(f, DIR_UP) < 0)
		return;
	if (f->upstream_readable)
		flow_pump(f, DIR_DOWN);
}

void flow_end_attempt(struct flow *f)
{
	loop_close(&f->r->loop, &f->upstream_fd, CLOSE_FIN);
	for (int d = 0; d < 2; d++) {
		/* the client socket stays for the next request */
		flow_count_backlog(f, backlog_let_go(&f->dir[d].backlog,
						     d == DIR_UP ? f->client_fd : -1,
						     d == DIR_DOWN ? f->client_fd : -1));
		flow_release_pipe(f, &f->dir[d]);
	}
	memset(f->dir, 0, sizeof(f->dir));
	free(f->hs);
	f->hs = NULL;
	flow_account(f);
	f->route = NULL;
	f->up_noted = 0;
	f->tried = 0;
	f->upstream_readable = f->client_readable = 0;
	memset(&f->target, 0, sizeof(f->target));
	f->state = FLOW_FRONTEND;
	f->last_active = f->r->loop.now_ms;
	flow_set_timer(f, &f->r->idle_timers, f->r->cfg->idle_timeout_ms);
}

/* Sends the codec's bytes. The socket has just connected, or the upstream
 * has just answered everything sent before, so its send buffer is empty and
 * far larger than any handshake message: one send takes them all. */
static int flow_send_handshake(struct flow *f, const uint8_t *out)
{
	size_t len = f->hs->out_len;
	ssize_t n = send(f->upstream_fd, out, len, MSG_NOSIGNAL);

	if (n == (ssize_t)len)
		return 0;
	return flow_fail(f, "send to upstream: %s", n < 0 ? strerror(errno) : "short write");
}

/* The first message to the upstream: with optimistic data (the request
 * is in it: a warm session's, a pipelined SOCKS5 one's, SOCKS4's and
 * HTTP's), the client's first bytes ride behind it in the same segment.
 * They are only peeked: they stay in the client socket until the tunnel
 * is up (flow_take_early), so a dead warm session loses nothing. */
static int flow_send_request(struct flow *f, const uint8_t *out)
{
	uint8_t early[FLOW_EARLY_MAX];
	struct iovec iov[2] = { { (void *)out, f->hs->out_len }, { early, 0 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	int with_request =
	    f->warm || f->up->pipeline ||
	    (f->up->url.kind != UPSTREAM_SOCKS5 && f->up->url.kind != UPSTREAM_SOCKS5H);
	ssize_t n;

	if (!f->up->optimistic || f->fe || !with_request)
		return flow_send_handshake(f, out);
	n = recv(f->client_fd, early, sizeof(early), MSG_PEEK | MSG_DONTWAIT);
	iov[1].iov_len = n > 0 ? (size_t)n : 0;
	n = sendmsg(f->upstream_fd, &msg, MSG_NOSIGNAL);
	if (n != (ssize_t)(iov[0].iov_len + iov[1].iov_len))
		return flow_fail(f, "send to upstream: %s",
				 n < 0 ? strerror(errno) : "short write");
	f->early_sent = (uint16_t)iov[1].iov_len;
	if (f->early_sent)
		atomic_fetch_add_explicit(&f->r->counters.optimistic, 1, memory_order_relaxed);
	return 0;
}

/* The tunnel is up: the client bytes that went behind the request leave
 * the client socket (they were peeked) and count as the flow's. */
static int flow_take_early(struct flow *f)
{
	uint8_t sink[FLOW_EARLY_MAX];
	ssize_t n;

	if (!f->early_sent)
		return 0;
	n = recv(f->client_fd, sink, f->early_sent, MSG_DONTWAIT);
	if (n != f->early_sent)
		return flow_fail(f, "taking the %u bytes sent ahead from the client: %s",
				 f->early_sent, n < 0 ? strerror(errno) : "short read");
	f->bytes[DIR_UP] += (uint64_t)n;
	f->early_sent = 0;
	return 0;
}

/* Bytes the target sent right behind the handshake reply (server-first
 * protocols) go to the client before the relay starts. The client socket is
 * fresh, with an empty send buffer far larger than them, so one send takes
 * them all; anything else is reported rather than silently dropped. */
static int flow_send_early_data(struct flow *f, const uint8_t *data, size_t len)
{
	ssize_t n = send(f->client_fd, data, len, MSG_NOSIGNAL);

	if (n == (ssize_t)len)
		return 0;
	return flow_fail(f, "passing %zu early bytes to the client: %s", len,
			 n < 0 ? strerror(errno) : "short write");
}

/* Tells the front end its tunnel is up: 1 when the core has nothing more
 * to do (f destroyed, or the front end carries on itself). early: the
 * target spoke before its client, which a front end that forwards
 * requests itself cannot pass on. */
static int flow_frontend_takes_over(struct flow *f, int early)
{
	int rc = f->fe->tunnel_up(f);

	if (rc > 0 && early)
		flow_fail(f, "the target spoke before the request was sent");
	return rc != 0;
}

static int flow_open_upstream(struct flow *f);

/* A warm session died before it answered its request (the upstream had
 * closed it, or restarted): the flow connects afresh, once, and the client
 * sees nothing of it (its first bytes were only peeked). */
static void flow_warm_dead(struct flow *f, const char *why)
{
	char desc[FLOW_DESCRIBE_MAX];

	log_debug("flow %u.%llu %s: warm session %s; connecting afresh", f->r->index,
		  (unsigned long long)f->id, flow_describe(f, desc, sizeof(desc)), why);
	atomic_fetch_add_explicit(&f->r->counters.warm_retried, 1, memory_order_relaxed);
	loop_close(&f->r->loop, &f->upstream_fd, CLOSE_RESET);
	free(f->hs);
	f->hs = NULL;
	f->warm = 0;
	f->warm_retried = 1;
	f->early_sent = 0;
	f->upstream_readable = 0;
	flow_connect(f);
}

static void flow_read_handshake(struct flow *f)
{
	uint8_t buf[2048], out[UPSTREAM_OUT_MAX];

	for (;;) {
		size_t consumed = 0;
		enum upstream_result res;
		ssize_t n = recv(f->upstream_fd, buf, sizeof(buf), 0);

		if (n <= 0 && f->warm && (n == 0 || (errno != EAGAIN && errno != EINTR)) &&
		    !f->hs->have) {
			flow_warm_dead(f, n == 0 ? "closed" : strerror(errno));
			return;
		}
		if (n == 0) {
			flow_fail(f, "upstream closed the connection during the handshake");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				flow_fail(f, "read from upstream: %s", strerror(errno));
			return;
		}
		res = upstream_handshake_feed(f->hs, buf, (size_t)n, &consumed, out);
		if (res == UPSTREAM_ERROR) {
			/* a reply refusing the target: the proxy itself is up */
			if (f->hs->code)
				flow_note_upstream(f, 1, NULL);
			flow_fail_rep(f, rep_for_upstream(f->hs), "%s", f->hs->reason);
			return;
		}
		if (res == UPSTREAM_DONE) {
			flow_observe_handshake(f);
			if (flow_take_early(f) < 0)
				return;
			/* a SOCKS client hears of its tunnel before any target byte */
			if (f->fe && flow_frontend_takes_over(f, consumed < (size_t)n))
				return;
			if (consumed < (size_t)n &&
			    flow_send_early_data(f, buf + consumed, (size_t)n - consumed) < 0)
				return;
			/* More may be queued (a full buffer), or the target's FIN
			 * right behind its first bytes (optimistic data gets the
			 * whole answer at once): its edge was this one, so the
			 * relay must look. */
			f->upstream_readable = 1;
			flow_start_relay(f);
			return;
		}
		if (f->hs->out_len && flow_send_handshake(f, out) < 0)
			return;
		if (n < (ssize_t)sizeof(buf))
			return; /* drained; the next reply raises a new edge */
	}
}

/* Optimistic data: whether the client has sent anything yet. */
static int flow_client_spoke(const struct flow *f)
{
	uint8_t byte;
	return recv(f->client_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static void flow_upstream_connected(struct flow *f)
{
	const struct config *cfg = f->r->cfg;
	uint8_t out[UPSTREAM_OUT_MAX];
	int rc;

	if (f->up->url.kind == UPSTREAM_DIRECT ||
	    (f->absolute_form && f->up->url.kind == UPSTREAM_HTTP)) {
		flow_note_upstream(f, 1, NULL); /* a proxy that took the connection */
		if (f->fe && flow_frontend_takes_over(f, 0))
			return;
		flow_start_relay(f);
		return;
	}
	/* optimistic: the client's first bytes go with the request, so wait
	 * for them (a server-first protocol, for at most sniff_timeout) */
	if (f->up->optimistic && !f->fe && !f->data_waited && !flow_client_spoke(f)) {
		f->awaiting_data = f->data_waited = 1;
		flow_set_timer(f, &f->r->sniff_timers, cfg->sniff_timeout_ms);
		return;
	}
	f->awaiting_data = 0;
	f->hs = malloc(sizeof(*f->hs));
	if (!f->hs) {
		flow_fail(f, "out of memory");
		return;
	}
	rc = f->warm
		 ? upstream_handshake_begin_resume(f->hs, &f->up->url, &f->target, out)
		 : upstream_handshake_begin(f->hs, &f->up->url, &f->target, f->up->pipeline, out);
	if (rc < 0) {
		flow_fail(f, "%s", f->hs->reason);
		return;
	}
	f->state = FLOW_HANDSHAKE;
	flow_set_timer(f, &f->r->handshake_timers, cfg->handshake_timeout_ms);
	/* The reply cannot be there yet: its arrival raises EPOLLIN. */
	flow_send_request(f, out);
}

static void flow_upstream_event(struct flow *f, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	/* e.g. a direct target's banner arriving with the connect completion */
	if (f->state != FLOW_RELAY && (events & (EPOLLIN | EPOLLRDHUP)))
		f->upstream_readable = 1;
	switch (f->state) {
	case FLOW_CONNECTING:
		if ((events & (EPOLLERR | EPOLLHUP)) && f->warm) {
			flow_warm_dead(f, "reset");
			return;
		}
		if (events & (EPOLLERR | EPOLLHUP)) {
			/* Only a failed connect needs SO_ERROR: for the reason. */
			char a[ADDR_STRLEN];
			const struct sockaddr_storage *to =
			    f->up->url.kind == UPSTREAM_DIRECT ? &f->target.addr : &f->up_addr;
			if (getsockopt(f->upstream_fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
			    !err)
				err = ECONNRESET;
			flow_fail_rep(f, flow_rep_for_errno(err), "connect to %s: %s",
				      addr_format(to, a, sizeof(a)), strerror(err));
			return;
		}
		if ((events & EPOLLOUT) && !f->awaiting_data)
			flow_upstream_connected(f);
		return;
	case FLOW_HANDSHAKE:
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			flow_read_handshake(f);
		return;
	case FLOW_RELAY:
		flow_relay_event(f, events, DIR_DOWN);
		return;
	default:
		if (f->fe)
			f->fe->upstream_event(f, events);
		return;
	}
}

static void flow_client_event(struct flow *f, uint32_t events)
{
	if (f->fe && (f->state == FLOW_REQUEST || f->state == FLOW_BIND_WAIT ||
		      f->state == FLOW_UDP || f->state == FLOW_FRONTEND)) {
		f->fe->client_event(f, events);
		return;
	}
	if (f->state != FLOW_RELAY) {
		if (events & (EPOLLIN | EPOLLRDHUP))
			f->client_readable = 1;
		if (f->awaiting_data && (events & (EPOLLIN | EPOLLRDHUP)) &&
		    !(events & (EPOLLERR | EPOLLHUP))) {
			flow_upstream_connected(f); /* the bytes to send ahead came */
			return;
		}
		if (f->state == FLOW_SNIFFING && !(events & (EPOLLERR | EPOLLHUP))) {
			flow_sniff(f);
			return;
		}
		/* Client data waits in the socket until the tunnel is up; only a
		 * dead client ends the flow early. */
		if (events & (EPOLLERR | EPOLLHUP)) {
			char desc[FLOW_DESCRIBE_MAX];
			log_debug("flow %u.%llu %s: client gone before the tunnel was up",
				  f->r->index, (unsigned long long)f->id,
				  flow_describe(f, desc, sizeof(desc)));
			flow_destroy(f, CLOSE_RESET);
		}
		return;
	}
	flow_relay_event(f, events, DIR_UP);
}

/* A flow destroyed by an earlier event of the batch has nothing to do. */
static void client_ev_handle(struct ev *ev, uint32_t events)
{
	struct flow *f = container_of(ev, struct flow, client_ev);

	if (f->state != FLOW_DEAD)
		flow_client_event(f, events);
}

static void upstream_ev_handle(struct ev *ev, uint32_t events)
{
	struct flow *f = container_of(ev, struct flow, upstream_ev);

	if (f->state != FLOW_DEAD)
		flow_upstream_event(f, events);
}

static void flow_resume(struct list *resume_node)
{
	struct flow *f = container_of(resume_node, struct flow, resume);

	list_del(&f->resume);
	if (f->state != FLOW_RELAY)
		return;
	if (flow_pump(f, DIR_UP) == 0)
		flow_pump(f, DIR_DOWN);
}

void flow_resume_queued(struct relay *r)
{
	struct list *last = r->resume.prev;
	struct list *node;

	/* only those queued before this pass, so a busy flow cannot hold the
	 * loop */
	if (list_empty(&r->resume))
		return;
	do {
		node = r->resume.next;
		flow_resume(node);
	} while (node != last && !list_empty(&r->resume));
}

int flow_is_local_address(struct flow *f, const struct sockaddr_storage *addr)
{
	return dst_guard_is_local(f->r->dst_guard, addr, f->r->loop.now_ms);
}

/* Loop guard, before anything else: a flow to sockgated's own listener. A
 * connection that was not NATed reports its own local address as the
 * original destination, so it is caught here too. */
static const char *flow_own_listener(struct flow *f)
{
	if (addr_port(&f->target.addr) == f->r->cfg->redirect_port &&
	    flow_is_local_address(f, &f->target.addr))
		return "destination is sockgated's own listener (not redirected, or a loop)";
	return NULL;
}

static int flow_open_upstream(struct flow *f)
{
	const struct config *cfg = f->r->cfg;
	const struct sockaddr_storage *to =
	    f->up->url.kind == UPSTREAM_DIRECT ? &f->target.addr : &f->up_addr;
	int one = 1;
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	f->upstream_fd = fd;
	f->connect_ms = f->r->loop.now_ms;
	fd_budget_take(f->r->loop.budget, 1);
	/* The mark is what the rules exempt: without it this socket could be
	 * intercepted again. */
	if (relay_mark_socket(fd, cfg->mark) < 0)
		return -errno;
	tcp_relay_socket_setup(fd); /* best effort: the idle timeout still applies */
	/* the first message rides in the SYN where the upstream gave a cookie
	 * before; elsewhere the kernel falls back to a plain handshake */
	if (f->up->fastopen && f->up->url.kind != UPSTREAM_DIRECT)
		setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)to, addr_len(to)) < 0 && errno != EINPROGRESS)
		return -errno;
	return loop_add(&f->r->loop, fd, &f->upstream_ev, FLOW_EVENTS);
}

/* One of the client's max_flows_per_client; -1 (reset, destroyed) when it
 * has them all. */
static int flow_take_client_slot(struct flow *f)
{
	struct relay *r = f->r;
	char a[ADDR_STRLEN];
	int rc = client_limit_take(r->shared->flow_limits, &f->client);

	if (rc >= 0) {
		f->counted_in = rc ? r->shared->flow_limits : NULL;
		return 0;
	}
	atomic_fetch_add_explicit(&r->counters.client_limited, 1, memory_order_relaxed);
	if (loop_log_allowed(&r->loop))
		log_warn("flow %u.%llu: %s has %u intercepted flows already "
			 "(max_flows_per_client); client reset",
			 r->index, (unsigned long long)f->id, addr_format(&f->client, a, sizeof(a)),
			 r->cfg->max_flows_per_client);
	flow_destroy(f, CLOSE_RESET);
	return -1;
}

/* Errors of this router's own (no fd, no buffer, no mark), not of the
 * member: another member would not help, and none is counted as down. */
static int flow_local_error(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EPERM ||
	       err == EACCES;
}

/* A ready warm session to f->up, when its pool has one: 1 taken (the
 * request goes once the socket says it is writable, at once). */
static int flow_take_warm(struct flow *f)
{
	struct relay *r = f->r;
	uint8_t index;
	int fd;

	if (f->warm_retried || f->up->url.kind == UPSTREAM_DIRECT)
		return 0;
	fd = warm_take(r, f->up, &f->up_addr, &index);
	if (fd < 0)
		return 0;
	f->upstream_fd = fd;
	f->addr_index = index;
	f->connect_ms = r->loop.now_ms;
	f->warm = 1;
	f->state = FLOW_CONNECTING;
	flow_set_timer(f, &r->connect_timers, r->cfg->connect_timeout_ms);
	if (loop_add(&r->loop, fd, &f->upstream_ev, FLOW_EVENTS) < 0)
		flow_warm_dead(f, "epoll failed");
	return 1;
}

int flow_connect(struct flow *f)
{
	int rc;

	if (flow_take_warm(f))
		return 0;
	rc = flow_open_upstream(f);

	if (rc < 0 && flow_local_error(-rc))
		return flow_fail_rep(f, flow_rep_for_errno(-rc),
				     "opening the upstream connection: %s", strerror(-rc));
	f->state = FLOW_CONNECTING;
	if (rc < 0)
		return flow_fail_rep(f, flow_rep_for_errno(-rc),
				     "opening the upstream connection: %s", strerror(-rc));
	flow_set_timer(f, &f->r->connect_timers, f->r->cfg->connect_timeout_ms);
	return 0;
}

/* Routes f by its name or address, checks for loops, and connects. */
static void flow_route_and_open(struct flow *f)
{
	struct relay *r = f->r;
	const struct upstream *up;
	char why[UPSTREAM_ERROR_MAX];

	timer_cancel(&f->timer);
	/* [route]: its rules, then a name's route, then the address's */
	up = relay_route(r, r->gen, &f->client, &f->target.addr, f->target.hostname, NULL);
	if (flow_take_route(f, up, why, sizeof(why)) < 0) {
		flow_fail_rep(f, REP_NETWORK_UNREACHABLE, "%s", why);
		return;
	}
	if (f->target.name_only && f->up->url.kind == UPSTREAM_DIRECT) {
		flow_look_up(f); /* a fake address: the real one first */
		return;
	}
	flow_connect(f);
}

/* ---- fake-IP: flows to the pool go by their name ---- */

static void flow_looked_up(void *arg, const struct sockaddr_storage *addrs, size_t n,
			   unsigned ttl_s, const char *err)
{
	struct flow *f = arg;
	struct relay *r = f->r;
	const char *guard;
	(void)ttl_s; /* looked up for one connection */

	if (!n) {
		flow_fail_rep(f, REP_HOST_UNREACHABLE, "cannot resolve \"%s\": %s",
			      f->target.hostname, err);
		return;
	}
	f->target.addr = addrs[0];
	addr_unmap_v4(&f->target.addr);
	f->target.name_only = 0;
	/* the real address meets the same guard an intercepted one does */
	guard = dst_guard_intercepted(r->dst_guard, r->cfg, &f->client, &f->target.addr,
				      r->loop.now_ms);
	if (guard) {
		flow_refuse(f, guard);
		return;
	}
	flow_connect(f);
}

/* A fake-IP flow routed direct: the router looks the name up itself. */
static void flow_look_up(struct flow *f)
{
	struct relay *r = f->r;

	if (!r->dns) {
		flow_fail_rep(f, REP_GENERAL_FAILURE, "no resolver for \"%s\"", f->target.hostname);
		return;
	}
	f->state = FLOW_RESOLVING;
	flow_set_timer(f, &r->connect_timers, r->cfg->connect_timeout_ms);
	/* the last thing done here: the answer may come at once */
	dns_resolve(r->dns, f->target.hostname, f->target.port, &f->client, flow_looked_up, f,
		    &f->lookup);
}

/* A flow to a fake-IP pool address: its name, or a reset when the table
 * has none (any more); 0, or -1 when f was destroyed. */
static int flow_fake_name(struct flow *f)
{
	struct relay *r = f->r;
	char name[DOMAIN_NAME_MAX + 1];

	int rc = r->shared->fakeip ? fakeip_name_of(r->shared->fakeip, &f->target.addr, name) : -1;

	if (rc == -1)
		return 0; /* no pool address */
	if (rc < 0 || !(f->name = strdup(name))) {
		relay_count(&r->counters.dns.fake_unknown);
		flow_refuse(f, "a fake-IP address with no name (any more): the client kept it "
			       "past its TTL, or the table was full");
		return -1;
	}
	f->target.hostname = f->name;
	f->target.port = addr_port(&f->target.addr);
	f->target.name_only = 1;
	return 0;
}

/* ---- [intake] sniff: a name from the client's first bytes ---- */

/* The client's first bytes, looked at without taking them (they are
 * spliced on unchanged later): a name, or enough seen to go without. */
static void flow_sniff(struct flow *f)
{
	uint8_t buf[SNIFF_TLS_MAX];
	char name[SNIFF_NAME_MAX + 1];
	ssize_t n = recv(f->client_fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	enum sniff_result got;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	got = n > 0 ? sniff_name(f->r->cfg->sniff, buf, (size_t)n, name) : SNIFF_NOTHING;
	/* a full buffer, or the client done sending: nothing more to wait for */
	if (got == SNIFF_MORE && (size_t)n < sizeof(buf))
		return;
	if (got == SNIFF_FOUND && (f->name = strdup(name))) {
		f->target.hostname = f->name;
		f->target.port = addr_port(&f->target.addr);
	}
	flow_route_and_open(f);
}

void flow_accept(struct relay *r, int client_fd, const struct sockaddr_storage *client, int family,
		 enum intake intake)
{
	const char *guard;
	struct flow *f = flow_new(r, client_fd, client,
				  intake == INTAKE_TPROXY ? INTAKE_TPROXY : INTAKE_REDIRECT);
	int rc;

	if (!f)
		return;
	if (flow_take_client_slot(f) < 0)
		return;
	rc = intake_original_dst(intake, client_fd, family, &f->target.addr);
	if (rc < 0) {
		if (intake == INTAKE_REDIRECT)
			flow_fail(f,
				  "no NAT original destination (%s): the connection was not "
				  "redirected",
				  strerror(-rc));
		else
			flow_fail(f, "getsockname: %s", strerror(-rc));
		return;
	}
	addr_unmap_v4(&f->target.addr);
	guard = flow_own_listener(f);
	if (!guard)
		guard = dst_guard_intercepted(r->dst_guard, r->cfg, &f->client, &f->target.addr,
					      r->loop.now_ms);
	if (guard) {
		flow_refuse(f, guard);
		return;
	}
	rc = loop_add(&r->loop, client_fd, &f->client_ev, FLOW_EVENTS);
	if (rc < 0) {
		flow_fail(f, "epoll: %s", strerror(-rc));
		return;
	}
	if (flow_fake_name(f) < 0)
		return;
	if (!r->cfg->sniff || f->target.name_only) {
		flow_route_and_open(f);
		return;
	}
	/* what has come is looked at on the client's first event (at once
	 * when it is there already) */
	f->state = FLOW_SNIFFING;
	flow_set_timer(f, &r->sniff_timers, r->cfg->sniff_timeout_ms);
}

static void flow_expire(struct timer *t)
{
	struct flow *f = container_of(t, struct flow, timer);
	struct relay *r = f->r;
	const struct config *cfg = r->cfg;
	char desc[FLOW_DESCRIBE_MAX];

	switch (f->state) {
	case FLOW_REQUEST:
		log_debug("flow %u.%llu %s: no complete request within %u ms, closed", r->index,
			  (unsigned long long)f->id, flow_describe(f, desc, sizeof(desc)),
			  cfg->handshake_timeout_ms);
		flow_destroy(f, CLOSE_RESET);
		return;
	case FLOW_RESOLVING:
		flow_fail_rep(f, REP_HOST_UNREACHABLE, "name lookup timed out after %u ms",
			      cfg->connect_timeout_ms);
		return;
	case FLOW_SNIFFING:
		flow_route_and_open(f); /* no name within the bound: by address */
		return;
	case FLOW_CONNECTING:
		if (f->awaiting_data) {
			flow_upstream_connected(f); /* the client says nothing first */
			return;
		}
		flow_fail_rep(f, REP_TTL_EXPIRED, "connect timed out after %u ms",
			      cfg->connect_timeout_ms);
		return;
	case FLOW_HANDSHAKE:
		flow_fail_rep(
		    f, REP_TTL_EXPIRED, "upstream handshake timed out after %u ms%s",
		    cfg->handshake_timeout_ms,
		    upstream_handshake_stalled_pipeline(f->hs)
			? " (the server answered the greeting, then nothing: if it cannot "
			  "take pipelined requests, set pipeline = no)"
			: "");
		return;
	case FLOW_BIND_WAIT:
		flow_fail_rep(f, REP_TTL_EXPIRED, "BIND: no connection within %u ms",
			      cfg->socks.bind_timeout_ms);
		return;
	case FLOW_UDP:
	case FLOW_RELAY:
	case FLOW_FRONTEND:
		if (f->last_active + cfg->idle_timeout_ms > r->loop.now_ms) {
			/* Active since queued: requeue at its real deadline. */
			flow_set_timer(
			    f, &r->idle_timers,
			    (unsigned)(f->last_active + cfg->idle_timeout_ms - r->loop.now_ms));
			return;
		}
		log_debug("flow %u.%llu %s: idle for %u ms, closed", r->index,
			  (unsigned long long)f->id, flow_describe(f, desc, sizeof(desc)),
			  cfg->idle_timeout_ms);
		flow_destroy(f, CLOSE_RESET);
		return;
	case FLOW_DEAD:
		return; /* off every timer queue since its destruction */
	}
}

void flow_close_all(struct relay *r)
{
	while (!list_empty(&r->flows))
		flow_destroy(container_of(r->flows.next, struct flow, node), CLOSE_FIN);
}

static const char *const state_names[] = {
	[FLOW_REQUEST] = "socks-request",
	[FLOW_RESOLVING] = "resolving",
	[FLOW_SNIFFING] = "sniffing",
	[FLOW_CONNECTING] = "connecting",
	[FLOW_HANDSHAKE] = "handshake",
	[FLOW_BIND_WAIT] = "bind-wait",
	[FLOW_UDP] = "udp",
	[FLOW_RELAY] = "relay",
	[FLOW_DEAD] = "dead",
};

/* What a listing shows of f's client and destination (a SOCKS client's
 * name when it asked for one). */
struct flow_names {
	char client[ADDR_STRLEN], dst[ADDR_STRLEN + 260];
};

static void flow_names(const struct flow *f, struct flow_names *n)
{
	char a[ADDR_STRLEN];

	addr_format(&f->client, n->client, sizeof(n->client));
	if (f->target.hostname && f->target.addr.ss_family) /* the name beside the address */
		snprintf(n->dst, sizeof(n->dst), "%s:%u (%s)", f->target.hostname, f->target.port,
			 addr_format(&f->target.addr, a, sizeof(a)));
	else if (f->target.hostname)
		snprintf(n->dst, sizeof(n->dst), "%s:%u", f->target.hostname, f->target.port);
	else if (f->target.addr.ss_family)
		addr_format(&f->target.addr, n->dst, sizeof(n->dst));
	else
		snprintf(n->dst, sizeof(n->dst), "-");
}

static const char *flow_intake_name(const struct flow *f)
{
	return f->fe ? f->fe->name : intake_names[f->intake];
}

void flow_snapshot(struct relay *r, FILE *out)
{
	for (struct list *n = r->flows.next; n != &r->flows; n = n->next) {
		const struct flow *f = container_of(n, struct flow, node);
		struct flow_names fn;

		flow_names(f, &fn);
		fprintf(out, "%u.%llu %s %s %s -> %s via %s up %llu down %llu age %.1fs\n",
			r->index, (unsigned long long)f->id, flow_intake_name(f),
			state_names[f->state], fn.client, fn.dst, f->up ? f->up->name : "-",
			(unsigned long long)f->bytes[DIR_UP],
			(unsigned long long)f->bytes[DIR_DOWN],
			(double)(r->loop.now_ms - f->created_ms) / 1000.0);
	}
}

void flow_snapshot_json(struct relay *r, json_t *list)
{
	for (struct list *n = r->flows.next; n != &r->flows; n = n->next) {
		const struct flow *f = container_of(n, struct flow, node);
		struct flow_names fn;

		flow_names(f, &fn);
		json_array_append_new(
		    list,
		    json_pack("{s:I, s:I, s:s, s:s, s:s, s:o*, s:o*, s:s, s:s, s:I, s:I, s:I}",
			      "worker", (json_int_t)r->index, "id", (json_int_t)f->id, "intake",
			      flow_intake_name(f), "protocol", "tcp", "client", fn.client,
			      "destination", json_text(fn.dst), "name",
			      f->target.hostname ? json_text(f->target.hostname) : json_null(),
			      "upstream", f->up ? f->up->name : "", "state", state_names[f->state],
			      "bytes_up", (json_int_t)f->bytes[DIR_UP], "bytes_down",
			      (json_int_t)f->bytes[DIR_DOWN], "age_ms",
			      (json_int_t)(r->loop.now_ms - f->created_ms)));
	}
}

void flow_free_cache(struct relay *r)
{
	flow_reap(r);
	while (!list_empty(&r->free_flows)) {
		struct flow *f = container_of(r->free_flows.next, struct flow, node);
		list_del(&f->node);
		free(f);
	}
	r->n_free_flows = 0;
}
