/* Bind probe plus a direct-mapped verdict cache. An address that becomes
 * (or stops being) local is seen within LOCAL_ADDR_TTL_MS. */
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "fnv.h"
#include "local_addr.h"

#define LOCAL_ADDR_TTL_MS 1000

/* Only this host's addresses can be bound (no IP_FREEBIND here). */
static int bind_probe(const struct sockaddr_storage *addr)
{
	struct sockaddr_storage probe = *addr;
	int fd, rc;

	if (probe.ss_family == AF_INET)
		((struct sockaddr_in *)&probe)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&probe)->sin6_port = 0;
	fd = socket(probe.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	rc = bind(fd, (struct sockaddr *)&probe, addr_len(&probe));
	close(fd);
	return rc == 0;
}

int local_addr_check(struct local_addr_cache *c, const struct sockaddr_storage *addr,
		     uint64_t now_ms)
{
	uint8_t key[17] = { (uint8_t)addr->ss_family };
	struct local_addr_slot *slot;

	if (!c)
		return bind_probe(addr);
	if (addr->ss_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)addr)->sin_addr, 4);
	else
		memcpy(key + 1, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
	slot = &c->slots[fnv1a(key, sizeof(key)) % LOCAL_ADDR_SLOTS];
	if (slot->expires_ms > now_ms && !memcmp(slot->key, key, sizeof(key)))
		return slot->local;
	memcpy(slot->key, key, sizeof(key));
	slot->local = (uint8_t)bind_probe(addr);
	slot->expires_ms = now_ms + LOCAL_ADDR_TTL_MS;
	return slot->local;
}
