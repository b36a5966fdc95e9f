/* A worker's relay: the state the relay core and the front ends share on
 * one thread. Its loop, the configuration new flows use, the live flows
 * and their timers, pipes, the per-thread services front ends draw on (the
 * resolver, the route lookups) and the counters the control socket and the
 * metrics read. The worker thread owns it; everything below the worker
 * takes a struct relay and never names the worker. */
#ifndef SOCKGATE_RELAY_H
#define SOCKGATE_RELAY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "intake.h"
#include "list.h"
#include "sockgate/config.h"
#include "loop.h"
#include "pipe_pool.h"

struct auth_service;
struct client_limit;
struct config;
struct dns;
struct dns_service;
struct dst_guard;
struct fakeip;
struct fd_budget;
struct generation;
struct neigh;
struct login;
struct warm_pools;
struct udp_relay;
struct upstream_watch;
struct users;

/* Failure reasons counted, indexed by SOCKS5 reply code (the same
 * classification intercepted flows get in the log). */
#define RELAY_FAIL_KINDS 10
/* not a SOCKS reply code: an intercepted flow refused by the destination
 * guard (the router itself, a loop, another interface's network) */
#define RELAY_FAIL_LOOP 9

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

/* The errno behind a UDP_DROP_SEND_FAILED (a send, a reply socket that
 * could not be made, or an ICMP error read back), so that a loss explains
 * itself; the ones a relay meets, and the rest as one. */
enum udp_send_error {
	UDP_SEND_EAGAIN,	/* the socket's send buffer is full */
	UDP_SEND_ENOBUFS,	/* the device queue or the neighbour's queue is */
	UDP_SEND_ECONNREFUSED,	/* an ICMP port unreachable came back */
	UDP_SEND_EHOSTUNREACH,	/* no neighbour answered, or an ICMP said so */
	UDP_SEND_ENETUNREACH,	/* no route */
	UDP_SEND_EMSGSIZE,	/* larger than the path takes */
	UDP_SEND_EPERM,		/* a firewall rule refused it */
	UDP_SEND_EADDRINUSE,	/* a reply socket's bind: the source is taken */
	UDP_SEND_EADDRNOTAVAIL, /* a reply socket's bind: not a usable source */
	UDP_SEND_EMFILE,	/* no fd for a reply socket (fd budget or limit) */
	UDP_SEND_OTHER,
	UDP_SEND_ERROR_KINDS,
};

/* rcodes the DNS service's answers are counted by: NOERROR, FORMERR,
 * SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, and the rest */
#define DNS_RCODE_KINDS 7
extern const char *const relay_dns_rcode_names[DNS_RCODE_KINDS];

/* A DNS-over-TCP connection nothing was asked on for this long closes. */
#define DNS_TCP_IDLE_MS 10000

/* Upper bounds (ms) of the upstream handshake latency histogram's buckets;
 * one more bucket counts the rest. */
#define HANDSHAKE_BUCKET_BOUNDS_MS 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
#define HANDSHAKE_BUCKETS	   13

/* Written by the relay's thread, read by the control socket and the
 * metrics: relaxed atomics. */
struct relay_counters {
	atomic_ullong flows_total, flows_live, bytes_up, bytes_down;
	atomic_ullong intake_total[INTAKES], intake_live[INTAKES];
	/* from the connect to the upstream to its handshake's success, ms */
	atomic_ullong handshake_buckets[HANDSHAKE_BUCKETS], handshake_ms_sum;
	atomic_ullong failures[RELAY_FAIL_KINDS];
	atomic_ullong udp_assocs_live, udp_assocs_total, udp_evicted;
	atomic_ullong udp_datagrams[2], udp_bytes[2]; /* DIR_UP, DIR_DOWN */
	atomic_ullong udp_drops[UDP_DROP_KINDS];
	atomic_ullong udp_send_errors[UDP_SEND_ERROR_KINDS]; /* UDP_DROP_SEND_FAILED by errno */
	atomic_ullong dns_lookups; /* SOCKS name lookups under way, orphans included */
	/* intercepted flows and UDP associations refused (or, UDP, one of the
	 * client's own evicted) by max_flows_per_client / max_udp_per_client */
	atomic_ullong client_limited;
	atomic_ullong flows_shed; /* TCP connections reset at [daemon] max_flows */
	/* relayed directions held to a slow destination's pace (backlog.h):
	 * now, and times one was */
	atomic_ullong backlog_held, backlog_holds;
	struct pipe_pool_gauges pipes; /* the worker's pipes, pooled and in use */
	/* warm sessions: opened, taken by a flow, wanted but none ready,
	 * renewed for age, closed by the upstream while waiting; a flow's
	 * taken one found dead and replaced by a fresh connection; ready now */
	atomic_ullong warm_opened, warm_used, warm_missed, warm_expired, warm_died, warm_retried;
	atomic_ullong warm_ready;
	atomic_ullong optimistic; /* flows whose first bytes went ahead with the request */
	struct dns_counters {
		atomic_ullong queries; /* well-formed queries from clients */
		atomic_ullong cache_hits;
		atomic_ullong forwarded; /* queries sent to a resolver (retries too) */
		atomic_ullong answers[DNS_RCODE_KINDS]; /* to clients, by rcode */
		atomic_ullong timeouts;			/* a resolver did not answer in time */
		atomic_ullong malformed;    /* queries refused (FORMERR, NOTIMP) or dropped */
		atomic_ullong refused;	    /* not in allow, or too many waiting */
		atomic_ullong bad_answers;  /* from resolvers: malformed, another question */
		atomic_ullong fake_answers; /* mode = fakeip: answered from the pool */
		/* intercepted flows to a pool address the table has no name for
		 * (any more): reset */
		atomic_ullong fake_unknown;
		atomic_ullong cache_entries, cache_bytes; /* gauges */
		/* by the position of the server in [dns] server; started
		 * again when a reload changes that list */
		struct dns_server_counters {
			atomic_ullong asked;	      /* attempts (a retry over TCP too) */
			atomic_ullong answered;	      /* attempts it answered */
			atomic_ullong failed;	      /* no answer in time, refused, down */
			atomic_ullong latency_ms_sum; /* of the answered attempts */
		} servers[DNS_SERVERS_MAX];
	} dns;
};

