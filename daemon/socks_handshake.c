/* SOCKS server handshake codec. Every message is collected into hs->msg until
 * its length is known and complete, so bytes may arrive one at a time.
 * Malformed input ends the handshake with the refusal the protocol has for
 * it, or with no reply at all where it has none. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec_collect.h"
#include "socks5_addr.h"
#include "socks_handshake.h"

enum {
	ST_FIRST,     /* version byte not seen yet */
	ST_METHODS,   /* SOCKS5: VER NMETHODS METHODS */
	ST_AUTH,      /* RFC 1929: VER ULEN UNAME PLEN PASSWD */
	ST_AUTH_WAIT, /* credentials are with the caller */
	ST_REQUEST,   /* SOCKS5: VER CMD RSV ATYP DST.ADDR DST.PORT */
	ST_SOCKS4,    /* VN CD DSTPORT DSTIP USERID NUL [HOST NUL] */
	ST_DONE,
};

#define SOCKS5_NO_AUTH		    0x00
#define SOCKS5_USER_PASS	    0x02
#define SOCKS5_NO_METHOD	    0xff
#define SOCKS5_REP_GENERAL_FAILURE  0x01
#define SOCKS5_REP_CMD_UNSUPPORTED  0x07
#define SOCKS5_REP_ATYP_UNSUPPORTED 0x08
#define SOCKS4_GRANTED		    90
#define SOCKS4_REJECTED		    91

static enum socks_handshake_result fail(struct socks_handshake *hs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum socks_handshake_result fail(struct socks_handshake *hs, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(hs->reason, sizeof(hs->reason), fmt, ap);
	va_end(ap);
	hs->stage = ST_DONE;
	return SOCKS_HS_ERROR;
}

static void put2(uint8_t *out, size_t *out_len, uint8_t a, uint8_t b)
{
	out[(*out_len)++] = a;
	out[(*out_len)++] = b;
}

void socks_handshake_init(struct socks_handshake *hs, int password_required)
{
	memset(hs, 0, sizeof(*hs));
	hs->password_required = password_required;
	hs->stage = ST_FIRST;
	hs->need = 1;
}

size_t socks_handshake_reply5(uint8_t rep, const struct sockaddr_storage *bnd, uint8_t *out)
{
	size_t n = 0;
	uint16_t port = 0;

	out[n++] = 0x05;
	out[n++] = rep;
	out[n++] = 0x00;
	if (bnd && bnd->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)bnd;
		out[n++] = 0x04;
		memcpy(out + n, &sin6->sin6_addr, 16);
		n += 16;
		port = ntohs(sin6->sin6_port);
	} else {
		out[n++] = 0x01;
		if (bnd && bnd->ss_family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)bnd;
			memcpy(out + n, &sin->sin_addr, 4);
			port = ntohs(sin->sin_port);
		} else {
			memset(out + n, 0, 4);
		}
		n += 4;
	}
	out[n++] = (uint8_t)(port >> 8);
	out[n++] = (uint8_t)port;
	return n;
}

size_t socks_handshake_reply4(int granted, const struct sockaddr_storage *bnd, uint8_t *out)
{
	out[0] = 0x00;
	out[1] = granted ? SOCKS4_GRANTED : SOCKS4_REJECTED;
	memset(out + 2, 0, 6);
	if (bnd && bnd->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)bnd;
		memcpy(out + 2, &sin->sin_port, 2);
		memcpy(out + 4, &sin->sin_addr, 4);
	}
	return 8;
}

/* Ends a SOCKS5 request with reply code rep. */
static enum socks_handshake_result refuse5(struct socks_handshake *hs, uint8_t rep, uint8_t *out,
					   size_t *out_len, const char *reason)
{
	*out_len += socks_handshake_reply5(rep, NULL, out + *out_len);
	return fail(hs, "%s", reason);
}

static enum socks_handshake_result refuse4(struct socks_handshake *hs, uint8_t *out,
					   size_t *out_len, const char *reason)
{
	*out_len += socks_handshake_reply4(0, NULL, out + *out_len);
	return fail(hs, "%s", reason);
}

