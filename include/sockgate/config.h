/* sockgate.conf: the INI file shared by sockgated and the sockgate CLI. */
#ifndef SOCKGATE_CONFIG_H
#define SOCKGATE_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "addr.h"
#include "domains.h"
#include "log.h"
#include "url.h"

struct prefix_table;

#define CONFIG_DEFAULT_PATH  "/etc/sockgate/sockgate.conf"
#define CONTROL_DEFAULT_PATH "/run/sockgate/ctl.sock"
#define CONFIG_NAME_MAX	     63
#define CONFIG_IFNAME_SIZE   16 /* IFNAMSIZ */

struct upstream_group;

struct upstream {
	char name[CONFIG_NAME_MAX + 1];
	struct upstream_url url; /* kind UPSTREAM_GROUP for a [group] */
	/* The host's first address at load: unset (family 0) for direct, a
	 * group, or a name that did not resolve then; sockgated keeps the
	 * live addresses itself. */
	struct sockaddr_storage addr;
	/* SOCKS5: send greeting, credentials and request in one segment. */
	int pipeline;
	/* What intercepted UDP routed here becomes: SOCKS5 UDP ASSOCIATE (the
	 * default for socks5/socks5h), sent directly, or dropped (the default
	 * for upstreams that cannot carry UDP). */
	enum upstream_udp {
		UPSTREAM_UDP_ASSOCIATE,
		UPSTREAM_UDP_DIRECT,
		UPSTREAM_UDP_DROP,
	} udp;
	/* udp_address = HOST:PORT: where to send datagrams instead of the
	 * relay address the upstream names; unset (family 0) otherwise. */
	struct sockaddr_storage udp_addr;
	struct upstream_group *group; /* [group NAME]: owned; NULL for an upstream */
	/* warm = off | auto | N: connections opened ahead of need, the
	 * greeting and credentials done (UPSTREAM_WARM_AUTO, 0 off, or N) */
	int warm;
	unsigned warm_max_age_ms; /* renewed before the upstream's idle timeout */
	unsigned warm_idle_ms;	  /* a pool this long without a flow empties */
	int optimistic;		  /* the client's first bytes right behind the request */
	int fastopen;		  /* TCP Fast Open toward the upstream */
};
#define UPSTREAM_WARM_AUTO (-1)
#define UPSTREAM_WARM_MAX  64
/* below dante's default negotiation timeout (30 s), which a warm SOCKS5
 * session waiting for its request is subject to */
#define UPSTREAM_WARM_MAX_AGE_MS 20000
#define UPSTREAM_WARM_IDLE_MS	 60000

/* [group NAME]: upstreams a route can name as one. */
#define GROUP_MEMBERS_MAX 16
enum group_policy {
	GROUP_FAILOVER,	     /* the first member that is up */
	GROUP_ROUND_ROBIN,   /* each new flow the next member up */
	GROUP_LEAST_LATENCY, /* the member up with the fastest last check */
	GROUP_HASH,	     /* by client address: one device, one member */
};

struct upstream_group {
	enum group_policy policy;
	const struct upstream *members[GROUP_MEMBERS_MAX]; /* in the order given */
	size_t n_members;
	int all_down_direct; /* on_all_down = direct; else reset */
	unsigned check_interval_ms, check_timeout_ms;
	/* check_target = HOST:PORT: each check opens a real tunnel there;
	 * empty: the proxy's handshake alone (SOCKS5: greeting and
	 * credentials; the others: the TCP connect) */
	char check_host[URL_HOST_MAX + 1];
	uint16_t check_port;
	int check_udp;	     /* a UDP ASSOCIATE too, for members that carry UDP */
	unsigned up_after;   /* good checks in a row before a down member is up */
	unsigned down_after; /* failures in a row (checks or real flows) to be down */
};

