/* Names from a client's first bytes (see sniff.h). Each call parses what
 * has arrived from the start; the bounds keep that cheap. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "sockgate/domains.h"
#include "sniff.h"

/* A bounded reader: every take fails once past the end. */
struct reader {
	const uint8_t *p;
	size_t left;
	int bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static unsigned take_u8(struct reader *r)
{
	const uint8_t *p = take(r, 1);
	return p ? p[0] : 0;
}

static unsigned take_u16(struct reader *r)
{
	const uint8_t *p = take(r, 2);
	return p ? (unsigned)(p[0] << 8 | p[1]) : 0;
}

/* ---- TLS ---- */

#define TLS_HANDSHAKE	 22
#define TLS_CLIENT_HELLO 1
#define TLS_RECORD_MAX	 16384 /* a plaintext record's payload (RFC 8446 5.1) */
#define EXT_SERVER_NAME	 0

enum join {
	JOIN_MORE, /* more handshake bytes may come */
	JOIN_END,  /* another kind of record followed: no more will */
	JOIN_BAD,  /* not TLS handshake records */
};

/* The body length a handshake message's header (4 bytes at hs) gives. */
static size_t tls_handshake_body(const uint8_t *hs)
{
	return (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
}

/* The handshake bytes of the records at the start of buf, joined in hs
 * (SNIFF_TLS_MAX); of a record that came only in part, what came. Records
 * after the one that completes the first handshake message are not looked
 * at: what follows a whole ClientHello cannot change what it says. */
static enum join tls_join_records(const uint8_t *buf, size_t len, uint8_t *hs, size_t *hs_len)
{
	size_t off = 0;

	*hs_len = 0;
	while (off < len) {
		const uint8_t *rec = buf + off;
		size_t have = len - off, rlen, part;

		if (*hs_len >= 4 && *hs_len >= tls_handshake_body(hs) + 4)
			return JOIN_MORE;
		if (rec[0] != TLS_HANDSHAKE)
			return off ? JOIN_END : JOIN_BAD;
		/* a major version of 3 (record versions are 3.1 in
		 * ClientHellos, 3.0 .. 3.4 ever seen) */
		if ((have > 1 && rec[1] != 3) || (have > 2 && rec[2] > 4))
			return JOIN_BAD;
		if (have < 5)
			return JOIN_MORE;
		rlen = (size_t)rec[3] << 8 | rec[4];
		if (rlen == 0 || rlen > TLS_RECORD_MAX)
			return JOIN_BAD;
		part = have - 5 < rlen ? have - 5 : rlen;
		if (*hs_len + part > SNIFF_TLS_MAX)
			return JOIN_BAD;
		memcpy(hs + *hs_len, rec + 5, part);
		*hs_len += part;
		off += 5 + part;
	}
	return JOIN_MORE;
}

/* The server_name extension's body: one host_name entry (RFC 6066 3). */
static int tls_server_name(struct reader *ext, char name[SNIFF_NAME_MAX + 1])
{
	struct reader list;
	const uint8_t *p;
	unsigned n = take_u16(ext);

	p = take(ext, n);
	if (!p || ext->left || n == 0)
		return 0;
	list = (struct reader){ p, n, 0 };
	while (list.left) {
		unsigned type = take_u8(&list), nlen = take_u16(&list);
		const uint8_t *host = take(&list, nlen);
		if (!host)
			return 0;
		if (type == 0) /* host_name; other types are skipped */
			return domain_normalize_len((const char *)host, nlen, name) == 0;
	}
	return 0;
}

/* A whole ClientHello body: the name of its one server_name extension. */
static enum sniff_result tls_client_hello(struct reader *r, char name[SNIFF_NAME_MAX + 1])
{
	unsigned version = take_u16(r), n;
	struct reader exts;
	int found = 0, seen = 0;

	take(r, 32); /* random */
	n = take_u8(r);
	if (n > 32)
		return SNIFF_NOTHING;
	take(r, n); /* legacy_session_id */
	n = take_u16(r);
	if (n < 2 || n % 2)
		return SNIFF_NOTHING;
	take(r, n); /* cipher_suites */
	n = take_u8(r);
	if (n < 1)
		return SNIFF_NOTHING;
	take(r, n); /* legacy_compression_methods */
	n = take_u16(r);
	exts = (struct reader){ take(r, n), n, 0 };
	if (r->bad || r->left || version >> 8 != 3)
		return SNIFF_NOTHING; /* short, trailing bytes, or not TLS */
	while (exts.left) {
		unsigned type = take_u16(&exts), elen = take_u16(&exts);
		struct reader ext = { take(&exts, elen), elen, 0 };
		if (exts.bad)
			return SNIFF_NOTHING;
		if (type != EXT_SERVER_NAME)
			continue;
		if (seen++) /* an extension given twice: a malformed hello */
			return SNIFF_NOTHING;
		found = tls_server_name(&ext, name);
	}
	return found ? SNIFF_FOUND : SNIFF_NOTHING;
}

enum sniff_result sniff_tls(const uint8_t *buf, size_t len, char name[SNIFF_NAME_MAX + 1])
{
	uint8_t hs[SNIFF_TLS_MAX];
	size_t hs_len, body;
	enum join joined;
	struct reader r;

	if (len == 0)
		return SNIFF_MORE;
	joined = tls_join_records(buf, len, hs, &hs_len);
	if (joined == JOIN_BAD || (hs_len >= 1 && hs[0] != TLS_CLIENT_HELLO))
		return SNIFF_NOTHING;
	body = hs_len >= 4 ? tls_handshake_body(hs) : 0;
	if (body + 4 > SNIFF_TLS_MAX)
		return SNIFF_NOTHING;
	if (hs_len < 4 || hs_len < body + 4)
		return joined == JOIN_END ? SNIFF_NOTHING : SNIFF_MORE;
	r = (struct reader){ hs + 4, body, 0 };
	return tls_client_hello(&r, name);
}

/* ---- HTTP ---- */

static int is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the line at p (its CR), or NULL when no CRLF ends it yet; a
 * bare CR or LF makes *bad. */
static const char *line_end(const char *p, const char *end, int *bad)
{
	for (const char *q = p; q < end; q++) {
		if (*q == '\n') {
			*bad = 1;
			return NULL;
		}
		if (*q != '\r')
			continue;
		if (q + 1 == end)
			return NULL;
		if (q[1] != '\n')
			*bad = 1;
		return *bad ? NULL : q;
	}
	return NULL;
}

/* "METHOD SP target SP HTTP/1.d": whether the line [p, e) is one; with
 * e NULL (no line end yet), whether it can still become one. */
static int request_line(const char *p, const char *e, const char *end)
{
	static const char version[] = " HTTP/1.";
	const char *stop = e ? e : end, *sp;
	size_t m = 0;

	if (!e && stop > p && stop[-1] == '\r')
		stop--; /* its LF is still to come */
	while (p + m < stop && is_tchar(p[m]))
		m++;
	if (p + m == stop)
		return !e && m <= 16;
	if (m == 0 || m > 16 || p[m] != ' ')
		return 0;
	sp = memchr(p + m + 1, ' ', (size_t)(stop - p - m - 1));
	for (const char *t = p + m + 1; t < (sp ? sp : stop); t++)
		if (*t <= ' ' || *t == 0x7f)
			return 0;
	if (!sp)
		return !e;
	if (sp == p + m + 1)
		return 0; /* empty target */
	for (size_t i = 0; sp + i < stop && i < sizeof(version) - 1; i++)
		if (sp[i] != version[i])
			return 0;
	if (!e)
		return stop - sp <= (ptrdiff_t)sizeof(version);
	return e - sp == (ptrdiff_t)sizeof(version) && e[-1] >= '0' && e[-1] <= '9';
}

/* A "Host: value" field's value to a name: the port dropped, OWS trimmed;
 * an address literal is no name. */
static int host_value(const char *v, const char *e, char name[SNIFF_NAME_MAX + 1])
{
	const char *colon;

	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (v < e && *v == '[')
		return 0;
	colon = memchr(v, ':', (size_t)(e - v));
	if (colon) {
		if (colon + 1 == e || colon + 6 < e)
			return 0;
		for (const char *d = colon + 1; d < e; d++)
			if (*d < '0' || *d > '9')
				return 0;
		e = colon;
	}
	return domain_normalize_len(v, (size_t)(e - v), name) == 0;
}

enum sniff_result sniff_http(const uint8_t *buf, size_t len, char name[SNIFF_NAME_MAX + 1])
{
	const char *p = (const char *)buf, *end = p + (len < SNIFF_HTTP_MAX ? len : SNIFF_HTTP_MAX);
	const char *e;
	int bad = 0, hosts = 0, ok = 0;

	e = line_end(p, end, &bad);
	if (bad || !request_line(p, e, end))
		return SNIFF_NOTHING;
	if (!e)
		return len < SNIFF_HTTP_MAX ? SNIFF_MORE : SNIFF_NOTHING;
	for (p = e + 2; (e = line_end(p, end, &bad)); p = e + 2) {
		const char *colon;
		size_t n;
		if (e == p) /* the empty line: the head is whole */
			return hosts == 1 && ok ? SNIFF_FOUND : SNIFF_NOTHING;
		colon = memchr(p, ':', (size_t)(e - p));
		for (n = 0; p + n < (colon ? colon : e) && is_tchar(p[n]); n++)
			;
		if (!colon || n == 0 || p + n != colon)
			return SNIFF_NOTHING; /* no field name, or a folded line */
		if (n == 4 && !strncasecmp(p, "host", 4) && ++hosts == 1)
			ok = host_value(colon + 1, e, name);
	}
	if (bad || len >= SNIFF_HTTP_MAX)
		return SNIFF_NOTHING;
	return SNIFF_MORE;
}

enum sniff_result sniff_name(unsigned protos, const uint8_t *buf, size_t len,
			     char name[SNIFF_NAME_MAX + 1])
{
	enum sniff_result tls = SNIFF_NOTHING, http = SNIFF_NOTHING;

	if (protos & SNIFF_TLS)
		tls = sniff_tls(buf, len, name);
	if (tls == SNIFF_FOUND)
		return tls;
	if (protos & SNIFF_HTTP)
		http = sniff_http(buf, len, name);
	if (http == SNIFF_FOUND)
		return http;
	return tls == SNIFF_MORE || http == SNIFF_MORE ? SNIFF_MORE : SNIFF_NOTHING;
}
