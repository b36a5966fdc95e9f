/* HTTP/1.x messages as the proxy on the SOCKS port sees them (RFC 9110,
 * RFC 9112): request and response heads parsed strictly from untrusted
 * bytes, the request target of a proxy request, the heads rewritten for
 * the next hop, and the framing of bodies (Content-Length, chunked, until
 * close). Pure functions over byte buffers, with no allocation. */
#ifndef SOCKGATE_HTTP_MSG_H
#define SOCKGATE_HTTP_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A head (request or status line and header lines) longer than this is
 * refused: 431 for a request, 502 for a response. */
#define HTTP_HEAD_MAX 16384
/* The request line alone: a longer one is refused with 414. */
#define HTTP_LINE_MAX	8192
#define HTTP_FIELDS_MAX 100

enum http_body_kind {
	HTTP_BODY_NONE,	   /* the head is the whole message */
	HTTP_BODY_LENGTH,  /* Content-Length bytes */
	HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked, up to the last chunk's trailers */
	HTTP_BODY_CLOSE,   /* a response that ends when the server closes */
};

/* A header line: offsets into the buffer the head was parsed from. */
struct http_field {
	uint16_t name, name_len, value, value_len;
	uint8_t hop; /* hop-by-hop: not passed to the next hop */
};

struct http_head {
	size_t len; /* of the head, its empty line included */
	/* request line */
	uint16_t method, method_len, target, target_len;
	/* status line */
	int status;
	uint8_t minor; /* HTTP/1.minor */
	struct http_field fields[HTTP_FIELDS_MAX];
	size_t n_fields;
	enum http_body_kind body;
	uint64_t content_length;
	uint8_t conn_close, conn_keep_alive, expect_continue;
	int proxy_auth; /* index of Proxy-Authorization, or -1 */
	/* on HTTP_PARSE_ERROR: the status to answer (400, 414, 431, 505 for
	 * requests; 502 for responses) and why */
	int error;
	const char *why;
};

enum http_parse {
	HTTP_PARSE_MORE = 0,   /* the head is not complete yet */
	HTTP_PARSE_DONE = 1,   /* h describes buf[0..h->len) */
	HTTP_PARSE_ERROR = -1, /* h->error, h->why */
};

/* Parses the request head at the start of buf[0..len). Refused: bare LF or
 * CR, obs-fold, white space before a colon, control bytes, a bad request
 * line, more than one Content-Length (even equal ones), Content-Length
 * with Transfer-Encoding, a Transfer-Encoding other than "chunked". */
enum http_parse http_parse_request(const uint8_t *buf, size_t len, struct http_head *h);
/* The same for a response to a request with method HEAD (head_request) or
 * another; h->body says how its body ends (RFC 9112 section 6.3). */
enum http_parse http_parse_response(const uint8_t *buf, size_t len, int head_request,
				    struct http_head *h);

/* Whether buf[0..len) may hold a whole head, judging only from from on
 * (what came since the last look; a line end just before it counts): an
 * empty line, or, for a client that ends lines with bare LF (refused once
 * parsed), two LFs. Parsing only then keeps a head that trickles in from
 * costing time in the square of its length. */
int http_head_may_end(const uint8_t *buf, size_t from, size_t len);

/* Where a proxy request goes: CONNECT's "host:port", or the host and port
 * of an absolute "http://" URI and its path (with query) in origin form. */
struct http_target {
	char host[256]; /* a name, or an address literal without brackets */
	uint16_t port;
	const uint8_t *path; /* into buf; "/" when the URI has none */
	size_t path_len;
	uint8_t is_connect;
};

/* 0, or -1 with why (answered with 400). */
int http_request_target(const uint8_t *buf, const struct http_head *h, struct http_target *t,
			const char **why);
/* The index of the first field named name (case-insensitive), or -1. */
int http_find_field(const uint8_t *buf, const struct http_head *h, const char *name);
/* Whether the method is the one named. */
int http_method_is(const uint8_t *buf, const struct http_head *h, const char *method);

/* The request head for the next hop: origin form (absolute: the URI
 * whole, for an HTTP upstream proxy), Host from the target, hop-by-hop
 * fields and Proxy-Authorization left out, extra (whole header lines, or
 * NULL) added, "Connection: close" (one request per connection onward),
 * "Via" when via is set. The length written, or -1 when out (cap bytes)
 * is too small. */
ssize_t http_rewrite_request(const uint8_t *buf, const struct http_head *h,
			     const struct http_target *t, int via, int absolute, const char *extra,
			     uint8_t *out, size_t cap);
/* The response head for the client: hop-by-hop fields left out, then
 * "Connection: close" when keep is 0, "Connection: keep-alive" when keep
 * is 1 and the client speaks HTTP/1.0. */
ssize_t http_rewrite_response(const uint8_t *buf, const struct http_head *h, int keep,
			      int client_minor, int via, uint8_t *out, size_t cap);

/* The framing of one body as its bytes pass: how many belong to it. */
struct http_body {
	enum http_body_kind kind;
	uint64_t remaining; /* LENGTH: bytes left; CHUNKED: of the current chunk's data */
	int state;	    /* CHUNKED: where in the framing */
	unsigned line_len;  /* CHUNKED: of a chunk line or trailer line so far */
	uint8_t done;
};

void http_body_init(struct http_body *b, enum http_body_kind kind, uint64_t length);
/* Of p[0..n), how many bytes belong to the body (all of them until its
 * end, which sets b->done); -1 when the chunked framing is malformed. */
ssize_t http_body_scan(struct http_body *b, const uint8_t *p, size_t n);

#endif
