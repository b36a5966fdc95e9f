/* sockgate.conf loader: libinih does the INI syntax, this file the meaning.
 * Every error is reported as "FILE:LINE: message" and loading goes on, so one
 * --check run lists all problems. */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "sockgate/config.h"
#include "config_parse.h"
#include "sockgate/domains.h"
#include "sockgate/prefix_table.h"

#define DEFAULT_MARK		     0x2a0
#define DEFAULT_REDIRECT_PORT	     12345
#define DEFAULT_TPROXY_MARK	     0x2a1
#define DEFAULT_TPROXY_TABLE	     673
#define DEFAULT_CONNECT_TIMEOUT_MS   10000
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_MS	     (2 * 3600 * 1000)
#define MAX_WORKERS		     256
#define DEFAULT_MAX_CONNS_PER_CLIENT 256
#define DEFAULT_MAX_FLOWS_PER_CLIENT 1024
/* Each live flow costs two sockets (about 8 KB of kernel memory idle, with
 * its conntrack entries), 0.7 KB of heap, and up to pipe_size per busy
 * direction; 16,384 bounds an idle LAN's share near 150 MB, where the fd
 * limit the unit sets (1,048,576) would allow half a million. */
#define DEFAULT_MAX_FLOWS 16384
#define MAX_MAX_FLOWS	  4000000
#define DEFAULT_PIPE_SIZE (1024 * 1024)
#define MIN_PIPE_SIZE	  4096
/* /proc/sys/fs/pipe-max-size's default: larger needs CAP_SYS_RESOURCE,
 * which the daemon gives up */
#define MAX_PIPE_SIZE		    (1024 * 1024)
#define DEFAULT_MAX_UDP_PER_CLIENT  256
#define DEFAULT_BIND_TIMEOUT_MS	    60000
#define DEFAULT_DNS_TIMEOUT_MS	    2000
#define DEFAULT_SNIFF_TIMEOUT_MS    300
#define DEFAULT_RESOLVE_MIN_MS	    30000
#define DEFAULT_RESOLVE_MAX_MS	    3600000
#define DEFAULT_DNS_CACHE_ENTRIES   10000
#define DEFAULT_DNS_CACHE_BYTES	    (4u << 20)
#define SOCKS_LISTEN_MAX	    16
#define DEFAULT_UDP_IDLE_TIMEOUT_MS 60000
#define DEFAULT_UDP_ASSOCIATIONS    4096
#define MAX_UDP_ASSOCIATIONS	    1000000

/* Records "[name]" headers so sections can be checked even when they hold
 * no key (inih only reports keys). */
static void note_section_header(struct parse_ctx *ctx, const char *line)
{
	char buf[INI_MAX_LINE];
	const char *close;

	while (isspace((unsigned char)*line))
		line++;
	if (*line != '[')
		return;
	close = strchr(line, ']');
	if (!close)
		return; /* inih reports the syntax error */
	snprintf(buf, sizeof(buf), "%.*s", (int)(close - line - 1), line + 1);
	config_trim(buf);
	for (size_t i = 0; i < ctx->n_headers; i++) {
		if (!strcmp(ctx->headers[i].name, buf)) {
			config_report(ctx, ctx->line, "duplicate section [%s] (first at line %u)",
				      buf, ctx->headers[i].line);
			return;
		}
	}
	void *headers = config_grow(ctx->headers, ctx->n_headers, sizeof(*ctx->headers));
	if (!headers) {
		config_report(ctx, ctx->line, "out of memory");
		return;
	}
	ctx->headers = headers;
	snprintf(ctx->headers[ctx->n_headers].name, INI_MAX_LINE, "%s", buf);
	ctx->headers[ctx->n_headers].line = ctx->line;
	ctx->n_headers++;
}

/* inih reader: one line per call, counted, so handler errors carry line
 * numbers; over-long lines are an error instead of being split. */
static char *config_reader(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	size_t len = 0;
	int too_long = 0;

	for (;;) {
		int c;
		if (ctx->text) {
			c = *ctx->text ? (unsigned char)*ctx->text++ : EOF;
		} else {
			c = getc(ctx->in);
		}
		if (c == EOF) {
			if (len == 0)
				return NULL;
			break;
		}
		if (c == '\0')
			c = ' '; /* a NUL would end the line early inside inih */
		if (len + 2 < (size_t)num)
			str[len++] = (char)c;
		else if (c != '\n')
			too_long = 1;
		if (c == '\n')
			break;
	}
	str[len] = '\0';
	ctx->line++;
	if (too_long) {
		config_report(ctx, ctx->line, "line longer than %d characters", num - 2);
		str[0] = '\0';
		return str;
	}
	note_section_header(ctx, str);
	return str;
}

/* Keys whose value is a list: given again, or continued on an indented
 * line, they add to it. */
