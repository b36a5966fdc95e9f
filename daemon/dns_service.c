/* The DNS service (see dns_service.h). A query is judged (dns_msg.c),
 * answered from the cache (dns_cache.c) or kept as a struct dns_pending
 * while the servers are asked one after the other: over UDP from a socket
 * of its own (a random port the kernel picks, a random ID) when [route]
 * sends the server's address direct, over TCP (dns_tcp.c) when it sends it
 * through an upstream or a UDP answer came truncated. Each attempt has its
 * share of the timeout; when the last one runs out the client gets
 * SERVFAIL. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "dns_cache.h"
#include "dns_conn.h"
#include "dns_msg.h"
#include "dns_service.h"
#include "dns_tcp.h"
#include "fd_budget.h"
#include "generation.h"
#include "intake.h"
#include "relay.h"
#include "siphash.h"
#include "socks_handshake.h"
#include "udp_assoc.h"

#define DNS_PENDING_MAX	  1024	/* queries waiting for a server, per worker */
#define DNS_MSG_MAX	  65535 /* an answer, as ldns writes it again */
#define DNS_READS	  32	/* datagrams read per event before yielding */
#define DNS_UDP_QUERY_MAX 4096	/* a larger query over UDP is dropped, counted */
#define DNS_FORWARD_SIZE  1232	/* the EDNS0 size we offer servers (no fragments) */
#define DNS_CONNS_MAX	  256	/* clients' TCP connections, per worker */

/* Where an answer goes: a UDP listener and the client's address, or a
 * client's TCP connection (NULL again once it closed: then nowhere). */
struct dns_reply_to {
	int fd;
	struct sockaddr_storage client;
	struct dns_conn *conn;
};

struct dns_pending {
	struct timer timer; /* the current attempt's deadline */
	struct ev ev;	    /* the attempt's socket */
	int fd;
	struct dns_service *svc;
	struct list node; /* svc->pending */
	struct dns_msg_query q;
	uint8_t question[DNS_NAME_WIRE_MAX + 4]; /* as the client spelled it */
	struct dns_reply_to to;
	uint16_t fwd_id;
	unsigned server;	     /* the index being asked */
	uint64_t asked_ms;	     /* when the current attempt went out */
	struct dns_tcp *via;	     /* asked over this TCP channel, or */
	struct dns_assoc *via_assoc; /* through this UDP ASSOCIATE, or NULL */
};

/* Our UDP ASSOCIATE with the upstream [route] names for one server, made
 * on first use and kept: queries go in SOCKS5 UDP datagrams. */
struct dns_assoc {
	struct udp_assoc assoc;
	struct dns_service *svc; /* NULL: let go, freed after the batch */
	struct generation *gen;	 /* holds the upstream's config */
	/* until then its failed setup sends this server's queries over TCP
	 * (an upstream without UDP ASSOCIATE: OpenSSH, Tor) */
	uint64_t tcp_until;
};

#define DNS_NO_UDP_MS 60000 /* how long a failed UDP ASSOCIATE means TCP */

/* Datagrams of one listener moved in one system call each way: queries
 * read with recvmmsg, and the answers to them sent with sendmmsg. */
struct dns_udp_batch {
	struct mmsghdr msg[DNS_READS];
	struct iovec iov[DNS_READS];
	struct sockaddr_storage peer[DNS_READS];
	uint8_t buf[DNS_READS][DNS_UDP_QUERY_MAX];
	unsigned n;
};

struct dns_service {
	struct relay *r;
	/* while a listener's queries are handled, answers to it gather in tx */
	int tx_fd;
	struct dns_udp_batch rx, tx;
	struct dns_cache *cache;
	struct list pending;
	unsigned n_pending;
	unsigned n_conns;		      /* clients' TCP connections */
	struct dns_tcp *tcp[DNS_SERVERS_MAX]; /* made on first use */
	struct dns_assoc *uassoc[DNS_SERVERS_MAX];
	/* what the cache and the per-server counters were made for */
	unsigned cache_entries, cache_bytes;
	struct sockaddr_storage servers[DNS_SERVERS_MAX];
	size_t n_servers;
	uint8_t id_key[SIPHASH_KEY_LEN];
	uint64_t id_counter;
	uint8_t in[DNS_MSG_MAX], out[DNS_MSG_MAX];
};

