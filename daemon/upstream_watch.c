/* Upstream names looked up again, group members checked (see
 * upstream_watch.h). One probe per upstream of the watched generation: a
 * lookup and a check may be under way at once, each at most one. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "dns.h"
#include "fd_budget.h"
#include "generation.h"
#include "relay.h"
#include "udp_control.h"
#include "upstream.h"
#include "upstream_live.h"
#include "upstream_watch.h"

/* Lookups under way at once: the resolver's per-client cap. */
#define WATCH_LOOKUPS_MAX 8

enum probe_stage {
	PROBE_IDLE,
	PROBE_CONNECTING, /* TCP to the member */
	PROBE_HANDSHAKE,  /* its greeting, or a tunnel to check_target */
	PROBE_UDP,	  /* a UDP ASSOCIATE after a good TCP check */
};

struct probe {
	struct ev ev;
	struct upstream_watch *w;
	size_t index; /* in the generation's upstreams */
	enum probe_stage stage;
	int fd;
	uint64_t started_ms, deadline_ms, next_ms;
	struct sockaddr_storage addr;
	struct upstream_target target;
	struct upstream_handshake hs;
	uint8_t out[UPSTREAM_OUT_MAX];
	struct udp_control_setup *udp;
	struct dns_query *lookup;
};

struct upstream_watch {
	struct relay *r;
	struct generation *gen; /* watched; a reference */
	struct dns *dns;
	struct probe *probes; /* [gen's n_upstreams] */
	unsigned lookups;     /* under way */
};

static const struct upstream *probe_upstream(const struct probe *p)
{
	return &p->w->gen->cfg->upstreams[p->index];
}

static const struct upstream_group *probe_group(const struct probe *p)
{
	return upstream_live_of(&p->w->gen->live, probe_upstream(p))->governed_by;
}

static void probe_close(struct probe *p)
{
	loop_close(&p->w->r->loop, &p->fd, CLOSE_RESET);
	free(p->udp);
	p->udp = NULL;
}

/* The check is over: the next one after the group's interval, or, after
 * a failure of a member still up, after check_timeout, so that down_after
 * failures in a row take it down in a few timeouts, not a few intervals. */
static void probe_done(struct probe *p, int failed)
{
	struct relay *r = p->w->r;
	const struct upstream_group *g = probe_group(p);
	int down = atomic_load_explicit(
	    &upstream_live_of(&p->w->gen->live, probe_upstream(p))->down, memory_order_relaxed);

	probe_close(p);
	p->stage = PROBE_IDLE;
	p->next_ms =
	    r->loop.now_ms + (failed && !down ? g->check_timeout_ms : g->check_interval_ms);
}

static void probe_fail(struct probe *p, const char *why)
{
	struct relay *r = p->w->r;
	char what[UPSTREAM_ERROR_MAX];

	if (p->stage == PROBE_UDP) {
		upstream_live_note_udp(&p->w->gen->live, probe_upstream(p), 0, why);
	} else {
		snprintf(what, sizeof(what), "check: %s", why);
		upstream_live_note(&p->w->gen->live, probe_upstream(p), 1, 0, 0, what,
				   r->loop.now_ms);
	}
	probe_done(p, p->stage != PROBE_UDP);
}