/* [socks]: the SOCKS server; off when listen is empty. */
struct socks_config {
	struct sockaddr_storage *listen;
	size_t n_listen;
	int auth_password; /* 1: RFC 1929 required (default beyond loopback) */
	char *users_path;
	struct cidr *allow; /* clients; empty = any (only with auth_password or loopback) */
	size_t n_allow;
	struct cidr *deny_dst; /* added to the built-in deny (loopback, own addresses) */
	size_t n_deny_dst;
	struct cidr *allow_dst; /* exceptions to both */
	size_t n_allow_dst;
	unsigned max_conns_per_client; /* 0 = no limit */
	unsigned bind_timeout_ms;
	int http;     /* the listen ports take HTTP proxy requests too (default yes) */
	int http_via; /* add "Via: 1.1 sockgate" to forwarded HTTP messages */
	/* allow, deny_dst, allow_dst for lookups (longest prefix); NULL when
	 * the list is empty */
	struct prefix_table *allow_table, *deny_dst_table, *allow_dst_table;
};

/* [pac]: a proxy auto-config file for the LAN's browsers */
#define PAC_LISTEN_MAX 4
struct pac_config {
	struct sockaddr_storage listen[PAC_LISTEN_MAX]; /* none: not served */
	size_t n_listen;
	/* what the file names as the proxy; empty host: the address the file
	 * was asked on, with the first [socks] listen port */
	char proxy_host[256];
	uint16_t proxy_port;
	int fallback_direct; /* "; DIRECT" last: browsers go direct when the router is down */
};

/* [dns]: the DNS service for the LAN */
#define DNS_LISTEN_MAX	8
#define DNS_SERVERS_MAX 8
/* A resolver the service asks: "ADDRESS[:PORT] [via UPSTREAM] [tcp]". */
struct dns_server {
	struct sockaddr_storage addr;
	const struct upstream *via; /* forced; NULL: the [route] for addr */
	int tcp;		    /* always over TCP, never UDP */
};

struct dns_config {
	struct sockaddr_storage listen[DNS_LISTEN_MAX]; /* UDP and TCP; none: the service is off */
	size_t n_listen;
	struct dns_server server[DNS_SERVERS_MAX]; /* asked in order */
	size_t n_server;
	struct cidr *allow; /* clients; required beyond loopback (no open resolver) */
	size_t n_allow;
	struct prefix_table *allow_table; /* the same, for lookups; NULL when empty */
	unsigned timeout_ms;		  /* a client gets SERVFAIL after this */
	unsigned cache_entries;		  /* per worker; 0: no cache */
	unsigned cache_bytes;		  /* per worker */
	/* `sockgate rules apply` sends intercepted clients' port 53 here */
	int hijack;
	/* mode = fakeip: A and AAAA of names that would be proxied answered
	 * from these pools (family 0: none), at most fakeip_size names, with
	 * fakeip_ttl seconds; intercepted flows to them go by the name */
	int fakeip;
	struct cidr fakeip4, fakeip6;
	unsigned fakeip_size, fakeip_ttl;
	char *fakeip_file; /* the table kept there across restarts; NULL: not */
};

/* How long the DNS service waits for one server before it asks the next:
 * the timeout shared among the servers, at least 100 ms. */
static inline unsigned config_dns_attempt_ms(const struct dns_config *dc)
{
	unsigned ms = dc->timeout_ms / (unsigned)(dc->n_server ? dc->n_server : 1);
	return ms < 100 ? 100 : ms;
}

#define CONFIG_SNIFF_TLS  1u /* the server name of a TLS ClientHello */
#define CONFIG_SNIFF_HTTP 2u /* the Host of an HTTP/1.x request */

