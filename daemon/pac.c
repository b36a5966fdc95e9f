/* The PAC endpoint (see pac.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/log.h"
#include "generation.h"
#include "http_get.h"
#include "pac.h"
#include "pac_script.h"
#include "served.h"

static const char *const pac_paths[] = { "/proxy.pac", "/wpad.dat" };

int pac_open(struct pac *p, const struct config *cfg)
{
	char text[ADDR_STRLEN];

	p->n_fds = 0;
	for (size_t i = 0; i < cfg->pac.n_listen; i++) {
		const struct sockaddr_storage *a = &cfg->pac.listen[i];
		int one = 1, err;
		int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (a->ss_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		}
		if (fd < 0 || bind(fd, (const struct sockaddr *)a, addr_len(a)) < 0 ||
		    listen(fd, 64) < 0) {
			err = errno;
			log_error("PAC on %s: %s", addr_format(a, text, sizeof(text)),
				  strerror(err));
			if (fd >= 0)
				close(fd);
			return -err;
		}
		p->fds[p->n_fds++] = fd;
		log_info("PAC on http://%s/proxy.pac and /wpad.dat",
			 addr_format(a, text, sizeof(text)));
	}
	return 0;
}

/* "HOST:PORT" of the proxy port for a browser that asked on fd: the
 * [socks] address the file was asked on, else the first of its family (a
 * wildcard one: the address asked on, with its port), else the first. */
static void pac_proxy(const struct config *cfg, int fd, char *out, size_t len)
{
	const struct socks_config *sc = &cfg->socks;
	const struct sockaddr_storage *pick = NULL;
	struct sockaddr_storage local, chosen;
	socklen_t slen = sizeof(local);

	if (cfg->pac.proxy_host[0]) {
		snprintf(out, len, strchr(cfg->pac.proxy_host, ':') ? "[%s]:%u" : "%s:%u",
			 cfg->pac.proxy_host, cfg->pac.proxy_port);
		return;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &slen) < 0) {
		addr_format(&sc->listen[0], out, len);
		return;
	}
	addr_unmap_v4(&local);
	for (size_t i = 0; i < sc->n_listen && !pick; i++)
		if (addr_same_ip(&sc->listen[i], &local))
			pick = &sc->listen[i];
	for (size_t i = 0; i < sc->n_listen && !pick; i++)
		if (sc->listen[i].ss_family == local.ss_family)
			pick = &sc->listen[i];
	chosen = pick ? *pick : sc->listen[0];
	if (addr_is_unspecified(&chosen) && chosen.ss_family == local.ss_family) {
		addr_set_port(&local, addr_port(&chosen));
		chosen = local;
	}
	addr_format(&chosen, out, len);
}

/* What a script is written for. */
struct pac_request {
	const struct config *cfg;
	struct sockaddr_storage peer;
	char proxy[ADDR_STRLEN + 256];
};

static int pac_write(void *arg, FILE *out)
{
	struct pac_request *pr = arg;
	return pac_script_write(pr->cfg, &pr->peer, pr->proxy, out);
}

static enum served_answer pac_answer(void *arg, struct served_client *c, const char *req,
				     size_t len, int too_long)
{
	struct pac *p = arg;
	struct pac_request pr = { .cfg = (*p->gen)->cfg };
	socklen_t slen = sizeof(pr.peer);
	int fd = served_client_fd(c);
	size_t which;
	enum http_get_verdict v =
	    too_long ? HTTP_GET_TOO_LARGE : http_get_parse(req, len, pac_paths, 2, &which);
	char *resp = NULL;
	size_t resp_len = 0;

	if (getpeername(fd, (struct sockaddr *)&pr.peer, &slen) < 0)
		return SERVED_CLOSE;
	addr_unmap_v4(&pr.peer);
	if (v == HTTP_GET_INCOMPLETE) /* the client stopped sending midway */
		v = HTTP_GET_BAD_REQUEST;
	/* the proxy's clients only: the script tells the routes */
	if (v == HTTP_GET_OK && pr.cfg->socks.n_allow &&
	    !config_cidrs_hold(pr.cfg->socks.allow_table, &pr.peer))
		v = HTTP_GET_FORBIDDEN;
	if (v == HTTP_GET_OK)
		pac_proxy(pr.cfg, fd, pr.proxy, sizeof(pr.proxy));
	if (http_get_answer(v, "application/x-ns-proxy-autoconfig", pac_write, &pr, &resp,
			    &resp_len) < 0)
		return SERVED_CLOSE;
	served_reply(c, resp, resp_len);
	return SERVED_REPLY;
}

static int request_complete(const char *buf, size_t len)
{
	size_t which;
	return http_get_parse(buf, len, pac_paths, 2, &which) != HTTP_GET_INCOMPLETE;
}

static const struct served_ops pac_ops = {
	.name = "pac",
	.request_max = HTTP_GET_REQUEST_MAX,
	.deadline_ms = PAC_DEADLINE_MS,
	.max_clients = PAC_CLIENTS_MAX,
	.complete = request_complete,
	.answer = pac_answer,
};

int pac_serve(struct pac *p, struct served_loop *l)
{
	for (size_t i = 0; i < p->n_fds; i++) {
		int rc = served_add(l, p->fds[i], &pac_ops, p, NULL);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void pac_close(struct pac *p)
{
	for (size_t i = 0; i < p->n_fds; i++)
		close(p->fds[i]);
	p->n_fds = 0;
}
