// SPDX-License-Identifier: GPL-2.0
/* tc ingress on the intercepted interfaces: forwarded TCP and UDP go to
 * sockgated's TPROXY sockets without netfilter. A new connection's SYN and
 * every datagram are assigned to the listener (bpf_sk_assign) and marked,
 * so the policy routing delivers them locally; later segments are marked
 * and find their accepted socket by the usual lookup. The daemon reads the
 * original destination exactly as after TPROXY (getsockname,
 * IP_RECVORIGDSTADDR). Only UAPI headers: no BTF needed at run time.
 *
 * A SYN whose addresses are those of a connection sockgated closed lately
 * would meet that connection's TIME_WAIT socket: a listener handed the SYN
 * directly cannot make the new connection while it exists. Such a SYN is
 * only marked and noted; the kernel's TIME_WAIT handling then asks for a
 * listener, and the socket lookup program below answers with sockgated's
 * (the same takeover nftables' TPROXY does). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "intake.h"
#include "maps.bpf.h"

#define AF_INET	  2
#define AF_INET6  10
#define IP_MF	  0x2000
#define IP_OFFSET 0x1fff
/* extension headers followed before giving up (and dropping) */
#define IPV6_EXT_MAX 6

/* set by the loader before load */
const volatile __u16 tproxy_port = 0; /* host order */
const volatile __u32 tproxy_mark = 0;
/* sockgated's TPROXY sockets carry it (SO_MARK needs CAP_NET_ADMIN): a
 * socket another program bound on the port while sockgated was down
 * never gets the LAN's packets (0: not checked) */
const volatile __u32 daemon_mark = 0;
const volatile __u8 handle_tcp = 1; /* 0: TCP stays with the REDIRECT rules */
/* [dns] hijack: port 53 of that family is left to the nftables NAT that
 * sends it to the DNS service */
const volatile __u8 leave_dns4 = 0, leave_dns6 = 0;

BYPASS_MAP(bypass4, struct intake_lpm4);

BYPASS_MAP(bypass6, struct intake_lpm6);

COUNTERS_MAP(counters, INTAKE_COUNTERS)

/* SYNs that met a TIME_WAIT socket, for intake_takeover */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct intake_tuple);
	__type(value, __u8);
	__uint(max_entries, 4096);
} takeover SEC(".maps");

/* sockgated's TPROXY TCP listeners by intake_listener_slot, put there by
 * `sockgate rules apply` (the daemon hands them over its control socket) */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, INTAKE_LISTENER_SLOTS);
} listeners SEC(".maps");

/* Whether the route for this packet would deliver it here (the router's
 * own addresses, broadcast, multicast): those are never intercepted. A
 * destination with no route at all looks the same to bpf_fib_lookup, so it
 * is left alone too (the router needs a default route). */
static __always_inline int destination_is_local(struct __sk_buff *skb, int family,
						const void *daddr, const void *saddr)
{
	struct bpf_fib_lookup fib = {};
	int rc;

	fib.family = family;
	fib.ifindex = skb->ingress_ifindex;
	if (family == AF_INET) {
		__builtin_memcpy(&fib.ipv4_dst, daddr, 4);
		__builtin_memcpy(&fib.ipv4_src, saddr, 4);
	} else {
		__builtin_memcpy(fib.ipv6_dst, daddr, 16);
		__builtin_memcpy(fib.ipv6_src, saddr, 16);
	}
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH);
	/* NOT_FWDED: a local, broadcast or multicast route, or no route */
	return rc == BPF_FIB_LKUP_RET_NOT_FWDED;
}

/* The protocol after the IPv6 extension headers, with *l4 at its header;
 * -1 for a fragment (no ports in it, or not only) or a chain longer than
 * IPV6_EXT_MAX or cut short. The headers the kernel walks for local
 * delivery, so a client cannot hide TCP behind them. */
