/* The parts of the sockgate.conf loader that its sections share: the error
 * report, names, numbers, durations, host:port, and the upstream entries
 * that [upstream] and [group] sections both make. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "config_parse.h"

void config_report(struct parse_ctx *ctx, unsigned line, const char *fmt, ...)
{
	va_list ap;
	ctx->errors++;
	if (!ctx->errs)
		return;
	fprintf(ctx->errs, "%s:%u: ", ctx->name, line);
	va_start(ap, fmt);
	vfprintf(ctx->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->errs);
}

void config_warn(struct parse_ctx *ctx, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->errs)
		return;
	fprintf(ctx->errs, "%s:%u: warning: ", ctx->name, line);
	va_start(ap, fmt);
	vfprintf(ctx->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->errs);
}

/* Makes room for element n of an array that doubles at powers of two.
 * Returns the array, possibly moved, or NULL (the old one is still valid). */
void *config_grow(void *array, size_t n, size_t size)
{
	if (n & (n - 1))
		return array;
	return realloc(array, (n ? n * 2 : 1) * size);
}

struct upstream *config_find_upstream(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		if (!strcmp(cfg->upstreams[i].name, name))
			return &cfg->upstreams[i];
	}
	return NULL;
}

int config_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int config_parse_duration(const char *s, unsigned *ms)
{
	static const struct {
		const char *suffix;
		unsigned long scale;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "", 1000 } };
	char num[32];
	size_t digits = strspn(s, "0123456789");
	unsigned long v;

	if (digits == 0 || digits >= sizeof(num))
		return -1;
	memcpy(num, s, digits);
	num[digits] = '\0';
	if (config_parse_uint(num, 0xffffffffUL, &v))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(s + digits, units[i].suffix)) {
			if (v > 0xffffffffUL / units[i].scale)
				return -1;
			*ms = (unsigned)(v * units[i].scale);
			return 0;
		}
	}
	return -1;
}

int config_parse_bytes(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char num[16];
	size_t digits = strspn(s, "0123456789");
	unsigned long v, scale = 1;

	if (digits == 0 || digits >= sizeof(num))
		return -1;
	memcpy(num, s, digits);
	num[digits] = '\0';
	if (!strcmp(s + digits, "K") || !strcmp(s + digits, "k"))
		scale = 1024;
	else if (!strcmp(s + digits, "M"))
		scale = 1024 * 1024;
	else if (s[digits])
		return -1;
	/* decimal only: "010" is ten, not eight */
	if (num[0] == '0' && digits > 1)
		return -1;
	if (config_parse_uint(num, max / scale, &v) || v * scale < min)
		return -1;
	*out = (unsigned)(v * scale);
	return 0;
}

int config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*out = !strcmp(s, yes[i]);
			return 0;
		}
	}
	return -1;
}

int config_valid_name(const char *name)
{
	if (!*name || strlen(name) > CONFIG_NAME_MAX)
		return 0;
	for (const char *p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	}
	return 1;
}

struct upstream *config_new_upstream(struct parse_ctx *ctx, const char *name)
{
	struct config *cfg = ctx->cfg;
	struct upstream_lines *lines;
	struct upstream *up;

	if (!config_valid_name(name)) {
		config_report(ctx, ctx->line,
			      "upstream name \"%s\": use letters, digits, '-', '_', '.'", name);
		return NULL;
	}
	void *upstreams = config_grow(cfg->upstreams, cfg->n_upstreams, sizeof(*cfg->upstreams));
	if (upstreams)
		cfg->upstreams = upstreams;
	void *grown = config_grow(ctx->up_lines, cfg->n_upstreams, sizeof(*ctx->up_lines));
	if (grown)
		ctx->up_lines = grown;
	if (!upstreams || !grown) {
		config_report(ctx, ctx->line, "out of memory");
		return NULL;
	}
	up = &cfg->upstreams[cfg->n_upstreams];
	memset(up, 0, sizeof(*up));
	snprintf(up->name, sizeof(up->name), "%s", name);
	up->url.kind = (enum upstream_kind) - 1; /* no url yet */
	up->pipeline = 1;
	up->warm_max_age_ms = UPSTREAM_WARM_MAX_AGE_MS;
	up->warm_idle_ms = UPSTREAM_WARM_IDLE_MS;
	lines = &ctx->up_lines[cfg->n_upstreams];
	memset(lines, 0, sizeof(*lines));
	lines->section_line = ctx->line;
	for (size_t i = 0; i < ctx->n_headers; i++) {
		const char *h = ctx->headers[i].name;
		size_t skip = !strncmp(h, "upstream", 8) ? 8 : !strncmp(h, "group", 5) ? 5 : 0;
		if (skip && !strcmp(h + skip + strspn(h + skip, " \t"), name))
			lines->section_line = ctx->headers[i].line;
	}
	cfg->n_upstreams++;
	return up;
}

