/* What a proxy client (SOCKS or HTTP) asks to reach, made a connection:
 * the destination policy, a name either left to an upstream that takes
 * names or looked up here (asynchronously), each address checked and
 * routed by [route], and tried in order until one connects. Shared by the
 * front ends of the proxy port; the relay core below does the connecting. */
#ifndef SOCKGATE_PROXY_TARGET_H
#define SOCKGATE_PROXY_TARGET_H

#include <stddef.h>
#include <sys/socket.h>

#include "dns.h"

struct flow;

struct proxy_target {
	struct flow *flow;
	struct dns_query *dns;
	struct sockaddr_storage addrs[DNS_ADDRS_MAX];
	size_t n_addrs, next_addr;
	/* a name may go to an upstream that takes names unresolved (CONNECT) */
	int name_upstream;
	/* connects f once it is routed: NULL for flow_connect (SOCKS BIND
	 * listens instead) */
	void (*open)(struct flow *f);
};

/* The destination policy: loopback, unspecified, link-local and this
 * host's own addresses refused unless [socks] allow_dst names them;
 * deny_dst added. */
int proxy_dst_allowed(struct flow *f, const struct sockaddr_storage *dst);
/* Starts toward f->target (an address, or a name that may be an address
 * literal): pt->flow is f. The flow may be gone on return; failures are
 * reported with flow_fail_rep. */
void proxy_target_start(struct flow *f, struct proxy_target *pt);
/* For the front end's retry: 1 when the next address is being tried. */
int proxy_target_retry(struct proxy_target *pt, const char *desc, const char *reason);
/* The front end's session ends: a lookup under way is dropped. */
void proxy_target_end(struct proxy_target *pt);

#endif
