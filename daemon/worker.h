/* A worker: one thread, one epoll loop, its own listeners, flows, pipes and
 * timers. Workers share nothing but the read-only config. */
#ifndef SOCKGATE_WORKER_H
#define SOCKGATE_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "list.h"
#include "pipe_pool.h"

struct auth_cache;
struct auth_service;
struct client_limit;
struct config;
struct dns;
struct fd_budget;
struct generation;
struct dst_guard;
struct udp_relay;
struct users;

/* First member of everything registered with epoll, carrying its own
 * handler: the loop calls it and knows nothing of the module behind it. */
struct ev {
	void (*handle)(struct ev *ev, uint32_t events);
};

struct listener {
	struct ev ev;
	struct worker *w;
	int fd; /* -1: a free slot */
	int family;
	uint16_t port;		      /* intake listeners */
	struct sockaddr_storage addr; /* SOCKS listeners */
	enum listener_kind {
		LISTENER_REDIRECT,
		LISTENER_TPROXY,
		LISTENER_SOCKS,
		LISTENER_TPROXY_UDP, /* a datagram socket: read, not accepted */
	} kind;
};

/* Failure reasons counted, indexed by SOCKS5 reply code (the same
 * classification intercepted flows get in the log). */
#define WORKER_FAIL_KINDS 10
/* not a SOCKS reply code: an intercepted flow refused by the destination
 * guard (the router itself, a loop, another interface's network) */
#define WORKER_FAIL_LOOP 9

/* Why a transparent UDP datagram was not relayed. */
enum udp_drop_reason {
	UDP_DROP_UNSUPPORTED,	/* its upstream cannot carry UDP and says udp = drop */
	UDP_DROP_QUEUE_FULL,	/* arrived during setup with the client's queue full */
	UDP_DROP_UPSTREAM_DOWN, /* the association failed; retried after a pause */
	UDP_DROP_NO_ROOM,	/* no fd left for a new association */
	UDP_DROP_TOO_BIG,	/* truncated on receipt */
	UDP_DROP_MALFORMED,	/* bad SOCKS5 UDP header from the relay, FRAG != 0 */
	UDP_DROP_SEND_FAILED,	/* sendto failed (no route, no buffer) */
	UDP_DROP_LOOP,		/* to the router itself, a loop, or another network */
	UDP_DROP_KINDS,
};

/* How a flow came in, for the metrics. */
enum flow_intake {
	FLOW_INTAKE_REDIRECT,
	FLOW_INTAKE_TPROXY,
	FLOW_INTAKE_SOCKS,
	FLOW_INTAKES,
};

/* Upper bounds (ms) of the upstream handshake latency histogram's buckets;
 * one more bucket counts the rest. */
#define HANDSHAKE_BUCKET_BOUNDS_MS 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
#define HANDSHAKE_BUCKETS	   13

/* Written by the worker, read by the control socket and the metrics:
 * relaxed atomics. */
struct worker_counters {
	atomic_ullong flows_total, flows_live, bytes_up, bytes_down;
	atomic_ullong intake_total[FLOW_INTAKES], intake_live[FLOW_INTAKES];
	/* from the connect to the upstream to its handshake's success, ms */
	atomic_ullong handshake_buckets[HANDSHAKE_BUCKETS], handshake_ms_sum;
	atomic_ullong failures[WORKER_FAIL_KINDS];
	atomic_ullong udp_assocs_live, udp_assocs_total, udp_evicted;
	atomic_ullong udp_datagrams[2], udp_bytes[2]; /* DIR_UP, DIR_DOWN */
	atomic_ullong udp_drops[UDP_DROP_KINDS];
	atomic_ullong dns_lookups; /* SOCKS name lookups under way, orphans included */
	/* intercepted flows and UDP associations refused (or, UDP, one of the
	 * client's own evicted) by max_flows_per_client / max_udp_per_client */
	atomic_ullong client_limited;
};

/* Names of the failure kinds (by SOCKS5 reply code) and of the UDP drop
 * reasons, as the control socket and the metrics print them. */
extern const char *const worker_fail_names[WORKER_FAIL_KINDS];
extern const char *const worker_udp_drop_names[UDP_DROP_KINDS];

struct worker;
/* One counter (at offset in struct worker_counters) summed over workers. */
unsigned long long workers_sum(const struct worker *workers, unsigned n, size_t offset);
#define WORKERS_SUM(workers, n, field)                                                             \
	workers_sum(workers, n, offsetof(struct worker_counters, field))

struct upstream_counters {
	atomic_ullong flows, failures, bytes_up, bytes_down; /* flows that ended */
	atomic_ullong live;
	/* the last time (worker now_ms + 1) the upstream answered a handshake,
	 * or could not be reached or failed to answer */
	atomic_ullong last_ok_ms, last_fail_ms;
};

/* What all workers share; set up by main before the workers start. */
struct worker_shared {
	struct fd_budget *budget;
	const struct users *users;	  /* [socks] auth = password */
	struct auth_service *auth;	  /* idem */
	struct client_limit *limits;	  /* [socks] */
	struct client_limit *flow_limits; /* [intake] max_flows_per_client */
	struct client_limit *udp_limits;  /* [intake] max_udp_per_client */
};