/* VER NMETHODS METHODS: choose no-auth when allowed, else username/password. */
static enum socks_handshake_result parse_methods(struct socks_handshake *hs, uint8_t *out,
						 size_t *out_len)
{
	const uint8_t *m = hs->msg;
	int no_auth = 0, user_pass = 0;

	if (hs->have == 2) {
		if (m[1] == 0) {
			put2(out, out_len, 0x05, SOCKS5_NO_METHOD);
			return fail(hs, "socks5: greeting offers no method");
		}
		hs->need = 2 + (size_t)m[1];
		return SOCKS_HS_MORE;
	}
	for (size_t i = 2; i < hs->have; i++) {
		no_auth |= m[i] == SOCKS5_NO_AUTH;
		user_pass |= m[i] == SOCKS5_USER_PASS;
	}
	if (no_auth && !hs->password_required) {
		put2(out, out_len, 0x05, SOCKS5_NO_AUTH);
		hs->stage = ST_REQUEST;
		hs->need = 5; /* up to the first address byte */
	} else if (user_pass && hs->password_required) {
		/* 0x02 only when we verify passwords: without a verifier a
		 * client offering it alone is refused, never half-served */
		put2(out, out_len, 0x05, SOCKS5_USER_PASS);
		hs->stage = ST_AUTH;
		hs->need = 2;
	} else {
		put2(out, out_len, 0x05, SOCKS5_NO_METHOD);
		return fail(hs, hs->password_required
				    ? "socks5: client does not offer username/password"
				    : "socks5: no acceptable method offered");
	}
	hs->have = 0;
	return SOCKS_HS_MORE;
}

/* VER ULEN UNAME PLEN PASSWD (RFC 1929). */
static enum socks_handshake_result parse_auth(struct socks_handshake *hs, uint8_t *out,
					      size_t *out_len)
{
	const uint8_t *m = hs->msg;

	if (hs->have == 2) {
		if (m[0] != 0x01) {
			put2(out, out_len, 0x01, 0x01);
			return fail(hs, "rfc1929: bad version %#x", m[0]);
		}
		if (m[1] == 0) {
			put2(out, out_len, 0x01, 0x01);
			return fail(hs, "rfc1929: empty user name");
		}
		hs->need = 2 + (size_t)m[1] + 1;
		return SOCKS_HS_MORE;
	}
	if (hs->have == 2 + (size_t)m[1] + 1) {
		/* PLEN may be 0: an empty password, which no users entry matches */
		hs->need = hs->have + m[hs->have - 1];
		if (hs->need > hs->have)
			return SOCKS_HS_MORE;
	}
	size_t ulen = m[1], plen = m[2 + ulen];
	memcpy(hs->user, m + 2, ulen);
	hs->user[ulen] = '\0';
	memcpy(hs->pass, m + 3 + ulen, plen);
	hs->pass[plen] = '\0';
	explicit_bzero(hs->msg, hs->have); /* hs->pass is the password's only copy */
	if (memchr(hs->user, '\0', ulen) || memchr(hs->pass, '\0', plen)) {
		put2(out, out_len, 0x01, 0x01);
		return fail(hs, "rfc1929: NUL byte in credentials");
	}
	hs->stage = ST_AUTH_WAIT;
	return SOCKS_HS_AUTH;
}

void socks_handshake_auth_done(struct socks_handshake *hs, int ok, uint8_t *out, size_t *out_len)
{
	put2(out, out_len, 0x01, ok ? 0x00 : 0x01);
	if (!ok) {
		fail(hs, "rfc1929: credentials rejected");
		return;
	}
	hs->stage = ST_REQUEST;
	hs->have = 0;
	hs->need = 5;
}

static void set_port(struct socks_handshake *hs, uint16_t port)
{
	if (hs->target.hostname)
		hs->target.port = port;
	else if (hs->target.addr.ss_family == AF_INET)
		((struct sockaddr_in *)&hs->target.addr)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&hs->target.addr)->sin6_port = htons(port);
}

/* A host name from the wire: letters, digits, '-', '.', '_' (so that no
 * ':', '@', '/', '[' or '#' can change what a CONNECT line or a log line
 * says), or an IPv6 literal that some clients send as a name. */
int socks_host_valid(const uint8_t *p, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	int colon = 0;

	if (len == 0 || len > 255)
		return 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (c == ':') {
			colon = 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return 0;
	}
	if (!colon)
		return 1;
	if (len >= sizeof(text))
		return 0;
	memcpy(text, p, len);
	text[len] = '\0';
	return inet_pton(AF_INET6, text, &a6) == 1;
}

static int set_host(struct socks_handshake *hs, const uint8_t *p, size_t len)
{
	if (!socks_host_valid(p, len))
		return -1;
	memcpy(hs->host, p, len);
	hs->host[len] = '\0';
	hs->target.hostname = hs->host;
	return 0;
}

