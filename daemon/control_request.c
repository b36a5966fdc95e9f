/* The control socket's request line (see control_request.h). */
#include <string.h>

#include "control_request.h"

static const struct {
	const char *name;
	enum control_verb verb;
} verbs[] = {
	{ "status", CONTROL_STATUS },
	{ "stats", CONTROL_STATS },
	{ "conns", CONTROL_CONNS },
	{ "reload", CONTROL_RELOAD },
	{ "dns-flush", CONTROL_DNS_FLUSH },
	{ "upstream-use", CONTROL_UPSTREAM_USE },
	{ "tproxy-listeners", CONTROL_TPROXY_LISTENERS },
};

/* The next space-separated word of s[*at..n) into out (at most max bytes
 * and a NUL); its length, 0 when there is none, -1 when it is too long. */
static int next_word(const char *s, size_t n, size_t *at, char *out, size_t max)
{
	size_t i = *at, start;

	while (i < n && s[i] == ' ')
		i++;
	start = i;
	while (i < n && s[i] != ' ')
		i++;
	*at = i;
	if (i - start > max)
		return -1;
	memcpy(out, s + start, i - start);
	out[i - start] = '\0';
	return (int)(i - start);
}

static void parse_upstream_use(const char *args, size_t n, struct control_request *req)
{
	size_t at = 0;
	char extra[2];

	req->usage_error = next_word(args, n, &at, req->group, CONFIG_NAME_MAX) <= 0 ||
			   next_word(args, n, &at, req->member, CONFIG_NAME_MAX) <= 0 ||
			   next_word(args, n, &at, extra, 1) != 0;
	if (req->usage_error)
		req->group[0] = req->member[0] = '\0';
}

int control_request_parse(const char *in, size_t len, struct control_request *req)
{
	const char *nl = memchr(in, '\n', len);
	size_t n = nl ? (size_t)(nl - in) : len, word;

	memset(req, 0, sizeof(*req));
	req->verb = CONTROL_UNKNOWN;
	if (n && in[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++)
		if (in[i] < 0x20 || in[i] > 0x7e)
			return -1;
	if (n > 5 && !memcmp(in + n - 5, " json", 5)) {
		req->json = 1;
		n -= 5;
	}
	for (word = 0; word < n && in[word] != ' ';)
		word++;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == word && !memcmp(in, verbs[i].name, word)) {
			req->verb = verbs[i].verb;
			break;
		}
	}
	if (req->verb == CONTROL_UPSTREAM_USE)
		parse_upstream_use(in + word, n - word, req);
	else if (word != n) /* arguments to a verb that takes none */
		req->verb = CONTROL_UNKNOWN;
	return 0;
}
