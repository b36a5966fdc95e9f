/* The DNS service's answer cache (see dns_cache.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dns_cache.h"
#include "dns_msg.h"
#include "list.h"
#include "siphash.h"

struct entry {
	struct entry *hash_next;
	struct list lru; /* least recently used first */
	uint8_t name[DNS_NAME_WIRE_MAX];
	uint8_t name_len, dnssec_ok, cd;
	uint16_t type, klass;
	uint64_t stored_ms, expires_ms;
	uint16_t ttl_at[DNS_TTLS_MAX];
	unsigned n_ttl;
	size_t len;
	uint8_t msg[]; /* as the resolver sent it */
};

struct dns_cache {
	uint8_t key[SIPHASH_KEY_LEN];
	struct entry **buckets;
	size_t n_buckets; /* a power of two */
	struct list lru;
	size_t max_entries, max_bytes;
	uint32_t ttl_max;
	struct dns_cache_stats stats;
};

/* Keyed: LAN clients choosing names cannot make chains. */
static size_t bucket_of(const struct dns_cache *c, const struct dns_msg_query *q)
{
	uint8_t buf[DNS_NAME_WIRE_MAX + 6], digest[16];
	uint64_t h;

	memcpy(buf, q->name, q->name_len);
	buf[q->name_len] = (uint8_t)(q->type >> 8);
	buf[q->name_len + 1] = (uint8_t)q->type;
	buf[q->name_len + 2] = (uint8_t)(q->klass >> 8);
	buf[q->name_len + 3] = (uint8_t)q->klass;
	buf[q->name_len + 4] = q->dnssec_ok;
	buf[q->name_len + 5] = q->cd;
	siphash128(c->key, buf, (size_t)q->name_len + 6, digest);
	memcpy(&h, digest, sizeof(h));
	return (size_t)h & (c->n_buckets - 1);
}

static int entry_is(const struct entry *e, const struct dns_msg_query *q)
{
	return e->name_len == q->name_len && e->type == q->type && e->klass == q->klass &&
	       e->dnssec_ok == q->dnssec_ok && e->cd == q->cd &&
	       !memcmp(e->name, q->name, q->name_len);
}

struct dns_cache *dns_cache_new(size_t max_entries, size_t max_bytes, uint32_t ttl_max)
{
	struct dns_cache *c;

	if (!max_entries)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->n_buckets = 64;
	while (c->n_buckets < max_entries && c->n_buckets < (1u << 20))
		c->n_buckets <<= 1;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (!c->buckets || getrandom(c->key, sizeof(c->key), 0) != (ssize_t)sizeof(c->key)) {
		free(c->buckets);
		free(c);
		return NULL;
	}
	list_init(&c->lru);
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->ttl_max = ttl_max;
	return c;
}

static void entry_remove(struct dns_cache *c, struct entry *e, struct entry **slot)
{
	*slot = e->hash_next;
	list_del(&e->lru);
	c->stats.entries--;
	c->stats.bytes -= sizeof(*e) + e->len;
	free(e);
}

/* The slot that points at q's entry, or at the NULL ending its chain. */
static struct entry **find_slot(struct dns_cache *c, const struct dns_msg_query *q)
{
	struct entry **pp = &c->buckets[bucket_of(c, q)];

	while (*pp && !entry_is(*pp, q))
		pp = &(*pp)->hash_next;
	return pp;
}

/* Drops the least recently used entry. */
static void drop_oldest(struct dns_cache *c)
{
	struct entry *e = container_of(c->lru.next, struct entry, lru);
	struct dns_msg_query q = { .name_len = e->name_len,
				   .type = e->type,
				   .klass = e->klass,
				   .dnssec_ok = e->dnssec_ok,
				   .cd = e->cd };

	memcpy(q.name, e->name, e->name_len);
	entry_remove(c, e, find_slot(c, &q));
}

static void evict_one(struct dns_cache *c)
{
	drop_oldest(c);
	c->stats.evicted++;
}

