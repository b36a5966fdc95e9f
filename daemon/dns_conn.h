/* A LAN client's TCP connection to the DNS service (RFC 7766 section 6.2):
 * length-prefixed queries in, answers out in whatever order they come,
 * closed after DNS_TCP_IDLE_MS without a query, or when the client sends
 * what no query can be. The service hands the queries over through ops and
 * writes the answers back with dns_conn_send. */
#ifndef SOCKGATE_DNS_CONN_H
#define SOCKGATE_DNS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dns_conn;
struct relay;

struct dns_conn_ops {
	/* one query; the connection stays until closed (owner or client) */
	void (*query)(struct dns_conn *c, const uint8_t *msg, size_t len);
	/* the connection is gone: answers for it have nowhere to go now */
	void (*closed)(struct dns_conn *c);
};

/* Takes fd (counted in the fd budget by the caller's accept); NULL after
 * closing it when out of memory. */
struct dns_conn *dns_conn_new(struct relay *r, int fd, const struct sockaddr_storage *client,
			      const struct dns_conn_ops *ops, void *owner);
/* Queues an answer; -1 (the answer dropped) when the client reads too
 * slowly. */
int dns_conn_send(struct dns_conn *c, const uint8_t *msg, size_t len);
void *dns_conn_owner(const struct dns_conn *c);
const struct sockaddr_storage *dns_conn_client(const struct dns_conn *c);
/* Closes it from the owner's side (ops->closed is called too). */
void dns_conn_close(struct dns_conn *c);

#endif
