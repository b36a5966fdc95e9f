/* Asynchronous name resolution for SOCKS requests by name: one c-ares
 * channel per worker, its sockets in the worker's epoll loop. */
#ifndef SOCKGATE_DNS_H
#define SOCKGATE_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dns;
struct dns_query;
struct relay;

#define DNS_ADDRS_MAX 8

/* n addresses (port set) in the resolver's order, valid for ttl_s seconds
 * (the least of theirs; 0 when none was given, as from /etc/hosts), or
 * n = 0 and err. */
typedef void (*dns_result_fn)(void *arg, const struct sockaddr_storage *addrs, size_t n,
			      unsigned ttl_s, const char *err);

/* Call dns_library_init() once per process before any dns_new(). */
int dns_library_init(void);
void dns_library_cleanup(void);

/* 0 or -errno; *out is NULL on failure. mark goes on the DNS sockets. */
int dns_new(struct relay *r, uint32_t mark, struct dns **out);
/* Ends outstanding queries without calling their callbacks. */
void dns_free(struct dns *d);

/* Resolves name for client; fn runs exactly once unless the query is
 * cancelled, and may run before dns_resolve returns (at once with an error
 * when this worker has too many lookups under way, or client has). *slot
 * holds the query while it is under way (NULL again before fn runs), for
 * dns_cancel. */
void dns_resolve(struct dns *d, const char *name, uint16_t port,
		 const struct sockaddr_storage *client, dns_result_fn fn, void *arg,
		 struct dns_query **slot);
/* Lookups under way, orphans included. */
unsigned dns_active(const struct dns *d);
/* Forgets the query in *slot (if any): its callback will not run. */
void dns_cancel(struct dns_query **slot);

/* Retransmissions and timeouts; called from the worker's timer tick. */
void dns_tick(struct dns *d);

#endif
