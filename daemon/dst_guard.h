/* Where a destination lies, as the kernel's routing tables say: the router
 * itself, a network it is attached to, or beyond a gateway. Intercepted
 * flows and datagrams, and SOCKS requests, are judged with it, so that no
 * client can reach the router's own services, loop sockgated into itself,
 * or step around the router's forwarding rules into another LAN.
 *
 * Each worker owns one: an rtnetlink socket (RTM_GETROUTE, answered in the
 * same system call) and a cache of recent answers, kept for a second. */
#ifndef SOCKGATE_DST_GUARD_H
#define SOCKGATE_DST_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DST_GUARD_SLOTS 256

enum dst_kind {
	DST_ROUTED,    /* through a gateway, or no route at all */
	DST_CONNECTED, /* on a network an interface of the router is on */
	DST_LOCAL,     /* the router itself: local, anycast, broadcast, multicast */
};

struct dst_route {
	enum dst_kind kind;
	int oif; /* the interface the route leaves by (0: none) */
};

struct dst_guard;

/* Loopback, unspecified, 0.0.0.0/8, multicast, limited broadcast, ::/96
 * and ::ffff:0:0/96 (to be unmapped before asking): never a destination. */
int dst_special(const struct sockaddr_storage *addr);
/* Link-local (169.254.0.0/16, fe80::/10). */
int dst_link_local(const struct sockaddr_storage *addr);

/* Parses the kernel's answer to one RTM_GETROUTE (RTM_F_FIB_MATCH) with
 * sequence number seq: 0 and *out, or -errno (the kernel's error, or
 * -EBADMSG for an answer that is not one). No route at all is DST_ROUTED. */
int dst_route_parse(const void *buf, size_t len, uint32_t seq, struct dst_route *out);

/* NULL on failure (errno set). */
struct dst_guard *dst_guard_new(void);
void dst_guard_free(struct dst_guard *g);
/* The route to addr (port ignored): 0, or -errno when the kernel could not
 * be asked (callers refuse then: fail closed). */
int dst_guard_route(struct dst_guard *g, const struct sockaddr_storage *addr, uint64_t now_ms,
		    struct dst_route *out);
/* 1 if addr is special or the router's own, or cannot be judged; else 0. */
int dst_guard_is_local(struct dst_guard *g, const struct sockaddr_storage *addr, uint64_t now_ms);
/* For an intercepted flow or datagram from client to dst (unmapped): NULL
 * if it may be relayed, else why not. The rules never intercept the
 * router's own addresses, so such a destination can only be a direct hit on
 * a listener of ours or a loop. With cfg's bypass_connected, a destination
 * on a network of another interface than the client's is refused too (the
 * router's forward rules would never see that flow); cfg's [intake]
 * deny_dst is refused as well. */
struct config;
const char *dst_guard_intercepted(struct dst_guard *g, const struct config *cfg,
				  const struct sockaddr_storage *client,
				  const struct sockaddr_storage *dst, uint64_t now_ms);

#endif
