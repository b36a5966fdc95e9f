/* Control socket requests (documented in docs/control.md):
 *   status [json] | conns [json] | stats [json] | reload [json] | dns-flush [json]
 *   | upstream-use GROUP MEMBER|auto [json]
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
#include "sockgate/json_out.h"
#include "sockgate/log.h"
#include "control.h"
#include "control_request.h"
#include "control_upstreams.h"
#include "fd_budget.h"
#include "memory_report.h"
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

static json_t *status_json(const struct control *c)
{
	const struct config *cfg = (*c->gen)->cfg;
	json_t *status = json_pack(
	    "{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:o}",
	    "version", SOCKGATE_VERSION, "uptime_s", (json_int_t)(time(NULL) - c->started),
	    "workers", (json_int_t)c->n_workers, "redirect_port", (json_int_t)cfg->redirect_port,
	    "tproxy_port", (json_int_t)cfg->tproxy_port, "socks_listeners",
	    (json_int_t)cfg->socks.n_listen, "flows_live", json_count(SUM(c, flows_live)),
	    "flows_max", (json_int_t)cfg->max_flows, "flows_total", json_count(SUM(c, flows_total)),
	    "udp_associations", json_count(SUM(c, udp_assocs_live)), "fds_used",
	    (json_int_t)fd_budget_used((struct fd_budget *)c->budget), "fds_max",
	    (json_int_t)c->budget->max, "dns_listeners", (json_int_t)cfg->dns.n_listen,
	    "dns_servers", (json_int_t)cfg->dns.n_server, "dns_cache_entries",
	    json_count(SUM(c, dns.cache_entries)));

	json_t *ups = control_upstreams_json(*c->gen);
	struct memory_report m;

	memory_report_read(&m, c->workers, c->n_workers);
	if (status)
		json_object_set_new(status, "memory",
				    json_pack("{s:o, s:o, s:o, s:o, s:I, s:I}", "rss_bytes",
					      json_count(m.rss_bytes), "pipes", json_count(m.pipes),
					      "pipe_bytes", json_count(m.pipe_bytes),
					      "dns_cache_bytes", json_count(m.dns_cache_bytes),
					      "kernel_tcp_bytes", (json_int_t)m.kernel_tcp_bytes,
					      "kernel_udp_bytes", (json_int_t)m.kernel_udp_bytes));
	if (status && ups)
		json_object_update(status, ups);
	json_decref(ups);
	return status;
}

static void answer_memory(const struct control *c, FILE *out)
{
	struct memory_report m;
	char tcp[32] = "unknown", udp[32] = "unknown";

	memory_report_read(&m, c->workers, c->n_workers);
	if (m.kernel_tcp_bytes >= 0)
		snprintf(tcp, sizeof(tcp), "%lld KiB", m.kernel_tcp_bytes / 1024);
	if (m.kernel_udp_bytes >= 0)
		snprintf(udp, sizeof(udp), "%lld KiB", m.kernel_udp_bytes / 1024);
	fprintf(out,
		"memory: RSS %llu KiB; %llu pipes of %llu KiB in all; DNS cache %llu KiB; kernel "
		"socket buffers (whole system) TCP %s, UDP %s\n",
		m.rss_bytes / 1024, m.pipes, m.pipe_bytes / 1024, m.dns_cache_bytes / 1024, tcp,
		udp);
}

static void answer_status(const struct control *c, FILE *out)
{
	const struct config *cfg = (*c->gen)->cfg;
	long uptime = (long)(time(NULL) - c->started);
	char redirect[16] = "off", tproxy[16] = "off";

	fprintf(out, "sockgated %s, up %ld s, %u workers\n", SOCKGATE_VERSION, uptime,
		c->n_workers);
	if (cfg->redirect_port)
		snprintf(redirect, sizeof(redirect), "port %u", cfg->redirect_port);
	if (cfg->tproxy_port)
		snprintf(tproxy, sizeof(tproxy), "port %u", cfg->tproxy_port);
	fprintf(out, "intake: redirect %s, tproxy %s, SOCKS listeners %zu\n", redirect, tproxy,
		cfg->socks.n_listen);
	fprintf(
	    out,
	    "flows: %llu live, %llu since start (max_flows %u%s); UDP associations %llu; fds %u "
	    "of %u\n",
	    SUM(c, flows_live), SUM(c, flows_total), cfg->max_flows,
	    cfg->max_flows ? "" : ": no cap", SUM(c, udp_assocs_live),
	    fd_budget_used((struct fd_budget *)c->budget), c->budget->max);
	if (cfg->dns.n_listen)
		fprintf(out,
			"dns service: %zu listen address(es), %zu server(s); %llu queries, %llu "
			"answers cached\n",
			cfg->dns.n_listen, cfg->dns.n_server, SUM(c, dns.queries),
			SUM(c, dns.cache_entries));
	else
		fprintf(out, "dns service: off\n");
	answer_memory(c, out);
	control_upstreams_text(*c->gen, out);
}

static json_t *udp_stats_json(const struct control *c)
{
	json_t *drops = json_object(), *send_errors = json_object();

	for (int k = 0; drops && k < UDP_DROP_KINDS; k++)
		json_object_set_new(drops, relay_udp_drop_names[k],
				    json_count(SUM(c, udp_drops[k])));
	for (int k = 0; send_errors && k < UDP_SEND_ERROR_KINDS; k++)
		json_object_set_new(send_errors, relay_udp_send_error_names[k],
				    json_count(SUM(c, udp_send_errors[k])));
	return json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o*, s:o*}", "associations_live",
	    json_count(SUM(c, udp_assocs_live)), "associations_total",
	    json_count(SUM(c, udp_assocs_total)), "evicted", json_count(SUM(c, udp_evicted)),
	    "datagrams_up", json_count(SUM(c, udp_datagrams[0])), "datagrams_down",
	    json_count(SUM(c, udp_datagrams[1])), "bytes_up", json_count(SUM(c, udp_bytes[0])),
	    "bytes_down", json_count(SUM(c, udp_bytes[1])), "drops", drops, "send_errors",
	    send_errors);
}

/* The mean latency of server i's answers in ms, 0 before any. */
static unsigned long long server_mean_ms(const struct control *c, size_t i)
{
	unsigned long long answered = SUM(c, dns.servers[i].answered);

	return answered ? SUM(c, dns.servers[i].latency_ms_sum) / answered : 0;
}

