/* Worker thread: epoll loop over its listeners and flows. Listeners are
 * level-triggered (accept in batches), flows edge-triggered. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "auth.h"
#include "dns.h"
#include "fd_budget.h"
#include "flow.h"
#include "generation.h"
#include "tcp_liveness.h"
#include "intake.h"
#include "dst_guard.h"
#include "socks_server.h"
#include "socks_udp.h"
#include "udp_relay.h"
#include "worker.h"

#define EVENTS_PER_WAIT	  256
#define ACCEPTS_PER_EVENT 64
#define TICK_MS		  200
/* fds a new flow may need at once: two sockets and one pipe */
#define FDS_PER_NEW_FLOW 4
#define PIPES_KEPT	 64

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int worker_epoll_add(struct worker *w, int fd, struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };
	return epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static void worker_set_accepting(struct worker *w, int on)
{
	if (w->accept_paused == !on)
		return;
	for (unsigned i = 0; i < w->n_listeners; i++) {
		struct epoll_event e = { .events = on ? EPOLLIN : 0,
					 .data.ptr = &w->listeners[i].ev };
		/* datagrams keep flowing on live associations; a new one checks
		 * the budget itself */
		if (w->listeners[i].kind == LISTENER_TPROXY_UDP)
			continue;
		if (w->listeners[i].fd >= 0)
			epoll_ctl(w->epoll_fd, EPOLL_CTL_MOD, w->listeners[i].fd, &e);
	}
	w->accept_paused = !on;
	/* Workers pause and resume together; the first to notice logs. */
	if (on && atomic_exchange(&w->budget->full_logged, 0))
		log_info("fd budget has room again (%u of %u fds in use), accepting",
			 fd_budget_used(w->budget), w->budget->max);
	else if (!on && !atomic_exchange(&w->budget->full_logged, 1))
		log_warn("fd budget full (%u of %u fds in use), not accepting until flows end",
			 fd_budget_used(w->budget), w->budget->max);
}

void worker_fds_released(struct worker *w)
{
	/* Hysteresis: resume once a few new flows fit, not at every close. */
	if (w->accept_paused && fd_budget_room(w->budget, 4 * FDS_PER_NEW_FLOW))
		worker_set_accepting(w, 1);
}

/* Ends the one-second log window once it is over, saying how many lines
 * it suppressed. */
static void worker_log_window(struct worker *w)
{
	if (w->now_ms < w->log_window_ms + 1000)
		return;
	if (w->log_suppressed)
		log_warn("worker %u: %u more failure lines suppressed (over %d a second)", w->index,
			 w->log_suppressed, WORKER_LOG_PER_SECOND);
	w->log_window_ms = w->now_ms;
	w->log_lines = 0;
	w->log_suppressed = 0;
}

int worker_log_allowed(struct worker *w)
{
	worker_log_window(w);
	if (w->log_lines < WORKER_LOG_PER_SECOND) {
		w->log_lines++;
		return 1;
	}
	w->log_suppressed++;
	return 0;
}

static void worker_accept(struct worker *w, struct listener *l)
{
	if (l->kind == LISTENER_TPROXY_UDP) {
		udp_relay_intake(w, l->fd);
		return;
	}
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage client;
		socklen_t len = sizeof(client);
		int fd;

		if (!fd_budget_room(w->budget, FDS_PER_NEW_FLOW)) {
			worker_set_accepting(w, 0);
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&client, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The process limit was reached outside our own
				 * accounting: pause, a timer tick retries. */
				log_warn("worker %u: accept: %s", w->index, strerror(errno));
				worker_set_accepting(w, 0);
			}
			return; /* EAGAIN, or a connection that died in the queue */
		}
		if (l->kind == LISTENER_SOCKS)
			socks_server_accept(w, fd, &client);
		else
			flow_accept(w, fd, &client, l->family,
				    l->kind == LISTENER_TPROXY ? INTAKE_TPROXY : INTAKE_REDIRECT);
	}
}

const char *const worker_fail_names[WORKER_FAIL_KINDS] = {
	"none",
	"general_failure",
	"not_allowed",
	"network_unreachable",
	"host_unreachable",
	"refused",
	"timed_out",
	"command_unsupported",
	"address_type_unsupported",
	"loop",
};

const char *const worker_udp_drop_names[UDP_DROP_KINDS] = {
	[UDP_DROP_UNSUPPORTED] = "unsupported",
	[UDP_DROP_QUEUE_FULL] = "queue_full",
	[UDP_DROP_UPSTREAM_DOWN] = "upstream_down",
	[UDP_DROP_NO_ROOM] = "no_room",
	[UDP_DROP_TOO_BIG] = "too_big",
	[UDP_DROP_MALFORMED] = "malformed",
	[UDP_DROP_SEND_FAILED] = "send_failed",
	[UDP_DROP_LOOP] = "loop",
};

