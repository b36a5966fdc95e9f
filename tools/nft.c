/* nftables over netlink. One batch: create the table (so deleting it
 * cannot fail), delete it, create it again with its sets, elements, chains
 * and rules. The kernel applies the batch atomically: a failing apply
 * leaves the previous table as it was. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include "nft.h"
#include "ruleset.h"

#define NFT_BATCH_SIZE (MNL_SOCKET_BUFFER_SIZE * 8)
/* nft's numbers for the set key types it prints (datatype.h) */
#define NFT_TYPE_IPADDR	   7
#define NFT_TYPE_IP6ADDR   8
#define NFT_TYPE_IFNAME	   41
#define NFT_TYPE_ETHERADDR 9
#define NFT_TYPE_INETSERV  13
#define NF_NAT_PRIO_DSTNAT (-100)
#define NF_IP_PRI_MANGLE   (-150)
/* nft's byte orders (expression.h), kept in a set's user data */
#define NFT_BYTEORDER_HOST_ENDIAN 1
#define NFT_BYTEORDER_BIG_ENDIAN  2

enum set_id {
	SET_IFACES = 1,
	SET_INTERCEPT4,
	SET_INTERCEPT6,
	SET_BYPASS4,
	SET_BYPASS6,
	/* [intake] exclude_src, ports, exclude_ports: only when given */
	SET_EXCLUDE4,
	SET_EXCLUDE6,
	SET_EXCLUDE_MAC,
	SET_PORTS,
	SET_EXCLUDE_PORTS,
	SET_LAST = SET_EXCLUDE_PORTS,
};

static const char *const set_names[] = {
	[SET_IFACES] = "intercept_ifaces",
	[SET_INTERCEPT4] = "intercept4",
	[SET_INTERCEPT6] = "intercept6",
	[SET_BYPASS4] = "bypass4",
	[SET_BYPASS6] = "bypass6",
	[SET_EXCLUDE4] = "exclude4",
	[SET_EXCLUDE6] = "exclude6",
	[SET_EXCLUDE_MAC] = "exclude_mac",
	[SET_PORTS] = "ports",
	[SET_EXCLUDE_PORTS] = "exclude_ports",
};

/* ---- expressions ---- */

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -1;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static struct nftnl_expr *meta_load(uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *cmp_eq(const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *payload(uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *network_payload(uint32_t offset, uint32_t len)
{
	return payload(NFT_PAYLOAD_NETWORK_HEADER, offset, len);
}

static struct nftnl_expr *lookup(enum set_id set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set_names[set]);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set);
	}
	return e;
}

/* The same lookup, matching what the set does not hold. */
static struct nftnl_expr *lookup_not(enum set_id set)
{
	struct nftnl_expr *e = lookup(set);
	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	return e;
}

static struct nftnl_expr *verdict(int code, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	}
	return e;
}

static struct nftnl_expr *meta_set_mark(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *immediate_to(uint32_t reg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *immediate(const void *data, uint32_t len)
{
	return immediate_to(NFT_REG_1, data, len);
}

/* meta mark set MARK */
static int set_mark(struct nftnl_rule *r, uint32_t mark)
{
	return add_expr(r, immediate(&mark, sizeof(mark))) || add_expr(r, meta_set_mark());
}

/* meta nfproto FAMILY: an ip or ip6 match in an inet chain needs it */
static int match_nfproto(struct nftnl_rule *r, uint8_t nfproto)
{
	return add_expr(r, meta_load(NFT_META_NFPROTO)) ||
	       add_expr(r, cmp_eq(&nfproto, sizeof(nfproto)));
}

/* The statements below allocate their expression only when reached, so a
 * failure part-way through a rule leaves nothing unowned. */

static struct nftnl_expr *fib_daddr_type(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	}
	return e;
}

/* redirect to the port in reg 1 */
static struct nftnl_expr *redir_to_reg(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("redir");
	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
	return e;
}

static struct nftnl_expr *socket_transparent(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("socket");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_TRANSPARENT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
	}
	return e;
}

/* tproxy to the port in reg 1, either family */
static struct nftnl_expr *tproxy_to_reg(void)
{
	struct nftnl_expr *e = nftnl_expr_alloc("tproxy");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_TPROXY_FAMILY, NFPROTO_UNSPEC);
		nftnl_expr_set_u32(e, NFTNL_EXPR_TPROXY_REG_PORT, NFT_REG_1);
	}
	return e;
}

