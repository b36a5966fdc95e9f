// SPDX-License-Identifier: GPL-2.0
/* tc ingress on the intercepted interfaces: forwarded TCP and UDP go to
 * sockgated's TPROXY sockets without netfilter. A new connection's SYN and
 * every datagram are assigned to the listener (bpf_sk_assign) and marked,
 * so the policy routing delivers them locally; later segments are marked
 * and find their accepted socket by the usual lookup. The daemon reads the
 * original destination exactly as after TPROXY (getsockname,
 * IP_RECVORIGDSTADDR). Only UAPI headers: no BTF needed at run time. */
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

/* set by the loader before load */
const volatile __u16 tproxy_port = 0; /* host order */
const volatile __u32 tproxy_mark = 0;
const volatile __u8 handle_tcp = 1; /* 0: TCP stays with the REDIRECT rules */

BYPASS_MAP(bypass4, struct intake_lpm4);

BYPASS_MAP(bypass6, struct intake_lpm6);

COUNTERS_MAP(counters, INTAKE_COUNTERS)

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

/* After the IP header at l4: TCP SYN or UDP to hand over, other TCP to
 * mark, anything else untouched. */
static __always_inline int intercept(struct __sk_buff *skb, void *l4, void *end, __u8 proto, int v6)
{
	if (proto == IPPROTO_UDP) {
		if (l4 + sizeof(struct udphdr) > end)
			return TC_ACT_OK;
		return assign(skb, proto, v6);
	}
	if (proto == IPPROTO_TCP && handle_tcp) {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > end)
			return TC_ACT_OK;
		if (th->syn && !th->ack)
			return assign(skb, proto, v6);
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
		return intercept(skb, l4, end, ip->protocol, 0);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct intake_lpm6 key = { .prefixlen = 128 };

		if ((void *)(ip6 + 1) > end)
			return TC_ACT_OK;
		/* extension headers are left to the routing (and netfilter) */
		if (ip6->nexthdr != IPPROTO_UDP && (ip6->nexthdr != IPPROTO_TCP || !handle_tcp))
			return TC_ACT_OK;
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
		if (bpf_map_lookup_elem(&bypass6, &key) ||
		    destination_is_local(skb, AF_INET6, &ip6->daddr, &ip6->saddr)) {
			count(INTAKE_BYPASSED);
			return TC_ACT_OK;
		}
		return intercept(skb, ip6 + 1, end, ip6->nexthdr, 1);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