/* "HOST:PORT" or "[V6]:PORT" into host (INET6_ADDRSTRLEN + 1 or more bytes
 * up to hostsz) and port; bracketed says whether the host was in brackets.
 * 0 or -1. */
int config_split_host_port(const char *s, char *host, size_t hostsz, uint16_t *port, int *bracketed)
{
	const char *colon, *h = s;
	size_t hl;

	*bracketed = *s == '[';
	if (*bracketed) {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -1; /* IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (!hl || hl >= hostsz || addr_parse_port(colon + 1, port))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

int config_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash = strchr(s, '-');
	char first[8];

	if (!dash)
		return addr_parse_port(s, lo) ? -1 : (*hi = *lo, 0);
	if ((size_t)(dash - s) >= sizeof(first))
		return -1;
	memcpy(first, s, (size_t)(dash - s));
	first[dash - s] = '\0';
	return addr_parse_port(first, lo) || addr_parse_port(dash + 1, hi) || *lo > *hi ? -1 : 0;
}

int config_source(struct parse_ctx *ctx, const char *key, const char *s, struct cidr *c,
		  uint8_t mac[6])
{
	if (!config_parse_mac(s, mac))
		return 1;
	if (!cidr_parse(s, c))
		return 0;
	config_report(ctx, ctx->line,
		      "%s: \"%s\" is not an address, CIDR or MAC address (aa:bb:cc:dd:ee:ff)", key,
		      s);
	return -1;
}

void config_trim(char *s)
{
	size_t n = strlen(s);
	size_t start = 0;
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[start]))
		start++;
	memmove(s, s + start, n - start + 1);
}

/* Calls item() for each comma-separated, trimmed element of value; an empty
 * element is an error. Returns the number of elements or -1. */
/* "@FILE" in a list: its entries, one a line ('#' comments, blank lines
 * skipped), each given to item with FILE:LINE as where errors are. -1
 * when one was wrong (each is reported) or FILE cannot be read. */
int config_list_file(struct parse_ctx *ctx, const char *key, const char *path,
		     int (*item)(struct parse_ctx *ctx, const char *key, const char *s))
{
	const char *name = ctx->name;
	unsigned line = ctx->line, n = 0;
	char buf[512];
	int rc = 0;
	FILE *in = fopen(path, "re");

	if (!in) {
		config_report(ctx, ctx->line, "%s @%s: %s", key, path, strerror(errno));
		return -1;
	}
	ctx->name = path;
	ctx->in_list_file = 1;
	while (fgets(buf, sizeof(buf), in)) {
		char *hash = strchr(buf, '#');
		ctx->line = ++n;
		if (!strchr(buf, '\n') && !feof(in)) {
			config_report(ctx, n, "line too long");
			rc = -1;
			break;
		}
		if (hash)
			*hash = '\0';
		config_trim(buf);
		if (*buf && item(ctx, key, buf) < 0)
			rc = -1; /* reported; the rest is read for more */
	}
	ctx->name = name;
	ctx->line = line;
	ctx->in_list_file = 0;
	fclose(in);
	return rc;
}

int config_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -1;
		mac[i] = (uint8_t)strtoul((char[]){ s[0], s[1], 0 }, NULL, 16);
		s += 2;
		if (i < 5 && *s != ':' && *s != '-')
			return -1;
		if (i < 5)
			s++;
	}
	return *s ? -1 : 0;
}

int config_append_mac(uint8_t (**macs)[6], size_t *n, const uint8_t mac[6])
{
	void *grown = config_grow(*macs, *n, sizeof(**macs));

	if (!grown)
		return -1;
	*macs = grown;
	memcpy((*macs)[(*n)++], mac, 6);
	return 0;
}
