/* DNS over TCP (RFC 7766) to one server, direct or through an upstream's
 * CONNECT (SOCKS5, SOCKS4a, HTTP; `ssh -D` included): one connection kept
 * open while queries come, several in flight on it, answers taken in any
 * order, opened again on demand and closed when idle. The owner matches
 * answers to its queries by ID. */
#ifndef SOCKGATE_DNS_TCP_H
#define SOCKGATE_DNS_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dns_tcp;
struct generation;
struct relay;
struct upstream;

struct dns_tcp_ops {
	/* one message from the server */
	void (*answer)(struct dns_tcp *t, const uint8_t *msg, size_t len);
	/* the connection failed or ended (why); what was sent on it will not
	 * be answered. server_closed: the server ended a connection it had
	 * answered on (servers may close after a number of queries: dnsmasq
	 * after 100), so what is unanswered may be asked again. */
	void (*down)(struct dns_tcp *t, const char *why, int server_closed);
};

/* A channel to server through up (of gen's config; direct: none), owned
 * by owner; nothing is opened before the first query. NULL when out of
 * memory. */
struct dns_tcp *dns_tcp_new(struct relay *r, const struct dns_tcp_ops *ops, void *owner,
			    struct generation *gen, const struct sockaddr_storage *server,
			    const struct upstream *up);
/* Queues msg (a query) and opens the connection if it is closed: 0, or -1
 * when too much waits already or it cannot be opened (down is not
 * called). A connection that fails as msg is written calls down before
 * this returns 0: the owner must count msg as sent on t before calling. */
int dns_tcp_send(struct dns_tcp *t, const uint8_t *msg, size_t len);
/* Closes the connection and frees t (after the current batch); no
 * callback. */
void dns_tcp_free(struct dns_tcp *t);
void *dns_tcp_owner(const struct dns_tcp *t);
struct generation *dns_tcp_generation(const struct dns_tcp *t);
const struct upstream *dns_tcp_upstream(const struct dns_tcp *t);
/* Whether it is connected (or connecting): an idle one closes itself. */
int dns_tcp_open(const struct dns_tcp *t);

#endif
