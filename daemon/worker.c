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
#include "dns.h"
#include "dns_service.h"
#include "flow.h"
#include "generation.h"
#include "tcp_relay_socket.h"
#include "intake.h"
#include "login.h"
#include "warm_pool.h"
#include "socks_server.h"
#include "udp_relay.h"
#include "upstream_live.h"
#include "upstream_watch.h"
#include "worker.h"

#define ACCEPTS_PER_EVENT 64
#define TICK_MS		  200

/* The loop's fd gate opens and closes this worker's stream listeners. */
static void worker_set_accepting(struct loop *l, int on)
{
	struct worker *w = container_of(l, struct worker, relay.loop);

	for (unsigned i = 0; i < w->n_listeners; i++) {
		struct listener *li = &w->listeners[i];
		/* datagrams keep flowing on live associations; a new one checks
		 * the budget itself */
		if (li->datagram || li->fd < 0)
			continue;
		loop_modify(l, li->fd, &li->ev, on ? EPOLLIN : 0);
	}
}

static void worker_accept(struct worker *w, struct listener *l)
{
	struct relay *r = &w->relay;

	if (l->intake == INTAKE_DNS && l->datagram) {
		dns_service_readable(r, l->fd);
		return;
	}
	if (l->datagram) {
		udp_relay_intake(r, l->fd);
		return;
	}
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage client;
		socklen_t len = sizeof(client);
		int fd;

		if (!loop_accept_room(&r->loop, LOOP_FDS_PER_FLOW))
			return;
		fd = accept4(l->fd, (struct sockaddr *)&client, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* The process limit was reached outside our own
				 * accounting: pause, a timer tick retries. */
				log_warn("worker %u: accept: %s", r->index, strerror(errno));
				loop_pause_accepting(&r->loop);
			}
			return; /* EAGAIN, or a connection that died in the queue */
		}
		if (l->intake == INTAKE_SOCKS)
			socks_server_accept(r, fd, &client);
		else if (l->intake == INTAKE_DNS)
			dns_service_accept(r, fd, &client);
		else
			flow_accept(r, fd, &client, l->family, l->intake);
	}
}

unsigned long long workers_sum(const struct worker *workers, unsigned n, size_t offset)
{
	unsigned long long total = 0;

	for (unsigned i = 0; i < n; i++)
		total += atomic_load_explicit(
		    (const atomic_ullong *)((const char *)&workers[i].relay.counters + offset),
		    memory_order_relaxed);
	return total;
}

static void worker_reconcile_listeners(struct worker *w);
static struct listener *find_listener(struct worker *w, enum intake intake, int datagram,
				      int family, uint16_t port,
				      const struct sockaddr_storage *addr);

/* A listing of the live flows, TCP then UDP; NULL when out of memory. */
static char *worker_list_text(struct worker *w)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return NULL;
	flow_snapshot(&w->relay, out);
	udp_relay_snapshot(&w->relay, out);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static json_t *worker_list_json(struct worker *w)
{
	json_t *list = json_array();

	if (list) {
		flow_snapshot_json(&w->relay, list);
		udp_relay_snapshot_json(&w->relay, list);
	}
	return list;
}

/* Answers a request another thread made (worker_request). */
static void worker_answer(struct worker *w)
{
	char *text = NULL;
	json_t *list = NULL;

	if (w->snap_kind == WORKER_DNS_FLUSH)
		dns_service_flush(&w->relay);
	if (w->snap_kind == WORKER_DUP_TPROXY_LISTENERS || w->snap_kind == WORKER_PING ||
	    w->snap_kind == WORKER_DNS_FLUSH) {
		/* under the lock: a requester that gave up gets no fd to leak */
		pthread_mutex_lock(&w->snap_lock);
		if (w->snap_waiting) {
			for (int i = 0; w->snap_kind == WORKER_DUP_TPROXY_LISTENERS && i < 2; i++) {
				struct listener *l =
				    find_listener(w, INTAKE_TPROXY, 0, i ? AF_INET6 : AF_INET,
						  w->relay.cfg->tproxy_port, NULL);
				w->snap_fds[i] = l ? fcntl(l->fd, F_DUPFD_CLOEXEC, 0) : -1;
			}
			w->snap_done = 1;
			pthread_cond_signal(&w->snap_cond);
		}
		pthread_mutex_unlock(&w->snap_lock);
		return;
	}
	if (w->snap_kind == WORKER_LIST_JSON)
		list = worker_list_json(w);
	else
		text = worker_list_text(w);
	pthread_mutex_lock(&w->snap_lock);
	free(w->snap_text);
	w->snap_text = text;
	json_decref(w->snap_json);
	w->snap_json = list;
	w->snap_done = 1;
	pthread_cond_signal(&w->snap_cond);
	pthread_mutex_unlock(&w->snap_lock);
}