/* VER CMD RSV ATYP DST.ADDR DST.PORT */
static enum socks_handshake_result parse_request(struct socks_handshake *hs, uint8_t *out,
						 size_t *out_len)
{
	const uint8_t *m = hs->msg;

	if (hs->have == 5) {
		if (m[0] != 0x05)
			return fail(hs, "socks5: bad request version %#x", m[0]);
		if (m[1] < SOCKS_CMD_CONNECT || m[1] > SOCKS_CMD_UDP_ASSOCIATE)
			return refuse5(hs, SOCKS5_REP_CMD_UNSUPPORTED, out, out_len,
				       "socks5: unknown command");
		if (m[2] != 0x00)
			return refuse5(hs, SOCKS5_REP_GENERAL_FAILURE, out, out_len,
				       "socks5: reserved byte not zero");
		if (m[3] == SOCKS5_ATYP_NAME && !m[4])
			return refuse5(hs, SOCKS5_REP_GENERAL_FAILURE, out, out_len,
				       "socks5: empty domain name");
		if (!socks5_addr_len(m[3], m[4]))
			return refuse5(hs, SOCKS5_REP_ATYP_UNSUPPORTED, out, out_len,
				       "socks5: unknown address type");
		hs->need = 4 + socks5_addr_len(m[3], m[4]) + 2;
		return SOCKS_HS_MORE;
	}
	memset(&hs->target, 0, sizeof(hs->target));
	if (m[3] == 0x01) {
		hs->target.addr.ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&hs->target.addr)->sin_addr, m + 4, 4);
	} else if (m[3] == 0x04) {
		hs->target.addr.ss_family = AF_INET6;
		memcpy(&((struct sockaddr_in6 *)&hs->target.addr)->sin6_addr, m + 4, 16);
	} else if (set_host(hs, m + 5, m[4]) < 0) {
		return refuse5(hs, SOCKS5_REP_GENERAL_FAILURE, out, out_len,
			       "socks5: malformed domain name");
	}
	set_port(hs, (uint16_t)(m[hs->have - 2] << 8 | m[hs->have - 1]));
	hs->cmd = (enum socks_command)m[1];
	hs->stage = ST_DONE;
	return SOCKS_HS_REQUEST;
}

/* Scans for the NUL ending a field that starts at offset from; returns its
 * index, 0 when more bytes are needed, or -1 when the field is over 255. */
static long find_nul(const struct socks_handshake *hs, size_t from)
{
	const uint8_t *nul = memchr(hs->msg + from, 0, hs->have - from);
	if (nul)
		return nul - hs->msg;
	return hs->have - from > 255 ? -1 : 0;
}

/* VN CD DSTPORT DSTIP USERID NUL [HOST NUL] (SOCKS4, SOCKS4a). */
static enum socks_handshake_result parse_socks4(struct socks_handshake *hs, uint8_t *out,
						size_t *out_len)
{
	const uint8_t *m = hs->msg;
	long uid_end, host_end = 0;
	int by_name;

	if (hs->have < 9) {
		if (hs->have == 8 && m[1] != SOCKS_CMD_CONNECT && m[1] != SOCKS_CMD_BIND)
			return refuse4(hs, out, out_len, "socks4: unknown command");
		if (hs->have == 8 && hs->password_required)
			return refuse4(hs, out, out_len,
				       "socks4: refused, this server requires a password");
		hs->need = hs->have + 1;
		return SOCKS_HS_MORE;
	}
	/* 0.0.0.x with x != 0: a SOCKS4a host name follows the user id */
	by_name = m[4] == 0 && m[5] == 0 && m[6] == 0 && m[7] != 0;
	uid_end = find_nul(hs, 8);
	if (uid_end < 0)
		return refuse4(hs, out, out_len, "socks4: user id longer than 255 bytes");
	if (uid_end && by_name) {
		host_end = find_nul(hs, (size_t)uid_end + 1);
		if (host_end < 0)
			return refuse4(hs, out, out_len,
				       "socks4a: host name longer than 255 bytes");
	}
	if (!uid_end || (by_name && !host_end)) {
		hs->need = hs->have + 1; /* the terminating NUL is still to come */
		return SOCKS_HS_MORE;
	}
	memset(&hs->target, 0, sizeof(hs->target));
	if (by_name) {
		if (set_host(hs, m + uid_end + 1, (size_t)(host_end - uid_end - 1)) < 0)
			return refuse4(hs, out, out_len, "socks4a: malformed host name");
	} else {
		hs->target.addr.ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&hs->target.addr)->sin_addr, m + 4, 4);
	}
	set_port(hs, (uint16_t)(m[2] << 8 | m[3]));
	hs->cmd = (enum socks_command)m[1];
	hs->stage = ST_DONE;
	return SOCKS_HS_REQUEST;
}

