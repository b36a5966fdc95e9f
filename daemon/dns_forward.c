/* Asking the [dns] servers (see dns_forward.h). A query is kept as a
 * struct dns_pending while the servers are asked one after the other:
 * over UDP from a socket of its own (a random port the kernel picks, a
 * random ID) when [route] sends the server's address direct, through our
 * UDP ASSOCIATE with a SOCKS5 upstream that carries UDP, and over TCP
 * (dns_tcp.c) through any other upstream, for a server with the tcp
 * option, or after a truncated UDP answer. Each attempt has its share of
 * the timeout; after the last the owner is told it failed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "dns_forward.h"
#include "dns_msg.h"
#include "dns_tcp.h"
#include "upstream_live.h"
#include "fd_budget.h"
#include "generation.h"
#include "relay.h"
#include "siphash.h"
#include "socks_handshake.h"
#include "udp_assoc.h"

#define DNS_PENDING_MAX	 1024  /* queries waiting for a server, per worker */
#define DNS_READS	 32    /* answers read per event through an association */
#define DNS_FORWARD_SIZE 1232  /* the EDNS0 size we offer servers (no fragments) */
#define DNS_NO_UDP_MS	 60000 /* how long a failed UDP ASSOCIATE means TCP */

struct dns_pending {
	struct timer timer; /* the current attempt's deadline */
	struct ev ev;	    /* the attempt's socket */
	int fd;
	struct dns_forward *f;
	struct list node; /* f->pending */
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
	struct dns_forward *f;	/* NULL: let go, freed after the batch */
	struct generation *gen; /* holds the upstream's config */
	/* until then its failed setup sends this server's queries over TCP
	 * (an upstream without UDP ASSOCIATE: OpenSSH, Tor) */
	uint64_t tcp_until;
};

struct dns_forward {
	struct relay *r;
	const struct dns_forward_ops *ops;
	void *owner;
	struct list pending;
	unsigned n_pending;
	struct dns_tcp *tcp[DNS_SERVERS_MAX]; /* made on first use */
	struct dns_assoc *uassoc[DNS_SERVERS_MAX];
	/* what the per-server counters are for */
	struct sockaddr_storage servers[DNS_SERVERS_MAX];
	size_t n_servers;
	uint8_t id_key[SIPHASH_KEY_LEN];
	uint64_t id_counter;
	uint8_t in[DNS_MSG_MAX], out[DNS_MSG_MAX];
};

/* An unpredictable ID for a forwarded query: SipHash of a counter under a
 * random key, so a spoofer off the path cannot guess it. */
static uint16_t next_id(struct dns_forward *f)
{
	uint8_t digest[16];
	uint64_t n = ++f->id_counter;

	siphash128(f->id_key, &n, sizeof(n), digest);
	return (uint16_t)(digest[0] << 8 | digest[1]);
}

static void pending_end(struct dns_pending *p)
{
	struct dns_forward *f = p->f;

	timer_cancel(&p->timer);
	loop_close(&f->r->loop, &p->fd, CLOSE_FIN);
	p->via = NULL;
	p->via_assoc = NULL;
	list_del(&p->node);
	f->n_pending--;
	p->f = NULL; /* dead: an event later in this batch leaves it */
	loop_free_after_batch(&f->r->loop, p);
}

static void pending_ask(struct dns_pending *p);
static void pending_ask_tcp(struct dns_pending *p);
static void pending_ask_assoc(struct dns_pending *p);

/* This attempt is over: the next server, or SERVFAIL after the last. */
static void pending_next(struct dns_pending *p, const char *why)
{
	struct dns_forward *f = p->f;
	const struct dns_config *dc = &f->r->cfg->dns;
	char a[ADDR_STRLEN];

	if (loop_log_allowed(&f->r->loop))
		log_warn("dns: server %s: %s",
			 addr_format(&dc->server[p->server < dc->n_server ? p->server : 0].addr, a,
				     sizeof(a)),
			 why);
	if (p->server < dc->n_server)
		relay_count(&f->r->counters.dns.servers[p->server].failed);
	loop_close(&f->r->loop, &p->fd, CLOSE_FIN);
	p->via = NULL;
	p->via_assoc = NULL;
	if (++p->server < dc->n_server) {
		pending_ask(p);
		return;
	}
	f->ops->failed(f, &p->to, &p->q);
	pending_end(p);
}

