/* The proxy auto-config script ([pac]) written from a configuration: the
 * destinations the router never proxies (its bypass lists) and those its
 * [route] sends direct answer DIRECT, everything else the proxy port
 * ("SOCKS5 h:p; PROXY h:p"). Routes are kept as the daemon keeps them:
 * address ranges sorted for a binary search, names looked up label by
 * label, so that a script for thousands of entries stays fast in the
 * browser. A name is never resolved by the script (no DNS lookup from the
 * browser, which would leak and wait): CIDR routes apply to address
 * literals, name routes to names. */
#ifndef SOCKGATE_PAC_SCRIPT_H
#define SOCKGATE_PAC_SCRIPT_H

#include <stdio.h>
#include <sys/socket.h>

struct config;

/* Writes the script for a browser at client (for [route] rules "from")
 * to out; proxy is "HOST:PORT" (brackets around an IPv6 address). 0, or
 * -1 when out of memory. */
int pac_script_write(const struct config *cfg, const struct sockaddr_storage *client,
		     const char *proxy, FILE *out);

#endif
