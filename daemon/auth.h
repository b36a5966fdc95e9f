/* Password checks for the SOCKS server without stalling a worker loop.
 * crypt(3) is slow by design, so it runs on one verifier thread; workers
 * keep a cache of keyed digests of credentials that passed, so a client
 * that reconnects costs one SipHash, not one crypt. Failures are throttled
 * per client address: 5 a minute per IPv4 address or IPv6 /128, and 50 per
 * IPv6 /64, past which only credentials that passed before still pass.
 * A check counts as a failure from its submission until it is answered. */
#ifndef SOCKGATE_AUTH_H
#define SOCKGATE_AUTH_H

#include <stdint.h>
#include <sys/socket.h>

#include "list.h"
#include "siphash.h"

struct auth_service;
struct users;

#define AUTH_CACHE_SLOTS 1024

struct auth_request {
	struct list node;
	/* Filled by the worker; done() runs on the verifier thread and must
	 * only hand the request back to its worker. */
	void (*done)(struct auth_request *req);
	void *owner; /* the worker's; NULL once the waiting flow is gone */
	struct sockaddr_storage client;
	char user[256], pass[256];
	uint8_t digest[SIPHASH_TAG_LEN];
	/* result */
	int ok;
	int throttled;
};

/* Per worker, touched only by its thread. */
struct auth_cache {
	uint8_t digest[AUTH_CACHE_SLOTS][SIPHASH_TAG_LEN];
};

/* gen (its users) is referenced by the service. 0 or -errno. */
struct generation;
int auth_service_start(struct auth_service **out, struct generation *gen);
/* After a reload: checks from now on use gen's users. */
void auth_service_set_generation(struct auth_service *s, struct generation *gen);
void auth_service_stop(struct auth_service *s);

enum auth_throttle {
	AUTH_FREE,	  /* check as usual */
	AUTH_LOCKED,	  /* refuse, right password or not */
	AUTH_PROVEN_ONLY, /* its /64 is over budget: only a cache hit passes */
};
/* Worker side, first: whether req->client failed too often lately (enum
 * auth_throttle, also left in req->throttled). */
int auth_throttled(struct auth_service *s, struct auth_request *req);
/* Then: computes req->digest from req->user and req->pass and
 * returns 1 if those credentials passed before (no thread hop needed). */
int auth_cache_check(const struct auth_service *s, const struct users *users,
		     const struct auth_cache *c, struct auth_request *req);
void auth_cache_add(struct auth_cache *c, const struct auth_request *req);
/* Queues req for the verifier thread, counting it as a failure until it
 * is answered; -EPERM when its address is throttled by the checks already
 * under way, -EAGAIN when too many are waiting. */
int auth_submit(struct auth_service *s, struct auth_request *req);
/* Wipes the password and frees req. */
void auth_request_free(struct auth_request *req);

#endif
