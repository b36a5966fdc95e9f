/* HTTP/1.x heads and body framing (see http_msg.h). Strict where a lax
 * reading lets two parsers disagree on where a message ends (request
 * smuggling): every line ends in CRLF, no folding, one Content-Length. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sockgate/hex.h"
#include "http_msg.h"

static int is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* field-value bytes: VCHAR, obs-text, SP, HTAB */
static int is_value_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int fail(struct http_head *h, int status, const char *why)
{
	h->error = status;
	h->why = why;
	return HTTP_PARSE_ERROR;
}

/* The end of the line starting at p: the index of its CR (followed by LF),
 * -1 when not there yet, -2 for a CR or LF out of place. */
static long line_end(const uint8_t *buf, size_t p, size_t len)
{
	for (size_t i = p; i < len; i++) {
		if (buf[i] == '\n')
			return -2;
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return -1;
			return buf[i + 1] == '\n' ? (long)i : -2;
		}
	}
	return -1;
}

static int token_eq(const uint8_t *p, size_t n, const char *s)
{
	return strlen(s) == n && !strncasecmp((const char *)p, s, n);
}

/* Each comma-separated token of a field's value, trimmed. */
static void for_each_token(const uint8_t *buf, const struct http_field *f,
			   void (*fn)(const uint8_t *, size_t, void *), void *arg)
{
	const uint8_t *p = buf + f->value, *end = p + f->value_len;

	while (p < end) {
		const uint8_t *q = memchr(p, ',', (size_t)(end - p));
		const uint8_t *e = q ? q : end;
		const uint8_t *s = p;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s)
			fn(s, (size_t)(e - s), arg);
		p = q ? q + 1 : end;
	}
}

struct conn_scan {
	const uint8_t *buf;
	struct http_head *h;
};

/* A Connection token: close, keep-alive, or the name of a field that is
 * hop-by-hop for this message. */
static void conn_token(const uint8_t *tok, size_t n, void *arg)
{
	struct conn_scan *cs = arg;
	struct http_head *h = cs->h;

	if (token_eq(tok, n, "close"))
		h->conn_close = 1;
	else if (token_eq(tok, n, "keep-alive"))
		h->conn_keep_alive = 1;
	for (size_t i = 0; i < h->n_fields; i++)
		if (h->fields[i].name_len == n &&
		    !strncasecmp((const char *)cs->buf + h->fields[i].name, (const char *)tok, n))
			h->fields[i].hop = 1;
}

/* RFC 9110 section 7.6.1, and the proxy's own fields. Transfer-Encoding
 * stays: bodies pass unchanged, chunked as they came. */
static const char *const hop_by_hop[] = {
	"Connection",	      "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
	"Proxy-Authenticate", "TE",	    "Trailer",		"Upgrade",
};

