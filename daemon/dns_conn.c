/* A LAN client's TCP connection to the DNS service (see dns_conn.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "dns_conn.h"
#include "dns_frame.h"
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
	struct dns_frames frames;
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

	if (!c || !(c->frames.in = malloc(DNS_CONN_IN_MAX))) {
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
		dns_frames_free(&c->frames);
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
	dns_frames_free(&c->frames);
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
	if (dns_frames_write(&c->frames, c->fd) < 0) {
		dns_conn_close(c);
		return -1;
	}
	want(c, EPOLLIN | EPOLLRDHUP | (c->frames.out_len ? EPOLLOUT : 0));
	return 0;
}

int dns_conn_send(struct dns_conn *c, const uint8_t *msg, size_t len)
{
	if (!c->ops || dns_frames_put(&c->frames, msg, len, DNS_CONN_OUT_MAX) < 0)
		return -1;
	return flush_out(c);
}

/* Hands over each whole query read; stops when c was closed. */
static void take_queries(struct dns_conn *c)
{
	const uint8_t *msg;
	size_t off = 0, len;

	while (c->ops && dns_frames_next(&c->frames, &off, &msg, &len)) {
		timer_arm(&c->r->loop, &c->r->dns_idle_timers, &c->idle, DNS_TCP_IDLE_MS);
		c->ops->query(c, msg, len);
	}
	if (c->ops)
		dns_frames_consume(&c->frames, off);
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
	if (c->frames.out_len >= DNS_CONN_OUT_MAX / 2) {
		want(c, EPOLLOUT);
		return;
	}
	n = recv(c->fd, c->frames.in + c->frames.in_len, DNS_CONN_IN_MAX - c->frames.in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		dns_conn_close(c);
		return;
	}
	c->frames.in_len += (size_t)n;
	take_queries(c);
}
