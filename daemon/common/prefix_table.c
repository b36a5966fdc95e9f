/* Longest-prefix match by sorted ranges (see prefix_table.h).
 *
 * Build: the prefixes of a family sorted by start, shorter (enclosing)
 * first, swept with a stack of the prefixes still open. Each start of a
 * prefix, and each address after the end of one, begins a range whose
 * value is the innermost open prefix's (or none); ranges that would carry
 * the value of the one before are not made. CIDR prefixes nest or are
 * disjoint, so the stack always holds a chain of enclosing prefixes.
 * Lookup: the last range that starts at or below the address. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/prefix_table.h"

typedef unsigned __int128 u128;

struct entry {
	u128 start, end;
	const void *value;
	unsigned len;
	size_t seq; /* order added: of equal prefixes the first wins */
};

/* One family's ranges: start[i] .. start[i + 1] - 1 carry value[i]. A
 * lookup halves a small index of every BLOCK-th start first (it stays in
 * the cache), then one block, so that a large table costs a few cache
 * misses, not one per halving. */
#define BLOCK 32
struct ranges {
	void *start; /* uint32_t[] for IPv4, u128[] for IPv6 */
	const void **value;
	size_t n, cap;
	void *index; /* start[0], start[BLOCK], start[2 * BLOCK], ... */
	size_t n_index;
};

struct prefix_table {
	struct entry *entries[2]; /* [0] IPv4, [1] IPv6, until built */
	size_t n_entries[2], cap_entries[2], added;
	struct ranges ranges[2];
	int built;
};

struct prefix_table *prefix_table_new(void)
{
	return calloc(1, sizeof(struct prefix_table));
}

void prefix_table_free(struct prefix_table *t)
{
	if (!t)
		return;
	for (int f = 0; f < 2; f++) {
		free(t->entries[f]);
		free(t->ranges[f].start);
		free(t->ranges[f].value);
		free(t->ranges[f].index);
	}
	free(t);
}

