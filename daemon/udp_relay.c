/* Transparent UDP relay (see udp_relay.h).
 *
 * An association belongs to one client socket (address and port) and one
 * upstream; every destination of that socket routed to the upstream shares
 * it, each datagram carrying its destination in the SOCKS5 UDP header, so
 * the client gets whatever cone the upstream gives. Its TCP control
 * connection stays open as long as it lives (RFC 1928 ties the relay to
 * it). Datagrams that arrive while it is set up wait in a bounded queue.
 * That association with the upstream is udp_assoc.c's, shared with the
 * SOCKS server's UDP ASSOCIATE; this file keeps the table of clients, the
 * direct and dropping kinds, and the replies' way back.
 *
 * No allocation per datagram: datagrams are read in batches (recvmmsg)
 * into per-worker slots, and leave with the SOCKS5 header in an iovec of
 * its own in front: one sendmsg, no copy. */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/json_out.h"
#include "sockgate/log.h"
#include "fakeip.h"
#include "fd_budget.h"
#include "flow_core.h"
#include "client_limit.h"
#include "dns.h"
#include "dst_guard.h"
#include "generation.h"
#include "intake.h"
#include "list.h"
#include "siphash.h"
#include "socks_handshake.h"
#include "udp_assoc.h"
#include "udp_relay.h"
#include "upstream_live.h"
#include "upstream.h"
#include "relay.h"

#define UDP_BATCH	     16		/* datagrams per recvmmsg */
#define UDP_BURSTS	     4		/* recvmmsg calls per event before yielding */
#define UDP_PAYLOAD_MAX	     65535	/* slot size; pages are touched only as used */
#define UDP_QUEUE_BYTES	     65536	/* per association while it is set up */
#define UDP_QUEUED_MAX	     (4u << 20) /* all of a worker's associations in setup */
#define UDP_QUEUE_MAX	     64		/* datagrams, idem */
#define REPLY_SOCKETS_MAX    512	/* transparent reply sockets kept, per worker */
#define REPLY_BUCKETS	     256
#define REPLY_SOURCE_REFUSED (-2) /* from reply_socket_get */

/* How an association's datagrams leave. */
enum assoc_mode {
	ASSOC_UPSTREAM,	 /* through our UDP ASSOCIATE with the upstream */
	ASSOC_DIRECT,	 /* straight to their destinations */
	ASSOC_DROP,	 /* the upstream cannot carry UDP: counted, logged once */
	ASSOC_RESOLVING, /* fake-IP, routed direct: the name is being looked up */
};

struct assoc {
	struct udp_assoc via; /* ASSOC_UPSTREAM */
	struct ev direct_ev;
	int direct_fd; /* ASSOC_DIRECT: marked, unconnected, replies from anyone */
	struct udp_relay *u;
	struct assoc *hash_next;
	struct list lru; /* u->lru, least recently active first */
	struct sockaddr_storage client;
	struct sockaddr_storage first_dst; /* for conns */
	/* fake-IP: this association carries datagrams to one pool address,
	 * by name, and replies come from that address (family 0: not one) */
	struct sockaddr_storage fake_dst;
	char *fake_name;
	/* routed direct: the name's real address, found by a lookup, and the
	 * one datagram kept while it ran */
	struct sockaddr_storage real_dst;
	struct dns_query *lookup;
	uint8_t *held;
	size_t held_len;
	const struct upstream *up; /* of gen's config */
	struct generation *gen;
	enum assoc_mode mode;
	uint8_t counted; /* holds a slot in the shared udp_limits */
	uint8_t no_room; /* it went down for want of an fd or memory */
	uint64_t id, created_ms, last_active;
	uint64_t datagrams[2], bytes[2];
};

/* A transparent socket bound to a source address replies appear from. */
struct reply_socket {
	struct reply_socket *hash_next;
	struct list lru;
	struct sockaddr_storage src;
	int fd;
};

struct udp_slot {
	uint8_t data[UDP_PAYLOAD_MAX];
};

struct udp_relay {
	struct relay *r;
	uint8_t key[SIPHASH_KEY_LEN];
	struct assoc **buckets;
	size_t n_buckets; /* a power of two */
	size_t n_assocs;
	size_t queued; /* bytes in all setup queues, up to UDP_QUEUED_MAX */
	struct udp_assoc_limits limits;
	struct list lru;
	struct reply_socket *reply_buckets[REPLY_BUCKETS];
	struct list reply_lru;
	size_t n_replies;
	/* receive batch */
	struct udp_slot *slots;
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	/* replies being sent */
	struct mmsghdr out_msgs[UDP_BATCH];
	struct iovec out_iov[UDP_BATCH];
	struct sockaddr_storage names[UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} control[UDP_BATCH];
};

static void direct_ev_handle(struct ev *ev, uint32_t events);
static const struct udp_assoc_ops via_ops;

