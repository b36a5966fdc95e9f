/* The kernel side of `sockgate rules`: table inet sockgate over netlink
 * (libnftnl + libmnl), every change one batch that applies whole or not at
 * all. Functions return 0 or -errno, with a message in err. */
#ifndef SOCKGATE_NFT_H
#define SOCKGATE_NFT_H

#include <stddef.h>

struct nftnl_rule;
struct ruleset;

/* Replaces table inet sockgate with rs (creating it if absent). Other
 * tables are never touched. */
int nft_apply(const struct ruleset *rs, char *err, size_t errlen);
/* Deletes table inet sockgate; no table is not an error. */
int nft_flush(char *err, size_t errlen);
/* Whether table inet sockgate exists: 1, 0, or -errno. */
int nft_table_exists(char *err, size_t errlen);

/* The rules of rs, in order: prerouting's three, then capture's four;
 * exposed for unit tests. NULL when out of memory. */
struct nftnl_rule *nft_build_rule(const struct ruleset *rs, int index);
#define NFT_RULE_COUNT 7

#endif
