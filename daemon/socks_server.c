/* SOCKS server flows. A connection from a SOCKS listener is checked against
 * allow and the per-client limit, then its handshake is read and fed to the
 * codec; whatever the client sends behind its request is passed to the
 * target first once the tunnel is up, then the relay splices the rest.
 * CONNECT becomes an ordinary flow through [route]; BIND and UDP ASSOCIATE
 * are served here. Until the request has its answer, every failure is
 * reported with the reply code the protocol has for it. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "http_proxy.h"
#include "login.h"
#include "client_limit.h"
#include "fd_budget.h"
#include "flow_core.h"
#include "socks_handshake.h"
#include "socks_server.h"
#include "proxy_target.h"
#include "socks_session.h"
#include "socks_udp.h"

#define FLOW_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static const struct flow_frontend socks_frontend;
static int socks_server_tunnel_up(struct flow *f);

static void socks_read_request(struct flow *f);
static void socks_start_bind(struct flow *f);

static void socks_session_free(struct flow *f)
{
	struct socks_session *s = f->socks;

	if (!s)
		return;
	proxy_target_end(&s->dest);
	socks_udp_free(f);
	login_cancel(&s->auth);
	explicit_bzero(&s->hs, sizeof(s->hs));
	free(s);
	f->socks = NULL;
	f->target.hostname = NULL; /* it pointed into the session */
}

static void socks_server_session_end(struct flow *f)
{
	socks_session_free(f);
}

void socks_server_accept(struct relay *r, int fd, const struct sockaddr_storage *client)
{
	const struct socks_config *sc = &r->cfg->socks;
	char a[ADDR_STRLEN];
	struct socks_session *s;
	struct flow *f;
	int rc, counted;

	if (sc->n_allow && !config_cidrs_hold(sc->allow_table, client)) {
		/* Not even a reply byte for strangers. */
		log_debug("socks: %s is not in allow, closed", addr_format(client, a, sizeof(a)));
		close(fd);
		return;
	}
	counted = client_limit_take(r->shared->limits, client);
	if (counted < 0) {
		log_debug("socks: %s has %u connections already (max_conns_per_client), closed",
			  addr_format(client, a, sizeof(a)), sc->max_conns_per_client);
		close(fd);
		return;
	}
	f = flow_new(r, fd, client, INTAKE_SOCKS);
	if (!f) {
		if (counted)
			client_limit_release(r->shared->limits, client);
		return;
	}
	f->fe = &socks_frontend;
	f->counted_in = counted ? r->shared->limits : NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("out of memory for a SOCKS session");
		flow_destroy(f, CLOSE_RESET);
		return;
	}
	f->socks = s;
	s->flow = f;
	socks_handshake_init(&s->hs, sc->auth_password);
	f->state = FLOW_REQUEST;
	flow_set_timer(f, &r->handshake_timers, r->cfg->handshake_timeout_ms);
	/* Edge-triggered: bytes already queued raise an event on adding. */
	rc = loop_add(&r->loop, fd, &f->client_ev, FLOW_EVENTS);
	if (rc < 0) {
		log_error("socks: epoll: %s", strerror(-rc));
		flow_destroy(f, CLOSE_RESET);
	}
}

/* Sends the RFC 1929 status; on success the request may follow. Returns
 * 0, or -1 when the flow was closed. */
static int socks_auth_finish(struct flow *f, int ok, int throttled)
{
	struct socks_session *s = f->socks;
	uint8_t out[SOCKS_HANDSHAKE_OUT_MAX];
	size_t out_len = 0;
	char a[ADDR_STRLEN];

	socks_handshake_auth_done(&s->hs, ok, out, &out_len);
	if (socks_send(f, out, out_len) < 0)
		return -1;
	if (!ok) {
		/* a locked-out address was logged once already */
		if (!throttled && loop_log_allowed(&f->r->loop))
			log_info("socks: %s: user \"%s\" failed to log in",
				 addr_format(&f->client, a, sizeof(a)), s->hs.user);
		flow_destroy(f, CLOSE_FIN);
		return -1;
	}
	return 0;
}