static void pending_expired(struct timer *t)
{
	struct dns_pending *p = container_of(t, struct dns_pending, timer);

	relay_count(&p->f->r->counters.dns.timeouts);
	pending_next(p, "no answer in time");
}

/* The server's answer on the attempt's socket. */
/* A server's answer for p: 1 when p took it (answered, or asking again
 * over TCP after a truncated one; p may be gone), 0 when its ID is
 * another's, -1 when it is malformed or answers another question. */
static int pending_answer(struct dns_pending *p, const uint8_t *msg, size_t len)
{
	struct dns_forward *f = p->f;
	struct dns_msg_answer a;
	const char *why;

	if (len < DNS_HEADER_LEN || dns_msg_id(msg) != p->fwd_id)
		return 0;
	if (dns_msg_parse_answer(msg, len, &p->q, &a, f->out, sizeof(f->out), &why) < 0)
		return -1;
	if (a.truncated && !p->via) {
		/* the whole answer over TCP, from the same server */
		loop_close(&f->r->loop, &p->fd, CLOSE_FIN);
		p->via_assoc = NULL;
		pending_ask_tcp(p);
		return 1;
	}
	if (p->server < DNS_SERVERS_MAX) {
		struct dns_server_counters *sc = &f->r->counters.dns.servers[p->server];
		relay_count(&sc->answered);
		atomic_fetch_add_explicit(&sc->latency_ms_sum, f->r->loop.now_ms - p->asked_ms,
					  memory_order_relaxed);
	}
	f->ops->answered(f, &p->to, &p->q, p->question, f->out, &a);
	pending_end(p);
	return 1;
}

static void pending_event(struct ev *ev, uint32_t events)
{
	struct dns_pending *p = container_of(ev, struct dns_pending, ev);
	uint8_t buf[DNS_UDP_PLAIN_MAX > 4096 ? DNS_UDP_PLAIN_MAX : 4096];

	(void)events;
	while (p->f && p->fd >= 0) {
		ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			pending_next(p, strerror(errno)); /* refused: nothing listens there */
			return;
		}
		/* a spoofer's or a broken one is counted; the real one may follow */
		if (pending_answer(p, buf, (size_t)n) < 0)
			relay_count(&p->f->r->counters.dns.bad_answers);
	}
}

