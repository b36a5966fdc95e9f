/* The interception ruleset as data, and its nft-syntax rendering. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <string.h>

#include "ruleset.h"

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

void interval_set_init(struct interval_set *s, int family)
{
	memset(s, 0, sizeof(*s));
	s->family = family;
}

void interval_set_free(struct interval_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

int interval_successor(const uint8_t *a, uint8_t *out, size_t len)
{
	int carry = 1;

	memcpy(out, a, len);
	for (size_t i = len; i-- > 0 && carry;) {
		out[i]++;
		carry = out[i] == 0;
	}
	return carry ? -1 : 0;
}

/* a + 1 == b, both big-endian of len bytes (false if a is all ones) */
static int is_successor(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t next[16];

	return !interval_successor(a, next, len) && !memcmp(next, b, len);
}

/* The first and last address of c. */
static struct interval cidr_range(const struct cidr *c, size_t len)
{
	struct interval in;

	memset(&in, 0, sizeof(in));
	memcpy(in.lo, c->bytes, len);
	memcpy(in.hi, c->bytes, len);
	for (size_t bit = c->prefix_len; bit < len * 8; bit++)
		in.hi[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
	return in;
}

/* Room for one more range; 0 or -1. */
static int reserve(struct interval_set *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *v = realloc(s->v, cap * sizeof(*s->v));
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	return 0;
}

int interval_set_add(struct interval_set *s, const struct cidr *c)
{
	size_t len = family_len(s->family), i, j;
	struct interval in = cidr_range(c, len);

	size_t lo = 0, hi;

	if (reserve(s))
		return -1;
	/* insert in order of lo (found by halving: a list added in order
	 * goes on at the end), then fold neighbours that touch or overlap */
	for (hi = s->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(s->v[mid].lo, in.lo, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo;
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = in;
	s->n++;
	if (i > 0)
		i--;
	for (j = i; j + 1 < s->n;) {
		struct interval *a = &s->v[j], *b = &s->v[j + 1];
		if (memcmp(b->lo, a->hi, len) <= 0 || is_successor(a->hi, b->lo, len)) {
			if (memcmp(b->hi, a->hi, len) > 0)
				memcpy(a->hi, b->hi, len);
			memmove(b, b + 1, (s->n - j - 2) * sizeof(*s->v));
			s->n--;
		} else if (j > i) {
			break;
		} else {
			j++;
		}
	}
	return 0;
}

static int cidr_order(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->bytes, y->bytes, sizeof(x->bytes));
}

int interval_sets_add_all(struct interval_set *s4, struct interval_set *s6, const struct cidr *list,
			  size_t n)
{
	struct cidr *sorted = n ? malloc(n * sizeof(*sorted)) : NULL;
	int rc = 0;

	if (!n)
		return 0;
	if (!sorted)
		return -1;
	memcpy(sorted, list, n * sizeof(*sorted));
	/* in order, each one goes on at the end: no moving of the rest */
	qsort(sorted, n, sizeof(*sorted), cidr_order);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = interval_set_add(sorted[i].family == AF_INET ? s4 : s6, &sorted[i]);
	free(sorted);
	return rc;
}

/* a - 1 (a is not all zeros) */
static void predecessor(const uint8_t *a, uint8_t *out, size_t len)
{
	int borrow = 1;
	memcpy(out, a, len);
	for (size_t i = len; i-- > 0 && borrow;) {
		borrow = out[i] == 0;
		out[i]--;
	}
}

int interval_set_covers(const struct interval_set *s, const struct cidr *c)
{
	size_t len = family_len(s->family);
	struct interval in = cidr_range(c, len);

	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->v[i].lo, in.lo, len) <= 0 && memcmp(s->v[i].hi, in.hi, len) >= 0)
			return 1;
	return 0;
}