/* meta l4proto PROTO */
static int match_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	return add_expr(r, meta_load(NFT_META_L4PROTO)) ||
	       add_expr(r, cmp_eq(&proto, sizeof(proto)));
}

/* A TCP reset, or for UDP ICMP(v6) port unreachable. */
static struct nftnl_expr *reject(uint8_t proto)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE,
				   proto == IPPROTO_TCP ? NFT_REJECT_TCP_RST
							: NFT_REJECT_ICMPX_UNREACH);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE,
				  proto == IPPROTO_TCP ? 0 : NFT_REJECT_ICMPX_PORT_UNREACH);
	}
	return e;
}

/* dnat to the address in reg 1 and the port in reg 2, of nfproto */
static struct nftnl_expr *dnat_to_regs(uint8_t nfproto)
{
	struct nftnl_expr *e = nftnl_expr_alloc("nat");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, nfproto);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	}
	return e;
}

/* meta nfproto F meta l4proto P th dport 53, then return or the NAT to
 * the DNS service */
static int build_dns_rule(struct nftnl_rule *r, const struct ruleset *rs,
			  const struct rule_spec *spec)
{
	const struct sockaddr_storage *t =
	    spec->nfproto == NFPROTO_IPV4 ? &rs->hijack4 : &rs->hijack6;
	uint16_t dns = htons(53), port = htons(addr_port(t));
	struct nftnl_expr *addr;

	if (match_nfproto(r, spec->nfproto) || match_l4proto(r, spec->proto) ||
	    add_expr(r, payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)) ||
	    add_expr(r, cmp_eq(&dns, sizeof(dns))))
		return -1;
	if (spec->kind == RK_DNS_PASS)
		return add_expr(r, verdict(NFT_RETURN, NULL));
	if (addr_is_unspecified(t)) /* the port on the address it came in on */
		return add_expr(r, immediate(&port, sizeof(port))) || add_expr(r, redir_to_reg());
	if (t->ss_family == AF_INET)
		addr = immediate(&((const struct sockaddr_in *)t)->sin_addr, 4);
	else
		addr = immediate(&((const struct sockaddr_in6 *)t)->sin6_addr, 16);
	return add_expr(r, addr) || add_expr(r, immediate_to(NFT_REG_2, &port, sizeof(port))) ||
	       add_expr(r, dnat_to_regs(spec->nfproto));
}

int nft_rule_count(const struct ruleset *rs)
{
	struct chain_spec chains[RULESET_CHAINS_MAX];
	struct rule_spec plan[RULESET_RULES_MAX];
	size_t n_chains;

	return ruleset_plan(rs, chains, &n_chains, plan);
}