/* The eventfd fired: a stop (seen by the loop), a new configuration, or a
 * request. */
static void wake_event(struct ev *ev, uint32_t events)
{
	struct worker *w = container_of(ev, struct worker, wake_ev);
	struct generation *next;
	uint64_t count;

	(void)events;
	if (read(w->wake_fd, &count, sizeof(count)) < 0)
		(void)0; /* already drained */
	next = atomic_exchange(&w->next_gen, NULL);
	if (next) {
		/* warm sessions belong to the old one's upstreams */
		warm_drop_all(&w->relay);
		relay_switch_generation(&w->relay, next);
		dns_service_reconfigure(&w->relay);
		worker_reconcile_listeners(w);
	}
	if (atomic_exchange(&w->snap_requested, 0))
		worker_answer(w);
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

/* Asks the worker for a listing of kind and takes it over; NULL on
 * timeout or when out of memory. */
static void *worker_take_listing(struct worker *w, enum worker_request kind, unsigned timeout_ms)
{
	void *listing = NULL;

	if (worker_request(w, kind, timeout_ms)) {
		if (kind == WORKER_LIST_JSON) {
			listing = w->snap_json;
			w->snap_json = NULL;
		} else {
			listing = w->snap_text;
			w->snap_text = NULL;
		}
	}
	pthread_mutex_unlock(&w->snap_lock);
	return listing;
}

char *worker_snapshot_text(struct worker *w, unsigned timeout_ms)
{
	return worker_take_listing(w, WORKER_LIST_TEXT, timeout_ms);
}

json_t *worker_snapshot_json(struct worker *w, unsigned timeout_ms)
{
	return worker_take_listing(w, WORKER_LIST_JSON, timeout_ms);
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

/* A request with nothing to hand back: whether the worker answered. */
static int worker_ask(struct worker *w, enum worker_request kind, unsigned timeout_ms)
{
	int done = worker_request(w, kind, timeout_ms);

	pthread_mutex_unlock(&w->snap_lock);
	return done;
}

int worker_dns_flush(struct worker *w, unsigned timeout_ms)
{
	return worker_ask(w, WORKER_DNS_FLUSH, timeout_ms);
}

int worker_responsive(struct worker *w, unsigned timeout_ms)
{
	return worker_ask(w, WORKER_PING, timeout_ms);
}

/* What the loop does once a tick (TICK_MS): timers, the UDP
 * associations' and lookups' own deadlines, the log window. */
static void worker_tick(struct relay *r)
{
	loop_expire_timers(&r->loop);
	udp_relay_tick(r);
	warm_tick(r);
	dns_tick(r->dns);
	upstream_watch_tick(r);
	if (r->seen_downs != upstream_live_downs()) {
		r->seen_downs = upstream_live_downs();
		flow_leave_down_members(r);
	}
	loop_log_window(&r->loop);
	/* other workers' flows may have ended meanwhile */
	loop_fds_released(&r->loop);
}

/* Closes every flow and association r carries (the worker stops). */
static void worker_close_flows(struct relay *r)
{
	flow_close_all(r);
	udp_relay_free(r);
	flow_reap(r);
	loop_end_batch(&r->loop);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct relay *r = &w->relay;
	uint64_t next_tick = 0;

	while (!atomic_load(&w->stop)) {
		int rc = loop_run_once(&r->loop, list_empty(&r->resume) ? TICK_MS : 0);
		if (rc < 0) {
			log_error("worker %u: epoll_wait: %s", r->index, strerror(-rc));
			break;
		}
		flow_resume_queued(r);
		if (r->loop.now_ms >= next_tick) {
			next_tick = r->loop.now_ms + TICK_MS;
			worker_tick(r);
		}
		flow_reap(r);
		loop_end_batch(&r->loop);
	}
	worker_close_flows(r);
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
	    tcp_relay_socket_setup(fd) < 0 ||
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
static int worker_add_listener(struct worker *w, int fd, const struct listener *want)
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
	*l = *want;
	l->ev.handle = listener_event;
	l->w = w;
	l->fd = fd;
	return loop_add(&w->relay.loop, fd, &l->ev,
			w->relay.loop.accept_paused && !l->datagram ? 0 : EPOLLIN);
}

static struct listener *find_listener(struct worker *w, enum intake intake, int datagram,
				      int family, uint16_t port,
				      const struct sockaddr_storage *addr)
{
	for (unsigned i = 0; i < w->n_listeners; i++) {
		struct listener *l = &w->listeners[i];
		if (l->fd < 0 || l->intake != intake || l->datagram != datagram ||
		    l->family != family)
			continue;
		if (intake == INTAKE_SOCKS || intake == INTAKE_DNS ? addr_equal(&l->addr, addr)
								   : l->port == port)
			return l;
	}
	return NULL;
}

/* Whether cfg wants listener l. */
static int listener_wanted(const struct config *cfg, const struct listener *l)
{
	if (l->intake == INTAKE_REDIRECT)
		return l->port == cfg->redirect_port;
	if (l->intake == INTAKE_TPROXY)
		return l->port == cfg->tproxy_port;
	if (l->intake == INTAKE_DNS) {
		for (size_t i = 0; i < cfg->dns.n_listen; i++)
			if (addr_equal(&cfg->dns.listen[i], &l->addr))
				return 1;
		return 0;
	}
	for (size_t i = 0; i < cfg->socks.n_listen; i++)
		if (addr_equal(&cfg->socks.listen[i], &l->addr))
			return 1;
	return 0;
}

/* The intake listener l describes: fd or -errno. */
static int intake_open(const struct relay *r, const struct listener *l)
{
	uint32_t mark = r->cfg->mark;
	int fd = l->datagram ? udp_relay_listen(l->family, l->port, r->gen->n_workers)
			     : intake_listen(l->intake, l->family, l->port);

	/* the eBPF intake hands packets only to sockets carrying our mark,
	 * which no unprivileged program can set (CAP_NET_ADMIN) */
	if (fd >= 0 && l->intake == INTAKE_TPROXY && relay_mark_socket(fd, mark) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Opens the intake listener want describes unless w has it. A missing
 * IPv6 stack costs the IPv6 intake listeners, not the start. */
static int worker_open_intake(struct worker *w, const struct listener *want, const char *name)
{
	int fd;

	if (find_listener(w, want->intake, want->datagram, want->family, want->port, NULL))
		return 0;
	fd = intake_open(&w->relay, want);
	if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
		if (want->family == AF_INET6) {
			/* one line for the family, with the TCP listener */
			if (w->relay.index == 0 && !want->datagram)
				log_warn("no IPv6 %s listener: %s", name, strerror(-fd));
			return 0;
		}
	}
	if (fd < 0) {
		log_error("%s listener on %s port %u: %s", name,
			  want->family == AF_INET ? "IPv4" : "IPv6", want->port, strerror(-fd));
		return fd;
	}
	return worker_add_listener(w, fd, want);
}

static int worker_open_socks(struct worker *w, const struct sockaddr_storage *ss)
{
	struct listener want = { .intake = INTAKE_SOCKS, .family = ss->ss_family, .addr = *ss };
	char a[ADDR_STRLEN];
	int fd;

	if (find_listener(w, INTAKE_SOCKS, 0, ss->ss_family, 0, ss))
		return 0;
	fd = socks_listen(ss);
	if (fd < 0) {
		log_error("SOCKS listener on %s: %s", addr_format(ss, a, sizeof(a)), strerror(-fd));
		return fd;
	}
	return worker_add_listener(w, fd, &want);
}

/* The DNS service's UDP (datagram) or TCP listener on ss. */
static int worker_open_dns(struct worker *w, const struct sockaddr_storage *ss, int datagram)
{
	struct listener want = { .intake = INTAKE_DNS,
				 .datagram = (uint8_t)datagram,
				 .family = ss->ss_family,
				 .addr = *ss };
	char a[ADDR_STRLEN];
	int fd;

	if (find_listener(w, INTAKE_DNS, datagram, ss->ss_family, 0, ss))
		return 0;
	fd =
	    datagram ? dns_service_listen(ss, w->relay.gen->n_workers) : dns_service_listen_tcp(ss);
	if (fd < 0) {
		log_error("DNS %s listener on %s: %s", datagram ? "UDP" : "TCP",
			  addr_format(ss, a, sizeof(a)), strerror(-fd));
		return fd;
	}
	return worker_add_listener(w, fd, &want);
}

/* Opens what cfg asks for and this worker does not have yet. */
static int worker_open_listeners(struct worker *w, const struct config *cfg)
{
	static const int families[2] = { AF_INET, AF_INET6 };
	const struct {
		enum intake intake;
		uint8_t datagram;
		const char *name;
		uint16_t port;
	} intakes[] = {
		{ INTAKE_REDIRECT, 0, "redirect", cfg->redirect_port },
		{ INTAKE_TPROXY, 0, "tproxy", cfg->tproxy_port },
		{ INTAKE_TPROXY, 1, "tproxy UDP", cfg->tproxy_port },
	};
	int rc;

	for (size_t k = 0; k < sizeof(intakes) / sizeof(intakes[0]); k++) {
		for (int i = 0; intakes[k].port && i < 2; i++) {
			struct listener want = { .intake = intakes[k].intake,
						 .datagram = intakes[k].datagram,
						 .family = families[i],
						 .port = intakes[k].port };
			rc = worker_open_intake(w, &want, intakes[k].name);
			if (rc < 0)
				return rc;
		}
	}
	for (size_t i = 0; i < cfg->socks.n_listen; i++) {
		rc = worker_open_socks(w, &cfg->socks.listen[i]);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < cfg->dns.n_listen; i++) {
		rc = worker_open_dns(w, &cfg->dns.listen[i], 1);
		if (rc == 0)
			rc = worker_open_dns(w, &cfg->dns.listen[i], 0);
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
		if (l->fd >= 0 && !listener_wanted(w->relay.cfg, l)) {
			close(l->fd); /* leaves the epoll set with it */
			l->fd = -1;
		}
	}
	worker_open_listeners(w, w->relay.cfg); /* failures are logged */
}

/* The SOCKS front end and the resolver it looks names up with (the
 * listeners are opened with the others). */
static int worker_init_socks(struct worker *w)
{
	struct relay *r = &w->relay;
	int rc = dns_new(r, r->cfg->mark, &r->dns);

	return rc < 0 ? rc : login_new(r);
}

int worker_init(struct worker *w, unsigned index, struct generation *gen,
		const struct relay_shared *shared)
{
	struct relay *r = &w->relay;
	int rc;

	memset(w, 0, sizeof(*w));
	w->wake_fd = -1;
	for (int i = 0; i < WORKER_LISTENERS_MAX; i++)
		w->listeners[i].fd = -1;
	pthread_mutex_init(&w->snap_lock, NULL);
	pthread_cond_init(&w->snap_cond, NULL);
	rc = relay_init(r, index, gen, shared);
	if (rc < 0 || (rc = warm_pools_new(r)) < 0)
		goto fail;
	r->loop.set_accepting = worker_set_accepting;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0) {
		rc = -errno;
		log_error("worker %u: eventfd: %s", index, strerror(errno));
		goto fail;
	}
	w->wake_ev.handle = wake_event;
	rc = loop_add(&r->loop, w->wake_fd, &w->wake_ev, EPOLLIN);
	if (rc < 0)
		goto fail;
	rc = worker_open_listeners(w, r->cfg);
	if (rc < 0)
		goto fail;
	if (r->cfg->socks.n_listen) {
		rc = worker_init_socks(w);
		if (rc < 0)
			goto fail;
	}
	/* fake-IP flows routed direct: the router looks their names up */
	if (shared->fakeip && !r->dns) {
		rc = dns_new(r, r->cfg->mark, &r->dns);
		if (rc < 0)
			goto fail;
	}
	/* made whatever the config says, so a reload can add [dns] */
	rc = dns_service_new(r);
	if (rc < 0)
		goto fail;
	/* one worker watches the upstreams for all (a reload may add groups) */
	if (index == 0) {
		rc = upstream_watch_new(r);
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
	struct relay *r = &w->relay;

	for (unsigned i = 0; i < WORKER_LISTENERS_MAX; i++) {
		if (w->listeners[i].fd >= 0)
			close(w->listeners[i].fd);
		w->listeners[i].fd = -1;
	}
	if (r->loop.epoll_fd >= 0) { /* relay_init got that far */
		worker_close_flows(r);
		flow_free_cache(r);
		login_free(r);
		warm_pools_free(r);
		dns_service_free(r);
		upstream_watch_free(r);
		dns_free(r->dns);
		r->dns = NULL;
		relay_destroy(r);
	}
	generation_unref(atomic_exchange(&w->next_gen, NULL));
	free(w->snap_text);
	w->snap_text = NULL;
	json_decref(w->snap_json);
	w->snap_json = NULL;
	pthread_mutex_destroy(&w->snap_lock);
	pthread_cond_destroy(&w->snap_cond);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	w->wake_fd = -1;
}