static __always_inline int ipv6_transport(struct ipv6hdr *ip6, void *end, void **l4)
{
	__u8 next = ip6->nexthdr;
	__u8 *p = (void *)(ip6 + 1);

	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS &&
		    next != IPPROTO_AH && next != IPPROTO_FRAGMENT) {
			*l4 = p;
			return next;
		}
		if ((void *)(p + 8) > end)
			return -1;
		if (next == IPPROTO_FRAGMENT) {
			/* offset and more-fragments: only an atomic fragment is whole */
			if ((p[2] << 8 | p[3]) & 0xfff9)
				return -1;
			next = p[0];
			p += 8;
		} else if (next == IPPROTO_AH) {
			next = p[0];
			p += ((__u32)p[1] + 2) * 4;
		} else {
			next = p[0];
			p += ((__u32)p[1] + 1) * 8;
		}
	}
	return -1;
}

/* A listener is a full socket; its mark says whether sockgated made it. */
static __always_inline int socket_is_ours(struct bpf_sock *sk)
{
	struct bpf_sock *full = bpf_sk_fullsock(sk);

	return full && full->mark == daemon_mark;
}

/* Hands the packet to the sockgated socket of its protocol and family,
 * looked up by the tproxy port on the wildcard address. */
static __always_inline int assign(struct __sk_buff *skb, __u8 proto, int v6)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u32 len = v6 ? sizeof(t.ipv6) : sizeof(t.ipv4);
	long rc;

	if (v6)
		t.ipv6.dport = bpf_htons(tproxy_port);
	else
		t.ipv4.dport = bpf_htons(tproxy_port);
	if (proto == IPPROTO_TCP)
		sk = bpf_skc_lookup_tcp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(skb, &t, len, BPF_F_CURRENT_NETNS, 0);
	if (!sk) {
		count(INTAKE_NO_SOCKET);
		return TC_ACT_SHOT;
	}
	if (proto == IPPROTO_TCP && sk->state != BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		count(INTAKE_NO_SOCKET);
		return TC_ACT_SHOT;
	}
	if (daemon_mark && !socket_is_ours(sk)) {
		bpf_sk_release(sk);
		count(INTAKE_NO_SOCKET);
		return TC_ACT_SHOT;
	}
	rc = bpf_sk_assign(skb, sk, 0);
	bpf_sk_release(sk);
	if (rc) {
		count(INTAKE_NO_SOCKET);
		return TC_ACT_SHOT;
	}
	skb->mark = tproxy_mark;
	count(proto == IPPROTO_TCP ? INTAKE_TCP_NEW : INTAKE_UDP);
	return TC_ACT_OK;
}

/* A SYN for addresses still held by a TIME_WAIT socket: noted and marked
 * for the takeover (1), or 0 to hand it to the listener as usual. */
static __always_inline int syn_meets_time_wait(struct __sk_buff *skb, const void *saddr,
					       const void *daddr, const struct tcphdr *th, int v6)
{
	struct intake_tuple key = {};
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__u8 one = 1;
	int tw;

	if (v6) {
		__builtin_memcpy(t.ipv6.saddr, saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, daddr, 16);
		t.ipv6.sport = th->source;
		t.ipv6.dport = th->dest;
	} else {
		__builtin_memcpy(&t.ipv4.saddr, saddr, 4);
		__builtin_memcpy(&t.ipv4.daddr, daddr, 4);
		t.ipv4.sport = th->source;
		t.ipv4.dport = th->dest;
	}
	sk = bpf_skc_lookup_tcp(skb, &t, v6 ? sizeof(t.ipv6) : sizeof(t.ipv4), BPF_F_CURRENT_NETNS,
				0);
	if (!sk)
		return 0;
	tw = sk->state == BPF_TCP_TIME_WAIT;
	bpf_sk_release(sk);
	if (!tw)
		return 0;
	key.family = v6 ? AF_INET6 : AF_INET;
	__builtin_memcpy(key.saddr, saddr, v6 ? 16 : 4);
	__builtin_memcpy(key.daddr, daddr, v6 ? 16 : 4);
	key.sport = th->source;
	key.dport = th->dest;
	if (bpf_map_update_elem(&takeover, &key, &one, BPF_ANY))
		return 0;
	skb->mark = tproxy_mark;
	count(INTAKE_TAKEOVER);
	return 1;
}

/* After the IP header at l4: TCP SYN or UDP to hand over, other TCP to
 * mark, anything else untouched. */