int interval_set_remove(struct interval_set *s, const struct cidr *c)
{
	size_t len = family_len(s->family);
	struct interval cut = cidr_range(c, len);

	for (size_t i = 0; i < s->n;) {
		struct interval *in = &s->v[i];
		int keep_left = memcmp(in->lo, cut.lo, len) < 0;
		int keep_right = memcmp(in->hi, cut.hi, len) > 0;

		if (memcmp(in->hi, cut.lo, len) < 0 || memcmp(in->lo, cut.hi, len) > 0) {
			i++; /* no overlap */
			continue;
		}
		if (keep_left && keep_right) {
			/* split in two: [lo, cut.lo - 1] and [cut.hi + 1, hi] */
			if (reserve(s))
				return -1;
			memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
			s->n++;
			predecessor(cut.lo, s->v[i].hi, len);
			interval_successor(cut.hi, s->v[i + 1].lo, len);
			i += 2;
		} else if (keep_left) {
			predecessor(cut.lo, in->hi, len);
			i++;
		} else if (keep_right) {
			interval_successor(cut.hi, in->lo, len);
			i++;
		} else {
			memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
			s->n--;
		}
	}
	return 0;
}

/* Keys are zero beyond the family's length, so all 16 bytes compare. */
static int compare_keys(const void *a, const void *b)
{
	const struct set_key *x = a, *y = b;
	int c = memcmp(x->key, y->key, sizeof(x->key));
	/* at one key, an end element closes the range before it */
	return c ? c : y->end - x->end;
}

int interval_set_from_keys(struct interval_set *s, struct set_key *keys, size_t n)
{
	size_t len = family_len(s->family);

	qsort(keys, n, sizeof(*keys), compare_keys);
	for (size_t i = 0; i < n; i++) {
		struct interval in;
		if (keys[i].end)
			continue; /* an end without a start: nothing to add */
		memset(&in, 0, sizeof(in));
		memcpy(in.lo, keys[i].key, len);
		/* a start runs to just before the next end element, or to the
		 * last address */
		if (i + 1 < n && keys[i + 1].end) {
			predecessor(keys[i + 1].key, in.hi, len);
			i++;
		} else {
			memset(in.hi, 0xff, len);
		}
		/* sorted input: merge with the last range or append */
		if (s->n && (memcmp(in.lo, s->v[s->n - 1].hi, len) <= 0 ||
			     is_successor(s->v[s->n - 1].hi, in.lo, len))) {
			if (memcmp(in.hi, s->v[s->n - 1].hi, len) > 0)
				memcpy(s->v[s->n - 1].hi, in.hi, len);
			continue;
		}
		if (reserve(s))
			return -1;
		s->v[s->n++] = in;
	}
	return 0;
}

void interval_format(const struct interval_set *s, size_t i, char *buf, size_t len)
{
	size_t n = family_len(s->family), bits = n * 8, prefix;
	const struct interval *in = &s->v[i];
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];

	inet_ntop(s->family, in->lo, lo, sizeof(lo));
	inet_ntop(s->family, in->hi, hi, sizeof(hi));
	/* a prefix when lo has zeros and hi ones from the same bit on */
	for (prefix = bits; prefix > 0; prefix--) {
		size_t b = prefix - 1;
		uint8_t m = (uint8_t)(0x80 >> (b % 8));
		if ((in->lo[b / 8] & m) || !(in->hi[b / 8] & m))
			break;
	}
	if (!memcmp(in->lo, in->hi, n)) {
		snprintf(buf, len, "%s", lo);
		return;
	}
	for (size_t b = 0; b < prefix; b++) {
		uint8_t m = (uint8_t)(0x80 >> (b % 8));
		if ((in->lo[b / 8] & m) != (in->hi[b / 8] & m)) {
			snprintf(buf, len, "%s-%s", lo, hi);
			return;
		}
	}
	snprintf(buf, len, "%s/%zu", lo, prefix);
}

static int add_text(struct ruleset *rs, const char *text)
{
	struct cidr c;

	if (cidr_parse(text, &c))
		return -1;
	return interval_set_add(c.family == AF_INET ? &rs->bypass4 : &rs->bypass6, &c);
}

