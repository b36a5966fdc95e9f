/* Is an address one of this host's own? Answered exactly by a bind probe,
 * whose verdicts a worker keeps for a second: SOCKS clients ask for the same
 * destinations again and again, and the probe costs three system calls. */
#ifndef SOCKGATE_LOCAL_ADDR_H
#define SOCKGATE_LOCAL_ADDR_H

#include <stdint.h>
#include <sys/socket.h>

#define LOCAL_ADDR_SLOTS 256

struct local_addr_slot {
	uint8_t key[17]; /* family, address */
	uint8_t local;
	uint64_t expires_ms; /* 0 = empty */
};

struct local_addr_cache {
	struct local_addr_slot slots[LOCAL_ADDR_SLOTS];
};

/* 1 if addr (port ignored) is this host's; c may be NULL (no caching). */
int local_addr_check(struct local_addr_cache *c, const struct sockaddr_storage *addr,
		     uint64_t now_ms);

#endif