static int build_rule(struct nftnl_rule *r, const struct ruleset *rs, const struct rule_spec *spec)
{
	uint16_t port = htons(rs->redirect_port);
	uint32_t local = RTN_LOCAL;

	switch (spec->kind) {
	case RK_IIF_GOTO:
		return add_expr(r, meta_load(NFT_META_IIFNAME)) ||
		       add_expr(r, lookup(SET_IFACES)) ||
		       add_expr(r, verdict(NFT_GOTO, spec->target));
	case RK_EXCLUDE4_RETURN:
	case RK_EXCLUDE6_RETURN: {
		int v4 = spec->kind == RK_EXCLUDE4_RETURN;
		return match_nfproto(r, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6) ||
		       add_expr(r, v4 ? network_payload(12, 4) : network_payload(8, 16)) ||
		       add_expr(r, lookup(v4 ? SET_EXCLUDE4 : SET_EXCLUDE6)) ||
		       add_expr(r, verdict(NFT_RETURN, NULL));
	}
	case RK_EXCLUDE_MAC_RETURN: {
		uint16_t ether = ARPHRD_ETHER; /* an Ethernet header to read */
		return add_expr(r, meta_load(NFT_META_IIFTYPE)) ||
		       add_expr(r, cmp_eq(&ether, sizeof(ether))) ||
		       add_expr(r, payload(NFT_PAYLOAD_LL_HEADER, 6, 6)) ||
		       add_expr(r, lookup(SET_EXCLUDE_MAC)) ||
		       add_expr(r, verdict(NFT_RETURN, NULL));
	}
	case RK_PORTS_RETURN:
	case RK_EXCLUDE_PORTS_RETURN:
		return add_expr(r, payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)) ||
		       add_expr(r, spec->kind == RK_PORTS_RETURN ? lookup_not(SET_PORTS)
								 : lookup(SET_EXCLUDE_PORTS)) ||
		       add_expr(r, verdict(NFT_RETURN, NULL));
	case RK_SADDR4_GOTO:
	case RK_SADDR6_GOTO: {
		int v4 = spec->kind == RK_SADDR4_GOTO;
		return match_nfproto(r, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6) ||
		       add_expr(r, v4 ? network_payload(12, 4) : network_payload(8, 16)) ||
		       add_expr(r, lookup(v4 ? SET_INTERCEPT4 : SET_INTERCEPT6)) ||
		       add_expr(r, verdict(NFT_GOTO, spec->target));
	}
	case RK_LO_MARKED_GOTO: {
		char lo[IFNAMSIZ] = "lo";
		return add_expr(r, meta_load(NFT_META_IIFNAME)) || add_expr(r, cmp_eq(lo, 3)) ||
		       add_expr(r, meta_load(NFT_META_MARK)) ||
		       add_expr(r, cmp_eq(&rs->tproxy_mark, sizeof(rs->tproxy_mark))) ||
		       add_expr(r, verdict(NFT_GOTO, spec->target));
	}
	case RK_FIB_LOCAL_RETURN:
		return add_expr(r, fib_daddr_type()) ||
		       add_expr(r, cmp_eq(&local, sizeof(local))) ||
		       add_expr(r, verdict(NFT_RETURN, NULL));
	case RK_BYPASS4_RETURN:
	case RK_BYPASS6_RETURN: {
		int v4 = spec->kind == RK_BYPASS4_RETURN;
		return match_nfproto(r, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6) ||
		       add_expr(r, v4 ? network_payload(16, 4) : network_payload(24, 16)) ||
		       add_expr(r, lookup(v4 ? SET_BYPASS4 : SET_BYPASS6)) ||
		       add_expr(r, verdict(NFT_RETURN, NULL));
	}
	case RK_REDIRECT:
		return match_l4proto(r, IPPROTO_TCP) ||
		       add_expr(r, immediate(&port, sizeof(port))) || add_expr(r, redir_to_reg());
	case RK_TP_SOCKET: {
		uint8_t one = 1;
		return match_l4proto(r, IPPROTO_TCP) || add_expr(r, socket_transparent()) ||
		       add_expr(r, cmp_eq(&one, sizeof(one))) || set_mark(r, rs->tproxy_mark) ||
		       add_expr(r, verdict(NF_ACCEPT, NULL));
	}
	case RK_TP_TPROXY: {
		uint16_t tport = htons(rs->tproxy_port);
		return match_l4proto(r, spec->proto) ||
		       add_expr(r, immediate(&tport, sizeof(tport))) ||
		       add_expr(r, tproxy_to_reg()) || set_mark(r, rs->tproxy_mark) ||
		       add_expr(r, verdict(NF_ACCEPT, NULL));
	}
	case RK_TP_DROP:
		return match_l4proto(r, spec->proto) ||
		       add_expr(r, rs->block ? reject(spec->proto) : verdict(NF_DROP, NULL));
	case RK_DAEMON_MARK_RETURN:
		return add_expr(r, meta_load(NFT_META_MARK)) ||
		       add_expr(r, cmp_eq(&rs->daemon_mark, sizeof(rs->daemon_mark))) ||
		       add_expr(r, verdict(NFT_RETURN, NULL));
	case RK_GOTO:
		return add_expr(r, verdict(NFT_GOTO, spec->target));
	case RK_SET_TPROXY_MARK:
		return match_l4proto(r, spec->proto) || set_mark(r, rs->tproxy_mark);
	case RK_DNS_PASS:
	case RK_DNS_HIJACK:
		return build_dns_rule(r, rs, spec);
	}
	return -1;
}

struct nftnl_rule *nft_build_rule(const struct ruleset *rs, int index)
{
	struct chain_spec chains[RULESET_CHAINS_MAX];
	struct rule_spec plan[RULESET_RULES_MAX];
	size_t n_chains;
	int n = ruleset_plan(rs, chains, &n_chains, plan);
	struct nftnl_rule *r;

	if (index < 0 || index >= n)
		return NULL;
	r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULESET_TABLE);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, plan[index].chain);
	if (build_rule(r, rs, &plan[index])) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* ---- objects ---- */

static struct nftnl_table *table_new(void)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (t) {
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, RULESET_TABLE);
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	}
	return t;
}

/* nft reads a set's key byte order from its user data: without it, a
 * string key (ifname) would be printed as "" and nobody could read the set
 * back with nft. */
