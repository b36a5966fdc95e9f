/* Destination judgement from the kernel's routing tables (see dst_guard.h).
 * One RTM_GETROUTE with RTM_F_FIB_MATCH names the route a destination
 * matches: its type says whether the router itself answers (local routes,
 * including `ip route add local PREFIX dev lo` and IPv6 subnet-router
 * anycast, which no bind probe sees), and a kernel prefix route without a
 * gateway says the destination is on an attached network. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "dst_guard.h"
#include "fnv.h"

#define DST_GUARD_TTL_MS 1000

struct dst_slot {
	uint8_t key[17]; /* family, address */
	struct dst_route route;
	uint64_t expires_ms; /* 0 = empty */
};

struct dst_guard {
	struct mnl_socket *nl;
	uint32_t seq;
	struct dst_slot slots[DST_GUARD_SLOTS];
};

static const uint8_t *addr_bytes(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET
		   ? (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr
		   : (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
}

int dst_special(const struct sockaddr_storage *addr)
{
	const uint8_t *b = addr_bytes(addr);
	static const uint8_t zero[12], mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (addr->ss_family == AF_INET)
		return b[0] == 0 || b[0] == 127 || (b[0] & 0xf0) == 224 ||
		       (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255);
	if (addr->ss_family != AF_INET6)
		return 1;
	return b[0] == 0xff || !memcmp(b, zero, 12) || !memcmp(b, mapped, 12);
}

int dst_link_local(const struct sockaddr_storage *addr)
{
	const uint8_t *b = addr_bytes(addr);

	if (addr->ss_family == AF_INET)
		return b[0] == 169 && b[1] == 254;
	return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

static int route_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
		return MNL_CB_OK; /* newer than us: ignored */
	if (type == RTA_OIF && mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

/* One RTM_NEWROUTE answer into out. */
static int route_from_msg(const struct nlmsghdr *nlh, struct dst_route *out)
{
	const struct nlattr *tb[RTA_MAX + 1] = { 0 };
	const struct rtmsg *rtm;

	if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)))
		return -EBADMSG;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr, tb) != MNL_CB_OK)
		return -EBADMSG;
	out->oif = tb[RTA_OIF] ? (int)mnl_attr_get_u32(tb[RTA_OIF]) : 0;
	switch (rtm->rtm_type) {
	case RTN_LOCAL:
	case RTN_ANYCAST:
	case RTN_BROADCAST:
	case RTN_MULTICAST:
		out->kind = DST_LOCAL;
		break;
	case RTN_UNICAST:
		/* an attached network: the prefix route the kernel made for an
		 * interface address, with no gateway (and no multipath) */
		out->kind = rtm->rtm_protocol == RTPROT_KERNEL && rtm->rtm_dst_len &&
				    !tb[RTA_GATEWAY] && !tb[RTA_MULTIPATH] && !tb[RTA_VIA]
				? DST_CONNECTED
				: DST_ROUTED;
		break;
	default: /* unreachable, blackhole, prohibit, throw: nowhere */
		out->kind = DST_ROUTED;
		break;
	}
	return 0;
}

int dst_route_parse(const void *buf, size_t len, uint32_t seq, struct dst_route *out)
{
	/* walked by hand: mnl_nlmsg_ok compares a length above INT_MAX as
	 * negative, and would take it */
	for (size_t off = 0; len - off >= sizeof(struct nlmsghdr);) {
		const struct nlmsghdr *nlh = (const void *)((const uint8_t *)buf + off);

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off)
			return -EBADMSG;
		off += NLMSG_ALIGN(nlh->nlmsg_len) < len - off ? NLMSG_ALIGN(nlh->nlmsg_len)
							       : len - off;
		if (nlh->nlmsg_seq != seq)
			continue;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) || e->error >= 0)
				return -EBADMSG;
			/* no route at all: not ours, and a connect fails anyway */
			if (e->error == -ENETUNREACH || e->error == -EHOSTUNREACH ||
			    e->error == -EACCES || e->error == -EAGAIN) {
				*out = (struct dst_route){ .kind = DST_ROUTED };
				return 0;
			}
			return e->error;
		}
		return route_from_msg(nlh, out);
	}
	return -EBADMSG;
}

