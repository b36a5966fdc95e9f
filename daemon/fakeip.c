/* Fake-IP table (see fakeip.h). Entries are (name, family) with an offset
 * into that family's pool; two chained hash tables find them by name and
 * by offset, a list keeps them in the order they were last used. New
 * names take the pool's addresses in turn, so an address comes back into
 * use as late as the pool allows (a client may still hold it from a
 * cached answer); the table's bound evicts the least recently used. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>

#include "sockgate/domains.h"
#include "fakeip.h"
#include "fnv.h"

#define NONE UINT32_MAX

struct fake_entry {
	char *name; /* NULL: free */
	uint64_t off;
	uint8_t v6;
	uint32_t name_next, addr_next, lru_prev, lru_next;
};

struct pool {
	struct cidr net;
	uint64_t size; /* usable offsets are 1 .. size - 2 (v4) or size - 1 */
	uint64_t next;
};

struct fakeip {
	pthread_mutex_t lock;
	struct pool pool[2]; /* v4, v6; size 0: none */
	struct fake_entry *e;
	size_t cap, count;
	uint32_t *by_name, *by_addr, n_buckets; /* a power of two */
	uint32_t lru_head, lru_tail;		/* head: the least recently used */
	uint32_t free_head;			/* free entries, chained by name_next */
};

static uint32_t name_bucket(const struct fakeip *t, const char *name, int v6)
{
	return (fnv1a((const uint8_t *)name, strlen(name)) ^ (uint32_t)v6) & (t->n_buckets - 1);
}

static uint32_t addr_bucket(const struct fakeip *t, uint64_t off, int v6)
{
	uint64_t h = (off * 0x9e3779b97f4a7c15ull) ^ (uint64_t)v6;
	return (uint32_t)(h >> 32) & (t->n_buckets - 1);
}

static void lru_unlink(struct fakeip *t, uint32_t i)
{
	struct fake_entry *e = &t->e[i];

	if (e->lru_prev != NONE)
		t->e[e->lru_prev].lru_next = e->lru_next;
	else
		t->lru_head = e->lru_next;
	if (e->lru_next != NONE)
		t->e[e->lru_next].lru_prev = e->lru_prev;
	else
		t->lru_tail = e->lru_prev;
}

static void lru_push(struct fakeip *t, uint32_t i)
{
	struct fake_entry *e = &t->e[i];

	e->lru_next = NONE;
	e->lru_prev = t->lru_tail;
	if (t->lru_tail != NONE)
		t->e[t->lru_tail].lru_next = i;
	else
		t->lru_head = i;
	t->lru_tail = i;
}

/* Removes i from the chain starting at *head linked through field. */
static void chain_remove(struct fakeip *t, uint32_t *head, uint32_t i, int by_addr)
{
	for (uint32_t *p = head; *p != NONE;
	     p = by_addr ? &t->e[*p].addr_next : &t->e[*p].name_next) {
		if (*p == i) {
			*p = by_addr ? t->e[i].addr_next : t->e[i].name_next;
			return;
		}
	}
}

static void evict(struct fakeip *t, uint32_t i)
{
	struct fake_entry *e = &t->e[i];

	chain_remove(t, &t->by_name[name_bucket(t, e->name, e->v6)], i, 0);
	chain_remove(t, &t->by_addr[addr_bucket(t, e->off, e->v6)], i, 1);
	lru_unlink(t, i);
	free(e->name);
	e->name = NULL;
	e->name_next = t->free_head;
	t->free_head = i;
	t->count--;
}

static uint32_t find_name(const struct fakeip *t, const char *name, int v6)
{
	uint32_t i = t->by_name[name_bucket(t, name, v6)];

	while (i != NONE && (t->e[i].v6 != v6 || strcmp(t->e[i].name, name)))
		i = t->e[i].name_next;
	return i;
}

static uint32_t find_off(const struct fakeip *t, uint64_t off, int v6)
{
	uint32_t i = t->by_addr[addr_bucket(t, off, v6)];

	while (i != NONE && (t->e[i].v6 != v6 || t->e[i].off != off))
		i = t->e[i].addr_next;
	return i;
}

static int pool_init(struct pool *p, const struct cidr *c)
{
	unsigned host_bits;

	memset(p, 0, sizeof(*p));
	if (!c || !c->family)
		return 0;
	host_bits = (c->family == AF_INET ? 32u : 128u) - c->prefix_len;
	if (host_bits < 2)
		return -1;
	p->net = *c;
	p->size = host_bits >= 32 ? (1ull << 32) : (1ull << host_bits);
	p->next = 1;
	return 0;
}

