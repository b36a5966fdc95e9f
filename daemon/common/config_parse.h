/* What the parts of the sockgate.conf loader share while one file is read:
 * the parse context, the error report and the small value parsers. Internal
 * to daemon/common/config*.c. */
#ifndef SOCKGATE_CONFIG_PARSE_H
#define SOCKGATE_CONFIG_PARSE_H

#include <stdio.h>

#include <ini.h>

#include "sockgate/config.h"

struct section_header {
	char name[INI_MAX_LINE];
	unsigned line;
};

struct pending_route {
	char key[INI_MAX_LINE];
	char upstream[INI_MAX_LINE];
	unsigned line;
};

/* Where an [upstream] or [group] section's keys were, for messages and
 * duplicates; what is resolved only once the whole file is read. */
struct upstream_lines {
	unsigned section_line;
	unsigned url_line;
	unsigned pipeline_line;
	unsigned udp_line, udp_address_line;
	unsigned ttfb_seen; /* warm, warm_max_age, optimistic, fastopen, warm_idle: a bit each */
	char udp_host[URL_HOST_MAX + 1]; /* udp_address, resolved in finish() */
	uint16_t udp_port;
	/* [group]: a bit per key given; the members as written (owned) */
	unsigned group_seen;
	unsigned members_line;
	char *members;
};

struct parse_ctx {
	const char *name;
	FILE *errs;
	int errors;
	unsigned line;
	/* reader input: either a stream or a string */
	FILE *in;
	const char *text;
	struct config *cfg;
	struct upstream_lines *up_lines;
	struct section_header *headers;
	size_t n_headers;
	struct pending_route *routes;
	size_t n_routes;
	unsigned seen_daemon, seen_intake, seen_socks; /* bit per key, for duplicates */
	unsigned seen_dns, dns_line;
	/* [dns] server options naming upstreams, resolved once all are read */
	char dns_via[DNS_SERVERS_MAX][CONFIG_NAME_MAX + 1];
	unsigned dns_via_line[DNS_SERVERS_MAX];
	unsigned socks_line; /* first [socks] key */
	unsigned seen_pac, pac_line;
	int in_list_file;    /* reading an @FILE list: ctx->name and line are its */
	const struct upstream *route_up; /* where the entries of a route list go */
	struct route_rule *rule;	 /* the [route] rule being read */
	int socks_auth;	     /* -1 unset, 0 none, 1 password */
};

/* Strips leading and trailing white space in place. */
void config_trim(char *s);
/* "FILE:LINE: message" to the error stream, counted as an error. */
void config_report(struct parse_ctx *ctx, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "FILE:LINE: warning: message": said, not counted; loading goes on. */
void config_warn(struct parse_ctx *ctx, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The [upstream] or [group] entry called name, or NULL. */
struct upstream *config_find_upstream(struct config *cfg, const char *name);
/* A new entry name in cfg->upstreams (and its lines), or NULL after
 * saying why (a bad name, out of memory). */
struct upstream *config_new_upstream(struct parse_ctx *ctx, const char *name);
/* Letters, digits, '-', '_', '.': 1..CONFIG_NAME_MAX of them. */
int config_valid_name(const char *name);
int config_parse_uint(const char *s, unsigned long max, unsigned long *out);
int config_parse_bool(const char *s, int *out);
/* A byte count, plain or with a K or M suffix (1024, 1048576), within
 * [min, max]; 0, or -1 when it is not. */
int config_parse_bytes(const char *s, unsigned min, unsigned max, unsigned *out);
/* "HOST:PORT" or "[V6]:PORT" into host and port; 0 or -1. */
int config_split_host_port(const char *s, char *host, size_t hostsz, uint16_t *port,
			   int *bracketed);
/* "P" or "P-Q" (1..65535, P <= Q) into lo and hi; 0 or -1. */
int config_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);
/* A LAN client as a list names it: 1 a MAC address (into mac), 0 an
 * address or CIDR (into c), -1 neither (reported for key). */
int config_source(struct parse_ctx *ctx, const char *key, const char *s, struct cidr *c,
		  uint8_t mac[6]);
/* Makes room for element n of an array that doubles at powers of two.
 * Returns the array, possibly moved, or NULL (the old one is still valid). */
void *config_grow(void *array, size_t n, size_t size);
/* Appends mac to the list *macs of *n: 0, or -1 when out of memory. */
int config_append_mac(uint8_t (**macs)[6], size_t *n, const uint8_t mac[6]);

/* "@FILE" in a list: each entry (one a line, '#' comments) to item, with
 * FILE:LINE where its errors are; -1 when one was wrong or FILE cannot be
 * read. */
int config_list_file(struct parse_ctx *ctx, const char *key, const char *path,
		     int (*item)(struct parse_ctx *ctx, const char *key, const char *s));

/* A [route] key with selectors ("from", "port", "to") made a rule to up:
 * 1 done, 0 not a rule (a destination route), -1 wrong (reported). */
int config_route_rule(struct parse_ctx *ctx, const char *key, const struct upstream *up);
/* Frees what a rule holds (not the rule). */
void config_rule_free(struct route_rule *rule);

/* [group NAME] keys, and after the whole file: the members looked up. */
void config_group_key(struct parse_ctx *ctx, const char *name, const char *key,
		      const char *value);
void config_finish_groups(struct parse_ctx *ctx);

/* [pac] keys, and after the whole file: what it needs. */
void config_pac_key(struct parse_ctx *ctx, const char *key, const char *value);
void config_finish_pac(struct parse_ctx *ctx);

#endif
