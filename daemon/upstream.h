/* Client side of the upstream proxy protocols (SOCKS5, SOCKS4/4a, HTTP
 * CONNECT) as pure codecs: the caller sends what they write to its buffer,
 * feeds every byte read from the upstream, and gets DONE, MORE or ERROR.
 * No I/O in here. */
#ifndef SOCKGATE_UPSTREAM_H
#define SOCKGATE_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sockgate/url.h"

/* Where the client wants to go: an address, or a name when one is known
 * (SOCKS clients asking by name; never for intercepted flows). */
struct upstream_target {
	struct sockaddr_storage addr;
	const char *hostname; /* NULL or NUL-terminated, at most 255 bytes */
	uint16_t port;	      /* used with hostname */
	/* addr stands for hostname (a fake-IP one): only the name may go out,
	 * to SOCKS5 as to SOCKS5H, and not at all to SOCKS4 */
	uint8_t name_only;
};

enum upstream_result {
	UPSTREAM_DONE = 0,   /* tunnel established; relay may start */
	UPSTREAM_MORE = 1,   /* feed more bytes (and send out if out_len) */
	UPSTREAM_ERROR = -1, /* hs->reason says why */
};

/* Why a handshake failed, for logs and for the SOCKS server's reply code. */
enum upstream_failure {
	UPSTREAM_FAIL_PROTOCOL = 1, /* malformed or unexpected reply */
	UPSTREAM_FAIL_AUTH,	    /* credentials refused or method not accepted */
	UPSTREAM_FAIL_REFUSED,	    /* target refused the connection */
	UPSTREAM_FAIL_UNREACHABLE,  /* target network/host unreachable, TTL */
	UPSTREAM_FAIL_DENIED,	    /* upstream ruleset forbids it */
	UPSTREAM_FAIL_UNSUPPORTED,  /* target cannot be expressed in this protocol */
	UPSTREAM_FAIL_OTHER,	    /* general failure reported by the upstream */
};

/* Room for the largest message sockgated sends: an HTTP CONNECT with a
 * 255-byte host and 255-byte credentials, or a pipelined SOCKS5 greeting +
 * credentials + request. */
#define UPSTREAM_OUT_MAX	 1536
#define UPSTREAM_HTTP_HEADER_MAX 16384

/* Kept small (about 500 bytes): thousands of handshakes can be under way at
 * once, and the bytes to send live in the caller's buffer only until sent. */
struct upstream_handshake {
	enum upstream_kind kind;
	int stage;
	int pipelined;
	/* Set by begin and feed: the caller's UPSTREAM_OUT_MAX buffer and how
	 * many of its bytes to send now. */
	uint8_t *out;
	size_t out_len;
	/* What later messages of a non-pipelined SOCKS5 exchange encode; both
	 * must outlive the handshake. */
	const struct upstream_url *url;
	const struct upstream_target *target;
	int with_auth;
	/* SOCKS5 CMD: 1 CONNECT (the default) or 3 UDP ASSOCIATE; 0: none (a
	 * check, see upstream_handshake_begin_check) */
	uint8_t command;
	/* current reply message */
	uint8_t msg[300];
	size_t have, need;
	/* HTTP reply state */
	size_t total, line_len;
	int saw_cr, saw_colon;
	/* outcome */
	enum upstream_failure failure;
	int code; /* SOCKS5 REP, SOCKS4 CD or HTTP status, when the upstream gave one */
	char reason[96];
};

/* Prepares the exchange for url and target (both must outlive it), writing
 * the first bytes to send into out (UPSTREAM_OUT_MAX bytes); hs->out_len
 * says how many. pipelined: send SOCKS5 greeting, credentials and request at
 * once instead of waiting a round trip for each reply. 0 or -1 (reason). */
int upstream_handshake_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			     const struct upstream_target *target, int pipelined, uint8_t *out);
/* Same for a SOCKS5 UDP ASSOCIATE (RFC 1928 section 4, CMD 3) asking to
 * relay datagrams from any address and port of ours (0.0.0.0:0). After
 * DONE, upstream_socks5_bound() gives the relay address. */
int upstream_handshake_begin_udp(struct upstream_handshake *hs, const struct upstream_url *url,
				 int pipelined, uint8_t *out);
