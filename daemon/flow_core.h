/* Inside of a flow: shared by the relay core (flow.c: connect, upstream
 * handshake, relay) and the front ends that hand it flows (the SOCKS
 * server; udp_relay.c for its log lines). Below the front ends nothing
 * includes this. */
#ifndef SOCKGATE_FLOW_CORE_H
#define SOCKGATE_FLOW_CORE_H

#include <stdint.h>
#include <sys/socket.h>

#include "backlog.h"
#include "list.h"
#include "upstream.h"
#include "loop.h"
#include "relay.h"

struct dns_query;
struct http_session;
struct socks_session;

enum flow_state {
	FLOW_REQUEST,	 /* a front end reads its client's request (SOCKS, HTTP) */
	FLOW_RESOLVING,	 /* SOCKS: the target's name is being looked up */
	FLOW_SNIFFING,	 /* intercepted: the client's first bytes read for a name */
	FLOW_CONNECTING, /* to the upstream or, for direct, the target */
	FLOW_HANDSHAKE,	 /* proxy protocol with the upstream */
	FLOW_BIND_WAIT,	 /* SOCKS BIND: listening for the target's connection */
	FLOW_UDP,	 /* SOCKS UDP ASSOCIATE: relaying datagrams */
	FLOW_RELAY,	 /* splice both ways */
	FLOW_FRONTEND,	 /* the front end moves the bytes itself (HTTP requests one by one) */
	FLOW_DEAD,	 /* destroyed; recycled once the current epoll batch is done */
};

enum {
	DIR_UP,	  /* client -> upstream */
	DIR_DOWN, /* upstream -> client */
};

struct relay_dir {
	struct pipe_pair *pipe;
	size_t in_pipe;
	struct backlog backlog; /* held to a slow destination's pace */
	uint8_t eof;		/* source sent FIN */
	uint8_t shut;		/* FIN passed on to the destination */
};

struct flow;

/* What a front end (the SOCKS server; the DNS service and HTTP inbound to
 * come) lends the relay core for the flows it hands it: the core calls
 * these and never names the front end. Transparent flows have none. */
struct flow_frontend {
	const char *name; /* in log lines and conns: "socks" */
	/* events of the client socket in the front end's own states (before
	 * the upstream is asked, BIND, UDP), and of the upstream socket in
	 * states the core does not know */
	void (*client_event)(struct flow *f, uint32_t events);
	void (*upstream_event)(struct flow *f, uint32_t events);
	/* the tunnel is up: tell the client; 0 to have the core relay, 1
	 * when the front end carries on itself (FLOW_FRONTEND), -1 when f was
	 * destroyed */
	int (*tunnel_up)(struct flow *f);
	/* a retryable failure: 1 when another address is being tried */
	int (*retry)(struct flow *f, const char *desc, const char *reason);
	/* a failure (rep, and reason for people): 1 when the client was
	 * answered (then closed with FIN) */
	int (*reply_failure)(struct flow *f, uint8_t rep, const char *reason);
	/* from flow_destroy: everything the front end holds for f */
	void (*session_end)(struct flow *f);
};

