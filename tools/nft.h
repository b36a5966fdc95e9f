/* The kernel side of `sockgate rules`: table inet sockgate over netlink
 * (libnftnl + libmnl), every change one batch that applies whole or not at
 * all. Functions return 0 or -errno, with a message in err. */
#ifndef SOCKGATE_NFT_H
#define SOCKGATE_NFT_H

#include <stddef.h>
#include <stdio.h>

struct nftnl_rule;
struct ruleset;

/* Replaces table inet sockgate with rs (creating it if absent). Other
 * tables are never touched. */
int nft_apply(const struct ruleset *rs, char *err, size_t errlen);
/* Deletes table inet sockgate; no table is not an error. */
int nft_flush(char *err, size_t errlen);
/* Whether table inet sockgate exists: 1, 0, or -errno. */
int nft_table_exists(char *err, size_t errlen);

struct set_key;
struct interval_set;

/* The elements of set name in table inet sockgate: *keys (malloc'd, each
 * key zero-padded to 16 bytes), *n. -ENOENT when the set or table is
 * missing. */
int nft_read_set(const char *name, struct set_key **keys, size_t *n, char *err, size_t errlen);
/* Replaces the elements of interval set name: deletes the old ones (as
 * read) and adds those of now, in one batch. */
int nft_replace_interval_set(const char *name, const struct set_key *old, size_t n_old,
			     const struct interval_set *now, char *err, size_t errlen);
/* Adds (add = 1) or deletes one interface name in intercept_ifaces. */
int nft_change_iface(const char *ifname, int add, char *err, size_t errlen);
/* Writes each rule of table inet sockgate as "CHAIN: expressions" lines. */
int nft_print_rules(FILE *out, char *err, size_t errlen);

/* The rules of rs, in order: prerouting's three, then capture's (four with
 * redirect, five with tproxy); exposed for unit tests. NULL when out of
 * memory or past the last. */
struct nftnl_rule *nft_build_rule(const struct ruleset *rs, int index);
int nft_rule_count(const struct ruleset *rs);

#endif
