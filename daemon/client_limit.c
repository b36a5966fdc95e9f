/* An open-addressing table of per-client counters under one mutex: taken
 * twice per SOCKS connection (accept and close), never per byte. Entries
 * leave the table when their count drops to zero (backward-shift deletion,
 * so lookups never need tombstones). */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_limit.h"
#include "fnv.h"

/* Distinct clients with live connections; beyond this, clients are not
 * counted rather than refused (the fd budget still caps the total). */
#define SLOTS 8192

struct slot {
	uint8_t key[18]; /* [0] = family, [1] = prefix length, then the address */
	unsigned count;	 /* 0 = empty */
};

struct client_limit {
	pthread_mutex_t lock;
	unsigned max, max64;
	struct slot slots[SLOTS];
};

struct client_limit *client_limit_new(unsigned max, unsigned max64)
{
	struct client_limit *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	pthread_mutex_init(&cl->lock, NULL);
	cl->max = max;
	cl->max64 = max64;
	return cl;
}

void client_limit_set(struct client_limit *cl, unsigned max, unsigned max64)
{
	if (!cl)
		return;
	pthread_mutex_lock(&cl->lock);
	cl->max = max;
	cl->max64 = max64;
	pthread_mutex_unlock(&cl->lock);
}

void client_limit_free(struct client_limit *cl)
{
	if (!cl)
		return;
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

static void make_key(const struct sockaddr_storage *ss, unsigned bits, uint8_t key[18])
{
	memset(key, 0, 18);
	key[0] = (uint8_t)ss->ss_family;
	key[1] = (uint8_t)bits;
	if (ss->ss_family == AF_INET)
		memcpy(key + 2, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else
		memcpy(key + 2, &((const struct sockaddr_in6 *)ss)->sin6_addr, bits / 8);
}

/* FNV-1a: clients cannot make other clients hit their limit by colliding,
 * only make lookups a little longer. */
static size_t home_slot(const uint8_t key[18])
{
	return fnv1a(key, 18) % SLOTS;
}

/* The slot holding key, or the empty slot where it would go; NULL if full. */
static struct slot *find(struct client_limit *cl, const uint8_t key[18])
{
	size_t i = home_slot(key);
	for (size_t n = 0; n < SLOTS; n++, i = (i + 1) % SLOTS) {
		struct slot *s = &cl->slots[i];
		if (!s->count || !memcmp(s->key, key, 18))
			return s;
	}
	return NULL;
}

/* Backward shift: pull later entries of the run into the hole at s when
 * the hole lies between their home and where they sit. Called locked. */
static void slot_clear(struct client_limit *cl, struct slot *s)
{
	size_t hole = (size_t)(s - cl->slots);

	s->count = 0;
	for (size_t j = (hole + 1) % SLOTS; cl->slots[j].count; j = (j + 1) % SLOTS) {
		size_t home = home_slot(cl->slots[j].key);
		if ((j > hole && (home <= hole || home > j)) ||
		    (j < hole && home <= hole && home > j)) {
			cl->slots[hole] = cl->slots[j];
			cl->slots[j].count = 0;
			hole = j;
		}
	}
}

static void slot_put(struct client_limit *cl, const uint8_t key[18])
{
	struct slot *s = find(cl, key);

	if (s && s->count && --s->count == 0)
		slot_clear(cl, s);
}

int client_limit_take(struct client_limit *cl, const struct sockaddr_storage *client)
{
	uint8_t key[18], key64[18];
	struct slot *s, *s64 = NULL;
	int v6 = client->ss_family == AF_INET6, rc = 0;

	if (!cl || !cl->max)
		return 0;
	make_key(client, 128, key);
	make_key(client, 64, key64);
	pthread_mutex_lock(&cl->lock);
	s = find(cl, key);
	if (s && s->count >= cl->max)
		rc = -1;
	if (!rc && s && v6 && cl->max64) {
		/* the /64 first takes its own place: s may move no more */
		s64 = find(cl, key64);
		if (s64 && s64->count >= cl->max64)
			rc = -1;
		else if (s64) {
			memcpy(s64->key, key64, 18);
			s64->count++;
			s = find(cl, key);
		}
	}
	if (!rc && s) {
		memcpy(s->key, key, 18);
		s->count++;
		rc = 1;
	} else if (!rc && s64) {
		slot_put(cl, key64); /* the table was full for the address */
	}
	pthread_mutex_unlock(&cl->lock);
	return rc;
}

void client_limit_release(struct client_limit *cl, const struct sockaddr_storage *client)
{
	uint8_t key[18];

	if (!cl)
		return;
	pthread_mutex_lock(&cl->lock);
	make_key(client, 128, key);
	slot_put(cl, key);
	if (client->ss_family == AF_INET6 && cl->max64) {
		make_key(client, 64, key);
		slot_put(cl, key);
	}
	pthread_mutex_unlock(&cl->lock);
}