static int list_key(const char *key)
{
	static const char *const keys[] = { "interfaces",  "bypass", "deny_dst",     "allow_dst",
					    "cgroups",	   "listen", "allow",	     "server",
					    "exclude_src", "ports",  "exclude_ports" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return 1;
	return 0;
}

/* Each known key gets a bit, so a key given twice is an error (unless
 * its value is a list). */
static int first_time(struct parse_ctx *ctx, unsigned *seen, unsigned bit, const char *section,
		      const char *key)
{
	if ((*seen & bit) && !list_key(key)) {
		config_report(ctx, ctx->line, "[%s] %s given twice", section, key);
		return 0;
	}
	*seen |= bit;
	return 1;
}

/* "off", "PORT" (on 127.0.0.1), "ADDRESS:PORT" or "[V6]:PORT". */
static void metrics_key(struct parse_ctx *ctx, const char *value)
{
	struct config *cfg = ctx->cfg;
	char host[INET6_ADDRSTRLEN + 1];
	uint16_t port;
	int bracketed;

	memset(&cfg->metrics, 0, sizeof(cfg->metrics));
	if (!strcmp(value, "off") || !value[0])
		return;
	if (!addr_parse_port(value, &port) && port) {
		addr_from_ip("127.0.0.1", port, &cfg->metrics);
		return;
	}
	if (config_split_host_port(value, host, sizeof(host), &port, &bracketed) || !port ||
	    addr_from_ip(host, port, &cfg->metrics) ||
	    bracketed != (cfg->metrics.ss_family == AF_INET6)) {
		memset(&cfg->metrics, 0, sizeof(cfg->metrics));
		config_report(
		    ctx, ctx->line,
		    "metrics: \"%s\" is not \"off\", PORT or ADDRESS:PORT (127.0.0.1:9180, "
		    "[::1]:9180)",
		    value);
	}
}

static void daemon_key(struct parse_ctx *ctx, const char *key, const char *value)
{
	struct config *cfg = ctx->cfg;
	unsigned long v;

	if (!strcmp(key, "workers")) {
		if (!first_time(ctx, &ctx->seen_daemon, 1u << 0, "daemon", key))
			return;
		if (!strcmp(value, "auto"))
			cfg->workers = 0;
		else if (config_parse_uint(value, MAX_WORKERS, &v) || v == 0)
			config_report(ctx, ctx->line, "workers: \"%s\" is not \"auto\" or 1..%d",
				      value, MAX_WORKERS);
		else
			cfg->workers = (unsigned)v;
	} else if (!strcmp(key, "mark")) {
		if (!first_time(ctx, &ctx->seen_daemon, 1u << 1, "daemon", key))
			return;
		if (config_parse_uint(value, 0xffffffffUL, &v) || v == 0)
			config_report(ctx, ctx->line,
				      "mark: \"%s\" is not a non-zero 32-bit number", value);
		else
			cfg->mark = (uint32_t)v;
	} else if (!strcmp(key, "log_level")) {
		if (!first_time(ctx, &ctx->seen_daemon, 1u << 2, "daemon", key))
			return;
		if (log_level_parse(value, &cfg->log_level))
			config_report(ctx, ctx->line,
				      "log_level: \"%s\" is not error, warn, info or debug", value);
	} else if (!strcmp(key, "connect_timeout") || !strcmp(key, "handshake_timeout") ||
		   !strcmp(key, "idle_timeout")) {
		unsigned *dst = key[0] == 'c'	? &cfg->connect_timeout_ms
				: key[0] == 'h' ? &cfg->handshake_timeout_ms
						: &cfg->idle_timeout_ms;
		unsigned bit = key[0] == 'c' ? 1u << 3 : key[0] == 'h' ? 1u << 4 : 1u << 5;
		if (!first_time(ctx, &ctx->seen_daemon, bit, "daemon", key))
			return;
		/* idle_timeout = 0 means never; the others need a real limit */
		if (config_parse_duration(value, dst) || (*dst == 0 && key[0] != 'i'))
			config_report(ctx, ctx->line,
				      "%s: \"%s\" is not a duration (30, 30s, 500ms, 5m, 1h)", key,
				      value);
	} else if (!strcmp(key, "udp_idle_timeout")) {
		if (first_time(ctx, &ctx->seen_daemon, 1u << 7, "daemon", key) &&
		    (config_parse_duration(value, &cfg->udp_idle_timeout_ms) ||
		     cfg->udp_idle_timeout_ms < 1000))
			config_report(
			    ctx, ctx->line,
			    "udp_idle_timeout: \"%s\" is not a duration of 1s or more (30s, "
			    "2m)",
			    value);
	} else if (!strcmp(key, "udp_associations")) {
		if (!first_time(ctx, &ctx->seen_daemon, 1u << 8, "daemon", key))
			return;
		if (config_parse_uint(value, MAX_UDP_ASSOCIATIONS, &v) || v == 0)
			config_report(ctx, ctx->line, "udp_associations: \"%s\" is not 1..%d",
				      value, MAX_UDP_ASSOCIATIONS);
		else
			cfg->udp_associations = (unsigned)v;
	} else if (!strcmp(key, "max_flows")) {
		if (!first_time(ctx, &ctx->seen_daemon, 1u << 14, "daemon", key))
			return;
		if (config_parse_uint(value, MAX_MAX_FLOWS, &v))
			config_report(ctx, ctx->line, "max_flows: \"%s\" is not 0 (no cap) .. %d",
				      value, MAX_MAX_FLOWS);
		else
			cfg->max_flows = (unsigned)v;
	} else if (!strcmp(key, "pipe_size")) {
		if (first_time(ctx, &ctx->seen_daemon, 1u << 15, "daemon", key) &&
		    config_parse_bytes(value, MIN_PIPE_SIZE, MAX_PIPE_SIZE, &cfg->pipe_size))
			config_report(ctx, ctx->line,
				      "pipe_size: \"%s\" is not a size from 4K to 1M (64K, 256K, "
				      "1M, or bytes)",
				      value);
	} else if (!strcmp(key, "log")) {
		if (!first_time(ctx, &ctx->seen_daemon, 1u << 11, "daemon", key))
			return;
		if (!strcmp(value, "auto"))
			cfg->log_target = LOG_TARGET_AUTO;
		else if (!strcmp(value, "stderr"))
			cfg->log_target = LOG_TARGET_STDERR;
		else if (!strcmp(value, "syslog"))
			cfg->log_target = LOG_TARGET_SYSLOG;
		else
			config_report(ctx, ctx->line, "log: \"%s\" is not auto, stderr or syslog",
				      value);
	} else if (!strcmp(key, "user")) {
		size_t n = strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					 "0123456789_.-");
		if (!first_time(ctx, &ctx->seen_daemon, 1u << 10, "daemon", key))
			return;
		if (!value[0] || value[n] || n >= sizeof(cfg->user) || value[0] == '-')
			config_report(ctx, ctx->line, "user: \"%s\" is not a user name", value);
		else
			memcpy(cfg->user, value, n + 1);
	} else if (!strcmp(key, "metrics")) {
		if (first_time(ctx, &ctx->seen_daemon, 1u << 9, "daemon", key))
			metrics_key(ctx, value);
	} else if (!strcmp(key, "resolve_min") || !strcmp(key, "resolve_max")) {
		int min = !strcmp(key, "resolve_min");
		unsigned *dst = min ? &cfg->resolve_min_ms : &cfg->resolve_max_ms;
		if (first_time(ctx, &ctx->seen_daemon, min ? 1u << 12 : 1u << 13, "daemon", key) &&
		    (config_parse_duration(value, dst) || *dst < 1000 || *dst > 86400000))
			config_report(ctx, ctx->line, "%s: \"%s\" is not a duration of 1s .. 1d",
				      key, value);
	} else if (!strcmp(key, "control")) {
		if (!first_time(ctx, &ctx->seen_daemon, 1u << 6, "daemon", key))
			return;
		free(cfg->control_path);
		cfg->control_path = NULL;
		if (strcmp(value, "off") && value[0] != '/')
			config_report(ctx, ctx->line,
				      "control: \"%s\" is not an absolute path or \"off\"", value);
		else if (strlen(value) >= 108)
			config_report(ctx, ctx->line,
				      "control: \"%s\" is longer than a unix socket path", value);
		else if (strcmp(value, "off") && !(cfg->control_path = strdup(value)))
			config_report(ctx, ctx->line, "out of memory");
	} else {
		config_report(ctx, ctx->line, "unknown key \"%s\" in [daemon]", key);
	}
}

static int for_each_item(struct parse_ctx *ctx, const char *key, const char *value,
			 int (*item)(struct parse_ctx *ctx, const char *key, const char *s));
static int append_cidr(struct cidr **list, size_t *n, const struct cidr *c);

int config_valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= CONFIG_IFNAME_SIZE || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (; *s; s++) {
		if ((unsigned char)*s <= ' ' || *s == '/' || *s == 0x7f || *s == ':')
			return 0;
	}
	return 1;
}

/* "br-lan" or "192.168.1.0/24": an interface or a source CIDR. */
static int intercept_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct config *cfg = ctx->cfg;
	struct cidr c;

	if (!cidr_parse(s, &c)) {
		if (append_cidr(&cfg->intercept_src, &cfg->n_intercept_src, &c)) {
			config_report(ctx, ctx->line, "out of memory");
			return -1;
		}
		return 0;
	}
	if (strchr(s, '/') || (strpbrk(s, "0123456789") && strspn(s, "0123456789.") == strlen(s))) {
		config_report(ctx, ctx->line, "%s: \"%s\" is not a valid CIDR (host bits set?)",
			      key, s);
		return -1;
	}
	if (!config_valid_ifname(s)) {
		config_report(
		    ctx, ctx->line,
		    "%s: \"%s\" is neither an interface name (1..15 characters) nor a CIDR", key,
		    s);
		return -1;
	}
	for (size_t i = 0; i < cfg->n_intercept_ifaces; i++) {
		if (!strcmp(cfg->intercept_ifaces[i], s)) {
			config_report(ctx, ctx->line, "%s: \"%s\" given twice", key, s);
			return -1;
		}
	}
	void *grown = config_grow(cfg->intercept_ifaces, cfg->n_intercept_ifaces,
				  sizeof(*cfg->intercept_ifaces));
	if (!grown) {
		config_report(ctx, ctx->line, "out of memory");
		return -1;
	}
	cfg->intercept_ifaces = grown;
	memset(cfg->intercept_ifaces[cfg->n_intercept_ifaces], 0, CONFIG_IFNAME_SIZE);
	memcpy(cfg->intercept_ifaces[cfg->n_intercept_ifaces], s, strlen(s));
	cfg->n_intercept_ifaces++;
	return 0;
}

/* A CIDR of an [intake] list: bypass, or deny_dst. */
static int intake_cidr_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	int deny = !strcmp(key, "deny_dst");
	struct cidr c;

	if (cidr_parse(s, &c)) {
		config_report(ctx, ctx->line, "%s: \"%s\" is not an address or CIDR", key, s);
		return -1;
	}
	if (append_cidr(deny ? &ctx->cfg->intake_deny_dst : &ctx->cfg->bypass,
			deny ? &ctx->cfg->n_intake_deny_dst : &ctx->cfg->n_bypass, &c)) {
		config_report(ctx, ctx->line, "out of memory");
		return -1;
	}
	return 0;
}

/* A yes/no key of [intake], given once. */
static void intake_bool(struct parse_ctx *ctx, unsigned bit, const char *key, const char *value,
			int *out)
{
	if (first_time(ctx, &ctx->seen_intake, bit, "intake", key) && config_parse_bool(value, out))
		config_report(ctx, ctx->line, "%s: \"%s\" is not yes or no", key, value);
}

/* A per-client cap: 0 (none) .. 1000000. */
static void client_cap(struct parse_ctx *ctx, unsigned bit, const char *key, const char *value,
		       unsigned *out)
{
	unsigned long v;

	if (!first_time(ctx, &ctx->seen_intake, bit, "intake", key))
		return;
	if (config_parse_uint(value, 1000000, &v))
		config_report(ctx, ctx->line, "%s: \"%s\" is not 0 (no limit) .. 1000000", key,
			      value);
	else
		*out = (unsigned)v;
}

