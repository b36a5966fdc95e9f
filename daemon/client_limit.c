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
	uint8_t key[17]; /* [0] = family, then the address or /64 */
	unsigned count;	 /* 0 = empty */
};

struct client_limit {
	pthread_mutex_t lock;
	unsigned max;
	struct slot slots[SLOTS];
};

struct client_limit *client_limit_new(unsigned max)
{
	struct client_limit *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	pthread_mutex_init(&cl->lock, NULL);
	cl->max = max;
	return cl;
}

void client_limit_free(struct client_limit *cl)
{
	if (!cl)
		return;
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

static void make_key(const struct sockaddr_storage *ss, uint8_t key[17])
{
	memset(key, 0, 17);
	key[0] = (uint8_t)ss->ss_family;
	if (ss->ss_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else
		memcpy(key + 1, &((const struct sockaddr_in6 *)ss)->sin6_addr, 8);
}

/* FNV-1a: clients cannot make other clients hit their limit by colliding,
 * only make lookups a little longer. */
static size_t home_slot(const uint8_t key[17])
{
	return fnv1a(key, 17) % SLOTS;
}

/* The slot holding key, or the empty slot where it would go; NULL if full. */
static struct slot *find(struct client_limit *cl, const uint8_t key[17])
{
	size_t i = home_slot(key);
	for (size_t n = 0; n < SLOTS; n++, i = (i + 1) % SLOTS) {
		struct slot *s = &cl->slots[i];
		if (!s->count || !memcmp(s->key, key, 17))
			return s;
	}
	return NULL;
}

int client_limit_take(struct client_limit *cl, const struct sockaddr_storage *client)
{
	uint8_t key[17];
	struct slot *s;
	int rc = 0;

	if (!cl || !cl->max)
		return 0;
	make_key(client, key);
	pthread_mutex_lock(&cl->lock);
	s = find(cl, key);
	if (s) {
		if (s->count >= cl->max) {
			rc = -1;
		} else {
			memcpy(s->key, key, 17);
			s->count++;
		}
	}
	pthread_mutex_unlock(&cl->lock);
	return rc;
}

void client_limit_release(struct client_limit *cl, const struct sockaddr_storage *client)
{
	uint8_t key[17];
	struct slot *s;

	if (!cl || !cl->max)
		return;
	make_key(client, key);
	pthread_mutex_lock(&cl->lock);
	s = find(cl, key);
	if (s && s->count && --s->count == 0) {
		/* Backward shift: pull later entries of the run into the hole
		 * when the hole lies between their home and where they sit. */
		size_t hole = (size_t)(s - cl->slots);
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
	pthread_mutex_unlock(&cl->lock);
}