static void count(atomic_ullong *c, unsigned long long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void drop(struct relay *r, enum udp_drop_reason why)
{
	count(&r->counters.udp_drops[why], 1);
}

/* n datagrams lost to a failed send (or what stood for one), by errno. */
static void send_failed(struct relay *r, int err, unsigned long long n)
{
	count(&r->counters.udp_drops[UDP_DROP_SEND_FAILED], n);
	count(&r->counters.udp_send_errors[relay_udp_send_error_kind(err)], n);
}

/* ---- the table ---- */

/* The key: client, upstream, and for a fake-IP association its address
 * (zeros otherwise). */
static size_t assoc_bucket(const struct udp_relay *u, const struct sockaddr_storage *client,
			   const struct upstream *up, const struct sockaddr_storage *fake)
{
	struct {
		uint8_t addr[16], fake[16];
		uint16_t port, fake_port;
		uint16_t family;
		const struct upstream *up;
	} key;
	uint8_t digest[16];
	uint64_t h;

	memset(&key, 0, sizeof(key));
	if (client->ss_family == AF_INET)
		memcpy(key.addr, &((const struct sockaddr_in *)client)->sin_addr, 4);
	else
		memcpy(key.addr, &((const struct sockaddr_in6 *)client)->sin6_addr, 16);
	if (fake->ss_family == AF_INET)
		memcpy(key.fake, &((const struct sockaddr_in *)fake)->sin_addr, 4);
	else if (fake->ss_family == AF_INET6)
		memcpy(key.fake, &((const struct sockaddr_in6 *)fake)->sin6_addr, 16);
	key.port = addr_port(client);
	key.fake_port = fake->ss_family ? addr_port(fake) : 0;
	key.family = client->ss_family;
	key.up = up;
	/* keyed: a LAN host choosing its source ports cannot make chains */
	siphash128(u->key, &key, sizeof(key), digest);
	memcpy(&h, digest, sizeof(h));
	return (size_t)h & (u->n_buckets - 1);
}

/* The upstream in an association's key: a fake-IP one is found by its
 * address alone, before its name is looked up (NULL). */
static const struct upstream *key_up(const struct assoc *a)
{
	return a->fake_name ? NULL : a->up;
}

static struct assoc *assoc_find(struct udp_relay *u, const struct sockaddr_storage *client,
				const struct upstream *up, const struct sockaddr_storage *fake)
{
	for (struct assoc *a = u->buckets[assoc_bucket(u, client, up, fake)]; a; a = a->hash_next)
		if (key_up(a) == up && addr_equal(&a->client, client) &&
		    a->fake_dst.ss_family == fake->ss_family &&
		    (!fake->ss_family || addr_equal(&a->fake_dst, fake)))
			return a;
	return NULL;
}

static void assoc_touch(struct assoc *a)
{
	a->last_active = a->u->r->loop.now_ms;
	list_del(&a->lru);
	list_add_tail(&a->u->lru, &a->lru);
}

/* Closes the sockets and drops the queue; the entry stays. */
static void assoc_close(struct assoc *a)
{
	struct relay *r = a->u->r;

	udp_assoc_close(&a->via);
	loop_close(&r->loop, &a->direct_fd, CLOSE_FIN);
	loop_fds_released(&r->loop);
}

static void assoc_destroy(struct assoc *a)
{
	struct udp_relay *u = a->u;
	struct relay *r = u->r;
	struct upstream_counters *uc = generation_counters(a->gen, a->up, r->index);
	struct assoc **pp = &u->buckets[assoc_bucket(u, &a->client, key_up(a), &a->fake_dst)];

	while (*pp != a)
		pp = &(*pp)->hash_next;
	*pp = a->hash_next;
	list_del(&a->lru);
	assoc_close(a);
	if (a->counted)
		client_limit_release(r->shared->udp_limits, &a->client);
	count(&uc->flows, 1);
	count(&uc->bytes_up, a->bytes[DIR_UP]);
	count(&uc->bytes_down, a->bytes[DIR_DOWN]);
	count(&r->counters.udp_assocs_live, (unsigned long long)-1);
	generation_unref(a->gen);
	free(a->fake_name);
	a->fake_name = NULL;
	dns_cancel(&a->lookup);
	free(a->held);
	a->held = NULL;
	u->n_assocs--;
	/* its sockets are closed (-1): an event later in this batch that
	 * still names it sees that and leaves it */
	loop_free_after_batch(&r->loop, a);
}

/* As conns shows it. */
static const char *assoc_state_name(const struct assoc *a)
{
	return a->mode == ASSOC_DIRECT	    ? "direct"
	       : a->mode == ASSOC_DROP	    ? "drop"
	       : a->mode == ASSOC_RESOLVING ? "resolving"
					    : udp_assoc_state_name(&a->via);
}

static const char *assoc_describe(const struct assoc *a, char *buf, size_t len)
{
	char c[ADDR_STRLEN], d[ADDR_STRLEN];

	snprintf(buf, len, "udp %u.%llu: %s -> %s via %s", a->u->r->index,
		 (unsigned long long)a->id, addr_format(&a->client, c, sizeof(c)),
		 addr_format(&a->first_dst, d, sizeof(d)), a->up->name);
	return buf;
}

/* ---- through the upstream: what our UDP ASSOCIATE tells ---- */

static void via_ready(struct udp_assoc *via)
{
	struct assoc *a = container_of(via, struct assoc, via);
	char rel[ADDR_STRLEN], what[FLOW_DESCRIBE_MAX];

	log_debug("%s: associated, relay %s", assoc_describe(a, what, sizeof(what)),
		  addr_format(&via->relay, rel, sizeof(rel)));
}

static void via_down(struct udp_assoc *via, enum udp_assoc_down kind, const char *why,
		     unsigned dropped)
{
	struct assoc *a = container_of(via, struct assoc, via);
	struct relay *r = a->u->r;
	char what[FLOW_DESCRIBE_MAX];

	a->no_room = kind == UDP_ASSOC_NO_ROOM;
	if (a->no_room)
		return; /* the datagram at hand is counted as no_room */
	count(&r->counters.udp_drops[UDP_DROP_UPSTREAM_DOWN], dropped);
	if (loop_log_allowed(&r->loop))
		log_warn("%s: %s", assoc_describe(a, what, sizeof(what)), why);
}

/* A datagram that waited for the grant went out, or not. */
static void via_sent(struct udp_assoc *via, ssize_t rc, size_t payload)
{
	struct assoc *a = container_of(via, struct assoc, via);

	(void)payload; /* counted when it was queued */
	if (rc < 0)
		send_failed(a->u->r, errno, 1);
}

static void relay_event(struct assoc *a, int fd, int direct);

static void via_readable(struct udp_assoc *via)
{
	struct assoc *a = container_of(via, struct assoc, via);

	relay_event(a, via->relay_fd, 0);
}

static const struct udp_assoc_ops via_ops = {
	.ready = via_ready,
	.down = via_down,
	.readable = via_readable,
	.sent = via_sent,
};

/* ---- reply sockets ---- */

static size_t reply_bucket(const struct sockaddr_storage *src)
{
	uint32_t low;

	if (src->ss_family == AF_INET)
		low = ((const struct sockaddr_in *)src)->sin_addr.s_addr;
	else
		memcpy(&low, &((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr[12], 4);

	return ((size_t)addr_port(src) * 31u + low) & (REPLY_BUCKETS - 1);
}

static void reply_socket_free(struct udp_relay *u, struct reply_socket *rs)
{
	struct reply_socket **pp = &u->reply_buckets[reply_bucket(&rs->src)];

	while (*pp != rs)
		pp = &(*pp)->hash_next;
	*pp = rs->hash_next;
	list_del(&rs->lru);
	loop_close(&u->r->loop, &rs->fd, CLOSE_FIN);
	u->n_replies--;
	free(rs);
}

/* A socket that sends from src (a transparent bind), cached; -1, or
 * REPLY_SOURCE_REFUSED for a source that must never be bound. */
static int reply_socket_get(struct udp_relay *u, const struct sockaddr_storage *src)
{
	struct relay *r = u->r;
	size_t b = reply_bucket(src);
	struct reply_socket *rs;
	int one = 1, small = 4096, fd;
	char a[ADDR_STRLEN];

	for (rs = u->reply_buckets[b]; rs; rs = rs->hash_next) {
		if (addr_equal(&rs->src, src)) {
			list_del(&rs->lru);
			list_add_tail(&u->reply_lru, &rs->lru);
			return rs->fd;
		}
	}
	/* a source the relay names is bound as-is: never one of the router's
	 * own (its resolver's port), loopback, broadcast or port 0; checked
	 * once per socket made, not per datagram */
	if (!addr_port(src) || dst_guard_is_local(r->dst_guard, src, r->loop.now_ms))
		return REPLY_SOURCE_REFUSED;
	if (u->n_replies >= REPLY_SOCKETS_MAX)
		reply_socket_free(u, container_of(u->reply_lru.next, struct reply_socket, lru));
	if (!fd_budget_room(r->loop.budget, 1)) {
		errno = EMFILE;
		return -1;
	}
	fd = socket(src->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if ((src->ss_family == AF_INET
		 ? setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one))
		 : setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) ||
		       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) < 0 ||
	    /* every worker may have one for the same source; SO_REUSEPORT
	     * shares it only with sockets of our own user, never with a
	     * service of the router's that is bound there */
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    /* it only sends; nothing is meant to arrive on it */
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
	    relay_mark_socket(fd, r->cfg->mark) < 0 ||
	    bind(fd, (const struct sockaddr *)src, addr_len(src)) < 0) {
		int err = errno;
		if (loop_log_allowed(&r->loop))
			log_warn("udp: reply socket for %s: %s", addr_format(src, a, sizeof(a)),
				 strerror(err));
		close(fd);
		errno = err; /* the caller counts the loss by it */
		return -1;
	}
	rs = malloc(sizeof(*rs));
	if (!rs) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	fd_budget_take(r->loop.budget, 1);
	rs->src = *src;
	rs->fd = fd;
	rs->hash_next = u->reply_buckets[b];
	u->reply_buckets[b] = rs;
	list_add_tail(&u->reply_lru, &rs->lru);
	u->n_replies++;
	return fd;
}

/* Reads up to UDP_BATCH datagrams from fd into the slots, with each
 * sender's address and, with_control, the control messages (the original
 * destination); recvmmsg's result. */
static int recv_batch(struct udp_relay *u, int fd, int with_control)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		struct msghdr *m = &u->msgs[i].msg_hdr;
		memset(m, 0, sizeof(*m));
		m->msg_name = &u->names[i];
		m->msg_namelen = sizeof(u->names[i]);
		m->msg_iov = &u->iov[i];
		m->msg_iovlen = 1;
		if (with_control) {
			m->msg_control = u->control[i].buf;
			m->msg_controllen = sizeof(u->control[i].buf);
		}
	}
	return recvmmsg(fd, u->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
}

