/* A worker: one thread running one relay (its loop, flows, pipes, timers)
 * over its own listeners; it takes new configuration generations and
 * answers requests from other threads. Workers share nothing but the
 * read-only config and the shared limits. */
#ifndef SOCKGATE_WORKER_H
#define SOCKGATE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "intake.h"
#include "loop.h"
#include "relay.h"

struct generation;

/* An intake or SOCKS listener, registered with the loop. */
struct listener {
	struct ev ev;
	struct worker *w;
	int fd; /* -1: a free slot */
	int family;
	enum intake intake;
	uint8_t datagram;	      /* TPROXY UDP: read, not accepted */
	uint16_t port;		      /* intake listeners */
	struct sockaddr_storage addr; /* SOCKS listeners */
};

/* One counter (at offset in struct relay_counters) summed over workers. */
struct worker;
unsigned long long workers_sum(const struct worker *workers, unsigned n, size_t offset);
#define WORKERS_SUM(workers, n, field)                                                             \
	workers_sum(workers, n, offsetof(struct relay_counters, field))

/* REDIRECT, TPROXY and TPROXY UDP, v4 + v6, and the SOCKS listen addresses */
#define WORKER_LISTENERS_MAX (6 + 16)

struct worker {
	struct relay relay; /* what runs on the thread */
	pthread_t thread;
	struct ev wake_ev;
	int wake_fd; /* eventfd: main thread asks the worker to stop */
	atomic_int stop;
	_Atomic(struct generation *) next_gen; /* handed over by a reload */
	struct listener listeners[WORKER_LISTENERS_MAX];
	unsigned n_listeners;
	/* requests from other threads, answered by the worker between events */
	pthread_mutex_t snap_lock;
	pthread_cond_t snap_cond;
	atomic_int snap_requested;
	enum worker_request {
		WORKER_LIST_TEXT,
		WORKER_LIST_JSON,
		WORKER_DUP_TPROXY_LISTENERS,
		WORKER_PING,
		WORKER_DNS_FLUSH,
	} snap_kind;
	int snap_waiting;  /* the requester still waits (under snap_lock) */
	char *snap_text;   /* malloc'd, handed to the requester */
	json_t *snap_json; /* idem, with its reference */
	int snap_fds[2];   /* WORKER_DUP_TPROXY_LISTENERS: IPv4, IPv6, or -1 */
	int snap_done;
};

/* Sets up w (listeners included); 0 or -errno with a log line. */
int worker_init(struct worker *w, unsigned index, struct generation *gen,
		const struct relay_shared *shared);
/* From the main thread: the worker switches to gen (taking a reference)
 * between two events. */
void worker_switch_generation(struct worker *w, struct generation *gen);
int worker_start(struct worker *w);
/* Asks the worker to stop; worker_join waits for it and frees it. */
void worker_request_stop(struct worker *w);
void worker_join(struct worker *w);
void worker_destroy(struct worker *w);
/* From another thread: the worker's live flows as text lines, or as a JSON
 * array of objects (the caller's reference); NULL on timeout or when out of
 * memory. */
char *worker_snapshot_text(struct worker *w, unsigned timeout_ms);
json_t *worker_snapshot_json(struct worker *w, unsigned timeout_ms);
/* Copies (dup) of w's TPROXY TCP listeners, IPv4 then IPv6 (-1 for one it
 * has not), made by the worker itself so a reload cannot close them
 * meanwhile: 0, or -ETIMEDOUT. The caller owns the fds. */
int worker_dup_tproxy_listeners(struct worker *w, int fds[2], unsigned timeout_ms);
/* Empties w's DNS cache (between two of its events): whether it answered
 * within timeout_ms. */
int worker_dns_flush(struct worker *w, unsigned timeout_ms);
/* Whether w's loop answers within timeout_ms (the service watchdog). */
int worker_responsive(struct worker *w, unsigned timeout_ms);

#endif
