/* The metrics endpoint's request parser (see metrics_request.h). */
#include <string.h>

#include "metrics_request.h"

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

enum metrics_verdict metrics_parse_request(const char *buf, size_t len)
{
	const char *limit = header_end(buf, len), *p, *end, *sp1, *sp2, *target;
	size_t tlen;

	if (!limit)
		return len >= METRICS_REQUEST_MAX ? METRICS_TOO_LARGE : METRICS_INCOMPLETE;
	if ((size_t)(limit - buf) > METRICS_REQUEST_MAX)
		return METRICS_TOO_LARGE;
	/* request line: METHOD SP TARGET SP HTTP/1.x, printable ASCII only */
	p = next_line(buf, limit, &end);
	if (!p || end == buf)
		return METRICS_BAD_REQUEST;
	for (const char *c = buf; c < end; c++)
		if (((unsigned char)*c < 0x21 && *c != ' ') || (unsigned char)*c >= 0x7f)
			return METRICS_BAD_REQUEST;
	sp1 = memchr(buf, ' ', (size_t)(end - buf));
	if (!sp1 || sp1 == buf)
		return METRICS_BAD_REQUEST;
	for (const char *c = buf; c < sp1; c++)
		if (!is_tchar(*c))
			return METRICS_BAD_REQUEST;
	target = sp1 + 1;
	sp2 = memchr(target, ' ', (size_t)(end - target));
	if (!sp2 || sp2 == target || memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)))
		return METRICS_BAD_REQUEST;
	if (end - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7))
		return METRICS_BAD_REQUEST;
	if (sp2[8] != '0' && sp2[8] != '1')
		return METRICS_BAD_VERSION;
	/* header lines: NAME ":" VALUE, no control bytes but tab */
	while (p < limit) {
		const char *line = p, *colon;
		p = next_line(line, limit, &end);
		if (!p)
			return METRICS_BAD_REQUEST;
		if (end == line)
			break; /* the empty line */
		colon = memchr(line, ':', (size_t)(end - line));
		if (!colon || colon == line)
			return METRICS_BAD_REQUEST;
		for (const char *c = line; c < colon; c++)
			if (!is_tchar(*c))
				return METRICS_BAD_REQUEST;
		for (const char *c = colon + 1; c < end; c++)
			if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
				return METRICS_BAD_REQUEST;
	}
	if ((size_t)(sp1 - buf) != 3 || memcmp(buf, "GET", 3))
		return METRICS_METHOD_NOT_ALLOWED;
	tlen = (size_t)(sp2 - target);
	if (tlen < 8 || memcmp(target, "/metrics", 8) || (tlen > 8 && target[8] != '?'))
		return METRICS_NOT_FOUND;
	return METRICS_OK;
}