/* A health check's SOCKS5 exchange: the greeting and, with credentials,
 * their check, then DONE without any request, so that the proxy is proven
 * to answer and to take our credentials without a tunnel to anywhere.
 * -1 (reason) for the kinds that have no such exchange. */
int upstream_handshake_begin_check(struct upstream_handshake *hs, const struct upstream_url *url,
				   int pipelined, uint8_t *out);
/* A warm session (a connection opened ahead, through
 * upstream_handshake_begin_check for SOCKS5, or only connected for the
 * kinds without a greeting) takes its request: for SOCKS5 the request
 * alone, then its reply; for the others the whole exchange. */
int upstream_handshake_begin_resume(struct upstream_handshake *hs, const struct upstream_url *url,
				    const struct upstream_target *target, uint8_t *out);
/* The BND.ADDR and BND.PORT of a SOCKS5 reply once DONE: 0 with both, or
 * -1 when the upstream named the address by domain (*port is still set)
 * or the handshake is not done (*port 0). */
int upstream_socks5_bound(const struct upstream_handshake *hs, struct sockaddr_storage *ss,
			  uint16_t *port);
/* Where the datagrams of a granted UDP ASSOCIATE go: udp_addr when set
 * (the upstream's udp_address); else BND.ADDR:BND.PORT, unless the upstream
 * named no usable address (0.0.0.0, ::, a name, or loopback from a remote
 * upstream, as a proxy behind NAT or in a container does): then its own
 * address with BND.PORT. 0, or -1 when the relay port is 0. */
int upstream_udp_relay_address(const struct upstream_handshake *hs,
			       const struct sockaddr_storage *upstream_addr,
			       const struct sockaddr_storage *udp_addr,
			       struct sockaddr_storage *relay);
/* Feeds len reply bytes; *consumed is how many belong to the handshake (the
 * rest, after DONE, is tunnel data from the target). If hs->out_len is set
 * afterwards, that many bytes of out are to be sent now. */
enum upstream_result upstream_handshake_feed(struct upstream_handshake *hs, const uint8_t *in,
					     size_t len, size_t *consumed, uint8_t *out);

/* After a timeout: whether a pipelined SOCKS5 upstream answered part of the
 * exchange and then went silent, the sign of a server that drops pipelined
 * bytes (microsocks 1.0.3 does). */
int upstream_handshake_stalled_pipeline(const struct upstream_handshake *hs);

/* After a timeout: whether the proxy has not answered what it answers
 * before it reaches for the target (a SOCKS5 greeting), so the silence is
 * the proxy's own. 0 where the protocol cannot tell (SOCKS4, HTTP). */
int upstream_handshake_proxy_silent(const struct upstream_handshake *hs);

/* Per-protocol parts, used by upstream_handshake_*. */
int upstream_socks5_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			  const struct upstream_target *target);
enum upstream_result upstream_socks5_feed(struct upstream_handshake *hs, const uint8_t *in,
					  size_t len, size_t *consumed);
int upstream_socks5_begin_request(struct upstream_handshake *hs, const struct upstream_url *url,
				  const struct upstream_target *target);
int upstream_socks5_stalled_pipeline(const struct upstream_handshake *hs);
int upstream_socks5_silent(const struct upstream_handshake *hs);
int upstream_socks4_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			  const struct upstream_target *target);
enum upstream_result upstream_socks4_feed(struct upstream_handshake *hs, const uint8_t *in,
					  size_t len, size_t *consumed);
/* "Proxy-Authorization: Basic ...\r\n" for url's credentials into out
 * (cap bytes), or "" without them; 0, or -1 when they do not fit. */
#define UPSTREAM_HTTP_CREDENTIALS_MAX 720
int upstream_http_credentials(const struct upstream_url *url, char *out, size_t cap);
int upstream_http_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			const struct upstream_target *target);
enum upstream_result upstream_http_feed(struct upstream_handshake *hs, const uint8_t *in,
					size_t len, size_t *consumed);

/* Shared by the codecs: sets failure, code and a formatted reason. */
enum upstream_result upstream_fail(struct upstream_handshake *hs, enum upstream_failure failure,
				   int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
