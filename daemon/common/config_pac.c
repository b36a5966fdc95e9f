/* [pac]: where the proxy auto-config file is served and what it names. */
#include <arpa/inet.h>
#include <string.h>

#include "sockgate/addr.h"
#include "config_parse.h"

/* "ADDRESS:PORT" or "[V6]:PORT" into out; 0, or -1 after saying why. */
static int pac_listen_item(struct parse_ctx *ctx, const char *s)
{
	struct pac_config *pc = &ctx->cfg->pac;
	char host[INET6_ADDRSTRLEN + 1];
	struct sockaddr_storage ss;
	uint16_t port;
	int bracketed;

	if (config_split_host_port(s, host, sizeof(host), &port, &bracketed) ||
	    addr_from_ip(host, port, &ss) || bracketed != (ss.ss_family == AF_INET6)) {
		config_report(
		    ctx, ctx->line,
		    "listen: \"%s\" is not ADDRESS:PORT (192.168.1.1:8080, [fd00::1]:8080)", s);
		return -1;
	}
	if (pc->n_listen == PAC_LISTEN_MAX) {
		config_report(ctx, ctx->line, "listen: more than %d addresses", PAC_LISTEN_MAX);
		return -1;
	}
	pc->listen[pc->n_listen++] = ss;
	return 0;
}

void config_pac_key(struct parse_ctx *ctx, const char *key, const char *value)
{
	struct pac_config *pc = &ctx->cfg->pac;
	unsigned bit = !strcmp(key, "listen")		 ? 1u
		       : !strcmp(key, "proxy")		 ? 2u
		       : !strcmp(key, "fallback_direct") ? 4u
							 : 0u;

	if (!bit) {
		config_report(ctx, ctx->line, "unknown key \"%s\" in [pac]", key);
		return;
	}
	/* a list: listen given again adds to it */
	if ((ctx->seen_pac & bit) && bit != 1) {
		config_report(ctx, ctx->line, "[pac] %s given twice", key);
		return;
	}
	ctx->seen_pac |= bit;
	if (!ctx->pac_line)
		ctx->pac_line = ctx->line;
	if (bit == 1) {
		char item[INI_MAX_LINE];
		const char *p = value;
		while (*p) {
			size_t n = strcspn(p, ",");
			snprintf(item, sizeof(item), "%.*s", (int)n, p);
			config_trim(item);
			if (*item && pac_listen_item(ctx, item) < 0)
				return;
			p += n + (p[n] == ',');
		}
	} else if (bit == 2) {
		int bracketed;
		if (config_split_host_port(value, pc->proxy_host, sizeof(pc->proxy_host),
					   &pc->proxy_port, &bracketed) ||
		    !pc->proxy_port || strpbrk(pc->proxy_host, " \t\";'\\")) {
			pc->proxy_host[0] = 0;
			config_report(ctx, ctx->line,
				      "proxy: \"%s\" is not HOST:PORT (router.lan:1080, "
				      "192.168.1.1:1080, [fd00::1]:1080)",
				      value);
		}
	} else if (config_parse_bool(value, &pc->fallback_direct)) {
		config_report(ctx, ctx->line, "fallback_direct: \"%s\" is not yes or no", value);
	}
}

void config_finish_pac(struct parse_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;

	if (!ctx->pac_line)
		return;
	if (!cfg->pac.n_listen)
		config_report(ctx, ctx->pac_line, "[pac] has no listen address");
	else if (!cfg->socks.n_listen)
		config_report(ctx, ctx->pac_line,
			      "[pac] names the proxy port: it needs [socks] listen");
}