static void socks_login_done(void *owner, int ok, int throttled)
{
	struct flow *f = owner;

	f->socks->auth = NULL;
	if (socks_auth_finish(f, ok, throttled) == 0)
		socks_read_request(f);
}

/* RFC 1929 credentials are in s->hs: check them. 1 = accepted already
 * (go on reading), 0 = with the verifier, -1 = flow closed. */
static int socks_check_password(struct flow *f)
{
	struct socks_session *s = f->socks;
	int throttled;

	switch (login_check(f->r, f, &f->client, s->hs.user, s->hs.pass, socks_login_done, &s->auth,
			    &throttled)) {
	case LOGIN_OK:
		return socks_auth_finish(f, 1, 0) < 0 ? -1 : 1;
	case LOGIN_PENDING:
		return 0;
	default:
		socks_auth_finish(f, 0, throttled);
		return -1;
	}
}

static int socks_server_retry(struct flow *f, const char *desc, const char *reason)
{
	return f->socks ? proxy_target_retry(&f->socks->dest, desc, reason) : 0;
}

/* BIND (RFC 1928 section 4): listen where the expected peer can reach us,
 * answer with that address, then answer again when the peer connects. */
static void socks_start_bind(struct flow *f)
{
	const struct config *cfg = f->r->cfg;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char a[ADDR_STRLEN];
	int fd = -1, probe;

	if (f->up->url.kind != UPSTREAM_DIRECT) {
		flow_fail_rep(f, REP_COMMAND_UNSUPPORTED,
			      "BIND: the route to this peer is upstream \"%s\"; BIND is served "
			      "only where the route is direct",
			      f->up->name);
		return;
	}
	/* The source address the kernel would use toward the peer: connecting
	 * a UDP socket picks it without sending anything. */
	probe = socket(f->target.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe < 0 ||
	    connect(probe, (const struct sockaddr *)&f->target.addr, addr_len(&f->target.addr)) <
		0 ||
	    getsockname(probe, (struct sockaddr *)&local, &len) < 0) {
		int err = errno;
		if (probe >= 0)
			close(probe);
		flow_fail_rep(f, flow_rep_for_errno(err), "BIND: no route to %s: %s",
			      addr_format(&f->target.addr, a, sizeof(a)), strerror(err));
		return;
	}
	close(probe);
	addr_set_port(&local, 0);
	fd = socket(local.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		flow_fail_rep(f, REP_GENERAL_FAILURE, "BIND: socket: %s", strerror(errno));
		return;
	}
	f->upstream_fd = fd;
	fd_budget_take(f->r->loop.budget, 1);
	len = sizeof(local);
	if (relay_mark_socket(fd, cfg->mark) < 0 ||
	    bind(fd, (const struct sockaddr *)&local, addr_len(&local)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &len) < 0 ||
	    loop_add(&f->r->loop, fd, &f->upstream_ev, EPOLLIN) < 0) {
		flow_fail_rep(f, REP_GENERAL_FAILURE, "BIND: listening on %s: %s",
			      addr_format(&local, a, sizeof(a)), strerror(errno));
		return;
	}
	f->state = FLOW_BIND_WAIT;
	flow_set_timer(f, &f->r->bind_timers, cfg->socks.bind_timeout_ms);
	/* The first reply; the second is still owed. */
	if (socks_reply(f, REP_SUCCEEDED, &local) < 0)
		return;
	if (log_get_level() >= LOG_LEVEL_DEBUG) {
		char b[ADDR_STRLEN];
		log_debug("flow %u.%llu: BIND listening on %s for %s", f->r->index,
			  (unsigned long long)f->id, addr_format(&local, a, sizeof(a)),
			  addr_format(&f->target.addr, b, sizeof(b)));
	}
}