/* A cgroup v2 directory: an absolute path (whether it exists is for
 * `sockgate rules apply` to find out). */
static int cgroup_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct config *cfg = ctx->cfg;
	char *copy;
	void *grown;

	if (s[0] != '/' || strlen(s) >= 4096 || strstr(s, "/../") ||
	    (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/..")) || strpbrk(s, " \t\n")) {
		config_report(ctx, ctx->line, "%s: \"%s\" is not an absolute cgroup path", key, s);
		return -1;
	}
	grown = config_grow(cfg->cgroups, cfg->n_cgroups, sizeof(*cfg->cgroups));
	copy = strdup(s);
	if (!grown || !copy) {
		if (grown)
			cfg->cgroups = grown;
		free(copy);
		config_report(ctx, ctx->line, "out of memory");
		return -1;
	}
	cfg->cgroups = grown;
	cfg->cgroups[cfg->n_cgroups++] = copy;
	return 0;
}

/* [intake] sniff items: tls, http, or none alone. */
static int sniff_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	unsigned *sniff = &ctx->cfg->sniff;

	if (!strcmp(s, "tls")) {
		*sniff |= CONFIG_SNIFF_TLS;
	} else if (!strcmp(s, "http")) {
		*sniff |= CONFIG_SNIFF_HTTP;
	} else {
		config_report(ctx, ctx->line, "%s: \"%s\" is not tls or http (or none alone)", key,
			      s);
		return -1;
	}
	return 0;
}

/* exclude_src: a CIDR or a MAC address. */
static int exclude_src_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct config *cfg = ctx->cfg;
	uint8_t mac[6];
	struct cidr c;
	int kind = config_source(ctx, key, s, &c, mac);

	if (kind < 0)
		return -1;
	if (kind == 0 ? !append_cidr(&cfg->exclude_src, &cfg->n_exclude_src, &c)
		      : !config_append_mac(&cfg->exclude_macs, &cfg->n_exclude_macs, mac))
		return 0;
	config_report(ctx, ctx->line, "out of memory");
	return -1;
}

/* ports, exclude_ports: "P" or "P-Q". */
static int port_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct config *cfg = ctx->cfg;
	int exclude = key[0] == 'e';
	struct port_range **list = exclude ? &cfg->exclude_ports : &cfg->ports;
	size_t *n = exclude ? &cfg->n_exclude_ports : &cfg->n_ports;
	struct port_range r;
	void *grown;

	if (config_parse_port_range(s, &r.lo, &r.hi)) {
		config_report(ctx, ctx->line, "%s: \"%s\" is not a port or P-Q (1..65535)", key, s);
		return -1;
	}
	if (!(grown = config_grow(*list, *n, sizeof(**list)))) {
		config_report(ctx, ctx->line, "out of memory");
		return -1;
	}
	*list = grown;
	(*list)[(*n)++] = r;
	return 0;
}

static void intake_key(struct parse_ctx *ctx, const char *key, const char *value)
{
	uint16_t port;

	if (!strcmp(key, "redirect")) {
		if (!first_time(ctx, &ctx->seen_intake, 1u << 0, "intake", key))
			return;
		if (addr_parse_port(value, &port))
			config_report(ctx, ctx->line, "redirect: bad port \"%s\"", value);
		else
			ctx->cfg->redirect_port = port;
	} else if (!strcmp(key, "interfaces")) {
		if (first_time(ctx, &ctx->seen_intake, 1u << 1, "intake", key))
			for_each_item(ctx, key, value, intercept_item);
	} else if (!strcmp(key, "bypass")) {
		if (first_time(ctx, &ctx->seen_intake, 1u << 2, "intake", key))
			for_each_item(ctx, key, value, intake_cidr_item);
	} else if (!strcmp(key, "tproxy")) {
		if (!first_time(ctx, &ctx->seen_intake, 1u << 4, "intake", key))
			return;
		if (addr_parse_port(value, &port))
			config_report(ctx, ctx->line, "tproxy: bad port \"%s\"", value);
		else
			ctx->cfg->tproxy_port = port;
	} else if (!strcmp(key, "tproxy_mark") || !strcmp(key, "tproxy_table")) {
		int is_mark = key[7] == 'm';
		unsigned long v;
		if (!first_time(ctx, &ctx->seen_intake, is_mark ? 1u << 5 : 1u << 6, "intake", key))
			return;
		if (config_parse_uint(value, 0xffffffffUL, &v) || v == 0 ||
		    (!is_mark && (v == 253 || v == 254 || v == 255)))
			config_report(
			    ctx, ctx->line,
			    is_mark ? "tproxy_mark: \"%s\" is not a non-zero 32-bit number"
				    : "tproxy_table: \"%s\" is not a routing table number (not "
				      "0, 253 default, 254 main or 255 local)",
			    value);
		else if (is_mark)
			ctx->cfg->tproxy_mark = (uint32_t)v;
		else
			ctx->cfg->tproxy_table = (uint32_t)v;
	} else if (!strcmp(key, "local")) {
		intake_bool(ctx, 1u << 7, key, value, &ctx->cfg->intercept_local);
	} else if (!strcmp(key, "exclude_src")) {
		for_each_item(ctx, key, value, exclude_src_item);
	} else if (!strcmp(key, "ports") || !strcmp(key, "exclude_ports")) {
		for_each_item(ctx, key, value, port_item);
	} else if (!strcmp(key, "cgroups")) {
		if (first_time(ctx, &ctx->seen_intake, 1u << 9, "intake", key))
			for_each_item(ctx, key, value, cgroup_item);
	} else if (!strcmp(key, "ebpf")) {
		if (!first_time(ctx, &ctx->seen_intake, 1u << 8, "intake", key))
			return;
		if (!strcmp(value, "off"))
			ctx->cfg->ebpf = INTAKE_EBPF_OFF;
		else if (!strcmp(value, "auto"))
			ctx->cfg->ebpf = INTAKE_EBPF_AUTO;
		else if (!strcmp(value, "on"))
			ctx->cfg->ebpf = INTAKE_EBPF_ON;
		else
			config_report(ctx, ctx->line, "ebpf: \"%s\" is not auto, on or off", value);
	} else if (!strcmp(key, "bypass_private")) {
		intake_bool(ctx, 1u << 3, key, value, &ctx->cfg->bypass_private);
	} else if (!strcmp(key, "bypass_connected")) {
		intake_bool(ctx, 1u << 10, key, value, &ctx->cfg->bypass_connected);
	} else if (!strcmp(key, "deny_dst")) {
		if (first_time(ctx, &ctx->seen_intake, 1u << 11, "intake", key))
			for_each_item(ctx, key, value, intake_cidr_item);
	} else if (!strcmp(key, "max_flows_per_client")) {
		client_cap(ctx, 1u << 12, key, value, &ctx->cfg->max_flows_per_client);
	} else if (!strcmp(key, "max_udp_per_client")) {
		client_cap(ctx, 1u << 13, key, value, &ctx->cfg->max_udp_per_client);
	} else if (!strcmp(key, "sniff")) {
		if (first_time(ctx, &ctx->seen_intake, 1u << 14, "intake", key) &&
		    strcmp(value, "none"))
			for_each_item(ctx, key, value, sniff_item);
	} else if (!strcmp(key, "when_down")) {
		if (!first_time(ctx, &ctx->seen_intake, 1u << 16, "intake", key))
			return;
		if (!strcmp(value, "pass") || !strcmp(value, "block"))
			ctx->cfg->when_down_block = !strcmp(value, "block");
		else
			config_report(ctx, ctx->line, "when_down: \"%s\" is not pass or block",
				      value);
	} else if (!strcmp(key, "sniff_timeout")) {
		if (!first_time(ctx, &ctx->seen_intake, 1u << 15, "intake", key))
			return;
		if (config_parse_duration(value, &ctx->cfg->sniff_timeout_ms) ||
		    ctx->cfg->sniff_timeout_ms < 10 || ctx->cfg->sniff_timeout_ms > 5000)
			config_report(ctx, ctx->line,
				      "sniff_timeout: \"%s\" is not a duration of 10ms .. 5s",
				      value);
	} else {
		config_report(ctx, ctx->line, "unknown key \"%s\" in [intake]", key);
	}
}

static struct upstream *upstream_section(struct parse_ctx *ctx, const char *name)
{
	struct upstream *up;

	if (!strcmp(name, "direct")) {
		config_report(ctx, ctx->line, "\"direct\" is built in and cannot be redefined");
		return NULL;
	}
	up = config_find_upstream(ctx->cfg, name);
	if (up && up->group) {
		config_report(ctx, ctx->line, "\"%s\" is a [group] already", name);
		return NULL;
	}
	return up ? up : config_new_upstream(ctx, name);
}

