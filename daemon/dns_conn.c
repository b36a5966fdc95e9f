/* A LAN client's TCP connection to the DNS service (see dns_conn.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "dns_conn.h"
#include "relay.h"

#define DNS_CONN_IN_MAX	 (2 + 65535)  /* one length prefix and its message */
#define DNS_CONN_OUT_MAX (128u << 10) /* answers the client has not read yet */

struct dns_conn {
	struct ev ev;
	struct timer idle;
	struct relay *r;
	const struct dns_conn_ops *ops; /* NULL: closed, freed after the batch */
	void *owner;
	struct sockaddr_storage client;
	int fd;
	uint32_t events;
	uint8_t *in, *out;
	size_t in_len, out_len, out_cap;
};

static void conn_event(struct ev *ev, uint32_t events);

static void idle_expired(struct timer *t)
{
	dns_conn_close(container_of(t, struct dns_conn, idle));
}

struct dns_conn *dns_conn_new(struct relay *r, int fd, const struct sockaddr_storage *client,
			      const struct dns_conn_ops *ops, void *owner)
{
	struct dns_conn *c = calloc(1, sizeof(*c));

	if (!c || !(c->in = malloc(DNS_CONN_IN_MAX))) {
		free(c);
		loop_close(&r->loop, &fd, CLOSE_RESET);
		return NULL;
	}
	c->ev.handle = conn_event;
	list_init(&c->idle.node);
	c->idle.fire = idle_expired;
	c->r = r;
	c->ops = ops;
	c->owner = owner;
	c->client = *client;
	c->fd = fd;
	c->events = EPOLLIN | EPOLLRDHUP;
	if (loop_add(&r->loop, fd, &c->ev, c->events) < 0) {
		loop_close(&r->loop, &c->fd, CLOSE_RESET);
		free(c->in);
		free(c);
		return NULL;
	}
	timer_arm(&r->loop, &r->dns_idle_timers, &c->idle, DNS_TCP_IDLE_MS);
	return c;
}

void *dns_conn_owner(const struct dns_conn *c)
{
	return c->owner;
}

const struct sockaddr_storage *dns_conn_client(const struct dns_conn *c)
{
	return &c->client;
}

void dns_conn_close(struct dns_conn *c)
{
	const struct dns_conn_ops *ops = c->ops;

	if (!ops)
		return;
	c->ops = NULL;
	timer_cancel(&c->idle);
	loop_close(&c->r->loop, &c->fd, CLOSE_FIN);
	loop_fds_released(&c->r->loop);
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	ops->closed(c);
	loop_free_after_batch(&c->r->loop, c);
}

static void want(struct dns_conn *c, uint32_t events)
{
	if (events != c->events && loop_modify(&c->r->loop, c->fd, &c->ev, events) == 0)
		c->events = events;
}

/* Writes what waits; 0, or -1 after closing c. */
static int flush_out(struct dns_conn *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			dns_conn_close(c);
			return -1;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	want(c, EPOLLIN | EPOLLRDHUP | (c->out_len ? EPOLLOUT : 0));
	return 0;
}

int dns_conn_send(struct dns_conn *c, const uint8_t *msg, size_t len)
{
	if (!c->ops || len > UINT16_MAX || c->out_len + 2 + len > DNS_CONN_OUT_MAX)
		return -1;
	if (c->out_cap < c->out_len + 2 + len) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *grown;
		while (cap < c->out_len + 2 + len)
			cap *= 2;
		grown = realloc(c->out, cap);
		if (!grown)
			return -1;
		c->out = grown;
		c->out_cap = cap;
	}
	c->out[c->out_len] = (uint8_t)(len >> 8);
	c->out[c->out_len + 1] = (uint8_t)len;
	memcpy(c->out + c->out_len + 2, msg, len);
	c->out_len += 2 + len;
	return flush_out(c);
}

/* Hands over each whole query read; stops when c was closed. */
static void take_queries(struct dns_conn *c)
{
	size_t off = 0;

	while (c->ops && c->in_len - off >= 2) {
		size_t n = (size_t)c->in[off] << 8 | c->in[off + 1];
		if (c->in_len - off - 2 < n)
			break;
		timer_arm(&c->r->loop, &c->r->dns_idle_timers, &c->idle, DNS_TCP_IDLE_MS);
		c->ops->query(c, c->in + off + 2, n);
		off += 2 + n;
	}
	if (!c->ops)
		return;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void conn_event(struct ev *ev, uint32_t events)
{
	struct dns_conn *c = container_of(ev, struct dns_conn, ev);
	ssize_t n;

	if (!c->ops)
		return; /* closed earlier in this batch */
	if ((events & EPOLLOUT) && flush_out(c) < 0)
		return;
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	/* a client that does not read its answers is not read either */
	if (c->out_len >= DNS_CONN_OUT_MAX / 2) {
		want(c, EPOLLOUT);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, DNS_CONN_IN_MAX - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		dns_conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	take_queries(c);
}