static int set_key_byteorder(struct nftnl_set *s, uint32_t byteorder)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
	int rc = -1;

	if (!ud)
		return -1;
	if (nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, byteorder))
		rc = nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
					nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return rc;
}

static struct nftnl_set *set_new(enum set_id id, uint32_t type, uint32_t key_len, int interval)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (s && set_key_byteorder(s, type == NFT_TYPE_IFNAME ? NFT_BYTEORDER_HOST_ENDIAN
							      : NFT_BYTEORDER_BIG_ENDIAN) < 0) {
		nftnl_set_free(s);
		return NULL;
	}
	if (s) {
		nftnl_set_set_str(s, NFTNL_SET_TABLE, RULESET_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, set_names[id]);
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
		nftnl_set_set_u32(s, NFTNL_SET_ID, id);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, type);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
		if (interval)
			nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
	}
	return s;
}

static int elem_add(struct nftnl_set *s, const void *key, uint32_t len, uint32_t flags)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	if (!e)
		return -1;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	nftnl_set_elem_add(s, e);
	return 0;
}

/* An interval set holds each range as its first address and, flagged
 * "interval end", the address just past it (none after the last address). */
static int fill_interval_set(struct nftnl_set *s, const struct interval_set *is)
{
	uint32_t len = is->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < is->n; i++) {
		uint8_t end[16];
		int last = interval_successor(is->v[i].hi, end, len) < 0;
		if (elem_add(s, is->v[i].lo, len, 0) ||
		    (!last && elem_add(s, end, len, NFT_SET_ELEM_INTERVAL_END)))
			return -1;
	}
	return 0;
}

/* Port ranges as interval elements (big-endian): each from lo to hi. */
static int fill_port_set(struct nftnl_set *s, const struct port_range *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t lo = htons(p[i].lo), end = htons((uint16_t)(p[i].hi + 1));
		if (elem_add(s, &lo, 2, 0) ||
		    (p[i].hi != 65535 && elem_add(s, &end, 2, NFT_SET_ELEM_INTERVAL_END)))
			return -1;
	}
	return 0;
}

/* The sets of [intake] exclude_src, ports and exclude_ports that have
 * something in them; 0 or -1 (out of memory). */
static int selector_sets(const struct ruleset *rs, struct nftnl_set **sets, size_t *n_elems)
{
	if (rs->exclude4.n &&
	    (!(sets[SET_EXCLUDE4] = set_new(SET_EXCLUDE4, NFT_TYPE_IPADDR, 4, 1)) ||
	     fill_interval_set(sets[SET_EXCLUDE4], &rs->exclude4)))
		return -1;
	if (rs->exclude6.n &&
	    (!(sets[SET_EXCLUDE6] = set_new(SET_EXCLUDE6, NFT_TYPE_IP6ADDR, 16, 1)) ||
	     fill_interval_set(sets[SET_EXCLUDE6], &rs->exclude6)))
		return -1;
	if (rs->n_exclude_macs &&
	    !(sets[SET_EXCLUDE_MAC] = set_new(SET_EXCLUDE_MAC, NFT_TYPE_ETHERADDR, 6, 0)))
		return -1;
	for (size_t i = 0; i < rs->n_exclude_macs; i++)
		if (elem_add(sets[SET_EXCLUDE_MAC], rs->exclude_macs[i], 6, 0))
			return -1;
	if (rs->n_ports && (!(sets[SET_PORTS] = set_new(SET_PORTS, NFT_TYPE_INETSERV, 2, 1)) ||
			    fill_port_set(sets[SET_PORTS], rs->ports, rs->n_ports)))
		return -1;
	if (rs->n_exclude_ports &&
	    (!(sets[SET_EXCLUDE_PORTS] = set_new(SET_EXCLUDE_PORTS, NFT_TYPE_INETSERV, 2, 1)) ||
	     fill_port_set(sets[SET_EXCLUDE_PORTS], rs->exclude_ports, rs->n_exclude_ports)))
		return -1;
	n_elems[SET_EXCLUDE4] = 2 * rs->exclude4.n;
	n_elems[SET_EXCLUDE6] = 2 * rs->exclude6.n;
	n_elems[SET_EXCLUDE_MAC] = rs->n_exclude_macs;
	n_elems[SET_PORTS] = 2 * rs->n_ports;
	n_elems[SET_EXCLUDE_PORTS] = 2 * rs->n_exclude_ports;
	return 0;
}