struct fakeip *fakeip_new(const struct cidr *v4, const struct cidr *v6, size_t size)
{
	struct fakeip *t = calloc(1, sizeof(*t));
	uint32_t n = 16;

	if (!t || size == 0 || size >= NONE / 2)
		goto fail;
	if (pool_init(&t->pool[0], v4) < 0 || pool_init(&t->pool[1], v6) < 0)
		goto fail;
	while (n < size * 2)
		n *= 2;
	t->n_buckets = n;
	t->cap = size;
	t->e = calloc(size, sizeof(*t->e));
	t->by_name = malloc(n * sizeof(*t->by_name));
	t->by_addr = malloc(n * sizeof(*t->by_addr));
	if (!t->e || !t->by_name || !t->by_addr)
		goto fail;
	memset(t->by_name, 0xff, n * sizeof(*t->by_name));
	memset(t->by_addr, 0xff, n * sizeof(*t->by_addr));
	for (size_t i = 0; i < size; i++)
		t->e[i].name_next = i + 1 < size ? (uint32_t)(i + 1) : NONE;
	t->free_head = 0;
	t->lru_head = t->lru_tail = NONE;
	pthread_mutex_init(&t->lock, NULL);
	return t;
fail:
	if (t) {
		free(t->e);
		free(t->by_name);
		free(t->by_addr);
		free(t);
	}
	return NULL;
}

void fakeip_free(struct fakeip *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->e[i].name);
	free(t->e);
	free(t->by_name);
	free(t->by_addr);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* The address at off in pool p: the offset (at most 32 bits) added into
 * the low 32 bits, which are host bits or zero below the prefix. */
static void to_addr(const struct pool *p, uint64_t off, struct sockaddr_storage *out)
{
	uint32_t low;

	memset(out, 0, sizeof(*out));
	if (p->net.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		sin->sin_family = AF_INET;
		memcpy(&low, p->net.bytes, 4);
		sin->sin_addr.s_addr = htonl(ntohl(low) + (uint32_t)off);
		return;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, p->net.bytes, 16);
	memcpy(&low, sin6->sin6_addr.s6_addr + 12, 4);
	low = htonl(ntohl(low) + (uint32_t)off);
	memcpy(sin6->sin6_addr.s6_addr + 12, &low, 4);
}

/* The offset of addr inside pool p; -1 when outside, or an address of
 * the pool no offset gives (IPv6 bits above the low 32 set). */
static int64_t offset_in(const struct pool *p, const struct sockaddr_storage *addr)
{
	struct sockaddr_storage back;
	uint32_t a, base;
	int64_t off;

	if (!p->size || addr->ss_family != p->net.family || !cidr_contains(&p->net, addr))
		return -1;
	if (addr->ss_family == AF_INET)
		memcpy(&a, &((const struct sockaddr_in *)addr)->sin_addr, 4);
	else
		memcpy(&a, ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr + 12, 4);
	memcpy(&base, p->net.bytes + (addr->ss_family == AF_INET ? 0 : 12), 4);
	off = (int64_t)(uint32_t)(ntohl(a) - ntohl(base));
	if ((uint64_t)off >= p->size)
		return -1;
	to_addr(p, (uint64_t)off, &back);
	return addr_same_ip(&back, addr) ? off : -1;
}

/* The pool's next offset in turn: network and (v4) broadcast skipped. */
static uint64_t next_offset(struct pool *p)
{
	uint64_t last = p->net.family == AF_INET ? p->size - 2 : p->size - 1, off = p->next;

	p->next = off >= last ? 1 : off + 1;
	return off;
}

/* Takes copy (a name) into the table at offset off, evicting whatever
 * holds that offset and, when full, the least recently used. */
static void insert(struct fakeip *t, char *copy, uint64_t off, int v6)
{
	uint32_t taken = find_off(t, off, v6), i;

	if (taken != NONE) /* the pool came round: its old name goes */
		evict(t, taken);
	if (t->free_head == NONE)
		evict(t, t->lru_head);
	i = t->free_head;
	t->free_head = t->e[i].name_next;
	t->e[i] = (struct fake_entry){ .name = copy, .off = off, .v6 = (uint8_t)v6 };
	t->e[i].name_next = t->by_name[name_bucket(t, copy, v6)];
	t->by_name[name_bucket(t, copy, v6)] = i;
	t->e[i].addr_next = t->by_addr[addr_bucket(t, off, v6)];
	t->by_addr[addr_bucket(t, off, v6)] = i;
	lru_push(t, i);
	t->count++;
}