enum socks_handshake_result socks_handshake_feed(struct socks_handshake *hs, const uint8_t *in,
						 size_t len, size_t *consumed, uint8_t *out,
						 size_t *out_len)
{
	enum socks_handshake_result res = SOCKS_HS_MORE;
	size_t used = 0;

	while (res == SOCKS_HS_MORE && used < len) {
		if (hs->stage == ST_DONE || hs->stage == ST_AUTH_WAIT) {
			res = fail(hs, "socks: bytes fed out of turn");
			break;
		}
		used += codec_collect(hs->msg, &hs->have, hs->need, in + used, len - used);
		if (hs->have < hs->need)
			break;

		switch (hs->stage) {
		case ST_FIRST:
			if (hs->msg[0] == 0x05) {
				hs->version = 5;
				hs->stage = ST_METHODS;
				hs->need = 2;
			} else if (hs->msg[0] == 0x04) {
				hs->version = 4;
				hs->stage = ST_SOCKS4;
				hs->need = 8;
			} else {
				/* not SOCKS: no reply byte */
				res = fail(hs, "not a SOCKS request (first byte %#x)", hs->msg[0]);
			}
			break;
		case ST_METHODS:
			res = parse_methods(hs, out, out_len);
			break;
		case ST_AUTH:
			res = parse_auth(hs, out, out_len);
			break;
		case ST_REQUEST:
			res = parse_request(hs, out, out_len);
			break;
		case ST_SOCKS4:
			res = parse_socks4(hs, out, out_len);
			break;
		}
	}
	*consumed = used;
	return res;
}

/* The length of a UDP request header (RFC 1928 section 7) whose fixed
 * part is checked: 0 with why for one we do not take. */
static size_t socks_udp_header_len(const uint8_t *buf, size_t len, const char **why)
{
	size_t need = 0;

	if (len < 4)
		*why = "shorter than a header";
	else if (buf[0] || buf[1])
		*why = "reserved bytes not zero";
	else if (buf[2])
		*why = "fragment (FRAG != 0), not supported";
	else if (buf[3] == SOCKS5_ATYP_NAME && len == 4)
		need = 5; /* truncated: the name's length is missing */
	else if (!socks5_addr_len(buf[3], len > 4 ? buf[4] : 0))
		*why = buf[3] == SOCKS5_ATYP_NAME ? "empty domain name" : "unknown address type";
	else
		need = 4 + socks5_addr_len(buf[3], len > 4 ? buf[4] : 0) + 2;
	if (need && len < need) {
		*why = "truncated address";
		need = 0;
	}
	return need;
}

int socks_udp_parse(const uint8_t *buf, size_t len, struct upstream_target *t, char host[256],
		    size_t *hdr_len, const char **why)
{
	size_t need = socks_udp_header_len(buf, len, why);

	memset(t, 0, sizeof(*t));
	if (!need)
		return -1;
	if (buf[3] == 0x01) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, buf + 4, 4);
		memcpy(&sin->sin_port, buf + 8, 2);
	} else if (buf[3] == 0x04) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->addr;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, buf + 4, 16);
		memcpy(&sin6->sin6_port, buf + 20, 2);
	} else {
		size_t hl = buf[4];
		if (!socks_host_valid(buf + 5, hl)) {
			*why = "malformed domain name";
			return -1;
		}
		memcpy(host, buf + 5, hl);
		host[hl] = '\0';
		t->hostname = host;
		t->port = (uint16_t)(buf[5 + hl] << 8 | buf[6 + hl]);
	}
	/* the port is the header's last two bytes, whatever the type */
	if (!buf[need - 2] && !buf[need - 1]) {
		*why = "port 0";
		return -1;
	}
	*hdr_len = need;
	return 0;
}

size_t socks_udp_header(const struct sockaddr_storage *src, uint8_t *out)
{
	/* the same layout as a reply, with RSV RSV FRAG in front of ATYP */
	size_t n = socks_handshake_reply5(0, src, out);
	out[0] = 0;
	out[1] = 0;
	out[2] = 0;
	return n;
}

size_t socks_udp_header_name(const char *name, uint16_t port, uint8_t *out)
{
	size_t len = strlen(name), n = 0;

	if (len == 0 || len > 255)
		return 0;
	out[n++] = 0; /* RSV RSV FRAG */
	out[n++] = 0;
	out[n++] = 0;
	out[n++] = SOCKS5_ATYP_NAME;
	out[n++] = (uint8_t)len;
	memcpy(out + n, name, len);
	n += len;
	out[n++] = (uint8_t)(port >> 8);
	out[n++] = (uint8_t)port;
	return n;
}