static int parse_content_length(const uint8_t *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

struct te_scan {
	unsigned n;
	int last_chunked;
};

static void te_token(const uint8_t *tok, size_t n, void *arg)
{
	struct te_scan *t = arg;

	t->n++;
	t->last_chunked = token_eq(tok, n, "chunked");
}

/* The header lines from *pos to the empty line, into h. */
static enum http_parse parse_fields(const uint8_t *buf, size_t len, size_t pos, struct http_head *h,
				    int err_status)
{
	int too_large = err_status == 400 ? 431 : err_status;

	for (;;) {
		long e = line_end(buf, pos, len);
		size_t colon, v, ve;
		struct http_field *f;

		if (e == -1)
			return len - pos >= HTTP_HEAD_MAX || len >= HTTP_HEAD_MAX
				   ? fail(h, too_large, "head too large")
				   : HTTP_PARSE_MORE;
		if (e == -2)
			return fail(h, err_status, "a bare CR or LF in the head");
		if ((size_t)e + 2 > HTTP_HEAD_MAX)
			return fail(h, too_large, "head too large");
		if ((size_t)e == pos) {
			h->len = pos + 2;
			return HTTP_PARSE_DONE;
		}
		if (buf[pos] == ' ' || buf[pos] == '\t')
			return fail(h, err_status, "a folded header line (obs-fold)");
		if (h->n_fields == HTTP_FIELDS_MAX)
			return fail(h, too_large, "too many header lines");
		for (colon = pos; colon < (size_t)e && is_tchar(buf[colon]); colon++)
			;
		if (colon == pos || colon == (size_t)e || buf[colon] != ':')
			return fail(h, err_status, "a malformed header line");
		for (v = colon + 1; v < (size_t)e && (buf[v] == ' ' || buf[v] == '\t'); v++)
			;
		for (ve = (size_t)e; ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'); ve--)
			;
		for (size_t i = v; i < ve; i++)
			if (!is_value_byte(buf[i]))
				return fail(h, err_status, "a control byte in a header value");
		f = &h->fields[h->n_fields++];
		*f = (struct http_field){ .name = (uint16_t)pos,
					  .name_len = (uint16_t)(colon - pos),
					  .value = (uint16_t)v,
					  .value_len = (uint16_t)(ve - v) };
		pos = (size_t)e + 2;
	}
}

/* Connection, Content-Length, Transfer-Encoding and Expect, once the
 * fields are in; sets h->body for a request (is_request) or what a
 * response's own fields say. */
static enum http_parse read_framing(const uint8_t *buf, struct http_head *h, int err_status)
{
	struct conn_scan cs = { buf, h };
	struct te_scan te = { 0, 0 };
	int n_cl = 0, n_te = 0;

	for (size_t i = 0; i < h->n_fields; i++) {
		struct http_field *f = &h->fields[i];
		const uint8_t *name = buf + f->name;

		for (size_t k = 0; k < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); k++)
			if (token_eq(name, f->name_len, hop_by_hop[k]))
				f->hop = 1;
		if (token_eq(name, f->name_len, "Connection") ||
		    token_eq(name, f->name_len, "Proxy-Connection")) {
			for_each_token(buf, f, conn_token, &cs);
		} else if (token_eq(name, f->name_len, "Content-Length")) {
			if (n_cl++ ||
			    parse_content_length(buf + f->value, f->value_len, &h->content_length))
				return fail(h, err_status, "a bad or repeated Content-Length");
		} else if (token_eq(name, f->name_len, "Transfer-Encoding")) {
			n_te++;
			for_each_token(buf, f, te_token, &te);
		} else if (token_eq(name, f->name_len, "Expect")) {
			h->expect_continue = token_eq(buf + f->value, f->value_len, "100-continue");
		} else if (token_eq(name, f->name_len, "Proxy-Authorization")) {
			h->proxy_auth = (int)i;
		}
	}
	if (n_te && n_cl && err_status == 400)
		return fail(h, 400, "both Content-Length and Transfer-Encoding");
	if (n_te) {
		if (!te.last_chunked) {
			if (err_status == 400)
				return fail(h, 400,
					    "a Transfer-Encoding that does not end in chunked");
			h->body = HTTP_BODY_CLOSE;
		} else {
			h->body = HTTP_BODY_CHUNKED;
		}
		/* a response's Content-Length is overridden (RFC 9112 6.3) */
		for (size_t i = 0; i < h->n_fields; i++)
			if (token_eq(buf + h->fields[i].name, h->fields[i].name_len,
				     "Content-Length"))
				h->fields[i].hop = 1;
	} else if (n_cl) {
		h->body = h->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	}
	return HTTP_PARSE_DONE;
}

static int parse_version(const uint8_t *p, size_t n, struct http_head *h)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
	    p[7] < '0' || p[7] > '9')
		return -1;
	if (p[5] != '1')
		return -2;
	h->minor = p[7] == '0' ? 0 : 1;
	return 0;
}

enum http_parse http_parse_request(const uint8_t *buf, size_t len, struct http_head *h)
{
	size_t pos = 0, sp1, sp2;
	long e;
	int rc;