/* Replies on their way to one client, grouped by the reply socket they
 * leave from so a run of them from one sender costs one sendmmsg. */
struct reply_batch {
	struct assoc *a;
	int fd;			     /* of the group being filled */
	struct sockaddr_storage src; /* the group's sender */
	unsigned n;
	unsigned long long sent, sent_bytes;
};

static void reply_batch_flush(struct reply_batch *b)
{
	struct udp_relay *u = b->a->u;
	unsigned done = 0;

	while (done < b->n) {
		int k = sendmmsg(b->fd, u->out_msgs + done, b->n - done, MSG_DONTWAIT);
		if (k <= 0) {
			/* the rest is lost: no buffer, or no route to the client */
			send_failed(u->r, k < 0 ? errno : EAGAIN, b->n - done);
			break;
		}
		for (int i = 0; i < k; i++) {
			b->sent++;
			b->sent_bytes += u->out_iov[done + (unsigned)i].iov_len;
		}
		done += (unsigned)k;
	}
	b->n = 0;
}

/* Adds one reply to the client as if from src. */
static void reply_batch_add(struct reply_batch *b, struct sockaddr_storage *src, uint8_t *data,
			    size_t len)
{
	struct udp_relay *u = b->a->u;
	struct assoc *a = b->a;
	struct mmsghdr *m;
	int fd;

	addr_unmap_v4(src);
	if (src->ss_family != a->client.ss_family) {
		drop(u->r, UDP_DROP_MALFORMED);
		return;
	}
	/* another sender: send the group first, since getting its socket may
	 * close the least recently used one */
	if (b->n && !addr_equal(src, &b->src))
		reply_batch_flush(b);
	fd = reply_socket_get(u, src);
	if (fd == REPLY_SOURCE_REFUSED) {
		char s[ADDR_STRLEN];
		drop(u->r, UDP_DROP_LOOP);
		if (loop_log_allowed(&u->r->loop))
			log_warn("udp: reply claiming to come from %s dropped: the router's own "
				 "address, or not a unicast source",
				 addr_format(src, s, sizeof(s)));
		return;
	}
	if (fd < 0) {
		send_failed(u->r, errno, 1);
		return;
	}
	b->fd = fd;
	b->src = *src;
	u->out_iov[b->n] = (struct iovec){ .iov_base = data, .iov_len = len };
	m = &u->out_msgs[b->n];
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_name = &a->client;
	m->msg_hdr.msg_namelen = addr_len(&a->client);
	m->msg_hdr.msg_iov = &u->out_iov[b->n];
	m->msg_hdr.msg_iovlen = 1;
	b->n++;
}

