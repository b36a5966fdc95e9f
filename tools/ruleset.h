/* What `sockgate rules apply` installs, as data: the interception sets and
 * the port, built from the config. Rendered two ways from the same value:
 * as nft syntax (--dry-run) and as netlink messages (nft_apply), so the
 * dry run shows exactly what is installed. */
#ifndef SOCKGATE_RULESET_H
#define SOCKGATE_RULESET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"

#define RULESET_TABLE "sockgate"

/* An inclusive address range, network byte order, 4 or 16 bytes used. */
struct interval {
	uint8_t lo[16], hi[16];
};

/* Sorted, merged (no overlap, no adjacency) ranges of one family. */
struct interval_set {
	int family;
	struct interval *v;
	size_t n, cap;
};

struct ruleset {
	/* TCP to redirect_port (nat), or with tproxy to tproxy_port (mangle,
	 * marked tproxy_mark, delivered by policy routing via tproxy_table) */
	int tproxy;
	/* UDP to tproxy_port: whenever tproxy_port is set (with redirect too,
	 * in chains of its own, since UDP needs TPROXY and a filter chain) */
	int udp;
	/* the interfaces are intercepted by the tc program (tc_intake.h), not
	 * by the prerouting chain; source CIDRs and lo stay with nftables */
	int ebpf;
	/* the router's own processes in these cgroups by the eBPF cgroup
	 * hooks (cgroup_intake.h); borrowed from the config */
	int ebpf_cgroups;
	uint16_t redirect_port;
	uint16_t tproxy_port;
	uint32_t tproxy_mark;
	uint32_t tproxy_table;
	/* the router's own TCP (nat output), except sockgated's, which
	 * carries daemon_mark */
	int local;
	uint32_t daemon_mark;
	/* [intake] when_down = block: refuse (reset, ICMP) rather than drop
	 * what no sockgated socket takes */
	int block;
	char (*ifaces)[CONFIG_IFNAME_SIZE];
	size_t n_ifaces;
	struct interval_set intercept4, intercept6; /* source addresses */
	struct interval_set bypass4, bypass6;	    /* destinations never intercepted */
	/* [intake] exclude_src (addresses, MACs), ports, exclude_ports:
	 * borrowed from the config; a set and its rule exist only when the
	 * list is not empty */
	struct interval_set exclude4, exclude6;
	const uint8_t (*exclude_macs)[6];
	size_t n_exclude_macs;
	const struct port_range *ports, *exclude_ports;
	size_t n_ports, n_exclude_ports;
	/* [dns] hijack: intercepted clients' port 53, UDP and TCP, whatever
	 * server they asked, is sent here by NAT (family 0: that family's
	 * queries are left alone; a wildcard address: the port on the address
	 * they came in on); TPROXY and the tc program leave it alone */
	struct sockaddr_storage hijack4, hijack6;
};

void interval_set_init(struct interval_set *s, int family);
/* Adds c (of the set's family) and keeps the set merged; 0 or -1 (ENOMEM). */
int interval_set_add(struct interval_set *s, const struct cidr *c);
void interval_set_free(struct interval_set *s);
/* Adds every CIDR of list (sorted first, so that a list of any size goes
 * in without moving what is there) to s4 or s6 by family; 0 or -1. */
int interval_sets_add_all(struct interval_set *s4, struct interval_set *s6, const struct cidr *list,
			  size_t n);
/* Writes "10.0.0.0/8" or "10.0.0.1-10.0.0.5" for range i. */
void interval_format(const struct interval_set *s, size_t i, char *buf, size_t len);

/* out = a + 1, big-endian of len bytes; -1 when a is the last address. */
int interval_successor(const uint8_t *a, uint8_t *out, size_t len);
/* Whether every address of c is in one range of s. */
int interval_set_covers(const struct interval_set *s, const struct cidr *c);
/* Removes c's addresses from s (splitting ranges as needed); 0 or -1. */
int interval_set_remove(struct interval_set *s, const struct cidr *c);

/* An element of a kernel set as read back: its key, and whether it is the
 * "interval end" element that follows a range. */
