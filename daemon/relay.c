/* A worker's relay: setting it up, switching its configuration, tearing it
 * down (see relay.h). The flows themselves are flow.c's. */
#include <errno.h>
#include <string.h>

#include "sockgate/config.h"
#include "sockgate/log.h"
#include "sockgate/neigh.h"
#include "dst_guard.h"
#include "generation.h"
#include "relay.h"
#include "upstream_live.h"

#define PIPES_KEPT 64

const char *const relay_fail_names[RELAY_FAIL_KINDS] = {
	"none",
	"general_failure",
	"not_allowed",
	"network_unreachable",
	"host_unreachable",
	"refused",
	"timed_out",
	"command_unsupported",
	"address_type_unsupported",
	"loop",
};

const char *const relay_dns_rcode_names[DNS_RCODE_KINDS] = {
	"noerror", "formerr", "servfail", "nxdomain", "notimp", "refused", "other",
};

const char *const relay_udp_drop_names[UDP_DROP_KINDS] = {
	[UDP_DROP_UNSUPPORTED] = "unsupported",
	[UDP_DROP_QUEUE_FULL] = "queue_full",
	[UDP_DROP_UPSTREAM_DOWN] = "upstream_down",
	[UDP_DROP_NO_ROOM] = "no_room",
	[UDP_DROP_TOO_BIG] = "too_big",
	[UDP_DROP_MALFORMED] = "malformed",
	[UDP_DROP_SEND_FAILED] = "send_failed",
	[UDP_DROP_LOOP] = "loop",
};

const char *const relay_udp_send_error_names[UDP_SEND_ERROR_KINDS] = {
	[UDP_SEND_EAGAIN] = "EAGAIN",
	[UDP_SEND_ENOBUFS] = "ENOBUFS",
	[UDP_SEND_ECONNREFUSED] = "ECONNREFUSED",
	[UDP_SEND_EHOSTUNREACH] = "EHOSTUNREACH",
	[UDP_SEND_ENETUNREACH] = "ENETUNREACH",
	[UDP_SEND_EMSGSIZE] = "EMSGSIZE",
	[UDP_SEND_EPERM] = "EPERM",
	[UDP_SEND_EADDRINUSE] = "EADDRINUSE",
	[UDP_SEND_EADDRNOTAVAIL] = "EADDRNOTAVAIL",
	[UDP_SEND_EMFILE] = "EMFILE",
	[UDP_SEND_OTHER] = "other",
};

enum udp_send_error relay_udp_send_error_kind(int err)
{
	switch (err) {
	case EAGAIN:
		return UDP_SEND_EAGAIN;
	case ENOBUFS:
		return UDP_SEND_ENOBUFS;
	case ECONNREFUSED:
		return UDP_SEND_ECONNREFUSED;
	case EHOSTUNREACH:
	case EHOSTDOWN:
		return UDP_SEND_EHOSTUNREACH;
	case ENETUNREACH:
	case ENETDOWN:
		return UDP_SEND_ENETUNREACH;
	case EMSGSIZE:
		return UDP_SEND_EMSGSIZE;
	case EPERM:
	case EACCES:
		return UDP_SEND_EPERM;
	case EADDRINUSE:
		return UDP_SEND_EADDRINUSE;
	case EADDRNOTAVAIL:
		return UDP_SEND_EADDRNOTAVAIL;
	case EMFILE:
	case ENFILE:
		return UDP_SEND_EMFILE;
	default:
		return UDP_SEND_OTHER;
	}
}

int relay_init(struct relay *r, unsigned index, struct generation *gen,
	       const struct relay_shared *shared)
{
	int rc;

	memset(r, 0, sizeof(*r));
	rc = loop_init(&r->loop, index, shared->budget);
	if (rc < 0) {
		log_error("worker %u: epoll: %s", index, strerror(-rc));
		return rc;
	}
	r->index = index;
	r->gen = generation_ref(gen);
	r->cfg = gen->cfg;
	r->shared = shared;
	timer_queue_init(&r->loop, &r->connect_timers);
	timer_queue_init(&r->loop, &r->handshake_timers);
	timer_queue_init(&r->loop, &r->idle_timers);
	timer_queue_init(&r->loop, &r->bind_timers);
	timer_queue_init(&r->loop, &r->udp_setup_timers);
	timer_queue_init(&r->loop, &r->dns_timers);
	timer_queue_init(&r->loop, &r->sniff_timers);
	timer_queue_init(&r->loop, &r->dns_idle_timers);
	list_init(&r->flows);
	list_init(&r->resume);
	list_init(&r->pipe_waiters);
	list_init(&r->free_flows);
	list_init(&r->dead_flows);
	pipe_pool_init(&r->pipes, PIPES_KEPT, gen->cfg->pipe_size, shared->budget,
		       &r->counters.pipes);
	r->dst_guard = dst_guard_new();
	if (!r->dst_guard) {
		rc = -errno;
		log_error("worker %u: rtnetlink socket for route lookups: %s", index,
			  strerror(errno));
		relay_destroy(r);
		return rc;
	}
	return 0;
}

void relay_switch_generation(struct relay *r, struct generation *next)
{
	const struct config *cfg = next->cfg;

	/* new flows use it; live ones keep theirs */
	generation_unref(r->gen);
	r->gen = next;
	r->cfg = cfg;
	pipe_pool_set_size(&r->pipes, cfg->pipe_size);
	timer_queue_clamp(&r->loop, &r->connect_timers, cfg->connect_timeout_ms);
	timer_queue_clamp(&r->loop, &r->handshake_timers, cfg->handshake_timeout_ms);
	timer_queue_clamp(&r->loop, &r->idle_timers, cfg->idle_timeout_ms);
	timer_queue_clamp(&r->loop, &r->bind_timers, cfg->socks.bind_timeout_ms);
	timer_queue_clamp(&r->loop, &r->udp_setup_timers,
			  cfg->connect_timeout_ms + cfg->handshake_timeout_ms);
	timer_queue_clamp(&r->loop, &r->dns_timers, config_dns_attempt_ms(&cfg->dns));
	timer_queue_clamp(&r->loop, &r->sniff_timers, cfg->sniff_timeout_ms);
}

void relay_destroy(struct relay *r)
{
	dst_guard_free(r->dst_guard);
	r->dst_guard = NULL;
	neigh_free(r->neigh);
	r->neigh = NULL;
	generation_unref(r->gen);
	r->gen = NULL;
	pipe_pool_destroy(&r->pipes);
	loop_destroy(&r->loop);
}

const struct upstream *relay_route(struct relay *r, struct generation *gen,
				   const struct sockaddr_storage *client,
				   const struct sockaddr_storage *dst, const char *name,
				   struct route_why *why)
{
	const struct config *cfg = gen->cfg;
	struct route_query q = { .src = client, .dst = dst, .name = name };
	const struct upstream *up;
	uint8_t mac[6];

	if (cfg->rules_need_mac) {
		if (!r->neigh && !(r->neigh = neigh_new()) && loop_log_allowed(&r->loop))
			log_warn("worker %u: rtnetlink socket for the neighbour table: %s; [route] "
				 "rules by MAC match nothing",
				 r->index, strerror(errno));
		if (r->neigh && neigh_mac(r->neigh, client, r->loop.now_ms, mac) == 0)
			q.mac = mac;
	}
	up = config_route_flow(cfg, &q, why);
	/* a LAN device talking to a proxy itself: what a bypass entry does */
	if (up->url.kind != UPSTREAM_DIRECT && dst->ss_family &&
	    upstream_live_is_upstream_address(&gen->live, dst))
		up = &cfg->upstreams[0];
	return up;
}