/* Datagrams from the relay (or, direct, from anyone) to the client, read
 * a batch at a time from fd. */
/* Datagram i of the batch just read, from the relay or (direct) from the
 * peer, to the client through b. */
static void reply_datagram(struct reply_batch *b, int i, int direct)
{
	struct assoc *a = b->a;
	struct udp_relay *u = a->u;
	uint8_t *data = u->slots[i].data;
	size_t len = u->msgs[i].msg_len, hdr;
	struct upstream_target t;
	char host[256];
	const char *why;

	if (u->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
		drop(u->r, UDP_DROP_TOO_BIG);
	} else if (direct && a->fake_name) {
		/* only its one peer, presented as the fake address */
		if (addr_equal(&u->names[i], &a->real_dst))
			reply_batch_add(b, &a->fake_dst, data, len);
		else
			drop(u->r, UDP_DROP_MALFORMED);
	} else if (direct) {
		reply_batch_add(b, &u->names[i], data, len);
	} else if (socks_udp_parse(data, len, &t, host, &hdr, &why) < 0 ||
		   (t.hostname && !a->fake_name)) {
		drop(u->r, UDP_DROP_MALFORMED);
	} else {
		/* a fake-IP association's replies come from its address */
		reply_batch_add(b, a->fake_name ? &a->fake_dst : &t.addr, data + hdr, len - hdr);
	}
}

static void relay_event(struct assoc *a, int fd, int direct)
{
	struct udp_relay *u = a->u;
	struct relay *r = u->r;
	struct reply_batch b = { .a = a, .fd = -1, .n = 0 };

	for (int burst = 0; burst < UDP_BURSTS; burst++) {
		int n = recv_batch(u, fd, 0);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			/* an ICMP error for an earlier datagram: the relay or the
			 * target is not there; the socket reads on */
			send_failed(r, errno, 1);
			continue;
		}
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			reply_datagram(&b, i, direct);
		if (b.n)
			reply_batch_flush(&b);
		if (n < UDP_BATCH)
			break;
	}
	if (!b.sent)
		return;
	a->datagrams[DIR_DOWN] += b.sent;
	a->bytes[DIR_DOWN] += b.sent_bytes;
	count(&r->counters.udp_datagrams[DIR_DOWN], b.sent);
	count(&r->counters.udp_bytes[DIR_DOWN], b.sent_bytes);
	assoc_touch(a);
}

/* A socket closed earlier in this batch (the end of the association) has
 * nothing more to say. */
static void direct_ev_handle(struct ev *ev, uint32_t events)
{
	struct assoc *a = container_of(ev, struct assoc, direct_ev);

	(void)events;
	if (a->direct_fd >= 0)
		relay_event(a, a->direct_fd, 1);
}

/* ---- intake ---- */

/* This worker's share of [daemon] udp_associations. */
static size_t assoc_share(const struct relay *r)
{
	unsigned workers = r->gen->n_workers ? r->gen->n_workers : 1;

	return (r->cfg->udp_associations + workers - 1) / workers;
}

static struct udp_relay *relay_get(struct relay *r)
{
	struct udp_relay *u = r->udp;

	if (u)
		return u;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->r = r;
	/* sized for the configured share; a reload that raises it makes the
	 * chains longer, not wrong */
	u->n_buckets = 64;
	while (u->n_buckets < assoc_share(r) && u->n_buckets < (1u << 20))
		u->n_buckets <<= 1;
	u->buckets = calloc(u->n_buckets, sizeof(*u->buckets));
	u->slots = malloc(UDP_BATCH * sizeof(*u->slots));
	if (!u->buckets || !u->slots ||
	    getrandom(u->key, sizeof(u->key), 0) != (ssize_t)sizeof(u->key)) {
		free(u->buckets);
		free(u->slots);
		free(u);
		return NULL;
	}
	list_init(&u->lru);
	u->limits = (struct udp_assoc_limits){ .datagrams = UDP_QUEUE_MAX,
					       .bytes = UDP_QUEUE_BYTES,
					       .shared = &u->queued,
					       .shared_max = UDP_QUEUED_MAX };
	list_init(&u->reply_lru);
	for (int i = 0; i < UDP_BATCH; i++) {
		u->iov[i].iov_base = u->slots[i].data;
		u->iov[i].iov_len = UDP_PAYLOAD_MAX;
	}
	r->udp = u;
	return u;
}

