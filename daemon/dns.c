/* c-ares glue. c-ares tells us which sockets it wants watched through the
 * socket-state callback; each gets a small epoll record. Queries carry a
 * back-pointer to their owner's slot so a flow that dies first can detach
 * from its query. c-ares cannot cancel one query, only all of them: once
 * every query left is an orphan, the channel's queries are cancelled, and
 * orphans count against the caps meanwhile (per worker, and per client
 * within a worker), so clients that hang up cannot pile lookups onto the
 * resolver. c-ares reads /etc/resolv.conf once; a router's name servers
 * change with its uplink (DHCP, PPP), so the file is watched and, when it
 * changes, every query under way is cancelled and asked again of the new
 * servers. */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "sockgate/addr.h"
#include "sockgate/log.h"
#include "dns.h"
#include "list.h"
#include "relay.h"

#define DNS_TIMEOUT_MS	       2000
#define DNS_TRIES	       2
#define RESOLV_CONF	       "/etc/resolv.conf"
#define RESOLV_CHECK_MS	       5000
#define RESOLV_SERVERS_CSV_MAX 1024
/* lookups under way (orphans included) per worker, and per client address
 * per worker */
#define DNS_ACTIVE_MAX 256
#define DNS_CLIENT_MAX 16

struct dns_sock {
	struct ev ev;
	struct dns *dns;
	int fd;
	uint32_t events;
	struct list node;
};

struct dns {
	struct relay *r;
	ares_channel channel;
	int channel_ready;
	uint32_t mark;
	int mark_failed_logged;
	struct list socks;   /* struct dns_sock */
	struct list queries; /* struct dns_query under way */
	unsigned active;     /* queries under way, orphans included */
	unsigned live;	     /* those whose owner still waits */
	int orphans_cancel;  /* every query left is an orphan: cancel them */
	int requeue;	     /* cancelled for new servers: ask live ones again */
	/* /etc/resolv.conf as last seen, and servers waiting for an idle
	 * channel */
	struct stat resolv;
	uint64_t next_resolv_check_ms;
	char pending_servers[RESOLV_SERVERS_CSV_MAX];
};

/* The /etc/resolv.conf version last announced in the log. */
static atomic_llong resolv_logged;

struct dns_query {
	struct dns *dns;
	struct list node;
	dns_result_fn fn; /* NULL once cancelled */
	void *arg;
	uint16_t port;
	struct dns_query **slot;
	struct sockaddr_storage client;
	int again; /* cancelled for a change of servers, to be asked again */
	char name[256];
};

int dns_library_init(void)
{
	int rc = ares_library_init(ARES_LIB_INIT_ALL);
	return rc == ARES_SUCCESS ? 0 : -ENOMEM;
}

void dns_library_cleanup(void)
{
	ares_library_cleanup();
}

static void dns_handle_event(struct ev *ev, uint32_t events);

static struct dns_sock *find_sock(struct dns *d, int fd)
{
	for (struct list *n = d->socks.next; n != &d->socks; n = n->next) {
		struct dns_sock *s = container_of(n, struct dns_sock, node);
		if (s->fd == fd)
			return s;
	}
	return NULL;
}

/* c-ares: watch fd for reading and/or writing, or stop watching it. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_sock *s = find_sock(d, fd);
	uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);

	if (!events) {
		if (s) {
			loop_remove(&d->r->loop, fd);
			list_del(&s->node);
			free(s);
		}
		return;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			log_error("dns: out of memory watching a resolver socket");
			return;
		}
		s->ev.handle = dns_handle_event;
		s->dns = d;
		s->fd = fd;
		s->events = events;
		list_add_tail(&d->socks, &s->node);
		if (loop_add(&d->r->loop, fd, &s->ev, events) < 0)
			log_error("dns: epoll add: %s", strerror(errno));
		return;
	}
	if (s->events != events) {
		s->events = events;
		loop_modify(&d->r->loop, fd, &s->ev, events);
	}
}

/* Resolver traffic carries the mark too, so rules that intercept the
 * router's own traffic leave it alone. */
static int sock_create_cb(ares_socket_t fd, int type, void *data)
{
	struct dns *d = data;
	(void)type;
	if (relay_mark_socket(fd, d->mark) < 0 && !d->mark_failed_logged) {
		d->mark_failed_logged = 1;
		log_warn("dns: SO_MARK on resolver socket: %s", strerror(errno));
	}
	return 0;
}