/* udp = associate | direct | drop; udp_address = HOST:PORT */
static void upstream_udp_key(struct parse_ctx *ctx, struct upstream *up,
			     struct upstream_lines *lines, const char *key, const char *value)
{
	int bracketed;

	if (!strcmp(key, "udp")) {
		if (lines->udp_line) {
			config_report(ctx, ctx->line, "[upstream %s] udp given twice", up->name);
			return;
		}
		lines->udp_line = ctx->line;
		if (!strcmp(value, "associate"))
			up->udp = UPSTREAM_UDP_ASSOCIATE;
		else if (!strcmp(value, "direct"))
			up->udp = UPSTREAM_UDP_DIRECT;
		else if (!strcmp(value, "drop"))
			up->udp = UPSTREAM_UDP_DROP;
		else
			config_report(ctx, ctx->line,
				      "udp: \"%s\" is not associate, direct or drop", value);
		return;
	}
	if (lines->udp_address_line) {
		config_report(ctx, ctx->line, "[upstream %s] udp_address given twice", up->name);
		return;
	}
	lines->udp_address_line = ctx->line;
	if (config_split_host_port(value, lines->udp_host, sizeof(lines->udp_host),
				   &lines->udp_port, &bracketed) ||
	    (bracketed && !strchr(lines->udp_host, ':'))) {
		config_report(
		    ctx, ctx->line,
		    "udp_address: \"%s\" is not HOST:PORT (10.0.0.5:1080, [fd00::5]:1080)", value);
		lines->udp_host[0] = '\0';
	}
}

/* The keys that make a connection through up open sooner: 1 when key was
 * one of them (handled, or reported), else 0. */
static int upstream_ttfb_key(struct parse_ctx *ctx, struct upstream *up,
			     struct upstream_lines *lines, const char *key, const char *value)
{
	static const char *const keys[] = { "warm", "warm_max_age", "optimistic", "fastopen",
					    "warm_idle" };
	unsigned long n;
	unsigned bit = 0;

	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			bit = 1u << i;
	if (!bit)
		return 0;
	if (lines->ttfb_seen & bit) {
		config_report(ctx, ctx->line, "[upstream %s] %s given twice", up->name, key);
		return 1;
	}
	lines->ttfb_seen |= bit;
	if (bit == 1) {
		if (!strcmp(value, "off"))
			up->warm = 0;
		else if (!strcmp(value, "auto"))
			up->warm = UPSTREAM_WARM_AUTO;
		else if (!config_parse_uint(value, UPSTREAM_WARM_MAX, &n) && n)
			up->warm = (int)n;
		else
			config_report(ctx, ctx->line, "warm: \"%s\" is not off, auto or 1..%d",
				      value, UPSTREAM_WARM_MAX);
	} else if (bit == 2 || bit == 16) {
		unsigned *ms = bit == 2 ? &up->warm_max_age_ms : &up->warm_idle_ms;
		if (config_parse_duration(value, ms) || *ms < 1000)
			config_report(ctx, ctx->line, "%s: \"%s\" is not a duration of 1s or more",
				      key, value);
	} else if (config_parse_bool(value, bit == 4 ? &up->optimistic : &up->fastopen)) {
		config_report(ctx, ctx->line, "%s: \"%s\" is not yes or no", key, value);
	}
	return 1;
}

static void upstream_key(struct parse_ctx *ctx, const char *name, const char *key,
			 const char *value)
{
	struct upstream *up = upstream_section(ctx, name);
	char err[160];

	if (!up)
		return;
	size_t idx = (size_t)(up - ctx->cfg->upstreams);
	if (!strcmp(key, "udp") || !strcmp(key, "udp_address")) {
		upstream_udp_key(ctx, up, &ctx->up_lines[idx], key, value);
		return;
	}
	if (!strcmp(key, "pipeline")) {
		if (ctx->up_lines[idx].pipeline_line) {
			config_report(ctx, ctx->line, "[upstream %s] pipeline given twice", name);
			return;
		}
		ctx->up_lines[idx].pipeline_line = ctx->line;
		if (config_parse_bool(value, &up->pipeline))
			config_report(ctx, ctx->line, "pipeline: \"%s\" is not yes or no", value);
		return;
	}
	if (upstream_ttfb_key(ctx, up, &ctx->up_lines[idx], key, value))
		return;
	if (strcmp(key, "url")) {
		config_report(ctx, ctx->line, "unknown key \"%s\" in [upstream %s]", key, name);
		return;
	}
	if (ctx->up_lines[idx].url_line) {
		config_report(ctx, ctx->line, "[upstream %s] url given twice", name);
		return;
	}
	ctx->up_lines[idx].url_line = ctx->line;
	if (url_parse(value, &up->url, err, sizeof(err)))
		config_report(ctx, ctx->line, "upstream \"%s\": %s", name, err);
}

static void route_key(struct parse_ctx *ctx, const char *key, const char *value)
{
	char joined[INI_MAX_LINE], *eq;

	/* inih splits "name = value" at the first '=' or ':', so an IPv6 key
	 * such as "fd00::/8 = direct" arrives as "fd00" and ":/8 = direct"
	 * minus one colon: put the line back together and split it at '='. */
	if (strchr(value, '=')) {
		snprintf(joined, sizeof(joined), "%s:%s", key, value);
		eq = strchr(joined, '=');
		if (!eq) { /* cut off with what followed: the line was too long */
			config_report(ctx, ctx->line, "route: line too long");
			return;
		}
		*eq = '\0';
		config_trim(joined);
		config_trim(eq + 1);
		if (!*joined || !eq[1]) {
			config_report(ctx, ctx->line, "route \"%s\": empty value", joined);
			return;
		}
		key = joined;
		value = eq + 1;
	}

	for (size_t i = 0; i < ctx->n_routes; i++) {
		if (!strcmp(ctx->routes[i].key, key)) {
			config_report(ctx, ctx->line, "[route] %s given twice (first at line %u)",
				      key, ctx->routes[i].line);
			return;
		}
	}
	void *routes = config_grow(ctx->routes, ctx->n_routes, sizeof(*ctx->routes));
	if (!routes) {
		config_report(ctx, ctx->line, "out of memory");
		return;
	}
	ctx->routes = routes;
	struct pending_route *r = &ctx->routes[ctx->n_routes++];
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->upstream, sizeof(r->upstream), "%s", value);
	r->line = ctx->line;
}

/* Calls item() for each comma-separated, trimmed element of value (a
 * trailing comma is allowed: the list may go on on the next line), and
 * for each entry of an "@FILE" element. -1 after the first error. */
static int for_each_item(struct parse_ctx *ctx, const char *key, const char *value,
			 int (*item)(struct parse_ctx *ctx, const char *key, const char *s))
{
	char buf[INI_MAX_LINE];
	char *rest = buf, *tok;
	size_t n;

	snprintf(buf, sizeof(buf), "%s", value);
	n = strlen(buf);
	if (n && buf[n - 1] == ',')
		buf[n - 1] = '\0';
	while ((tok = strsep(&rest, ","))) {
		config_trim(tok);
		if (!*tok) {
			config_report(ctx, ctx->line, "%s: empty element in the list", key);
			return -1;
		}
		if (tok[0] == '@' ? config_list_file(ctx, key, tok + 1, item) < 0
				  : item(ctx, key, tok) < 0)
			return -1;
	}
	return 0;
}

static int append_cidr(struct cidr **list, size_t *n, const struct cidr *c)
{
	void *grown = config_grow(*list, *n, sizeof(**list));
	if (!grown)
		return -1;
	*list = grown;
	(*list)[(*n)++] = *c;
	return 0;
}

static int socks_cidr_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct socks_config *sc = &ctx->cfg->socks;
	struct cidr c;

	if (cidr_parse(s, &c)) {
		config_report(ctx, ctx->line,
			      "%s: \"%s\" is not an address or CIDR (10.0.0.0/8, fd00::/8)", key,
			      s);
		return -1;
	}
	int rc = !strcmp(key, "allow")	    ? append_cidr(&sc->allow, &sc->n_allow, &c)
		 : !strcmp(key, "deny_dst") ? append_cidr(&sc->deny_dst, &sc->n_deny_dst, &c)
					    : append_cidr(&sc->allow_dst, &sc->n_allow_dst, &c);
	if (rc)
		config_report(ctx, ctx->line, "out of memory");
	return rc;
}