struct dst_guard *dst_guard_new(void)
{
	struct dst_guard *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!g->nl || mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = errno;
		dst_guard_free(g);
		errno = err;
		return NULL;
	}
	return g;
}

void dst_guard_free(struct dst_guard *g)
{
	if (!g)
		return;
	if (g->nl)
		mnl_socket_close(g->nl);
	free(g);
}

/* Asks the kernel. The answer is queued before sendto returns, so the
 * receive never waits; a stale answer from an earlier, failed ask is
 * skipped by its sequence number. */
static int ask_kernel(struct dst_guard *g, const struct sockaddr_storage *addr,
		      struct dst_route *out)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	int len = addr->ss_family == AF_INET ? 4 : 16, rc;
	uint32_t seq = ++g->seq;
	ssize_t n;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)addr->ss_family;
	rtm->rtm_dst_len = (uint8_t)(len * 8);
	rtm->rtm_flags = RTM_F_FIB_MATCH;
	mnl_attr_put(nlh, RTA_DST, (size_t)len, addr_bytes(addr));
	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (int tries = 0; tries < 4; tries++) {
		n = recv(mnl_socket_get_fd(g->nl), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		rc = dst_route_parse(buf, (size_t)n, seq, out);
		if (rc != -EBADMSG)
			return rc;
	}
	return -EBADMSG;
}

int dst_guard_route(struct dst_guard *g, const struct sockaddr_storage *addr, uint64_t now_ms,
		    struct dst_route *out)
{
	uint8_t key[17] = { (uint8_t)addr->ss_family };
	struct dst_slot *slot;
	int rc;

	if (addr->ss_family != AF_INET && addr->ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	memcpy(key + 1, addr_bytes(addr), addr->ss_family == AF_INET ? 4 : 16);
	slot = &g->slots[fnv1a(key, sizeof(key)) % DST_GUARD_SLOTS];
	if (slot->expires_ms > now_ms && !memcmp(slot->key, key, sizeof(key))) {
		*out = slot->route;
		return 0;
	}
	rc = ask_kernel(g, addr, out);
	if (rc < 0)
		return rc; /* not cached: the next flow asks again */
	memcpy(slot->key, key, sizeof(key));
	slot->route = *out;
	slot->expires_ms = now_ms + DST_GUARD_TTL_MS;
	return 0;
}

int dst_guard_is_local(struct dst_guard *g, const struct sockaddr_storage *addr, uint64_t now_ms)
{
	struct dst_route r;

	if (dst_special(addr))
		return 1;
	return dst_guard_route(g, addr, now_ms, &r) < 0 || r.kind == DST_LOCAL;
}

const char *dst_guard_intercepted(struct dst_guard *g, const struct config *cfg,
				  const struct sockaddr_storage *client,
				  const struct sockaddr_storage *dst, uint64_t now_ms)
{
	struct sockaddr_storage from = *client;
	struct dst_route to, back;

	if (dst_special(dst))
		return "destination is loopback, unspecified or multicast (never intercepted: a "
		       "direct hit or a loop)";
	if (dst_guard_route(g, dst, now_ms, &to) < 0)
		return "destination cannot be judged (route lookup failed); refused";
	if (to.kind == DST_LOCAL)
		return "destination is the router itself (never intercepted: a direct hit on "
		       "sockgated or a loop)";
	if (config_cidrs_hold(cfg->intake_deny_table, dst))
		return "destination refused by [intake] deny_dst";
	if (!cfg->bypass_connected || to.kind != DST_CONNECTED)
		return NULL;
	addr_unmap_v4(&from);
	if (dst_guard_route(g, &from, now_ms, &back) < 0)
		return "client's interface cannot be judged (route lookup failed); refused";
	/* the router's own traffic may reach what the router reaches */
	if (back.kind == DST_LOCAL || back.oif == to.oif)
		return NULL;
	return "destination is on a network of another interface of the router "
	       "(bypass_connected = yes)";
}
