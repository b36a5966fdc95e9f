/* Upstream proxy URLs: socks5://, socks5h://, socks4://, socks4a://,
 * http:// (CONNECT) and the bare word "direct". */
#ifndef SOCKGATE_URL_H
#define SOCKGATE_URL_H

#include <stddef.h>
#include <stdint.h>

enum upstream_kind {
	UPSTREAM_DIRECT,
	UPSTREAM_SOCKS5,
	UPSTREAM_SOCKS5H,
	UPSTREAM_SOCKS4,
	UPSTREAM_SOCKS4A,
	UPSTREAM_HTTP,
	/* a [group]: never a URL's, never spoken; a member is picked */
	UPSTREAM_GROUP,
};

#define URL_HOST_MAX 255
#define URL_CRED_MAX 255

struct upstream_url {
	enum upstream_kind kind;
	char host[URL_HOST_MAX + 1]; /* without IPv6 brackets */
	uint16_t port;
	char user[URL_CRED_MAX + 1]; /* percent-decoded */
	char pass[URL_CRED_MAX + 1];
	int has_user;
	int has_pass;
};

/* Parses s into out. Returns 0, or -1 with a message in err. */
int url_parse(const char *s, struct upstream_url *out, char *err, size_t errlen);
const char *upstream_kind_name(enum upstream_kind kind);

#endif