static __always_inline int intercept(struct __sk_buff *skb, void *l4, void *end, __u8 proto,
				     const void *saddr, const void *daddr, int v6)
{
	/* the destination port, at the same place in TCP and UDP */
	if ((v6 ? leave_dns6 : leave_dns4) && l4 + 4 <= end && ((__u16 *)l4)[1] == bpf_htons(53))
		return TC_ACT_OK;
	if (proto == IPPROTO_UDP) {
		if (l4 + sizeof(struct udphdr) > end)
			return TC_ACT_OK;
		return assign(skb, proto, v6);
	}
	if (proto == IPPROTO_TCP && handle_tcp) {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > end)
			return TC_ACT_OK;
		if (th->syn && !th->ack) {
			if (syn_meets_time_wait(skb, saddr, daddr, th, v6))
				return TC_ACT_OK;
			return assign(skb, proto, v6);
		}
		skb->mark = tproxy_mark;
		count(INTAKE_TCP_MARKED);
	}
	return TC_ACT_OK;
}

SEC("tc")
int intake_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct intake_lpm4 key = { .prefixlen = 32 };
		void *l4;

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return TC_ACT_OK;
		if (ip->protocol != IPPROTO_UDP && (ip->protocol != IPPROTO_TCP || !handle_tcp))
			return TC_ACT_OK;
		__builtin_memcpy(key.addr, &ip->daddr, 4);
		if (bpf_map_lookup_elem(&bypass4, &key) ||
		    destination_is_local(skb, AF_INET, &ip->daddr, &ip->saddr)) {
			count(INTAKE_BYPASSED);
			return TC_ACT_OK;
		}
		if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
			/* no ports to go by; never routed around the proxy */
			count(INTAKE_FRAGMENT);
			return TC_ACT_SHOT;
		}
		l4 = (void *)ip + ip->ihl * 4;
		return intercept(skb, l4, end, ip->protocol, &ip->saddr, &ip->daddr, 0);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct intake_lpm6 key = { .prefixlen = 128 };
		void *l4;
		int proto;

		if ((void *)(ip6 + 1) > end)
			return TC_ACT_OK;
		proto = ipv6_transport(ip6, end, &l4);
		if (proto >= 0 && proto != IPPROTO_UDP && (proto != IPPROTO_TCP || !handle_tcp))
			return TC_ACT_OK;
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
		if (bpf_map_lookup_elem(&bypass6, &key) ||
		    destination_is_local(skb, AF_INET6, &ip6->daddr, &ip6->saddr)) {
			count(INTAKE_BYPASSED);
			return TC_ACT_OK;
		}
		if (proto < 0) {
			/* a fragment, or a header chain too long to follow: may be
			 * TCP or UDP, and must not be routed around the proxy */
			count(INTAKE_FRAGMENT);
			return TC_ACT_SHOT;
		}
		return intercept(skb, l4, end, (__u8)proto, &ip6->saddr, &ip6->daddr, 1);
	}
	return TC_ACT_OK;
}

/* Runs where the kernel looks for a listener, here after a SYN met a
 * TIME_WAIT socket: a connection the tc program noted goes to sockgated's
 * listener, and the kernel ends the TIME_WAIT. Every other lookup is left
 * to the kernel. */
SEC("sk_lookup")
int intake_takeover(struct bpf_sk_lookup *ctx)
{
	struct intake_tuple key = {};
	struct bpf_sock *sk;
	__u32 slot;
	long rc;

	if (ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	key.family = ctx->family;
	if (ctx->family == AF_INET) {
		key.saddr[0] = ctx->remote_ip4;
		key.daddr[0] = ctx->local_ip4;
		slot = INTAKE_LISTENER_V4;
	} else {
		for (int i = 0; i < 4; i++) {
			key.saddr[i] = ctx->remote_ip6[i];
			key.daddr[i] = ctx->local_ip6[i];
		}
		slot = INTAKE_LISTENER_V6;
	}
	key.sport = ctx->remote_port;
	key.dport = bpf_htons((__u16)ctx->local_port);
	if (!bpf_map_lookup_elem(&takeover, &key))
		return SK_PASS;
	bpf_map_delete_elem(&takeover, &key);
	sk = bpf_map_lookup_elem(&listeners, &slot);
	if (!sk) {
		count(INTAKE_NO_SOCKET);
		return SK_PASS;
	}
	rc = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	count(rc ? INTAKE_NO_SOCKET : INTAKE_TAKEN_OVER);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