/* The BIND listener is readable: take the expected peer's connection. */
static void socks_bind_accept(struct flow *f)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(f->upstream_fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		addr_unmap_v4(&peer);
		if (!addr_same_ip(&peer, &f->target.addr)) {
			if (loop_log_allowed(&f->r->loop))
				log_info(
				    "flow %u.%llu: BIND: connection from %s refused, expecting %s",
				    f->r->index, (unsigned long long)f->id,
				    addr_format(&peer, a, sizeof(a)),
				    addr_format(&f->target.addr, b, sizeof(b)));
			close(fd);
			continue;
		}
		/* The listener is done; the peer's socket takes its place. */
		close(f->upstream_fd);
		f->upstream_fd = fd;
		if (loop_add(&f->r->loop, fd, &f->upstream_ev, FLOW_EVENTS) < 0) {
			flow_fail_rep(f, REP_GENERAL_FAILURE, "BIND: epoll: %s", strerror(errno));
			return;
		}
		f->target.addr = peer;
		f->upstream_readable = 1; /* the peer may have spoken already */
		if (socks_server_tunnel_up(f) == 0)
			flow_start_relay(f);
		return;
	}
}

static void socks_request(struct flow *f)
{
	struct socks_session *s = f->socks;
	struct relay *r = f->r;

	s->reply_owed = 1;
	f->target = s->hs.target;
	if (s->hs.cmd == SOCKS_CMD_UDP_ASSOCIATE) {
		if (socks_udp_open(f) == 0)
			log_debug("flow %u.%llu: UDP association up", r->index,
				  (unsigned long long)f->id);
		return;
	}
	s->dest.name_upstream = s->hs.cmd == SOCKS_CMD_CONNECT;
	s->dest.open = s->hs.cmd == SOCKS_CMD_BIND ? socks_start_bind : NULL;
	proxy_target_start(f, &s->dest);
}

/* Reads what the client sent into the handshake codec. Bytes behind the
 * request (a client that does not wait for the reply) stay in s->in and go
 * to the target once the tunnel is up. */
/* Fills s->in when the codec used it all: 1 with bytes, 0 when the
 * socket has none now, -1 when f was destroyed. */
static int socks_fill_input(struct flow *f)
{
	struct socks_session *s = f->socks;
	char a[ADDR_STRLEN];
	ssize_t n;

	if (s->in_len)
		return 1;
	if (s->in_drained) {
		/* a short read took everything; the next bytes raise a new edge */
		s->in_drained = 0;
		return 0;
	}
	n = recv(f->client_fd, s->in, sizeof(s->in), 0);
	if (n == 0) {
		log_debug("flow %u.%llu: SOCKS client %s left during the handshake", f->r->index,
			  (unsigned long long)f->id, addr_format(&f->client, a, sizeof(a)));
		flow_destroy(f, CLOSE_FIN);
		return -1;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		flow_destroy(f, CLOSE_RESET);
		return -1;
	}
	s->in_len = (size_t)n;
	s->in_drained = (size_t)n < sizeof(s->in);
	return 1;
}

static void socks_read_request(struct flow *f)
{
	struct socks_session *s = f->socks;
	char a[ADDR_STRLEN];
	int rc;

	while ((rc = socks_fill_input(f)) > 0) {
		uint8_t out[SOCKS_HANDSHAKE_OUT_MAX];
		size_t consumed = 0, out_len = 0;
		enum socks_handshake_result res;

		/* the port is mixed: an HTTP method instead of a SOCKS version */
		if (!s->hs.version && f->r->cfg->socks.http && http_proxy_first_byte(s->in[0])) {
			http_proxy_take(f, s->in, s->in_len);
			return;
		}

		res = socks_handshake_feed(&s->hs, s->in, s->in_len, &consumed, out, &out_len);
		memmove(s->in, s->in + consumed, s->in_len - consumed);
		s->in_len -= consumed;
		/* what the codec took (a password among it) leaves no copy */
		explicit_bzero(s->in + s->in_len, consumed);
		if (out_len && socks_send(f, out, out_len) < 0)
			return;
		switch (res) {
		case SOCKS_HS_MORE:
			continue;
		case SOCKS_HS_ERROR:
			if (loop_log_allowed(&f->r->loop))
				log_info("flow %u.%llu: SOCKS client %s: %s; closed", f->r->index,
					 (unsigned long long)f->id,
					 addr_format(&f->client, a, sizeof(a)), s->hs.reason);
			flow_destroy(f, CLOSE_FIN);
			return;
		case SOCKS_HS_AUTH:
			rc = socks_check_password(f);
			if (rc < 0)
				return; /* refused: f is gone */
			if (rc == 0) {
				/* the verdict comes later: read again then */
				s->in_drained = 0;
				return;
			}
			continue;
		case SOCKS_HS_REQUEST:
			/* more may wait in the socket: the relay looks first */
			f->client_readable = !s->in_drained;
			socks_request(f);
			return;
		}
	}
}