/* A marked, non-blocking connection to the member's first address. */
static int probe_connect(struct probe *p, char *why, size_t len)
{
	struct relay *r = p->w->r;
	int one = 1;

	if (!fd_budget_room(r->loop.budget, 1)) {
		snprintf(why, len, "no file descriptor to spare");
		return -1;
	}
	p->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		return -1;
	}
	fd_budget_take(r->loop.budget, 1);
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (relay_mark_socket(p->fd, r->cfg->mark) < 0 ||
	    (connect(p->fd, (const struct sockaddr *)&p->addr, addr_len(&p->addr)) < 0 &&
	     errno != EINPROGRESS) ||
	    loop_add(&r->loop, p->fd, &p->ev, EPOLLOUT | EPOLLIN | EPOLLRDHUP) < 0) {
		snprintf(why, len, "connect: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void probe_start(struct probe *p)
{
	struct relay *r = p->w->r;
	char why[UPSTREAM_ERROR_MAX];

	p->started_ms = r->loop.now_ms;
	p->deadline_ms = r->loop.now_ms + probe_group(p)->check_timeout_ms;
	p->stage = PROBE_CONNECTING;
	if (upstream_live_addr_to_use(&p->w->gen->live, probe_upstream(p), &p->addr) < 0) {
		upstream_live_error(&p->w->gen->live, probe_upstream(p), why, sizeof(why));
		probe_fail(p, why);
		return;
	}
	if (probe_connect(p, why, sizeof(why)) < 0)
		probe_fail(p, why);
}

/* TCP answered: the UDP ASSOCIATE next where the member carries UDP. */
static void probe_tcp_good(struct probe *p)
{
	struct relay *r = p->w->r;
	const struct upstream *up = probe_upstream(p);
	char why[UDP_CONTROL_WHY_MAX];

	upstream_live_note(&p->w->gen->live, up, 1, 1, r->loop.now_ms - p->started_ms, NULL,
			   r->loop.now_ms);
	probe_close(p);
	if (!probe_group(p)->check_udp || up->udp != UPSTREAM_UDP_ASSOCIATE) {
		probe_done(p, 0);
		return;
	}
	p->stage = PROBE_UDP;
	p->deadline_ms = r->loop.now_ms + probe_group(p)->check_timeout_ms;
	p->udp = calloc(1, sizeof(*p->udp));
	if (!p->udp) {
		probe_fail(p, "out of memory");
		return;
	}
	if (udp_control_open(r, up, &p->addr, r->cfg->mark, p->udp, &p->ev, &p->fd, why) ==
	    UDP_CONTROL_FAILED)
		probe_fail(p, why);
}

/* Connected: the member's greeting, or a tunnel to check_target, or
 * (a kind with no empty handshake and no target) the connect alone. */
static void probe_connected(struct probe *p)
{
	const struct upstream *up = probe_upstream(p);
	const struct upstream_group *g = probe_group(p);
	int err = 0, rc;
	socklen_t len = sizeof(err);

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		probe_fail(p, strerror(err));
		return;
	}
	if (g->check_host[0]) {
		memset(&p->target, 0, sizeof(p->target));
		if (addr_from_ip(g->check_host, g->check_port, &p->target.addr)) {
			p->target.hostname = g->check_host;
			p->target.port = g->check_port;
		}
		rc = upstream_handshake_begin(&p->hs, &up->url, &p->target, up->pipeline, p->out);
	} else if (up->url.kind == UPSTREAM_SOCKS5 || up->url.kind == UPSTREAM_SOCKS5H) {
		rc = upstream_handshake_begin_check(&p->hs, &up->url, up->pipeline, p->out);
	} else {
		probe_tcp_good(p);
		return;
	}
	if (rc < 0) {
		probe_fail(p, p->hs.reason);
		return;
	}
	p->stage = PROBE_HANDSHAKE;
	if (send(p->fd, p->out, p->hs.out_len, MSG_NOSIGNAL) != (ssize_t)p->hs.out_len)
		probe_fail(p, "cannot send the greeting");
	else
		loop_modify(&p->w->r->loop, p->fd, &p->ev, EPOLLIN | EPOLLRDHUP);
}

static void probe_read(struct probe *p)
{
	uint8_t buf[1024];
	size_t used;
	ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
	enum upstream_result res;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		probe_fail(p, n ? strerror(errno) : "closed during the handshake");
		return;
	}
	res = upstream_handshake_feed(&p->hs, buf, (size_t)n, &used, p->out);
	if (res == UPSTREAM_ERROR)
		probe_fail(p, p->hs.reason);
	else if (res == UPSTREAM_DONE)
		probe_tcp_good(p);
	else if (p->hs.out_len &&
		 send(p->fd, p->out, p->hs.out_len, MSG_NOSIGNAL) != (ssize_t)p->hs.out_len)
		probe_fail(p, "cannot send to it");
}

static void probe_event(struct ev *ev, uint32_t events)
{
	struct probe *p = container_of(ev, struct probe, ev);
	char why[UDP_CONTROL_WHY_MAX];

	if (p->fd < 0)
		return; /* closed earlier in this batch */
	switch (p->stage) {
	case PROBE_CONNECTING:
		probe_connected(p);
		return;
	case PROBE_HANDSHAKE:
		probe_read(p);
		return;
	case PROBE_UDP:
		switch (udp_control_event(p->w->r, p->fd, &p->ev, p->udp, events, why)) {
		case UDP_CONTROL_GRANTED:
			upstream_live_note_udp(&p->w->gen->live, probe_upstream(p), 1, NULL);
			probe_done(p, 0);
			return;
		case UDP_CONTROL_FAILED:
			probe_fail(p, why);
			return;
		case UDP_CONTROL_WAIT:
			return;
		}
		return;
	case PROBE_IDLE:
		return;
	}
}

/* ---- names ---- */