/* "192.168.1.1:1080" or "[fd00::1]:1080". */
static int socks_listen_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct socks_config *sc = &ctx->cfg->socks;
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN + 1];
	uint16_t port;
	int bracketed;

	if (config_split_host_port(s, host, sizeof(host), &port, &bracketed) ||
	    addr_from_ip(host, port, &ss) || bracketed != (ss.ss_family == AF_INET6))
		goto bad;
	for (size_t i = 0; i < sc->n_listen; i++) {
		if (addr_equal(&sc->listen[i], &ss)) {
			config_report(ctx, ctx->line, "%s: \"%s\" given twice", key, s);
			return -1;
		}
	}
	if (sc->n_listen == SOCKS_LISTEN_MAX) {
		config_report(ctx, ctx->line, "%s: more than %d addresses", key, SOCKS_LISTEN_MAX);
		return -1;
	}
	void *grown = config_grow(sc->listen, sc->n_listen, sizeof(*sc->listen));
	if (!grown) {
		config_report(ctx, ctx->line, "out of memory");
		return -1;
	}
	sc->listen = grown;
	sc->listen[sc->n_listen++] = ss;
	return 0;
bad:
	config_report(ctx, ctx->line,
		      "%s: \"%s\" is not ADDRESS:PORT (192.168.1.1:1080, [fd00::1]:1080)", key, s);
	return -1;
}

static void socks_key(struct parse_ctx *ctx, const char *key, const char *value)
{
	static const char *const keys[] = { "listen",
					    "auth",
					    "users",
					    "allow",
					    "deny_dst",
					    "allow_dst",
					    "max_conns_per_client",
					    "bind_timeout",
					    "http",
					    "http_via" };
	struct socks_config *sc = &ctx->cfg->socks;
	unsigned bit = 0;
	unsigned long v;

	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!strcmp(key, keys[i]))
			bit = 1u << i;
	}
	if (!bit) {
		config_report(ctx, ctx->line, "unknown key \"%s\" in [socks]", key);
		return;
	}
	if (!first_time(ctx, &ctx->seen_socks, bit, "socks", key))
		return;
	if (!ctx->socks_line)
		ctx->socks_line = ctx->line;
	if (!strcmp(key, "listen")) {
		for_each_item(ctx, key, value, socks_listen_item);
	} else if (!strcmp(key, "auth")) {
		if (!strcmp(value, "none"))
			ctx->socks_auth = 0;
		else if (!strcmp(value, "password"))
			ctx->socks_auth = 1;
		else
			config_report(ctx, ctx->line, "auth: \"%s\" is not none or password",
				      value);
	} else if (!strcmp(key, "users")) {
		free(sc->users_path);
		sc->users_path = strdup(value);
		if (!sc->users_path)
			config_report(ctx, ctx->line, "out of memory");
	} else if (!strcmp(key, "max_conns_per_client")) {
		if (config_parse_uint(value, 1000000, &v))
			config_report(ctx, ctx->line,
				      "max_conns_per_client: \"%s\" is not 0 (no limit) .. 1000000",
				      value);
		else
			sc->max_conns_per_client = (unsigned)v;
	} else if (!strcmp(key, "http") || !strcmp(key, "http_via")) {
		if (config_parse_bool(value, key[4] ? &sc->http_via : &sc->http))
			config_report(ctx, ctx->line, "%s: \"%s\" is not yes or no", key, value);
	} else if (!strcmp(key, "bind_timeout")) {
		if (config_parse_duration(value, &sc->bind_timeout_ms) || !sc->bind_timeout_ms)
			config_report(
			    ctx, ctx->line,
			    "bind_timeout: \"%s\" is not a duration (30, 30s, 500ms, 5m, 1h)",
			    value);
	} else {
		for_each_item(ctx, key, value, socks_cidr_item);
	}
}

/* The safety rules of [socks]: no open proxy beyond loopback. */
static void finish_socks(struct parse_ctx *ctx)
{
	struct socks_config *sc = &ctx->cfg->socks;
	int beyond_loopback = 0;

	for (size_t i = 0; i < sc->n_listen; i++)
		beyond_loopback |= !addr_is_loopback(&sc->listen[i]);
	if (!ctx->socks_line)
		return;
	if (!sc->n_listen) {
		if (!(ctx->seen_socks & 1u))
			config_report(ctx, ctx->socks_line, "[socks] has no listen address");
		return;
	}
	sc->auth_password = ctx->socks_auth >= 0 ? ctx->socks_auth : beyond_loopback;
	if (sc->auth_password && !sc->users_path)
		config_report(
		    ctx, ctx->socks_line,
		    "[socks] auth = password needs users = FILE (lines of user:hash, made "
		    "with sockgated --hash-password USER)%s",
		    ctx->socks_auth < 0 ? "; password is the default when listening beyond "
					  "loopback"
					: "");
	if (!sc->auth_password && beyond_loopback && !sc->n_allow)
		config_report(
		    ctx, ctx->socks_line,
		    "[socks] auth = none on a non-loopback address needs an allow = CIDR list "
		    "(otherwise it is an open proxy)");
	if (!sc->auth_password && sc->users_path)
		config_report(ctx, ctx->socks_line, "[socks] users is set but auth = none");
}

/* "ADDRESS:PORT" or "[V6]:PORT", or with bare_port a bare address too;
 * 0, or -1 when s is neither. */
static int dns_parse_addr(const char *s, uint16_t bare_port, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	uint16_t port;
	int bracketed;

	if (bare_port && !addr_from_ip(s, bare_port, ss))
		return 0;
	if (config_split_host_port(s, host, sizeof(host), &port, &bracketed) ||
	    addr_from_ip(host, port, ss) || bracketed != (ss->ss_family == AF_INET6))
		return -1;
	return 0;
}

/* A server's options after its address: "via NAME" (an upstream, or
 * direct) and "tcp". */
static int dns_server_options(struct parse_ctx *ctx, char *opts, size_t i)
{
	struct dns_server *srv = &ctx->cfg->dns.server[i];
	char *save = NULL, *tok;

	for (tok = strtok_r(opts, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(tok, "tcp")) {
			srv->tcp = 1;
			continue;
		}
		if (strcmp(tok, "via") || !(tok = strtok_r(NULL, " \t", &save))) {
			config_report(
			    ctx, ctx->line,
			    "server: options are \"via UPSTREAM\" (or via direct) and \"tcp\"");
			return -1;
		}
		if (!config_valid_name(tok)) {
			config_report(ctx, ctx->line, "server: via \"%s\" is not an upstream name",
				      tok);
			return -1;
		}
		snprintf(ctx->dns_via[i], sizeof(ctx->dns_via[i]), "%s", tok);
		ctx->dns_via_line[i] = ctx->line;
	}
	return 0;
}

/* [dns] listen items ("ADDRESS:PORT", "[V6]:PORT") and server items (the
 * same or a bare address, port 53, then options). */
static int dns_addr_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct dns_config *dc = &ctx->cfg->dns;
	int server = !strcmp(key, "server");
	size_t *n = server ? &dc->n_server : &dc->n_listen;
	char item[INI_MAX_LINE];
	struct sockaddr_storage ss;
	char *opts;

	snprintf(item, sizeof(item), "%s", s);
	opts = item + strcspn(item, " \t");
	if (*opts)
		*opts++ = '\0';
	if ((!server && *opts) || dns_parse_addr(item, server ? 53 : 0, &ss)) {
		config_report(ctx, ctx->line,
			      "%s: \"%s\" is not ADDRESS:PORT (10.0.0.1:53, [fd00::1]:53)%s", key,
			      s, server ? " or an address, then options" : "");
		return -1;
	}
	for (size_t i = 0; i < *n; i++) {
		if (addr_equal(server ? &dc->server[i].addr : &dc->listen[i], &ss)) {
			config_report(ctx, ctx->line, "%s: \"%s\" given twice", key, item);
			return -1;
		}
	}
	if (*n == (server ? DNS_SERVERS_MAX : DNS_LISTEN_MAX)) {
		config_report(ctx, ctx->line, "%s: more than %d addresses", key,
			      server ? DNS_SERVERS_MAX : DNS_LISTEN_MAX);
		return -1;
	}
	if (!server) {
		dc->listen[(*n)++] = ss;
		return 0;
	}
	dc->server[*n] = (struct dns_server){ .addr = ss };
	if (dns_server_options(ctx, opts, *n) < 0)
		return -1;
	(*n)++;
	return 0;
}

