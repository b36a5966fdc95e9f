/* The Prometheus endpoint (see metrics.h, docs/metrics.md). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "fd_budget.h"
#include "generation.h"
#include "memory_report.h"
#include "metrics.h"
#include "upstream_live.h"
#include "served.h"
#include "worker.h"

#ifndef SOCKGATE_VERSION
#define SOCKGATE_VERSION "unknown"
#endif

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define SUM(m, field) WORKERS_SUM((m)->workers, (m)->n_workers, field)

static const unsigned bucket_bounds_ms[HANDSHAKE_BUCKETS - 1] = { HANDSHAKE_BUCKET_BOUNDS_MS };

static void render_flows(const struct metrics *m, FILE *out)
{
	family(out, "sockgate_flows_active", "gauge", "Live TCP flows, by intake.");
	for (int k = 0; k < INTAKE_DNS; k++) /* the intakes that make TCP flows */
		fprintf(out, "sockgate_flows_active{intake=\"%s\"} %llu\n", intake_names[k],
			SUM(m, intake_live[k]));
	family(out, "sockgate_flows_total", "counter", "TCP flows since start, by intake.");
	for (int k = 0; k < INTAKE_DNS; k++)
		fprintf(out, "sockgate_flows_total{intake=\"%s\"} %llu\n", intake_names[k],
			SUM(m, intake_total[k]));
	family(out, "sockgate_bytes_total", "counter",
	       "Bytes relayed by flows that ended, up (client to target) and down.");
	fprintf(out, "sockgate_bytes_total{direction=\"up\"} %llu\n", SUM(m, bytes_up));
	fprintf(out, "sockgate_bytes_total{direction=\"down\"} %llu\n", SUM(m, bytes_down));
	family(out, "sockgate_failures_total", "counter",
	       "Failed flows, by reason (the SOCKS5 reply code the failure maps to).");
	for (int k = 1; k < RELAY_FAIL_KINDS; k++)
		fprintf(out, "sockgate_failures_total{reason=\"%s\"} %llu\n", relay_fail_names[k],
			SUM(m, failures[k]));
}

static void render_handshakes(const struct metrics *m, FILE *out)
{
	unsigned long long cumulative = 0;

	family(out, "sockgate_upstream_handshake_seconds", "histogram",
	       "From the connect to an upstream proxy to its handshake's success.");
	for (int b = 0; b < HANDSHAKE_BUCKETS; b++) {
		cumulative += SUM(m, handshake_buckets[b]);
		if (b < HANDSHAKE_BUCKETS - 1)
			fprintf(out, "sockgate_upstream_handshake_seconds_bucket{le=\"%g\"} %llu\n",
				bucket_bounds_ms[b] / 1000.0, cumulative);
		else
			fprintf(out,
				"sockgate_upstream_handshake_seconds_bucket{le=\"+Inf\"} %llu\n",
				cumulative);
	}
	fprintf(out, "sockgate_upstream_handshake_seconds_sum %.3f\n",
		SUM(m, handshake_ms_sum) / 1000.0);
	fprintf(out, "sockgate_upstream_handshake_seconds_count %llu\n", cumulative);
}

/* One sample of an upstream's series; labels after upstream, if any. */
static void upstream_sample(FILE *out, const char *name, const struct upstream *up,
			    const char *labels, unsigned long long value)
{
	fprintf(out, "%s{upstream=\"", name);
	put_label(out, up->name);
	fprintf(out, "\"%s} %llu\n", labels, value);
}

/* What the checks and real flows found: each upstream up or not, its
 * checks and their last latency; each group's member new flows take. */
