/* Non-blocking request/answer servers for the main thread (see served.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/log.h"
#include "list.h"
#include "served.h"

/* What epoll hands back: each watched socket says how it is handled. */
struct served_ev {
	void (*handle)(struct served_ev *ev, uint32_t events, uint64_t now_ms);
};

enum client_state { CLIENT_READING, CLIENT_HELD, CLIENT_WRITING, CLIENT_DEAD };

struct served_client {
	struct served_ev ev;
	struct list link; /* in its server's clients */
	struct served *s;
	int fd;
	enum client_state state;
	uint64_t deadline_ms;
	size_t have, out_len, out_off;
	char *in, *out;
};

struct served {
	struct served_ev ev;
	struct list link; /* in the loop's servers */
	struct served_loop *l;
	int fd;
	int paused; /* at max_clients: not accepting */
	const struct served_ops *ops;
	void *arg;
	unsigned n_clients;
	struct list clients;
};

struct served_loop {
	int epfd;
	struct list servers;
	struct list dead; /* ended clients, freed after the event batch */
};

struct served_loop *served_loop_new(void)
{
	struct served_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	list_init(&l->servers);
	list_init(&l->dead);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

int served_loop_fd(const struct served_loop *l)
{
	return l->epfd;
}

/* Ends c: its socket closes now, its memory after the event batch (an
 * event for it may still be pending there). */
static void client_free(struct served_client *c)
{
	struct served *s = c->s;

	list_del(&c->link);
	list_add_tail(&s->l->dead, &c->link);
	close(c->fd); /* leaves the epoll set with it */
	c->fd = -1;
	c->state = CLIENT_DEAD;
	s->n_clients--;
	if (s->paused) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &s->ev };
		if (epoll_ctl(s->l->epfd, EPOLL_CTL_MOD, s->fd, &e) == 0)
			s->paused = 0;
	}
}

static void reap(struct served_loop *l)
{
	while (!list_empty(&l->dead)) {
		struct served_client *c = container_of(l->dead.next, struct served_client, link);
		list_del(&c->link);
		free(c->in);
		free(c->out);
		free(c);
	}
}

static void client_watch(struct served_client *c, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = &c->ev };

	epoll_ctl(c->s->l->epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* Sends what the socket takes now; frees the client once all is sent. */
static void client_write(struct served_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			client_watch(c, EPOLLOUT);
			return;
		}
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	client_free(c);
}

void served_reply(struct served_client *c, char *buf, size_t len)
{
	free(c->out);
	c->out = buf;
	c->out_len = buf ? len : 0;
	c->out_off = 0;
}

int served_client_fd(const struct served_client *c)
{
	return c->fd;
}

static void client_answer(struct served_client *c, size_t len, int too_long, uint64_t now_ms)
{
	const struct served_ops *ops = c->s->ops;

	c->in[len] = '\0';
	switch (ops->answer(c->s->arg, c, c->in, len, too_long)) {
	case SERVED_HOLD:
		c->state = CLIENT_HELD;
		c->deadline_ms = now_ms + ops->hold_ms;
		client_watch(c, 0);
		return;
	case SERVED_REPLY:
		c->state = CLIENT_WRITING;
		client_write(c);
		return;
	case SERVED_CLOSE:
		break;
	}
	client_free(c);
}

static void client_read(struct served_client *c, uint64_t now_ms)
{
	const struct served_ops *ops = c->s->ops;

	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->have, ops->request_max - c->have, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n == 0 && c->have) {
			client_answer(c, c->have, 0, now_ms); /* said all it will */
			return;
		}
		if (n <= 0) {
			client_free(c); /* gone before asking anything */
			return;
		}
		c->have += (size_t)n;
		if (ops->complete(c->in, c->have)) {
			client_answer(c, c->have, 0, now_ms);
			return;
		}
		if (c->have == ops->request_max) {
			client_answer(c, 0, 1, now_ms);
			return;
		}
	}
}

static void client_event(struct served_ev *ev, uint32_t events, uint64_t now_ms)
{
	struct served_client *c = container_of(ev, struct served_client, ev);

	if (c->state == CLIENT_DEAD)
		return;
	if (c->state == CLIENT_WRITING)
		client_write(c);
	else if (c->state == CLIENT_READING)
		client_read(c, now_ms);
	else if (events & (EPOLLHUP | EPOLLERR))
		client_free(c); /* held, and gone */
}

