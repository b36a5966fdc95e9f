/* UDP ASSOCIATE. One socket faces the client and takes datagrams only
 * from its address; one dual-stack socket (marked) faces the targets
 * [route] sends directly. Destinations routed to an upstream go through a
 * link: our own UDP ASSOCIATE with that upstream (udp_assoc.c, as the
 * transparent UDP relay uses it), made on the first datagram and kept as long as the client's
 * association (its control connection lives as long as the client's). All sockets are
 * level-triggered and drained UDP_BURST datagrams at a time through one
 * buffer per thread: no allocation per datagram. A datagram to a name
 * waits (one at a time) for its lookup; the last name's address is
 * reused. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "dns.h"
#include "fd_budget.h"
#include "flow_core.h"
#include "generation.h"
#include "socks_handshake.h"
#include "proxy_target.h"
#include "socks_session.h"
#include "socks_udp.h"
#include "upstream_live.h"
#include "udp_assoc.h"

/* Datagrams relayed per event and direction before yielding the loop. */
#define UDP_BURST	 32
#define UDP_PENDING_MAX	 2048
#define UDP_DATAGRAM_MAX 65535
#define LINK_QUEUE_BYTES 16384 /* per link while it is set up */
#define LINK_QUEUE_MAX	 16
#define LINKS_MAX	 8 /* upstreams one association may go through */

/* Our own UDP ASSOCIATE with one upstream, for the destinations [route]
 * sends to it. Datagrams leave with a header rebuilt from the checked
 * destination; the relay's replies already carry the header the client
 * expects and go back to it as they are, once parsed. */
struct socks_udp_link {
	struct udp_assoc assoc;
	struct socks_udp *u; /* NULL: dead, freed after the batch */
	struct socks_udp_link *next;
};

static const struct udp_assoc_limits link_limits = {
	.datagrams = LINK_QUEUE_MAX,
	.bytes = LINK_QUEUE_BYTES,
};

struct socks_udp {
	struct ev ev;
	struct flow *flow;
	int fd;	    /* facing the client; the flow's upstream_fd faces the targets */
	int out_v6; /* the target-facing socket is dual-stack */
	struct sockaddr_storage client;
	int client_port_known;
	struct sockaddr_storage checked;   /* last target that passed policy */
	const struct upstream *checked_up; /* its route's upstream; NULL: direct */
	struct socks_udp_link *links;
	struct dns_query *dns;
	char name[256]; /* last name resolved, and its address */
	struct sockaddr_storage name_addr;
	uint8_t *pending; /* a datagram waiting for its name */
	size_t pending_len;
	int route_logged;
};

/* Counts a datagram's payload in the flow once sent; returns rc. */
static ssize_t udp_count(struct flow *f, int dir, ssize_t rc, size_t payload)
{
	if (rc >= 0)
		f->bytes[dir] += payload;
	return rc;
}

void socks_udp_free(struct flow *f)
{
	struct socks_udp *u = f->socks ? f->socks->udp : NULL;

	if (!u)
		return;
	while (u->links) {
		struct socks_udp_link *l = u->links;
		u->links = l->next;
		udp_assoc_close(&l->assoc);
		l->u = NULL; /* dead: its events in this batch are ignored */
		loop_free_after_batch(&f->r->loop, l);
	}
	dns_cancel(&u->dns);
	if (u->fd >= 0)
		loop_close(&f->r->loop, &u->fd, CLOSE_FIN);
	free(u->pending);
	u->flow = NULL; /* dead, as above */
	loop_free_after_batch(&f->r->loop, u);
	f->socks->udp = NULL;
}

/* The socket facing the targets: dual-stack where the host has IPv6
 * (*v6 set), IPv4 otherwise; -1 with errno. */
static int socks_udp_target_socket(int *v6)
{
	int zero = 0, fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) {
		close(fd);
		fd = -1;
	}
	*v6 = fd >= 0;
	return fd >= 0 ? fd : socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/* One socket faces the client, bound to the address the client reached us
 * on; one faces the targets. */