static json_t *dns_servers_json(const struct control *c)
{
	const struct dns_config *dc = &(*c->gen)->cfg->dns;
	json_t *list = json_array();
	char a[ADDR_STRLEN];

	for (size_t i = 0; list && i < dc->n_server; i++)
		json_array_append_new(
		    list, json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "server",
				    addr_format(&dc->server[i].addr, a, sizeof(a)), "asked",
				    json_count(SUM(c, dns.servers[i].asked)), "answered",
				    json_count(SUM(c, dns.servers[i].answered)), "failed",
				    json_count(SUM(c, dns.servers[i].failed)), "latency_ms_sum",
				    json_count(SUM(c, dns.servers[i].latency_ms_sum)),
				    "latency_ms_mean", json_count(server_mean_ms(c, i))));
	return list;
}

static json_t *dns_stats_json(const struct control *c)
{
	json_t *answers = json_object();

	for (int k = 0; answers && k < DNS_RCODE_KINDS; k++)
		json_object_set_new(answers, relay_dns_rcode_names[k],
				    json_count(SUM(c, dns.answers[k])));
	return json_pack(
	    "{s:o, s:o, s:o, s:o*, s:o, s:o, s:o, s:o, s:o, s:o, s:o*, s:o, s:o}", "queries",
	    json_count(SUM(c, dns.queries)), "cache_hits", json_count(SUM(c, dns.cache_hits)),
	    "forwarded", json_count(SUM(c, dns.forwarded)), "answers", answers, "timeouts",
	    json_count(SUM(c, dns.timeouts)), "malformed", json_count(SUM(c, dns.malformed)),
	    "refused", json_count(SUM(c, dns.refused)), "bad_answers",
	    json_count(SUM(c, dns.bad_answers)), "cache_entries",
	    json_count(SUM(c, dns.cache_entries)), "cache_bytes",
	    json_count(SUM(c, dns.cache_bytes)), "servers", dns_servers_json(c), "fake_answers",
	    json_count(SUM(c, dns.fake_answers)), "fake_unknown",
	    json_count(SUM(c, dns.fake_unknown)));
}

