/* Worker thread: epoll loop over its listeners and flows. Listeners are
 * level-triggered (accept in batches), flows edge-triggered. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockgate/config.h"
#include "sockgate/log.h"
#include "fd_budget.h"
#include "flow.h"
#include "intake_redirect.h"
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

static void worker_accept(struct worker *w, struct listener *l)
{
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
		flow_accept(w, fd, &client, l->family);
	}
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
			switch (ev->kind) {
			case EV_LISTENER:
				worker_accept(w, (struct listener *)ev);
				break;
			case EV_WAKE:
				break;
			default:
				flow_handle_event(ev, events[i].events);
			}
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
			/* other workers' flows may have ended meanwhile */
			worker_fds_released(w);
		}
	}
	flow_close_all(w);
	return NULL;
}

int worker_init(struct worker *w, unsigned index, const struct config *cfg,
		struct fd_budget *budget)
{
	static const int families[2] = { AF_INET, AF_INET6 };
	int rc;

	memset(w, 0, sizeof(*w));
	w->index = index;
	w->cfg = cfg;
	w->budget = budget;
	w->epoll_fd = -1;
	w->wake_fd = -1;
	for (int i = 0; i < 2; i++)
		w->listeners[i].fd = -1;
	list_init(&w->connect_timers);
	list_init(&w->handshake_timers);
	list_init(&w->idle_timers);
	list_init(&w->flows);
	list_init(&w->resume);
	list_init(&w->pipe_waiters);
	list_init(&w->free_flows);
	pipe_pool_init(&w->pipes, PIPES_KEPT, budget);
	w->now_ms = monotonic_ms();

	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epoll_fd < 0 || w->wake_fd < 0) {
		rc = -errno;
		log_error("worker %u: epoll/eventfd: %s", index, strerror(errno));
		goto fail;
	}
	w->wake_ev.kind = EV_WAKE;
	rc = worker_epoll_add(w, w->wake_fd, &w->wake_ev, EPOLLIN);
	if (rc < 0)
		goto fail;

	for (int i = 0; i < 2; i++) {
		struct listener *l = &w->listeners[w->n_listeners];
		int fd = intake_redirect_listen(families[i], cfg->redirect_port);
		if (fd < 0) {
			/* A host without IPv6 still serves IPv4. */
			if (families[i] == AF_INET6 &&
			    (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)) {
				if (index == 0)
					log_warn("no IPv6 redirect listener: %s", strerror(-fd));
				continue;
			}
			rc = fd;
			log_error("redirect listener on %s port %u: %s",
				  families[i] == AF_INET ? "IPv4" : "IPv6", cfg->redirect_port,
				  strerror(-fd));
			goto fail;
		}
		l->ev.kind = EV_LISTENER;
		l->fd = fd;
		l->family = families[i];
		w->n_listeners++;
		rc = worker_epoll_add(w, fd, &l->ev, EPOLLIN);
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
	for (unsigned i = 0; i < 2; i++) {
		if (w->listeners[i].fd >= 0)
			close(w->listeners[i].fd);
		w->listeners[i].fd = -1;
	}
	flow_close_all(w);
	flow_free_cache(w);
	pipe_pool_destroy(&w->pipes);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->epoll_fd >= 0)
		close(w->epoll_fd);
	w->wake_fd = w->epoll_fd = -1;
}
