/* Control socket requests (documented in docs/control.md):
 *   status [json] | conns [json] | stats [json] | reload [json]
 * The answer is text, or one JSON object, then the connection closes.
 *   tproxy-listeners
 * (root only) hands copies of the TPROXY TCP listeners to the CLI, which
 * puts them in the eBPF intake's listener map. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockgate/config.h"
#include "sockgate/log.h"
#include "control.h"
#include "fd_budget.h"
#include "generation.h"
#include "served.h"
#include "worker.h"

#define SNAPSHOT_TIMEOUT_MS 1000

/* Makes the directory of path (one level, 0755) if it is missing. */
static void make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		log_warn("control: mkdir %s: %s", dir, strerror(errno));
}

int control_open(struct control *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct group *g;
	int fd, err;

	c->fd = -1;
	c->path = path;
	make_parent(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	/* a socket left by a daemon that was killed */
	if (unlink(path) < 0 && errno != ENOENT)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 16) < 0)
		goto fail;
	/* its owner (root, or the service user) and group sockgate only */
	g = getgrnam("sockgate");
	if ((g && chown(path, (uid_t)-1, g->gr_gid) < 0) || chmod(path, 0660) < 0)
		goto fail;
	c->fd = fd;
	return 0;
fail:
	err = errno;
	log_error("control socket %s: %s", path, strerror(err));
	if (fd >= 0)
		close(fd);
	return -err;
}

void control_close(struct control *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	unlink(c->path);
	c->fd = -1;
}

#define SUM(c, field) WORKERS_SUM((c)->workers, (c)->n_workers, field)

static void answer_status(const struct control *c, FILE *out, int json)
{
	const struct config *cfg = (*c->gen)->cfg;
	long uptime = (long)(time(NULL) - c->started);
	char redirect[16] = "off", tproxy[16] = "off";

	if (json) {
		fprintf(out,
			"{\"version\": \"%s\", \"uptime_s\": %ld, \"workers\": %u, "
			"\"redirect_port\": %u, \"tproxy_port\": %u, \"socks_listeners\": %zu, "
			"\"flows_live\": %llu, \"flows_total\": %llu, \"udp_associations\": %llu, "
			"\"fds_used\": %u, \"fds_max\": %u}\n",
			SOCKGATE_VERSION, uptime, c->n_workers, cfg->redirect_port,
			cfg->tproxy_port, cfg->socks.n_listen, SUM(c, flows_live),
			SUM(c, flows_total), SUM(c, udp_assocs_live),
			fd_budget_used((struct fd_budget *)c->budget), c->budget->max);
		return;
	}
	fprintf(out, "sockgated %s, up %ld s, %u workers\n", SOCKGATE_VERSION, uptime,
		c->n_workers);
	if (cfg->redirect_port)
		snprintf(redirect, sizeof(redirect), "port %u", cfg->redirect_port);
	if (cfg->tproxy_port)
		snprintf(tproxy, sizeof(tproxy), "port %u", cfg->tproxy_port);
	fprintf(out, "intake: redirect %s, tproxy %s, SOCKS listeners %zu\n", redirect, tproxy,
		cfg->socks.n_listen);
	fprintf(out, "flows: %llu live, %llu since start; UDP associations %llu; fds %u of %u\n",
		SUM(c, flows_live), SUM(c, flows_total), SUM(c, udp_assocs_live),
		fd_budget_used((struct fd_budget *)c->budget), c->budget->max);
}

