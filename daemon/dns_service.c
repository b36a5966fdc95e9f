/* The DNS service (see dns_service.h): the front end. Queries come in on
 * its UDP listeners (a batch per system call) and from clients' TCP
 * connections (dns_conn.c), are judged (dns_msg.c) and answered from the
 * worker's cache (dns_cache.c), or handed to the forwarder
 * (dns_forward.c), whose answers are cached and sent back; a query no
 * server answered gets SERVFAIL. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "dns_cache.h"
#include "dns_conn.h"
#include "dns_forward.h"
#include "dns_msg.h"
#include "dns_service.h"
#include "fakeip.h"
#include "fd_budget.h"
#include "intake.h"
#include "relay.h"

#define DNS_READS	  32   /* datagrams read per event before yielding */
#define DNS_UDP_QUERY_MAX 4096 /* a larger query over UDP is dropped, counted */
#define DNS_CONNS_MAX	  256  /* clients' TCP connections, per worker */

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
	struct dns_forward *fwd;
	unsigned n_conns; /* clients' TCP connections */
	/* what the cache was made for */
	unsigned cache_entries, cache_bytes;
	uint8_t out[DNS_MSG_MAX]; /* an answer from the cache, an error */
};

static void note_cache(struct dns_service *svc)
{
	struct dns_cache_stats st;

	dns_cache_stats(svc->cache, &st);
	atomic_store_explicit(&svc->r->counters.dns.cache_entries, st.entries,
			      memory_order_relaxed);
	atomic_store_explicit(&svc->r->counters.dns.cache_bytes, st.bytes, memory_order_relaxed);
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
			if (loop_log_allowed(&svc->r->loop))
				log_warn("dns: an answer to a client: %s", strerror(errno));
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
	relay_count(&c->dns.answers[rcode < DNS_RCODE_KINDS - 1 ? rcode : DNS_RCODE_KINDS - 1]);
	if (to->conn) {
		dns_conn_send(to->conn, msg, len);
		return;
	}
	if (to->fd == svc->tx_fd && len <= DNS_UDP_QUERY_MAX) {
		queue_answer(svc, &to->client, msg, len);
		return;
	}
	if (sendto(to->fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&to->client,
		   addr_len(&to->client)) < 0 &&
	    loop_log_allowed(&svc->r->loop))
		log_warn("dns: an answer to a client: %s", strerror(errno));
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

/* A server's answer, for the cache and the client. */
static void forward_answered(struct dns_forward *f, const struct dns_reply_to *to,
			     const struct dns_msg_query *q, const uint8_t *question, uint8_t *msg,
			     const struct dns_msg_answer *a)
{
	struct dns_service *svc = dns_forward_owner(f);

	dns_cache_put(svc->cache, q, msg, a->len, a, svc->r->loop.now_ms);
	note_cache(svc);
	answer_client(svc, to, q, question, msg, a->len, a->rcode);
}

static void forward_failed(struct dns_forward *f, const struct dns_reply_to *to,
			   const struct dns_msg_query *q)
{
	reply_error(dns_forward_owner(f), to, q, 1, DNS_RCODE_SERVFAIL);
}

static const struct dns_forward_ops forward_ops = {
	.answered = forward_answered,
	.failed = forward_failed,
};

/* A query no cache entry answered: kept and forwarded. */
static void forward(struct dns_service *svc, const struct dns_reply_to *to,
		    const struct dns_msg_query *q, const uint8_t *msg)
{
	if (dns_forward_query(svc->fwd, to, q, msg + DNS_HEADER_LEN) < 0) {
		relay_count(&svc->r->counters.dns.refused);
		reply_error(svc, to, q, 1, DNS_RCODE_SERVFAIL);
	}
}

/* [dns] mode = fakeip: an A or AAAA question for a name that would be
 * proxied is answered with an address of the pool (NODATA for a family
 * without one); names routed direct get real answers. 1 when answered. */
static int fake_answer(struct dns_service *svc, const struct dns_reply_to *to,
		       const struct dns_msg_query *q, const uint8_t *question)
{
	const struct config *cfg = svc->r->cfg;
	struct fakeip *t = svc->r->shared->fakeip;
	char name[DOMAIN_NAME_MAX + 1];
	struct sockaddr_storage addr;
	size_t n;

	if (!t || !cfg->dns.fakeip || q->klass != 1 || (q->type != 1 && q->type != 28))
		return 0;
	if (dns_msg_name_text(q, name, sizeof(name)) < 0 || domain_normalize(name, name) < 0)
		return 0;
	if (config_route_by_name(cfg, name)->url.kind == UPSTREAM_DIRECT)
		return 0;
	n = dns_msg_address_reply(
	    q,
	    fakeip_address_of(t, name, q->type == 1 ? AF_INET : AF_INET6, &addr) == 0 ? &addr
										      : NULL,
	    cfg->dns.fakeip_ttl, svc->out, sizeof(svc->out));
	if (!n)
		return 0;
	relay_count(&svc->r->counters.dns.fake_answers);
	answer_client(svc, to, q, question, svc->out, n, DNS_RCODE_NOERROR);
	return 1;
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
		relay_count(&c->dns.malformed);
		if (v != DNS_QUERY_DROP)
			reply_error(svc, to, &q, 0,
				    v == DNS_QUERY_NOTIMP ? DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR);
		return;
	}
	relay_count(&c->dns.queries);
	if (fake_answer(svc, to, &q, msg + DNS_HEADER_LEN))
		return;
	n = dns_cache_get(svc->cache, &q, msg, len, svc->out, sizeof(svc->out),
			  svc->r->loop.now_ms);
	note_cache(svc);
	if (!n) {
		forward(svc, to, &q, msg);
		return;
	}
	relay_count(&c->dns.cache_hits);
	/* the rcode of what was kept: the low bits of its header */
	answer_client(svc, to, &q, msg + DNS_HEADER_LEN, svc->out, n, svc->out[3] & 0x0f);
}

/* Whether client may use the service: no answer at all for strangers. */
static int client_allowed(struct dns_service *svc, const struct sockaddr_storage *client)
{
	const struct dns_config *dc = &svc->r->cfg->dns;

	if (!dc->n_allow || config_cidrs_hold(dc->allow_table, client))
		return 1;
	relay_count(&svc->r->counters.dns.refused);
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
			relay_count(&r->counters.dns.malformed); /* no query is that large */
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

	dns_forward_forget_conn(svc->fwd, c);
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

int dns_service_new(struct relay *r)
{
	struct dns_service *svc = calloc(1, sizeof(*svc));

	if (!svc)
		return -ENOMEM;
	svc->r = r;
	svc->tx_fd = -1;
	r->dns_service = svc;
	svc->fwd = dns_forward_new(r, &forward_ops, svc);
	if (!svc->fwd)
		return -ENOMEM;
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
	dns_forward_reconfigure(svc->fwd);
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
	dns_forward_free(svc->fwd);
	dns_cache_free(svc->cache);
	free(svc);
	r->dns_service = NULL;
}