int dns_new(struct relay *r, uint32_t mark, struct dns **out)
{
	struct ares_options opts;
	struct dns *d = calloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->r = r;
	d->mark = mark;
	list_init(&d->socks);
	list_init(&d->queries);
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = sock_state_cb;
	opts.sock_state_cb_data = d;
	opts.timeout = DNS_TIMEOUT_MS;
	opts.tries = DNS_TRIES;
	rc = ares_init_options(&d->channel, &opts,
			       ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		log_error("dns: cannot set up the resolver: %s", ares_strerror(rc));
		free(d);
		return -EINVAL;
	}
	d->channel_ready = 1;
	ares_set_socket_callback(d->channel, sock_create_cb, d);
	if (stat(RESOLV_CONF, &d->resolv) < 0)
		memset(&d->resolv, 0, sizeof(d->resolv));
	*out = d;
	return 0;
}

void dns_free(struct dns *d)
{
	if (!d)
		return;
	/* Runs every pending callback with ARES_EDESTRUCTION; their owners
	 * have cancelled them by now, so those only free the queries. */
	if (d->channel_ready)
		ares_destroy(d->channel);
	while (!list_empty(&d->socks)) {
		struct dns_sock *s = container_of(d->socks.next, struct dns_sock, node);
		list_del(&s->node);
		free(s);
	}
	free(d);
}

static void ask(struct dns *d, struct dns_query *q);

static void query_end(struct dns_query *q)
{
	struct dns *d = q->dns;

	list_del(&q->node);
	d->active--;
	if (d == d->r->dns) /* the SOCKS server's and flows' lookups, not the watch's */
		atomic_store_explicit(&d->r->counters.dns_lookups, d->active, memory_order_relaxed);
	if (q->fn)
		d->live--;
	if (q->slot)
		*q->slot = NULL;
}

static void getaddrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct dns_query *q = arg;
	struct sockaddr_storage addrs[DNS_ADDRS_MAX];
	size_t n = 0;
	unsigned ttl_s = 0;
	(void)timeouts;

	if (status == ARES_ECANCELLED && q->dns->requeue && q->fn) {
		q->again = 1; /* asked again once the new servers are set */
		return;
	}
	query_end(q);
	if (status == ARES_SUCCESS && res) {
		for (struct ares_addrinfo_node *a = res->nodes; a && n < DNS_ADDRS_MAX;
		     a = a->ai_next) {
			if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
			    a->ai_addrlen > sizeof(addrs[0]))
				continue;
			if (a->ai_ttl > 0 && (!n || (unsigned)a->ai_ttl < ttl_s || !ttl_s))
				ttl_s = (unsigned)a->ai_ttl;
			memset(&addrs[n], 0, sizeof(addrs[n]));
			memcpy(&addrs[n], a->ai_addr, a->ai_addrlen);
			addr_set_port(&addrs[n], q->port);
			n++;
		}
	}
	if (res)
		ares_freeaddrinfo(res);
	if (q->fn)
		q->fn(q->arg, addrs, n, ttl_s,
		      n			       ? NULL
		      : status == ARES_SUCCESS ? "no address"
					       : ares_strerror(status));
	free(q);
}

static void ask(struct dns *d, struct dns_query *q)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };

	ares_getaddrinfo(d->channel, q->name, NULL, &hints, getaddrinfo_cb, q);
}

/* Lookups of this worker's for client, orphans included. */
static unsigned client_queries(const struct dns *d, const struct sockaddr_storage *client)
{
	unsigned n = 0;

	for (const struct list *l = d->queries.next; l != &d->queries; l = l->next) {
		const struct dns_query *q = container_of(l, struct dns_query, node);
		n += addr_same_ip(&q->client, client);
	}
	return n;
}

void dns_resolve(struct dns *d, const char *name, uint16_t port,
		 const struct sockaddr_storage *client, dns_result_fn fn, void *arg,
		 struct dns_query **slot)
{
	struct dns_query *q;

	*slot = NULL;
	if (d->active >= DNS_ACTIVE_MAX || client_queries(d, client) >= DNS_CLIENT_MAX) {
		fn(arg, NULL, 0, 0, "too many name lookups under way");
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		fn(arg, NULL, 0, 0, "out of memory");
		return;
	}
	q->dns = d;
	q->fn = fn;
	q->arg = arg;
	q->port = port;
	q->slot = slot;
	q->client = *client;
	snprintf(q->name, sizeof(q->name), "%s", name);
	*slot = q;
	list_add_tail(&d->queries, &q->node);
	d->active++;
	if (d == d->r->dns) /* the SOCKS server's and flows' lookups, not the watch's */
		atomic_store_explicit(&d->r->counters.dns_lookups, d->active, memory_order_relaxed);
	d->live++;
	ask(d, q);
}

