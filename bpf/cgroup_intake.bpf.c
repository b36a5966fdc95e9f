// SPDX-License-Identifier: GPL-2.0
/* The router's own processes, by cgroup: their TCP connects are sent to
 * sockgated's redirect listener on loopback, and sockgated reads the
 * original destination with the same getsockopt(SO_ORIGINAL_DST) it uses
 * after nftables REDIRECT.
 *
 *   connect4/6 (intercepted cgroups): remember the destination in the
 *     socket's storage, rewrite it to the listener.
 *   sockops (cgroup2 root): at TCP_CONNECT the local port is known, so the
 *     destination is published under (local address, port); when
 *     sockgated's socket for that connection is established, it is moved
 *     onto that socket's storage and the entry deleted (not at the
 *     client's close, which races with the accept).
 *   getsockopt (cgroup2 root): SO_ORIGINAL_DST answered from the storage.
 *   getpeername4/6 (intercepted cgroups): the client's getpeername() says
 *     where it connected to, not the listener.
 * Only UAPI headers: no BTF needed at run time. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "intake.h"
#include "maps.bpf.h"

#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define SOL_IP		0
#define SOL_IPV6	41
#define SO_ORIGINAL_DST 80 /* IP6T_SO_ORIGINAL_DST is 80 too */

/* set by the loader before load */
const volatile __u16 redirect_port = 0; /* host order */
const volatile __u32 daemon_mark = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct intake_endpoint);
} orig_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct intake_endpoint);
	__type(value, struct intake_endpoint);
	__uint(max_entries, 65536);
} pending SEC(".maps");

BYPASS_MAP(cg_bypass4, struct intake_lpm4);

BYPASS_MAP(cg_bypass6, struct intake_lpm6);

COUNTERS_MAP(cg_counters, CGROUP_COUNTERS)

static __always_inline int is_v4_mapped(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* An endpoint of family, IPv4 address v4 or IPv6 address v6, port (network
 * order); IPv4-mapped IPv6 becomes IPv4, so both sides of a connection
 * name it alike. */
static __always_inline void endpoint(struct intake_endpoint *e, __u32 family, __u32 v4,
				     const __u32 v6[4], __u16 port)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->port = port;
	if (family == AF_INET6 && !is_v4_mapped(v6)) {
		e->family = AF_INET6;
		__builtin_memcpy(e->addr, v6, 16);
		return;
	}
	e->family = AF_INET;
	if (family == AF_INET6)
		v4 = v6[3];
	__builtin_memcpy(e->addr, &v4, 4);
}

static __always_inline int bypassed4(__u32 ip)
{
	struct intake_lpm4 key = { .prefixlen = 32 };

	if ((bpf_ntohl(ip) >> 24) == 127)
		return 1;
	__builtin_memcpy(key.addr, &ip, 4);
	return bpf_map_lookup_elem(&cg_bypass4, &key) != NULL;
}

