/* The policy routing TPROXY needs: packets marked by the tproxy rule are
 * routed to the local host ("fwmark MARK lookup TABLE" and "local default
 * dev lo table TABLE"), for IPv4 and IPv6, over rtnetlink (libmnl). Every
 * rule and route sockgate adds carries its own protocol number, so flush
 * finds all of them whatever the config says now. Functions return 0 or
 * -errno with a message in err. */
#ifndef SOCKGATE_POLICY_ROUTE_H
#define SOCKGATE_POLICY_ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* rtnetlink protocol of sockgate's rules and routes (unused by others in
 * /etc/iproute2/rt_protos) */
#define POLICY_ROUTE_PROTO 167

/* Removes what a previous apply left, then adds the rules and routes. */
int policy_route_apply(uint32_t mark, uint32_t table, char *err, size_t errlen);
/* Removes every rule and route with POLICY_ROUTE_PROTO; *removed counts. */
int policy_route_flush(unsigned *removed, char *err, size_t errlen);

#endif
