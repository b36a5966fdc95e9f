/* The control connection of a UDP ASSOCIATE we ask of an upstream (see
 * udp_control.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "fd_budget.h"
#include "dst_guard.h"
#include "udp_control.h"
#include "relay.h"

static enum udp_control_result failed(char *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum udp_control_result failed(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, UDP_CONTROL_WHY_MAX, fmt, ap);
	va_end(ap);
	return UDP_CONTROL_FAILED;
}

static void want(struct relay *r, int fd, struct ev *ev, uint32_t events)
{
	loop_modify(&r->loop, fd, ev, events);
}

enum udp_control_result udp_control_open(struct relay *r, const struct upstream *up,
					 const struct sockaddr_storage *up_addr, uint32_t mark,
					 struct udp_control_setup *s, struct ev *ev, int *fd,
					 char why[UDP_CONTROL_WHY_MAX])
{
	int sock;

	s->out_sent = 0;
	s->connected = 0;
	if (upstream_handshake_begin_udp(&s->hs, &up->url, up->pipeline, s->out) < 0)
		return failed(why, "%s", s->hs.reason);
	s->out_len = s->hs.out_len;
	sock = socket(up_addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return failed(why, "socket: %s", strerror(errno));
	fd_budget_take(r->loop.budget, 1);
	*fd = sock;
	if (relay_mark_socket(sock, mark) < 0)
		return failed(why, "SO_MARK: %s", strerror(errno));
	if (connect(sock, (const struct sockaddr *)up_addr, addr_len(up_addr)) < 0 &&
	    errno != EINPROGRESS)
		return failed(why, "connect to the upstream: %s", strerror(errno));
	if (loop_add(&r->loop, sock, ev, EPOLLOUT) < 0)
		return failed(why, "epoll: %s", strerror(errno));
	return UDP_CONTROL_WAIT;
}

/* Sends what the handshake has to send. */
static enum udp_control_result flush(struct relay *r, int fd, struct ev *ev,
				     struct udp_control_setup *s, char *why)
{
	while (s->out_sent < s->out_len) {
		ssize_t n = send(fd, s->out + s->out_sent, s->out_len - s->out_sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			want(r, fd, ev, EPOLLIN | EPOLLOUT);
			return UDP_CONTROL_WAIT;
		}
		if (n < 0)
			return failed(why, "send to the upstream: %s", strerror(errno));
		s->out_sent += (size_t)n;
	}
	want(r, fd, ev, EPOLLIN | EPOLLRDHUP);
	return UDP_CONTROL_WAIT;
}

enum udp_control_result udp_control_event(struct relay *r, int fd, struct ev *ev,
					  struct udp_control_setup *s, uint32_t events,
					  char why[UDP_CONTROL_WHY_MAX])
{
	uint8_t buf[512];
	enum upstream_result res;
	size_t used;
	ssize_t n;

	if (s && !s->connected) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			return failed(why, "connect to the upstream: %s", strerror(err));
		s->connected = 1;
		return flush(r, fd, ev, s, why);
	}
	if (s && (events & EPOLLOUT) && flush(r, fd, ev, s, why) == UDP_CONTROL_FAILED)
		return UDP_CONTROL_FAILED;
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return UDP_CONTROL_WAIT;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0 && errno == EAGAIN)
		return UDP_CONTROL_WAIT;
	if (n <= 0)
		return failed(why, "control connection %s",
			      n == 0 ? "closed by the upstream" : strerror(errno));
	if (!s)
		return UDP_CONTROL_WAIT; /* nothing more is expected on it */
	res = upstream_handshake_feed(&s->hs, buf, (size_t)n, &used, s->out);
	if (res == UPSTREAM_ERROR)
		return failed(why, "%s", s->hs.reason);
	if (s->hs.out_len) {
		s->out_len = s->hs.out_len;
		s->out_sent = 0;
		if (flush(r, fd, ev, s, why) == UDP_CONTROL_FAILED)
			return UDP_CONTROL_FAILED;
	}
	return res == UPSTREAM_DONE ? UDP_CONTROL_GRANTED : UDP_CONTROL_WAIT;
}

int udp_control_open_relay(struct relay *r, const struct upstream *up,
			   const struct sockaddr_storage *up_addr, uint32_t mark, int control_fd,
			   const struct udp_control_setup *s, struct ev *ev, int *relay_fd,
			   struct sockaddr_storage *relay, char why[UDP_CONTROL_WHY_MAX])
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char a[ADDR_STRLEN];
	int fd;

	if (upstream_udp_relay_address(&s->hs, up_addr, &up->udp_addr, relay) < 0) {
		failed(why, "the upstream named relay port 0");
		return -1;
	}
	/* an upstream elsewhere may not point our datagrams at the router
	 * itself (a service of its own) or at a broadcast address */
	if ((dst_special(relay) && !addr_is_loopback(relay)) ||
	    (dst_guard_is_local(r->dst_guard, relay, r->loop.now_ms) &&
	     !dst_guard_is_local(r->dst_guard, up_addr, r->loop.now_ms))) {
		failed(why, "the upstream named relay %s, the router's own or not unicast",
		       addr_format(relay, a, sizeof(a)));
		return -1;
	}
	fd = socket(relay->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		failed(why, "socket: %s", strerror(errno));
		return -1;
	}
	fd_budget_take(r->loop.budget, 1);
	*relay_fd = fd;
	if (getsockname(control_fd, (struct sockaddr *)&local, &len) == 0 &&
	    local.ss_family == relay->ss_family) {
		addr_set_port(&local, 0);
		if (bind(fd, (const struct sockaddr *)&local, addr_len(&local)) < 0) {
			failed(why, "bind: %s", strerror(errno));
			return -1;
		}
	}
	if (relay_mark_socket(fd, mark) < 0 ||
	    connect(fd, (const struct sockaddr *)relay, addr_len(relay)) < 0 ||
	    loop_add(&r->loop, fd, ev, EPOLLIN) < 0) {
		failed(why, "relay %s: %s", addr_format(relay, a, sizeof(a)), strerror(errno));
		return -1;
	}
	return 0;
}
