/* What sockgated learns of its upstreams while it runs, shared by every
 * worker: whether each answers (active checks and real flows' handshakes,
 * with hysteresis), its current addresses (looked up again on their TTL),
 * and, for a [group], which member a new flow or association takes. A
 * configuration's generation holds one struct upstream_lives; a reload's
 * new one takes over what the old one knew of the upstreams it still has,
 * unchanged. */
#ifndef SOCKGATE_UPSTREAM_LIVE_H
#define SOCKGATE_UPSTREAM_LIVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct upstream;
struct upstream_group;

#define UPSTREAM_ADDRS_MAX 8
#define UPSTREAM_ERROR_MAX 320

struct upstream_live {
	/* the [group] whose checks and thresholds govern this member (the
	 * first that lists it); NULL for an upstream in no group */
	const struct upstream_group *governed_by;
	atomic_int down;     /* 1: new flows do not take it */
	atomic_int udp_down; /* 1: its UDP ASSOCIATE check failed */
	atomic_uint fails;   /* failures in a row, checks and real flows */
	atomic_uint goods;   /* good checks in a row while down */
	atomic_ullong checks, checks_failed;
	atomic_ullong check_ms;		/* when the last check ended (monotonic ms), 0: never */
	atomic_ullong check_latency_ms; /* the last good check's; 0: none yet */
	atomic_ullong changed_ms;	/* when it last went up or down */
	/* a group's: the round-robin position, and the member `sockgate
	 * upstream use` pinned (-1: the policy picks) */
	atomic_uint next;
	atomic_int pinned;
	/* the address (index) that answered last: new flows and checks start
	 * there, so a dead first address costs one flow, not every flow */
	atomic_uint good_addr;
	pthread_mutex_t lock;		/* guards what follows */
	char error[UPSTREAM_ERROR_MAX]; /* why it is down, or its last failure */
	struct sockaddr_storage addrs[UPSTREAM_ADDRS_MAX];
	size_t n_addrs;
	int by_name;	      /* the url's host is a name, looked up again */
	uint64_t resolved_ms; /* monotonic; 0: not yet */
	uint64_t refresh_ms;  /* when to look it up again */
};

/* The live state of one configuration's upstreams, by their index. */
struct upstream_lives {
	const struct config *cfg;
	struct upstream_live *v; /* [cfg->n_upstreams] */
};

/* Sets up lives for cfg (every upstream up; addresses from the
 * load); 0 or -ENOMEM. */
int upstream_live_init(struct upstream_lives *lives, const struct config *cfg);
void upstream_live_free(struct upstream_lives *lives);
/* What prev knew of the upstreams next has with the same name and url:
 * state, addresses, counters of checks, pins by member name. */
void upstream_live_inherit(struct upstream_lives *next, const struct upstream_lives *prev);

struct upstream_live *upstream_live_of(const struct upstream_lives *lives,
				       const struct upstream *up);

/* Address i of up (port set) into out: 0, or -1 when it has no address i
 * (its name did not resolve yet: why is in its error). */
int upstream_live_addr(const struct upstream_lives *lives, const struct upstream *up, size_t i,
		       struct sockaddr_storage *out);
/* The address (index) that just answered: new attempts start there. */
void upstream_live_addr_worked(const struct upstream_lives *lives, const struct upstream *up,
			       unsigned i);
/* The address a new connection to up starts with: the good one, else its
 * first; its index, or -1 when it has none (yet). */
int upstream_live_addr_to_use(const struct upstream_lives *lives, const struct upstream *up,
			      struct sockaddr_storage *out);
/* Whether addr (address and port) is where an upstream of lives is now: a LAN
 * device talking to the proxy itself. The port too: other services that
 * share the proxy's address (a hosting provider's, a CDN's) stay proxied. */
int upstream_live_is_upstream_address(const struct upstream_lives *lives,
				      const struct sockaddr_storage *addr);
/* A lookup's answer for up: n addresses (n = 0: failed, err says why),
 * looked up again after ttl_s within the config's bounds. */
void upstream_live_resolved(struct upstream_lives *lives, const struct upstream *up,
			    const struct sockaddr_storage *addrs, size_t n, unsigned ttl_s,
			    const char *err, uint64_t now_ms);

/* How up answered: a check (check = 1) or a real flow's handshake (ok, or
 * a failure of the proxy itself, why). A real flow's success clears the
 * failures in a row; only checks bring a down member up, after up_after
 * of them in a row; down_after failures in a row take it down. */
void upstream_live_note(struct upstream_lives *lives, const struct upstream *up, int check, int ok,
			uint64_t latency_ms, const char *why, uint64_t now_ms);
/* How many times any upstream went down since start: a worker that sees
 * it change moves its flows still connecting to a member now down. */
unsigned upstream_live_downs(void);

/* The UDP ASSOCIATE check's result. */
void upstream_live_note_udp(struct upstream_lives *lives, const struct upstream *up, int ok,
			    const char *why);

/* What a pick is for: UDP (members up and carrying UDP), and a stable
 * choice (round-robin spread by client as hash does, for what lasts
 * beyond one flow: UDP associations, the DNS service's channels). */
#define PICK_UDP    1u
#define PICK_STABLE 2u

/* The member of route a new flow from client takes, skipping the members
 * whose bit (by position in the group) is set in tried: route itself when
 * it is no group; the pinned member; else the policy's pick among the
 * members up. *pos is the member's position (-1 for no member). When none
 * is left: direct with on_all_down = direct, else NULL. */
const struct upstream *upstream_live_pick(const struct upstream_lives *lives,
					  const struct upstream *route,
					  const struct sockaddr_storage *client, uint32_t tried,
					  unsigned how, int *pos);

/* `sockgate upstream use GROUP MEMBER|auto`: 0, or -1 with why. */
int upstream_live_pin(struct upstream_lives *lives, const char *group, const char *member,
		      char *why, size_t len);

/* The error text of up, copied under its lock. */
void upstream_live_error(const struct upstream_lives *lives, const struct upstream *up, char *buf,
			 size_t len);

#endif