/* The attempt's query went out to server p->server. */
static void note_asked(struct dns_pending *p)
{
	struct relay_counters *c = &p->f->r->counters;

	p->asked_ms = p->f->r->loop.now_ms;
	relay_count(&c->dns.forwarded);
	relay_count(&c->dns.servers[p->server].asked);
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
	if (relay_mark_socket(fd, mark) < 0 ||
	    connect(fd, (const struct sockaddr *)server, addr_len(server)) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	fd_budget_take(r->loop.budget, 1);
	return fd;
}

/* The upstream server i is asked through now: its via or route, or the
 * member of that group its policy picks (kept while it is up); NULL when
 * every member is down and the group says reset. */
static const struct upstream *server_upstream(struct dns_forward *f, unsigned i, unsigned how)
{
	const struct config *cfg = f->r->cfg;
	int pos;

	return upstream_live_pick(&f->r->gen->live, config_dns_upstream(cfg, i),
				  &cfg->dns.server[i].addr, 0, how | PICK_STABLE, &pos);
}

/* Asks server p->server. */
static void pending_ask(struct dns_pending *p)
{
	struct dns_forward *f = p->f;
	struct relay *r = f->r;
	const struct dns_config *dc = &r->cfg->dns;
	const struct sockaddr_storage *server = &dc->server[p->server].addr;
	const struct upstream *up;
	size_t len;

	timer_arm(&r->loop, &r->dns_timers, &p->timer, config_dns_attempt_ms(dc));
	if (dc->server[p->server].tcp) {
		pending_ask_tcp(p);
		return;
	}
	up = server_upstream(f, p->server, PICK_UDP);
	if (!up) {
		pending_next(p, "every member of its group is down");
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
	p->fwd_id = next_id(f);
	len = dns_msg_forward_query(&p->q, p->fwd_id, DNS_FORWARD_SIZE, f->out, sizeof(f->out));
	p->fd = len ? udp_socket_to(r, server) : -1;
	if (p->fd < 0 || loop_add(&r->loop, p->fd, &p->ev, EPOLLIN) < 0 ||
	    send(p->fd, f->out, len, MSG_DONTWAIT) < 0) {
		pending_next(p, len ? strerror(errno) : "cannot write the query");
		return;
	}
	note_asked(p);
}

/* ---- over TCP ---- */

/* The query an answer (len bytes) that came over TCP channel t or UDP
 * association da is for, handed it; one for none of ours is dropped. The
 * few queries in flight on one channel: a scan is enough. */
static void answer_arrived(struct dns_forward *f, const struct dns_tcp *t,
			   const struct dns_assoc *da, const uint8_t *msg, size_t len)
{
	int refused = 0;

	if (len < DNS_HEADER_LEN)
		return;
	for (struct list *n = f->pending.next; n != &f->pending; n = n->next) {
		struct dns_pending *p = container_of(n, struct dns_pending, node);
		if (p->via != t || p->via_assoc != da)
			continue;
		/* 16-bit IDs of many queries in flight can meet: one whose
		 * question is not this answer's lets the next try it */
		int took = pending_answer(p, msg, len);
		if (took > 0)
			return;
		refused |= took < 0;
	}
	if (refused)
		relay_count(&f->r->counters.dns.bad_answers);
}

static void tcp_answer(struct dns_tcp *t, const uint8_t *msg, size_t len)
{
	answer_arrived(dns_tcp_owner(t), t, NULL, msg, len);
}

/* Moves the queries asked over t or through da from f->pending to todo.
 * Handing one over may end any other query (a next server's channel
 * failing as it is written hands over its own), so the walk that hands
 * them over goes along todo, not along f->pending. */
static void pending_take(struct dns_forward *f, struct list *todo, const struct dns_tcp *t,
			 const struct dns_assoc *da)
{
	list_init(todo);
	for (struct list *n = f->pending.next; n != &f->pending;) {
		struct dns_pending *p = container_of(n, struct dns_pending, node);
		n = n->next;
		if (p->via == t && p->via_assoc == da) {
			list_del(&p->node);
			list_add_tail(todo, &p->node);
		}
	}
}

/* The next query of todo, back on f->pending (no longer via anything);
 * NULL when none is left. */
static struct dns_pending *pending_take_next(struct dns_forward *f, struct list *todo)
{
	struct dns_pending *p;

	if (list_empty(todo))
		return NULL;
	p = container_of(todo->next, struct dns_pending, node);
	list_del(&p->node);
	list_add_tail(&f->pending, &p->node);
	p->via = NULL;
	p->via_assoc = NULL;
	return p;
}

static void tcp_down(struct dns_tcp *t, const char *why, int server_closed)
{
	struct dns_forward *f = dns_tcp_owner(t);
	struct dns_pending *p;
	struct list todo;

	/* A server that closes after so many queries gets what it left
	 * unanswered again on a new connection (a new channel: this one may
	 * still have events in this batch). Each such close answered some,
	 * and each query's deadline stands, so this ends. */
	if (server_closed)
		for (unsigned i = 0; i < DNS_SERVERS_MAX; i++)
			if (f->tcp[i] == t) {
				dns_tcp_free(t);
				f->tcp[i] = NULL;
			}
	pending_take(f, &todo, t, NULL);
	while ((p = pending_take_next(f, &todo))) {
		if (server_closed)
			pending_ask_tcp(p);
		else
			pending_next(p, why);
	}
}

static const struct dns_tcp_ops tcp_ops = {
	.answer = tcp_answer,
	.down = tcp_down,
};

/* The channel to server i in the current configuration; NULL when out of
 * memory. One made under an older configuration is let go. */
static struct dns_tcp *tcp_channel(struct dns_forward *f, unsigned i)
{
	struct relay *r = f->r;
	const struct sockaddr_storage *server = &r->cfg->dns.server[i].addr;
	const struct upstream *up = server_upstream(f, i, 0);

	if (f->tcp[i] &&
	    (dns_tcp_generation(f->tcp[i]) != r->gen || dns_tcp_upstream(f->tcp[i]) != up)) {
		tcp_down(f->tcp[i],
			 up ? "the configuration or its group's member changed"
			    : "every member of its group is down",
			 0);
		dns_tcp_free(f->tcp[i]);
		f->tcp[i] = NULL;
	}
	if (!f->tcp[i] && up)
		f->tcp[i] = dns_tcp_new(r, &tcp_ops, f, r->gen, server, up);
	return f->tcp[i];
}

/* Asks server p->server over TCP: through its route's upstream, or
 * direct after a truncated UDP answer. */
static void pending_ask_tcp(struct dns_pending *p)
{
	struct dns_forward *f = p->f;
	struct dns_tcp *t = tcp_channel(f, p->server);
	size_t len;

	p->fwd_id = next_id(f);
	len = dns_msg_forward_query(&p->q, p->fwd_id, DNS_FORWARD_SIZE, f->out, sizeof(f->out));
	if (!t || !len) {
		pending_next(p, "cannot open a TCP connection to it");
		return;
	}
	/* on t before the send: a connection found closed as it is written
	 * hands p over with the others (asked again, or the next server) */
	p->via = t;
	if (dns_tcp_send(t, f->out, len) < 0) {
		p->via = NULL;
		pending_next(p, "cannot open a TCP connection to it");
		return;
	}
	if (p->f && p->via == t)
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
	struct dns_forward *f = da->f;
	struct dns_pending *p;
	struct list todo;

	(void)dropped;
	if (!f)
		return;
	/* Only a refusal says the upstream has no UDP ASSOCIATE (ssh -D, Tor).
	 * One that ended, or could not be reached, is tried again with the
	 * next query (after the association's own pause). */
	if (kind == UDP_ASSOC_REFUSED) {
		if (loop_log_allowed(&f->r->loop))
			log_info("dns: UDP through upstream \"%s\": %s; asking over TCP through it "
				 "for a minute",
				 ua->up->name, why);
		da->tcp_until = f->r->loop.now_ms + DNS_NO_UDP_MS;
	} else if (kind != UDP_ASSOC_NO_ROOM && loop_log_allowed(&f->r->loop)) {
		log_info("dns: UDP through upstream \"%s\": %s", ua->up->name, why);
	}
	pending_take(f, &todo, NULL, da);
	while ((p = pending_take_next(f, &todo)))
		pending_ask_tcp(p); /* the same server, over TCP through the upstream */
}

/* Answers from the relay, each behind its SOCKS5 UDP header. */
static void assoc_readable(struct udp_assoc *ua)
{
	struct dns_assoc *da = container_of(ua, struct dns_assoc, assoc);
	struct dns_forward *f = da->f;

	for (int i = 0; f && i < DNS_READS && ua->relay_fd >= 0; i++) {
		struct upstream_target t;
		char host[256];
		const char *why;
		size_t hl;
		ssize_t n = recv(ua->relay_fd, f->in, sizeof(f->in), MSG_DONTWAIT);
		if (n < 0)
			return;
		if (socks_udp_parse(f->in, (size_t)n, &t, host, &hl, &why) < 0 ||
		    (size_t)n - hl < DNS_HEADER_LEN) {
			relay_count(&f->r->counters.dns.bad_answers);
			continue;
		}
		answer_arrived(f, NULL, da, f->in + hl, (size_t)n - hl);
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
	da->f = NULL;
	loop_free_after_batch(&da->assoc.r->loop, da);
}

/* The association for server i in the current configuration; NULL when
 * out of memory. One made under an older configuration is let go. */
static struct dns_assoc *assoc_for(struct dns_forward *f, unsigned i)
{
	struct relay *r = f->r;
	const struct config *cfg = r->cfg;
	const struct upstream *up = server_upstream(f, i, PICK_UDP);
	struct dns_assoc *da = f->uassoc[i];

	if (!up)
		return NULL;
	if (da && (da->gen != r->gen || da->assoc.up != up)) {
		assoc_down(&da->assoc, UDP_ASSOC_ENDED, "the configuration changed", 0);
		assoc_free(da);
		f->uassoc[i] = da = NULL;
	}
	if (da || !(da = calloc(1, sizeof(*da))))
		return da;
	da->f = f;
	da->gen = generation_ref(r->gen);
	udp_assoc_init(&da->assoc, r, &assoc_ops, &assoc_limits, da->gen, up, cfg->mark,
		       cfg->connect_timeout_ms + cfg->handshake_timeout_ms);
	f->uassoc[i] = da;
	return da;
}

static void pending_ask_assoc(struct dns_pending *p)
{
	struct dns_forward *f = p->f;
	const struct sockaddr_storage *server = &f->r->cfg->dns.server[p->server].addr;
	struct dns_assoc *da = assoc_for(f, p->server);
	uint8_t hdr[SOCKS_UDP_HEADER_MAX];
	size_t hl = socks_udp_header(server, hdr), len;
	enum udp_assoc_send sent;

	p->fwd_id = next_id(f);
	len = dns_msg_forward_query(&p->q, p->fwd_id, DNS_FORWARD_SIZE, f->out, sizeof(f->out));
	if (!da || !len) {
		pending_next(p, da ? "cannot write the query"
				   : "no association (every member of its group is down, or out "
				     "of memory)");
		return;
	}
	/* p is not yet among the association's queries: a setup that fails
	 * at once tells the others, and p learns it here */
	sent = da->tcp_until > f->r->loop.now_ms ? UDP_ASSOC_UNAVAILABLE
						 : udp_assoc_send(&da->assoc, hdr, hl, f->out, len);
	if (sent != UDP_ASSOC_SENT && sent != UDP_ASSOC_QUEUED) {
		pending_ask_tcp(p); /* no UDP through it now: TCP through it */
		return;
	}
	p->via_assoc = da;
	note_asked(p);
}

int dns_forward_query(struct dns_forward *f, const struct dns_reply_to *to,
		      const struct dns_msg_query *q, const uint8_t *question)
{
	struct dns_pending *p;

	if (f->n_pending >= DNS_PENDING_MAX || !(p = calloc(1, sizeof(*p))))
		return -1;
	p->f = f;
	p->fd = -1;
	p->ev.handle = pending_event;
	list_init(&p->timer.node);
	p->timer.fire = pending_expired;
	p->q = *q;
	if (q->question_len <= sizeof(p->question))
		memcpy(p->question, question, q->question_len);
	p->to = *to;
	list_add_tail(&f->pending, &p->node);
	f->n_pending++;
	pending_ask(p);
	return 0;
}

void dns_forward_forget_conn(struct dns_forward *f, const struct dns_conn *c)
{
	for (struct list *n = f->pending.next; n != &f->pending; n = n->next) {
		struct dns_pending *p = container_of(n, struct dns_pending, node);
		if (p->to.conn == c)
			p->to.conn = NULL;
	}
}

/* Whether the server list differs from the one the counters are for; the
 * list is noted as the new one. */
static int servers_changed(struct dns_forward *f, const struct dns_config *dc)
{
	int changed = dc->n_server != f->n_servers;

	for (size_t i = 0; !changed && i < dc->n_server; i++)
		changed = !addr_equal(&dc->server[i].addr, &f->servers[i]);
	for (size_t i = 0; i < dc->n_server; i++)
		f->servers[i] = dc->server[i].addr;
	f->n_servers = dc->n_server;
	return changed;
}

void dns_forward_reconfigure(struct dns_forward *f)
{
	if (!servers_changed(f, &f->r->cfg->dns))
		return;
	for (size_t i = 0; i < DNS_SERVERS_MAX; i++) {
		struct dns_server_counters *sc = &f->r->counters.dns.servers[i];
		atomic_store_explicit(&sc->asked, 0, memory_order_relaxed);
		atomic_store_explicit(&sc->answered, 0, memory_order_relaxed);
		atomic_store_explicit(&sc->failed, 0, memory_order_relaxed);
		atomic_store_explicit(&sc->latency_ms_sum, 0, memory_order_relaxed);
	}
}

struct dns_forward *dns_forward_new(struct relay *r, const struct dns_forward_ops *ops, void *owner)
{
	struct dns_forward *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->r = r;
	f->ops = ops;
	f->owner = owner;
	list_init(&f->pending);
	if (getrandom(f->id_key, sizeof(f->id_key), 0) != (ssize_t)sizeof(f->id_key)) {
		log_error("worker %u: dns: getrandom: %s", r->index, strerror(errno));
		free(f);
		return NULL;
	}
	servers_changed(f, &r->cfg->dns);
	return f;
}

void *dns_forward_owner(const struct dns_forward *f)
{
	return f->owner;
}

void dns_forward_free(struct dns_forward *f)
{
	if (!f)
		return;
	while (!list_empty(&f->pending))
		pending_end(container_of(f->pending.next, struct dns_pending, node));
	for (unsigned i = 0; i < DNS_SERVERS_MAX; i++) {
		dns_tcp_free(f->tcp[i]);
		assoc_free(f->uassoc[i]);
	}
	loop_end_batch(&f->r->loop);
	free(f);
}
