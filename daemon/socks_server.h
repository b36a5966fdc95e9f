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

/* The server's state on r's worker (r->socks); 0 or -errno with a log
 * line. socks_server_free is safe after a failure. */
int socks_server_new(struct relay *r);
/* After the relay's flows were closed. */
void socks_server_free(struct relay *r);
/* A connection accepted on one of the SOCKS listeners. The relay core
 * reaches the SOCKS side of a flow only through the struct flow_frontend
 * the server gives it (flow_core.h). */
void socks_server_accept(struct relay *r, int fd, const struct sockaddr_storage *client);

#endif