static struct nftnl_chain *chain_new(const struct chain_spec *spec)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return NULL;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, RULESET_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, spec->name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	switch (spec->type) {
	case CHAIN_REGULAR:
		return c;
	case CHAIN_NAT_PREROUTING:
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NF_NAT_PRIO_DSTNAT);
		break;
	case CHAIN_FILTER_PREROUTING:
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NF_IP_PRI_MANGLE);
		break;
	case CHAIN_NAT_PREROUTING_DNS:
		/* ahead of the redirect chain: the first NAT of a connection wins */
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NF_NAT_PRIO_DSTNAT - 10);
		break;
	case CHAIN_NAT_OUTPUT:
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NF_NAT_PRIO_DSTNAT);
		break;
	case CHAIN_ROUTE_OUTPUT:
		/* a route chain: a new mark reroutes the packet */
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "route");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NF_IP_PRI_MANGLE);
		break;
	}
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return c;
}

/* ---- the batch ---- */

struct batch {
	char *buf;
	size_t size;
	struct mnl_nlmsg_batch *b;
	uint32_t seq, first_seq;
	unsigned n_msgs;
	/* what each message was, for the error message */
	char what[64][48];
};

static struct nlmsghdr *batch_msg(struct batch *bt, uint16_t type, uint16_t flags, const char *what)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type,
						     NFPROTO_INET, flags | NLM_F_ACK, bt->seq++);
	if (bt->n_msgs < 64)
		snprintf(bt->what[bt->n_msgs], sizeof(bt->what[0]), "%s", what);
	bt->n_msgs++;
	return nlh;
}

/* Bytes left in the batch's buffer. */
static size_t batch_room(const struct batch *bt)
{
	return bt->size - mnl_nlmsg_batch_size(bt->b);
}

static int batch_next(struct batch *bt)
{
	/* mnl_nlmsg_batch_next is false when the message did not fit */
	return mnl_nlmsg_batch_next(bt->b) ? 0 : -1;
}

/* Room for the table, chains, rules and n_elems set elements: each
 * element's attributes take under 64 bytes, and an element message is
 * filled up to 64 KiB before its size is checked, so one more message's
 * worth is kept spare. */
static size_t batch_size_for(size_t n_elems)
{
	return NFT_BATCH_SIZE + n_elems * 64 + 2 * 65536;
}

static int batch_init(struct batch *bt, size_t n_elems)
{
	memset(bt, 0, sizeof(*bt));
	bt->size = batch_size_for(n_elems);
	bt->buf = malloc(bt->size);
	if (!bt->buf)
		return -ENOMEM;
	bt->b = mnl_nlmsg_batch_start(bt->buf, bt->size);
	bt->seq = (uint32_t)time(NULL);
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), bt->seq++);
	mnl_nlmsg_batch_next(bt->b);
	bt->first_seq = bt->seq;
	return 0;
}

static void batch_free(struct batch *bt)
{
	if (bt->b)
		mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
}

/* Sends the batch and reads one acknowledgement per message; the first
 * error names the message that failed. */
static int batch_send(struct batch *bt, char *err, size_t errlen)
{
	struct mnl_socket *nl;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned acked = 0;
	int ret = 0;

	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), bt->seq++);
	mnl_nlmsg_batch_next(bt->b);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		goto out;
	}
	/* a batch of large sets is one message bigger than the default
	 * socket send buffer: make room for it (FORCE: beyond wmem_max) */
	{
		int size = (int)mnl_nlmsg_batch_size(bt->b);
		if (size > 200000 && setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE,
						&size, sizeof(size)) < 0)
			setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &size,
				   sizeof(size));
	}
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b), mnl_nlmsg_batch_size(bt->b)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "netlink send: %s", strerror(errno));
		goto out;
	}
	while (acked < bt->n_msgs) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		int len = (int)n;

		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "netlink receive: %s", strerror(errno));
			goto out;
		}
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;
			unsigned idx;
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (!e->error) {
				acked++;
				continue;
			}
			idx = nlh->nlmsg_seq - bt->first_seq;
			ret = e->error;
			snprintf(err, errlen, "the kernel refused %s: %s",
				 idx < 64 && idx < bt->n_msgs ? bt->what[idx] : "a message",
				 strerror(-e->error));
			goto out;
		}
	}
out:
	if (nl)
		mnl_socket_close(nl);
	return ret;
}

/* NEWTABLE + DELTABLE: afterwards the table is gone whether it was there
 * or not. */
