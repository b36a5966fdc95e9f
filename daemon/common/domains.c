/* Domain names for routing (see domains.h): an open-addressing hash table
 * of normalized names, their bytes in one growing arena. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/domains.h"

struct domain_entry {
	uint32_t hash; /* 0: an empty slot */
	uint32_t off;  /* of the name in the arena */
	uint16_t len;
	uint8_t exact;
	const void *value;
};

struct domain_table {
	struct domain_entry *slots;
	size_t n_slots; /* a power of two, at most half used */
	size_t count;
	char *arena;
	size_t arena_len, arena_cap;
};

int domain_normalize(const char *name, char *out)
{
	return domain_normalize_len(name, strlen(name), out);
}

int domain_normalize_len(const char *name, size_t len, char *out)
{
	size_t label = 0;
	int letter = 0;

	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DOMAIN_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0 || out[i - 1] == '-')
				return -1;
			label = 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			     c == '_') ||
			   (label == 0 && c == '-') || ++label > 63) {
			return -1;
		}
		letter |= !(c >= '0' && c <= '9') && c != '.';
		out[i] = c;
	}
	/* nor an empty last label ("a.." less its one trailing dot) */
	if (label == 0 || out[len - 1] == '-' || !letter)
		return -1;
	out[len] = '\0';
	return 0;
}

/* FNV-1a of the name and its kind; never 0 (the empty mark). */
static uint32_t hash_of(const char *name, size_t len, int exact)
{
	uint32_t h = 2166136261u ^ (uint32_t)(exact ? 0x9e : 0x51);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return h ? h : 1;
}

/* The slot holding (name, exact), or the empty one where it would go. */
static struct domain_entry *find(const struct domain_table *t, const char *name, size_t len,
				 int exact, uint32_t h)
{
	size_t mask = t->n_slots - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct domain_entry *e = &t->slots[i];
		if (!e->hash || (e->hash == h && e->len == len && e->exact == exact &&
				 !memcmp(t->arena + e->off, name, len)))
			return e;
	}
}

static int grow_slots(struct domain_table *t)
{
	size_t n = t->n_slots ? t->n_slots * 2 : 64;
	struct domain_entry *old = t->slots, *slots = calloc(n, sizeof(*slots));
	size_t old_n = t->n_slots;

	if (!slots)
		return -1;
	t->slots = slots;
	t->n_slots = n;
	for (size_t i = 0; i < old_n; i++)
		if (old[i].hash)
			*find(t, old[i].off + t->arena, old[i].len, old[i].exact, old[i].hash) =
			    old[i];
	free(old);
	return 0;
}

struct domain_table *domain_table_new(void)
{
	struct domain_table *t = calloc(1, sizeof(*t));

	if (t && grow_slots(t) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

void domain_table_free(struct domain_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->arena);
	free(t);
}

static int keep_name(struct domain_table *t, const char *name, size_t len, uint32_t *off)
{
	if (t->arena_len + len > t->arena_cap) {
		size_t cap = t->arena_cap ? t->arena_cap * 2 : 4096;
		char *arena;
		while (cap < t->arena_len + len)
			cap *= 2;
		if (cap > UINT32_MAX || !(arena = realloc(t->arena, cap)))
			return -1;
		t->arena = arena;
		t->arena_cap = cap;
	}
	memcpy(t->arena + t->arena_len, name, len);
	*off = (uint32_t)t->arena_len;
	t->arena_len += len;
	return 0;
}

int domain_table_add(struct domain_table *t, const char *name, int exact, const void *value)
{
	char norm[DOMAIN_NAME_MAX + 1];
	struct domain_entry *e;
	size_t len;
	uint32_t h;

	if (domain_normalize(name, norm) < 0)
		return -1;
	len = strlen(norm);
	exact = !!exact;
	h = hash_of(norm, len, exact);
	e = find(t, norm, len, exact, h);
	if (e->hash)
		return 1;
	if ((t->count + 1) * 2 > t->n_slots) {
		if (grow_slots(t) < 0)
			return -2;
		e = find(t, norm, len, exact, h);
	}
	if (keep_name(t, norm, len, &e->off) < 0)
		return -2;
	e->hash = h;
	e->len = (uint16_t)len;
	e->exact = (uint8_t)exact;
	e->value = value;
	t->count++;
	return 0;
}

const void *domain_table_match(const struct domain_table *t, const char *name)
{
	char norm[DOMAIN_NAME_MAX + 1];
	const char *p;
	size_t len;

	if (!t || !t->count || domain_normalize(name, norm) < 0)
		return NULL;
	len = strlen(norm);
	/* the whole name: an exact entry first, then a suffix one */
	for (int exact = 1; exact >= 0; exact--) {
		struct domain_entry *e = find(t, norm, len, exact, hash_of(norm, len, exact));
		if (e->hash)
			return e->value;
	}
	/* then each parent, most specific first */
	for (p = strchr(norm, '.'); p; p = strchr(p + 1, '.')) {
		size_t n = len - (size_t)(p + 1 - norm);
		struct domain_entry *e = find(t, p + 1, n, 0, hash_of(p + 1, n, 0));
		if (e->hash)
			return e->value;
	}
	return NULL;
}

size_t domain_table_count(const struct domain_table *t)
{
	return t ? t->count : 0;
}

void domain_table_each(const struct domain_table *t,
		       void (*fn)(const char *name, size_t len, int exact, const void *value,
				  void *arg),
		       void *arg)
{
	for (size_t i = 0; t && i < t->n_slots; i++) {
		const struct domain_entry *e = &t->slots[i];
		if (e->hash)
			fn(t->arena + e->off, e->len, e->exact, e->value, arg);
	}
}