int fakeip_address_of(struct fakeip *t, const char *name, int family, struct sockaddr_storage *out)
{
	int v6 = family == AF_INET6;
	struct pool *p = &t->pool[v6];
	uint32_t i;
	int rc = 0;

	if (!p->size)
		return -1;
	pthread_mutex_lock(&t->lock);
	i = find_name(t, name, v6);
	if (i != NONE) {
		lru_unlink(t, i);
		lru_push(t, i);
		to_addr(p, t->e[i].off, out);
		goto out;
	}
	char *copy = strdup(name);
	uint64_t off = next_offset(p);
	if (!copy) {
		rc = -1;
		goto out;
	}
	insert(t, copy, off, v6);
	to_addr(p, off, out);
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int fakeip_name_of(struct fakeip *t, const struct sockaddr_storage *addr, char *name)
{
	int v6 = addr->ss_family == AF_INET6;
	int64_t off = offset_in(&t->pool[v6], addr);
	uint32_t i;
	int rc = -2;

	if (off < 0)
		return -1;
	pthread_mutex_lock(&t->lock);
	i = find_off(t, (uint64_t)off, v6);
	if (i != NONE) {
		strcpy(name, t->e[i].name);
		lru_unlink(t, i);
		lru_push(t, i);
		rc = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int fakeip_in_pool(const struct fakeip *t, const struct sockaddr_storage *addr)
{
	return offset_in(&t->pool[addr->ss_family == AF_INET6], addr) >= 0;
}

size_t fakeip_count(struct fakeip *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* ---- across restarts ---- */

int fakeip_save(struct fakeip *t, const char *path)
{
	char tmp[4096];
	FILE *f;
	int rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	pthread_mutex_lock(&t->lock);
	/* the pools, so a load under other ranges takes nothing wrong; then
	 * the names, least recently used first, as a load replays them */
	for (int v6 = 0; v6 < 2; v6++) {
		char net[INET6_ADDRSTRLEN];
		if (!t->pool[v6].size)
			continue;
		inet_ntop(v6 ? AF_INET6 : AF_INET, t->pool[v6].net.bytes, net, sizeof(net));
		fprintf(f, "pool %d %s/%u %llu\n", v6 ? 6 : 4, net, t->pool[v6].net.prefix_len,
			(unsigned long long)t->pool[v6].next);
	}
	for (uint32_t i = t->lru_head; i != NONE; i = t->e[i].lru_next)
		fprintf(f, "%d %llu %s\n", t->e[i].v6 ? 6 : 4, (unsigned long long)t->e[i].off,
			t->e[i].name);
	pthread_mutex_unlock(&t->lock);
	if (ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* One line of a saved table; what does not fit this table's pools (the
 * ranges changed) or is malformed is skipped. */
static void load_line(struct fakeip *t, char *line, int pool_ok[2])
{
	char name[DOMAIN_NAME_MAX + 2], net[64];
	unsigned long long off, next;
	int fam;

	if (sscanf(line, "pool %d %63s %llu", &fam, net, &next) == 3) {
		struct cidr c;
		int v6 = fam == 6;
		struct pool *p = &t->pool[v6];
		pool_ok[v6] = (fam == 4 || fam == 6) && !cidr_parse(net, &c) && p->size &&
			      c.family == p->net.family && c.prefix_len == p->net.prefix_len &&
			      !memcmp(c.bytes, p->net.bytes, 16) && next >= 1 && next < p->size;
		if (pool_ok[v6])
			p->next = next;
		return;
	}
	if (sscanf(line, "%d %llu %254s", &fam, &off, name) != 3 || (fam != 4 && fam != 6))
		return;
	int v6 = fam == 6;
	char *copy;
	if (!pool_ok[v6] || off < 1 || off >= t->pool[v6].size || strlen(name) > DOMAIN_NAME_MAX ||
	    domain_normalize(name, name) < 0 || find_name(t, name, v6) != NONE ||
	    !(copy = strdup(name)))
		return;
	insert(t, copy, off, v6);
}

size_t fakeip_load_stream(struct fakeip *t, FILE *in)
{
	char line[512];
	int pool_ok[2] = { 0, 0 };
	size_t n;

	pthread_mutex_lock(&t->lock);
	while (fgets(line, sizeof(line), in))
		load_line(t, line, pool_ok);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int fakeip_load(struct fakeip *t, const char *path, size_t *loaded)
{
	FILE *f = fopen(path, "re");

	*loaded = 0;
	if (!f)
		return -errno;
	*loaded = fakeip_load_stream(t, f);
	fclose(f);
	return 0;
}