/* The least recently active counted association of client's address, or
 * (by64) of any address in client's IPv6 /64. */
static struct assoc *oldest_of(struct udp_relay *u, const struct sockaddr_storage *client, int by64)
{
	const uint8_t *want = ((const struct sockaddr_in6 *)client)->sin6_addr.s6_addr;

	for (struct list *n = u->lru.next; n != &u->lru; n = n->next) {
		struct assoc *a = container_of(n, struct assoc, lru);
		if (!a->counted || a->client.ss_family != client->ss_family)
			continue;
		if (by64 ? !memcmp(((const struct sockaddr_in6 *)&a->client)->sin6_addr.s6_addr,
				   want, 8)
			 : addr_same_ip(&a->client, client))
			return a;
	}
	return NULL;
}

/* One of the client's max_udp_per_client, counted across workers (the
 * nftables tproxy spreads a client's sockets over them). A client at its
 * cap makes room among its own associations in this worker, least recently
 * active first, never among anyone else's; with none here, the datagram is
 * refused. 1 when counted, 0 when not (no limit), -1 refused. */
static int assoc_client_slot(struct udp_relay *u, const struct sockaddr_storage *client)
{
	struct client_limit *cl = u->r->shared->udp_limits;
	int rc;

	while ((rc = client_limit_take(cl, client)) < 0) {
		struct assoc *own = oldest_of(u, client, 0);
		/* none of its own: its /64 is over budget with its neighbours' */
		if (!own && client->ss_family == AF_INET6)
			own = oldest_of(u, client, 1);
		count(&u->r->counters.client_limited, 1);
		if (!own)
			return -1;
		assoc_destroy(own);
	}
	return rc;
}

static struct assoc *assoc_new(struct udp_relay *u, const struct sockaddr_storage *client,
			       const struct sockaddr_storage *dst, const struct upstream *up,
			       const char *fake_name)
{
	struct relay *r = u->r;
	struct assoc *a;
	size_t b;
	int counted = assoc_client_slot(u, client);

	if (counted < 0)
		return NULL;
	/* the share as the current config says: a reload may change it */
	if (u->n_assocs >= assoc_share(r)) {
		/* the least recently active one makes room */
		assoc_destroy(container_of(u->lru.next, struct assoc, lru));
		count(&r->counters.udp_evicted, 1);
	}
	a = calloc(1, sizeof(*a));
	if (a && fake_name && !(a->fake_name = strdup(fake_name))) {
		free(a);
		a = NULL;
	}
	if (!a) {
		if (counted)
			client_limit_release(u->r->shared->udp_limits, client);
		return NULL;
	}
	if (fake_name)
		a->fake_dst = *dst;
	a->counted = (uint8_t)counted;
	a->u = u;
	a->client = *client;
	a->first_dst = *dst;
	a->up = up;
	a->gen = generation_ref(r->gen);
	a->direct_fd = -1;
	a->direct_ev.handle = direct_ev_handle;
	udp_assoc_init(&a->via, r, &via_ops, &u->limits, a->gen, up, a->gen->cfg->mark,
		       a->gen->cfg->connect_timeout_ms + a->gen->cfg->handshake_timeout_ms);
	a->id = ++r->next_flow_id;
	a->created_ms = a->last_active = r->loop.now_ms;
	b = assoc_bucket(u, client, key_up(a), &a->fake_dst);
	a->hash_next = u->buckets[b];
	u->buckets[b] = a;
	list_add_tail(&u->lru, &a->lru);
	u->n_assocs++;
	count(&r->counters.udp_assocs_live, 1);
	count(&r->counters.udp_assocs_total, 1);
	return a;
}

/* The datagram socket of a direct association: the client's family,
 * marked, unconnected (every destination, replies from anyone). */
