/* Fake-IP ([dns] mode = fakeip): the DNS service answers names that would
 * be proxied with addresses from reserved pools, and an intercepted flow
 * to such an address is relayed by the name. The table of name <->
 * address is shared by the workers (a DNS query is answered on one, the
 * flow may arrive on another), bounded, least recently used first out,
 * and outlives reloads. Lookups take a mutex: once per query or flow,
 * never per packet. */
#ifndef SOCKGATE_FAKEIP_H
#define SOCKGATE_FAKEIP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "sockgate/addr.h"

struct fakeip;

/* Pools v4 and v6 (family 0: none of that family); at most size names. */
struct fakeip *fakeip_new(const struct cidr *v4, const struct cidr *v6, size_t size);
void fakeip_free(struct fakeip *t);
/* The address name has in family (one is given it, the least recently
 * used name's taken when the table is full); 0, or -1 when that family
 * has no pool. name: a normalized host name. */
int fakeip_address_of(struct fakeip *t, const char *name, int family, struct sockaddr_storage *out);
/* The name addr stands for, in name (at least 254 bytes): 0; -1 when addr
 * is none of the pools' addresses; -2 when it is one but the table has no
 * name for it (any more). */
int fakeip_name_of(struct fakeip *t, const struct sockaddr_storage *addr, char *name);
/* Whether addr is one of the pools' addresses, as fakeip_name_of's -1
 * tells, without the lock: for the datagram path, which looks the name up
 * only when it makes an association. */
int fakeip_in_pool(const struct fakeip *t, const struct sockaddr_storage *addr);
size_t fakeip_count(struct fakeip *t);
/* [dns] fakeip_file: the table written to path (through path.tmp and a
 * rename), and read back at start (entries that do not fit the pools, as
 * when the ranges changed, are skipped). 0 or -errno; *loaded names. */
int fakeip_save(struct fakeip *t, const char *path);
int fakeip_load(struct fakeip *t, const char *path, size_t *loaded);
/* The same from a stream already open; the names the table then holds. */
size_t fakeip_load_stream(struct fakeip *t, FILE *in);

#endif
