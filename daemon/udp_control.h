/* The TCP control connection of a UDP ASSOCIATE that sockgated asks of a
 * SOCKS5 upstream (RFC 1928 section 7), for udp_assoc.c: a marked connection, the
 * handshake through the upstream codec, a watch on it once granted (the
 * association ends with it), and the datagram socket towards the relay.
 * Its owner holds the sockets and the setup, and logs and retries as it
 * sees fit. */
#ifndef SOCKGATE_UDP_CONTROL_H
#define SOCKGATE_UDP_CONTROL_H

#include <stdint.h>
#include <sys/socket.h>

#include "upstream.h"

struct ev;
struct upstream;
struct relay;

#define UDP_CONTROL_WHY_MAX 160

/* What a control connection needs only until the upstream grants it. */
struct udp_control_setup {
	struct upstream_handshake hs;
	uint8_t out[UPSTREAM_OUT_MAX];
	size_t out_len, out_sent;
	int connected; /* TCP is up; the handshake is under way */
};

enum udp_control_result {
	UDP_CONTROL_WAIT,    /* nothing for the owner to do */
	UDP_CONTROL_GRANTED, /* the upstream granted the association */
	UDP_CONTROL_FAILED,  /* why says what; the owner closes the socket */
};

/* Starts the handshake and a marked, non-blocking connection to up at
 * up_addr,
 * registered with epoll under ev; *fd is set (and counted in the fd
 * budget) as soon as the socket exists, even when FAILED follows. */
enum udp_control_result udp_control_open(struct relay *r, const struct upstream *up,
					 const struct sockaddr_storage *up_addr, uint32_t mark,
					 struct udp_control_setup *s, struct ev *ev, int *fd,
					 char why[UDP_CONTROL_WHY_MAX]);
/* An event on the control connection fd: s while the association is set
 * up, NULL once granted (then only the connection's end matters). */
enum udp_control_result udp_control_event(struct relay *r, int fd, struct ev *ev,
					  struct udp_control_setup *s, uint32_t events,
					  char why[UDP_CONTROL_WHY_MAX]);
/* After GRANTED: a marked datagram socket connected to the relay the
 * upstream named (or its udp_address), sending from the control
 * connection's address (the upstream takes datagrams only from there),
 * registered under ev for EPOLLIN. 0, or -1 with why; *relay_fd is set
 * (and counted) as soon as the socket exists. */
int udp_control_open_relay(struct relay *r, const struct upstream *up,
			   const struct sockaddr_storage *up_addr, uint32_t mark, int control_fd,
			   const struct udp_control_setup *s, struct ev *ev, int *relay_fd,
			   struct sockaddr_storage *relay, char why[UDP_CONTROL_WHY_MAX]);

#endif