void dns_cache_put(struct dns_cache *c, const struct dns_msg_query *q, const uint8_t *msg,
		   size_t len, const struct dns_msg_answer *a, uint64_t now_ms)
{
	struct entry **slot, *e;
	size_t size = sizeof(*e) + len;
	uint32_t ttl;

	if (!c)
		return;
	ttl = a->ttl < c->ttl_max ? a->ttl : c->ttl_max;
	if (!ttl || size > c->max_bytes)
		return;
	slot = find_slot(c, q);
	if (*slot)
		entry_remove(c, *slot, slot);
	while (c->stats.entries &&
	       (c->stats.entries >= c->max_entries || c->stats.bytes + size > c->max_bytes))
		evict_one(c);
	e = malloc(size);
	if (!e)
		return;
	memcpy(e->name, q->name, q->name_len);
	e->name_len = q->name_len;
	e->type = q->type;
	e->klass = q->klass;
	e->dnssec_ok = q->dnssec_ok;
	e->cd = q->cd;
	e->stored_ms = now_ms;
	e->expires_ms = now_ms + (uint64_t)ttl * 1000;
	memcpy(e->ttl_at, a->ttl_at, a->n_ttl * sizeof(a->ttl_at[0]));
	e->n_ttl = a->n_ttl;
	e->len = len;
	memcpy(e->msg, msg, len);
	slot = find_slot(c, q); /* evictions may have emptied the chain */
	e->hash_next = *slot;
	*slot = e;
	list_add_tail(&c->lru, &e->lru);
	c->stats.entries++;
	c->stats.bytes += size;
}

/* Each TTL lowered by the seconds the answer was kept. */
static void age_ttls(const struct entry *e, uint8_t *out, uint64_t now_ms)
{
	uint32_t age = (uint32_t)((now_ms - e->stored_ms) / 1000);

	for (unsigned i = 0; i < e->n_ttl; i++) {
		uint8_t *p = out + e->ttl_at[i];
		uint32_t ttl =
		    (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		ttl = ttl > age ? ttl - age : 0;
		p[0] = (uint8_t)(ttl >> 24);
		p[1] = (uint8_t)(ttl >> 16);
		p[2] = (uint8_t)(ttl >> 8);
		p[3] = (uint8_t)ttl;
	}
}

size_t dns_cache_get(struct dns_cache *c, const struct dns_msg_query *q, const uint8_t *query,
		     size_t qlen, uint8_t *out, size_t cap, uint64_t now_ms)
{
	struct entry **slot, *e;
	size_t qbytes = q->question_len;

	if (!c)
		return 0;
	slot = find_slot(c, q);
	e = *slot;
	if (e && now_ms >= e->expires_ms) {
		entry_remove(c, e, slot);
		e = NULL;
	}
	if (!e) {
		c->stats.misses++;
		return 0;
	}
	c->stats.hits++;
	list_del(&e->lru);
	list_add_tail(&c->lru, &e->lru);
	if (e->len > cap)
		return e->len;
	memcpy(out, e->msg, e->len);
	dns_msg_set_id(out, q->id);
	/* the asker's spelling of the name (0x20 case games included) when
	 * its question is laid out as the resolver's was */
	if (qbytes && DNS_HEADER_LEN + qbytes <= qlen && DNS_HEADER_LEN + qbytes <= e->len &&
	    (size_t)q->name_len + 4 == qbytes)
		memcpy(out + DNS_HEADER_LEN, query + DNS_HEADER_LEN, qbytes);
	age_ttls(e, out, now_ms);
	return e->len;
}

void dns_cache_flush(struct dns_cache *c)
{
	while (c && !list_empty(&c->lru))
		drop_oldest(c);
}

void dns_cache_stats(const struct dns_cache *c, struct dns_cache_stats *s)
{
	if (c)
		*s = c->stats;
	else
		memset(s, 0, sizeof(*s));
}

void dns_cache_free(struct dns_cache *c)
{
	if (!c)
		return;
	dns_cache_flush(c);
	free(c->buckets);
	free(c);
}