static void count(atomic_ullong *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void note_cache(struct dns_service *svc)
{
	struct dns_cache_stats st;

	dns_cache_stats(svc->cache, &st);
	atomic_store_explicit(&svc->r->counters.dns.cache_entries, st.entries,
			      memory_order_relaxed);
	atomic_store_explicit(&svc->r->counters.dns.cache_bytes, st.bytes, memory_order_relaxed);
}

/* An unpredictable ID for a forwarded query: SipHash of a counter under a
 * random key, so a spoofer off the path cannot guess it. */
static uint16_t next_id(struct dns_service *svc)
{
	uint8_t digest[16];
	uint64_t n = ++svc->id_counter;

	siphash128(svc->id_key, &n, sizeof(n), digest);
	return (uint16_t)(digest[0] << 8 | digest[1]);
}

/* The answers gathered for the listener tx_fd, sent in one call; one the
 * socket cannot take now is dropped (the client asks again), as a full
 * socket buffer would drop it anyway. */
static void flush_answers(struct dns_service *svc)
{
	struct dns_udp_batch *b = &svc->tx;
	unsigned sent = 0;

	while (sent < b->n) {
		int n = sendmmsg(svc->tx_fd, b->msg + sent, b->n - sent, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_debug("dns: answers to clients: %s", strerror(errno));
			sent++; /* past the one that failed */
			continue;
		}
		sent += (unsigned)n;
	}
	b->n = 0;
}

static void queue_answer(struct dns_service *svc, const struct sockaddr_storage *client,
			 const uint8_t *msg, size_t len)
{
	struct dns_udp_batch *b = &svc->tx;
	unsigned i;

	if (b->n == DNS_READS)
		flush_answers(svc);
	i = b->n++;
	memcpy(b->buf[i], msg, len);
	b->peer[i] = *client;
	b->iov[i] = (struct iovec){ b->buf[i], len };
	b->msg[i].msg_hdr = (struct msghdr){ .msg_name = &b->peer[i],
					     .msg_namelen = addr_len(client),
					     .msg_iov = &b->iov[i],
					     .msg_iovlen = 1 };
}

static void send_to_client(struct dns_service *svc, const struct dns_reply_to *to,
			   const uint8_t *msg, size_t len, uint8_t rcode)
{
	struct relay_counters *c = &svc->r->counters;

	if (!to->conn && to->fd < 0)
		return; /* its TCP connection closed while it waited */
	count(&c->dns.answers[rcode < DNS_RCODE_KINDS - 1 ? rcode : DNS_RCODE_KINDS - 1]);
	if (to->conn) {
		dns_conn_send(to->conn, msg, len);
		return;
	}
	if (to->fd == svc->tx_fd && len <= DNS_UDP_QUERY_MAX) {
		queue_answer(svc, &to->client, msg, len);
		return;
	}
	if (sendto(to->fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&to->client,
		   addr_len(&to->client)) < 0)
		log_debug("dns: answer to a client: %s", strerror(errno));
}

/* An answer ldns wrote (len bytes in msg, the resolver's ID) to q's asker:
 * its ID and spelling, or TC when it is too large for the client. */
static void answer_client(struct dns_service *svc, const struct dns_reply_to *to,
			  const struct dns_msg_query *q, const uint8_t *question, uint8_t *msg,
			  size_t len, uint8_t rcode)
{
	if (!to->conn && len > q->udp_max) {
		len = dns_msg_truncated_reply(q, svc->out, sizeof(svc->out));
		if (len)
			send_to_client(svc, to, svc->out, len, rcode);
		return;
	}
	dns_msg_set_id(msg, q->id);
	if ((size_t)q->question_len == (size_t)q->name_len + 4 &&
	    DNS_HEADER_LEN + (size_t)q->question_len <= len)
		memcpy(msg + DNS_HEADER_LEN, question, q->question_len);
	send_to_client(svc, to, msg, len, rcode);
}

static void reply_error(struct dns_service *svc, const struct dns_reply_to *to,
			const struct dns_msg_query *q, int with_question, uint8_t rcode)
{
	size_t len = dns_msg_error_reply(q, with_question, rcode, svc->out, sizeof(svc->out));

	if (len)
		send_to_client(svc, to, svc->out, len, rcode);
}

static void pending_end(struct dns_pending *p)
{
	struct dns_service *svc = p->svc;

	timer_cancel(&p->timer);
	loop_close(&svc->r->loop, &p->fd, CLOSE_FIN);
	p->via = NULL;
	p->via_assoc = NULL;
	list_del(&p->node);
	svc->n_pending--;
	p->svc = NULL; /* dead: an event later in this batch leaves it */
	loop_free_after_batch(&svc->r->loop, p);
}

static void pending_ask(struct dns_pending *p);
static void pending_ask_tcp(struct dns_pending *p);
static void pending_ask_assoc(struct dns_pending *p);

/* This attempt is over: the next server, or SERVFAIL after the last. */
static void pending_next(struct dns_pending *p, const char *why)
{
	struct dns_service *svc = p->svc;
	const struct dns_config *dc = &svc->r->cfg->dns;
	char a[ADDR_STRLEN];

	if (loop_log_allowed(&svc->r->loop))
		log_warn("dns: server %s: %s",
			 addr_format(&dc->server[p->server < dc->n_server ? p->server : 0].addr, a,
				     sizeof(a)),
			 why);
	if (p->server < dc->n_server)
		count(&svc->r->counters.dns.servers[p->server].failed);
	loop_close(&svc->r->loop, &p->fd, CLOSE_FIN);
	p->via = NULL;
	p->via_assoc = NULL;
	if (++p->server < dc->n_server) {
		pending_ask(p);
		return;
	}
	reply_error(svc, &p->to, &p->q, 1, DNS_RCODE_SERVFAIL);
	pending_end(p);
}

static void pending_expired(struct timer *t)
{
	struct dns_pending *p = container_of(t, struct dns_pending, timer);

	count(&p->svc->r->counters.dns.timeouts);
	pending_next(p, "no answer in time");
}

/* The server's answer on the attempt's socket. */
static void pending_answer(struct dns_pending *p, const uint8_t *msg, size_t len)
{
	struct dns_service *svc = p->svc;
	struct dns_msg_answer a;
	const char *why;

	if (len < DNS_HEADER_LEN || dns_msg_id(msg) != p->fwd_id)
		return; /* not ours: keep waiting for the real one */
	if (dns_msg_parse_answer(msg, len, &p->q, &a, svc->out, sizeof(svc->out), &why) < 0) {
		count(&svc->r->counters.dns.bad_answers);
		return; /* a spoofer's or a broken one; the real one may follow */
	}
	if (a.truncated && !p->via) {
		/* the whole answer over TCP, from the same server */
		loop_close(&svc->r->loop, &p->fd, CLOSE_FIN);
		p->via_assoc = NULL;
		pending_ask_tcp(p);
		return;
	}
	if (p->server < DNS_SERVERS_MAX) {
		struct dns_server_counters *sc = &svc->r->counters.dns.servers[p->server];
		count(&sc->answered);
		atomic_fetch_add_explicit(&sc->latency_ms_sum, svc->r->loop.now_ms - p->asked_ms,
					  memory_order_relaxed);
	}
	dns_cache_put(svc->cache, &p->q, svc->out, a.len, &a, svc->r->loop.now_ms);
	note_cache(svc);
	answer_client(svc, &p->to, &p->q, p->question, svc->out, a.len, a.rcode);
	pending_end(p);
}

static void pending_event(struct ev *ev, uint32_t events)
{
	struct dns_pending *p = container_of(ev, struct dns_pending, ev);
	uint8_t buf[DNS_UDP_PLAIN_MAX > 4096 ? DNS_UDP_PLAIN_MAX : 4096];

	(void)events;
	while (p->svc && p->fd >= 0) {
		ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			pending_next(p, strerror(errno)); /* refused: nothing listens there */
			return;
		}
		pending_answer(p, buf, (size_t)n);
	}
}

