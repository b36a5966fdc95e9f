/* Dead peers on relayed TCP sockets: keepalive after five idle minutes, and
 * a connection whose sent bytes (or keepalive probes) stay unacknowledged
 * for two minutes is ended by the kernel, instead of retransmitting for a
 * quarter of an hour with its buffers held. Accepted sockets inherit the
 * listener's settings, so only listeners and our own outgoing sockets pay
 * for the calls. */
#ifndef SOCKGATE_TCP_LIVENESS_H
#define SOCKGATE_TCP_LIVENESS_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define TCP_LIVENESS_IDLE_S	     300
#define TCP_LIVENESS_USER_TIMEOUT_MS 120000

static inline int tcp_liveness_set(int fd)
{
	int one = 1, idle = TCP_LIVENESS_IDLE_S;
	unsigned timeout = TCP_LIVENESS_USER_TIMEOUT_MS;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout)) < 0)
		return -1;
	return 0;
}

#endif