static void probe_resolved(void *arg, const struct sockaddr_storage *addrs, size_t n,
			   unsigned ttl_s, const char *err)
{
	struct probe *p = arg;

	p->w->lookups--;
	log_debug("upstream %s: \"%s\" looked up: %zu address(es)%s%s, TTL %u s",
		  probe_upstream(p)->name, probe_upstream(p)->url.host, n, err ? "; " : "",
		  err ? err : "", ttl_s);
	upstream_live_resolved(&p->w->gen->live, probe_upstream(p), addrs, n, ttl_s, err,
			       p->w->r->loop.now_ms);
}

/* Whether up's name is due: on its TTL, and while it is down (a proxy
 * that moved, or a name that does not resolve yet) every resolve_min. */
static int name_due(const struct upstream_watch *w, const struct upstream *up, uint64_t now)
{
	struct upstream_live *l = upstream_live_of(&w->gen->live, up);
	uint64_t due;

	if (!l->by_name)
		return 0;
	pthread_mutex_lock(&l->lock);
	due = l->refresh_ms;
	if (atomic_load_explicit(&l->down, memory_order_relaxed) &&
	    l->resolved_ms + w->gen->cfg->resolve_min_ms < due)
		due = l->resolved_ms + w->gen->cfg->resolve_min_ms;
	pthread_mutex_unlock(&l->lock);
	return now >= due;
}

static void probe_look_up(struct probe *p)
{
	static const struct sockaddr_storage router; /* the watch itself asks */
	const struct upstream *up = probe_upstream(p);

	p->w->lookups++;
	/* the last thing done here: the answer may come at once */
	dns_resolve(p->w->dns, up->url.host, up->url.port, &router, probe_resolved, p, &p->lookup);
}

/* ---- the watch ---- */

static void watch_stop_probes(struct upstream_watch *w)
{
	if (!w->probes)
		return;
	for (size_t i = 0; i < w->gen->cfg->n_upstreams; i++) {
		struct probe *p = &w->probes[i];
		if (p->lookup) {
			dns_cancel(&p->lookup);
			w->lookups--;
		}
		probe_close(p);
	}
	/* an event of this batch may still name one */
	loop_free_after_batch(&w->r->loop, w->probes);
	w->probes = NULL;
}

/* Watches gen from now on: every check due at once (staggered over the
 * first second so that they do not all go out together). */
static int watch_start(struct upstream_watch *w, struct generation *gen)
{
	size_t n = gen->cfg->n_upstreams;

	watch_stop_probes(w);
	generation_unref(w->gen);
	w->gen = generation_ref(gen);
	w->probes = calloc(n, sizeof(*w->probes));
	if (!w->probes)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct probe *p = &w->probes[i];
		p->ev.handle = probe_event;
		p->w = w;
		p->index = i;
		p->fd = -1;
		p->next_ms = w->r->loop.now_ms + (i * 1000) / n;
	}
	return 0;
}

void upstream_watch_tick(struct relay *r)
{
	struct upstream_watch *w = r->watch;
	uint64_t now = r->loop.now_ms;

	if (!w)
		return;
	dns_tick(w->dns);
	if (w->gen != r->gen && watch_start(w, r->gen) < 0) {
		log_error("upstream checks: out of memory");
		return;
	}
	for (size_t i = 0; w->probes && i < w->gen->cfg->n_upstreams; i++) {
		struct probe *p = &w->probes[i];
		const struct upstream *up = probe_upstream(p);

		if (up->url.kind == UPSTREAM_DIRECT || up->group)
			continue;
		if (!p->lookup && w->lookups < WATCH_LOOKUPS_MAX && name_due(w, up, now))
			probe_look_up(p);
		if (!probe_group(p))
			continue; /* checked only as a group's member */
		if (p->stage == PROBE_IDLE && now >= p->next_ms)
			probe_start(p);
		else if (p->stage != PROBE_IDLE && now >= p->deadline_ms)
			probe_fail(p, "no answer in time (check_timeout)");
	}
}

int upstream_watch_new(struct relay *r)
{
	struct upstream_watch *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->r = r;
	rc = dns_new(r, r->cfg->mark, &w->dns);
	if (rc < 0) {
		free(w);
		return rc;
	}
	r->watch = w;
	return 0;
}

void upstream_watch_free(struct relay *r)
{
	struct upstream_watch *w = r->watch;

	if (!w)
		return;
	watch_stop_probes(w);
	dns_free(w->dns);
	generation_unref(w->gen);
	free(w);
	r->watch = NULL;
}