/* The attempt's query went out to server p->server. */
static void note_asked(struct dns_pending *p)
{
	struct relay_counters *c = &p->svc->r->counters;

	p->asked_ms = p->svc->r->loop.now_ms;
	count(&c->dns.forwarded);
	count(&c->dns.servers[p->server].asked);
}

/* A marked UDP socket connected to server; -1 with errno. */
static int udp_socket_to(struct relay *r, const struct sockaddr_storage *server)
{
	uint32_t mark = r->cfg->mark;
	int fd;

	if (!fd_budget_room(r->loop.budget, 1)) {
		errno = EMFILE;
		return -1;
	}
	fd = socket(server->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if ((mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) ||
	    connect(fd, (const struct sockaddr *)server, addr_len(server)) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	fd_budget_take(r->loop.budget, 1);
	return fd;
}

/* Asks server p->server. */
static void pending_ask(struct dns_pending *p)
{
	struct dns_service *svc = p->svc;
	struct relay *r = svc->r;
	const struct dns_config *dc = &r->cfg->dns;
	const struct sockaddr_storage *server = &dc->server[p->server].addr;
	const struct upstream *up = config_dns_upstream(r->cfg, p->server);
	size_t len;

	timer_arm(&r->loop, &r->dns_timers, &p->timer, config_dns_attempt_ms(dc));
	if (dc->server[p->server].tcp) {
		pending_ask_tcp(p);
		return;
	}
	if (up->url.kind != UPSTREAM_DIRECT) {
		/* over UDP through a SOCKS5 upstream that carries it, else TCP */
		if (up->url.kind == UPSTREAM_SOCKS5 || up->url.kind == UPSTREAM_SOCKS5H)
			if (up->udp == UPSTREAM_UDP_ASSOCIATE) {
				pending_ask_assoc(p);
				return;
			}
		pending_ask_tcp(p);
		return;
	}
	p->fwd_id = next_id(svc);
	len = dns_msg_forward_query(&p->q, p->fwd_id, DNS_FORWARD_SIZE, svc->out, sizeof(svc->out));
	p->fd = len ? udp_socket_to(r, server) : -1;
	if (p->fd < 0 || loop_add(&r->loop, p->fd, &p->ev, EPOLLIN) < 0 ||
	    send(p->fd, svc->out, len, MSG_DONTWAIT) < 0) {
		pending_next(p, len ? strerror(errno) : "cannot write the query");
		return;
	}
	note_asked(p);
}

/* ---- over TCP ---- */

/* The query an answer (len bytes) that came over TCP channel t or UDP
 * association da is for, handed it; one for none of ours is dropped. The
 * few queries in flight on one channel: a scan is enough. */
static void answer_arrived(struct dns_service *svc, const struct dns_tcp *t,
			   const struct dns_assoc *da, const uint8_t *msg, size_t len)
{
	if (len < DNS_HEADER_LEN)
		return;
	for (struct list *n = svc->pending.next; n != &svc->pending; n = n->next) {
		struct dns_pending *p = container_of(n, struct dns_pending, node);
		if (p->via == t && p->via_assoc == da && p->fwd_id == dns_msg_id(msg)) {
			pending_answer(p, msg, len);
			return;
		}
	}
}

static void tcp_answer(struct dns_tcp *t, const uint8_t *msg, size_t len)
{
	answer_arrived(dns_tcp_owner(t), t, NULL, msg, len);
}

static void tcp_down(struct dns_tcp *t, const char *why)
{
	struct dns_service *svc = dns_tcp_owner(t);
	struct list *n = svc->pending.next;

	while (n != &svc->pending) {
		struct dns_pending *p = container_of(n, struct dns_pending, node);
		n = n->next; /* pending_next may end p */
		if (p->via == t)
			pending_next(p, why);
	}
}

static const struct dns_tcp_ops tcp_ops = {
	.answer = tcp_answer,
	.down = tcp_down,
};

/* The channel to server i in the current configuration; NULL when out of
 * memory. One made under an older configuration is let go. */
static struct dns_tcp *tcp_channel(struct dns_service *svc, unsigned i)
{
	struct relay *r = svc->r;
	const struct sockaddr_storage *server = &r->cfg->dns.server[i].addr;

	if (svc->tcp[i] && dns_tcp_generation(svc->tcp[i]) != r->gen) {
		tcp_down(svc->tcp[i], "the configuration changed");
		dns_tcp_free(svc->tcp[i]);
		svc->tcp[i] = NULL;
	}
	if (!svc->tcp[i])
		svc->tcp[i] =
		    dns_tcp_new(r, &tcp_ops, svc, r->gen, server, config_dns_upstream(r->cfg, i));
	return svc->tcp[i];
}

/* Asks server p->server over TCP: through its route's upstream, or
 * direct after a truncated UDP answer. */
static void pending_ask_tcp(struct dns_pending *p)
{
	struct dns_service *svc = p->svc;
	struct dns_tcp *t = tcp_channel(svc, p->server);
	size_t len;

	p->fwd_id = next_id(svc);
	len = dns_msg_forward_query(&p->q, p->fwd_id, DNS_FORWARD_SIZE, svc->out, sizeof(svc->out));
	if (!t || !len || dns_tcp_send(t, svc->out, len) < 0) {
		pending_next(p, "cannot open a TCP connection to it");
		return;
	}
	p->via = t;
	note_asked(p);
}

/* ---- over UDP through an upstream's UDP ASSOCIATE ---- */

static void assoc_ready(struct udp_assoc *ua)
{
	char rel[ADDR_STRLEN];

	log_debug("dns: UDP through upstream \"%s\": associated, relay %s", ua->up->name,
		  addr_format(&ua->relay, rel, sizeof(rel)));
}

static void assoc_down(struct udp_assoc *ua, enum udp_assoc_down kind, const char *why,
		       unsigned dropped)
{
	struct dns_assoc *da = container_of(ua, struct dns_assoc, assoc);
	struct dns_service *svc = da->svc;
	struct list *n;

	(void)dropped;
	if (!svc)
		return;
	if (kind != UDP_ASSOC_NO_ROOM) {
		if (loop_log_allowed(&svc->r->loop))
			log_info("dns: UDP through upstream \"%s\": %s; asking over TCP through it "
				 "for a minute",
				 ua->up->name, why);
		da->tcp_until = svc->r->loop.now_ms + DNS_NO_UDP_MS;
	}
	for (n = svc->pending.next; n != &svc->pending;) {
		struct dns_pending *p = container_of(n, struct dns_pending, node);
		n = n->next; /* asking again may end p */
		if (p->via_assoc != da)
			continue;
		p->via_assoc = NULL;
		pending_ask_tcp(p); /* the same server, over TCP through the upstream */
	}
}

/* Answers from the relay, each behind its SOCKS5 UDP header. */
static void assoc_readable(struct udp_assoc *ua)
{
	struct dns_assoc *da = container_of(ua, struct dns_assoc, assoc);
	struct dns_service *svc = da->svc;

	for (int i = 0; svc && i < DNS_READS && ua->relay_fd >= 0; i++) {
		struct upstream_target t;
		char host[256];
		const char *why;
		size_t hl;
		ssize_t n = recv(ua->relay_fd, svc->in, sizeof(svc->in), MSG_DONTWAIT);
		if (n < 0)
			return;
		if (socks_udp_parse(svc->in, (size_t)n, &t, host, &hl, &why) < 0 ||
		    (size_t)n - hl < DNS_HEADER_LEN) {
			count(&svc->r->counters.dns.bad_answers);
			continue;
		}
		answer_arrived(svc, NULL, da, svc->in + hl, (size_t)n - hl);
	}
}

static void assoc_sent(struct udp_assoc *ua, ssize_t rc, size_t payload)
{
	(void)ua;
	(void)rc; /* a query that could not go times out and the next server is asked */
	(void)payload;
}

static const struct udp_assoc_ops assoc_ops = {
	.ready = assoc_ready,
	.down = assoc_down,
	.readable = assoc_readable,
	.sent = assoc_sent,
};

static const struct udp_assoc_limits assoc_limits = {
	.datagrams = 64,
	.bytes = 64u << 10,
};

static void assoc_free(struct dns_assoc *da)
{
	if (!da)
		return;
	udp_assoc_close(&da->assoc);
	generation_unref(da->gen);
	da->svc = NULL;
	loop_free_after_batch(&da->assoc.r->loop, da);
}

/* The association for server i in the current configuration; NULL when
 * out of memory. One made under an older configuration is let go. */
static struct dns_assoc *assoc_for(struct dns_service *svc, unsigned i)
{
	struct relay *r = svc->r;
	const struct config *cfg = r->cfg;
	const struct upstream *up = config_dns_upstream(cfg, i);
	struct dns_assoc *da = svc->uassoc[i];

	if (da && da->gen != r->gen) {
		assoc_down(&da->assoc, UDP_ASSOC_ENDED, "the configuration changed", 0);
		assoc_free(da);
		svc->uassoc[i] = da = NULL;
	}
	if (da || !(da = calloc(1, sizeof(*da))))
		return da;
	da->svc = svc;
	da->gen = generation_ref(r->gen);
	udp_assoc_init(&da->assoc, r, &assoc_ops, &assoc_limits, up,
		       generation_counters(r->gen, up, r->index), cfg->mark,
		       cfg->connect_timeout_ms + cfg->handshake_timeout_ms);
	svc->uassoc[i] = da;
	return da;
}

static void pending_ask_assoc(struct dns_pending *p)
{
	struct dns_service *svc = p->svc;
	const struct sockaddr_storage *server = &svc->r->cfg->dns.server[p->server].addr;
	struct dns_assoc *da = assoc_for(svc, p->server);
	uint8_t hdr[SOCKS_UDP_HEADER_MAX];
	size_t hl = socks_udp_header(server, hdr), len;
	enum udp_assoc_send sent;

	p->fwd_id = next_id(svc);
	len = dns_msg_forward_query(&p->q, p->fwd_id, DNS_FORWARD_SIZE, svc->out, sizeof(svc->out));
	if (!da || !len) {
		pending_next(p, "out of memory");
		return;
	}
	/* p is not yet among the association's queries: a setup that fails
	 * at once tells the others, and p learns it here */
	sent = da->tcp_until > svc->r->loop.now_ms
		   ? UDP_ASSOC_UNAVAILABLE
		   : udp_assoc_send(&da->assoc, hdr, hl, svc->out, len);
	if (sent != UDP_ASSOC_SENT && sent != UDP_ASSOC_QUEUED) {
		pending_ask_tcp(p); /* no UDP through it now: TCP through it */
		return;
	}
	p->via_assoc = da;
	note_asked(p);
}

/* A query no cache entry answered: kept and forwarded. */
static void forward(struct dns_service *svc, const struct dns_reply_to *to,
		    const struct dns_msg_query *q, const uint8_t *msg)
{
	struct dns_pending *p;

	if (svc->n_pending >= DNS_PENDING_MAX || !(p = calloc(1, sizeof(*p)))) {
		count(&svc->r->counters.dns.refused);
		reply_error(svc, to, q, 1, DNS_RCODE_SERVFAIL);
		return;
	}
	p->svc = svc;
	p->fd = -1;
	p->ev.handle = pending_event;
	list_init(&p->timer.node);
	p->timer.fire = pending_expired;
	p->q = *q;
	if (q->question_len <= sizeof(p->question))
		memcpy(p->question, msg + DNS_HEADER_LEN, q->question_len);
	p->to = *to;
	list_add_tail(&svc->pending, &p->node);
	svc->n_pending++;
	pending_ask(p);
}

/* One datagram from a client. */
static void handle_query(struct dns_service *svc, const struct dns_reply_to *to, const uint8_t *msg,
			 size_t len)
{
	struct relay_counters *c = &svc->r->counters;
	struct dns_msg_query q;
	enum dns_query_verdict v;
	size_t n;

	v = dns_msg_parse_query(msg, len, &q);
	if (v != DNS_QUERY_OK) {
		count(&c->dns.malformed);
		if (v != DNS_QUERY_DROP)
			reply_error(svc, to, &q, 0,
				    v == DNS_QUERY_NOTIMP ? DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR);
		return;
	}
	count(&c->dns.queries);
	n = dns_cache_get(svc->cache, &q, msg, len, svc->out, sizeof(svc->out),
			  svc->r->loop.now_ms);
	note_cache(svc);
	if (!n) {
		forward(svc, to, &q, msg);
		return;
	}
	count(&c->dns.cache_hits);
	/* the rcode of what was kept: the low bits of its header */
	answer_client(svc, to, &q, msg + DNS_HEADER_LEN, svc->out, n, svc->out[3] & 0x0f);
}

/* Whether client may use the service: no answer at all for strangers. */
static int client_allowed(struct dns_service *svc, const struct sockaddr_storage *client)
{
	const struct dns_config *dc = &svc->r->cfg->dns;

	if (!dc->n_allow || cidr_list_contains(dc->allow, dc->n_allow, client))
		return 1;
	count(&svc->r->counters.dns.refused);
	return 0;
}

/* Up to DNS_READS queries from listener fd into svc->rx; how many. */
static unsigned read_queries(struct dns_service *svc, int fd)
{
	struct dns_udp_batch *b = &svc->rx;
	int n;

	for (unsigned i = 0; i < DNS_READS; i++) {
		b->iov[i] = (struct iovec){ b->buf[i], sizeof(b->buf[i]) };
		b->msg[i].msg_hdr = (struct msghdr){ .msg_name = &b->peer[i],
						     .msg_namelen = sizeof(b->peer[i]),
						     .msg_iov = &b->iov[i],
						     .msg_iovlen = 1 };
	}
	n = recvmmsg(fd, b->msg, DNS_READS, MSG_DONTWAIT, NULL);
	return n > 0 ? (unsigned)n : 0;
}

void dns_service_readable(struct relay *r, int fd)
{
	struct dns_service *svc = r->dns_service;
	struct dns_reply_to to = { .fd = fd };
	unsigned n;

	if (!svc)
		return;
	n = read_queries(svc, fd);
	svc->tx_fd = fd;
	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &svc->rx.msg[i].msg_hdr;
		to.client = svc->rx.peer[i];
		addr_unmap_v4(&to.client);
		if (!client_allowed(svc, &to.client))
			continue;
		if (h->msg_flags & MSG_TRUNC) {
			count(&r->counters.dns.malformed); /* no query is that large */
			continue;
		}
		handle_query(svc, &to, svc->rx.buf[i], svc->rx.msg[i].msg_len);
	}
	flush_answers(svc);
	svc->tx_fd = -1;
}

/* ---- clients over TCP ---- */

static void conn_query(struct dns_conn *c, const uint8_t *msg, size_t len)
{
	struct dns_reply_to to = { .fd = -1, .conn = c };

	handle_query(dns_conn_owner(c), &to, msg, len);
}

/* Queries of a connection that closed still get their answers cached, and
 * sent nowhere. */
static void conn_closed(struct dns_conn *c)
{
	struct dns_service *svc = dns_conn_owner(c);

	for (struct list *n = svc->pending.next; n != &svc->pending; n = n->next) {
		struct dns_pending *p = container_of(n, struct dns_pending, node);
		if (p->to.conn == c)
			p->to.conn = NULL;
	}
	svc->n_conns--;
}

static const struct dns_conn_ops conn_ops = {
	.query = conn_query,
	.closed = conn_closed,
};

void dns_service_accept(struct relay *r, int fd, const struct sockaddr_storage *client)
{
	struct dns_service *svc = r->dns_service;
	struct sockaddr_storage who = *client;

	fd_budget_take(r->loop.budget, 1);
	addr_unmap_v4(&who);
	if (!svc || svc->n_conns >= DNS_CONNS_MAX || !client_allowed(svc, &who)) {
		loop_close(&r->loop, &fd, CLOSE_RESET);
		return;
	}
	if (dns_conn_new(r, fd, &who, &conn_ops, svc))
		svc->n_conns++;
}

int dns_service_listen(const struct sockaddr_storage *addr, unsigned n_workers)
{
	int one = 1, fd, err;

	fd = socket(addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* SO_REUSEPORT alone: shared with our own workers only (same user) */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (addr->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    /* the router's LAN address may come up after the daemon */
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)addr, addr_len(addr)) < 0 ||
	    /* one client, one worker: its names meet one cache */
	    intake_steer_by_client(fd, addr->ss_family, n_workers) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int dns_service_listen_tcp(const struct sockaddr_storage *addr)
{
	int one = 1, fd, err;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (addr->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)addr, addr_len(addr)) < 0 || listen(fd, 128) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* The cache the configuration asks for; 0, or -ENOMEM with a log line
 * (the old cache, if any, kept). */
static int make_cache(struct dns_service *svc, const struct dns_config *dc)
{
	struct dns_cache *cache = dns_cache_new(dc->cache_entries, dc->cache_bytes, 86400);

	if (dc->cache_entries && !cache) {
		log_error("worker %u: dns: out of memory for the cache", svc->r->index);
		return -ENOMEM;
	}
	dns_cache_free(svc->cache);
	svc->cache = cache;
	svc->cache_entries = dc->cache_entries;
	svc->cache_bytes = dc->cache_bytes;
	note_cache(svc);
	return 0;
}

/* Whether the server list differs from the one the counters are for; the
 * list is noted as the new one. */
static int servers_changed(struct dns_service *svc, const struct dns_config *dc)
{
	int changed = dc->n_server != svc->n_servers;

	for (size_t i = 0; !changed && i < dc->n_server; i++)
		changed = !addr_equal(&dc->server[i].addr, &svc->servers[i]);
	for (size_t i = 0; i < dc->n_server; i++)
		svc->servers[i] = dc->server[i].addr;
	svc->n_servers = dc->n_server;
	return changed;
}

int dns_service_new(struct relay *r)
{
	struct dns_service *svc = calloc(1, sizeof(*svc));

	if (!svc)
		return -ENOMEM;
	svc->r = r;
	svc->tx_fd = -1;
	list_init(&svc->pending);
	r->dns_service = svc;
	if (getrandom(svc->id_key, sizeof(svc->id_key), 0) != (ssize_t)sizeof(svc->id_key)) {
		log_error("worker %u: dns: getrandom: %s", r->index, strerror(errno));
		return -EIO;
	}
	servers_changed(svc, &r->cfg->dns);
	return make_cache(svc, &r->cfg->dns);
}

void dns_service_reconfigure(struct relay *r)
{
	struct dns_service *svc = r->dns_service;
	const struct dns_config *dc = &r->cfg->dns;

	if (!svc)
		return;
	/* a new size starts an empty cache: answers kept under the old
	 * bounds are dropped rather than evicted one by one */
	if (dc->cache_entries != svc->cache_entries || dc->cache_bytes != svc->cache_bytes)
		make_cache(svc, dc);
	if (!servers_changed(svc, dc))
		return;
	for (size_t i = 0; i < DNS_SERVERS_MAX; i++) {
		struct dns_server_counters *sc = &r->counters.dns.servers[i];
		atomic_store_explicit(&sc->asked, 0, memory_order_relaxed);
		atomic_store_explicit(&sc->answered, 0, memory_order_relaxed);
		atomic_store_explicit(&sc->failed, 0, memory_order_relaxed);
		atomic_store_explicit(&sc->latency_ms_sum, 0, memory_order_relaxed);
	}
}

void dns_service_flush(struct relay *r)
{
	if (!r->dns_service)
		return;
	dns_cache_flush(r->dns_service->cache);
	note_cache(r->dns_service);
}

void dns_service_free(struct relay *r)
{
	struct dns_service *svc = r->dns_service;

	if (!svc)
		return;
	while (!list_empty(&svc->pending))
		pending_end(container_of(svc->pending.next, struct dns_pending, node));
	for (unsigned i = 0; i < DNS_SERVERS_MAX; i++) {
		dns_tcp_free(svc->tcp[i]);
		assoc_free(svc->uassoc[i]);
	}
	loop_end_batch(&r->loop);
	dns_cache_free(svc->cache);
	free(svc);
	r->dns_service = NULL;
}