/* Warm sessions: what the pools did, summed over the workers. */
static json_t *warm_stats_json(const struct control *c)
{
	return json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "optimistic",
	    json_count(SUM(c, optimistic)), "ready", json_count(SUM(c, warm_ready)), "opened",
	    json_count(SUM(c, warm_opened)), "used", json_count(SUM(c, warm_used)), "missed",
	    json_count(SUM(c, warm_missed)), "expired", json_count(SUM(c, warm_expired)), "died",
	    json_count(SUM(c, warm_died)), "retried", json_count(SUM(c, warm_retried)));
}

static json_t *stats_json(const struct control *c)
{
	const struct config *cfg = (*c->gen)->cfg;
	json_t *failures = json_object(), *upstreams = json_object();

	for (int k = 1; failures && k < RELAY_FAIL_KINDS; k++)
		json_object_set_new(failures, relay_fail_names[k], json_count(SUM(c, failures[k])));
	for (size_t u = 0; upstreams && u < cfg->n_upstreams; u++) {
		struct upstream_totals t;
		if (cfg->upstreams[u].group)
			continue; /* its members count its flows */
		generation_upstream_totals(*c->gen, &cfg->upstreams[u], &t);
		json_object_set_new(upstreams, cfg->upstreams[u].name,
				    json_pack("{s:o, s:o, s:o, s:o}", "flows", json_count(t.flows),
					      "failures", json_count(t.failures), "bytes_up",
					      json_count(t.bytes_up), "bytes_down",
					      json_count(t.bytes_down)));
	}
	return json_pack("{s:o, s:o, s:o*, s:o*, s:o, s:o, s:o, s:o*, s:o*, s:o*, s:o*}",
			 "bytes_up", json_count(SUM(c, bytes_up)), "bytes_down",
			 json_count(SUM(c, bytes_down)), "failures", failures, "udp",
			 udp_stats_json(c), "dns_lookups", json_count(SUM(c, dns_lookups)),
			 "client_limited", json_count(SUM(c, client_limited)), "flows_shed",
			 json_count(SUM(c, flows_shed)), "upstreams", upstreams, "dns_service",
			 dns_stats_json(c), "warm", warm_stats_json(c), "backlog",
			 json_pack("{s:o, s:o}", "held", json_count(SUM(c, backlog_held)), "holds",
				   json_count(SUM(c, backlog_holds))));
}