static int client_new(struct served *s, int fd, uint64_t now_ms)
{
	struct served_client *c = calloc(1, sizeof(*c));
	struct epoll_event e = { .events = EPOLLIN };

	if (!c || !(c->in = malloc(s->ops->request_max + 1))) {
		free(c);
		close(fd);
		return -1;
	}
	c->ev.handle = client_event;
	c->s = s;
	c->fd = fd;
	c->state = CLIENT_READING;
	c->deadline_ms = now_ms + s->ops->deadline_ms;
	list_add_tail(&s->clients, &c->link);
	s->n_clients++;
	e.data.ptr = &c->ev;
	if (epoll_ctl(s->l->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		client_free(c);
		return -1;
	}
	client_read(c, now_ms); /* the request is often there already */
	return 0;
}

/* Clients are listed oldest first. 1 when one was ended. */
static int evict_oldest_reader(struct served *s)
{
	for (struct list *n = s->clients.next; n != &s->clients; n = n->next) {
		struct served_client *c = container_of(n, struct served_client, link);
		if (c->state == CLIENT_READING) {
			client_free(c);
			return 1;
		}
	}
	return 0;
}

static void server_event(struct served_ev *ev, uint32_t events, uint64_t now_ms)
{
	struct served *s = container_of(ev, struct served, ev);

	(void)events;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("%s: accept: %s", s->ops->name, strerror(errno));
			return;
		}
		/* full: the oldest client still sending its request makes room
		 * (an honest one sends it at once, so only a trickler is that
		 * slow); with every one busy answering, the newcomer is turned
		 * away and the rest wait in the backlog */
		if (s->n_clients >= s->ops->max_clients && !evict_oldest_reader(s)) {
			struct epoll_event e = { .events = 0, .data.ptr = &s->ev };
			close(fd);
			if (epoll_ctl(s->l->epfd, EPOLL_CTL_MOD, s->fd, &e) == 0)
				s->paused = 1;
			return;
		}
		client_new(s, fd, now_ms);
	}
}

int served_add(struct served_loop *l, int listen_fd, const struct served_ops *ops, void *arg,
	       struct served **out)
{
	struct served *s = calloc(1, sizeof(*s));
	struct epoll_event e = { .events = EPOLLIN };
	int flags = fcntl(listen_fd, F_GETFL);

	if (!s)
		return -ENOMEM;
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		free(s);
		return -errno;
	}
	s->ev.handle = server_event;
	s->l = l;
	s->fd = listen_fd;
	s->ops = ops;
	s->arg = arg;
	list_init(&s->clients);
	e.data.ptr = &s->ev;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, listen_fd, &e) < 0) {
		free(s);
		return -errno;
	}
	list_add_tail(&l->servers, &s->link);
	if (out)
		*out = s;
	return 0;
}

void served_answer_held(struct served *s)
{
	struct list *n, *next;

	for (n = s->clients.next; n != &s->clients; n = next) {
		struct served_client *c = container_of(n, struct served_client, link);

		next = n->next; /* answering may end c, never another client */
		if (c->state == CLIENT_HELD)
			client_answer(c, c->have, 0, c->deadline_ms);
	}
	reap(s->l);
}

static void expire(struct served_loop *l, uint64_t now_ms)
{
	struct list *sn, *n, *next;

	for (sn = l->servers.next; sn != &l->servers; sn = sn->next) {
		struct served *s = container_of(sn, struct served, link);
		for (n = s->clients.next; n != &s->clients; n = next) {
			struct served_client *c = container_of(n, struct served_client, link);
			next = n->next;
			if (c->deadline_ms <= now_ms)
				client_free(c);
		}
	}
}

void served_run(struct served_loop *l, uint64_t now_ms)
{
	struct epoll_event events[32];
	int n = epoll_wait(l->epfd, events, 32, 0);

	for (int i = 0; i < n; i++) {
		struct served_ev *ev = events[i].data.ptr;
		ev->handle(ev, events[i].events, now_ms);
	}
	expire(l, now_ms);
	reap(l);
}

int served_timeout_ms(const struct served_loop *l, uint64_t now_ms)
{
	uint64_t nearest = UINT64_MAX;
	const struct list *sn, *n;

	for (sn = l->servers.next; sn != &l->servers; sn = sn->next) {
		const struct served *s = container_of(sn, struct served, link);
		for (n = s->clients.next; n != &s->clients; n = n->next) {
			const struct served_client *c = container_of(n, struct served_client, link);
			if (c->deadline_ms < nearest)
				nearest = c->deadline_ms;
		}
	}
	if (nearest == UINT64_MAX)
		return -1;
	return nearest <= now_ms ? 0 : (int)(nearest - now_ms > 60000 ? 60000 : nearest - now_ms);
}

void served_loop_free(struct served_loop *l)
{
	if (!l)
		return;
	while (!list_empty(&l->servers)) {
		struct served *s = container_of(l->servers.next, struct served, link);
		while (!list_empty(&s->clients))
			client_free(container_of(s->clients.next, struct served_client, link));
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
		list_del(&s->link);
		free(s);
	}
	reap(l);
	close(l->epfd);
	free(l);
}