static int assoc_open_direct(struct assoc *a)
{
	struct relay *r = a->u->r;
	int fd;

	if (!fd_budget_room(r->loop.budget, 1))
		return -1;
	fd = socket(a->client.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	fd_budget_take(r->loop.budget, 1);
	a->direct_fd = fd;
	a->mode = ASSOC_DIRECT;
	if (relay_mark_socket(fd, a->gen->cfg->mark) < 0 ||
	    loop_add(&r->loop, fd, &a->direct_ev, EPOLLIN))
		return -1;
	return 0;
}

/* ---- fake-IP datagrams routed direct ---- */

static void assoc_looked_up(void *arg, const struct sockaddr_storage *addrs, size_t n,
			    unsigned ttl_s, const char *err)
{
	struct assoc *a = arg;
	struct relay *r = a->u->r;
	char what[FLOW_DESCRIBE_MAX];
	const char *why = n ? NULL : err;
	(void)ttl_s; /* looked up for one association */

	/* the client's family: its socket sends from that one */
	for (size_t i = 0; i < n && !a->real_dst.ss_family; i++) {
		struct sockaddr_storage ss = addrs[i];
		addr_unmap_v4(&ss);
		if (ss.ss_family == a->client.ss_family)
			a->real_dst = ss;
	}
	if (n && !a->real_dst.ss_family)
		why = "no address of the client's family";
	else if (n)
		why = dst_guard_intercepted(r->dst_guard, r->cfg, &a->client, &a->real_dst,
					    r->loop.now_ms);
	if (!why && assoc_open_direct(a) < 0)
		why = "no room for a socket";
	if (why) {
		a->mode = ASSOC_DROP;
		if (loop_log_allowed(&r->loop))
			log_info("%s: %s: %s; its datagrams are dropped",
				 assoc_describe(a, what, sizeof(what)), a->fake_name, why);
	} else if (a->held &&
		   sendto(a->direct_fd, a->held, a->held_len, MSG_DONTWAIT,
			  (const struct sockaddr *)&a->real_dst, addr_len(&a->real_dst)) < 0) {
		send_failed(r, errno, 1);
	}
	free(a->held);
	a->held = NULL;
}

/* The name of a fake-IP association routed direct, looked up first. */
static void assoc_look_up(struct assoc *a)
{
	a->mode = ASSOC_RESOLVING;
	/* the last thing done here: the answer may come at once */
	dns_resolve(a->u->r->dns, a->fake_name, addr_port(&a->fake_dst), &a->client,
		    assoc_looked_up, a, &a->lookup);
}

/* A datagram for an association still looking its name up: the first is
 * kept and sent once the address is known, others dropped (retransmits
 * follow). */
static enum udp_drop_reason hold_first(struct assoc *a, const uint8_t *data, size_t len)
{
	if (a->held || !(a->held = malloc(len ? len : 1)))
		return UDP_DROP_QUEUE_FULL;
	memcpy(a->held, data, len);
	a->held_len = len;
	return UDP_DROP_KINDS;
}

/* A new association for client's datagram to dst, by the upstream's udp. */
static struct assoc *assoc_create(struct udp_relay *u, const struct sockaddr_storage *client,
				  const struct sockaddr_storage *dst, const struct upstream *up,
				  const char *fake_name)
{
	struct assoc *a = assoc_new(u, client, dst, up, fake_name);
	char what[FLOW_DESCRIBE_MAX];

	if (!a) {
		drop(u->r, UDP_DROP_NO_ROOM);
		return NULL;
	}
	switch (up->udp) {
	case UPSTREAM_UDP_DROP:
		a->mode = ASSOC_DROP;
		if (loop_log_allowed(&u->r->loop))
			log_info("%s: dropped: upstream \"%s\" (%s) cannot carry UDP and has "
				 "udp = drop",
				 assoc_describe(a, what, sizeof(what)), up->name,
				 upstream_kind_name(up->url.kind));
		break;
	case UPSTREAM_UDP_DIRECT:
		if (a->fake_name) {
			assoc_look_up(a);
			break;
		}
		if (assoc_open_direct(a) < 0) {
			assoc_destroy(a);
			drop(u->r, UDP_DROP_NO_ROOM);
			return NULL;
		}
		break;
	case UPSTREAM_UDP_ASSOCIATE:
		a->mode = ASSOC_UPSTREAM;
		udp_assoc_start(&a->via); /* a failure leaves it down */
		break;
	}
	return a;
}

/* Through the upstream: what became of a datagram, as a drop reason, or
 * UDP_DROP_KINDS when it went (or waits to go). */
static enum udp_drop_reason via_send(struct assoc *a, const uint8_t *data, size_t len,
				     const struct sockaddr_storage *dst)
{
	uint8_t hdr[SOCKS_UDP_NAME_HEADER_MAX];
	size_t hl = a->fake_name ? socks_udp_header_name(a->fake_name, addr_port(dst), hdr)
				 : socks_udp_header(dst, hdr);

	if (!hl)
		return UDP_DROP_MALFORMED;
	switch (udp_assoc_send(&a->via, hdr, hl, data, len)) {
	case UDP_ASSOC_SENT:
	case UDP_ASSOC_QUEUED:
		return UDP_DROP_KINDS;
	case UDP_ASSOC_QUEUE_FULL:
		return UDP_DROP_QUEUE_FULL;
	case UDP_ASSOC_SEND_FAILED:
		return UDP_DROP_SEND_FAILED;
	case UDP_ASSOC_UNAVAILABLE:
		break;
	}
	return a->no_room ? UDP_DROP_NO_ROOM : UDP_DROP_UPSTREAM_DOWN;
}

/* What datagrams from client routed to route go through: route, or the
 * member of its group the policy picks for UDP; NULL when every member is
 * down and the group says reset. */
static const struct upstream *udp_member(struct relay *r, const struct sockaddr_storage *client,
					 const struct upstream *route)
{
	int pos;

	return upstream_live_pick(&r->gen->live, route, client, 0, PICK_UDP, &pos);
}

/* fake-IP: the name behind dst (a pool address), in name, and its route
 * in *up; 0, or -1 (dropped, counted) when the table has no name for it
 * or its route cannot carry it by name. */
static int fake_route(struct udp_relay *u, const struct sockaddr_storage *client,
		      const struct sockaddr_storage *dst, char *name, const struct upstream **up)
{
	struct relay *r = u->r;
	char from[ADDR_STRLEN], to[ADDR_STRLEN];
	const char *why;

	if (fakeip_name_of(r->shared->fakeip, dst, name) < 0) {
		relay_count(&r->counters.dns.fake_unknown);
		why = "a fake-IP address with no name (any more)";
	} else {
		*up = udp_member(r, client, relay_route(r, r->gen, client, dst, name, NULL));
		if (!*up)
			why = "every member of its group is down";
		else if ((*up)->udp == UPSTREAM_UDP_ASSOCIATE && (*up)->url.kind != UPSTREAM_DIRECT)
			return 0;
		else if ((*up)->udp == UPSTREAM_UDP_DIRECT && r->dns)
			return 0; /* looked up, then sent from the router */
		else
			why = "its route carries no UDP";
	}
	drop(r, UDP_DROP_UNSUPPORTED);
	if (loop_log_allowed(&r->loop))
		log_info("udp %s -> %s: %s; dropped", addr_format(client, from, sizeof(from)),
			 addr_format(dst, to, sizeof(to)), why);
	return -1;
}

/* The association for a datagram to dst: by its address and upstream, or
 * for a fake-IP address by the address alone, its name looked up (and the
 * shared table locked) only when the association is made, or again after
 * a reload; NULL when the datagram was dropped. */
static struct assoc *assoc_for(struct udp_relay *u, const struct sockaddr_storage *client,
			       const struct sockaddr_storage *dst)
{
	static const struct sockaddr_storage none;
	struct relay *r = u->r;
	char name[DOMAIN_NAME_MAX + 1];
	const struct upstream *up;
	struct assoc *a;

	if (!r->shared->fakeip || !fakeip_in_pool(r->shared->fakeip, dst)) {
		up = udp_member(r, client, relay_route(r, r->gen, client, dst, NULL, NULL));
		if (!up) {
			drop(r, UDP_DROP_UPSTREAM_DOWN);
			return NULL;
		}
		a = assoc_find(u, client, up, &none);
		return a ? a : assoc_create(u, client, dst, up, NULL);
	}
	a = assoc_find(u, client, NULL, dst);
	if (a && a->gen == r->gen)
		return a;
	if (a) /* made under another configuration: routed again */
		assoc_destroy(a);
	if (fake_route(u, client, dst, name, &up) < 0)
		return NULL;
	return assoc_create(u, client, dst, up, name);
}

/* One datagram from client to dst; its payload is at slot->data. */
static void intake_datagram(struct udp_relay *u, struct udp_slot *slot, size_t len,
			    const struct sockaddr_storage *client, struct sockaddr_storage *dst)
{
	struct relay *r = u->r;
	struct assoc *a = assoc_for(u, client, dst);
	enum udp_drop_reason why = UDP_DROP_KINDS;

	if (!a)
		return;
	switch (a->mode) {
	case ASSOC_DROP:
		why = UDP_DROP_UNSUPPORTED;
		break;
	case ASSOC_DIRECT: {
		const struct sockaddr_storage *to = a->fake_name ? &a->real_dst : dst;
		if (sendto(a->direct_fd, slot->data, len, MSG_DONTWAIT, (const struct sockaddr *)to,
			   addr_len(to)) < 0)
			why = UDP_DROP_SEND_FAILED;
		break;
	}
	case ASSOC_RESOLVING:
		why = hold_first(a, slot->data, len);
		break;
	case ASSOC_UPSTREAM:
		why = via_send(a, slot->data, len, dst);
		break;
	}
	if (why == UDP_DROP_SEND_FAILED) {
		send_failed(r, errno, 1);
		return;
	}
	if (why != UDP_DROP_KINDS) {
		drop(r, why);
		return;
	}
	a->datagrams[DIR_UP]++;
	a->bytes[DIR_UP] += len;
	count(&r->counters.udp_datagrams[DIR_UP], 1);
	count(&r->counters.udp_bytes[DIR_UP], len);
	assoc_touch(a);
}

/* The original destination TPROXY kept in the packet. */
static int original_dst(struct msghdr *m, struct sockaddr_storage *dst)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR &&
		     c->cmsg_len >= CMSG_LEN(sizeof(struct sockaddr_in))) ||
		    (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR &&
		     c->cmsg_len >= CMSG_LEN(sizeof(struct sockaddr_in6)))) {
			size_t len = c->cmsg_len - CMSG_LEN(0);
			memset(dst, 0, sizeof(*dst));
			memcpy(dst, CMSG_DATA(c),
			       len < sizeof(struct sockaddr_in6) ? len
								 : sizeof(struct sockaddr_in6));
			return 0;
		}
	}
	return -1;
}