int socks_udp_open(struct flow *f)
{
	struct socks_session *s = f->socks;
	const struct config *cfg = f->r->cfg;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct socks_udp *u = calloc(1, sizeof(*u));
	int fd;

	if (!u)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: out of memory");
	u->fd = -1;
	u->flow = f;
	s->udp = u;

	if (getsockname(f->client_fd, (struct sockaddr *)&local, &len) < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: getsockname: %s",
				     strerror(errno));
	addr_set_port(&local, 0);
	fd = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: socket: %s", strerror(errno));
	u->fd = fd;
	fd_budget_take(f->r->loop.budget, 1);
	len = sizeof(local);
	if (bind(fd, (const struct sockaddr *)&local, addr_len(&local)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: bind: %s", strerror(errno));

	fd = socks_udp_target_socket(&u->out_v6);
	if (fd < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: socket: %s", strerror(errno));
	f->upstream_fd = fd;
	fd_budget_take(f->r->loop.budget, 1);
	if (relay_mark_socket(fd, cfg->mark) < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: SO_MARK: %s", strerror(errno));

	/* Datagrams are taken only from the client's address; from the port
	 * it named, or else from the first one it sends from. */
	u->client = f->client;
	if (!f->target.hostname && f->target.addr.ss_family && addr_port(&f->target.addr) != 0) {
		u->client_port_known = 1;
		addr_set_port(&u->client, addr_port(&f->target.addr));
	}
	memset(&f->target, 0, sizeof(f->target));
	u->ev.handle = socks_udp_client_event;
	if (loop_add(&f->r->loop, u->fd, &u->ev, EPOLLIN) < 0 ||
	    loop_add(&f->r->loop, f->upstream_fd, &f->upstream_ev, EPOLLIN) < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: epoll: %s", strerror(errno));
	f->state = FLOW_UDP;
	f->last_active = f->r->loop.now_ms;
	flow_set_timer(f, &f->r->idle_timers, cfg->idle_timeout_ms);
	if (socks_reply(f, REP_SUCCEEDED, &local) < 0)
		return -1;
	s->reply_owed = 0;
	return 0;
}

/* ---- links: UDP ASSOCIATE through an upstream ---- */

static void link_ready(struct udp_assoc *a)
{
	struct socks_udp_link *l = container_of(a, struct socks_udp_link, assoc);
	struct flow *f = l->u->flow;
	char rel[ADDR_STRLEN];

	log_debug("flow %u.%llu: UDP through upstream \"%s\": associated, relay %s", f->r->index,
		  (unsigned long long)f->id, a->up->name, addr_format(&a->relay, rel, sizeof(rel)));
}

static void link_down(struct udp_assoc *a, enum udp_assoc_down kind, const char *why,
		      unsigned dropped)
{
	struct socks_udp_link *l = container_of(a, struct socks_udp_link, assoc);
	struct flow *f = l->u->flow;

	(void)kind;
	if (loop_log_allowed(&f->r->loop))
		log_warn("flow %u.%llu: UDP through upstream \"%s\": %s%s", f->r->index,
			 (unsigned long long)f->id, a->up->name, why,
			 dropped ? "; the datagrams waiting for it are dropped" : "");
}

static void link_sent(struct udp_assoc *a, ssize_t rc, size_t payload)
{
	struct socks_udp_link *l = container_of(a, struct socks_udp_link, assoc);

	udp_count(l->u->flow, DIR_UP, rc, payload);
}

/* Relay -> client: each reply already has its SOCKS5 header. */
static void link_readable(struct udp_assoc *a)
{
	static _Thread_local uint8_t buf[UDP_DATAGRAM_MAX];
	struct socks_udp_link *l = container_of(a, struct socks_udp_link, assoc);
	struct socks_udp *u = l->u;
	struct flow *f;

	if (!u)
		return; /* dead since an earlier event of this batch */
	f = u->flow;
	for (int i = 0; i < UDP_BURST; i++) {
		struct upstream_target t;
		char host[256];
		const char *why;
		size_t hdr;
		ssize_t n = recv(a->relay_fd, buf, sizeof(buf), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0)
			continue; /* an ICMP error for an earlier datagram */
		if (!u->client_port_known)
			continue;
		if (socks_udp_parse(buf, (size_t)n, &t, host, &hdr, &why) < 0) {
			log_debug("flow %u.%llu: UDP from upstream \"%s\" dropped: %s", f->r->index,
				  (unsigned long long)f->id, a->up->name, why);
			continue;
		}
		udp_count(f, DIR_DOWN,
			  sendto(u->fd, buf, (size_t)n, MSG_DONTWAIT,
				 (const struct sockaddr *)&u->client, addr_len(&u->client)),
			  (size_t)n - hdr);
		f->last_active = f->r->loop.now_ms;
	}
}

static const struct udp_assoc_ops link_ops = {
	.ready = link_ready,
	.down = link_down,
	.readable = link_readable,
	.sent = link_sent,
};

/* The association's link with up, made on first use; NULL when it has as
 * many as it may. */
static struct socks_udp_link *link_get(struct socks_udp *u, const struct upstream *up)
{
	struct flow *f = u->flow;
	const struct config *cfg = f->gen->cfg;
	struct socks_udp_link *l;
	unsigned n = 0;

	for (l = u->links; l; l = l->next, n++)
		if (l->assoc.up == up)
			return l;
	if (n >= LINKS_MAX || !(l = calloc(1, sizeof(*l))))
		return NULL;
	udp_assoc_init(&l->assoc, f->r, &link_ops, &link_limits, f->gen, up, cfg->mark,
		       cfg->connect_timeout_ms + cfg->handshake_timeout_ms);
	l->u = u;
	l->next = u->links;
	u->links = l;
	return l;
}

/* One client payload to dst through up's link: sent with a header in front
 * (two iovecs, no copy), or queued while the link is set up; dropped when
 * it cannot be (UDP senders retry). */
static void link_send(struct socks_udp *u, const struct upstream *up,
		      const struct sockaddr_storage *dst, const uint8_t *data, size_t len)
{
	struct socks_udp_link *l = link_get(u, up);
	uint8_t hdr[SOCKS_UDP_HEADER_MAX];
	size_t hl;

	if (!l)
		return;
	hl = socks_udp_header(dst, hdr);
	if (udp_assoc_send(&l->assoc, hdr, hl, data, len) == UDP_ASSOC_SENT)
		udp_count(u->flow, DIR_UP, 0, len);
}

/* Sends one client payload to dst, if policy and route allow. */
static void socks_udp_send(struct flow *f, struct sockaddr_storage *dst, const uint8_t *data,
			   size_t len)
{
	struct socks_udp *u = f->socks->udp;
	struct sockaddr_storage to;
	char a[ADDR_STRLEN];

	addr_unmap_v4(dst);
	if (!addr_equal(dst, &u->checked)) {
		const struct upstream *up;
		int pos;
		if (!proxy_dst_allowed(f, dst)) {
			log_debug("flow %u.%llu: UDP to %s dropped: destination not allowed",
				  f->r->index, (unsigned long long)f->id,
				  addr_format(dst, a, sizeof(a)));
			return;
		}
		/* as intercepted UDP: the upstream's udp key decides (of the
		 * member a group picks for this client) */
		up = upstream_live_pick(&f->gen->live,
					relay_route(f->r, f->gen, &f->client, dst, NULL, NULL),
					&f->client, 0, PICK_UDP, &pos);
		if (!up) {
			if (!u->route_logged++)
				log_info("flow %u.%llu: UDP to %s dropped: every member of its "
					 "group is down",
					 f->r->index, (unsigned long long)f->id,
					 addr_format(dst, a, sizeof(a)));
			return;
		}
		if (up->url.kind != UPSTREAM_DIRECT && up->udp == UPSTREAM_UDP_DROP) {
			if (!u->route_logged++)
				log_info("flow %u.%llu: UDP to %s dropped: its route is upstream "
					 "\"%s\" (%s), which has udp = drop",
					 f->r->index, (unsigned long long)f->id,
					 addr_format(dst, a, sizeof(a)), up->name,
					 upstream_kind_name(up->url.kind));
			return;
		}
		u->checked = *dst;
		u->checked_up =
		    up->url.kind == UPSTREAM_DIRECT || up->udp == UPSTREAM_UDP_DIRECT ? NULL : up;
	}
	if (u->checked_up) {
		link_send(u, u->checked_up, dst, data, len);
		f->last_active = f->r->loop.now_ms;
		return;
	}
	to = *dst;
	if (to.ss_family == AF_INET && u->out_v6) {
		/* through the dual-stack socket as ::ffff:a.b.c.d */
		struct sockaddr_in sin;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&to;
		memcpy(&sin, dst, sizeof(sin));
		memset(&to, 0, sizeof(to));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = sin.sin_port;
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], &sin.sin_addr, 4);
	} else if (to.ss_family == AF_INET6 && !u->out_v6) {
		return; /* no IPv6 on this host */
	}
	if (udp_count(f, DIR_UP,
		      sendto(f->upstream_fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)&to,
			     addr_len(&to)),
		      len) < 0)
		log_debug("flow %u.%llu: UDP to %s: %s", f->r->index, (unsigned long long)f->id,
			  addr_format(dst, a, sizeof(a)), strerror(errno));
	f->last_active = f->r->loop.now_ms;
}

static void socks_udp_resolved(void *arg, const struct sockaddr_storage *addrs, size_t n,
			       unsigned ttl_s, const char *err)
{
	struct flow *f = arg;
	struct socks_udp *u = f->socks->udp;
	(void)ttl_s; /* looked up for one connection */

	if (!n) {
		log_debug("flow %u.%llu: UDP to \"%s\" dropped: %s", f->r->index,
			  (unsigned long long)f->id, u->name, err);
		u->name[0] = '\0';
		u->pending_len = 0;
		return;
	}
	u->name_addr = addrs[0];
	if (u->pending_len) {
		struct sockaddr_storage dst = addrs[0];
		socks_udp_send(f, &dst, u->pending, u->pending_len);
		u->pending_len = 0;
	}
}

/* Client -> targets. */
static void socks_udp_from_client(struct flow *f)
{
	static _Thread_local uint8_t buf[UDP_DATAGRAM_MAX];
	struct socks_udp *u = f->socks->udp;

	for (int i = 0; i < UDP_BURST; i++) {
		struct sockaddr_storage from, dst;
		struct upstream_target t;
		socklen_t len = sizeof(from);
		char host[256];
		const char *why;
		size_t hdr;
		ssize_t n = recvfrom(u->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);

		if (n < 0)
			return;
		addr_unmap_v4(&from);
		if (!addr_same_ip(&from, &f->client) ||
		    (u->client_port_known && addr_port(&from) != addr_port(&u->client)))
			continue; /* not our client */
		if (!u->client_port_known) {
			u->client = from;
			u->client_port_known = 1;
		}
		if (socks_udp_parse(buf, (size_t)n, &t, host, &hdr, &why) < 0) {
			log_debug("flow %u.%llu: UDP datagram dropped: %s", f->r->index,
				  (unsigned long long)f->id, why);
			continue;
		}
		if (!t.hostname) {
			dst = t.addr;
			socks_udp_send(f, &dst, buf + hdr, (size_t)n - hdr);
			continue;
		}
		/* by name: the last name's address, else one lookup at a time
		 * with its datagram held */
		if (!strcmp(host, u->name) && u->name_addr.ss_family) {
			dst = u->name_addr;
			addr_set_port(&dst, t.port);
			socks_udp_send(f, &dst, buf + hdr, (size_t)n - hdr);
			continue;
		}
		if (u->dns || (size_t)n - hdr > UDP_PENDING_MAX)
			continue; /* dropped: UDP senders retry */
		if (!u->pending && !(u->pending = malloc(UDP_PENDING_MAX)))
			continue;
		memcpy(u->pending, buf + hdr, (size_t)n - hdr);
		u->pending_len = (size_t)n - hdr;
		snprintf(u->name, sizeof(u->name), "%s", host);
		memset(&u->name_addr, 0, sizeof(u->name_addr));
		dns_resolve(f->r->dns, u->name, t.port, &f->client, socks_udp_resolved, f, &u->dns);
		return; /* the callback may have run; look again on the next event */
	}
}

/* Targets -> client, each datagram behind a header naming its source. */
static void socks_udp_to_client(struct flow *f)
{
	static _Thread_local uint8_t buf[SOCKS_UDP_HEADER_MAX + UDP_DATAGRAM_MAX];
	struct socks_udp *u = f->socks->udp;

	for (int i = 0; i < UDP_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		uint8_t hdr[SOCKS_UDP_HEADER_MAX];
		ssize_t n = recvfrom(f->upstream_fd, buf + SOCKS_UDP_HEADER_MAX, UDP_DATAGRAM_MAX,
				     0, (struct sockaddr *)&from, &len);
		size_t hl;

		if (n < 0)
			return;
		if (!u->client_port_known)
			continue; /* nowhere to send it yet */
		addr_unmap_v4(&from);
		hl = socks_udp_header(&from, hdr);
		memcpy(buf + SOCKS_UDP_HEADER_MAX - hl, hdr, hl);
		udp_count(f, DIR_DOWN,
			  sendto(u->fd, buf + SOCKS_UDP_HEADER_MAX - hl, hl + (size_t)n,
				 MSG_DONTWAIT, (const struct sockaddr *)&u->client,
				 addr_len(&u->client)),
			  (size_t)n);
		f->last_active = f->r->loop.now_ms;
	}
}

void socks_udp_client_event(struct ev *ev, uint32_t events)
{
	struct socks_udp *u = container_of(ev, struct socks_udp, ev);
	(void)events;
	if (u->flow) /* else it ended earlier in this batch */
		socks_udp_from_client(u->flow);
}

void socks_udp_targets_event(struct flow *f, uint32_t events)
{
	(void)events;
	socks_udp_to_client(f);
}
