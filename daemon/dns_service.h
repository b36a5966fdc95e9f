/* The DNS service ([dns]): a front end that answers the LAN's queries on
 * its UDP and TCP listeners, from the worker's cache or by asking the configured
 * servers in order, each reached the way [route] says. Fails closed: a
 * query no server answers in time gets SERVFAIL, never a direct query the
 * config did not name. */
#ifndef SOCKGATE_DNS_SERVICE_H
#define SOCKGATE_DNS_SERVICE_H

#include <stdint.h>
#include <sys/socket.h>

struct relay;
struct dns_cache_stats;

/* The service's state on r's worker (r->dns_service); 0 or -errno with a
 * log line. dns_service_free is safe after a failure. */
int dns_service_new(struct relay *r);
/* After the relay's loop stopped: every query still waiting is dropped. */
void dns_service_free(struct relay *r);
/* A UDP listener of the service is readable. */
void dns_service_readable(struct relay *r, int fd);
/* A listener socket for addr, one of n_workers' group: fd or -errno. */
int dns_service_listen(const struct sockaddr_storage *addr, unsigned n_workers);
/* The same address over TCP (RFC 7766): fd or -errno. */
int dns_service_listen_tcp(const struct sockaddr_storage *addr);
/* A client's connection accepted on a TCP listener (fd, not yet counted
 * in the fd budget). */
void dns_service_accept(struct relay *r, int fd, const struct sockaddr_storage *client);
/* After a reload (r->cfg is the new configuration): the cache made again
 * when its bounds changed, the per-server counters started again when the
 * server list did. */
void dns_service_reconfigure(struct relay *r);
/* `sockgate dns flush`: the worker's cache emptied. */
void dns_service_flush(struct relay *r);

#endif