static u128 bytes_to_u128(const uint8_t *b, size_t n)
{
	u128 v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

int prefix_table_add(struct prefix_table *t, const struct cidr *c, const void *value)
{
	int f = c->family == AF_INET6;
	unsigned bits = f ? 128 : 32;
	struct entry *e;
	u128 host;

	if (t->n_entries[f] == t->cap_entries[f]) {
		size_t cap = t->cap_entries[f] ? 2 * t->cap_entries[f] : 64;
		void *grown = realloc(t->entries[f], cap * sizeof(*e));
		if (!grown)
			return -1;
		t->entries[f] = grown;
		t->cap_entries[f] = cap;
	}
	e = &t->entries[f][t->n_entries[f]++];
	/* the host bits: all of them for /0 (a shift by 128 is undefined) */
	if (c->prefix_len >= bits)
		host = 0;
	else if (c->prefix_len == 0)
		host = f ? ~(u128)0 : 0xffffffffu;
	else
		host = ((u128)1 << (bits - c->prefix_len)) - 1;
	e->start = bytes_to_u128(c->bytes, f ? 16 : 4);
	e->end = e->start | host;
	e->len = c->prefix_len;
	e->value = value;
	e->seq = t->added++;
	return 0;
}

static int entry_order(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A range from at on with value, or the last one changed when it starts
 * there too; nothing when the last one carries value already. */
static int emit(struct ranges *r, int v6, u128 at, const void *value)
{
	if (r->n && r->value[r->n - 1] == value)
		return 0;
	if (r->n && (v6 ? ((u128 *)r->start)[r->n - 1] : ((uint32_t *)r->start)[r->n - 1]) == at) {
		r->value[r->n - 1] = value;
		/* it may now repeat the one before */
		if (r->n > 1 && r->value[r->n - 2] == value)
			r->n--;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		void *s = realloc(r->start, cap * (v6 ? sizeof(u128) : sizeof(uint32_t)));
		void *v = s ? realloc(r->value, cap * sizeof(*r->value)) : NULL;
		if (s)
			r->start = s;
		if (!v)
			return -1;
		r->value = v;
		r->cap = cap;
	}
	if (v6)
		((u128 *)r->start)[r->n] = at;
	else
		((uint32_t *)r->start)[r->n] = (uint32_t)at;
	r->value[r->n++] = value;
	return 0;
}

/* Closes the open prefixes that end before at (all when at is NULL):
 * after each, the one enclosing it (or none) resumes. */
static int close_before(struct ranges *r, int v6, u128 max, struct entry **stack, size_t *depth,
			const u128 *at)
{
	while (*depth && (!at || stack[*depth - 1]->end < *at)) {
		const struct entry *top = stack[--*depth];
		if (top->end == max)
			continue; /* reaches the end of the address space */
		if (emit(r, v6, top->end + 1, *depth ? stack[*depth - 1]->value : NULL) < 0)
			return -1;
	}
	return 0;
}

static int build_family(struct prefix_table *t, int f)
{
	struct ranges *r = &t->ranges[f];
	struct entry *e = t->entries[f], **stack;
	u128 max = f ? ~(u128)0 : 0xffffffffu;
	size_t n = t->n_entries[f], depth = 0;
	int rc = -1;

	stack = malloc(130 * sizeof(*stack)); /* nesting is at most one per bit */
	if (!stack)
		return -1;
	if (n) /* an empty family has no array at all */
		qsort(e, n, sizeof(*e), entry_order);
	if (emit(r, f, 0, NULL) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (close_before(r, f, max, stack, &depth, &e[i].start) < 0)
			goto out;
		if (depth && stack[depth - 1]->start == e[i].start &&
		    stack[depth - 1]->len == e[i].len)
			continue; /* given again: the first stays */
		stack[depth++] = &e[i];
		if (emit(r, f, e[i].start, e[i].value) < 0)
			goto out;
	}
	rc = close_before(r, f, max, stack, &depth, NULL);
	if (rc == 0 && r->n < r->cap) { /* what lookups keep: no spare room */
		void *s = realloc(r->start, r->n * (f ? sizeof(u128) : sizeof(uint32_t)));
		void *v = s ? realloc(r->value, r->n * sizeof(*r->value)) : NULL;
		if (s)
			r->start = s;
		if (v) {
			r->value = v;
			r->cap = r->n;
		}
	}
out:
	free(stack);
	return rc;
}

/* Every BLOCK-th start, for the first halving. */
static int build_index(struct ranges *r, int v6)
{
	size_t width = v6 ? sizeof(u128) : sizeof(uint32_t);

	r->n_index = (r->n + BLOCK - 1) / BLOCK;
	r->index = malloc(r->n_index ? r->n_index * width : 1);
	if (!r->index)
		return -1;
	for (size_t i = 0; i < r->n_index; i++)
		memcpy((char *)r->index + i * width, (char *)r->start + i * BLOCK * width, width);
	return 0;
}

int prefix_table_build(struct prefix_table *t)
{
	for (int f = 0; f < 2; f++) {
		if (build_family(t, f) < 0 || build_index(&t->ranges[f], f) < 0)
			return -1;
		free(t->entries[f]);
		t->entries[f] = NULL;
		t->cap_entries[f] = 0;
	}
	t->built = 1;
	return 0;
}

/* The last i in [lo, hi) with starts[i] <= key (starts[lo] is). */
static size_t last_at_or_below(const void *starts, int v6, size_t lo, size_t hi, u128 key)
{
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		u128 s = v6 ? ((const u128 *)starts)[mid] : ((const uint32_t *)starts)[mid];
		if (s <= key)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

const void *prefix_table_lookup(const struct prefix_table *t, const struct sockaddr_storage *a)
{
	int f = a->ss_family == AF_INET6;
	const struct ranges *r;
	size_t lo, hi;
	u128 key;

	if (!t || !t->built || (a->ss_family != AF_INET && !f))
		return NULL;
	r = &t->ranges[f];
	if (f)
		key = bytes_to_u128(((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr, 16);
	else
		key = ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr);
	/* the last start <= key (ranges[0] starts at 0): its block by the
	 * index, then within the block */
	lo = last_at_or_below(r->index, f, 0, r->n_index, key) * BLOCK;
	hi = lo + BLOCK < r->n ? lo + BLOCK : r->n;
	return r->n ? r->value[last_at_or_below(r->start, f, lo, hi, key)] : NULL;
}

void prefix_table_each_range(const struct prefix_table *t, int family,
			     void (*fn)(const uint8_t *start, size_t len, const void *value,
					void *arg),
			     void *arg)
{
	int f = family == AF_INET6;
	const struct ranges *r;

	if (!t || !t->built)
		return;
	r = &t->ranges[f];
	for (size_t i = 0; i < r->n; i++) {
		uint8_t b[16];
		u128 v = f ? ((const u128 *)r->start)[i] : ((const uint32_t *)r->start)[i];
		size_t n = f ? 16 : 4;
		for (size_t k = n; k-- > 0; v >>= 8)
			b[k] = (uint8_t)v;
		fn(b, n, r->value[i], arg);
	}
}

size_t prefix_table_count(const struct prefix_table *t)
{
	return t ? t->added : 0;
}

size_t prefix_table_bytes(const struct prefix_table *t)
{
	if (!t)
		return 0;
	return sizeof(*t) + t->ranges[0].cap * (sizeof(uint32_t) + sizeof(void *)) +
	       t->ranges[0].n_index * sizeof(uint32_t) +
	       t->ranges[1].cap * (sizeof(u128) + sizeof(void *)) +
	       t->ranges[1].n_index * sizeof(u128);
}
