/* The SOCKS server front end: listeners' connections go through the SOCKS5
 * or SOCKS4 handshake (socks_handshake.c), the client policy and password
 * check, name resolution, then become ordinary flows (CONNECT), a BIND
 * rendezvous, or a UDP association. */
#ifndef SOCKGATE_SOCKS_SERVER_H
#define SOCKGATE_SOCKS_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

struct flow;
struct worker;

void socks_server_accept(struct worker *w, int fd, const struct sockaddr_storage *client);
/* The relay core reaches the SOCKS side of a flow only through the
 * struct flow_frontend the server gives it (flow_core.h). */
/* Password checks finished by the verifier thread (the worker's auth
 * eventfd fired). */
void socks_server_auth_completed(struct worker *w);

#endif