static void socks_server_client_event(struct flow *f, uint32_t events)
{
	switch (f->state) {
	case FLOW_REQUEST:
		if (events & (EPOLLERR | EPOLLHUP)) {
			flow_destroy(f, CLOSE_RESET);
			return;
		}
		if ((events & (EPOLLIN | EPOLLRDHUP)) && !f->socks->auth)
			socks_read_request(f);
		return;
	case FLOW_BIND_WAIT:
		/* the client's bytes wait for the peer; its leaving ends it */
		if (events & (EPOLLIN | EPOLLRDHUP))
			f->client_readable = 1;
		if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
			flow_destroy(f, CLOSE_RESET);
		return;
	case FLOW_UDP:
		/* The association lives exactly as long as this connection. */
		for (;;) {
			uint8_t sink[512];
			ssize_t n = recv(f->client_fd, sink, sizeof(sink), 0);
			if (n > 0)
				continue;
			if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				log_debug("flow %u.%llu: UDP association ended by its client "
					  "(%llu bytes up, %llu down)",
					  f->r->index, (unsigned long long)f->id,
					  (unsigned long long)f->bytes[DIR_UP],
					  (unsigned long long)f->bytes[DIR_DOWN]);
				flow_destroy(f, CLOSE_FIN);
			}
			return;
		}
	default:
		return;
	}
}

static int socks_server_tunnel_up(struct flow *f)
{
	struct sockaddr_storage bnd;
	socklen_t len = sizeof(bnd);
	const struct sockaddr_storage *reported = &bnd;

	if (!f->socks)
		return 0; /* answered already */
	if (f->state == FLOW_BIND_WAIT || f->upstream_fd < 0) {
		/* BIND's second reply names the peer that connected */
		reported = &f->target.addr;
	} else if (getsockname(f->upstream_fd, (struct sockaddr *)&bnd, &len) < 0) {
		reported = NULL;
	}
	if (socks_reply(f, REP_SUCCEEDED, reported) < 0)
		return -1;
	f->socks->reply_owed = 0;
	/* The outgoing socket is fresh (or, for BIND, just accepted): its
	 * send buffer takes these few bytes at once. */
	if (f->socks->in_len) {
		ssize_t n = send(f->upstream_fd, f->socks->in, f->socks->in_len, MSG_NOSIGNAL);
		if (n != (ssize_t)f->socks->in_len)
			return flow_fail_rep(
			    f, REP_GENERAL_FAILURE, "passing the client's first %zu bytes on: %s",
			    f->socks->in_len, n < 0 ? strerror(errno) : "short write");
	}
	socks_session_free(f);
	return 0;
}

static int socks_server_reply_failure(struct flow *f, uint8_t rep, const char *reason)
{
	struct socks_session *s = f->socks;

	(void)reason; /* the protocol has a code only */
	if (!s || !s->reply_owed)
		return 0;
	s->reply_owed = 0;
	/* best effort: the connection closes right after */
	{
		uint8_t out[SOCKS_REPLY_MAX];
		size_t n = socks_encode_reply(f, rep, NULL, out);
		if (send(f->client_fd, out, n, MSG_NOSIGNAL) < 0)
			return 0;
	}
	return 1;
}

static void socks_server_upstream_event(struct flow *f, uint32_t events)
{
	if (f->state == FLOW_BIND_WAIT)
		socks_bind_accept(f);
	else if (f->state == FLOW_UDP)
		socks_udp_targets_event(f, events);
}

/* What the relay core calls for a SOCKS flow. */
static const struct flow_frontend socks_frontend = {
	.name = "socks",
	.client_event = socks_server_client_event,
	.upstream_event = socks_server_upstream_event,
	.tunnel_up = socks_server_tunnel_up,
	.retry = socks_server_retry,
	.reply_failure = socks_server_reply_failure,
	.session_end = socks_server_session_end,
};