unsigned long long workers_sum(const struct worker *workers, unsigned n, size_t offset)
{
	unsigned long long total = 0;

	for (unsigned i = 0; i < n; i++)
		total += atomic_load_explicit(
		    (const atomic_ullong *)((const char *)&workers[i].counters + offset),
		    memory_order_relaxed);
	return total;
}

static void worker_reconcile_listeners(struct worker *w);
static struct listener *find_listener(struct worker *w, enum listener_kind kind, int family,
				      uint16_t port, const struct sockaddr_storage *addr);

/* The eventfd fired: a stop (seen by the loop), a new configuration, or a
 * listing request. */
static void worker_wake(struct worker *w)
{
	uint64_t count;
	char *text;

	struct generation *next;

	if (read(w->wake_fd, &count, sizeof(count)) < 0)
		(void)0; /* already drained */
	next = atomic_exchange(&w->next_gen, NULL);
	if (next) {
		/* new flows use it; live ones keep theirs */
		generation_unref(w->gen);
		w->gen = next;
		w->cfg = next->cfg;
		flow_timeouts_changed(w, w->cfg);
		worker_reconcile_listeners(w);
	}
	if (!atomic_exchange(&w->snap_requested, 0))
		return;
	if (w->snap_kind == WORKER_DUP_TPROXY_LISTENERS || w->snap_kind == WORKER_PING) {
		/* under the lock: a requester that gave up gets no fd to leak */
		pthread_mutex_lock(&w->snap_lock);
		if (w->snap_waiting) {
			for (int i = 0; w->snap_kind == WORKER_DUP_TPROXY_LISTENERS && i < 2; i++) {
				struct listener *l =
				    find_listener(w, LISTENER_TPROXY, i ? AF_INET6 : AF_INET,
						  w->cfg->tproxy_port, NULL);
				w->snap_fds[i] = l ? fcntl(l->fd, F_DUPFD_CLOEXEC, 0) : -1;
			}
			w->snap_done = 1;
			pthread_cond_signal(&w->snap_cond);
		}
		pthread_mutex_unlock(&w->snap_lock);
		return;
	}
	text = flow_snapshot(w, w->snap_kind == WORKER_LIST_JSON);
	pthread_mutex_lock(&w->snap_lock);
	free(w->snap_text);
	w->snap_text = text;
	w->snap_done = 1;
	pthread_cond_signal(&w->snap_cond);
	pthread_mutex_unlock(&w->snap_lock);
}

static void wake_event(struct ev *ev, uint32_t events)
{
	(void)events;
	worker_wake(container_of(ev, struct worker, wake_ev));
}

static void auth_event(struct ev *ev, uint32_t events)
{
	(void)events;
	socks_server_auth_completed(container_of(ev, struct worker, auth_ev));
}

static void listener_event(struct ev *ev, uint32_t events)
{
	struct listener *l = container_of(ev, struct listener, ev);

	(void)events;
	worker_accept(l->w, l);
}

void worker_switch_generation(struct worker *w, struct generation *gen)
{
	struct generation *old = atomic_exchange(&w->next_gen, generation_ref(gen));
	uint64_t one = 1;

	/* a reload the worker had not picked up yet is superseded */
	generation_unref(old);
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		(void)0; /* the counter is already non-zero: the worker wakes anyway */
}

/* Asks the worker for kind and waits for it, snap_lock held on return;
 * whether it answered in time. */
static int worker_request(struct worker *w, enum worker_request kind, unsigned timeout_ms)
{
	struct timespec deadline;
	uint64_t one = 1;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->snap_lock);
	w->snap_done = 0;
	w->snap_kind = kind;
	w->snap_waiting = 1;
	atomic_store(&w->snap_requested, 1);
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		(void)0; /* the counter is already non-zero: the worker wakes anyway */
	while (!w->snap_done) {
		if (pthread_cond_timedwait(&w->snap_cond, &w->snap_lock, &deadline) != 0)
			break;
	}
	w->snap_waiting = 0;
	return w->snap_done;
}

char *worker_snapshot(struct worker *w, int json, unsigned timeout_ms)
{
	char *text = NULL;

	if (worker_request(w, json ? WORKER_LIST_JSON : WORKER_LIST_TEXT, timeout_ms)) {
		text = w->snap_text;
		w->snap_text = NULL;
	}
	pthread_mutex_unlock(&w->snap_lock);
	return text;
}