/* The destination guard (dst_guard.h) for one intercepted datagram: a
 * datagram to the router itself would loop through our own listener. */
static int intake_refused(struct relay *r, const struct sockaddr_storage *client,
			  const struct sockaddr_storage *dst)
{
	struct sockaddr_storage plain = *dst;
	char from[ADDR_STRLEN], to[ADDR_STRLEN];
	const char *why;

	addr_unmap_v4(&plain);
	why = dst_guard_intercepted(r->dst_guard, r->cfg, client, &plain, r->loop.now_ms);
	if (!why)
		return 0;
	drop(r, UDP_DROP_LOOP);
	if (loop_log_allowed(&r->loop))
		log_warn("udp %s -> %s: %s; datagram dropped",
			 addr_format(client, from, sizeof(from)),
			 addr_format(&plain, to, sizeof(to)), why);
	return 1;
}

void udp_relay_intake(struct relay *r, int fd)
{
	struct udp_relay *u = relay_get(r);

	if (!u) {
		/* out of memory: take the datagrams off the queue, lose them */
		char sink[1];
		while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) >= 0)
			drop(r, UDP_DROP_NO_ROOM);
		return;
	}
	for (int burst = 0; burst < UDP_BURSTS; burst++) {
		int n = recv_batch(u, fd, 1);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct msghdr *m = &u->msgs[i].msg_hdr;
			struct sockaddr_storage dst;
			if (m->msg_flags & MSG_TRUNC) {
				drop(r, UDP_DROP_TOO_BIG);
				continue;
			}
			if (original_dst(m, &dst) < 0) {
				drop(r, UDP_DROP_MALFORMED);
				continue;
			}
			if (intake_refused(r, &u->names[i], &dst))
				continue;
			intake_datagram(u, &u->slots[i], u->msgs[i].msg_len, &u->names[i], &dst);
		}
		if (n < UDP_BATCH)
			return;
	}
}