static void render_upstream_state(struct generation *gen, FILE *out)
{
	const struct config *cfg = gen->cfg;
	size_t u;

	family(out, "sockgate_upstream_up", "gauge",
	       "1 when the upstream takes new flows, 0 when it is down (checks or real flows' "
	       "handshakes failed, or its name does not resolve).");
	for (u = 1; u < cfg->n_upstreams; u++)
		if (!cfg->upstreams[u].group)
			upstream_sample(
			    out, "sockgate_upstream_up", &cfg->upstreams[u], "",
			    !atomic_load_explicit(&gen->live.v[u].down, memory_order_relaxed));
	family(out, "sockgate_upstream_checks_total", "counter",
	       "Health checks of group members, by result.");
	for (u = 1; u < cfg->n_upstreams; u++) {
		unsigned long long all, bad;
		if (!gen->live.v[u].governed_by)
			continue;
		all = atomic_load_explicit(&gen->live.v[u].checks, memory_order_relaxed);
		bad = atomic_load_explicit(&gen->live.v[u].checks_failed, memory_order_relaxed);
		upstream_sample(out, "sockgate_upstream_checks_total", &cfg->upstreams[u],
				",result=\"ok\"", all - bad);
		upstream_sample(out, "sockgate_upstream_checks_total", &cfg->upstreams[u],
				",result=\"failed\"", bad);
	}
	family(out, "sockgate_upstream_check_seconds", "gauge",
	       "How long the last good health check of a group member took.");
	for (u = 1; u < cfg->n_upstreams; u++)
		if (gen->live.v[u].governed_by) {
			fprintf(out, "sockgate_upstream_check_seconds{upstream=\"");
			put_label(out, cfg->upstreams[u].name);
			fprintf(out, "\"} %.3f\n",
				atomic_load_explicit(&gen->live.v[u].check_latency_ms,
						     memory_order_relaxed) /
				    1000.0);
		}
	family(out, "sockgate_group_member_active", "gauge",
	       "1 for the member of a group that new flows take now (pinned or by its policy).");
	for (u = 1; u < cfg->n_upstreams; u++) {
		const struct upstream_group *g = cfg->upstreams[u].group;
		const struct upstream *active;
		int pos;
		if (!g)
			continue;
		active =
		    upstream_live_pick(&gen->live, &cfg->upstreams[u], NULL, 0, PICK_STABLE, &pos);
		for (size_t m = 0; m < g->n_members; m++) {
			fprintf(out, "sockgate_group_member_active{group=\"");
			put_label(out, cfg->upstreams[u].name);
			fprintf(out, "\",member=\"");
			put_label(out, g->members[m]->name);
			fprintf(out, "\"} %d\n", active == g->members[m]);
		}
	}
}

static void render_upstreams(const struct metrics *m, FILE *out)
{
	struct generation *gen = *m->gen;
	const struct config *cfg = gen->cfg;
	struct upstream_totals *s = calloc(cfg->n_upstreams, sizeof(*s));
	size_t u;

	if (!s)
		return; /* the rest of the page still answers */
	/* each upstream's per-worker counters summed once for all its series */
	for (u = 0; u < cfg->n_upstreams; u++)
		generation_upstream_totals(gen, &cfg->upstreams[u], &s[u]);
	family(out, "sockgate_upstream_flows_active", "gauge", "Live flows, by upstream.");
	for (u = 0; u < cfg->n_upstreams; u++)
		upstream_sample(out, "sockgate_upstream_flows_active", &cfg->upstreams[u], "",
				s[u].live);
	family(out, "sockgate_upstream_flows_total", "counter",
	       "Flows that ended, by upstream (since start or the last reload).");
	for (u = 0; u < cfg->n_upstreams; u++)
		upstream_sample(out, "sockgate_upstream_flows_total", &cfg->upstreams[u], "",
				s[u].flows);
	family(out, "sockgate_upstream_failures_total", "counter",
	       "Of those, the failed ones (since start or the last reload).");
	for (u = 0; u < cfg->n_upstreams; u++)
		upstream_sample(out, "sockgate_upstream_failures_total", &cfg->upstreams[u], "",
				s[u].failures);
	family(out, "sockgate_upstream_bytes_total", "counter",
	       "Bytes of flows that ended, by upstream and direction (since start or the last "
	       "reload).");
	for (u = 0; u < cfg->n_upstreams; u++) {
		upstream_sample(out, "sockgate_upstream_bytes_total", &cfg->upstreams[u],
				",direction=\"up\"", s[u].bytes_up);
		upstream_sample(out, "sockgate_upstream_bytes_total", &cfg->upstreams[u],
				",direction=\"down\"", s[u].bytes_down);
	}
	render_upstream_state(gen, out);
	free(s);
}

