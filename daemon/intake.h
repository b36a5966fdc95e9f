/* Intake of flows diverted by nftables: REDIRECT (NAT; the original
 * destination from conntrack) and TPROXY (no NAT; the original destination
 * is the accepted socket's own local address). */
#ifndef SOCKGATE_INTAKE_H
#define SOCKGATE_INTAKE_H

#include <stdint.h>
#include <sys/socket.h>

/* How a flow came in: the one encoding the listeners, the flows, the
 * counters and the listings use. */
enum intake {
	INTAKE_REDIRECT,
	INTAKE_TPROXY,
	INTAKE_SOCKS, /* the SOCKS server's listeners: no original destination */
	INTAKES,
};

/* "redirect", "tproxy", "socks": as conns and the metrics print them */
extern const char *const intake_names[INTAKES];

/* A non-blocking SO_REUSEPORT listener on the wildcard address of family,
 * IP_TRANSPARENT for TPROXY; returns the fd or -errno (-EINVAL for SOCKS). */
int intake_listen(enum intake kind, int family, uint16_t port);
/* The destination the client asked for; 0 or -errno (REDIRECT: -ENOENT
 * when the connection was not redirected). */
int intake_original_dst(enum intake kind, int fd, int family, struct sockaddr_storage *dst);

#endif