struct set_key {
	uint8_t key[16];
	int end;
};
/* Rebuilds ranges from an interval set's elements (sorted here); 0 or -1. */
int interval_set_from_keys(struct interval_set *s, struct set_key *keys, size_t n);

/* The chains and rules of a ruleset, as data: nft_apply sends them,
 * ruleset_print_nft prints them, from the same plan. */
enum chain_type {
	CHAIN_REGULAR,
	CHAIN_NAT_PREROUTING,	  /* type nat hook prerouting priority dstnat */
	CHAIN_FILTER_PREROUTING,  /* type filter hook prerouting priority mangle */
	CHAIN_NAT_OUTPUT,	  /* type nat hook output priority -100 */
	CHAIN_ROUTE_OUTPUT,	  /* type route hook output priority mangle */
	CHAIN_NAT_PREROUTING_DNS, /* type nat hook prerouting priority dstnat - 10 */
};

struct chain_spec {
	const char *name;
	enum chain_type type;
};

enum rule_kind {
	RK_IIF_GOTO,	       /* iifname @intercept_ifaces goto T */
	RK_SADDR4_GOTO,	       /* ip saddr @intercept4 goto T */
	RK_SADDR6_GOTO,	       /* ip6 saddr @intercept6 goto T */
	RK_LO_MARKED_GOTO,     /* iifname "lo" meta mark TPROXY goto T */
	RK_FIB_LOCAL_RETURN,   /* fib daddr type local return */
	RK_BYPASS4_RETURN,     /* ip daddr @bypass4 return */
	RK_BYPASS6_RETURN,     /* ip6 daddr @bypass6 return */
	RK_REDIRECT,	       /* meta l4proto tcp redirect to :PORT */
	RK_TP_SOCKET,	       /* meta l4proto tcp socket transparent 1 meta mark set M accept */
	RK_TP_TPROXY,	       /* meta l4proto P tproxy to :PORT meta mark set M accept */
	RK_TP_DROP,	       /* meta l4proto P drop (or reject): what no sockgated socket took */
	RK_DAEMON_MARK_RETURN, /* meta mark DAEMON return */
	RK_GOTO,	       /* goto T */
	RK_SET_TPROXY_MARK,    /* meta l4proto P meta mark set M */
	RK_DNS_PASS,	       /* meta nfproto F meta l4proto P th dport 53 return */
	RK_DNS_HIJACK,	       /* ... th dport 53 dnat to the service (or redirect) */
	RK_EXCLUDE4_RETURN,    /* ip saddr @exclude4 return */
	RK_EXCLUDE6_RETURN,    /* ip6 saddr @exclude6 return */
	RK_EXCLUDE_MAC_RETURN, /* ether saddr @exclude_mac return */
	RK_PORTS_RETURN,       /* th dport != @ports return */
	RK_EXCLUDE_PORTS_RETURN, /* th dport @exclude_ports return */
};

struct rule_spec {
	const char *chain;
	enum rule_kind kind;
	const char *target; /* of a goto */
	uint8_t proto;	    /* IPPROTO_TCP or IPPROTO_UDP, where a rule names one */
	uint8_t nfproto;    /* NFPROTO_IPV4 or NFPROTO_IPV6, where a rule names one */
};

#define RULESET_CHAINS_MAX 10
#define RULESET_RULES_MAX  64

/* Fills chains (RULESET_CHAINS_MAX) and rules (RULESET_RULES_MAX) in the
 * order they are installed; returns the number of rules. */
int ruleset_plan(const struct ruleset *rs, struct chain_spec *chains, size_t *n_chains,
		 struct rule_spec *rules);
/* One rule in nft syntax. */
void ruleset_rule_text(const struct ruleset *rs, const struct rule_spec *r, char *buf, size_t len);

/* 0, or -1 with a message in err. */
int ruleset_build(const struct config *cfg, struct ruleset *rs, char *err, size_t errlen);
/* Adds the prefix of every address of this host's interfaces (loopback
 * aside) to the bypass sets: [intake] bypass_connected. 0 or -errno. */
int ruleset_add_connected(struct ruleset *rs, unsigned *added);
void ruleset_free(struct ruleset *rs);
/* The table in nft syntax, as `nft -f` would take it. */
void ruleset_print_nft(const struct ruleset *rs, FILE *out);

#endif