static int batch_drop_table(struct batch *bt)
{
	struct nftnl_table *t = table_new();
	int rc = -1;

	if (!t)
		return -1;
	nftnl_table_nlmsg_build_payload(
	    batch_msg(bt, NFT_MSG_NEWTABLE, NLM_F_CREATE, "creating table inet " RULESET_TABLE), t);
	if (batch_next(bt))
		goto out;
	nftnl_table_nlmsg_build_payload(
	    batch_msg(bt, NFT_MSG_DELTABLE, 0, "deleting table inet " RULESET_TABLE), t);
	rc = batch_next(bt);
out:
	nftnl_table_free(t);
	return rc;
}

/* The elements of s added (NEWSETELEM) or removed (DELSETELEM): as many
 * messages as they need (an attribute nest holds at most 64 KiB), all in
 * this one batch. 0 or -1 (the batch is full). */
static int batch_elems(struct batch *bt, uint16_t type, uint16_t flags, const char *what,
		       const struct nftnl_set *s)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	int more = 1;

	if (!it)
		return -1;
	while (more > 0) {
		more =
		    nftnl_set_elems_nlmsg_build_payload_iter(batch_msg(bt, type, flags, what), it);
		/* the next message may fill 64 KiB before it is checked */
		if (batch_next(bt) || batch_room(bt) < 2 * 65536)
			more = -1;
	}
	nftnl_set_elems_iter_destroy(it);
	return more < 0 ? -1 : 0;
}

/* The set, then its elements if it has any (an empty element list is not
 * a message the kernel takes). */
static int batch_set(struct batch *bt, struct nftnl_set *s, const char *name, size_t n_elems)
{
	char what[48];

	snprintf(what, sizeof(what), "set %s", name);
	nftnl_set_nlmsg_build_payload(batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE, what), s);
	if (batch_next(bt))
		return -1;
	if (n_elems) {
		snprintf(what, sizeof(what), "the elements of set %s", name);
		return batch_elems(bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE, what, s);
	}
	return 0;
}

int nft_apply(const struct ruleset *rs, char *err, size_t errlen)
{
	struct batch bt;
	struct nftnl_table *t = NULL;
	struct nftnl_set *sets[SET_LAST + 1] = { NULL };
	size_t n_elems[SET_LAST + 1] = { 0 };
	struct chain_spec specs[RULESET_CHAINS_MAX];
	struct rule_spec plan[RULESET_RULES_MAX];
	struct nftnl_chain *chains[RULESET_CHAINS_MAX] = { NULL };
	size_t n_chains;
	int n_rules;
	int ret;

	ret = batch_init(&bt,
			 2 * (rs->intercept4.n + rs->intercept6.n + rs->bypass4.n + rs->bypass6.n) +
			     rs->n_ifaces);
	if (ret < 0) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	ret = -ENOMEM;
	t = table_new();
	sets[SET_IFACES] = set_new(SET_IFACES, NFT_TYPE_IFNAME, IFNAMSIZ, 0);
	sets[SET_INTERCEPT4] = set_new(SET_INTERCEPT4, NFT_TYPE_IPADDR, 4, 1);
	sets[SET_INTERCEPT6] = set_new(SET_INTERCEPT6, NFT_TYPE_IP6ADDR, 16, 1);
	sets[SET_BYPASS4] = set_new(SET_BYPASS4, NFT_TYPE_IPADDR, 4, 1);
	sets[SET_BYPASS6] = set_new(SET_BYPASS6, NFT_TYPE_IP6ADDR, 16, 1);
	n_rules = ruleset_plan(rs, specs, &n_chains, plan);
	for (size_t i = 0; i < n_chains; i++)
		if (!(chains[i] = chain_new(&specs[i])))
			goto nomem;
	if (!t)
		goto nomem;
	for (int i = SET_IFACES; i <= SET_BYPASS6; i++)
		if (!sets[i])
			goto nomem;
	for (size_t i = 0; i < rs->n_ifaces; i++)
		if (elem_add(sets[SET_IFACES], rs->ifaces[i], IFNAMSIZ, 0))
			goto nomem;
	if (fill_interval_set(sets[SET_INTERCEPT4], &rs->intercept4) ||
	    fill_interval_set(sets[SET_INTERCEPT6], &rs->intercept6) ||
	    fill_interval_set(sets[SET_BYPASS4], &rs->bypass4) ||
	    fill_interval_set(sets[SET_BYPASS6], &rs->bypass6) || selector_sets(rs, sets, n_elems))
		goto nomem;
	n_elems[SET_IFACES] = rs->n_ifaces;
	n_elems[SET_INTERCEPT4] = rs->intercept4.n;
	n_elems[SET_INTERCEPT6] = rs->intercept6.n;
	n_elems[SET_BYPASS4] = rs->bypass4.n;
	n_elems[SET_BYPASS6] = rs->bypass6.n;

	/* the old table goes and the new one comes in the same batch */
	if (batch_drop_table(&bt))
		goto full;
	nftnl_table_nlmsg_build_payload(
	    batch_msg(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE, "creating table inet " RULESET_TABLE),
	    t);
	if (batch_next(&bt))
		goto full;
	for (int i = SET_IFACES; i <= SET_LAST; i++)
		if (sets[i] && batch_set(&bt, sets[i], set_names[i], n_elems[i]))
			goto full;
	for (size_t i = 0; i < n_chains; i++) {
		char what[48];
		snprintf(what, sizeof(what), "chain %s", specs[i].name);
		nftnl_chain_nlmsg_build_payload(
		    batch_msg(&bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, what), chains[i]);
		if (batch_next(&bt))
			goto full;
	}
	for (int i = 0; i < n_rules; i++) {
		struct nftnl_rule *r = nft_build_rule(rs, i);
		char what[48];
		if (!r)
			goto nomem;
		snprintf(what, sizeof(what), "rule %d (chain %s)", i + 1, plan[i].chain);
		nftnl_rule_nlmsg_build_payload(
		    batch_msg(&bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, what), r);
		nftnl_rule_free(r);
		if (batch_next(&bt))
			goto full;
	}
	ret = batch_send(&bt, err, errlen);
	goto out;
full:
	ret = -E2BIG;
	snprintf(err, errlen, "the ruleset does not fit in one netlink batch");
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	for (int i = SET_IFACES; i <= SET_LAST; i++)
		if (sets[i])
			nftnl_set_free(sets[i]);
	for (size_t i = 0; i < RULESET_CHAINS_MAX; i++)
		if (chains[i])
			nftnl_chain_free(chains[i]);
	if (t)
		nftnl_table_free(t);
	batch_free(&bt);
	return ret;
}

