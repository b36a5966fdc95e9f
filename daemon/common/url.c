/* Upstream URL parser. Strict: every malformed part is an error with a
 * message saying which part, never a silent default. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sockgate/addr.h"
#include "sockgate/hex.h"
#include "sockgate/url.h"

static const struct {
	const char *scheme;
	enum upstream_kind kind;
} schemes[] = {
	{ "socks5", UPSTREAM_SOCKS5 }, { "socks5h", UPSTREAM_SOCKS5H },
	{ "socks4", UPSTREAM_SOCKS4 }, { "socks4a", UPSTREAM_SOCKS4A },
	{ "http", UPSTREAM_HTTP },
};

const char *upstream_kind_name(enum upstream_kind kind)
{
	if (kind == UPSTREAM_DIRECT)
		return "direct";
	if (kind == UPSTREAM_GROUP)
		return "group";
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (schemes[i].kind == kind)
			return schemes[i].scheme;
	}
	return "?";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Percent-decodes [s, s+len) into out (NUL-terminated, at most max bytes). */
static int percent_decode(const char *s, size_t len, char *out, size_t max, const char *what,
			  char *err, size_t errlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 1 < len ? hex_value(s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return fail(err, errlen, "bad percent-escape in %s", what);
			c = hi << 4 | lo;
			i += 2;
			if (c == 0)
				return fail(err, errlen, "%s contains a NUL byte", what);
		}
		if (o >= max)
			return fail(err, errlen, "%s longer than %zu bytes", what, max);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int url_parse(const char *s, struct upstream_url *out, char *err, size_t errlen)
{
	const char *sep, *rest, *at, *hostpart, *hostend, *portpart = NULL, *end;
	size_t slen;

	memset(out, 0, sizeof(*out));
	if (!strcmp(s, "direct")) {
		out->kind = UPSTREAM_DIRECT;
		return 0;
	}
	sep = strstr(s, "://");
	/* a malformed URL may still hold a password: never echoed */
	if (!sep && strchr(s, '@'))
		return fail(err, errlen,
			    "the value (user info not shown) is not a URL (scheme://host:port) nor "
			    "\"direct\"");
	if (!sep)
		return fail(err, errlen, "\"%s\" is not a URL (scheme://host:port) nor \"direct\"",
			    s);
	slen = (size_t)(sep - s);
	out->kind = (enum upstream_kind) - 1;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].scheme) == slen && !strncmp(s, schemes[i].scheme, slen))
			out->kind = schemes[i].kind;
	}
	if ((int)out->kind == -1)
		return fail(err, errlen,
			    "unsupported scheme \"%.*s\" (socks5, socks5h, socks4, socks4a, http)",
			    (int)slen, s);
	rest = sep + 3;
	end = rest + strlen(rest);
	if (end > rest && end[-1] == '/')
		end--; /* one trailing slash, as in "http://host:3128/" */
	for (const char *p = rest; p < end; p++) {
		if (*p == '/' || *p == '?' || *p == '#')
			return fail(err, errlen, "a proxy URL has no path, query or fragment");
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return fail(err, errlen, "space or control character in URL");
	}

	/* userinfo: the last '@' separates it, as passwords may hold '@' escaped or not */
	at = NULL;
	for (const char *p = rest; p < end; p++) {
		if (*p == '@')
			at = p;
	}
	hostpart = rest;
	if (at) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));
		size_t ulen = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
		if (ulen == 0)
			return fail(err, errlen, "empty user name before '@'");
		if (percent_decode(rest, ulen, out->user, URL_CRED_MAX, "user name", err, errlen))
			return -1;
		out->has_user = 1;
		if (colon) {
			if (percent_decode(colon + 1, (size_t)(at - colon - 1), out->pass,
					   URL_CRED_MAX, "password", err, errlen))
				return -1;
			out->has_pass = 1;
		}
		hostpart = at + 1;
	}
	if (hostpart == end)
		return fail(err, errlen, "missing host");

	if (*hostpart == '[') {
		const char *close = memchr(hostpart, ']', (size_t)(end - hostpart));
		struct in6_addr a6;
		if (!close)
			return fail(err, errlen, "unterminated '[' in host");
		hostend = close;
		hostpart++;
		if ((size_t)(hostend - hostpart) > URL_HOST_MAX)
			return fail(err, errlen, "host too long");
		memcpy(out->host, hostpart, (size_t)(hostend - hostpart));
		if (inet_pton(AF_INET6, out->host, &a6) != 1)
			return fail(err, errlen, "\"%s\" in brackets is not an IPv6 address",
				    out->host);
		if (close + 1 < end) {
			if (close[1] != ':')
				return fail(err, errlen, "junk after ']'");
			portpart = close + 2;
		}
	} else {
		const char *colon = memchr(hostpart, ':', (size_t)(end - hostpart));
		hostend = colon ? colon : end;
		if (hostend == hostpart)
			return fail(err, errlen, "missing host");
		if ((size_t)(hostend - hostpart) > URL_HOST_MAX)
			return fail(err, errlen, "host too long");
		memcpy(out->host, hostpart, (size_t)(hostend - hostpart));
		for (const char *p = out->host; *p; p++) {
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
				return fail(err, errlen, "bad character '%c' in host \"%s\"", *p,
					    out->host);
		}
		if (colon)
			portpart = colon + 1;
	}

	if (portpart) {
		char port[8];
		size_t plen = (size_t)(end - portpart);
		if (plen == 0 || plen >= sizeof(port))
			return fail(err, errlen, "bad port");
		memcpy(port, portpart, plen);
		port[plen] = '\0';
		/* without an '@', "user:password" reads as host:port: the
		 * port text is shown only when it looks like one */
		if (addr_parse_port(port, &out->port))
			return strspn(port, "0123456789") == plen
				   ? fail(err, errlen, "bad port \"%s\"", port)
				   : fail(err, errlen, "bad port (not shown: not a number)");
	} else if (out->kind == UPSTREAM_HTTP) {
		return fail(err, errlen, "an http:// upstream needs an explicit port");
	} else {
		out->port = 1080;
	}

	if ((out->kind == UPSTREAM_SOCKS4 || out->kind == UPSTREAM_SOCKS4A) && out->has_pass)
		return fail(err, errlen,
			    "SOCKS4 has no password (a user id only: socks4://id@host)");
	if (out->has_user && !out->has_pass && out->kind != UPSTREAM_SOCKS4 &&
	    out->kind != UPSTREAM_SOCKS4A)
		return fail(err, errlen, "user name without password (user:pass@host)");
	return 0;
}
