/* The SOCKS server front end: listeners' connections go through the SOCKS5
 * or SOCKS4 handshake (socks_handshake.c), the client policy and password
 * check, name resolution, then become ordinary flows (CONNECT), a BIND
 * rendezvous, or a UDP association. */
#ifndef SOCKGATE_SOCKS_SERVER_H
#define SOCKGATE_SOCKS_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

struct flow;
struct relay;

/* A connection accepted on one of the SOCKS listeners. The relay core
 * reaches the SOCKS side of a flow only through the struct flow_frontend
 * the server gives it (flow_core.h). */
void socks_server_accept(struct relay *r, int fd, const struct sockaddr_storage *client);

#endif
