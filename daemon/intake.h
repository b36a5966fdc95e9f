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
	INTAKE_DNS,   /* the DNS service's UDP listeners: no flows */
	INTAKES,
};

/* "redirect", "tproxy", "socks", "dns": as conns and the metrics print
 * them */
extern const char *const intake_names[INTAKES];

/* A non-blocking SO_REUSEPORT listener on the wildcard address of family,
 * IP_TRANSPARENT for TPROXY; returns the fd or -errno (-EINVAL for SOCKS). */
int intake_listen(enum intake kind, int family, uint16_t port);
/* The destination the client asked for; 0 or -errno (REDIRECT: -ENOENT
 * when the connection was not redirected). */
int intake_original_dst(enum intake kind, int fd, int family, struct sockaddr_storage *dst);

/* A classic BPF program on a SO_REUSEPORT group of UDP sockets that picks
 * the worker by the client's address alone: every socket of a LAN host
 * (each of its datagrams, to any destination) meets the same worker's
 * tables (transparent UDP's associations, the DNS service's cache). 0 or
 * -1 with errno; nothing with fewer than two workers. */
int intake_steer_by_client(int fd, int family, unsigned n_workers);

#endif
