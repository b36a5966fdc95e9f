/* The small endpoints' request parser and answers (see http_get.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_get.h"

/* The end of the header block (after "\r\n\r\n" or "\n\n"), or NULL. */
static const char *header_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return buf + i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return buf + i + 3;
	}
	return NULL;
}

/* A line without its "\r\n" or "\n": [*start, *end); the next one after. */
static const char *next_line(const char *p, const char *limit, const char **end)
{
	const char *nl = memchr(p, '\n', (size_t)(limit - p));

	if (!nl)
		return NULL;
	*end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	return nl + 1;
}

static int is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

enum http_get_verdict http_get_parse(const char *buf, size_t len, const char *const *paths,
				     size_t n, size_t *which)
{
	const char *limit = header_end(buf, len), *p, *end, *sp1, *sp2, *target;
	size_t tlen;

	if (!limit)
		return len >= HTTP_GET_REQUEST_MAX ? HTTP_GET_TOO_LARGE : HTTP_GET_INCOMPLETE;
	if ((size_t)(limit - buf) > HTTP_GET_REQUEST_MAX)
		return HTTP_GET_TOO_LARGE;
	/* request line: METHOD SP TARGET SP HTTP/1.x, printable ASCII only */
	p = next_line(buf, limit, &end);
	if (!p || end == buf)
		return HTTP_GET_BAD_REQUEST;
	for (const char *c = buf; c < end; c++)
		if (((unsigned char)*c < 0x21 && *c != ' ') || (unsigned char)*c >= 0x7f)
			return HTTP_GET_BAD_REQUEST;
	sp1 = memchr(buf, ' ', (size_t)(end - buf));
	if (!sp1 || sp1 == buf)
		return HTTP_GET_BAD_REQUEST;
	for (const char *c = buf; c < sp1; c++)
		if (!is_tchar(*c))
			return HTTP_GET_BAD_REQUEST;
	target = sp1 + 1;
	sp2 = memchr(target, ' ', (size_t)(end - target));
	if (!sp2 || sp2 == target || memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)))
		return HTTP_GET_BAD_REQUEST;
	if (end - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7))
		return HTTP_GET_BAD_REQUEST;
	if (sp2[8] != '0' && sp2[8] != '1')
		return HTTP_GET_BAD_VERSION;
	/* header lines: NAME ":" VALUE, no control bytes but tab */
	while (p < limit) {
		const char *line = p, *colon;
		p = next_line(line, limit, &end);
		if (!p)
			return HTTP_GET_BAD_REQUEST;
		if (end == line)
			break; /* the empty line */
		colon = memchr(line, ':', (size_t)(end - line));
		if (!colon || colon == line)
			return HTTP_GET_BAD_REQUEST;
		for (const char *c = line; c < colon; c++)
			if (!is_tchar(*c))
				return HTTP_GET_BAD_REQUEST;
		for (const char *c = colon + 1; c < end; c++)
			if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
				return HTTP_GET_BAD_REQUEST;
	}
	if ((size_t)(sp1 - buf) != 3 || memcmp(buf, "GET", 3))
		return HTTP_GET_METHOD_NOT_ALLOWED;
	tlen = (size_t)(sp2 - target);
	for (size_t i = 0; i < n; i++) {
		size_t plen = strlen(paths[i]);
		if (tlen >= plen && !memcmp(target, paths[i], plen) &&
		    (tlen == plen || target[plen] == '?')) {
			*which = i;
			return HTTP_GET_OK;
		}
	}
	return HTTP_GET_NOT_FOUND;
}

const char *http_get_reason(enum http_get_verdict v)
{
	switch (v) {
	case HTTP_GET_OK:
		return "OK";
	case HTTP_GET_FORBIDDEN:
		return "Forbidden";
	case HTTP_GET_NOT_FOUND:
		return "Not Found";
	case HTTP_GET_METHOD_NOT_ALLOWED:
		return "Method Not Allowed";
	case HTTP_GET_TOO_LARGE:
		return "Request Header Fields Too Large";
	case HTTP_GET_BAD_VERSION:
		return "HTTP Version Not Supported";
	default:
		return "Bad Request";
	}
}

int http_get_response(enum http_get_verdict v, const char *type, const char *body, size_t body_len,
		      char **resp, size_t *resp_len)
{
	char line[64];
	FILE *out;

	if (v != HTTP_GET_OK) {
		body_len =
		    (size_t)snprintf(line, sizeof(line), "%d %s\n", (int)v, http_get_reason(v));
		body = line;
		type = "text/plain; charset=utf-8";
	}
	out = open_memstream(resp, resp_len);
	if (!out)
		return -1;
	fprintf(out,
		"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n",
		(int)v, http_get_reason(v), type,
		v == HTTP_GET_METHOD_NOT_ALLOWED ? "Allow: GET\r\n" : "", body_len);
	fwrite(body, 1, body_len, out);
	if (fclose(out) != 0) {
		free(*resp);
		*resp = NULL;
		return -1;
	}
	return 0;
}

int http_get_answer(enum http_get_verdict v, const char *type, int (*render)(void *arg, FILE *out),
		    void *arg, char **resp, size_t *resp_len)
{
	char *body = NULL;
	size_t body_len = 0;
	int rc = 0;

	if (v == HTTP_GET_OK) {
		FILE *out = open_memstream(&body, &body_len);
		if (!out)
			return -1;
		rc = render(arg, out);
		if (fclose(out) != 0 || rc < 0) {
			free(body);
			return -1;
		}
	}
	rc = http_get_response(v, type, body, body_len, resp, resp_len);
	free(body);
	return rc;
}