static int add_addr(struct interval_set *s, const struct sockaddr_storage *ss)
{
	struct cidr c;

	memset(&c, 0, sizeof(c));
	c.family = ss->ss_family;
	if (c.family == AF_INET) {
		memcpy(c.bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		c.prefix_len = 32;
	} else {
		memcpy(c.bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		c.prefix_len = 128;
	}
	return interval_set_add(s, &c);
}

int ruleset_build(const struct config *cfg, struct ruleset *rs, char *err, size_t errlen)
{
	memset(rs, 0, sizeof(*rs));
	interval_set_init(&rs->intercept4, AF_INET);
	interval_set_init(&rs->intercept6, AF_INET6);
	interval_set_init(&rs->bypass4, AF_INET);
	interval_set_init(&rs->bypass6, AF_INET6);
	interval_set_init(&rs->exclude4, AF_INET);
	interval_set_init(&rs->exclude6, AF_INET6);
	rs->exclude_macs = (const uint8_t(*)[6])cfg->exclude_macs;
	rs->n_exclude_macs = cfg->n_exclude_macs;
	rs->ports = cfg->ports;
	rs->n_ports = cfg->n_ports;
	rs->exclude_ports = cfg->exclude_ports;
	rs->n_exclude_ports = cfg->n_exclude_ports;
	rs->redirect_port = cfg->redirect_port;
	rs->tproxy = !cfg->redirect_port;
	rs->udp = cfg->tproxy_port != 0;
	rs->tproxy_port = cfg->tproxy_port;
	rs->tproxy_mark = cfg->tproxy_mark;
	rs->tproxy_table = cfg->tproxy_table;
	rs->local = cfg->intercept_local;
	rs->daemon_mark = cfg->mark;
	rs->block = cfg->when_down_block;
	if (cfg->dns.hijack) {
		const struct sockaddr_storage *t4 = config_dns_hijack_target(&cfg->dns, AF_INET);
		const struct sockaddr_storage *t6 = config_dns_hijack_target(&cfg->dns, AF_INET6);
		if (t4)
			rs->hijack4 = *t4;
		if (t6)
			rs->hijack6 = *t6;
	}

	if (!cfg->n_intercept_ifaces && !cfg->n_intercept_src) {
		snprintf(err, errlen,
			 "nothing to intercept: set [intake] interfaces (LAN interfaces and/or "
			 "source CIDRs)");
		return -1;
	}
	if (cfg->n_intercept_ifaces) {
		rs->ifaces = calloc(cfg->n_intercept_ifaces, sizeof(*rs->ifaces));
		if (!rs->ifaces)
			goto nomem;
		memcpy(rs->ifaces, cfg->intercept_ifaces,
		       cfg->n_intercept_ifaces * sizeof(*rs->ifaces));
		rs->n_ifaces = cfg->n_intercept_ifaces;
	}
	if (interval_sets_add_all(&rs->intercept4, &rs->intercept6, cfg->intercept_src,
				  cfg->n_intercept_src) ||
	    interval_sets_add_all(&rs->exclude4, &rs->exclude6, cfg->exclude_src,
				  cfg->n_exclude_src))
		goto nomem;
	for (size_t i = 0; i < config_n_always_bypass; i++)
		if (add_text(rs, config_always_bypass[i]))
			goto nomem;
	for (size_t i = 0; cfg->bypass_private && i < config_n_private_bypass; i++)
		if (add_text(rs, config_private_bypass[i]))
			goto nomem;
	if (interval_sets_add_all(&rs->bypass4, &rs->bypass6, cfg->bypass, cfg->n_bypass))
		goto nomem;
	/* fake-IP pools are never bypassed: a flow there must reach
	 * sockgated, which alone knows the name behind the address */
	if (cfg->dns.fakeip && cfg->dns.n_listen) {
		if ((cfg->dns.fakeip4.family &&
		     interval_set_remove(&rs->bypass4, &cfg->dns.fakeip4)) ||
		    (cfg->dns.fakeip6.family &&
		     interval_set_remove(&rs->bypass6, &cfg->dns.fakeip6)))
			goto nomem;
	}
	/* The upstreams given by address: the LAN's own connections to them
	 * go direct (sockgated's carry the mark anyway). One given by name is
	 * not bypassed here: its addresses change while the rules stay, and a
	 * stale entry would let the LAN reach whoever has the address now
	 * unproxied; sockgated sends intercepted flows to an upstream's
	 * current address direct itself. */
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		const struct upstream *up = &cfg->upstreams[i];
		struct sockaddr_storage literal;
		if (up->url.kind == UPSTREAM_DIRECT || up->url.kind == UPSTREAM_GROUP ||
		    addr_from_ip(up->url.host, up->url.port, &literal))
			continue;
		if (add_addr(up->addr.ss_family == AF_INET ? &rs->bypass4 : &rs->bypass6,
			     &up->addr))
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	ruleset_free(rs);
	return -1;
}

void ruleset_free(struct ruleset *rs)
{
	free(rs->ifaces);
	rs->ifaces = NULL;
	interval_set_free(&rs->intercept4);
	interval_set_free(&rs->intercept6);
	interval_set_free(&rs->bypass4);
	interval_set_free(&rs->bypass6);
	interval_set_free(&rs->exclude4);
	interval_set_free(&rs->exclude6);
}

static void print_set(FILE *out, const char *name, const char *type, const struct interval_set *s)
{
	char buf[2 * INET6_ADDRSTRLEN + 2];

	fprintf(out, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n", name, type);
	if (s->n) {
		fprintf(out, "\t\telements = { ");
		for (size_t i = 0; i < s->n; i++) {
			interval_format(s, i, buf, sizeof(buf));
			fprintf(out, "%s%s", i ? ", " : "", buf);
		}
		fprintf(out, " }\n");
	}
	fprintf(out, "\t}\n\n");
}

/* The chains of one interception path: TCP by redirect (nat), or TPROXY
 * for TCP and/or UDP (filter, mangle). */
struct path_names {
	const char *prerouting, *capture, *output, *local_mark;
};

static const struct path_names main_path = { "prerouting", "capture", "output", "local_mark" };
/* UDP beside TCP redirect: TPROXY needs chains of its own */
static const struct path_names udp_path = { "udp_prerouting", "udp_capture", "udp_output",
					    "udp_local_mark" };

/* The bypass checks every capturing chain starts with. */
/* [intake] exclude_src, ports, exclude_ports: a return for what the kernel
 * keeps, one rule a list that is not empty. */
static int plan_selectors(const struct ruleset *rs, const char *chain, struct rule_spec *rules,
			  int n)
{
	if (rs->exclude4.n)
		rules[n++] = (struct rule_spec){ chain, RK_EXCLUDE4_RETURN, NULL, 0, 0 };
	if (rs->exclude6.n)
		rules[n++] = (struct rule_spec){ chain, RK_EXCLUDE6_RETURN, NULL, 0, 0 };
	if (rs->n_exclude_macs)
		rules[n++] = (struct rule_spec){ chain, RK_EXCLUDE_MAC_RETURN, NULL, 0, 0 };
	if (rs->n_ports)
		rules[n++] = (struct rule_spec){ chain, RK_PORTS_RETURN, NULL, 0, 0 };
	if (rs->n_exclude_ports)
		rules[n++] = (struct rule_spec){ chain, RK_EXCLUDE_PORTS_RETURN, NULL, 0, 0 };
	return n;
}

static int plan_bypass(const char *chain, struct rule_spec *rules, int n)
{
	rules[n++] = (struct rule_spec){ chain, RK_FIB_LOCAL_RETURN, NULL, 0, 0 };
	rules[n++] = (struct rule_spec){ chain, RK_BYPASS4_RETURN, NULL, 0, 0 };
	rules[n++] = (struct rule_spec){ chain, RK_BYPASS6_RETURN, NULL, 0, 0 };
	return n;
}

/* Where hijacked queries of nfproto go; NULL when they are not hijacked. */
static const struct sockaddr_storage *hijack_target(const struct ruleset *rs, uint8_t nfproto)
{
	const struct sockaddr_storage *t = nfproto == NFPROTO_IPV4 ? &rs->hijack4 : &rs->hijack6;
	return t->ss_family ? t : NULL;
}

/* One rule of kind per hijacked family and protocol. */
static int plan_dns_rules(const struct ruleset *rs, const char *chain, enum rule_kind kind,
			  struct rule_spec *rules, int n)
{
	static const uint8_t nfprotos[] = { NFPROTO_IPV4, NFPROTO_IPV6 };
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };

	for (size_t f = 0; f < sizeof(nfprotos); f++)
		for (size_t i = 0; hijack_target(rs, nfprotos[f]) && i < sizeof(protos); i++)
			rules[n++] =
			    (struct rule_spec){ chain, kind, NULL, protos[i], nfprotos[f] };
	return n;
}

/* [dns] hijack: the LAN's port 53 to the DNS service by NAT, in a chain
 * ahead of the redirect chain (the first NAT of a connection wins); the
 * TPROXY path lets it through first (plan_entry). */
static int plan_dns_hijack(const struct ruleset *rs, struct chain_spec *chains, size_t *nc,
			   struct rule_spec *rules, int n)
{
	if (!hijack_target(rs, NFPROTO_IPV4) && !hijack_target(rs, NFPROTO_IPV6))
		return n;
	chains[(*nc)++] = (struct chain_spec){ "dns_prerouting", CHAIN_NAT_PREROUTING_DNS };
	chains[(*nc)++] = (struct chain_spec){ "dns_hijack", CHAIN_REGULAR };
	rules[n++] = (struct rule_spec){ "dns_prerouting", RK_IIF_GOTO, "dns_hijack", 0, 0 };
	rules[n++] = (struct rule_spec){ "dns_prerouting", RK_SADDR4_GOTO, "dns_hijack", 0, 0 };
	rules[n++] = (struct rule_spec){ "dns_prerouting", RK_SADDR6_GOTO, "dns_hijack", 0, 0 };
	return plan_dns_rules(rs, "dns_hijack", RK_DNS_HIJACK, rules, n);
}

/* A path's base chain of type pre, sending what is intercepted to its
 * capture chain, which starts with the bypass checks. On the TPROXY path
 * (a filter chain) the router's own packets, back in through lo, come
 * first, so that what the DNS hijack lets through is only the LAN's. */
static int plan_entry(const struct ruleset *rs, const struct path_names *p, enum chain_type pre,
		      struct chain_spec *chains, size_t *nc, struct rule_spec *rules, int n)
{
	int filter = pre == CHAIN_FILTER_PREROUTING;

	chains[(*nc)++] = (struct chain_spec){ p->prerouting, pre };
	chains[(*nc)++] = (struct chain_spec){ p->capture, CHAIN_REGULAR };
	if (filter && rs->local)
		rules[n++] =
		    (struct rule_spec){ p->prerouting, RK_LO_MARKED_GOTO, p->capture, 0, 0 };
	if (filter)
		n = plan_dns_rules(rs, p->prerouting, RK_DNS_PASS, rules, n);
	if (!(filter && rs->ebpf))
		rules[n++] = (struct rule_spec){ p->prerouting, RK_IIF_GOTO, p->capture, 0, 0 };
	rules[n++] = (struct rule_spec){ p->prerouting, RK_SADDR4_GOTO, p->capture, 0, 0 };
	rules[n++] = (struct rule_spec){ p->prerouting, RK_SADDR6_GOTO, p->capture, 0, 0 };
	n = plan_selectors(rs, p->capture, rules, n);
	return plan_bypass(p->capture, rules, n);
}

int ruleset_plan(const struct ruleset *rs, struct chain_spec *chains, size_t *n_chains,
		 struct rule_spec *rules)
{
	const struct path_names *p = &main_path;
	size_t nc = 0;
	int n = plan_dns_hijack(rs, chains, &nc, rules, 0);

	if (!rs->tproxy) {
		n = plan_entry(rs, p, CHAIN_NAT_PREROUTING, chains, &nc, rules, n);
		rules[n++] = (struct rule_spec){ p->capture, RK_REDIRECT, NULL, IPPROTO_TCP, 0 };
		if (rs->local) {
			/* sockgated's own sockets carry the mark: never again */
			chains[nc++] = (struct chain_spec){ p->output, CHAIN_NAT_OUTPUT };
			rules[n++] =
			    (struct rule_spec){ p->output, RK_DAEMON_MARK_RETURN, NULL, 0, 0 };
			rules[n++] = (struct rule_spec){ p->output, RK_GOTO, p->capture, 0, 0 };
		}
		if (!rs->udp)
			goto out;
		p = &udp_path;
	}
	n = plan_entry(rs, p, CHAIN_FILTER_PREROUTING, chains, &nc, rules, n);
	if (rs->tproxy) {
		/* packets of TCP flows already handed over go to their socket
		 * (UDP has no such rule: a transparent reply socket must never
		 * take a client's datagram from the tproxy socket) */
		rules[n++] = (struct rule_spec){ p->capture, RK_TP_SOCKET, NULL, IPPROTO_TCP, 0 };
		rules[n++] = (struct rule_spec){ p->capture, RK_TP_TPROXY, NULL, IPPROTO_TCP, 0 };
		rules[n++] = (struct rule_spec){ p->capture, RK_TP_DROP, NULL, IPPROTO_TCP, 0 };
	}
	if (rs->udp) {
		rules[n++] = (struct rule_spec){ p->capture, RK_TP_TPROXY, NULL, IPPROTO_UDP, 0 };
		rules[n++] = (struct rule_spec){ p->capture, RK_TP_DROP, NULL, IPPROTO_UDP, 0 };
	}
	if (!rs->local)
		goto out;
	/* the router's own packets are marked on the way out (a route chain, so
	 * the new mark reroutes them), sent back in through lo by the policy
	 * routing, and taken there (plan_entry's first rule) */
	chains[nc++] = (struct chain_spec){ p->output, CHAIN_ROUTE_OUTPUT };
	chains[nc++] = (struct chain_spec){ p->local_mark, CHAIN_REGULAR };
	rules[n++] = (struct rule_spec){ p->output, RK_DAEMON_MARK_RETURN, NULL, 0, 0 };
	rules[n++] = (struct rule_spec){ p->output, RK_GOTO, p->local_mark, 0, 0 };
	n = plan_bypass(p->local_mark, rules, n);
	if (rs->tproxy)
		rules[n++] =
		    (struct rule_spec){ p->local_mark, RK_SET_TPROXY_MARK, NULL, IPPROTO_TCP, 0 };
	if (rs->udp)
		rules[n++] =
		    (struct rule_spec){ p->local_mark, RK_SET_TPROXY_MARK, NULL, IPPROTO_UDP, 0 };
out:
	*n_chains = nc;
	return n;
}

static void dns_rule_text(const struct ruleset *rs, const struct rule_spec *r, char *buf,
			  size_t len)
{
	const struct sockaddr_storage *t = hijack_target(rs, r->nfproto);
	int v4 = r->nfproto == NFPROTO_IPV4;
	char to[ADDR_STRLEN + 16], a[ADDR_STRLEN];

	if (r->kind == RK_DNS_PASS || !t)
		snprintf(to, sizeof(to), "return");
	else if (addr_is_unspecified(t))
		snprintf(to, sizeof(to), "redirect to :%u", addr_port(t));
	else /* addr_format spells it as nft does: 192.168.1.1:53, [fd00::1]:53 */
		snprintf(to, sizeof(to), "dnat %s to %s", v4 ? "ip" : "ip6",
			 addr_format(t, a, sizeof(a)));
	snprintf(buf, len, "meta nfproto %s meta l4proto %s th dport 53 %s", v4 ? "ipv4" : "ipv6",
		 r->proto == IPPROTO_UDP ? "udp" : "tcp", to);
}

void ruleset_rule_text(const struct ruleset *rs, const struct rule_spec *r, char *buf, size_t len)
{
	const char *proto = r->proto == IPPROTO_UDP ? "udp" : "tcp";

	switch (r->kind) {
	case RK_IIF_GOTO:
		snprintf(buf, len, "iifname @intercept_ifaces goto %s", r->target);
		break;
	case RK_EXCLUDE4_RETURN:
		snprintf(buf, len, "ip saddr @exclude4 return");
		break;
	case RK_EXCLUDE6_RETURN:
		snprintf(buf, len, "ip6 saddr @exclude6 return");
		break;
	case RK_EXCLUDE_MAC_RETURN:
		snprintf(buf, len, "ether saddr @exclude_mac return");
		break;
	case RK_PORTS_RETURN:
		snprintf(buf, len, "th dport != @ports return");
		break;
	case RK_EXCLUDE_PORTS_RETURN:
		snprintf(buf, len, "th dport @exclude_ports return");
		break;
	case RK_SADDR4_GOTO:
		snprintf(buf, len, "ip saddr @intercept4 goto %s", r->target);
		break;
	case RK_SADDR6_GOTO:
		snprintf(buf, len, "ip6 saddr @intercept6 goto %s", r->target);
		break;
	case RK_LO_MARKED_GOTO:
		snprintf(buf, len, "iifname \"lo\" meta mark 0x%08x goto %s", rs->tproxy_mark,
			 r->target);
		break;
	case RK_FIB_LOCAL_RETURN:
		snprintf(buf, len, "fib daddr type local return");
		break;
	case RK_BYPASS4_RETURN:
		snprintf(buf, len, "ip daddr @bypass4 return");
		break;
	case RK_BYPASS6_RETURN:
		snprintf(buf, len, "ip6 daddr @bypass6 return");
		break;
	case RK_REDIRECT:
		snprintf(buf, len, "meta l4proto tcp redirect to :%u", rs->redirect_port);
		break;
	case RK_TP_SOCKET:
		snprintf(buf, len,
			 "meta l4proto tcp socket transparent 1 meta mark set 0x%08x accept",
			 rs->tproxy_mark);
		break;
	case RK_TP_TPROXY:
		/* marked only once a transparent socket took it: an unmatched
		 * packet is never routed to the router's own services */
		snprintf(buf, len, "meta l4proto %s tproxy to :%u meta mark set 0x%08x accept",
			 proto, rs->tproxy_port, rs->tproxy_mark);
		break;
	case RK_TP_DROP:
		/* sockgated is not there (a restart): held back, never sent
		 * around the proxy; with when_down = block refused at once */
		if (!rs->block)
			snprintf(buf, len, "meta l4proto %s drop", proto);
		else if (r->proto == IPPROTO_TCP)
			snprintf(buf, len, "meta l4proto tcp reject with tcp reset");
		else
			snprintf(buf, len, "meta l4proto udp reject");
		break;
	case RK_DAEMON_MARK_RETURN:
		snprintf(buf, len, "meta mark 0x%08x return", rs->daemon_mark);
		break;
	case RK_GOTO:
		snprintf(buf, len, "goto %s", r->target);
		break;
	case RK_SET_TPROXY_MARK:
		snprintf(buf, len, "meta l4proto %s meta mark set 0x%08x", proto, rs->tproxy_mark);
		break;
	case RK_DNS_PASS:
	case RK_DNS_HIJACK:
		dns_rule_text(rs, r, buf, len);
		break;
	}
}

static void print_ports(FILE *out, const char *name, const struct port_range *p, size_t n)
{
	fprintf(out, "\tset %s {\n\t\ttype inet_service\n\t\tflags interval\n", name);
	fprintf(out, "\t\telements = { ");
	for (size_t i = 0; i < n; i++) {
		if (p[i].lo == p[i].hi)
			fprintf(out, "%s%u", i ? ", " : "", p[i].lo);
		else
			fprintf(out, "%s%u-%u", i ? ", " : "", p[i].lo, p[i].hi);
	}
	fprintf(out, " }\n\t}\n\n");
}

/* The sets of [intake] exclude_src, ports and exclude_ports, when given. */
static void print_selector_sets(const struct ruleset *rs, FILE *out)
{
	if (rs->exclude4.n)
		print_set(out, "exclude4", "ipv4_addr", &rs->exclude4);
	if (rs->exclude6.n)
		print_set(out, "exclude6", "ipv6_addr", &rs->exclude6);
	if (rs->n_exclude_macs) {
		fprintf(out, "\tset exclude_mac {\n\t\ttype ether_addr\n\t\telements = { ");
		for (size_t i = 0; i < rs->n_exclude_macs; i++) {
			const uint8_t *m = rs->exclude_macs[i];
			fprintf(out, "%s%02x:%02x:%02x:%02x:%02x:%02x", i ? ", " : "", m[0], m[1],
				m[2], m[3], m[4], m[5]);
		}
		fprintf(out, " }\n\t}\n\n");
	}
	if (rs->n_ports)
		print_ports(out, "ports", rs->ports, rs->n_ports);
	if (rs->n_exclude_ports)
		print_ports(out, "exclude_ports", rs->exclude_ports, rs->n_exclude_ports);
}

void ruleset_print_nft(const struct ruleset *rs, FILE *out)
{
	static const char *const hooks[] = {
		[CHAIN_REGULAR] = NULL,
		[CHAIN_NAT_PREROUTING] = "type nat hook prerouting priority dstnat",
		[CHAIN_FILTER_PREROUTING] = "type filter hook prerouting priority mangle",
		[CHAIN_NAT_OUTPUT] = "type nat hook output priority -100",
		[CHAIN_ROUTE_OUTPUT] = "type route hook output priority mangle",
		[CHAIN_NAT_PREROUTING_DNS] = "type nat hook prerouting priority dstnat - 10",
	};
	struct chain_spec chains[RULESET_CHAINS_MAX];
	struct rule_spec rules[RULESET_RULES_MAX];
	size_t n_chains;
	int n_rules = ruleset_plan(rs, chains, &n_chains, rules);

	if (rs->ebpf)
		fprintf(out,
			"# eBPF: a tc ingress program on the interfaces below hands new %s to "
			"port %u (pinned in /sys/fs/bpf/sockgate)\n",
			rs->tproxy ? "TCP connections and UDP datagrams" : "UDP datagrams",
			rs->tproxy_port);
	fprintf(out, "table inet %s {\n", RULESET_TABLE);
	fprintf(out, "\tset intercept_ifaces {\n\t\ttype ifname\n");
	if (rs->n_ifaces) {
		fprintf(out, "\t\telements = { ");
		for (size_t i = 0; i < rs->n_ifaces; i++)
			fprintf(out, "%s\"%s\"", i ? ", " : "", rs->ifaces[i]);
		fprintf(out, " }\n");
	}
	fprintf(out, "\t}\n\n");
	print_set(out, "intercept4", "ipv4_addr", &rs->intercept4);
	print_set(out, "intercept6", "ipv6_addr", &rs->intercept6);
	print_set(out, "bypass4", "ipv4_addr", &rs->bypass4);
	print_set(out, "bypass6", "ipv6_addr", &rs->bypass6);
	print_selector_sets(rs, out);
	for (size_t c = 0; c < n_chains; c++) {
		fprintf(out, "%s\tchain %s {\n", c ? "\n" : "", chains[c].name);
		if (hooks[chains[c].type])
			fprintf(out, "\t\t%s; policy accept;\n", hooks[chains[c].type]);
		for (int i = 0; i < n_rules; i++) {
			char text[160];
			if (strcmp(rules[i].chain, chains[c].name))
				continue;
			ruleset_rule_text(rs, &rules[i], text, sizeof(text));
			fprintf(out, "\t\t%s\n", text);
		}
		fprintf(out, "\t}\n");
	}
	fprintf(out, "}\n");
}

/* The prefix of one interface address with its netmask, or -1 (none). */
static int connected_prefix(const struct ifaddrs *ifa, struct cidr *c)
{
	const uint8_t *a, *m;
	size_t len;

	if (!ifa->ifa_addr || !ifa->ifa_netmask || (ifa->ifa_flags & IFF_LOOPBACK))
		return -1;
	memset(c, 0, sizeof(*c));
	c->family = ifa->ifa_addr->sa_family;
	if (c->family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		m = (const uint8_t *)&((const struct sockaddr_in *)ifa->ifa_netmask)->sin_addr;
	} else if (c->family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
		m = (const uint8_t *)&((const struct sockaddr_in6 *)ifa->ifa_netmask)->sin6_addr;
	} else {
		return -1;
	}
	len = family_len(c->family);
	for (size_t i = 0; i < len; i++) {
		c->bytes[i] = a[i] & m[i];
		c->prefix_len += (unsigned)__builtin_popcount(m[i]);
	}
	/* a point-to-point peer or a default-sized mask says nothing local */
	return c->prefix_len ? 0 : -1;
}

int ruleset_add_connected(struct ruleset *rs, unsigned *added)
{
	struct ifaddrs *list, *ifa;
	int rc = 0;

	*added = 0;
	if (getifaddrs(&list) < 0)
		return -errno;
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		struct cidr c;
		if (connected_prefix(ifa, &c) < 0)
			continue;
		if (interval_set_add(c.family == AF_INET ? &rs->bypass4 : &rs->bypass6, &c)) {
			rc = -ENOMEM;
			break;
		}
		(*added)++;
	}
	freeifaddrs(list);
	return rc;
}