int worker_dup_tproxy_listeners(struct worker *w, int fds[2], unsigned timeout_ms)
{
	int rc = -ETIMEDOUT;

	fds[0] = fds[1] = -1;
	if (worker_request(w, WORKER_DUP_TPROXY_LISTENERS, timeout_ms)) {
		fds[0] = w->snap_fds[0];
		fds[1] = w->snap_fds[1];
		rc = 0;
	}
	pthread_mutex_unlock(&w->snap_lock);
	return rc;
}

int worker_responsive(struct worker *w, unsigned timeout_ms)
{
	int done = worker_request(w, WORKER_PING, timeout_ms);

	pthread_mutex_unlock(&w->snap_lock);
	return done;
}

void worker_free_after_batch(struct worker *w, void *p)
{
	if (w->n_later == w->later_cap) {
		size_t cap = w->later_cap ? 2 * w->later_cap : 16;
		void **grown = realloc(w->later, cap * sizeof(*grown));
		if (!grown)
			return; /* out of memory: leaking p is safer than freeing it now */
		w->later = grown;
		w->later_cap = cap;
	}
	w->later[w->n_later++] = p;
}

static void worker_free_batch_leftovers(struct worker *w)
{
	for (size_t i = 0; i < w->n_later; i++)
		free(w->later[i]);
	w->n_later = 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[EVENTS_PER_WAIT];
	uint64_t next_tick = 0;

	while (!atomic_load(&w->stop)) {
		int timeout = list_empty(&w->resume) ? TICK_MS : 0;
		int n = epoll_wait(w->epoll_fd, events, EVENTS_PER_WAIT, timeout);
		if (n < 0 && errno != EINTR) {
			log_error("worker %u: epoll_wait: %s", w->index, strerror(errno));
			break;
		}
		w->now_ms = monotonic_ms();
		for (int i = 0; i < n; i++) {
			struct ev *ev = events[i].data.ptr;
			ev->handle(ev, events[i].events);
		}
		/* Flows that yielded or waited for a pipe; only those queued
		 * before this pass, so a busy flow cannot hold the loop. */
		if (!list_empty(&w->resume)) {
			struct list *last = w->resume.prev;
			struct list *node;
			do {
				node = w->resume.next;
				flow_resume(node);
			} while (node != last && !list_empty(&w->resume));
		}
		if (w->now_ms >= next_tick) {
			next_tick = w->now_ms + TICK_MS;
			flow_expire_timers(w);
			udp_relay_tick(w);
			dns_tick(w->dns);
			worker_log_window(w);
			/* other workers' flows may have ended meanwhile */
			worker_fds_released(w);
		}
		flow_reap(w);
		worker_free_batch_leftovers(w);
	}
	flow_close_all(w);
	udp_relay_free(w);
	flow_reap(w);
	worker_free_batch_leftovers(w);
	return NULL;
}

/* A SOCKS listen address: SO_REUSEPORT across workers, and IP_FREEBIND so
 * the daemon can start before the LAN interface has its address. */
static int socks_listen(const struct sockaddr_storage *ss)
{
	int one = 1, fd, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    tcp_liveness_set(fd) < 0 ||
	    /* IPv6 sockets honour IP_FREEBIND too */
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)ss, addr_len(ss)) < 0 || listen(fd, 4096) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* Puts fd in a free slot (epoll points at the slot, so slots never move). */
static int worker_add_listener(struct worker *w, int fd, int family, enum listener_kind kind,
			       uint16_t port, const struct sockaddr_storage *addr)
{
	struct listener *l = NULL;

	for (unsigned i = 0; i < w->n_listeners && !l; i++)
		if (w->listeners[i].fd < 0)
			l = &w->listeners[i];
	if (!l) {
		if (w->n_listeners == WORKER_LISTENERS_MAX) {
			close(fd);
			return -ENOSPC;
		}
		l = &w->listeners[w->n_listeners++];
	}
	memset(l, 0, sizeof(*l));
	l->ev.handle = listener_event;
	l->w = w;
	l->fd = fd;
	l->family = family;
	l->kind = kind;
	l->port = port;
	if (addr)
		l->addr = *addr;
	return worker_epoll_add(w, fd, &l->ev, w->accept_paused ? 0 : EPOLLIN);
}