void dns_cancel(struct dns_query **slot)
{
	struct dns_query *q = *slot;

	if (!q)
		return;
	q->fn = NULL;
	q->slot = NULL;
	*slot = NULL;
	/* the last live one gone: the orphans go at the next tick (not here,
	 * where a c-ares callback may be running) */
	if (--q->dns->live == 0)
		q->dns->orphans_cancel = 1;
}

static void dns_handle_event(struct ev *ev, uint32_t events)
{
	struct dns_sock *s = container_of(ev, struct dns_sock, ev);
	struct dns *d = s->dns;
	int fd = s->fd;

	/* s may be freed inside ares_process_fd */
	ares_process_fd(d->channel,
			(events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
			(events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
}

/* "nameserver ADDR" lines as c-ares' "ADDR:53,[ADDR6]:53" list; 0 or -1. */
static int read_resolv_servers(char *csv, size_t len)
{
	char line[256];
	size_t used = 0;
	FILE *f = fopen(RESOLV_CONF, "re");

	if (!f)
		return -1;
	csv[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char addr[80];
		struct in6_addr a6;
		struct in_addr a4;
		char *pct;
		int n;

		if (sscanf(line, " nameserver %79s", addr) != 1)
			continue;
		pct = strchr(addr, '%'); /* a link-local scope stays out of the check */
		if (pct)
			*pct = '\0';
		if (inet_pton(AF_INET, addr, &a4) == 1)
			n = snprintf(csv + used, len - used, "%s%s:53", used ? "," : "", addr);
		else if (inet_pton(AF_INET6, addr, &a6) == 1)
			n = snprintf(csv + used, len - used, "%s[%s%s%s]:53", used ? "," : "", addr,
				     pct ? "%" : "", pct ? pct + 1 : "");
		else
			continue;
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	fclose(f);
	return 0;
}

/* The live queries a change of servers cancelled, asked again (an orphan
 * was freed by its callback). */
static void requeue_all(struct dns *d)
{
	struct list *l, *next;

	for (l = d->queries.next; l != &d->queries; l = next) {
		struct dns_query *q = container_of(l, struct dns_query, node);
		next = l->next; /* an answer from /etc/hosts comes at once, freeing q */
		if (q->again) {
			q->again = 0;
			ask(d, q);
		}
	}
}

/* Notices a changed /etc/resolv.conf and applies its servers at once. */
static void dns_watch_resolv(struct dns *d)
{
	uint64_t now = d->r->loop.now_ms;
	struct stat st;

	if (now >= d->next_resolv_check_ms) {
		d->next_resolv_check_ms = now + RESOLV_CHECK_MS;
		if (stat(RESOLV_CONF, &st) == 0 &&
		    (st.st_ino != d->resolv.st_ino || st.st_size != d->resolv.st_size ||
		     st.st_mtim.tv_sec != d->resolv.st_mtim.tv_sec ||
		     st.st_mtim.tv_nsec != d->resolv.st_mtim.tv_nsec)) {
			d->resolv = st;
			if (read_resolv_servers(d->pending_servers, sizeof(d->pending_servers)) <
				0 ||
			    !d->pending_servers[0])
				d->pending_servers[0] = '\0'; /* keep what we have */
		}
	}
	if (d->pending_servers[0]) {
		int rc;
		/* c-ares changes no servers under a running query: end them
		 * all, set the servers, and ask the live ones again */
		if (d->active) {
			d->requeue = 1;
			ares_cancel(d->channel);
			d->requeue = 0;
		}
		rc = ares_set_servers_ports_csv(d->channel, d->pending_servers);
		requeue_all(d);
		if (rc == ARES_SUCCESS) {
			/* every worker applies it; the first to do so says so */
			long long version = (long long)d->resolv.st_mtim.tv_sec * 1000000000LL +
					    d->resolv.st_mtim.tv_nsec + (long long)d->resolv.st_ino;
			if (atomic_exchange(&resolv_logged, version) != version)
				log_info("dns: %s changed; name servers now %s", RESOLV_CONF,
					 d->pending_servers);
		} else {
			log_warn("dns: cannot use the name servers of %s (%s): %s", RESOLV_CONF,
				 d->pending_servers, ares_strerror(rc));
		}
		d->pending_servers[0] = '\0';
	}
}

void dns_tick(struct dns *d)
{
	if (!d)
		return;
	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	if (d->orphans_cancel) {
		d->orphans_cancel = 0;
		if (!d->live && d->active)
			ares_cancel(d->channel); /* orphans only: nobody waits */
	}
	dns_watch_resolv(d);
}

unsigned dns_active(const struct dns *d)
{
	return d ? d->active : 0;
}