static void answer_stats(const struct control *c, FILE *out)
{
	const struct config *cfg = (*c->gen)->cfg;

	fprintf(out, "bytes: up %llu, down %llu (flows that ended)\nfailures:", SUM(c, bytes_up),
		SUM(c, bytes_down));
	for (int k = 1; k < RELAY_FAIL_KINDS; k++)
		fprintf(out, "%s%s %llu", k > 1 ? "," : " ", relay_fail_names[k],
			SUM(c, failures[k]));
	fprintf(out,
		"\nudp: %llu associations live, %llu since start, %llu evicted; datagrams up %llu, "
		"down %llu; bytes up %llu, down %llu\nudp drops:",
		SUM(c, udp_assocs_live), SUM(c, udp_assocs_total), SUM(c, udp_evicted),
		SUM(c, udp_datagrams[0]), SUM(c, udp_datagrams[1]), SUM(c, udp_bytes[0]),
		SUM(c, udp_bytes[1]));
	for (int k = 0; k < UDP_DROP_KINDS; k++)
		fprintf(out, "%s%s %llu", k ? "," : " ", relay_udp_drop_names[k],
			SUM(c, udp_drops[k]));
	/* the errnos behind send_failed, those seen */
	int named = 0;
	for (int k = 0; k < UDP_SEND_ERROR_KINDS; k++) {
		unsigned long long n = SUM(c, udp_send_errors[k]);
		if (n)
			fprintf(out, "%s%s %llu", named++ ? ", " : " (send_failed by errno: ",
				relay_udp_send_error_names[k], n);
	}
	if (named)
		fputc(')', out);
	fprintf(out, "\ndns: %llu lookups under way\n", SUM(c, dns_lookups));
	fprintf(out, "client caps: %llu flows or associations refused or made room for\n",
		SUM(c, client_limited));
	fprintf(out, "max_flows: %llu connections reset at the cap\n", SUM(c, flows_shed));
	fprintf(out,
		"slow destinations: %llu directions held to their pace now, %llu times since "
		"start\n",
		SUM(c, backlog_held), SUM(c, backlog_holds));
	fprintf(out,
		"warm sessions: %llu ready; %llu opened, %llu used, %llu missed (none ready), "
		"%llu renewed for age, %llu closed by the upstream, %llu found dead and replaced\n"
		"optimistic data: %llu flows sent their first bytes with the request\n",
		SUM(c, warm_ready), SUM(c, warm_opened), SUM(c, warm_used), SUM(c, warm_missed),
		SUM(c, warm_expired), SUM(c, warm_died), SUM(c, warm_retried), SUM(c, optimistic));
	fprintf(out,
		"dns service: %llu queries, %llu from the cache (%llu answers, %llu bytes kept), "
		"%llu forwarded, %llu timed out, %llu malformed, %llu refused, %llu bad answers\n"
		"dns answers:",
		SUM(c, dns.queries), SUM(c, dns.cache_hits), SUM(c, dns.cache_entries),
		SUM(c, dns.cache_bytes), SUM(c, dns.forwarded), SUM(c, dns.timeouts),
		SUM(c, dns.malformed), SUM(c, dns.refused), SUM(c, dns.bad_answers));
	for (int k = 0; k < DNS_RCODE_KINDS; k++)
		fprintf(out, "%s%s %llu", k ? "," : " ", relay_dns_rcode_names[k],
			SUM(c, dns.answers[k]));
	fputc('\n', out);
	if (cfg->dns.fakeip)
		fprintf(out,
			"dns fake-IP: %llu answers from the pool, %llu flows to an address with no "
			"name reset\n",
			SUM(c, dns.fake_answers), SUM(c, dns.fake_unknown));
	for (size_t i = 0; i < cfg->dns.n_server; i++) {
		char a[ADDR_STRLEN];
		fprintf(out,
			"  dns server %s: asked %llu, answered %llu, failed %llu, %llu ms mean\n",
			addr_format(&cfg->dns.server[i].addr, a, sizeof(a)),
			SUM(c, dns.servers[i].asked), SUM(c, dns.servers[i].answered),
			SUM(c, dns.servers[i].failed), server_mean_ms(c, i));
	}
	fprintf(out, "upstreams:\n");
	for (size_t u = 0; u < cfg->n_upstreams; u++) {
		struct upstream_totals t;
		if (cfg->upstreams[u].group)
			continue; /* its members count its flows */
		generation_upstream_totals(*c->gen, &cfg->upstreams[u], &t);
		fprintf(out, "  %s: %llu flows ended, %llu failed, up %llu, down %llu\n",
			cfg->upstreams[u].name, t.flows, t.failures, t.bytes_up, t.bytes_down);
	}
}

static void answer_conns(const struct control *c, FILE *out)
{
	for (unsigned i = 0; i < c->n_workers; i++) {
		char *text = worker_snapshot_text(&c->workers[i], SNAPSHOT_TIMEOUT_MS);
		if (text)
			fputs(text, out);
		free(text);
	}
}