static struct listener *find_listener(struct worker *w, enum listener_kind kind, int family,
				      uint16_t port, const struct sockaddr_storage *addr)
{
	for (unsigned i = 0; i < w->n_listeners; i++) {
		struct listener *l = &w->listeners[i];
		if (l->fd < 0 || l->kind != kind || l->family != family)
			continue;
		if (kind == LISTENER_SOCKS ? addr_equal(&l->addr, addr) : l->port == port)
			return l;
	}
	return NULL;
}

/* Whether cfg wants listener l. */
static int listener_wanted(const struct config *cfg, const struct listener *l)
{
	if (l->kind == LISTENER_REDIRECT)
		return l->port == cfg->redirect_port;
	if (l->kind == LISTENER_TPROXY || l->kind == LISTENER_TPROXY_UDP)
		return l->port == cfg->tproxy_port;
	for (size_t i = 0; i < cfg->socks.n_listen; i++)
		if (addr_equal(&cfg->socks.listen[i], &l->addr))
			return 1;
	return 0;
}

/* The intake listener of kind lk for family on port: fd or -errno. */
static int intake_open(const struct worker *w, enum listener_kind lk, int family, uint16_t port)
{
	uint32_t mark = w->cfg->mark;
	int fd = lk == LISTENER_TPROXY_UDP
		     ? udp_relay_listen(family, port, w->gen->n_workers)
		     : intake_listen(lk == LISTENER_TPROXY ? INTAKE_TPROXY : INTAKE_REDIRECT,
				     family, port);

	/* the eBPF intake hands packets only to sockets carrying our mark,
	 * which no unprivileged program can set (CAP_NET_ADMIN) */
	if (fd >= 0 && lk != LISTENER_REDIRECT && mark &&
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Opens what cfg asks for and this worker does not have yet. A missing
 * IPv6 stack costs the IPv6 intake listeners, not the start. */
static int worker_open_listeners(struct worker *w, const struct config *cfg)
{
	static const int families[2] = { AF_INET, AF_INET6 };
	const struct {
		enum listener_kind kind;
		const char *name;
		uint16_t port;
	} intakes[] = {
		{ LISTENER_REDIRECT, "redirect", cfg->redirect_port },
		{ LISTENER_TPROXY, "tproxy", cfg->tproxy_port },
		{ LISTENER_TPROXY_UDP, "tproxy UDP", cfg->tproxy_port },
	};
	int rc;

	for (size_t k = 0; k < sizeof(intakes) / sizeof(intakes[0]); k++) {
		enum listener_kind lk = intakes[k].kind;
		uint16_t port = intakes[k].port;
		for (int i = 0; port && i < 2; i++) {
			int fd;
			if (find_listener(w, lk, families[i], port, NULL))
				continue;
			fd = intake_open(w, lk, families[i], port);
			if (fd < 0) {
				if (families[i] == AF_INET6 &&
				    (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)) {
					/* one line for the family, with the TCP listener */
					if (w->index == 0 && lk != LISTENER_TPROXY_UDP)
						log_warn("no IPv6 %s listener: %s", intakes[k].name,
							 strerror(-fd));
					continue;
				}
				log_error("%s listener on %s port %u: %s", intakes[k].name,
					  families[i] == AF_INET ? "IPv4" : "IPv6", port,
					  strerror(-fd));
				return fd;
			}
			rc = worker_add_listener(w, fd, families[i], lk, port, NULL);
			if (rc < 0)
				return rc;
		}
	}
	for (size_t i = 0; i < cfg->socks.n_listen; i++) {
		const struct sockaddr_storage *ss = &cfg->socks.listen[i];
		char a[ADDR_STRLEN];
		int fd;
		if (find_listener(w, LISTENER_SOCKS, ss->ss_family, 0, ss))
			continue;
		fd = socks_listen(ss);
		if (fd < 0) {
			log_error("SOCKS listener on %s: %s", addr_format(ss, a, sizeof(a)),
				  strerror(-fd));
			return fd;
		}
		rc = worker_add_listener(w, fd, ss->ss_family, LISTENER_SOCKS, 0, ss);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* After a reload: listeners the new config no longer names close, new
 * ones open, the others stay as they are. */
static void worker_reconcile_listeners(struct worker *w)
{
	for (unsigned i = 0; i < w->n_listeners; i++) {
		struct listener *l = &w->listeners[i];
		if (l->fd >= 0 && !listener_wanted(w->cfg, l)) {
			close(l->fd); /* leaves the epoll set with it */
			l->fd = -1;
		}
	}
	worker_open_listeners(w, w->cfg); /* failures are logged */
}

/* The SOCKS side: resolver, and the way back from the password
 * verifier (the listeners are opened with the others). */
static int worker_init_socks(struct worker *w)
{
	int rc;

	rc = dns_new(w, w->cfg->mark, &w->dns);
	if (rc < 0)
		return rc;
	/* the verifier itself starts later, after the privilege drop */
	if (w->cfg->socks.auth_password) {
		w->auth_cache = calloc(1, sizeof(*w->auth_cache));
		w->auth_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (!w->auth_cache || w->auth_fd < 0) {
			log_error("worker %u: auth cache/eventfd: %s", w->index, strerror(errno));
			return -ENOMEM;
		}
		w->auth_ev.handle = auth_event;
		rc = worker_epoll_add(w, w->auth_fd, &w->auth_ev, EPOLLIN);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int worker_init(struct worker *w, unsigned index, struct generation *gen,
		const struct worker_shared *shared)
{
	const struct config *cfg = gen->cfg;
	int rc;

	memset(w, 0, sizeof(*w));
	w->index = index;
	w->cfg = cfg;
	w->gen = generation_ref(gen);
	w->shared = shared;
	w->budget = shared->budget;
	w->epoll_fd = -1;
	w->wake_fd = -1;
	w->auth_fd = -1;
	for (int i = 0; i < WORKER_LISTENERS_MAX; i++)
		w->listeners[i].fd = -1;
	pthread_mutex_init(&w->auth_lock, NULL);
	pthread_mutex_init(&w->snap_lock, NULL);
	pthread_cond_init(&w->snap_cond, NULL);
	list_init(&w->auth_done);
	list_init(&w->bind_timers);
	list_init(&w->connect_timers);
	list_init(&w->handshake_timers);
	list_init(&w->idle_timers);
	list_init(&w->flows);
	list_init(&w->resume);
	list_init(&w->pipe_waiters);
	list_init(&w->free_flows);
	list_init(&w->dead_flows);
	pipe_pool_init(&w->pipes, PIPES_KEPT, w->budget);
	w->now_ms = monotonic_ms();
	w->dst_guard = dst_guard_new();
	if (!w->dst_guard) {
		rc = -errno;
		log_error("worker %u: rtnetlink socket for route lookups: %s", w->index,
			  strerror(errno));
		goto fail;
	}

	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epoll_fd < 0 || w->wake_fd < 0) {
		rc = -errno;
		log_error("worker %u: epoll/eventfd: %s", index, strerror(errno));
		goto fail;
	}
	w->wake_ev.handle = wake_event;
	rc = worker_epoll_add(w, w->wake_fd, &w->wake_ev, EPOLLIN);
	if (rc < 0)
		goto fail;

	rc = worker_open_listeners(w, cfg);
	if (rc < 0)
		goto fail;
	if (cfg->socks.n_listen) {
		rc = worker_init_socks(w);
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	worker_destroy(w);
	return rc;
}

int worker_start(struct worker *w)
{
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	return -rc;
}

void worker_request_stop(struct worker *w)
{
	uint64_t one = 1;
	atomic_store(&w->stop, 1);
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		(void)0; /* the counter is already non-zero: the worker wakes anyway */
}

void worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
}

void worker_destroy(struct worker *w)
{
	for (unsigned i = 0; i < WORKER_LISTENERS_MAX; i++) {
		if (w->listeners[i].fd >= 0)
			close(w->listeners[i].fd);
		w->listeners[i].fd = -1;
	}
	flow_close_all(w);
	udp_relay_free(w);
	worker_free_batch_leftovers(w);
	free(w->later);
	w->later = NULL;
	w->later_cap = 0;
	flow_free_cache(w);
	dns_free(w->dns);
	w->dns = NULL;
	/* Checks still with the verifier come back to a stopped worker only
	 * if the service outlives it; main stops the service first. */
	socks_server_auth_completed(w);
	free(w->auth_cache);
	w->auth_cache = NULL;
	dst_guard_free(w->dst_guard);
	w->dst_guard = NULL;
	generation_unref(atomic_exchange(&w->next_gen, NULL));
	generation_unref(w->gen);
	w->gen = NULL;
	free(w->snap_text);
	w->snap_text = NULL;
	pthread_mutex_destroy(&w->snap_lock);
	pthread_cond_destroy(&w->snap_cond);
	if (w->auth_fd >= 0)
		close(w->auth_fd);
	w->auth_fd = -1;
	pthread_mutex_destroy(&w->auth_lock);
	pipe_pool_destroy(&w->pipes);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->epoll_fd >= 0)
		close(w->epoll_fd);
	w->wake_fd = w->epoll_fd = -1;
}
