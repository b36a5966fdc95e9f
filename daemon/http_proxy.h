/* The HTTP proxy front end on the SOCKS listeners ("mixed" port): a
 * connection whose first byte starts an HTTP method is served here.
 * CONNECT becomes a tunnel through [route] like a SOCKS CONNECT; absolute-
 * form requests ("GET http://host/path") are forwarded one by one, each to
 * its own target over its own upstream connection, keeping the client's
 * connection alive between them. The same users, allow list, destination
 * policy and per-client limit as SOCKS. */
#ifndef SOCKGATE_HTTP_PROXY_H
#define SOCKGATE_HTTP_PROXY_H

#include <stddef.h>
#include <stdint.h>

struct flow;

/* Whether a connection's first byte starts an HTTP request (a method is
 * uppercase letters; SOCKS starts with 4 or 5). */
static inline int http_proxy_first_byte(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

/* Takes over f (accepted on a SOCKS listener, allowed and counted) from
 * the front end that read its first bytes: the len bytes in buf start the
 * request. f may be gone on return. */
void http_proxy_take(struct flow *f, const uint8_t *buf, size_t len);

#endif