/* REDIRECT, TPROXY and TPROXY UDP, v4 + v6, and the SOCKS listen addresses */
#define WORKER_LISTENERS_MAX (6 + 16)

struct worker {
	unsigned index;
	pthread_t thread;
	int epoll_fd;
	struct ev wake_ev;
	int wake_fd; /* eventfd: main thread asks the worker to stop */
	atomic_int stop;
	const struct config *cfg;	       /* gen->cfg */
	struct generation *gen;		       /* the configuration new flows use */
	_Atomic(struct generation *) next_gen; /* handed over by a reload */
	struct listener listeners[WORKER_LISTENERS_MAX];
	unsigned n_listeners;
	int accept_paused;
	struct pipe_pool pipes;
	struct fd_budget *budget; /* shared by all workers */
	const struct worker_shared *shared;
	struct dns *dns;	       /* SOCKS name lookups; NULL without [socks] */
	struct auth_cache *auth_cache; /* credentials that passed on this worker */
	struct dst_guard *dst_guard;   /* route lookups: is a destination ours? */
	struct udp_relay *udp;	       /* transparent UDP, made on first use */
	/* password checks handed back by the verifier thread */
	pthread_mutex_t auth_lock;
	struct list auth_done;
	struct ev auth_ev;
	int auth_fd;	 /* eventfd */
	uint64_t now_ms; /* CLOCK_MONOTONIC, refreshed once per loop turn */
	uint64_t next_flow_id;
	/* timer lists, each ordered by deadline since its timeout is fixed */
	struct list connect_timers, handshake_timers, idle_timers, bind_timers;
	struct list flows;	  /* every live flow */
	struct list resume;	  /* flows with work left after their event */
	struct list pipe_waiters; /* flows waiting for a pipe within the budget */
	struct list free_flows;	  /* recycled flow allocations */
	struct list dead_flows;	  /* destroyed in this loop turn (see flow_reap) */
	/* lines about failures clients can cause, per second (see
	 * worker_log_allowed) */
	unsigned log_lines;
	unsigned log_suppressed;
	uint64_t log_window_ms;
	struct worker_counters counters;
	/* a listing of the live flows, made by the worker on request */
	pthread_mutex_t snap_lock;
	pthread_cond_t snap_cond;
	atomic_int snap_requested;
	enum worker_request {
		WORKER_LIST_TEXT,
		WORKER_LIST_JSON,
		WORKER_DUP_TPROXY_LISTENERS,
		WORKER_PING,
	} snap_kind;
	int snap_waiting; /* the requester still waits (under snap_lock) */
	char *snap_text;  /* malloc'd, handed to the requester */
	int snap_fds[2];  /* WORKER_DUP_TPROXY_LISTENERS: IPv4, IPv6, or -1 */
	int snap_done;
	unsigned n_free_flows;
	/* what worker_free_after_batch holds until the batch is done */
	void **later;
	size_t n_later, later_cap;
};

/* Sets up w (listeners included); 0 or -errno with a log line. */
int worker_init(struct worker *w, unsigned index, struct generation *gen,
		const struct worker_shared *shared);
/* From the main thread: the worker switches to gen (taking a reference)
 * between two events. */
void worker_switch_generation(struct worker *w, struct generation *gen);
int worker_start(struct worker *w);
/* Asks the worker to stop; worker_join waits for it and frees it. */
void worker_request_stop(struct worker *w);
void worker_join(struct worker *w);
void worker_destroy(struct worker *w);
/* Frees p once the events of the current epoll batch are handled: one of
 * them may still point into it. Its owner marks it dead before handing it
 * over, and its event handlers look at that mark first. */
void worker_free_after_batch(struct worker *w, void *p);
/* From another thread: the worker's live flows as text lines or JSON
 * objects separated by commas; NULL on timeout or when out of memory. */
char *worker_snapshot(struct worker *w, int json, unsigned timeout_ms);
/* Copies (dup) of w's TPROXY TCP listeners, IPv4 then IPv6 (-1 for one it
 * has not), made by the worker itself so a reload cannot close them
 * meanwhile: 0, or -ETIMEDOUT. The caller owns the fds. */
int worker_dup_tproxy_listeners(struct worker *w, int fds[2], unsigned timeout_ms);
/* Whether w's loop answers within timeout_ms (the service watchdog). */
int worker_responsive(struct worker *w, unsigned timeout_ms);

/* Whether one more line about a failure a client can cause (a refused
 * connect, a bad handshake, a wrong password) may be logged now: at most
 * WORKER_LOG_PER_SECOND per worker, the rest counted and summed up once a
 * second, so a misbehaving client cannot flood the log. */
#define WORKER_LOG_PER_SECOND 20
int worker_log_allowed(struct worker *w);

/* Used by flow.c */
/* Called after flow.c closed sockets or pipes: accepting may resume. */
void worker_fds_released(struct worker *w);
int worker_epoll_add(struct worker *w, int fd, struct ev *ev, uint32_t events);

#endif