static void render_udp(const struct metrics *m, FILE *out)
{
	family(out, "sockgate_udp_associations", "gauge", "Live transparent UDP associations.");
	fprintf(out, "sockgate_udp_associations %llu\n", SUM(m, udp_assocs_live));
	family(out, "sockgate_udp_associations_total", "counter",
	       "Transparent UDP associations since start.");
	fprintf(out, "sockgate_udp_associations_total %llu\n", SUM(m, udp_assocs_total));
	family(out, "sockgate_udp_datagrams_total", "counter",
	       "Transparent UDP datagrams relayed, by direction.");
	fprintf(out, "sockgate_udp_datagrams_total{direction=\"up\"} %llu\n",
		SUM(m, udp_datagrams[0]));
	fprintf(out, "sockgate_udp_datagrams_total{direction=\"down\"} %llu\n",
		SUM(m, udp_datagrams[1]));
	family(out, "sockgate_udp_bytes_total", "counter",
	       "Transparent UDP payload bytes relayed, by direction.");
	fprintf(out, "sockgate_udp_bytes_total{direction=\"up\"} %llu\n", SUM(m, udp_bytes[0]));
	fprintf(out, "sockgate_udp_bytes_total{direction=\"down\"} %llu\n", SUM(m, udp_bytes[1]));
	family(out, "sockgate_udp_drops_total", "counter",
	       "Transparent UDP datagrams dropped, by reason.");
	for (int k = 0; k < UDP_DROP_KINDS; k++)
		fprintf(out, "sockgate_udp_drops_total{reason=\"%s\"} %llu\n",
			relay_udp_drop_names[k], SUM(m, udp_drops[k]));
	family(out, "sockgate_udp_send_errors_total", "counter",
	       "Transparent UDP datagrams dropped as send_failed, by the errno behind it.");
	for (int k = 0; k < UDP_SEND_ERROR_KINDS; k++)
		fprintf(out, "sockgate_udp_send_errors_total{errno=\"%s\"} %llu\n",
			relay_udp_send_error_names[k], SUM(m, udp_send_errors[k]));
}

/* Per [dns] server, labelled by its address. */
static void render_dns_servers(const struct metrics *m, FILE *out)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} per_server[] = {
		{ "sockgate_dns_server_asked_total",
		  "Attempts sent to the server (a retry over TCP too).",
		  offsetof(struct dns_server_counters, asked) },
		{ "sockgate_dns_server_answered_total", "Attempts the server answered.",
		  offsetof(struct dns_server_counters, answered) },
		{ "sockgate_dns_server_failed_total",
		  "Attempts with no answer in time, refused, or the way to it down.",
		  offsetof(struct dns_server_counters, failed) },
		{ "sockgate_dns_server_latency_ms_sum",
		  "Milliseconds the answered attempts took, summed.",
		  offsetof(struct dns_server_counters, latency_ms_sum) },
	};
	const struct dns_config *dc = &(*m->gen)->cfg->dns;
	char a[ADDR_STRLEN];

	for (size_t k = 0; dc->n_server && k < sizeof(per_server) / sizeof(per_server[0]); k++) {
		family(out, per_server[k].name, "counter", per_server[k].help);
		for (size_t i = 0; i < dc->n_server; i++)
			fprintf(out, "%s{server=\"%s\"} %llu\n", per_server[k].name,
				addr_format(&dc->server[i].addr, a, sizeof(a)),
				workers_sum(m->workers, m->n_workers,
					    offsetof(struct relay_counters, dns.servers[i]) +
						per_server[k].offset));
	}
}