struct config {
	/* [daemon] */
	unsigned workers; /* 0 = auto */
	uint32_t mark;
	enum log_level log_level;
	unsigned connect_timeout_ms;
	unsigned handshake_timeout_ms;
	unsigned idle_timeout_ms;
	char *control_path; /* unix socket for the CLI; NULL = off */
	char user[33];	    /* who to become when started as root outside systemd */
	/* upstream host names are looked up again after their TTL, kept
	 * within these bounds */
	unsigned resolve_min_ms, resolve_max_ms;
	enum log_target { LOG_TARGET_AUTO, LOG_TARGET_STDERR, LOG_TARGET_SYSLOG } log_target;
	unsigned udp_idle_timeout_ms;	 /* transparent UDP associations */
	unsigned udp_associations;	 /* at most this many at once (all workers) */
	unsigned max_flows;		 /* live TCP flows, all workers; 0 = no cap */
	unsigned pipe_size;		 /* bytes a splice pipe asks for */
	struct sockaddr_storage metrics; /* Prometheus endpoint; ss_family 0 = off */
	/* [intake] */
	uint16_t redirect_port; /* 0: off (tproxy set and redirect not) */
	uint16_t tproxy_port;	/* 0: off */
	uint32_t tproxy_mark;	/* fwmark the TPROXY rule sets, routed to tproxy_table */
	uint32_t tproxy_table;
	/* what the rules intercept: interfaces (IFNAMSIZ names) and source CIDRs */
	char (*intercept_ifaces)[CONFIG_IFNAME_SIZE];
	size_t n_intercept_ifaces;
	struct cidr *intercept_src;
	size_t n_intercept_src;
	/* destinations never intercepted, beyond the built-in ones */
	struct cidr *bypass;
	size_t n_bypass;
	/* LAN clients never intercepted: by source CIDR and by MAC; and the
	 * destination ports intercepted at all (none: every port) and never */
	struct cidr *exclude_src;
	size_t n_exclude_src;
	uint8_t (*exclude_macs)[6];
	size_t n_exclude_macs;
	struct port_range {
		uint16_t lo, hi;
	} * ports, *exclude_ports;
	size_t n_ports, n_exclude_ports;
	int bypass_private; /* private and reserved ranges bypassed (default yes) */
	/* the router's attached networks bypassed, and intercepted flows to
	 * another interface's network refused (default yes) */
	int bypass_connected;
	/* intercepted flows and datagrams refused (reset, dropped) */
	struct cidr *intake_deny_dst;
	size_t n_intake_deny_dst;
	struct prefix_table *intake_deny_table; /* the same, for lookups; NULL when empty */
	/* live intercepted TCP flows, and UDP associations, per client
	 * address (IPv6: per address, four times as many per /64); 0 = none */
	unsigned max_flows_per_client, max_udp_per_client;
	int intercept_local; /* the router's own outgoing TCP too */
	/* when_down = block: what no sockgated socket takes is refused (TCP
	 * reset, ICMP unreachable) and the service's stop keeps the rules */
	int when_down_block;
	/* [intake] sniff: intercepted TCP's first bytes read for a name, up to
	 * sniff_timeout_ms; CONFIG_SNIFF_* bits, 0 = off */
	unsigned sniff;
	unsigned sniff_timeout_ms;
	/* cgroup v2 directories whose processes' TCP the eBPF cgroup intake
	 * sends to the redirect listener (absolute paths) */
	char **cgroups;
	size_t n_cgroups;
	/* eBPF intake for forwarded traffic (tc + bpf_sk_assign, needs tproxy) */
	enum intake_ebpf {
		INTAKE_EBPF_OFF,
		INTAKE_EBPF_AUTO,
		INTAKE_EBPF_ON,
	} ebpf;
	/* [upstream NAME]; index 0 is the built-in "direct". */
	struct upstream *upstreams;
	size_t n_upstreams;
	/* [route] by destination CIDR (longest prefix): values are const
	 * struct upstream *; NULL when there are none */
	struct prefix_table *dst_routes;
	size_t n_routes;
	/* by name: keys that are domains (and the names under them), "exact
	 * NAME", and @FILE lists of them; values are const struct upstream *;
	 * NULL when there are none */
	struct domain_table *domain_routes;
	/* "keyword WORD" keys: names containing WORD, when no domain entry
	 * covers them; the first in the file wins */
	struct name_keyword {
		char *word;
		const struct upstream *upstream;
	} * keywords;
	size_t n_keywords;
	/* [route] keys with "from" or "port" selectors: tried first, in the
	 * order of the file (route_rules.c) */
	struct route_rule *rules;
	size_t n_rules;
	int rules_need_mac; /* some rule names a MAC address */
	int rules_by_dst;   /* some rule has "to": a name must be resolved first */
	const struct upstream *default_upstream;
	/* [socks] */
	struct socks_config socks;
	struct dns_config dns;
	struct pac_config pac;
};

/* Destinations the interception rules never send to sockgated: always,
 * and (bypass_private) private and reserved ranges; CIDR text. */
