/* The SOCKS side of a flow, shared by socks_server.c (handshake, CONNECT,
 * BIND) and socks_udp.c (UDP ASSOCIATE); socks_session.c has what both
 * send and check. Nothing else includes this. */
#ifndef SOCKGATE_SOCKS_SESSION_H
#define SOCKGATE_SOCKS_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

#include "proxy_target.h"
#include "socks_handshake.h"

struct auth_request;
struct flow;
struct socks_udp;

struct socks_session {
	struct flow *flow;
	struct socks_handshake hs;
	struct auth_request *auth; /* with the verifier */
	/* client bytes read but not yet used by the codec, then (after the
	 * request) the first bytes for the target */
	uint8_t in[1024];
	size_t in_len;
	int in_drained;		  /* the last read was short: the socket is empty */
	struct proxy_target dest; /* CONNECT and BIND */
	uint8_t reply_owed;	  /* the request (or BIND's second reply) is unanswered */
	struct socks_udp *udp;	  /* UDP ASSOCIATE */
};

/* Sends a short handshake message: 0, or -1 when the flow was destroyed
 * (a short write). */
int socks_send(struct flow *f, const uint8_t *buf, size_t len);
/* The reply in the client's protocol into out (SOCKS_REPLY_MAX): its
 * length. */
size_t socks_encode_reply(const struct flow *f, uint8_t rep, const struct sockaddr_storage *bnd,
			  uint8_t *out);
/* Sends the SOCKS5 (or SOCKS4) reply; -1 when the flow was destroyed. */
int socks_reply(struct flow *f, uint8_t rep, const struct sockaddr_storage *bnd);
#endif
