/* Server side of the SOCKS handshakes: SOCKS5 (RFC 1928) with
 * username/password (RFC 1929), and SOCKS4/4a, told apart by the first byte.
 * A pure codec over bytes, like upstream.h for the client side: the caller
 * feeds what the client sent, sends what the codec wrote to its buffer, and
 * checks credentials itself (that may take time; the codec waits). */
#ifndef SOCKGATE_SOCKS_HANDSHAKE_H
#define SOCKGATE_SOCKS_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "upstream.h"

enum socks_handshake_result {
	SOCKS_HS_MORE,	  /* feed more bytes */
	SOCKS_HS_AUTH,	  /* user and pass parsed: verify, then socks_handshake_auth_done() */
	SOCKS_HS_REQUEST, /* cmd and target parsed: act on them, then send a reply */
	SOCKS_HS_ERROR,	  /* send what was written to out (maybe nothing), then close */
};

enum socks_command {
	SOCKS_CMD_CONNECT = 1,
	SOCKS_CMD_BIND = 2,
	SOCKS_CMD_UDP_ASSOCIATE = 3,
};

/* What the codec may write in one call: a method choice and a refusal. */
#define SOCKS_HANDSHAKE_OUT_MAX 32
/* A SOCKS5 reply with an IPv6 BND.ADDR is the longest reply: 22 bytes. */
#define SOCKS_REPLY_MAX 22

struct socks_handshake {
	int version; /* 0 until the first byte, then 4 or 5 */
	int stage;
	int password_required;
	uint8_t msg[8 + 256 + 256]; /* the message being parsed */
	size_t have, need;
	/* results */
	enum socks_command cmd;
	char user[256], pass[256];
	char host[256];
	struct upstream_target target; /* target.hostname points at host when by name */
	/* on SOCKS_HS_ERROR: why, for the log */
	char reason[96];
};

void socks_handshake_init(struct socks_handshake *hs, int password_required);
/* Feeds len client bytes; *consumed is how many were the handshake's (the
 * rest, after SOCKS_HS_REQUEST, is client data for the target). Replies to
 * send are appended to out at *out_len (SOCKS_HANDSHAKE_OUT_MAX bytes). */
enum socks_handshake_result socks_handshake_feed(struct socks_handshake *hs, const uint8_t *in,
						 size_t len, size_t *consumed, uint8_t *out,
						 size_t *out_len);
/* After SOCKS_HS_AUTH: appends the RFC 1929 status to out. ok = 0 ends the
 * handshake (send it, then close); ok = 1 lets the request follow. */
void socks_handshake_auth_done(struct socks_handshake *hs, int ok, uint8_t *out, size_t *out_len);

/* Reply encoders. bnd NULL means 0.0.0.0:0. Return the length written. */
size_t socks_handshake_reply5(uint8_t rep, const struct sockaddr_storage *bnd, uint8_t *out);
/* SOCKS4: granted (90) or rejected (91); BND is IPv4 or zeros. */
size_t socks_handshake_reply4(int granted, const struct sockaddr_storage *bnd, uint8_t *out);

/* SOCKS5 UDP datagrams (RFC 1928 section 7): RSV RSV FRAG ATYP DST.ADDR
 * DST.PORT DATA. Parses the header of a client's datagram: 0 with the
 * target (t->hostname pointing into host when by name) and the header
 * length, or -1 with why (fragments are not supported and are refused). */
/* Whether p[0..len) may be a target host name: 1..255 of letters, digits,
 * '-', '.', '_', or an IPv6 literal. */
int socks_host_valid(const uint8_t *p, size_t len);

int socks_udp_parse(const uint8_t *buf, size_t len, struct upstream_target *t, char host[256],
		    size_t *hdr_len, const char **why);
/* Writes the header for a datagram from src; returns its length (at most
 * SOCKS_UDP_HEADER_MAX). */
#define SOCKS_UDP_HEADER_MAX 22
size_t socks_udp_header(const struct sockaddr_storage *src, uint8_t *out);
/* The same for a datagram to name:port (ATYP DOMAINNAME); 0 when name is
 * empty or longer than 255 bytes. */
#define SOCKS_UDP_NAME_HEADER_MAX (4 + 1 + 255 + 2)
size_t socks_udp_header_name(const char *name, uint16_t port, uint8_t *out);

#endif