extern const char *const config_always_bypass[];
extern const size_t config_n_always_bypass;
extern const char *const config_private_bypass[];
extern const size_t config_n_private_bypass;

/* Loads and validates path. Every problem is printed to errs as
 * "PATH:LINE: message"; returns the number of problems (0 = *out is valid).
 * resolve = 0 skips name resolution of upstream hosts (for unit tests); a
 * name that does not resolve is a warning ("PATH:LINE: warning: ..."),
 * not a problem: its upstream is down until it does. */
int config_load(const char *path, int resolve, struct config **out, FILE *errs);
/* Same, over an in-memory text; name is used in messages. */
int config_load_string(const char *name, const char *text, int resolve, struct config **out,
		       FILE *errs);
void config_free(struct config *cfg);

/* The upstream a flow to dst takes: longest matching route, else default. */
const struct upstream *config_route(const struct config *cfg, const struct sockaddr_storage *dst);
/* The upstream a name routes to ([route] domain keys), NULL when none
 * names it. */
const struct upstream *config_route_name(const struct config *cfg, const char *name);
/* The same, or the default upstream when no name route covers name: where
 * a flow known only by its name (fake-IP) goes. */
const struct upstream *config_route_by_name(const struct config *cfg, const char *name);
/* A [route] rule with selectors: "from SRC" (CIDRs and MAC addresses),
 * "port P[-Q]" (the destination's), "to DST" (CIDRs, and domains for a
 * flow with a name); any left out matches everything. */
struct route_rule {
	struct prefix_table *src; /* "from" addresses and CIDRs */
	uint8_t (*macs)[6];	  /* sorted; a source matches by address or MAC */
	size_t n_macs;
	uint16_t port_lo, port_hi;	/* 0: any port */
	struct prefix_table *dst;	/* "to" CIDRs */
	struct domain_table *dst_names; /* "to" names: a domain and what is under it */
	/* "from" or "to" was given (an empty @FILE then matches nothing) */
	uint8_t by_src, by_dst;
	const struct upstream *upstream;
	unsigned line;
	char *text; /* the key as written, for `sockgate route test` */
};

/* What a flow is routed by: the client (address, and MAC when known), the
 * destination (address and port) and the name, when there is one. */
struct route_query {
	const struct sockaddr_storage *src; /* NULL: unknown (no rule by source matches) */
	const uint8_t *mac;		    /* NULL: unknown */
	const struct sockaddr_storage *dst;
	const char *name; /* NULL: none */
};

/* Which part of [route] decided, for `sockgate route test`. */
struct route_why {
	enum route_by { ROUTE_BY_RULE, ROUTE_BY_NAME, ROUTE_BY_DST, ROUTE_BY_DEFAULT } by;
	const struct route_rule *rule; /* ROUTE_BY_RULE */
};

/* The upstream a flow takes: the first rule whose selectors all match;
 * else the name's route; else the destination's longest prefix; else the
 * default. why may be NULL. */
const struct upstream *config_route_flow(const struct config *cfg, const struct route_query *q,
					 struct route_why *why);
/* "aa:bb:cc:dd:ee:ff" (or with '-') into mac; 0 or -1. */
int config_parse_mac(const char *s, uint8_t mac[6]);

/* The upstream DNS server i is asked through: its via, else its route. */
const struct upstream *config_dns_upstream(const struct config *cfg, size_t i);
/* Where hijacked queries of family go: the first listen address of that
 * family beyond loopback (a wildcard one included); NULL when none. */
const struct sockaddr_storage *config_dns_hijack_target(const struct dns_config *dc, int family);

/* "failover", "round-robin", "least-latency", "hash". */
const char *config_group_policy_name(enum group_policy p);

/* Whether the list's table (a [socks], [dns] or [intake] CIDR list built
 * for lookups) holds a; false for an empty list (a NULL table). */
int config_cidrs_hold(const struct prefix_table *t, const struct sockaddr_storage *a);

/* An interface name as the kernel takes it: 1..15 bytes, no '/', ':',
 * whitespace or control characters, not "." or "..". */
int config_valid_ifname(const char *s);

/* Parses "10", "10s", "500ms", "5m", "1h" into milliseconds; 0 or -1. */
int config_parse_duration(const char *s, unsigned *ms);

#endif
