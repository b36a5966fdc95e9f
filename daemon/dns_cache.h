/* The DNS service's answer cache: answers kept as the resolver sent them,
 * for as long as their TTLs allow (negative ones as RFC 2308 says), served
 * with the asker's ID and spelling and their TTLs aged; bounded in entries
 * and bytes, least recently used out first. One per worker: no locks. */
#ifndef SOCKGATE_DNS_CACHE_H
#define SOCKGATE_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct dns_msg_query;
struct dns_msg_answer;
struct dns_cache;

struct dns_cache_stats {
	size_t entries, bytes;
	unsigned long long hits, misses, evicted;
};

/* NULL when out of memory (or max_entries 0: no cache). ttl_max caps how
 * long any answer is kept, in seconds. */
struct dns_cache *dns_cache_new(size_t max_entries, size_t max_bytes, uint32_t ttl_max);
void dns_cache_free(struct dns_cache *c);

/* Keeps msg, the answer to q that dns_msg_parse_answer judged into a, if
 * a->ttl lets it; replaces what was kept for the same question. */
void dns_cache_put(struct dns_cache *c, const struct dns_msg_query *q, const uint8_t *msg,
		   size_t len, const struct dns_msg_answer *a, uint64_t now_ms);

/* The kept answer to q, asked in query (qlen bytes): its length, and when
 * that fits cap, the answer in out with the query's ID and question bytes
 * and its TTLs aged. 0 on a miss (an expired answer is dropped). */
size_t dns_cache_get(struct dns_cache *c, const struct dns_msg_query *q, const uint8_t *query,
		     size_t qlen, uint8_t *out, size_t cap, uint64_t now_ms);

void dns_cache_flush(struct dns_cache *c);
void dns_cache_stats(const struct dns_cache *c, struct dns_cache_stats *s);

#endif