static void render_dns_service(const struct metrics *m, FILE *out)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} counters[] = {
		{ "queries", "Well-formed queries the DNS service took.",
		  offsetof(struct relay_counters, dns.queries) },
		{ "cache_hits", "Queries answered from the cache.",
		  offsetof(struct relay_counters, dns.cache_hits) },
		{ "forwarded", "Queries sent to a server (each retry too).",
		  offsetof(struct relay_counters, dns.forwarded) },
		{ "timeouts", "Attempts a server did not answer in time.",
		  offsetof(struct relay_counters, dns.timeouts) },
		{ "malformed", "Queries refused as malformed or unsupported, or dropped.",
		  offsetof(struct relay_counters, dns.malformed) },
		{ "refused", "Queries from clients outside allow, or over the waiting limit.",
		  offsetof(struct relay_counters, dns.refused) },
		{ "bad_answers", "Server answers refused (malformed, another question).",
		  offsetof(struct relay_counters, dns.bad_answers) },
		{ "fake_answers", "mode = fakeip: A and AAAA answered from the pool.",
		  offsetof(struct relay_counters, dns.fake_answers) },
		{ "fake_unknown", "Intercepted flows to a fake-IP address with no name, reset.",
		  offsetof(struct relay_counters, dns.fake_unknown) },
	};
	char name[64];

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		snprintf(name, sizeof(name), "sockgate_dns_%s_total", counters[i].name);
		family(out, name, "counter", counters[i].help);
		fprintf(out, "%s %llu\n", name,
			workers_sum(m->workers, m->n_workers, counters[i].offset));
	}
	family(out, "sockgate_dns_answers_total", "counter",
	       "Answers the DNS service sent, by rcode.");
	for (int k = 0; k < DNS_RCODE_KINDS; k++)
		fprintf(out, "sockgate_dns_answers_total{rcode=\"%s\"} %llu\n",
			relay_dns_rcode_names[k], SUM(m, dns.answers[k]));
	render_dns_servers(m, out);
	family(out, "sockgate_dns_cache_entries", "gauge", "Answers in the DNS caches.");
	fprintf(out, "sockgate_dns_cache_entries %llu\n", SUM(m, dns.cache_entries));
	family(out, "sockgate_dns_cache_bytes", "gauge", "Bytes the DNS caches hold.");
	fprintf(out, "sockgate_dns_cache_bytes %llu\n", SUM(m, dns.cache_bytes));
}

static void render_memory(const struct metrics *m, FILE *out)
{
	struct memory_report mr;

	memory_report_read(&mr, m->workers, m->n_workers);
	family(out, "sockgate_memory_bytes", "gauge",
	       "Memory the daemon holds: its resident set, its splice pipes' capacity, its DNS "
	       "cache.");
	fprintf(out, "sockgate_memory_bytes{kind=\"rss\"} %llu\n", mr.rss_bytes);
	fprintf(out, "sockgate_memory_bytes{kind=\"pipes\"} %llu\n", mr.pipe_bytes);
	fprintf(out, "sockgate_memory_bytes{kind=\"dns_cache\"} %llu\n", mr.dns_cache_bytes);
	family(out, "sockgate_pipes", "gauge", "Splice pipes open, pooled and in use.");
	fprintf(out, "sockgate_pipes %llu\n", mr.pipes);
	family(out, "sockgate_kernel_socket_memory_bytes", "gauge",
	       "TCP and UDP socket buffers the kernel has allocated, the whole system's "
	       "(/proc/net/sockstat).");
	if (mr.kernel_tcp_bytes >= 0)
		fprintf(out, "sockgate_kernel_socket_memory_bytes{protocol=\"tcp\"} %lld\n",
			mr.kernel_tcp_bytes);
	if (mr.kernel_udp_bytes >= 0)
		fprintf(out, "sockgate_kernel_socket_memory_bytes{protocol=\"udp\"} %lld\n",
			mr.kernel_udp_bytes);
}

