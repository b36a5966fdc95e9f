/* Intake of flows diverted by nftables REDIRECT (NAT). */
#ifndef SOCKGATE_INTAKE_REDIRECT_H
#define SOCKGATE_INTAKE_REDIRECT_H

#include <stdint.h>
#include <sys/socket.h>

/* A non-blocking SO_REUSEPORT listener on the wildcard address of family;
 * returns the fd or -errno. */
int intake_redirect_listen(int family, uint16_t port);
/* The destination the client asked for, before NAT rewrote it; 0 or -errno
 * (-ENOENT: the connection was not redirected). */
int intake_redirect_original_dst(int fd, int family, struct sockaddr_storage *dst);

#endif
