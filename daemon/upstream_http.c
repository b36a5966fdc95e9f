/* HTTP CONNECT client handshake (RFC 9110 section 9.3.6). The response is
 * consumed exactly up to the blank line; bytes after it belong to the
 * tunnel. Only a 2xx status opens the tunnel. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "sockgate/base64.h"
#include "upstream.h"

enum {
	HTTP_STATUS_LINE,
	HTTP_HEADERS,
	HTTP_DONE,
};

int upstream_http_credentials(const struct upstream_url *url, char *out, size_t cap)
{
	char cred[URL_CRED_MAX * 2 + 2], cred64[UPSTREAM_HTTP_CREDENTIALS_MAX - 32];
	int n;

	*out = 0;
	if (!url->has_user)
		return 0;
	snprintf(cred, sizeof(cred), "%s:%s", url->user, url->pass);
	n = base64_encode(cred, strlen(cred), cred64, sizeof(cred64));
	explicit_bzero(cred, sizeof(cred));
	if (n < 0)
		return -1;
	n = snprintf(out, cap, "Proxy-Authorization: Basic %s\r\n", cred64);
	explicit_bzero(cred64, sizeof(cred64));
	return n < (int)cap ? 0 : -1;
}

int upstream_http_begin(struct upstream_handshake *hs, const struct upstream_url *url,
			const struct upstream_target *t)
{
	char authority[300], cred64[UPSTREAM_HTTP_CREDENTIALS_MAX];
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (t->hostname) {
		if (strlen(t->hostname) == 0 || strlen(t->hostname) > 255 ||
		    strpbrk(t->hostname, " \r\n\t")) {
			upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0, "bad host name");
			return -1;
		}
		snprintf(authority, sizeof(authority), "%s:%u", t->hostname, t->port);
	} else if (t->addr.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&t->addr;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(authority, sizeof(authority), "%s:%u", ip, ntohs(sin->sin_port));
	} else if (t->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&t->addr;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(authority, sizeof(authority), "[%s]:%u", ip, ntohs(sin6->sin6_port));
	} else {
		upstream_fail(hs, UPSTREAM_FAIL_UNSUPPORTED, 0, "unknown address family");
		return -1;
	}

	n = snprintf((char *)hs->out, UPSTREAM_OUT_MAX, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n",
		     authority, authority);
	if (upstream_http_credentials(url, cred64, sizeof(cred64)) < 0) {
		upstream_fail(hs, UPSTREAM_FAIL_AUTH, 0, "credentials too long");
		return -1;
	}
	n += snprintf((char *)hs->out + n, UPSTREAM_OUT_MAX - (size_t)n, "%s", cred64);
	n += snprintf((char *)hs->out + n, UPSTREAM_OUT_MAX - (size_t)n, "\r\n");
	hs->out_len = (size_t)n;
	hs->stage = HTTP_STATUS_LINE;
	return 0;
}

/* "HTTP/1.x NNN[ reason]" */
static enum upstream_result http_status_line(struct upstream_handshake *hs)
{
	const char *l = (const char *)hs->msg;
	size_t n = hs->have;

	if (n < 12 || memcmp(l, "HTTP/1.", 7) || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0, "http: bad status line");
	for (int i = 9; i < 12; i++) {
		if (l[i] < '0' || l[i] > '9')
			return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
					     "http: bad status code");
	}
	if (n > 12 && l[12] != ' ')
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0, "http: bad status line");
	hs->code = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (hs->code < 100)
		return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, hs->code, "http: bad status code");
	return UPSTREAM_MORE;
}

static enum upstream_result http_verdict(struct upstream_handshake *hs)
{
	int code = hs->code;

	if (code >= 200 && code < 300) {
		hs->stage = HTTP_DONE;
		return UPSTREAM_DONE;
	}
	if (code == 407 || code == 401)
		return upstream_fail(hs, UPSTREAM_FAIL_AUTH, code,
				     "http: proxy authentication failed (%d)", code);
	if (code == 403)
		return upstream_fail(hs, UPSTREAM_FAIL_DENIED, code, "http: forbidden (403)");
	if (code == 502 || code == 503 || code == 504)
		return upstream_fail(hs, UPSTREAM_FAIL_UNREACHABLE, code,
				     "http: target unreachable (%d)", code);
	return upstream_fail(hs, UPSTREAM_FAIL_OTHER, code, "http: CONNECT refused with %d", code);
}

enum upstream_result upstream_http_feed(struct upstream_handshake *hs, const uint8_t *in,
					size_t len, size_t *consumed)
{
	enum upstream_result res = UPSTREAM_MORE;
	size_t i;

	for (i = 0; i < len && res == UPSTREAM_MORE; i++) {
		uint8_t c = in[i];

		if (hs->stage == HTTP_DONE)
			return upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0, "http: fed after done");
		if (++hs->total > UPSTREAM_HTTP_HEADER_MAX) {
			res = upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
					    "http: response header larger than %d bytes",
					    UPSTREAM_HTTP_HEADER_MAX);
			break;
		}
		if (hs->saw_cr) {
			if (c != '\n') {
				res = upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
						    "http: CR not followed by LF");
				break;
			}
			hs->saw_cr = 0;
			if (hs->stage == HTTP_STATUS_LINE) {
				res = http_status_line(hs);
				hs->stage = HTTP_HEADERS;
			} else if (hs->line_len == 0) {
				res = http_verdict(hs);
			} else if (!hs->saw_colon) {
				res = upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
						    "http: header line without ':'");
			}
			hs->line_len = 0;
			hs->saw_colon = 0;
			continue;
		}
		if (c == '\r') {
			hs->saw_cr = 1;
			continue;
		}
		if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f) {
			res = upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
					    "http: control character %#x in response header", c);
			break;
		}
		if (hs->stage == HTTP_STATUS_LINE) {
			if (hs->have >= sizeof(hs->msg)) {
				res = upstream_fail(hs, UPSTREAM_FAIL_PROTOCOL, 0,
						    "http: status line too long");
				break;
			}
			hs->msg[hs->have++] = c;
		} else {
			if (c == ':' && hs->line_len > 0)
				hs->saw_colon = 1;
			hs->line_len++;
		}
	}
	*consumed = i;
	return res;
}
