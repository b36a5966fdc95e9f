/* The options of every relayed TCP socket: our listeners (accepted sockets
 * inherit them, so only listeners and our own outgoing sockets pay for the
 * calls) and the sockets we open toward upstreams and targets. */
#ifndef SOCKGATE_TCP_RELAY_SOCKET_H
#define SOCKGATE_TCP_RELAY_SOCKET_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* Dead peers: keepalive after five idle minutes, and a connection whose
 * sent bytes (or keepalive probes) stay unacknowledged for two minutes is
 * ended by the kernel, instead of retransmitting for a quarter of an hour
 * with its buffers held. */
#define TCP_RELAY_KEEPIDLE_S	  300
#define TCP_RELAY_USER_TIMEOUT_MS 120000

/* At most this many bytes wait unsent in a socket's queue; writability is
 * reported below half of it. Without a bound a splice fills the whole send
 * buffer (megabytes), and what it queued is then sent from the ACK
 * processing of the receiving peer: on a router whose cores the peers share,
 * that serialises a flow behind the receiver (4 parallel streams through
 * dante: 0.9x redsocks' throughput without the bound, 1.2x with it; see
 * docs/benchmarks.md). Bytes in flight are not counted, so a long fat path
 * still fills its window; and a stalled reader pins at most this much per
 * socket. */
#define TCP_RELAY_NOTSENT_LOWAT (128 * 1024)

/* SO_LINGER {1, 0}: when the daemon dies (kill -9, the OOM killer) the
 * kernel resets every relayed connection, where a FIN would make a
 * close-delimited download look complete. The daemon's own orderly closes
 * turn it off first (loop_close with CLOSE_FIN). */

/* Returns -1 with errno set when an option is refused. */
static inline int tcp_relay_socket_setup(int fd)
{
	int one = 1, idle = TCP_RELAY_KEEPIDLE_S, lowat = TCP_RELAY_NOTSENT_LOWAT;
	unsigned timeout = TCP_RELAY_USER_TIMEOUT_MS;
	struct linger abort_on_exit = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_exit, sizeof(abort_on_exit)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) < 0)
		return -1;
	return 0;
}

#endif