struct flow {
	struct ev client_ev, upstream_ev;
	const struct flow_frontend *fe; /* NULL: a transparent flow */
	struct relay *r;
	int client_fd, upstream_fd;
	enum flow_state state;
	uint64_t id;
	struct sockaddr_storage client;
	struct upstream_target target;	 /* the original or requested destination */
	const struct upstream *route;	 /* what its route named: up, or up's group */
	const struct upstream *up;	 /* of gen's config; a member, never a group */
	struct sockaddr_storage up_addr; /* the address of up tried now (not direct) */
	struct generation *gen;		 /* the configuration this flow started with */
	struct upstream_handshake *hs;
	struct socks_session *socks; /* SOCKS flows, until the relay starts */
	struct http_session *http;   /* HTTP proxy flows: CONNECT until the relay starts */
	struct relay_dir dir[2];
	/* Edges seen before the relay started; the relay must look then. */
	uint8_t client_readable, upstream_readable;
	struct client_limit *counted_in; /* the per-client table it holds a slot in */
	struct list node;		 /* r->flows, or r->free_flows when recycled */
	struct timer timer;		 /* on one of r's timer queues */
	struct list resume;		 /* r->resume or r->pipe_waiters */
	uint64_t last_active;
	uint64_t created_ms;
	uint64_t bytes[2]; /* delivered, per direction */
	uint8_t tproxy;	   /* came through the TPROXY intake */
	uint8_t intake;	   /* enum intake */
	uint8_t up_noted;  /* the upstream's health was recorded */
	/* an HTTP request the front end sends itself, to an HTTP upstream in
	 * absolute form (no CONNECT, which proxies allow to few ports) */
	uint8_t absolute_form;
	/* time to first byte: the upstream connection came from the warm
	 * pool; a dead one was replaced by a fresh connection (once); an
	 * optimistic request waits for (waited for) the client's first
	 * bytes; how many of them went behind the request, still to be taken
	 * from the client socket when the tunnel is up */
	uint8_t warm, warm_retried, awaiting_data, data_waited;
	uint16_t early_sent;
	uint64_t connect_ms; /* when the upstream connect began */
	/* members of route's group tried (bit by position), up's address
	 * tried (index), and the end of the time a retry may start in */
	uint32_t tried;
	uint8_t addr_index, addr_first;
	uint64_t retry_until_ms;
	char *name; /* the name it found (first bytes, fake-IP), owned: target.hostname */
	struct dns_query *lookup; /* a fake-IP name routed direct, being looked up */
};

/* SOCKS5 reply codes (RFC 1928 section 6), also used to classify failures
 * of intercepted flows in the logs. */
enum {
	REP_SUCCEEDED = 0x00,
	REP_GENERAL_FAILURE = 0x01,
	REP_NOT_ALLOWED = 0x02,
	REP_NETWORK_UNREACHABLE = 0x03,
	REP_HOST_UNREACHABLE = 0x04,
	REP_REFUSED = 0x05,
	REP_TTL_EXPIRED = 0x06,
	REP_COMMAND_UNSUPPORTED = 0x07,
	REP_ATYP_UNSUPPORTED = 0x08,
};

/* A new flow holding client_fd (counted in the fd budget); NULL after
 * closing client_fd when out of memory. */
struct flow *flow_new(struct relay *r, int client_fd, const struct sockaddr_storage *client,
		      enum intake intake);
/* Frees f, closing its sockets as how says. */
void flow_destroy(struct flow *f, enum close_how how);
/* Ends f for the reason given: a SOCKS client that has no reply yet gets
 * one with code rep, an intercepted client a reset. Returns -1. */
int flow_fail_rep(struct flow *f, uint8_t rep, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Arms f's one timer on q (0 ms: none); it fires flow_expire's verdict
 * for f's state. */
void flow_set_timer(struct flow *f, struct timer_queue *q, unsigned ms);
/* Routes f to route (an upstream or a [group], of the worker's current
 * configuration, which f moves to): the member the group's policy picks
 * and that member's first address. 0, or -1 (f untouched but for its
 * generation) when no member is up and the group says reset, or the
 * upstream has no address yet; why says which. */
int flow_take_route(struct flow *f, const struct upstream *route, char *why, size_t len);
/* Opens the connection f->up needs for f->target.addr and arms the connect
 * timer. 0, or -1 when f was failed (or is being retried elsewhere). */
int flow_connect(struct flow *f);
void flow_start_relay(struct flow *f);
/* The front end is done with f's upstream connection (an HTTP request was
 * answered) and keeps its client for the next: the connection is closed,
 * the route and upstream let go; f waits in FLOW_FRONTEND on the idle
 * timer. */
void flow_end_attempt(struct flow *f);
uint8_t flow_rep_for_errno(int err);
/* Whether addr is this host's own, or special, or cannot be judged (see
 * dst_guard.h): fails closed. */
int flow_is_local_address(struct flow *f, const struct sockaddr_storage *addr);
/* "CLIENT -> DST via NAME (kind ADDR)" for log lines. */
const char *flow_describe(const struct flow *f, char *buf, size_t len);
#define FLOW_DESCRIBE_MAX (3 * ADDR_STRLEN + 256 + 96)

#endif