void metrics_render(const struct metrics *m, FILE *out)
{
	family(out, "sockgate_build_info", "gauge", "The running sockgated's version.");
	fprintf(out, "sockgate_build_info{version=\"%s\"} 1\n", SOCKGATE_VERSION);
	render_flows(m, out);
	render_handshakes(m, out);
	render_upstreams(m, out);
	render_udp(m, out);
	render_dns_service(m, out);
	family(out, "sockgate_dns_lookups", "gauge",
	       "SOCKS name lookups under way, those whose client left included.");
	fprintf(out, "sockgate_dns_lookups %llu\n", SUM(m, dns_lookups));
	family(out, "sockgate_client_limited_total", "counter",
	       "Intercepted flows refused, and UDP associations evicted, by the per-client caps.");
	fprintf(out, "sockgate_client_limited_total %llu\n", SUM(m, client_limited));
	family(out, "sockgate_flows_shed_total", "counter",
	       "TCP connections reset because [daemon] max_flows flows were live.");
	fprintf(out, "sockgate_flows_shed_total %llu\n", SUM(m, flows_shed));
	family(out, "sockgate_backlog_held", "gauge",
	       "Relayed directions held to a slow destination's pace (their pipe, source "
	       "receive buffer and unsent queue bounded).");
	fprintf(out, "sockgate_backlog_held %llu\n", SUM(m, backlog_held));
	family(out, "sockgate_backlog_holds_total", "counter",
	       "Times a relayed direction was held to a slow destination's pace.");
	fprintf(out, "sockgate_backlog_holds_total %llu\n", SUM(m, backlog_holds));
	family(out, "sockgate_warm_sessions", "gauge",
	       "Warm upstream sessions ready for a flow (greeting and credentials done).");
	fprintf(out, "sockgate_warm_sessions %llu\n", SUM(m, warm_ready));
	family(out, "sockgate_warm_sessions_total", "counter",
	       "Warm upstream sessions by what became of them.");
	fprintf(out, "sockgate_warm_sessions_total{event=\"opened\"} %llu\n", SUM(m, warm_opened));
	fprintf(out, "sockgate_warm_sessions_total{event=\"used\"} %llu\n", SUM(m, warm_used));
	fprintf(out, "sockgate_warm_sessions_total{event=\"missed\"} %llu\n", SUM(m, warm_missed));
	fprintf(out, "sockgate_warm_sessions_total{event=\"expired\"} %llu\n",
		SUM(m, warm_expired));
	fprintf(out, "sockgate_warm_sessions_total{event=\"died\"} %llu\n", SUM(m, warm_died));
	fprintf(out, "sockgate_warm_sessions_total{event=\"retried\"} %llu\n",
		SUM(m, warm_retried));
	family(out, "sockgate_optimistic_flows_total", "counter",
	       "Flows whose first bytes went to the upstream behind the request.");
	fprintf(out, "sockgate_optimistic_flows_total %llu\n", SUM(m, optimistic));
	render_memory(m, out);
	family(out, "sockgate_fds_used", "gauge", "File descriptors held by flows.");
	fprintf(out, "sockgate_fds_used %u\n", fd_budget_used((struct fd_budget *)m->budget));
	family(out, "sockgate_fds_budget", "gauge",
	       "File descriptors flows may hold (from RLIMIT_NOFILE).");
	fprintf(out, "sockgate_fds_budget %u\n", m->budget->max);
}

int metrics_open(struct metrics *m, const struct sockaddr_storage *addr)
{
	char text[ADDR_STRLEN];
	int one = 1, err;
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	m->fd = -1;
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, addr_len(addr)) < 0 || listen(fd, 16) < 0)
		goto fail;
	m->fd = fd;
	log_info("metrics on http://%s/metrics", addr_format(addr, text, sizeof(text)));
	return 0;
fail:
	err = errno;
	log_error("metrics on %s: %s", addr_format(addr, text, sizeof(text)), strerror(err));
	if (fd >= 0)
		close(fd);
	return -err;
}

static const char *const metrics_paths[] = { "/metrics" };

static int request_complete(const char *buf, size_t len)
{
	size_t which;
	return http_get_parse(buf, len, metrics_paths, 1, &which) != HTTP_GET_INCOMPLETE;
}

static int metrics_write(void *arg, FILE *out)
{
	metrics_render(arg, out);
	return 0;
}

static enum served_answer metrics_answer(void *arg, struct served_client *c, const char *req,
					 size_t len, int too_long)
{
	size_t which;
	enum http_get_verdict v =
	    too_long ? HTTP_GET_TOO_LARGE : http_get_parse(req, len, metrics_paths, 1, &which);
	char *resp = NULL;
	size_t resp_len = 0;

	if (v == HTTP_GET_INCOMPLETE) /* the client stopped sending midway */
		v = HTTP_GET_BAD_REQUEST;
	if (http_get_answer(v, "text/plain; version=0.0.4; charset=utf-8", metrics_write, arg,
			    &resp, &resp_len) < 0)
		return SERVED_CLOSE;
	served_reply(c, resp, resp_len);
	return SERVED_REPLY;
}

static const struct served_ops metrics_ops = {
	.name = "metrics",
	.request_max = HTTP_GET_REQUEST_MAX,
	.deadline_ms = METRICS_DEADLINE_MS,
	.max_clients = METRICS_CLIENTS_MAX,
	.complete = request_complete,
	.answer = metrics_answer,
};

int metrics_serve(struct metrics *m, struct served_loop *l)
{
	return served_add(l, m->fd, &metrics_ops, m, NULL);
}

void metrics_close(struct metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}
