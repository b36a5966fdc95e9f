/* Longest-prefix match of addresses to values, for route sets of any size:
 * prefixes are added, then the table is built once into sorted, disjoint
 * address ranges per family (each with the value of the most specific
 * prefix that covers it), and a lookup is one binary search, IPv4 and
 * IPv6 alike. */
#ifndef SOCKGATE_PREFIX_TABLE_H
#define SOCKGATE_PREFIX_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

struct prefix_table;

/* An empty table; NULL when out of memory. */
struct prefix_table *prefix_table_new(void);
void prefix_table_free(struct prefix_table *t);

/* Adds c with value (not NULL): 0, or -1 when out of memory. Of a prefix
 * added twice, the first value holds. Only before prefix_table_build. */
int prefix_table_add(struct prefix_table *t, const struct cidr *c, const void *value);
/* Makes the ranges lookups search; 0 or -1 (out of memory). */
int prefix_table_build(struct prefix_table *t);
/* The value of the longest prefix that holds a, or NULL (also for a table
 * not built, or NULL). */
const void *prefix_table_lookup(const struct prefix_table *t, const struct sockaddr_storage *a);

/* Each range of family's addresses in order, by its first address
 * (network byte order, len 4 or 16) and value (NULL: no prefix holds it):
 * a range runs up to the next one's start. The first starts at 0. */
void prefix_table_each_range(const struct prefix_table *t, int family,
			     void (*fn)(const uint8_t *start, size_t len, const void *value,
					void *arg),
			     void *arg);
/* Prefixes added, and bytes the built table takes. */
size_t prefix_table_count(const struct prefix_table *t);
size_t prefix_table_bytes(const struct prefix_table *t);

#endif