/* Ends the failures object (JSON) or line (text), then the UDP counters. */
static void answer_udp_stats(const struct control *c, FILE *out, int json)
{
	fprintf(out,
		json ? "}, \"udp\": {\"associations_live\": %llu, \"associations_total\": %llu, "
		       "\"evicted\": %llu, \"datagrams_up\": %llu, \"datagrams_down\": %llu, "
		       "\"bytes_up\": %llu, \"bytes_down\": %llu, \"drops\": {"
		     : "\nudp: %llu associations live, %llu since start, %llu evicted; datagrams "
		       "up %llu, down %llu; bytes up %llu, down %llu\nudp drops:",
		SUM(c, udp_assocs_live), SUM(c, udp_assocs_total), SUM(c, udp_evicted),
		SUM(c, udp_datagrams[0]), SUM(c, udp_datagrams[1]), SUM(c, udp_bytes[0]),
		SUM(c, udp_bytes[1]));
	for (int k = 0; k < UDP_DROP_KINDS; k++)
		fprintf(out, json ? "%s\"%s\": %llu" : "%s%s %llu", k ? (json ? ", " : ",") : " ",
			relay_udp_drop_names[k], SUM(c, udp_drops[k]));
	fprintf(out, json ? "}}, \"dns_lookups\": %llu" : "\ndns: %llu lookups under way\n",
		SUM(c, dns_lookups));
	fprintf(out,
		json ? ", \"client_limited\": %llu"
		     : "client caps: %llu flows or associations refused or made room for\n",
		SUM(c, client_limited));
}

static void answer_stats(const struct control *c, FILE *out, int json)
{
	struct generation *gen = *c->gen;
	const struct config *cfg = gen->cfg;

	fprintf(out,
		json ? "{\"bytes_up\": %llu, \"bytes_down\": %llu, \"failures\": {"
		     : "bytes: up %llu, down %llu (flows that ended)\nfailures:",
		SUM(c, bytes_up), SUM(c, bytes_down));
	for (int k = 1; k < RELAY_FAIL_KINDS; k++)
		fprintf(out, json ? "%s\"%s\": %llu" : "%s%s %llu",
			k > 1 ? (json ? ", " : ",") : " ", relay_fail_names[k],
			SUM(c, failures[k]));
	answer_udp_stats(c, out, json);
	fprintf(out, json ? ", \"upstreams\": {" : "upstreams:\n");
	for (size_t u = 0; u < cfg->n_upstreams; u++) {
		unsigned long long v[4] = { 0 };
		for (unsigned i = 0; i < c->n_workers; i++) {
			const struct upstream_counters *uc =
			    generation_counters(gen, &cfg->upstreams[u], i);
			if (!uc)
				continue;
			v[0] += atomic_load_explicit(&uc->flows, memory_order_relaxed);
			v[1] += atomic_load_explicit(&uc->failures, memory_order_relaxed);
			v[2] += atomic_load_explicit(&uc->bytes_up, memory_order_relaxed);
			v[3] += atomic_load_explicit(&uc->bytes_down, memory_order_relaxed);
		}
		if (json)
			fprintf(
			    out,
			    "%s\"%s\": {\"flows\": %llu, \"failures\": %llu, \"bytes_up\": %llu, "
			    "\"bytes_down\": %llu}",
			    u ? ", " : "", cfg->upstreams[u].name, v[0], v[1], v[2], v[3]);
		else
			fprintf(out, "  %s: %llu flows ended, %llu failed, up %llu, down %llu\n",
				cfg->upstreams[u].name, v[0], v[1], v[2], v[3]);
	}
	if (json)
		fprintf(out, "}}\n");
}

static void answer_conns(const struct control *c, FILE *out, int json)
{
	int any = 0;

	if (json)
		fprintf(out, "{\"conns\": [");
	for (unsigned i = 0; i < c->n_workers; i++) {
		char *text = worker_snapshot(&c->workers[i], json, SNAPSHOT_TIMEOUT_MS);
		size_t len = text ? strlen(text) : 0;
		if (!text)
			continue;
		/* worker snapshots end each JSON object with a comma */
		if (json && len && text[len - 1] == ',')
			text[--len] = '\0';
		if (json && len && any)
			fputs(", ", out);
		any |= len > 0;
		fputs(text, out);
		free(text);
	}
	if (json)
		fprintf(out, "]}\n");
}

static void answer_reload(const struct control *c, FILE *out, int json)
{
	const char *msg = c->reload_msg;

	if (!json) {
		fprintf(out, "%s: %s\n", c->reload_rc ? "error" : "ok", msg);
		return;
	}
	fprintf(out, "{\"reloaded\": %s, \"message\": \"", c->reload_rc ? "false" : "true");
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if ((unsigned char)*p >= 0x20)
			fputc(*p, out);
	}
	fprintf(out, "\"}\n");
}