int nft_flush(char *err, size_t errlen)
{
	struct batch bt;
	int ret = batch_init(&bt, 0);

	if (ret < 0) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	if (batch_drop_table(&bt)) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
	} else {
		ret = batch_send(&bt, err, errlen);
	}
	batch_free(&bt);
	return ret;
}

/* ---- changing and reading back ---- */

/* A set named for element messages: table and name only. */
static struct nftnl_set *set_ref(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (s) {
		nftnl_set_set_str(s, NFTNL_SET_TABLE, RULESET_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	}
	return s;
}

/* Sends one request and feeds every reply message to cb. */
static int nl_query(struct nlmsghdr *req, mnl_cb_t cb, void *data, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	uint32_t portid;
	int ret;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
		ret = -errno;
		snprintf(err, errlen, "netlink send: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "netlink receive: %s", strerror(errno));
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, req->nlmsg_seq, portid, cb, data);
		if (ret <= 0)
			break;
	}
	if (ret < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
	}
out:
	if (nl)
		mnl_socket_close(nl);
	return ret < 0 ? ret : 0;
}

struct keys_acc {
	struct set_key *keys;
	size_t n, cap;
	int failed;
};

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct keys_acc *acc = data;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;

	if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
		acc->failed = 1;
		goto out;
	}
	it = nftnl_set_elems_iter_create(s);
	if (!it) {
		acc->failed = 1;
		goto out;
	}
	while ((e = nftnl_set_elems_iter_next(it))) {
		uint32_t len = 0;
		const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
		if (!key || len > sizeof(acc->keys[0].key))
			continue;
		if (acc->n == acc->cap) {
			size_t cap = acc->cap ? acc->cap * 2 : 32;
			void *v = realloc(acc->keys, cap * sizeof(*acc->keys));
			if (!v) {
				acc->failed = 1;
				break;
			}
			acc->keys = v;
			acc->cap = cap;
		}
		memset(&acc->keys[acc->n], 0, sizeof(acc->keys[0]));
		memcpy(acc->keys[acc->n].key, key, len);
		acc->keys[acc->n].end =
		    nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
		    (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
		acc->n++;
	}
	nftnl_set_elems_iter_destroy(it);
out:
	if (s)
		nftnl_set_free(s);
	return MNL_CB_OK;
}