static int dns_allow_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct dns_config *dc = &ctx->cfg->dns;
	struct cidr c;

	if (cidr_parse(s, &c)) {
		config_report(ctx, ctx->line,
			      "%s: \"%s\" is not an address or CIDR (192.168.1.0/24, fd00::/8)",
			      key, s);
		return -1;
	}
	if (append_cidr(&dc->allow, &dc->n_allow, &c)) {
		config_report(ctx, ctx->line, "out of memory");
		return -1;
	}
	return 0;
}

/* A fake-IP pool: one IPv4 and one IPv6 CIDR at most, each with room. */
static int fakeip_range_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	struct dns_config *dc = &ctx->cfg->dns;
	struct cidr c, *slot;

	if (cidr_parse(s, &c)) {
		config_report(ctx, ctx->line,
			      "%s: \"%s\" is not a CIDR (198.18.0.0/15, fd00:5a::/64)", key, s);
		return -1;
	}
	slot = c.family == AF_INET ? &dc->fakeip4 : &dc->fakeip6;
	if (slot->family) {
		config_report(ctx, ctx->line, "%s: one IPv4 and one IPv6 range at most", key);
		return -1;
	}
	if ((c.family == AF_INET ? 32u : 128u) - c.prefix_len < 8) {
		config_report(ctx, ctx->line, "%s: \"%s\" is too small (at least a /24, or /120)",
			      key, s);
		return -1;
	}
	*slot = c;
	return 0;
}

static void dns_key(struct parse_ctx *ctx, const char *key, const char *value)
{
	static const char *const keys[] = { "listen",	   "server",	 "allow",
					    "timeout",	   "cache_size", "cache_bytes",
					    "hijack",	   "mode",	 "fakeip_range",
					    "fakeip_size", "fakeip_ttl", "fakeip_file" };
	struct dns_config *dc = &ctx->cfg->dns;
	unsigned bit = 0;
	unsigned long v;

	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			bit = 1u << i;
	if (!bit) {
		config_report(ctx, ctx->line, "unknown key \"%s\" in [dns]", key);
		return;
	}
	if (!first_time(ctx, &ctx->seen_dns, bit, "dns", key))
		return;
	if (!ctx->dns_line)
		ctx->dns_line = ctx->line;
	if (!strcmp(key, "listen") || !strcmp(key, "server"))
		for_each_item(ctx, key, value, dns_addr_item);
	else if (!strcmp(key, "allow"))
		for_each_item(ctx, key, value, dns_allow_item);
	else if (!strcmp(key, "hijack")) {
		if (config_parse_bool(value, &dc->hijack))
			config_report(ctx, ctx->line, "hijack: \"%s\" is not yes or no", value);
	} else if (!strcmp(key, "mode")) {
		if (!strcmp(value, "fakeip") || !strcmp(value, "forward"))
			dc->fakeip = !strcmp(value, "fakeip");
		else
			config_report(ctx, ctx->line, "mode: \"%s\" is not forward or fakeip",
				      value);
	} else if (!strcmp(key, "fakeip_range")) {
		memset(&dc->fakeip4, 0, sizeof(dc->fakeip4));
		memset(&dc->fakeip6, 0, sizeof(dc->fakeip6));
		for_each_item(ctx, key, value, fakeip_range_item);
	} else if (!strcmp(key, "fakeip_file")) {
		if (value[0] != '/')
			config_report(ctx, ctx->line, "fakeip_file: \"%s\" is not an absolute path",
				      value);
		else if (!(dc->fakeip_file = strdup(value)))
			config_report(ctx, ctx->line, "out of memory");
	} else if (!strcmp(key, "fakeip_size") || !strcmp(key, "fakeip_ttl")) {
		int size = key[7] == 's';
		if (config_parse_uint(value, size ? 1u << 22 : 86400, &v) || v == 0)
			config_report(ctx, ctx->line, "%s: \"%s\" is not 1 .. %s", key, value,
				      size ? "4194304 names" : "86400 seconds");
		else if (size)
			dc->fakeip_size = (unsigned)v;
		else
			dc->fakeip_ttl = (unsigned)v;
	} else if (!strcmp(key, "timeout")) {
		if (config_parse_duration(value, &dc->timeout_ms) || dc->timeout_ms < 100 ||
		    dc->timeout_ms > 30000)
			config_report(ctx, ctx->line,
				      "timeout: \"%s\" is not a duration of 100ms .. 30s", value);
	} else if (config_parse_uint(value, !strcmp(key, "cache_size") ? 1000000 : 1u << 30, &v))
		config_report(ctx, ctx->line, "%s: \"%s\" is not 0 .. %s", key, value,
			      !strcmp(key, "cache_size") ? "1000000 answers" : "1073741824 bytes");
	else if (!strcmp(key, "cache_size"))
		dc->cache_entries = (unsigned)v;
	else
		dc->cache_bytes = (unsigned)v;
}

/* The safety rules of [dns]: something to listen on and to ask, and no
 * open resolver beyond loopback. */
static void finish_dns(struct parse_ctx *ctx)
{
	struct dns_config *dc = &ctx->cfg->dns;
	int beyond_loopback = 0;

	if (!ctx->dns_line)
		return;
	for (size_t i = 0; i < dc->n_listen; i++)
		beyond_loopback |= !addr_is_loopback(&dc->listen[i]);
	if (!dc->n_listen && !(ctx->seen_dns & 1u))
		config_report(ctx, ctx->dns_line, "[dns] has no listen address");
	if (!dc->n_server && !(ctx->seen_dns & 2u))
		config_report(ctx, ctx->dns_line, "[dns] has no server to ask");
	if (beyond_loopback && !dc->n_allow)
		config_report(
		    ctx, ctx->dns_line,
		    "[dns] listening beyond loopback needs an allow = CIDR list of the clients "
		    "(otherwise it is an open resolver)");
	if (dc->hijack && !config_dns_hijack_target(dc, AF_INET) &&
	    !config_dns_hijack_target(dc, AF_INET6))
		config_report(
		    ctx, ctx->dns_line,
		    "[dns] hijack = yes needs a listen address beyond loopback to send the LAN's "
		    "queries to");
	for (size_t i = 0; i < dc->n_server; i++) {
		if (!ctx->dns_via[i][0])
			continue;
		dc->server[i].via = config_find_upstream(ctx->cfg, ctx->dns_via[i]);
		if (!dc->server[i].via)
			config_report(ctx, ctx->dns_via_line[i], "server: no upstream named \"%s\"",
				      ctx->dns_via[i]);
	}
}

static int config_handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *ctx = user;

	if (!*value) {
		config_report(ctx, ctx->line, "%s: empty value", key);
		return 1;
	}
	if (!strcmp(section, "daemon"))
		daemon_key(ctx, key, value);
	else if (!strcmp(section, "intake"))
		intake_key(ctx, key, value);
	else if (!strcmp(section, "route"))
		route_key(ctx, key, value);
	else if (!strcmp(section, "socks"))
		socks_key(ctx, key, value);
	else if (!strcmp(section, "dns"))
		dns_key(ctx, key, value);
	else if (!strcmp(section, "pac"))
		config_pac_key(ctx, key, value);
	else if (!strncmp(section, "upstream", 8) && (section[8] == ' ' || section[8] == '\t'))
		upstream_key(ctx, section + 8 + strspn(section + 8, " \t"), key, value);
	else if (!strncmp(section, "group", 5) && (section[5] == ' ' || section[5] == '\t'))
		config_group_key(ctx, section + 5 + strspn(section + 5, " \t"), key, value);
	else if (!*section)
		config_report(ctx, ctx->line, "key \"%s\" outside of any [section]", key);
	else
		config_report(ctx, ctx->line, "unknown section [%s]", section);
	/* Errors are collected in ctx; returning 1 keeps inih's count for syntax only. */
	return 1;
}

/* host (a name or an IP literal) and port into ss; names only with
 * resolve, else ss stays unset. 0 or -1 with the problem reported. */
static int resolve_host(struct parse_ctx *ctx, unsigned line, const char *upstream,
			const char *host, uint16_t port, int resolve, struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int rc;

	if (!addr_from_ip(host, port, ss) || !resolve)
		return 0;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc || !res) {
		/* the WAN may not be up yet: down until the name resolves */
		config_warn(ctx, line,
			    "upstream \"%s\": cannot resolve \"%s\" (%s); it is down until it "
			    "does",
			    upstream, host, rc ? gai_strerror(rc) : "no address");
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	addr_set_port(ss, port);
	freeaddrinfo(res);
	return 0;
}

/* udp: the default follows what the url can carry; associate only where
 * it can. udp_address resolved like the url's host. */
