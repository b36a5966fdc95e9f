/* Load generator for make bench: short HTTP GETs through a SOCKS5 server
 * (or, with MODE "connect", through an HTTP proxy's CONNECT), a new
 * connection each, CONCURRENCY at a time, one epoll loop. Each connection
 * waits for every proxy reply before the next message (no pipelining,
 * which not every server takes), so all servers see the same exchange a
 * browser makes.
 *   socks_load PROXY_IP PROXY_PORT TARGET_IPV4 TARGET_PORT PATH CONCURRENCY TOTAL [MODE]
 * prints: conn_per_s N / failed N / p50_ms N / p99_ms N */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum stage { GREETING, REQUEST, RESPONSE };

struct conn {
	int fd;
	enum stage stage;
	size_t have;
	double started;
};

static struct sockaddr_storage server;
static socklen_t server_len;
static uint8_t request[10];
static char get[256];
static size_t get_len;
static char connect_req[128]; /* MODE connect: the CONNECT request */
static size_t connect_len;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int start(int ep, struct conn *c)
{
	/* the greeting goes out once connected */
	struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->fd = socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->stage = connect_len ? REQUEST : GREETING;
	c->have = 0;
	c->started = now_s();
	if (connect(c->fd, (struct sockaddr *)&server, server_len) < 0 && errno != EINPROGRESS)
		return -1;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char *argv[])
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&server;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&server;
	struct in_addr target;
	long concurrency, total, done = 0, failed = 0, started = 0;
	struct conn *conns;
	double *lat, t0;
	int ep;

	if (argc != 8 && !(argc == 9 && !strcmp(argv[8], "connect"))) {
		fprintf(stderr,
			"usage: %s PROXY_IP PROXY_PORT TARGET_IPV4 TARGET_PORT PATH "
			"CONCURRENCY TOTAL [connect]\n",
			argv[0]);
		return 2;
	}
	memset(&server, 0, sizeof(server));
	if (inet_pton(AF_INET, argv[1], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)atoi(argv[2]));
		server_len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[1], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)atoi(argv[2]));
		server_len = sizeof(*sin6);
	} else {
		fprintf(stderr, "bad server address %s\n", argv[1]);
		return 2;
	}
	if (inet_pton(AF_INET, argv[3], &target) != 1) {
		fprintf(stderr, "bad target address %s\n", argv[3]);
		return 2;
	}
	memcpy(request, "\x05\x01\x00\x01", 4);
	memcpy(request + 4, &target, 4);
	request[8] = (uint8_t)(atoi(argv[4]) >> 8);
	request[9] = (uint8_t)atoi(argv[4]);
	get_len = (size_t)snprintf(get, sizeof(get),
				   "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n",
				   argv[5], argv[3]);
	if (argc == 9)
		connect_len = (size_t)snprintf(connect_req, sizeof(connect_req),
					       "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n",
					       argv[3], argv[4], argv[3], argv[4]);
	concurrency = atol(argv[6]);
	total = atol(argv[7]);
	conns = calloc((size_t)concurrency, sizeof(*conns));
	lat = calloc((size_t)total, sizeof(*lat));
	ep = epoll_create1(0);
	if (!conns || !lat || ep < 0)
		return 1;

	t0 = now_s();
	for (long i = 0; i < concurrency && started < total; i++, started++) {
		if (start(ep, &conns[i]) < 0) {
			perror("start");
			return 1;
		}
	}
	while (done < total) {
		struct epoll_event events[256];
		int n = epoll_wait(ep, events, 256, 10000);
		if (n <= 0) {
			fprintf(stderr, "stalled after %ld connections\n", done);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			uint8_t buf[4096];
			ssize_t got;
			int finished = 0, ok = 0;

			if (events[i].events & EPOLLOUT) {
				struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
				const char *hello = connect_len ? connect_req : "\x05\x01\x00";
				size_t hello_len = connect_len ? connect_len : 3;
				if (send(c->fd, hello, hello_len, MSG_NOSIGNAL) !=
				    (ssize_t)hello_len) {
					finished = 1;
				}
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
			}
			while (!finished) {
				got = recv(c->fd, buf, sizeof(buf), 0);
				if (got < 0 && errno == EAGAIN)
					break;
				if (got <= 0) {
					finished = 1;
					ok = got == 0 && c->stage == RESPONSE && c->have > 0;
					break;
				}
				c->have += (size_t)got;
				if (c->stage == GREETING && c->have >= 2) {
					if (buf[0] != 5 || buf[1] != 0) {
						finished = 1;
						break;
					}
					c->stage = REQUEST;
					c->have = 0;
					send(c->fd, request, sizeof(request), MSG_NOSIGNAL);
				} else if (c->stage == REQUEST && connect_len) {
					/* the proxy's reply head is small and comes whole */
					if (got < 12 || memcmp(buf + 9, "200", 3) ||
					    !memmem(buf, (size_t)got, "\r\n\r\n", 4)) {
						finished = 1;
						break;
					}
					c->stage = RESPONSE;
					c->have = 0;
					send(c->fd, get, get_len, MSG_NOSIGNAL);
				} else if (c->stage == REQUEST && c->have >= 10) {
					if (buf[1] != 0) {
						finished = 1;
						break;
					}
					c->stage = RESPONSE;
					c->have = (size_t)got - 10;
					send(c->fd, get, get_len, MSG_NOSIGNAL);
				}
			}
			if (!finished)
				continue;
			close(c->fd);
			if (ok)
				lat[done - failed] = now_s() - c->started;
			else
				failed++;
			done++;
			if (started < total) {
				started++;
				if (start(ep, c) < 0) {
					perror("start");
					return 1;
				}
			}
		}
	}
	{
		double elapsed = now_s() - t0;
		long good = done - failed;
		qsort(lat, (size_t)good, sizeof(*lat), compare);
		printf("conn_per_s %.0f\n", (double)good / elapsed);
		printf("failed %ld\n", failed);
		printf("p50_ms %.2f\n", good ? lat[good / 2] * 1000 : 0.0);
		printf("p99_ms %.2f\n", good ? lat[good * 99 / 100] * 1000 : 0.0);
	}
	return 0;
}
