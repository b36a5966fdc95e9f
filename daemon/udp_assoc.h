/* Our own UDP ASSOCIATE with one SOCKS5 upstream (RFC 1928 section 7), for
 * the transparent UDP relay and for the SOCKS server's UDP ASSOCIATE alike:
 * the control connection and its handshake (udp_control.c), a setup
 * deadline, the datagrams that wait for the grant in a bounded queue, the
 * datagram socket towards the upstream's relay once granted, and the end
 * of it all when the control connection ends. The owner embeds it, says
 * what to do when it is ready, goes down or has replies, and reads the
 * replies itself. */
#ifndef SOCKGATE_UDP_ASSOC_H
#define SOCKGATE_UDP_ASSOC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "loop.h"

struct generation;
struct relay;
struct upstream;
struct upstream_counters;
struct udp_assoc;
struct udp_assoc_setup;

enum udp_assoc_state {
	UDP_ASSOC_DOWN,	      /* not started, or failed: retried after retry_at */
	UDP_ASSOC_CONNECTING, /* control connection to the upstream */
	UDP_ASSOC_HANDSHAKE,  /* the UDP ASSOCIATE is asked */
	UDP_ASSOC_READY,      /* datagrams go to the upstream's relay */
};

/* Why an association went down. */
enum udp_assoc_down {
	UDP_ASSOC_NO_ROOM, /* no fd or memory to start it */
	UDP_ASSOC_FAILED,  /* its setup failed or timed out */
	/* the upstream took the connection and refused the request, or closed
	 * it before a grant: it may not do UDP ASSOCIATE at all */
	UDP_ASSOC_REFUSED,
	UDP_ASSOC_ENDED, /* its control connection ended after the grant */
};

/* What the owner does at each turn; none may free the association (the
 * owner does that after udp_assoc_close, with loop_free_after_batch). */
struct udp_assoc_ops {
	/* granted, and what waited was sent */
	void (*ready)(struct udp_assoc *a);
	/* down for the reason why says; dropped datagrams were waiting */
	void (*down)(struct udp_assoc *a, enum udp_assoc_down kind, const char *why,
		     unsigned dropped);
	/* replies wait on a->relay_fd */
	void (*readable)(struct udp_assoc *a);
	/* one datagram that waited went out (rc: send's result); payload is
	 * its length without the SOCKS5 header */
	void (*sent)(struct udp_assoc *a, ssize_t rc, size_t payload);
};

/* Bounds on the datagrams that wait for a grant. */
struct udp_assoc_limits {
	unsigned datagrams; /* per association */
	size_t bytes;	    /* per association */
	size_t *shared;	    /* bytes queued by all the owner's associations, or NULL */
	size_t shared_max;
};

struct udp_assoc {
	struct ev control_ev, relay_ev;
	struct timer setup_timer;
	struct relay *r;
	const struct udp_assoc_ops *ops;
	const struct udp_assoc_limits *limits;
	struct generation *gen; /* the owner's: up and its live state are of it */
	const struct upstream *up;
	struct upstream_counters *counters; /* up's, in gen */
	uint32_t mark;
	unsigned setup_ms; /* connect + handshake timeouts */
	enum udp_assoc_state state;
	int control_fd, relay_fd;
	struct sockaddr_storage up_addr; /* up's address this setup uses */
	struct sockaddr_storage relay;	 /* where datagrams go (READY) */
	uint64_t retry_at;
	struct udp_assoc_setup *setup; /* until READY */
};

/* up is of gen's config; the owner holds a reference to gen while a
 * lives. */
void udp_assoc_init(struct udp_assoc *a, struct relay *r, const struct udp_assoc_ops *ops,
		    const struct udp_assoc_limits *limits, struct generation *gen,
		    const struct upstream *up, uint32_t mark, unsigned setup_ms);

enum udp_assoc_send {
	UDP_ASSOC_SENT,
	UDP_ASSOC_QUEUED,      /* waits for the grant */
	UDP_ASSOC_QUEUE_FULL,  /* dropped: too much waits already */
	UDP_ASSOC_UNAVAILABLE, /* dropped: down, and not to be retried yet */
	UDP_ASSOC_SEND_FAILED, /* dropped: send failed (errno) */
};

/* One datagram to the relay: hdr (the SOCKS5 UDP header) and data, sent
 * as two iovecs, or queued while the association is set up. A down
 * association is started again once its retry_at has come. */
enum udp_assoc_send udp_assoc_send(struct udp_assoc *a, const uint8_t *hdr, size_t hl,
				   const uint8_t *data, size_t len);
/* Starts the setup: 0, or -1 once down (ops->down was told). */
int udp_assoc_start(struct udp_assoc *a);
/* Closes its sockets, drops the queue, stops the deadline: down, with
 * retry_at now. No callback. */
void udp_assoc_close(struct udp_assoc *a);
/* "connecting", "handshake", "ready", or "failed" for a down one. */
const char *udp_assoc_state_name(const struct udp_assoc *a);

#endif
