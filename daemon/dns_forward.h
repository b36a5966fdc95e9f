/* Asking the [dns] servers for the DNS service (dns_service.c): a query
 * the cache did not answer is kept and the servers asked in order, each
 * the way its route or options say (direct UDP, UDP through an upstream's
 * UDP ASSOCIATE, TCP through an upstream's CONNECT), each with its share
 * of the timeout. The owner hears of an answer, or of the last failure;
 * it never hears of a query twice. One per worker. */
#ifndef SOCKGATE_DNS_FORWARD_H
#define SOCKGATE_DNS_FORWARD_H

#include <stdint.h>
#include <sys/socket.h>

struct dns_conn;
struct dns_forward;
struct dns_msg_answer;
struct dns_msg_query;
struct relay;

/* Where an answer goes, carried along for the owner: a UDP listener and
 * the client's address, or a client's TCP connection (NULL again once it
 * closed: then nowhere). */
struct dns_reply_to {
	int fd;
	struct sockaddr_storage client;
	struct dns_conn *conn;
};

struct dns_forward_ops {
	/* A server's answer to q, judged into a: a->len bytes in msg as ldns
	 * wrote it again, with the resolver's ID; msg may be written to. */
	void (*answered)(struct dns_forward *f, const struct dns_reply_to *to,
			 const struct dns_msg_query *q, const uint8_t *question, uint8_t *msg,
			 const struct dns_msg_answer *a);
	/* No server answered in time: the client is owed SERVFAIL. */
	void (*failed)(struct dns_forward *f, const struct dns_reply_to *to,
		       const struct dns_msg_query *q);
};

/* NULL when out of memory or without randomness (logged). */
struct dns_forward *dns_forward_new(struct relay *r, const struct dns_forward_ops *ops,
				    void *owner);
void *dns_forward_owner(const struct dns_forward *f);
/* Every query still waiting dropped, channels and associations closed. */
void dns_forward_free(struct dns_forward *f);

/* Keeps q (question: its question section as the client spelled it) and
 * asks the first server; 0, or -1 when too many wait or out of memory
 * (nothing kept, the owner answers). */
int dns_forward_query(struct dns_forward *f, const struct dns_reply_to *to,
		      const struct dns_msg_query *q, const uint8_t *question);
/* A client's TCP connection closed: its queries' answers go nowhere. */
void dns_forward_forget_conn(struct dns_forward *f, const struct dns_conn *c);
/* After a reload: the per-server counters start again when the server
 * list changed; channels made under the old configuration are let go on
 * their next use. */
void dns_forward_reconfigure(struct dns_forward *f);

#endif