int nft_read_set(const char *name, struct set_key **keys, size_t *n, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct keys_acc acc = { 0 };
	struct nftnl_set *s = set_ref(name);
	struct nlmsghdr *nlh;
	int ret;

	*keys = NULL;
	*n = 0;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
				    (uint32_t)time(NULL));
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	ret = nl_query(nlh, elems_cb, &acc, err, errlen);
	if (ret == -ENOENT)
		snprintf(err, errlen,
			 "table inet %s (set %s) is not installed; run sockgate rules apply",
			 RULESET_TABLE, name);
	else if (!ret && acc.failed)
		ret = -ENOMEM, snprintf(err, errlen, "out of memory reading set %s", name);
	if (ret < 0) {
		free(acc.keys);
		return ret;
	}
	*keys = acc.keys;
	*n = acc.n;
	return 0;
}

int nft_replace_interval_set(const char *name, const struct set_key *old, size_t n_old,
			     const struct interval_set *now, char *err, size_t errlen)
{
	uint32_t len = now->family == AF_INET ? 4 : 16;
	struct nftnl_set *del = set_ref(name), *add = set_ref(name);
	struct batch bt;
	char what[64];
	int ret = -ENOMEM;

	memset(&bt, 0, sizeof(bt));
	if (batch_init(&bt, n_old + 2 * now->n) < 0 || !del || !add)
		goto nomem;
	for (size_t i = 0; i < n_old; i++)
		if (elem_add(del, old[i].key, len, old[i].end ? NFT_SET_ELEM_INTERVAL_END : 0))
			goto nomem;
	if (fill_interval_set(add, now))
		goto nomem;
	if (n_old) {
		snprintf(what, sizeof(what), "removing the elements of set %s", name);
		if (batch_elems(&bt, NFT_MSG_DELSETELEM, 0, what, del))
			goto full;
	}
	if (now->n) {
		snprintf(what, sizeof(what), "adding the elements of set %s", name);
		if (batch_elems(&bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE, what, add))
			goto full;
	}
	ret = bt.n_msgs ? batch_send(&bt, err, errlen) : 0;
	goto out;
full:
	ret = -E2BIG;
	snprintf(err, errlen, "set %s does not fit in one netlink batch", name);
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	if (del)
		nftnl_set_free(del);
	if (add)
		nftnl_set_free(add);
	batch_free(&bt);
	return ret;
}

int nft_change_iface(const char *ifname, int add, char *err, size_t errlen)
{
	struct nftnl_set *s = set_ref(set_names[SET_IFACES]);
	char key[IFNAMSIZ] = { 0 }, what[64];
	struct batch bt;
	int ret = -ENOMEM;

	memset(&bt, 0, sizeof(bt));
	if (!s || batch_init(&bt, 1) < 0)
		goto nomem;
	memcpy(key, ifname, strnlen(ifname, IFNAMSIZ - 1));
	if (elem_add(s, key, IFNAMSIZ, 0))
		goto nomem;
	snprintf(what, sizeof(what), "%s interface %s", add ? "adding" : "removing", key);
	nftnl_set_elems_nlmsg_build_payload(batch_msg(&bt,
						      add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
						      add ? NLM_F_CREATE : 0, what),
					    s);
	if (batch_next(&bt))
		goto nomem;
	ret = batch_send(&bt, err, errlen);
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	if (s)
		nftnl_set_free(s);
	batch_free(&bt);
	return ret;
}

struct rules_out {
	FILE *out;
};

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rules_out *ro = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	char buf[4096];

	if (r && nftnl_rule_nlmsg_parse(nlh, r) == 0) {
		nftnl_rule_snprintf(buf, sizeof(buf), r, NFTNL_OUTPUT_DEFAULT, 0);
		fprintf(ro->out, "%s\n", buf);
	}
	if (r)
		nftnl_rule_free(r);
	return MNL_CB_OK;
}

int nft_print_rules(FILE *out, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct rules_out ro = { out };
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULESET_TABLE);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
				    (uint32_t)time(NULL));
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nl_query(nlh, rule_cb, &ro, err, errlen);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	*(int *)data = 1;
	return MNL_CB_OK;
}

int nft_table_exists(char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_table *t = table_new();
	struct nlmsghdr *nlh;
	int found = 0, ret;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK,
				    (uint32_t)time(NULL));
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	ret = nl_query(nlh, table_cb, &found, err, errlen);
	if (ret == -ENOENT)
		return 0;
	return ret < 0 ? ret : found;
}