	memset(h, 0, sizeof(*h));
	h->proxy_auth = -1;
	e = line_end(buf, 0, len);
	if (e == -1)
		return len > HTTP_LINE_MAX ? fail(h, 414, "request line too long")
					   : HTTP_PARSE_MORE;
	if (e == -2 || e == 0)
		return fail(h, 400, "a malformed request line");
	if (e > HTTP_LINE_MAX)
		return fail(h, 414, "request line too long");
	for (sp1 = 0; sp1 < (size_t)e && is_tchar(buf[sp1]); sp1++)
		;
	if (sp1 == 0 || sp1 == (size_t)e || buf[sp1] != ' ')
		return fail(h, 400, "a malformed request line");
	for (sp2 = sp1 + 1; sp2 < (size_t)e && buf[sp2] > 0x20 && buf[sp2] < 0x7f; sp2++)
		;
	if (sp2 == sp1 + 1 || sp2 == (size_t)e || buf[sp2] != ' ')
		return fail(h, 400, "a malformed request line");
	rc = parse_version(buf + sp2 + 1, (size_t)e - sp2 - 1, h);
	if (rc == -2)
		return fail(h, 505, "not HTTP/1.x");
	if (rc < 0)
		return fail(h, 400, "a malformed request line");
	h->method = 0;
	h->method_len = (uint16_t)sp1;
	h->target = (uint16_t)(sp1 + 1);
	h->target_len = (uint16_t)(sp2 - sp1 - 1);
	pos = (size_t)e + 2;
	rc = parse_fields(buf, len, pos, h, 400);
	if (rc != HTTP_PARSE_DONE)
		return rc;
	h->body = HTTP_BODY_NONE;
	return read_framing(buf, h, 400);
}

enum http_parse http_parse_response(const uint8_t *buf, size_t len, int head_request,
				    struct http_head *h)
{
	long e;
	int rc;

	memset(h, 0, sizeof(*h));
	h->proxy_auth = -1;
	e = line_end(buf, 0, len);
	if (e == -1)
		return len > HTTP_LINE_MAX ? fail(h, 502, "status line too long") : HTTP_PARSE_MORE;
	/* "HTTP/1.1 200" with or without a reason phrase */
	if (e == -2 || e < 12 || parse_version(buf, 8, h) < 0 || buf[8] != ' ' ||
	    (e > 12 && buf[12] != ' '))
		return fail(h, 502, "a malformed status line");
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return fail(h, 502, "a malformed status line");
		h->status = h->status * 10 + (buf[i] - '0');
	}
	if (h->status < 100)
		return fail(h, 502, "a malformed status line");
	for (long i = 13; i < e; i++)
		if (!is_value_byte(buf[i]))
			return fail(h, 502, "a malformed status line");
	rc = parse_fields(buf, len, (size_t)e + 2, h, 502);
	if (rc != HTTP_PARSE_DONE)
		return rc;
	h->body = HTTP_BODY_CLOSE;
	rc = read_framing(buf, h, 502);
	if (rc != HTTP_PARSE_DONE)
		return rc;
	if (head_request || h->status < 200 || h->status == 204 || h->status == 304)
		h->body = HTTP_BODY_NONE;
	return HTTP_PARSE_DONE;
}