/* Puts mark on fd: the rules skip sockgated's own sockets, so what it
 * sends is never intercepted again. 0 (nothing done without a mark), or
 * -1 with errno. */
static inline int relay_mark_socket(int fd, uint32_t mark)
{
	return mark ? setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) : 0;
}

/* One more of a counter: written by the relay's thread only. */
static inline void relay_count(atomic_ullong *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Names of the failure kinds (by SOCKS5 reply code) and of the UDP drop
 * reasons, as the control socket and the metrics print them. */
extern const char *const relay_fail_names[RELAY_FAIL_KINDS];
extern const char *const relay_udp_drop_names[UDP_DROP_KINDS];
extern const char *const relay_udp_send_error_names[UDP_SEND_ERROR_KINDS];

/* The udp_send_errors slot of an errno. */
enum udp_send_error relay_udp_send_error_kind(int err);

/* What all relays share; set up by main before the workers start. */
struct relay_shared {
	struct fd_budget *budget;
	atomic_uint *flows_live;	  /* TCP flows of all workers ([daemon] max_flows) */
	const struct users *users;	  /* [socks] auth = password */
	struct auth_service *auth;	  /* idem */
	struct client_limit *limits;	  /* [socks] */
	struct client_limit *flow_limits; /* [intake] max_flows_per_client */
	struct client_limit *udp_limits;  /* [intake] max_udp_per_client */
	struct fakeip *fakeip;		  /* [dns] mode = fakeip at start; else NULL */
};

struct relay {
	struct loop loop;
	unsigned index;		  /* the worker's */
	const struct config *cfg; /* gen->cfg */
	struct generation *gen;	  /* the configuration new flows use */
	const struct relay_shared *shared;
	struct pipe_pool pipes;
	struct dns *dns;	     /* name lookups; NULL without [socks] */
	struct dst_guard *dst_guard; /* route lookups: is a destination ours? */
	struct neigh *neigh;	     /* clients' MACs, made when a [route] rule needs one */
	/* front ends' per-thread state, made by their owners */
	struct login *login;		 /* password checks; NULL without [socks] */
	struct dns_service *dns_service; /* NULL without [dns] */
	struct udp_relay *udp;		 /* transparent UDP, made on first use */
	struct warm_pools *warm;	 /* warm sessions to upstreams */
	struct upstream_watch *watch;	 /* worker 0's: names and checks */
	uint64_t next_flow_id;
	unsigned seen_downs; /* upstream_live_downs() when its flows were last looked at */
	struct timer_queue connect_timers, handshake_timers, idle_timers, bind_timers;
	struct timer_queue udp_setup_timers; /* our UDP ASSOCIATEs with upstreams */
	struct timer_queue dns_timers;	     /* the DNS service's attempts */
	struct timer_queue sniff_timers;     /* intercepted flows' first bytes, sniff_timeout */
	struct timer_queue dns_idle_timers;  /* its TCP connections, DNS_TCP_IDLE_MS */
	struct list flows;		     /* every live flow */
	struct list resume;		     /* flows with work left after their event */
	struct list pipe_waiters;	     /* flows waiting for a pipe within the budget */
	struct list free_flows;		     /* recycled flow allocations */
	struct list dead_flows;		     /* destroyed in this batch (see flow_reap) */
	unsigned n_free_flows;
	struct relay_counters counters;
};

/* Sets up r for the worker index with gen (taking a reference); 0 or
 * -errno with a log line. */
int relay_init(struct relay *r, unsigned index, struct generation *gen,
	       const struct relay_shared *shared);
/* New flows use next (whose reference r takes over); timers already
 * running come down to the new timeouts. */
void relay_switch_generation(struct relay *r, struct generation *next);
/* The [route] decision of gen's config for a flow or datagram from client
 * to dst (with its port), by name when there is one (why, when not NULL,
 * says what made it): the client's MAC is looked up only when a rule names
 * one; a LAN device talking to an upstream's address and port itself goes
 * direct, as a bypass entry would send it. */
const struct upstream *relay_route(struct relay *r, struct generation *gen,
				   const struct sockaddr_storage *client,
				   const struct sockaddr_storage *dst, const char *name,
				   struct route_why *why);
/* Frees what relay_init made; the flows and front ends are gone already. */
void relay_destroy(struct relay *r);

#endif
