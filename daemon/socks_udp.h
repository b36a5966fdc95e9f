/* SOCKS5 UDP ASSOCIATE (RFC 1928 section 7) for the SOCKS server. */
#ifndef SOCKGATE_SOCKS_UDP_H
#define SOCKGATE_SOCKS_UDP_H

#include <stdint.h>

struct ev;
struct flow;

/* Sets up the association for f's request and sends the reply; 0, or -1
 * when the flow was destroyed. */
int socks_udp_open(struct flow *f);
/* Datagrams from the client (its UDP socket's event). */
void socks_udp_client_event(struct ev *ev, uint32_t events);
/* Datagrams from targets (the flow's upstream socket). */
void socks_udp_targets_event(struct flow *f, uint32_t events);
/* A socket of an association's link with an upstream is ready. */
/* Closes the association's sockets and forgets its lookups. */
void socks_udp_free(struct flow *f);

#endif