int http_head_may_end(const uint8_t *buf, size_t from, size_t len)
{
	for (size_t i = from > 2 ? from - 2 : 0; i < len; i++) {
		const uint8_t *nl = memchr(buf + i, '\n', len - i);
		if (!nl)
			return 0;
		i = (size_t)(nl - buf);
		if (i + 1 < len && (buf[i + 1] == '\n' ||
				    (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')))
			return 1;
	}
	return 0;
}

int http_find_field(const uint8_t *buf, const struct http_head *h, const char *name)
{
	for (size_t i = 0; i < h->n_fields; i++)
		if (token_eq(buf + h->fields[i].name, h->fields[i].name_len, name))
			return (int)i;
	return -1;
}

int http_method_is(const uint8_t *buf, const struct http_head *h, const char *method)
{
	return strlen(method) == h->method_len && !memcmp(buf + h->method, method, h->method_len);
}

/* host[:port] (host a name, IPv4, or [IPv6]) into t; default_port when
 * there is none (0: a port is required). */
static int parse_authority(const uint8_t *p, size_t n, uint16_t default_port, struct http_target *t)
{
	const uint8_t *host = p, *port = NULL;
	size_t host_len;
	unsigned long v = 0;

	if (n && p[0] == '[') {
		const uint8_t *close = memchr(p, ']', n);
		if (!close)
			return -1;
		host = p + 1;
		host_len = (size_t)(close - host);
		if (close + 1 < p + n) {
			if (close[1] != ':')
				return -1;
			port = close + 2;
		}
		for (size_t i = 0; i < host_len; i++)
			if (!strchr("0123456789abcdefABCDEF:.", host[i]))
				return -1;
	} else {
		const uint8_t *colon = memchr(p, ':', n);
		host_len = colon ? (size_t)(colon - p) : n;
		port = colon ? colon + 1 : NULL;
		for (size_t i = 0; i < host_len; i++)
			if (!((host[i] >= 'a' && host[i] <= 'z') ||
			      (host[i] >= 'A' && host[i] <= 'Z') ||
			      (host[i] >= '0' && host[i] <= '9') || strchr("-._", host[i])))
				return -1;
	}
	if (!host_len || host_len > 255)
		return -1;
	if (port) {
		size_t plen = (size_t)(p + n - port);
		if (!plen || plen > 5)
			return -1;
		for (size_t i = 0; i < plen; i++) {
			if (port[i] < '0' || port[i] > '9')
				return -1;
			v = v * 10 + (unsigned long)(port[i] - '0');
		}
		if (!v || v > 65535)
			return -1;
	} else {
		if (!default_port)
			return -1;
		v = default_port;
	}
	memcpy(t->host, host, host_len);
	t->host[host_len] = 0;
	t->port = (uint16_t)v;
	return 0;
}

int http_request_target(const uint8_t *buf, const struct http_head *h, struct http_target *t,
			const char **why)
{
	const uint8_t *p = buf + h->target;
	size_t n = h->target_len, auth_len;
	const uint8_t *slash;

	memset(t, 0, sizeof(*t));
	if (http_method_is(buf, h, "CONNECT")) {
		t->is_connect = 1;
		if (parse_authority(p, n, 0, t) < 0) {
			*why = "CONNECT needs host:port";
			return -1;
		}
		return 0;
	}
	if (n < 7 || strncasecmp((const char *)p, "http://", 7)) {
		*why = n && p[0] == '/' ? "not a proxy request (the target has no http:// host)"
					: "only http:// URIs are forwarded (https: use CONNECT)";
		return -1;
	}
	p += 7;
	n -= 7;
	slash = memchr(p, '/', n);
	auth_len = slash ? (size_t)(slash - p) : n;
	/* a query right behind the authority */
	{
		const uint8_t *q = memchr(p, '?', auth_len);
		if (q)
			auth_len = (size_t)(q - p);
	}
	if (memchr(p, '@', auth_len) || memchr(p, '#', n)) {
		*why = "user info or a fragment in the URI";
		return -1;
	}
	if (parse_authority(p, auth_len, 80, t) < 0) {
		*why = "a bad host or port in the URI";
		return -1;
	}
	t->path = p + auth_len;
	t->path_len = n - auth_len;
	return 0;
}

/* Appends to out[*n..cap); -1 once it does not fit. */
static int put(uint8_t *out, size_t cap, size_t *n, const void *p, size_t len)
{
	if (*n + len > cap)
		return -1;
	memcpy(out + *n, p, len);
	*n += len;
	return 0;
}

static int put_str(uint8_t *out, size_t cap, size_t *n, const char *s)
{
	return put(out, cap, n, s, strlen(s));
}

/* The end-to-end fields, each "name: value\r\n"; skip names one more. */
static int put_fields(const uint8_t *buf, const struct http_head *h, const char *skip, uint8_t *out,
		      size_t cap, size_t *n)
{
	for (size_t i = 0; i < h->n_fields; i++) {
		const struct http_field *f = &h->fields[i];
		if (f->hop || (skip && token_eq(buf + f->name, f->name_len, skip)))
			continue;
		if (put(out, cap, n, buf + f->name, f->name_len) < 0 ||
		    put_str(out, cap, n, ": ") < 0 ||
		    put(out, cap, n, buf + f->value, f->value_len) < 0 ||
		    put_str(out, cap, n, "\r\n") < 0)
			return -1;
	}
	return 0;
}

ssize_t http_rewrite_request(const uint8_t *buf, const struct http_head *h,
			     const struct http_target *t, int via, int absolute, const char *extra,
			     uint8_t *out, size_t cap)
{
	char host[300];
	size_t n = 0;
	int v6 = strchr(t->host, ':') != NULL;

	if (t->port == 80)
		snprintf(host, sizeof(host), v6 ? "[%s]" : "%s", t->host);
	else
		snprintf(host, sizeof(host), v6 ? "[%s]:%u" : "%s:%u", t->host, t->port);
	if (put(out, cap, &n, buf + h->method, h->method_len) < 0 ||
	    put_str(out, cap, &n, " ") < 0 ||
	    (absolute &&
	     (put_str(out, cap, &n, "http://") < 0 || put_str(out, cap, &n, host) < 0)) ||
	    (t->path_len ? put(out, cap, &n, t->path, t->path_len) : put_str(out, cap, &n, "/")) <
		0 ||
	    put_str(out, cap, &n, h->minor ? " HTTP/1.1\r\nHost: " : " HTTP/1.0\r\nHost: ") < 0 ||
	    put_str(out, cap, &n, host) < 0 || put_str(out, cap, &n, "\r\n") < 0 ||
	    put_fields(buf, h, "Host", out, cap, &n) < 0 ||
	    (via && put_str(out, cap, &n,
			    h->minor ? "Via: 1.1 sockgate\r\n" : "Via: 1.0 sockgate\r\n") < 0) ||
	    (extra && put_str(out, cap, &n, extra) < 0) ||
	    put_str(out, cap, &n, "Connection: close\r\n\r\n") < 0)
		return -1;
	return (ssize_t)n;
}

ssize_t http_rewrite_response(const uint8_t *buf, const struct http_head *h, int keep,
			      int client_minor, int via, uint8_t *out, size_t cap)
{
	size_t n = 0;
	const char *conn =
	    !keep ? "Connection: close\r\n" : (client_minor ? "" : "Connection: keep-alive\r\n");
	const uint8_t *status_end = memchr(buf, '\r', h->len);

	if (!status_end || put(out, cap, &n, buf, (size_t)(status_end - buf) + 2) < 0 ||
	    put_fields(buf, h, NULL, out, cap, &n) < 0 ||
	    (via && put_str(out, cap, &n,
			    h->minor ? "Via: 1.1 sockgate\r\n" : "Via: 1.0 sockgate\r\n") < 0) ||
	    put_str(out, cap, &n, conn) < 0 || put_str(out, cap, &n, "\r\n") < 0)
		return -1;
	return (ssize_t)n;
}

/* ---- body framing ---- */

enum {
	CHUNK_SIZE,    /* hex digits of a chunk size */
	CHUNK_EXT,     /* after the size: extensions up to CR */
	CHUNK_SIZE_LF, /* the LF of the size line */
	CHUNK_DATA,    /* remaining bytes of data */
	CHUNK_DATA_CR, /* the CRLF behind the data */
	CHUNK_DATA_LF,
	CHUNK_TRAILER, /* at the start of a trailer line or the final CRLF */
	CHUNK_TRAILER_LINE,
	CHUNK_TRAILER_LF,
	CHUNK_FINAL_LF,
};

/* A chunk line or trailer line longer than this is refused. */
#define CHUNK_LINE_MAX 4096

void http_body_init(struct http_body *b, enum http_body_kind kind, uint64_t length)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->remaining = length;
	b->state = CHUNK_SIZE;
	b->done = kind == HTTP_BODY_NONE || (kind == HTTP_BODY_LENGTH && !length);
}

/* The byte c must be want; then the framing is in state next (a line
 * ended when want is LF). 0, or -1. */
static int chunk_expect(struct http_body *b, uint8_t c, uint8_t want, int next)
{
	if (c != want)
		return -1;
	if (want == '\n')
		b->line_len = 0;
	b->state = next;
	return 0;
}

/* One byte of chunked framing (not of chunk data): 0, or -1 malformed. */
static int chunk_step(struct http_body *b, uint8_t c)
{
	int x;

	if (++b->line_len > CHUNK_LINE_MAX)
		return -1;
	switch (b->state) {
	case CHUNK_SIZE:
		x = hex_value(c);
		if (x >= 0) {
			if (b->remaining >> 59)
				return -1; /* more than 2^63 bytes */
			b->remaining = b->remaining * 16 + (uint64_t)x;
			return 0;
		}
		if (b->line_len == 1)
			return -1; /* no digit */
		if (c == '\r')
			return chunk_expect(b, c, '\r', CHUNK_SIZE_LF);
		if (c != ';' && c != ' ' && c != '\t')
			return -1; /* extensions (after optional white space) */
		b->state = CHUNK_EXT;
		return 0;
	case CHUNK_EXT:
	case CHUNK_TRAILER_LINE:
		/* extensions and trailer fields: value bytes up to CR */
		if (c == '\r')
			return chunk_expect(
			    b, c, '\r', b->state == CHUNK_EXT ? CHUNK_SIZE_LF : CHUNK_TRAILER_LF);
		return is_value_byte(c) ? 0 : -1;
	case CHUNK_SIZE_LF:
		return chunk_expect(b, c, '\n', b->remaining ? CHUNK_DATA : CHUNK_TRAILER);
	case CHUNK_DATA_CR:
		return chunk_expect(b, c, '\r', CHUNK_DATA_LF);
	case CHUNK_DATA_LF:
		return chunk_expect(b, c, '\n', CHUNK_SIZE);
	case CHUNK_TRAILER:
		if (c == '\r')
			return chunk_expect(b, c, '\r', CHUNK_FINAL_LF);
		b->state = CHUNK_TRAILER_LINE;
		return is_value_byte(c) ? 0 : -1;
	case CHUNK_TRAILER_LF:
		return chunk_expect(b, c, '\n', CHUNK_TRAILER);
	case CHUNK_FINAL_LF:
		if (chunk_expect(b, c, '\n', CHUNK_FINAL_LF) < 0)
			return -1;
		b->done = 1;
		return 0;
	}
	return -1;
}

static ssize_t chunked_scan(struct http_body *b, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && !b->done) {
		if (b->state == CHUNK_DATA) {
			size_t take = n - i < b->remaining ? n - i : (size_t)b->remaining;
			i += take;
			b->remaining -= take;
			if (!b->remaining)
				b->state = CHUNK_DATA_CR;
			continue;
		}
		if (chunk_step(b, p[i++]) < 0)
			return -1;
	}
	return (ssize_t)i;
}

ssize_t http_body_scan(struct http_body *b, const uint8_t *p, size_t n)
{
	size_t take;

	if (b->done)
		return 0;
	switch (b->kind) {
	case HTTP_BODY_LENGTH:
		take = n < b->remaining ? n : (size_t)b->remaining;
		b->remaining -= take;
		b->done = !b->remaining;
		return (ssize_t)take;
	case HTTP_BODY_CHUNKED:
		return chunked_scan(b, p, n);
	case HTTP_BODY_CLOSE:
		return (ssize_t)n;
	default:
		return 0;
	}
}
