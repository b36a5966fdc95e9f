/* UDP load for make bench.
 *
 *   udp_load serve PORT                      echo server (IPv4), one socket
 *   udp_load HOST PORT SOCKETS WINDOW SECONDS SIZE
 *
 * The client keeps WINDOW datagrams of SIZE bytes outstanding on each of
 * SOCKETS sockets for SECONDS and prints "datagrams_per_s N lost N": the
 * echoes received per second. A window that sees no echo for 200 ms is
 * counted lost and refilled, so a loss cannot stall the run. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SOCKETS_MAX 256

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int serve(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char buf[65536];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("udp_load: bind");
		return 1;
	}
	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
	}
}

int main(int argc, char **argv)
{
	struct pollfd pfd[SOCKETS_MAX];
	int outstanding[SOCKETS_MAX];
	double last_echo[SOCKETS_MAX];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	static char buf[65536];
	unsigned long long echoed = 0, lost = 0;
	int sockets, window, size;
	double seconds, start, end;

	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc != 7) {
		fprintf(stderr,
			"usage: udp_load serve PORT | HOST PORT SOCKETS WINDOW SECONDS SIZE\n");
		return 2;
	}
	sockets = atoi(argv[3]);
	window = atoi(argv[4]);
	seconds = atof(argv[5]);
	size = atoi(argv[6]);
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 || sockets < 1 ||
	    sockets > SOCKETS_MAX || window < 1 || size < 1 || size > (int)sizeof(buf)) {
		fprintf(stderr, "udp_load: bad arguments\n");
		return 2;
	}
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	memset(buf, 'x', sizeof(buf));
	start = now_s();
	for (int i = 0; i < sockets; i++) {
		pfd[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		pfd[i].events = POLLIN;
		if (pfd[i].fd < 0 || connect(pfd[i].fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			perror("udp_load: socket");
			return 1;
		}
		outstanding[i] = 0;
		last_echo[i] = start;
	}
	end = start + seconds;
	for (double t = start; t < end; t = now_s()) {
		for (int i = 0; i < sockets; i++) {
			if (outstanding[i] && t - last_echo[i] > 0.2) {
				lost += (unsigned long long)outstanding[i];
				outstanding[i] = 0;
				last_echo[i] = t;
			}
			while (outstanding[i] < window &&
			       send(pfd[i].fd, buf, (size_t)size, 0) >= 0)
				outstanding[i]++;
		}
		if (poll(pfd, (nfds_t)sockets, 50) <= 0)
			continue;
		t = now_s();
		for (int i = 0; i < sockets; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			while (recv(pfd[i].fd, buf, sizeof(buf), 0) >= 0) {
				echoed++;
				if (outstanding[i])
					outstanding[i]--;
				last_echo[i] = t;
			}
		}
	}
	printf("datagrams_per_s %.0f lost %llu\n", (double)echoed / seconds, lost);
	return echoed ? 0 : 1;
}
