/* DNS over TCP to one server (see dns_tcp.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "dns_frame.h"
#include "dns_tcp.h"
#include "upstream_live.h"
#include "fd_budget.h"
#include "generation.h"
#include "relay.h"
#include "upstream.h"

#define DNS_TCP_OUT_MAX (64u << 10) /* queries waiting to be written */
#define DNS_TCP_IN_MAX	(2 + 65535) /* one length prefix and its message */

enum dns_tcp_state {
	DNS_TCP_CLOSED,
	DNS_TCP_CONNECTING,
	DNS_TCP_HANDSHAKE, /* with the upstream */
	DNS_TCP_READY,
};

struct dns_tcp {
	struct ev ev;
	struct timer idle; /* closes it when nothing was asked for a while */
	struct relay *r;
	const struct dns_tcp_ops *ops;
	void *owner;
	struct generation *gen; /* holds up's config */
	const struct upstream *up;
	struct sockaddr_storage server;
	struct upstream_target target;
	enum dns_tcp_state state;
	unsigned answers; /* on this connection */
	int fd;
	uint32_t events; /* as registered */
	struct upstream_handshake hs;
	uint8_t hs_out[UPSTREAM_OUT_MAX];
	struct dns_frames frames; /* in: the handshake's reply, then answers */
};

static void dns_tcp_event(struct ev *ev, uint32_t events);
static void idle_expired(struct timer *t);

struct dns_tcp *dns_tcp_new(struct relay *r, const struct dns_tcp_ops *ops, void *owner,
			    struct generation *gen, const struct sockaddr_storage *server,
			    const struct upstream *up)
{
	struct dns_tcp *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ev.handle = dns_tcp_event;
	list_init(&t->idle.node);
	t->idle.fire = idle_expired;
	t->r = r;
	t->ops = ops;
	t->owner = owner;
	t->gen = generation_ref(gen);
	t->up = up;
	t->server = *server;
	t->target.addr = *server;
	t->fd = -1;
	return t;
}

void *dns_tcp_owner(const struct dns_tcp *t)
{
	return t->owner;
}

struct generation *dns_tcp_generation(const struct dns_tcp *t)
{
	return t->gen;
}

const struct upstream *dns_tcp_upstream(const struct dns_tcp *t)
{
	return t->up;
}

int dns_tcp_open(const struct dns_tcp *t)
{
	return t->state != DNS_TCP_CLOSED;
}

static void dns_tcp_close(struct dns_tcp *t)
{
	timer_cancel(&t->idle);
	loop_close(&t->r->loop, &t->fd, CLOSE_FIN);
	loop_fds_released(&t->r->loop);
	dns_frames_free(&t->frames);
	t->state = DNS_TCP_CLOSED;
}

void dns_tcp_free(struct dns_tcp *t)
{
	if (!t)
		return;
	dns_tcp_close(t);
	generation_unref(t->gen);
	t->ops = NULL; /* dead: an event later in this batch leaves it */
	loop_free_after_batch(&t->r->loop, t);
}

/* Whether err (0: an orderly end) ended a connection the server had
 * answered on: a server that closes after so many queries (dnsmasq after
 * 100) shows as a FIN, or as a reset or EPIPE when more queries were on
 * their way to it. */
static int server_ended(const struct dns_tcp *t, int err)
{
	return t->state == DNS_TCP_READY && t->answers &&
	       (err == 0 || err == EPIPE || err == ECONNRESET);
}

static void dns_tcp_down(struct dns_tcp *t, const char *why, int server_closed)
{
	const struct dns_tcp_ops *ops = t->ops;

	dns_tcp_close(t);
	ops->down(t, why, server_closed);
}

static void idle_expired(struct timer *tm)
{
	dns_tcp_close(container_of(tm, struct dns_tcp, idle));
}

static void want(struct dns_tcp *t, uint32_t events)
{
	if (events != t->events && loop_modify(&t->r->loop, t->fd, &t->ev, events) == 0)
		t->events = events;
}

/* Writes what waits (the handshake's bytes first); 0, or -1 after down. */
static int flush_out(struct dns_tcp *t)
{
	int rc = t->state == DNS_TCP_READY ? dns_frames_write(&t->frames, t->fd) : 0;

	if (rc < 0) {
		dns_tcp_down(t, strerror(-rc), server_ended(t, -rc));
		return -1;
	}
	want(t, EPOLLIN | EPOLLRDHUP | (t->frames.out_len ? EPOLLOUT : 0));
	return 0;
}

/* Hands over every whole answer read (an empty message is none). */
static void take_messages(struct dns_tcp *t)
{
	const uint8_t *msg;
	size_t off = 0, len;

	while (dns_frames_next(&t->frames, &off, &msg, &len))
		if (len) {
			t->answers++;
			t->ops->answer(t, msg, len);
		}
	dns_frames_consume(&t->frames, off);
}