static void finish_upstream_udp(struct parse_ctx *ctx, struct upstream *up,
				const struct upstream_lines *lines, int resolve)
{
	int socks5 = up->url.kind == UPSTREAM_SOCKS5 || up->url.kind == UPSTREAM_SOCKS5H;

	if (!lines->udp_line)
		up->udp = up->url.kind == UPSTREAM_DIRECT ? UPSTREAM_UDP_DIRECT
			  : socks5			  ? UPSTREAM_UDP_ASSOCIATE
							  : UPSTREAM_UDP_DROP;
	else if (up->udp == UPSTREAM_UDP_ASSOCIATE && !socks5)
		config_report(ctx, lines->udp_line,
			      "[upstream %s] udp = associate needs a socks5:// or socks5h:// url "
			      "(%s cannot carry UDP): use direct or drop",
			      up->name, upstream_kind_name(up->url.kind));
	if (!lines->udp_address_line || !lines->udp_host[0])
		return;
	if (!socks5 || up->udp != UPSTREAM_UDP_ASSOCIATE) {
		config_report(ctx, lines->udp_address_line,
			      "[upstream %s] udp_address is only used with udp = associate",
			      up->name);
		return;
	}
	resolve_host(ctx, lines->udp_address_line, up->name, lines->udp_host, lines->udp_port,
		     resolve, &up->udp_addr);
}

/* TCP goes to tproxy when it is set and redirect is not. */
static void finish_intake(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;

	if (cfg->tproxy_port && !(ctx->seen_intake & 1u))
		cfg->redirect_port = 0;
	if (cfg->tproxy_port && cfg->tproxy_port == cfg->redirect_port)
		config_report(ctx, ctx->line, "[intake] redirect and tproxy are the same port %u",
			      cfg->tproxy_port);
	if (cfg->ebpf == INTAKE_EBPF_ON && !cfg->tproxy_port && !cfg->n_cgroups)
		config_report(
		    ctx, ctx->line,
		    "[intake] ebpf = on needs tproxy (the interfaces' traffic goes to the "
		    "TPROXY sockets) or cgroups");
	if (cfg->n_cgroups && !cfg->redirect_port)
		config_report(ctx, ctx->line,
			      "[intake] cgroups needs redirect: their connections are sent to the "
			      "redirect listener");
	if (cfg->n_cgroups && cfg->ebpf == INTAKE_EBPF_OFF)
		config_report(ctx, ctx->line, "[intake] cgroups needs ebpf = on or auto");
	/* the tc program takes the interfaces' packets before nftables sees
	 * them, so it would not leave these to the kernel */
	if (cfg->ebpf == INTAKE_EBPF_ON &&
	    (cfg->n_exclude_src || cfg->n_exclude_macs || cfg->n_ports || cfg->n_exclude_ports))
		config_report(
		    ctx, ctx->line,
		    "[intake] exclude_src, ports and exclude_ports work with nftables: use "
		    "ebpf = off or auto (auto leaves the interfaces to nftables then)");
	if (cfg->tproxy_mark == cfg->mark)
		config_report(
		    ctx, ctx->line,
		    "[intake] tproxy_mark and [daemon] mark are both %#x: sockgated's own "
		    "traffic would be routed back to itself",
		    cfg->mark);
}

/* A domain route: "NAME", "exact NAME" (from the file FILE at line
 * file_line, or the config's line line). */
/* "keyword WORD": lowercase letters, digits, '-', '.', '_'. */
static int keyword_route(struct parse_ctx *ctx, const char *word, const struct upstream *up)
{
	struct config *cfg = ctx->cfg;
	size_t n = strlen(word);
	void *grown;

	if (n == 0 || n > DOMAIN_NAME_MAX ||
	    strspn(word, "abcdefghijklmnopqrstuvwxyz0123456789-._") != n)
		return -1;
	for (size_t i = 0; i < cfg->n_keywords; i++)
		if (!strcmp(cfg->keywords[i].word, word))
			return 1;
	grown = config_grow(cfg->keywords, cfg->n_keywords, sizeof(*cfg->keywords));
	if (!grown)
		return -2;
	cfg->keywords = grown;
	if (!(cfg->keywords[cfg->n_keywords].word = strdup(word)))
		return -2;
	cfg->keywords[cfg->n_keywords++].upstream = up;
	return 0;
}

/* One destination route to up: a CIDR, a domain, "exact NAME" or "keyword
 * WORD", from the config's [route] or from a list file (where errors are,
 * and their wording, follow ctx). 0 or -1. */
static int route_entry(struct parse_ctx *ctx, const char *entry, const struct upstream *up)
{
	struct config *cfg = ctx->cfg;
	int exact = !strncmp(entry, "exact", 5) && isspace((unsigned char)entry[5]);
	int keyword = !strncmp(entry, "keyword", 7) && isspace((unsigned char)entry[7]);
	const char *name = exact     ? entry + 5 + strspn(entry + 5, " \t")
			   : keyword ? entry + 7 + strspn(entry + 7, " \t")
				     : entry;
	struct cidr c;
	int rc;

	if (!cidr_parse(entry, &c)) {
		if (!cfg->dst_routes && !(cfg->dst_routes = prefix_table_new()))
			rc = -2;
		else
			rc = prefix_table_add(cfg->dst_routes, &c, up) < 0 ? -2 : 0;
	} else if (!cfg->domain_routes && !(cfg->domain_routes = domain_table_new())) {
		rc = -2;
	} else {
		rc = keyword ? keyword_route(ctx, name, up)
			     : domain_table_add(cfg->domain_routes, name, exact, up);
	}
	if (rc == 0)
		return 0;
	if (rc == -2)
		config_report(ctx, ctx->line, "out of memory");
	else if (rc == 1)
		config_report(ctx, ctx->line, "route \"%s\" given twice", entry);
	else if (ctx->in_list_file)
		config_report(ctx, ctx->line,
			      "\"%s\" is not a CIDR, domain name, exact NAME or keyword WORD",
			      entry);
	else
		config_report(
		    ctx, ctx->line,
		    "route \"%s\": not \"default\", a destination CIDR (10.0.0.0/8, "
		    "fd00::/8), a domain (example.com), exact NAME, keyword WORD or @FILE",
		    entry);
	return -1;
}

/* An entry of a route list file: to ctx->route_up. */
static int route_file_item(struct parse_ctx *ctx, const char *key, const char *s)
{
	(void)key;
	return route_entry(ctx, s, ctx->route_up);
}

/* A [route] key and its upstream: an entry, or "@FILE" of entries. */
static void route_key_entry(struct parse_ctx *ctx, const struct pending_route *r,
			    const struct upstream *up)
{
	unsigned line = ctx->line;

	ctx->line = r->line;
	if (config_route_rule(ctx, r->key, up)) {
		ctx->line = line;
		return; /* a rule with selectors (or its error, reported) */
	}
	if (r->key[0] == '@') {
		ctx->route_up = up;
		config_list_file(ctx, "route", r->key + 1, route_file_item);
	} else {
		route_entry(ctx, r->key, up);
	}
	ctx->line = line;
}

/* A CIDR list made a table for lookups (none for an empty list). */
static void cidr_table(struct parse_ctx *ctx, const struct cidr *list, size_t n,
		       struct prefix_table **out)
{
	static const char held[] = "held"; /* any value: only presence counts */
	struct prefix_table *t = n ? prefix_table_new() : NULL;

	for (size_t i = 0; t && i < n; i++)
		if (prefix_table_add(t, &list[i], held) < 0) {
			prefix_table_free(t);
			t = NULL;
		}
	if (n && (!t || prefix_table_build(t) < 0)) {
		config_report(ctx, ctx->line, "out of memory");
		prefix_table_free(t);
		t = NULL;
	}
	*out = t;
}

