/* Warm sessions ([upstream] warm): per worker and upstream, connections
 * opened ahead of need, their greeting and credentials done (SOCKS5: the
 * method chosen and RFC 1929 passed, waiting for a request; SOCKS4 and HTTP
 * CONNECT: connected), so that a new flow sends only its request and saves
 * the round trips of the TCP handshake and the greeting. A pool's size
 * follows the rate of new flows to its upstream (auto) or is fixed (N),
 * and falls to zero after warm_idle (a minute) without one; sessions are renewed
 * before warm_max_age (an upstream's own idle or negotiation timeout) and
 * are opened only while the fd budget has room to spare. */
#ifndef SOCKGATE_WARM_POOL_H
#define SOCKGATE_WARM_POOL_H

#include <stdint.h>
#include <sys/socket.h>

struct relay;
struct upstream;

/* auto never keeps more than this many per worker and upstream */
#define WARM_AUTO_MAX 16

/* The state on r's worker (r->warm); 0 or -ENOMEM. */
int warm_pools_new(struct relay *r);
/* Closes every session (the relay's loop still runs). */
void warm_pools_free(struct relay *r);
/* A ready session to up: its fd (the caller's from now on, already in the
 * fd budget and out of the loop), the address it went to and that
 * address's index; -1 when there is none (then the flow connects as
 * usual). Either way the flow counts toward the pool's rate, and a taken
 * session is replaced at once. */
int warm_take(struct relay *r, const struct upstream *up, struct sockaddr_storage *addr,
	      uint8_t *addr_index);
/* Once a tick: pools sized, old sessions renewed, idle pools emptied. */
void warm_tick(struct relay *r);
/* The configuration changed: every session is closed; pools are made
 * again for the new one's upstreams as flows come. */
void warm_drop_all(struct relay *r);

#endif
