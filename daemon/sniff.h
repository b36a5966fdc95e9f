/* Names from a client's first bytes ([intake] sniff): the server name of
 * a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3) and the Host header of an
 * HTTP/1.x request head. Pure functions over what has arrived so far;
 * anything malformed yields no name, never a guess. */
#ifndef SOCKGATE_SNIFF_H
#define SOCKGATE_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#include "sockgate/domains.h"

/* a name found is checked and lowered by domain_normalize_len */
#define SNIFF_NAME_MAX DOMAIN_NAME_MAX
/* what is read at most before giving up: a ClientHello with a large
 * post-quantum key share is about 1.8 KB; HTTP heads rarely pass 8 KB */
#define SNIFF_TLS_MAX  16384
#define SNIFF_HTTP_MAX 8192

enum sniff_result {
	SNIFF_FOUND,  /* name holds the name, lowercase, NUL-terminated */
	SNIFF_MORE,   /* what came so far is a valid beginning: read more */
	SNIFF_NOTHING /* no name here (not this protocol, malformed, none given) */
};

/* Which protocols to look for ([intake] sniff). */
enum sniff_proto {
	SNIFF_TLS = 1u << 0,
	SNIFF_HTTP = 1u << 1,
};

enum sniff_result sniff_tls(const uint8_t *buf, size_t len, char name[SNIFF_NAME_MAX + 1]);
enum sniff_result sniff_http(const uint8_t *buf, size_t len, char name[SNIFF_NAME_MAX + 1]);
/* Either, as protos allows: the one whose first bytes match. */
enum sniff_result sniff_name(unsigned protos, const uint8_t *buf, size_t len,
			     char name[SNIFF_NAME_MAX + 1]);

#endif