/* After the whole file is read: every upstream complete, every route known. */
static void finish(struct parse_ctx *ctx, int resolve)
{
	struct config *cfg = ctx->cfg;
	unsigned default_line = 0;

	for (size_t i = 1; i < cfg->n_upstreams; i++) {
		struct upstream *up = &cfg->upstreams[i];
		if (up->group)
			continue;
		if (!ctx->up_lines[i].url_line) {
			config_report(ctx, ctx->up_lines[i].section_line,
				      "[upstream %s] has no url", up->name);
			continue;
		}
		if ((int)up->url.kind == -1)
			continue; /* url error already reported */
		finish_upstream_udp(ctx, up, &ctx->up_lines[i], resolve);
		if (up->url.kind == UPSTREAM_DIRECT) {
			if (ctx->up_lines[i].ttfb_seen)
				config_report(
				    ctx, ctx->up_lines[i].section_line,
				    "[upstream %s] is direct: warm, optimistic and fastopen "
				    "are for proxies",
				    up->name);
			continue;
		}
		resolve_host(ctx, ctx->up_lines[i].url_line, up->name, up->url.host, up->url.port,
			     resolve, &up->addr);
	}
	/* Sections named in the file but holding no key at all. */
	for (size_t i = 0; i < ctx->n_headers; i++) {
		const char *h = ctx->headers[i].name;
		if (!strncmp(h, "upstream", 8) && (h[8] == ' ' || h[8] == '\t')) {
			const char *name = h + 8 + strspn(h + 8, " \t");
			if (config_valid_name(name) && strcmp(name, "direct") &&
			    !config_find_upstream(cfg, name))
				config_report(ctx, ctx->headers[i].line, "[upstream %s] has no url",
					      name);
		} else if (!strncmp(h, "group", 5) && (h[5] == ' ' || h[5] == '\t')) {
			const char *name = h + 5 + strspn(h + 5, " \t");
			if (!config_find_upstream(cfg, name))
				config_report(ctx, ctx->headers[i].line,
					      "[group %s] has no members", name);
		} else if (!strcmp(h, "socks")) {
			if (!ctx->socks_line)
				ctx->socks_line = ctx->headers[i].line;
		} else if (!strcmp(h, "dns")) {
			if (!ctx->dns_line)
				ctx->dns_line = ctx->headers[i].line;
		} else if (!strcmp(h, "pac")) {
			if (!ctx->pac_line)
				ctx->pac_line = ctx->headers[i].line;
		} else if (strcmp(h, "daemon") && strcmp(h, "intake") && strcmp(h, "route")) {
			config_report(ctx, ctx->headers[i].line, "unknown section [%s]", h);
		}
	}

	config_finish_groups(ctx);
	if (cfg->resolve_min_ms > cfg->resolve_max_ms)
		config_report(ctx, ctx->line,
			      "[daemon] resolve_min (%u ms) is above resolve_max (%u ms)",
			      cfg->resolve_min_ms, cfg->resolve_max_ms);
	finish_intake(ctx);
	finish_socks(ctx);
	finish_dns(ctx);
	config_finish_pac(ctx);
	for (size_t i = 0; i < ctx->n_routes; i++) {
		struct pending_route *r = &ctx->routes[i];
		const struct upstream *up = config_find_upstream(cfg, r->upstream);
		if (!up) {
			config_report(ctx, r->line, "route %s: no upstream named \"%s\"", r->key,
				      r->upstream);
			continue;
		}
		if (!strcmp(r->key, "default")) {
			cfg->default_upstream = up;
			default_line = r->line;
			continue;
		}
		route_key_entry(ctx, r, up);
	}
	if (cfg->dst_routes && prefix_table_build(cfg->dst_routes) < 0)
		config_report(ctx, ctx->line, "out of memory");
	cidr_table(ctx, cfg->intake_deny_dst, cfg->n_intake_deny_dst, &cfg->intake_deny_table);
	cidr_table(ctx, cfg->socks.allow, cfg->socks.n_allow, &cfg->socks.allow_table);
	cidr_table(ctx, cfg->socks.deny_dst, cfg->socks.n_deny_dst, &cfg->socks.deny_dst_table);
	cidr_table(ctx, cfg->socks.allow_dst, cfg->socks.n_allow_dst, &cfg->socks.allow_dst_table);
	cidr_table(ctx, cfg->dns.allow, cfg->dns.n_allow, &cfg->dns.allow_table);
	cfg->n_routes = prefix_table_count(cfg->dst_routes);
	if (!cfg->default_upstream && !default_line) {
		if (cfg->n_upstreams == 2)
			cfg->default_upstream = &cfg->upstreams[1];
		else
			config_report(
			    ctx, ctx->line,
			    cfg->n_upstreams < 2
				? "no [upstream NAME] section and no [route] default (use "
				  "default = direct to relay without a proxy)"
				: "several upstreams but no [route] default = NAME");
	}
}

static int load(struct parse_ctx *ctx, int resolve, struct config **out)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	int syntax;

	*out = NULL;
	if (cfg) {
		cfg->upstreams = malloc(sizeof(*cfg->upstreams));
		ctx->up_lines = malloc(sizeof(*ctx->up_lines));
	}
	if (!cfg || !cfg->upstreams || !ctx->up_lines) {
		config_free(cfg);
		config_report(ctx, 0, "out of memory");
		goto out;
	}
	ctx->cfg = cfg;
	cfg->workers = 0;
	cfg->mark = DEFAULT_MARK;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	cfg->handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT_MS;
	cfg->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
	cfg->udp_idle_timeout_ms = DEFAULT_UDP_IDLE_TIMEOUT_MS;
	cfg->udp_associations = DEFAULT_UDP_ASSOCIATIONS;
	cfg->control_path = strdup(CONTROL_DEFAULT_PATH);
	cfg->resolve_min_ms = DEFAULT_RESOLVE_MIN_MS;
	cfg->resolve_max_ms = DEFAULT_RESOLVE_MAX_MS;
	snprintf(cfg->user, sizeof(cfg->user), "nobody");
	cfg->redirect_port = DEFAULT_REDIRECT_PORT;
	cfg->tproxy_mark = DEFAULT_TPROXY_MARK;
	cfg->tproxy_table = DEFAULT_TPROXY_TABLE;
	cfg->bypass_private = 1;
	cfg->bypass_connected = 1;
	cfg->max_flows_per_client = DEFAULT_MAX_FLOWS_PER_CLIENT;
	cfg->max_flows = DEFAULT_MAX_FLOWS;
	cfg->pipe_size = DEFAULT_PIPE_SIZE;
	cfg->max_udp_per_client = DEFAULT_MAX_UDP_PER_CLIENT;
	cfg->socks.max_conns_per_client = DEFAULT_MAX_CONNS_PER_CLIENT;
	cfg->socks.bind_timeout_ms = DEFAULT_BIND_TIMEOUT_MS;
	cfg->socks.http = 1;
	cfg->dns.timeout_ms = DEFAULT_DNS_TIMEOUT_MS;
	cfg->sniff_timeout_ms = DEFAULT_SNIFF_TIMEOUT_MS;
	cfg->dns.cache_entries = DEFAULT_DNS_CACHE_ENTRIES;
	cfg->dns.cache_bytes = DEFAULT_DNS_CACHE_BYTES;
	cidr_parse("198.18.0.0/15", &cfg->dns.fakeip4);
	cidr_parse("fd00:5a::/64", &cfg->dns.fakeip6);
	cfg->dns.fakeip_size = 65536;
	cfg->dns.fakeip_ttl = 1;
	ctx->socks_auth = -1;
	memset(&cfg->upstreams[0], 0, sizeof(cfg->upstreams[0]));
	strcpy(cfg->upstreams[0].name, "direct");
	cfg->upstreams[0].url.kind = UPSTREAM_DIRECT;
	cfg->upstreams[0].pipeline = 1;
	cfg->upstreams[0].udp = UPSTREAM_UDP_DIRECT;
	ctx->up_lines[0] = (struct upstream_lines){ .url_line = 1 };
	cfg->n_upstreams = 1;

	syntax = ini_parse_stream(config_reader, ctx, config_handler, ctx);
	if (syntax > 0)
		config_report(ctx, (unsigned)syntax,
			      "syntax error (expected [section] or key = value)");
	else if (syntax < 0)
		config_report(ctx, 0, "cannot read: %s", strerror(errno));
	finish(ctx, resolve);
	for (size_t i = 0; i < cfg->n_upstreams; i++)
		free(ctx->up_lines[i].members);
	if (ctx->errors) {
		config_free(cfg);
		ctx->cfg = NULL;
	} else {
		*out = cfg;
	}
out:
	free(ctx->up_lines);
	free(ctx->headers);
	free(ctx->routes);
	return ctx->errors;
}

int config_load(const char *path, int resolve, struct config **out, FILE *errs)
{
	struct parse_ctx ctx = { .name = path, .errs = errs };
	int errors;

	*out = NULL;
	ctx.in = fopen(path, "re");
	if (!ctx.in) {
		if (errs)
			fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		return 1;
	}
	errors = load(&ctx, resolve, out);
	fclose(ctx.in);
	return errors;
}

int config_load_string(const char *name, const char *text, int resolve, struct config **out,
		       FILE *errs)
{
	struct parse_ctx ctx = { .name = name, .errs = errs, .text = text };
	return load(&ctx, resolve, out);
}