static json_t *conns_json(const struct control *c)
{
	json_t *all = json_array();

	for (unsigned i = 0; all && i < c->n_workers; i++) {
		json_t *one = worker_snapshot_json(&c->workers[i], SNAPSHOT_TIMEOUT_MS);
		if (one)
			json_array_extend(all, one);
		json_decref(one);
	}
	return json_pack("{s:o*}", "conns", all);
}

static json_t *reload_json(const struct control *c)
{
	return json_pack("{s:b, s:o*}", "reloaded", !c->reload_rc, "message",
			 json_text(c->reload_msg));
}

/* dns-flush: every worker's DNS cache emptied; how many did it. */
static unsigned dns_flush(const struct control *c)
{
	unsigned done = 0;

	for (unsigned i = 0; i < c->n_workers; i++)
		done += (unsigned)worker_dns_flush(&c->workers[i], SNAPSHOT_TIMEOUT_MS);
	return done;
}

/* upstream-use GROUP MEMBER|auto: the pin, and what it did. */
static void upstream_use(const struct control *c, const struct control_request *req, FILE *out)
{
	char msg[256];
	int rc = -1;

	if (req->usage_error)
		snprintf(msg, sizeof(msg), "usage: upstream-use GROUP MEMBER|auto");
	else
		rc = control_upstream_use(*c->gen, req->group, req->member, msg, sizeof(msg));
	if (req->json)
		json_print(out, json_pack("{s:b, s:s}", "ok", !rc, "message", msg));
	else
		fprintf(out, "%s: %s\n", rc ? "error" : "ok", msg);
}

/* The answer to req: one JSON object. */
static json_t *answer_json(const struct control *c, const struct control_request *req)
{
	switch (req->verb) {
	case CONTROL_STATUS:
		return status_json(c);
	case CONTROL_STATS:
		return stats_json(c);
	case CONTROL_CONNS:
		return conns_json(c);
	case CONTROL_DNS_FLUSH:
		return json_pack("{s:b, s:I}", "flushed", 1, "workers", (json_int_t)dns_flush(c));
	case CONTROL_RELOAD:
		return reload_json(c);
	default:
		return json_pack("{s:s}", "error", "unknown request");
	}
}

/* The answer to req: text, or one JSON object. */
static void answer(const struct control *c, const struct control_request *req, FILE *out)
{
	if (req->verb == CONTROL_UPSTREAM_USE)
		upstream_use(c, req, out);
	else if (req->json)
		json_print(out, answer_json(c, req));
	else if (req->verb == CONTROL_STATUS)
		answer_status(c, out);
	else if (req->verb == CONTROL_STATS)
		answer_stats(c, out);
	else if (req->verb == CONTROL_CONNS)
		answer_conns(c, out);
	else if (req->verb == CONTROL_DNS_FLUSH)
		fprintf(out, "ok: the DNS cache emptied on %u of %u workers\n", dns_flush(c),
			c->n_workers);
	else if (req->verb == CONTROL_RELOAD)
		fprintf(out, "%s: %s\n", c->reload_rc ? "error" : "ok", c->reload_msg);
	else
		fprintf(out, "error: unknown request (status, conns, stats, reload, dns-flush, "
			     "upstream-use)\n");
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
	struct control_request req;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	/* not a line of text: nothing the CLI sends */
	if (too_long || control_request_parse(in, in_len, &req) < 0)
		return SERVED_CLOSE;
	if (req.verb == CONTROL_TPROXY_LISTENERS) {
		answer_tproxy_listeners(c, served_client_fd(sc));
		return SERVED_CLOSE;
	}
	/* a reload runs off this thread; its clients wait for its outcome */
	if (req.verb == CONTROL_RELOAD && !c->reload_done) {
		c->reload_start(c->reload_arg);
		return SERVED_HOLD;
	}
	out = open_memstream(&text, &len);
	if (!out)
		return SERVED_CLOSE;
	answer(c, &req, out);
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