int udp_relay_listen(int family, uint16_t port, unsigned n_workers)
{
	struct sockaddr_storage ss;
	int one = 1, fd, err;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	addr_set_port(&ss, port);
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* SO_REUSEPORT alone: shared with our own workers only (same user);
	 * SO_REUSEADDR would let any user's socket co-bind the UDP port */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (family == AF_INET &&
	     (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
	      setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) < 0)) ||
	    (family == AF_INET6 &&
	     (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	      setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) < 0 ||
	      setsockopt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one)) < 0)) ||
	    bind(fd, (const struct sockaddr *)&ss, addr_len(&ss)) < 0 ||
	    intake_steer_by_client(fd, family, n_workers) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* ---- timers, listing, teardown ---- */

void udp_relay_tick(struct relay *r)
{
	struct udp_relay *u = r->udp;

	if (!u)
		return;
	while (!list_empty(&u->lru)) {
		struct assoc *a = container_of(u->lru.next, struct assoc, lru);
		char what[FLOW_DESCRIBE_MAX];
		if (a->last_active + a->gen->cfg->udp_idle_timeout_ms > r->loop.now_ms)
			break;
		log_debug("%s: idle, ended (%llu/%llu datagrams)",
			  assoc_describe(a, what, sizeof(what)),
			  (unsigned long long)a->datagrams[DIR_UP],
			  (unsigned long long)a->datagrams[DIR_DOWN]);
		assoc_destroy(a);
	}
}

/* One association as a listing shows it: client, first destination,
 * relay ("-" before it is granted). */
struct assoc_names {
	char client[ADDR_STRLEN], dst[ADDR_STRLEN + 260], relay[ADDR_STRLEN];
};

static void assoc_names(const struct assoc *a, struct assoc_names *n)
{
	addr_format(&a->client, n->client, sizeof(n->client));
	if (a->fake_name) /* the name beside the address */
		snprintf(n->dst, sizeof(n->dst), "%s:%u", a->fake_name, addr_port(&a->first_dst));
	else
		addr_format(&a->first_dst, n->dst, sizeof(n->dst));
	snprintf(n->relay, sizeof(n->relay), "-");
	if (a->mode == ASSOC_UPSTREAM && a->via.state == UDP_ASSOC_READY)
		addr_format(&a->via.relay, n->relay, sizeof(n->relay));
}

void udp_relay_snapshot(struct relay *r, FILE *out)
{
	struct udp_relay *u = r->udp;

	for (struct list *n = u ? u->lru.next : NULL; u && n != &u->lru; n = n->next) {
		const struct assoc *a = container_of(n, struct assoc, lru);
		struct assoc_names an;

		assoc_names(a, &an);
		fprintf(out,
			"%u.%llu udp %s %s -> %s via %s relay %s datagrams %llu/%llu "
			"up %llu down %llu age %.1fs idle %.1fs\n",
			r->index, (unsigned long long)a->id, assoc_state_name(a), an.client, an.dst,
			a->up->name, an.relay, (unsigned long long)a->datagrams[DIR_UP],
			(unsigned long long)a->datagrams[DIR_DOWN],
			(unsigned long long)a->bytes[DIR_UP],
			(unsigned long long)a->bytes[DIR_DOWN],
			(double)(r->loop.now_ms - a->created_ms) / 1000.0,
			(double)(r->loop.now_ms - a->last_active) / 1000.0);
	}
}

void udp_relay_snapshot_json(struct relay *r, json_t *list)
{
	struct udp_relay *u = r->udp;

	for (struct list *n = u ? u->lru.next : NULL; u && n != &u->lru; n = n->next) {
		const struct assoc *a = container_of(n, struct assoc, lru);
		struct assoc_names an;

		assoc_names(a, &an);
		json_array_append_new(
		    list,
		    json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, "
			      "s:I, s:I}",
			      "worker", (json_int_t)r->index, "id", (json_int_t)a->id, "intake",
			      "tproxy", "protocol", "udp", "client", an.client, "destination",
			      an.dst, "upstream", a->up->name, "state", assoc_state_name(a),
			      "relay", an.relay, "datagrams_up", (json_int_t)a->datagrams[DIR_UP],
			      "datagrams_down", (json_int_t)a->datagrams[DIR_DOWN], "bytes_up",
			      (json_int_t)a->bytes[DIR_UP], "bytes_down",
			      (json_int_t)a->bytes[DIR_DOWN], "age_ms",
			      (json_int_t)(r->loop.now_ms - a->created_ms), "idle_ms",
			      (json_int_t)(r->loop.now_ms - a->last_active)));
	}
}

void udp_relay_free(struct relay *r)
{
	struct udp_relay *u = r->udp;

	if (!u)
		return;
	while (!list_empty(&u->lru))
		assoc_destroy(container_of(u->lru.next, struct assoc, lru));
	while (!list_empty(&u->reply_lru))
		reply_socket_free(u, container_of(u->reply_lru.next, struct reply_socket, lru));
	free(u->buckets);
	free(u->slots);
	free(u);
	r->udp = NULL;
}