/* Remembers where the socket was going; 0 when it must go there as is. */
static __always_inline int remember(struct bpf_sock_addr *ctx, __u32 v4, const __u32 v6[4])
{
	struct intake_endpoint *o;

	if (ctx->type != SOCK_STREAM || !ctx->sk || ctx->sk->mark == daemon_mark)
		return 0;
	o = bpf_sk_storage_get(&orig_dst, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return 0;
	endpoint(o, ctx->user_family, v4, v6, (__u16)ctx->user_port);
	count(CGROUP_REDIRECTED);
	return 1;
}

SEC("cgroup/connect4")
int intake_connect4(struct bpf_sock_addr *ctx)
{
	__u32 none[4] = {};

	if (bypassed4(ctx->user_ip4) || !remember(ctx, ctx->user_ip4, none))
		return 1;
	ctx->user_ip4 = bpf_htonl(0x7f000001);
	ctx->user_port = bpf_htons(redirect_port);
	return 1;
}

SEC("cgroup/connect6")
int intake_connect6(struct bpf_sock_addr *ctx)
{
	__u32 ip6[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	struct intake_lpm6 key = { .prefixlen = 128 };

	if (is_v4_mapped(ip6)) {
		if (bypassed4(ip6[3]))
			return 1;
	} else {
		if (!ip6[0] && !ip6[1] && !ip6[2] && ip6[3] == bpf_htonl(1))
			return 1; /* ::1 */
		__builtin_memcpy(key.addr, ip6, 16);
		if (bpf_map_lookup_elem(&cg_bypass6, &key))
			return 1;
	}
	if (!remember(ctx, 0, ip6))
		return 1;
	/* ::1, the IPv6 listener; a mapped destination stays IPv4 */
	if (is_v4_mapped(ip6)) {
		ctx->user_ip6[3] = bpf_htonl(0x7f000001);
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = 0;
		ctx->user_ip6[3] = bpf_htonl(1);
	}
	ctx->user_port = bpf_htons(redirect_port);
	return 1;
}

SEC("sockops")
int intake_sockops(struct bpf_sock_ops *ops)
{
	struct bpf_sock *sk = ops->sk; /* read once: the verifier tracks this copy */
	struct intake_endpoint key, *o;
	__u32 v6[4];

	if (!sk)
		return 1;
	if (ops->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		o = bpf_sk_storage_get(&orig_dst, sk, 0, 0);
		if (!o)
			return 1;
		v6[0] = ops->local_ip6[0];
		v6[1] = ops->local_ip6[1];
		v6[2] = ops->local_ip6[2];
		v6[3] = ops->local_ip6[3];
		/* local_port is in host order */
		endpoint(&key, ops->family, ops->local_ip4, v6, bpf_htons((__u16)ops->local_port));
		bpf_map_update_elem(&pending, &key, o, BPF_ANY);
		count(CGROUP_PUBLISHED);
	} else if (ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
		struct intake_endpoint *s;
		__u32 rp = ops->remote_port;

		v6[0] = ops->remote_ip6[0];
		v6[1] = ops->remote_ip6[1];
		v6[2] = ops->remote_ip6[2];
		v6[3] = ops->remote_ip6[3];
		/* network order; older kernels put it in the upper half */
		endpoint(&key, ops->family, ops->remote_ip4, v6, (__u16)(rp >> 16 ? rp >> 16 : rp));
		o = bpf_map_lookup_elem(&pending, &key);
		if (!o)
			return 1;
		s = bpf_sk_storage_get(&orig_dst, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (s) {
			*s = *o;
			count(CGROUP_CLAIMED);
		}
		bpf_map_delete_elem(&pending, &key);
	}
	return 1;
}

SEC("cgroup/getsockopt")
int intake_getsockopt(struct bpf_sockopt *ctx)
{
	struct intake_endpoint *o;

	if (ctx->optname != SO_ORIGINAL_DST || (ctx->level != SOL_IP && ctx->level != SOL_IPV6) ||
	    !ctx->sk)
		return 1;
	o = bpf_sk_storage_get(&orig_dst, ctx->sk, 0, 0);
	if (!o)
		return 1;
	if (o->family == AF_INET) {
		struct sockaddr_in *sin = ctx->optval;
		if ((void *)(sin + 1) > ctx->optval_end)
			return 1;
		__builtin_memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_port = o->port;
		__builtin_memcpy(&sin->sin_addr, o->addr, 4);
		ctx->optlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = ctx->optval;
		if ((void *)(sin6 + 1) > ctx->optval_end)
			return 1;
		__builtin_memset(sin6, 0, sizeof(*sin6));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = o->port;
		__builtin_memcpy(&sin6->sin6_addr, o->addr, 16);
		ctx->optlen = sizeof(*sin6);
	}
	ctx->retval = 0;
	count(CGROUP_ANSWERED);
	return 1;
}

SEC("cgroup/getpeername4")
int intake_getpeername4(struct bpf_sock_addr *ctx)
{
	struct intake_endpoint *o;
	__u32 ip;

	if (!ctx->sk)
		return 1;
	o = bpf_sk_storage_get(&orig_dst, ctx->sk, 0, 0);
	if (!o || o->family != AF_INET)
		return 1;
	__builtin_memcpy(&ip, o->addr, 4);
	ctx->user_ip4 = ip;
	ctx->user_port = o->port;
	return 1;
}

SEC("cgroup/getpeername6")
int intake_getpeername6(struct bpf_sock_addr *ctx)
{
	struct intake_endpoint *o;
	__u32 ip[4];

	if (!ctx->sk)
		return 1;
	o = bpf_sk_storage_get(&orig_dst, ctx->sk, 0, 0);
	if (!o)
		return 1;
	if (o->family == AF_INET) {
		/* an IPv6 socket that connected to a mapped IPv4 address */
		ip[0] = 0;
		ip[1] = 0;
		ip[2] = bpf_htonl(0xffff);
		__builtin_memcpy(&ip[3], o->addr, 4);
	} else {
		__builtin_memcpy(ip, o->addr, 16);
	}
	ctx->user_ip6[0] = ip[0];
	ctx->user_ip6[1] = ip[1];
	ctx->user_ip6[2] = ip[2];
	ctx->user_ip6[3] = ip[3];
	ctx->user_port = o->port;
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