/* Sends "ok" and the names of the listeners whose copies ride along
 * (SCM_RIGHTS), or why not. Listening sockets let their holder take the
 * LAN's connections: only root gets them. */
static void answer_tproxy_listeners(const struct control *c, int fd)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} control = { 0 };
	struct ucred peer;
	socklen_t peer_len = sizeof(peer);
	char text[64];
	struct iovec iov = { .iov_base = text };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[2] = { -1, -1 }, sent[2], n = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) < 0 || peer.uid != 0) {
		snprintf(text, sizeof(text), "error: only root may take the listeners\n");
		goto send;
	}
	if (!c->n_workers || !(*c->gen)->cfg->tproxy_port) {
		snprintf(text, sizeof(text), "error: no tproxy listener ([intake] tproxy)\n");
		goto send;
	}
	if (worker_dup_tproxy_listeners(&c->workers[0], fds, SNAPSHOT_TIMEOUT_MS) < 0) {
		snprintf(text, sizeof(text), "error: the worker did not answer\n");
		goto send;
	}
	snprintf(text, sizeof(text), "ok%s%s\n", fds[0] >= 0 ? " ipv4" : "",
		 fds[1] >= 0 ? " ipv6" : "");
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			sent[n++] = fds[i];
	if (n) {
		struct cmsghdr *cm;
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(cm), sent, (size_t)n * sizeof(int));
	}
send:
	iov.iov_len = strlen(text);
	if (sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_warn("control: handing over the listeners: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* One request line (the CLI ends it with a newline). */
static int request_complete(const char *buf, size_t len)
{
	return memchr(buf, '\n', len) != NULL;
}

static enum served_answer control_answer(void *arg, struct served_client *sc, const char *in,
					 size_t in_len, int too_long)
{
	struct control *c = arg;
	char req[CONTROL_REQUEST_MAX + 1], *text = NULL;
	size_t len = 0;
	FILE *out;
	int json;

	if (too_long)
		return SERVED_CLOSE;
	snprintf(req, sizeof(req), "%.*s", (int)in_len, in);
	req[strcspn(req, "\r\n")] = '\0';
	if (!strcmp(req, "tproxy-listeners")) {
		answer_tproxy_listeners(c, served_client_fd(sc));
		return SERVED_CLOSE;
	}
	json = strlen(req) > 5 && !strcmp(req + strlen(req) - 5, " json");
	if (json)
		req[strlen(req) - 5] = '\0';
	/* a reload runs off this thread; its clients wait for its outcome */
	if (!strcmp(req, "reload") && !c->reload_done) {
		c->reload_start(c->reload_arg);
		return SERVED_HOLD;
	}
	out = open_memstream(&text, &len);
	if (!out)
		return SERVED_CLOSE;
	if (!strcmp(req, "status"))
		answer_status(c, out, json);
	else if (!strcmp(req, "stats"))
		answer_stats(c, out, json);
	else if (!strcmp(req, "conns"))
		answer_conns(c, out, json);
	else if (!strcmp(req, "reload"))
		answer_reload(c, out, json);
	else
		fprintf(out, json ? "{\"error\": \"unknown request\"}\n"
				  : "error: unknown request (status, conns, stats, reload)\n");
	fclose(out);
	served_reply(sc, text, len);
	return SERVED_REPLY;
}

static const struct served_ops control_ops = {
	.name = "control",
	.request_max = CONTROL_REQUEST_MAX,
	.deadline_ms = CONTROL_DEADLINE_MS,
	.hold_ms = CONTROL_RELOAD_WAIT_MS,
	.max_clients = CONTROL_CLIENTS_MAX,
	.complete = request_complete,
	.answer = control_answer,
};

int control_serve(struct control *c, struct served_loop *l)
{
	return served_add(l, c->fd, &control_ops, c, &c->served);
}

void control_reload_finished(struct control *c, int rc, const char *msg)
{
	snprintf(c->reload_msg, sizeof(c->reload_msg), "%s", msg);
	c->reload_rc = rc;
	c->reload_done = 1;
	if (c->served)
		served_answer_held(c->served);
	c->reload_done = 0;
}
