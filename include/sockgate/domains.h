/* A table of domain names for routing by name ([route] keys that are
 * names): a "suffix" entry matches the name and every name under it, an
 * "exact" one the name alone. A lookup walks the asked name's labels from
 * the left, one hash probe each, so it costs time in proportion to the
 * name's length whatever the table's size; the most specific entry wins.
 * Built once at load, then only read (from any thread). */
#ifndef SOCKGATE_DOMAINS_H
#define SOCKGATE_DOMAINS_H

#include <stddef.h>

#define DOMAIN_NAME_MAX 253

struct domain_table;

struct domain_table *domain_table_new(void);
void domain_table_free(struct domain_table *t);
/* Adds name (normalized: lowercase, no trailing dot, checked) with value;
 * 0, 1 when the same name and kind is there already (kept), -1 when name
 * is not a host name, -2 when out of memory. */
int domain_table_add(struct domain_table *t, const char *name, int exact, const void *value);
/* The value of the most specific entry matching name (any case, a
 * trailing dot allowed), NULL when none does. */
const void *domain_table_match(const struct domain_table *t, const char *name);
size_t domain_table_count(const struct domain_table *t);
/* Each entry, in no particular order: its name (len bytes, not
 * NUL-terminated), kind and value. */
void domain_table_each(const struct domain_table *t,
		       void (*fn)(const char *name, size_t len, int exact, const void *value,
				  void *arg),
		       void *arg);
/* name as the table keeps it, in out (DOMAIN_NAME_MAX + 1): lowercase,
 * without a trailing dot; 0, or -1 when it is not a host name (LDH and
 * '_' labels of 1..63, 253 in all, not an address). */
int domain_normalize(const char *name, char *out);
/* The same for the len bytes at name (not NUL-terminated; a NUL among
 * them is no name). */
int domain_normalize_len(const char *name, size_t len, char *out);

#endif