/* The upstream's handshake answered with the bytes at in: DONE leaves
 * what followed it as the first DNS bytes. */
static void handshake_read(struct dns_tcp *t)
{
	size_t used = 0;
	enum upstream_result res =
	    upstream_handshake_feed(&t->hs, t->frames.in, t->frames.in_len, &used, t->hs_out);

	if (res == UPSTREAM_ERROR) {
		dns_tcp_down(t, t->hs.reason, 0);
		return;
	}
	dns_frames_consume(&t->frames, used);
	if (t->hs.out_len && send(t->fd, t->hs_out, t->hs.out_len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
				 (ssize_t)t->hs.out_len) {
		dns_tcp_down(t, "sending to the upstream", 0);
		return;
	}
	if (res == UPSTREAM_DONE) {
		t->state = DNS_TCP_READY;
		if (flush_out(t) == 0)
			take_messages(t);
	}
}

static void read_in(struct dns_tcp *t)
{
	ssize_t n;

	if (!t->frames.in && !(t->frames.in = malloc(DNS_TCP_IN_MAX))) {
		dns_tcp_down(t, "out of memory", 0);
		return;
	}
	n = recv(t->fd, t->frames.in + t->frames.in_len, DNS_TCP_IN_MAX - t->frames.in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		int err = n == 0 ? 0 : errno;
		dns_tcp_down(t, err ? strerror(err) : "closed by the far side",
			     server_ended(t, err));
		return;
	}
	t->frames.in_len += (size_t)n;
	if (t->state == DNS_TCP_HANDSHAKE)
		handshake_read(t);
	else
		take_messages(t);
}

/* Connected: the upstream's handshake, or straight to the queries. */
static void connected(struct dns_tcp *t)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		dns_tcp_down(t, strerror(err), 0);
		return;
	}
	if (t->up->url.kind == UPSTREAM_DIRECT) {
		t->state = DNS_TCP_READY;
		flush_out(t);
		return;
	}
	t->state = DNS_TCP_HANDSHAKE;
	if (upstream_handshake_begin(&t->hs, &t->up->url, &t->target, t->up->pipeline, t->hs_out) <
		0 ||
	    send(t->fd, t->hs_out, t->hs.out_len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
		(ssize_t)t->hs.out_len) {
		dns_tcp_down(t, t->hs.reason[0] ? t->hs.reason : "sending to the upstream", 0);
		return;
	}
	want(t, EPOLLIN | EPOLLRDHUP);
}

static void dns_tcp_event(struct ev *ev, uint32_t events)
{
	struct dns_tcp *t = container_of(ev, struct dns_tcp, ev);

	if (!t->ops || t->fd < 0)
		return; /* freed or closed earlier in this batch */
	if (t->state == DNS_TCP_CONNECTING) {
		connected(t);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		read_in(t);
	if (t->fd >= 0 && (events & EPOLLOUT))
		flush_out(t);
}

/* A marked, non-blocking connection to the upstream (or the server). */
static int dns_tcp_connect(struct dns_tcp *t)
{
	struct sockaddr_storage up_addr;
	const struct sockaddr_storage *to =
	    t->up->url.kind == UPSTREAM_DIRECT ? &t->server : &up_addr;
	uint32_t mark = t->r->cfg->mark;
	int one = 1;

	if (to == &up_addr && upstream_live_addr_to_use(&t->gen->live, t->up, &up_addr) < 0)
		return -1; /* its name does not resolve (yet) */
	if (!fd_budget_room(t->r->loop.budget, 1))
		return -1;
	t->fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return -1;
	fd_budget_take(t->r->loop.budget, 1);
	if (relay_mark_socket(t->fd, mark) < 0 ||
	    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    (connect(t->fd, (const struct sockaddr *)to, addr_len(to)) < 0 &&
	     errno != EINPROGRESS) ||
	    loop_add(&t->r->loop, t->fd, &t->ev, EPOLLOUT) < 0) {
		dns_tcp_close(t);
		return -1;
	}
	t->events = EPOLLOUT;
	t->state = DNS_TCP_CONNECTING;
	t->answers = 0;
	return 0;
}

int dns_tcp_send(struct dns_tcp *t, const uint8_t *msg, size_t len)
{
	/* queued first: a connect that fails drops it with the rest */
	if (dns_frames_put(&t->frames, msg, len, DNS_TCP_OUT_MAX) < 0 ||
	    (t->state == DNS_TCP_CLOSED && dns_tcp_connect(t) < 0))
		return -1;
	timer_arm(&t->r->loop, &t->r->dns_idle_timers, &t->idle, DNS_TCP_IDLE_MS);
	if (t->state == DNS_TCP_READY)
		flush_out(t); /* a failure calls down, which answers for msg too */
	return 0;
}
