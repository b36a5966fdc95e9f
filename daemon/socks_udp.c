/* UDP ASSOCIATE. One socket faces the client and takes datagrams only
 * from its address; one dual-stack socket (marked) faces the targets. Both
 * are level-triggered and drained UDP_BURST datagrams at a time through one
 * buffer per thread: no allocation per datagram. A datagram to a name waits
 * (one at a time) for its lookup; the last name's address is reused. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "dns.h"
#include "fd_budget.h"
#include "flow_core.h"
#include "socks_handshake.h"
#include "socks_session.h"
#include "socks_udp.h"

/* Datagrams relayed per event and direction before yielding the loop. */
#define UDP_BURST	 32
#define UDP_PENDING_MAX	 2048
#define UDP_DATAGRAM_MAX 65535

struct socks_udp {
	struct ev ev;
	struct flow *flow;
	int fd;	    /* facing the client; the flow's upstream_fd faces the targets */
	int out_v6; /* the target-facing socket is dual-stack */
	struct sockaddr_storage client;
	int client_port_known;
	struct sockaddr_storage checked; /* last target that passed policy */
	struct dns_query *dns;
	char name[256]; /* last name resolved, and its address */
	struct sockaddr_storage name_addr;
	uint8_t *pending; /* a datagram waiting for its name */
	size_t pending_len;
	int route_logged;
};

void socks_udp_free(struct flow *f)
{
	struct socks_udp *u = f->socks ? f->socks->udp : NULL;

	if (!u)
		return;
	dns_cancel(&u->dns);
	if (u->fd >= 0)
		flow_close_socket(f->w, &u->fd, 0);
	free(u->pending);
	free(u);
	f->socks->udp = NULL;
}

/* One socket faces the client, bound to the address the client reached us
 * on; one faces the targets (dual-stack where the host has IPv6). */
int socks_udp_open(struct flow *f)
{
	struct socks_session *s = f->socks;
	const struct config *cfg = f->w->cfg;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct socks_udp *u = calloc(1, sizeof(*u));
	int zero = 0, fd;

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
	fd_budget_take(f->w->budget, 1);
	len = sizeof(local);
	if (bind(fd, (const struct sockaddr *)&local, addr_len(&local)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: bind: %s", strerror(errno));

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) {
		close(fd);
		fd = -1;
	}
	u->out_v6 = fd >= 0;
	if (fd < 0)
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: socket: %s", strerror(errno));
	f->upstream_fd = fd;
	fd_budget_take(f->w->budget, 1);
	if (cfg->mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &cfg->mark, sizeof(cfg->mark)) < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: SO_MARK: %s", strerror(errno));

	/* Datagrams are taken only from the client's address; from the port
	 * it named, or else from the first one it sends from. */
	u->client = f->client;
	if (!f->target.hostname && f->target.addr.ss_family && addr_port(&f->target.addr) != 0) {
		u->client_port_known = 1;
		addr_set_port(&u->client, addr_port(&f->target.addr));
	}
	memset(&f->target, 0, sizeof(f->target));
	u->ev.kind = EV_FLOW_UDP;
	if (worker_epoll_add(f->w, u->fd, &u->ev, EPOLLIN) < 0 ||
	    worker_epoll_add(f->w, f->upstream_fd, &f->upstream_ev, EPOLLIN) < 0)
		return flow_fail_rep(f, REP_GENERAL_FAILURE, "UDP: epoll: %s", strerror(errno));
	f->state = FLOW_UDP;
	f->last_active = f->w->now_ms;
	flow_set_timer(f, &f->w->idle_timers, cfg->idle_timeout_ms);
	if (socks_reply(f, REP_SUCCEEDED, &local) < 0)
		return -1;
	s->reply_owed = 0;
	return 0;
}

/* Sends one client payload to dst, if policy and route allow. */
static void socks_udp_send(struct flow *f, struct sockaddr_storage *dst, const uint8_t *data,
			   size_t len)
{
	struct socks_udp *u = f->socks->udp;
	const struct config *cfg = f->w->cfg;
	struct sockaddr_storage to;
	char a[ADDR_STRLEN];

	addr_unmap_v4(dst);
	if (!addr_equal(dst, &u->checked)) {
		const struct upstream *up;
		if (!socks_dst_allowed(f, dst)) {
			log_debug("flow %u.%llu: UDP to %s dropped: destination not allowed",
				  f->w->index, (unsigned long long)f->id,
				  addr_format(dst, a, sizeof(a)));
			return;
		}
		up = config_route(cfg, dst);
		if (up->url.kind != UPSTREAM_DIRECT) {
			if (!u->route_logged++)
				log_info("flow %u.%llu: UDP to %s dropped: its route is upstream "
					 "\"%s\", and the SOCKS server relays UDP only directly",
					 f->w->index, (unsigned long long)f->id,
					 addr_format(dst, a, sizeof(a)), up->name);
			return;
		}
		u->checked = *dst;
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
	if (sendto(f->upstream_fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)&to,
		   addr_len(&to)) < 0)
		log_debug("flow %u.%llu: UDP to %s: %s", f->w->index, (unsigned long long)f->id,
			  addr_format(dst, a, sizeof(a)), strerror(errno));
	f->last_active = f->w->now_ms;
}

static void socks_udp_resolved(void *arg, const struct sockaddr_storage *addrs, size_t n,
			       const char *err)
{
	struct flow *f = arg;
	struct socks_udp *u = f->socks->udp;

	if (!n) {
		log_debug("flow %u.%llu: UDP to \"%s\" dropped: %s", f->w->index,
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
			log_debug("flow %u.%llu: UDP datagram dropped: %s", f->w->index,
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
		dns_resolve(f->w->dns, u->name, t.port, socks_udp_resolved, f, &u->dns);
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
		sendto(u->fd, buf + SOCKS_UDP_HEADER_MAX - hl, hl + (size_t)n, MSG_DONTWAIT,
		       (const struct sockaddr *)&u->client, addr_len(&u->client));
		f->last_active = f->w->now_ms;
	}
}

void socks_udp_client_event(struct ev *ev, uint32_t events)
{
	struct socks_udp *u = container_of(ev, struct socks_udp, ev);
	(void)events;
	socks_udp_from_client(u->flow);
}

void socks_udp_targets_event(struct flow *f, uint32_t events)
{
	(void)events;
	socks_udp_to_client(f);
}
