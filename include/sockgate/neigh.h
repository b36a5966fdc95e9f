/* The kernel's neighbour table (ARP and NDP): which link-layer address a
 * LAN client's IP address has now, for [route] rules by MAC. A dump of
 * the table is kept and taken again when an address is not in it (at
 * most every NEIGH_RETRY_MS: a client new on the LAN) or when it is
 * older than NEIGH_TTL_MS. */
#ifndef SOCKGATE_NEIGH_H
#define SOCKGATE_NEIGH_H

#include <stdint.h>
#include <sys/socket.h>

#define NEIGH_TTL_MS   10000
#define NEIGH_RETRY_MS 100

struct neigh;

/* NULL when no rtnetlink socket can be had (errno says why). */
struct neigh *neigh_new(void);
void neigh_free(struct neigh *n);
/* The MAC of ip (an IPv4-mapped address counts as IPv4) into mac: 0, or
 * -1 when the table has none that is reachable or stale. */
int neigh_mac(struct neigh *n, const struct sockaddr_storage *ip, uint64_t now_ms, uint8_t mac[6]);

#endif
