/* The SOCKS server front end: listeners' connections go through the SOCKS5
 * or SOCKS4 handshake (socks_handshake.c), the client policy and password
 * check, name resolution, then become ordinary flows (CONNECT), a BIND
 * rendezvous, or a UDP association. */
#ifndef SOCKGATE_SOCKS_SERVER_H
#define SOCKGATE_SOCKS_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

struct ev;
struct flow;
struct worker;

void socks_server_accept(struct worker *w, int fd, const struct sockaddr_storage *client);
/* Events on a SOCKS flow in one of the SOCKS-only states. */
void socks_server_client_event(struct flow *f, uint32_t events);
void socks_server_upstream_event(struct flow *f, uint32_t events);
void socks_server_udp_event(struct ev *ev, uint32_t events);
/* The outgoing connection is ready: sends the success reply. 0, or -1 when
 * the flow was destroyed. */
int socks_server_tunnel_up(struct flow *f);
/* After a failed attempt: tries the name's next address if there is one
 * (returns 1) or returns 0. desc/reason are for the log. */
int socks_server_retry(struct flow *f, const char *desc, const char *reason);
/* Sends the failure reply still owed to the client; 0 if none was owed. */
int socks_server_reply_failure(struct flow *f, uint8_t rep);
/* From flow_destroy: everything the SOCKS side holds. */
void socks_server_session_end(struct flow *f);
/* Password checks finished by the verifier thread (the worker's auth
 * eventfd fired). */
void socks_server_auth_completed(struct worker *w);

#endif
