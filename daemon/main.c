/* sockgated: loads the config, raises the fd limit, starts one worker per
 * core and waits for a signal to stop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include <netinet/in.h>
#include <poll.h>

#include "auth.h"
#include "backlog.h"
#include "client_limit.h"
#include "control.h"
#include "dns.h"
#include "fd_budget.h"
#include "fakeip.h"
#include "generation.h"
#include "metrics.h"
#include "pac.h"
#include "notify.h"
#include "privileges.h"
#include "reload_job.h"
#include "served.h"
#include "upstream_live.h"
#include "users.h"
#include "worker.h"

#ifndef SOCKGATE_VERSION
#define SOCKGATE_VERSION "unknown"
#endif

/* fds kept out of the flow budget: stdio, signalfd, epoll, eventfds, logs. */
#define FD_RESERVE 64

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: sockgated [-c FILE] [-f] [-v] [--check]\n"
		"       sockgated --hash-password USER\n"
		"Transparent proxy daemon: relays redirected TCP flows through upstream proxies\n"
		"and serves SOCKS5/SOCKS4 clients.\n"
		"\n"
		"  -c, --config FILE  configuration file (default %s)\n"
		"      --check        validate the configuration, print every error, exit\n"
		"      --hash-password USER\n"
		"                     read a password from the terminal (or one line of stdin)\n"
		"                     and print a USER:HASH line for the [socks] users file\n"
		"  -f, --foreground   stay in the foreground (default: detach)\n"
		"  -v, --verbose      log at debug level\n"
		"  -V, --version      print the version\n"
		"  -h, --help         this help\n",
		CONFIG_DEFAULT_PATH);
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The service watchdog (WatchdogSec=): pinged at most every interval_ms,
 * and only while every worker's loop answers, so a stuck worker gets the
 * daemon restarted instead of hidden behind a live main thread. */
static void watchdog_ping(struct worker *workers, unsigned n, unsigned interval_ms)
{
	static struct timespec last;
	static int warned;
	struct timespec now;
	long elapsed_ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed_ms = (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000;
	if (last.tv_sec && elapsed_ms < (long)interval_ms)
		return;
	last = now;
	for (unsigned i = 0; i < n; i++) {
		if (!worker_responsive(&workers[i], interval_ms / 2 ? interval_ms / 2 : 1)) {
			if (!warned++)
				log_error("worker %u does not answer: watchdog not pinged", i);
			return;
		}
	}
	warned = 0;
	notify_send("WATCHDOG=1");
}

/* Raises the soft RLIMIT_NOFILE to the hard one; returns the limit in force. */
static unsigned raise_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long)want,
				 strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur > 1u << 30)
		return 1u << 30;
	return (unsigned)rl.rlim_cur;
}

/* Reads one line into buf without its newline; echo off on a terminal. */
static int read_password(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	int ret = -1;

	if (tty) {
		fputs(prompt, stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (fgets(buf, (int)len, stdin)) {
		size_t n = strlen(buf);
		if (n && buf[n - 1] == '\n')
			buf[--n] = '\0';
		else if (n == len - 1)
			goto out; /* longer than the buffer */
		if (n && buf[n - 1] == '\r')
			buf[--n] = '\0';
		ret = 0;
	}
out:
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return ret;
}

static int hash_password_main(const char *user)
{
	char pass[256], again[256], line[512];
	int ret = 1;

	if (read_password("Password: ", pass, sizeof(pass)) < 0) {
		fprintf(stderr, "sockgated: no password read (at most 255 bytes, one line)\n");
		goto out;
	}
	if (isatty(STDIN_FILENO) &&
	    (read_password("Again: ", again, sizeof(again)) < 0 || strcmp(pass, again))) {
		fprintf(stderr, "sockgated: the passwords differ\n");
		goto out;
	}
	if (!*pass) {
		fprintf(stderr, "sockgated: empty password refused\n");
		goto out;
	}
	if (users_hash_password(user, pass, line, sizeof(line)) < 0) {
		fprintf(stderr, "sockgated: cannot hash for user \"%s\": %s\n", user,
			errno == EINVAL ? "user names are 1..255 bytes without spaces"
					: strerror(errno));
		goto out;
	}
	printf("%s\n", line);
	ret = 0;
out:
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(again, sizeof(again));
	return ret;
}

/* The running daemon: what main() builds step by step and tears down. */
struct daemon {
	const char *path;
	int verbose, foreground;
	struct generation *gen; /* the current configuration */
	struct worker *workers;
	unsigned n_workers, started;
	struct fd_budget budget;
	atomic_uint flows_live; /* all workers' TCP flows, against [daemon] max_flows */
	struct relay_shared shared;
	struct control control;
	struct control *serving; /* &control once it is served, else NULL */
	struct metrics metrics;
	struct pac pac;
	struct served_loop *served;
	struct reload_job job;
	int sfd; /* signalfd */
	int dns_ready;
};

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Settings only a restart can change (listeners, threads, marks). */
static const char *restart_needed(const struct config *a, const struct config *b)
{
	if (a->workers != b->workers)
		return "[daemon] workers";
	if (a->mark != b->mark)
		return "[daemon] mark";
	if (!same_str(a->control_path, b->control_path))
		return "[daemon] control";
	if (strcmp(a->user, b->user))
		return "[daemon] user";
	if (a->log_target != b->log_target)
		return "[daemon] log";
	if (a->metrics.ss_family != b->metrics.ss_family ||
	    (a->metrics.ss_family && !addr_equal(&a->metrics, &b->metrics)))
		return "[daemon] metrics";
	if (a->pac.n_listen != b->pac.n_listen ||
	    memcmp(a->pac.listen, b->pac.listen, a->pac.n_listen * sizeof(a->pac.listen[0])))
		return "[pac] listen";
	/* the SOCKS server's resolver and verifier start with the daemon */
	if (!a->socks.n_listen != !b->socks.n_listen)
		return "[socks] (turned on or off)";
	if (a->socks.auth_password != b->socks.auth_password)
		return "[socks] auth";
	if (a->socks.max_conns_per_client != b->socks.max_conns_per_client)
		return "[socks] max_conns_per_client";
	return NULL;
}

/* Whether address:port can be bound as the workers will (SO_REUSEPORT),
 * so a reload that adds a listener fails before anything changes. */
static int probe_bind(const struct sockaddr_storage *ss, int freebind)
{
	int one = 1, rc = 0;
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (freebind)
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, addr_len(ss)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* The listeners b adds to a must be possible: 0, or -1 with why in msg. */
static int probe_new_listeners(const struct config *a, const struct config *b, char *msg,
			       size_t len)
{
	const uint16_t old_ports[2] = { a->redirect_port, a->tproxy_port };
	const uint16_t new_ports[2] = { b->redirect_port, b->tproxy_port };
	char text[ADDR_STRLEN];
	int rc;

	for (int k = 0; k < 2; k++) {
		struct sockaddr_storage ss;
		if (!new_ports[k] || new_ports[k] == old_ports[k])
			continue;
		addr_from_ip("0.0.0.0", new_ports[k], &ss);
		rc = probe_bind(&ss, 0);
		if (rc < 0) {
			snprintf(msg, len, "reload refused: cannot listen on %s port %u: %s",
				 k ? "tproxy" : "redirect", new_ports[k], strerror(-rc));
			return -1;
		}
	}
	for (size_t i = 0; i < b->socks.n_listen; i++) {
		int known = 0;
		for (size_t j = 0; j < a->socks.n_listen; j++)
			known |= addr_equal(&a->socks.listen[j], &b->socks.listen[i]);
		if (known)
			continue;
		rc = probe_bind(&b->socks.listen[i], 1);
		if (rc < 0) {
			snprintf(msg, len, "reload refused: cannot listen on %s: %s",
				 addr_format(&b->socks.listen[i], text, sizeof(text)),
				 strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* Applies what a reload job read; on any error keeps the running config.
 * Live flows keep the upstream they started with; new flows use the new
 * config; listeners it no longer names close, new ones open, the rest
 * stay. 0, or -1 with why in msg. */
static int reload_commit(struct daemon *d, char *msg, size_t len)
{
	struct reload_job *j = &d->job;
	struct config *cfg = j->cfg;
	struct generation *gen;
	const char *why;

	if (j->problems) {
		snprintf(msg, len, "reload refused, still running the previous configuration:\n%s",
			 j->errs ? j->errs : "");
		goto refuse;
	}
	why = restart_needed(d->gen->cfg, cfg);
	if (why) {
		snprintf(msg, len,
			 "reload refused: %s changed, which needs a restart; still running the "
			 "previous configuration",
			 why);
		goto refuse;
	}
	if (probe_new_listeners(d->gen->cfg, cfg, msg, len) < 0)
		goto refuse;
	gen = generation_new(cfg, j->users, d->n_workers);
	if (!gen) {
		snprintf(msg, len, "reload refused: out of memory");
		goto refuse;
	}
	j->cfg = NULL; /* the generation's now */
	j->users = NULL;
	upstream_live_inherit(&gen->live, &d->gen->live);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_switch_generation(&d->workers[i], gen);
	if (d->shared.auth)
		auth_service_set_generation(d->shared.auth, gen);
	client_limit_set(d->shared.flow_limits, cfg->max_flows_per_client,
			 4 * cfg->max_flows_per_client);
	client_limit_set(d->shared.udp_limits, cfg->max_udp_per_client,
			 4 * cfg->max_udp_per_client);
	if (!!cfg->dns.fakeip != !!d->shared.fakeip)
		log_warn("[dns] mode: fake-IP is %s until sockgated restarts (its table is made "
			 "at start)",
			 d->shared.fakeip ? "kept" : "off");
	generation_unref(d->gen);
	d->gen = gen;
	log_set_level(d->verbose ? LOG_LEVEL_DEBUG : cfg->log_level);
	snprintf(msg, len,
		 "%s reloaded: %zu upstream(s), %zu route(s), default %s; live flows keep their "
		 "upstream",
		 d->path, cfg->n_upstreams - 1, cfg->n_routes, cfg->default_upstream->name);
	log_info("%s", msg);
	/* warnings (a name that does not resolve yet) go with the answer */
	if (j->errs && j->errs[0]) {
		size_t used = strlen(msg);
		log_lines(LOG_LEVEL_WARN, j->errs);
		snprintf(msg + used, len - used, "\n%s", j->errs);
		used = strlen(msg);
		if (msg[used - 1] == '\n')
			msg[used - 1] = '\0';
	}
	return 0;
refuse:
	log_lines(LOG_LEVEL_WARN, msg);
	return -1;
}

/* SIGHUP or the control socket: the config is read off this thread, and
 * the service manager told around it (sd_notify). */
static void reload_start(void *arg)
{
	struct daemon *d = arg;
	int rc = reload_job_start(&d->job);

	if (rc == 0) {
		notify_reloading();
	} else if (rc < 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "reload refused: cannot start reading: %s",
			 strerror(-rc));
		log_warn("%s", msg);
		if (d->serving)
			control_reload_finished(d->serving, -1, msg);
	}
}

/* The reload job is done: apply it and tell whoever asked. */
static void reload_finish(struct daemon *d)
{
	char msg[2048];
	int rc;

	reload_job_finish(&d->job);
	rc = reload_commit(d, msg, sizeof(msg));
	reload_job_clear(&d->job);
	notify_send("READY=1");
	if (d->serving)
		control_reload_finished(d->serving, rc, msg);
}

/* Signals, the control socket and metrics, reloads, the watchdog: until a
 * stop signal (0) or a failure (-1). Nothing here waits on a client. */
static int main_loop(struct daemon *d, int sfd, struct served_loop *served, int watchdog_ms)
{
	for (;;) {
		struct pollfd pfd[3] = { { .fd = sfd, .events = POLLIN },
					 { .fd = served_loop_fd(served), .events = POLLIN },
					 { .fd = d->job.efd, .events = POLLIN } };
		int timeout = served_timeout_ms(served, monotonic_ms());
		struct signalfd_siginfo si;
		ssize_t n;

		if (watchdog_ms > 0) {
			watchdog_ping(d->workers, d->n_workers, (unsigned)watchdog_ms);
			if (timeout < 0 || timeout > watchdog_ms)
				timeout = watchdog_ms;
		}
		if (poll(pfd, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			return -1;
		}
		served_run(served, monotonic_ms());
		if (pfd[2].revents & POLLIN)
			reload_finish(d);
		if (!(pfd[0].revents & POLLIN))
			continue;
		n = read(sfd, &si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(si)) {
			log_error("signalfd read: %s", strerror(errno));
			return -1;
		}
		if (si.ssi_signo == SIGHUP) {
			reload_start(d); /* it logs the outcome */
			continue;
		}
		log_info("signal %d: stopping", (int)si.ssi_signo);
		notify_send("STOPPING=1");
		return 0;
	}
}

static int detach(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

/* The options: -1 to go on, or the exit code. */
static int parse_options(int argc, char *argv[], struct daemon *d, int *check)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "hash-password", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:fvVh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d->path = optarg;
			break;
		case 'C':
			*check = 1;
			break;
		case 'f':
			d->foreground = 1;
			break;
		case 'v':
			d->verbose = 1;
			break;
		case 'V':
			printf("sockgated %s\n", SOCKGATE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'H':
			return hash_password_main(optarg);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sockgated: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The config and users file as the daemon starts: 0, or -1 with every
 * problem on stderr. */
static int load_startup_config(const char *path, int check, struct config **cfg,
			       struct users **users)
{
	if (config_load(path, 1, cfg, stderr)) {
		if (!check)
			fprintf(stderr, "sockgated: %s has errors, not starting\n", path);
		return -1;
	}
	if ((*cfg)->socks.n_listen && (*cfg)->socks.auth_password &&
	    users_load((*cfg)->socks.users_path, users, stderr)) {
		if (!check)
			fprintf(stderr, "sockgated: %s has errors, not starting\n",
				(*cfg)->socks.users_path);
		return -1;
	}
	return 0;
}

/* Logging as the config says; signals read from a signalfd in this thread
 * (workers inherit the blocked mask and never see them). 0 or -1. */
static int setup_process(struct daemon *d, const struct config *cfg)
{
	sigset_t sigs;

	log_set_level(d->verbose ? LOG_LEVEL_DEBUG : cfg->log_level);
	/* detached, stderr is usually nowhere: auto means syslog then */
	if (cfg->log_target == LOG_TARGET_SYSLOG ||
	    (cfg->log_target == LOG_TARGET_AUTO && !d->foreground))
		log_use_syslog("sockgated");
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	d->sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (d->sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* [dns] fakeip_file: the names given before the last stop, kept. */
static void fakeip_restore(struct fakeip *t, const char *path)
{
	size_t n;
	int rc = fakeip_load(t, path, &n);

	if (rc == 0)
		log_info("fake-IP: %zu name(s) kept from %s", n, path);
	else if (rc != -ENOENT)
		log_warn("fake-IP: reading %s: %s", path, strerror(-rc));
}

/* Workers, fd budget, the first generation (it takes cfg and users) and
 * what the workers share. 0 or -1. */
static int setup_shared(struct daemon *d, struct config *cfg, struct users *users)
{
	unsigned nofile = raise_nofile_limit();

	d->n_workers = cfg->workers ? cfg->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (d->n_workers < 1)
		d->n_workers = 1;
	if (nofile < FD_RESERVE + d->n_workers * 64) {
		log_error("RLIMIT_NOFILE %u is too low for %u workers", nofile, d->n_workers);
		return -1;
	}
	d->budget.max = nofile - FD_RESERVE;
	d->shared.budget = &d->budget;
	(void)backlog_rcvbuf_max(); /* tcp_rmem is read here, not by a busy worker */
	d->shared.flows_live = &d->flows_live;
	d->gen = generation_new(cfg, users, d->n_workers);
	if (!d->gen)
		goto nomem;
	cfg = d->gen->cfg;
	d->shared.flow_limits =
	    client_limit_new(cfg->max_flows_per_client, 4 * cfg->max_flows_per_client);
	d->shared.udp_limits =
	    client_limit_new(cfg->max_udp_per_client, 4 * cfg->max_udp_per_client);
	if (!d->shared.flow_limits || !d->shared.udp_limits)
		goto nomem;
	/* kept for the daemon's life: a reload keeps the names it gave */
	if (cfg->dns.fakeip && cfg->dns.n_listen &&
	    !(d->shared.fakeip =
		  fakeip_new(&cfg->dns.fakeip4, &cfg->dns.fakeip6, cfg->dns.fakeip_size)))
		goto nomem;
	if (d->shared.fakeip && cfg->dns.fakeip_file)
		fakeip_restore(d->shared.fakeip, cfg->dns.fakeip_file);
	if (!cfg->socks.n_listen && !d->shared.fakeip)
		return 0;
	if (dns_library_init() < 0) {
		log_error("c-ares: cannot initialise");
		return -1;
	}
	d->dns_ready = 1;
	if (!cfg->socks.n_listen)
		return 0;
	d->shared.limits =
	    client_limit_new(cfg->socks.max_conns_per_client, 8 * cfg->socks.max_conns_per_client);
	if (!d->shared.limits)
		goto nomem;
	if (users_count(d->gen->users) == 0 && cfg->socks.auth_password)
		log_warn("%s lists no user: every SOCKS login will fail", cfg->socks.users_path);
	return 0;
nomem:
	log_error("out of memory");
	return -1;
}

/* Each worker's loop, listeners and state, not yet running. 0 or -1. */
static int setup_workers(struct daemon *d)
{
	d->workers = calloc(d->n_workers, sizeof(*d->workers));
	if (!d->workers) {
		log_error("out of memory");
		d->n_workers = 0;
		return -1;
	}
	for (unsigned i = 0; i < d->n_workers; i++) {
		if (worker_init(&d->workers[i], i, d->gen, &d->shared) < 0) {
			d->n_workers = i;
			return -1;
		}
	}
	return 0;
}

/* The control socket (optional) and the metrics endpoint (a port taken is
 * a config error the admin must see). 0 or -1. */
static int open_endpoints(struct daemon *d, const struct config *cfg)
{
	if (cfg->control_path) {
		d->control.gen = &d->gen;
		d->control.reload_start = reload_start;
		d->control.reload_arg = d;
		d->control.workers = d->workers;
		d->control.n_workers = d->n_workers;
		d->control.budget = &d->budget;
		d->control.started = time(NULL);
		if (control_open(&d->control, cfg->control_path) < 0)
			log_warn("running without a control socket: sockgate status/conns/stats "
				 "will not reach this daemon");
	}
	d->pac.gen = &d->gen;
	if (pac_open(&d->pac, cfg) < 0)
		return -1;
	if (!cfg->metrics.ss_family)
		return 0;
	d->metrics.gen = &d->gen;
	d->metrics.workers = d->workers;
	d->metrics.n_workers = d->n_workers;
	d->metrics.budget = &d->budget;
	return metrics_open(&d->metrics, &cfg->metrics) < 0 ? -1 : 0;
}

/* Every socket that needs root is bound: root is given up, before any
 * thread exists (credentials are per thread). 0 or -1. */
static int drop_root(const struct daemon *d, const struct config *cfg)
{
	char why[160];

	if (!privileges_should_drop(cfg->user))
		return 0;
	if (privileges_drop(cfg->user, why, sizeof(why)) < 0) {
		log_error("%s", why);
		return -1;
	}
	log_info("running as %s, group %s, with CAP_NET_ADMIN, CAP_NET_RAW and "
		 "CAP_NET_BIND_SERVICE",
		 cfg->user, getgrnam("sockgate") ? "sockgate" : "of the user");
	if (access(d->path, R_OK) < 0)
		log_warn("%s is not readable as %s: sockgate reload will fail (chgrp sockgate "
			 "it and chmod 0640, or set [daemon] user = root)",
			 d->path, cfg->user);
	return 0;
}

/* The password verifier, then the workers (a fork by detach before would
 * have lost them). 0 or -1. */
static int start_threads(struct daemon *d, const struct config *cfg)
{
	int rc;

	if (cfg->socks.auth_password) {
		rc = auth_service_start(&d->shared.auth, d->gen);
		if (rc < 0) {
			log_error("password verifier: %s", strerror(-rc));
			return -1;
		}
	}
	for (; d->started < d->n_workers; d->started++) {
		rc = worker_start(&d->workers[d->started]);
		if (rc < 0) {
			log_error("starting worker %u: %s", d->started, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

static void log_started(const struct daemon *d, const struct config *cfg)
{
	char intake[64] = "", a[ADDR_STRLEN];

	if (cfg->redirect_port)
		snprintf(intake, sizeof(intake), ", redirect port %u", cfg->redirect_port);
	if (cfg->tproxy_port)
		snprintf(intake + strlen(intake), sizeof(intake) - strlen(intake),
			 ", tproxy port %u", cfg->tproxy_port);
	log_info("sockgated %s: %u workers%s, fd budget %u, default upstream %s", SOCKGATE_VERSION,
		 d->n_workers, intake, d->budget.max, cfg->default_upstream->name);
	for (size_t i = 0; i < cfg->socks.n_listen; i++)
		log_info("SOCKS server on %s, auth %s%s",
			 addr_format(&cfg->socks.listen[i], a, sizeof(a)),
			 cfg->socks.auth_password ? "password" : "none",
			 cfg->socks.n_allow ? ", clients limited by allow" : "");
}

/* The main thread's own loop: control, metrics, reloads. 0 or -1. */
static int setup_main_loop(struct daemon *d)
{
	d->served = served_loop_new();
	if (!d->served || reload_job_init(&d->job, d->path) < 0) {
		log_error("main loop: %s", strerror(errno));
		return -1;
	}
	if (d->control.fd >= 0 && control_serve(&d->control, d->served) == 0)
		d->serving = &d->control;
	if (d->metrics.fd >= 0 && metrics_serve(&d->metrics, d->served) < 0)
		return -1;
	if (pac_serve(&d->pac, d->served) < 0)
		return -1;
	return 0;
}

/* Everything set up, in order; cfg and users belong to the generation
 * once setup_shared has made it. 0 or -1. */
static int daemon_start(struct daemon *d, struct config *cfg, struct users *users)
{
	int rc;

	if (setup_process(d, cfg) < 0 || setup_shared(d, cfg, users) < 0)
		return -1;
	cfg = d->gen->cfg;
	if (setup_workers(d) < 0)
		return -1;
	if (!d->foreground && (rc = detach()) < 0) {
		log_error("detach: %s", strerror(-rc));
		return -1;
	}
	if (open_endpoints(d, cfg) < 0 || drop_root(d, cfg) < 0 || start_threads(d, cfg) < 0)
		return -1;
	log_started(d, cfg);
	return setup_main_loop(d);
}

static void daemon_stop(struct daemon *d)
{
	reload_job_destroy(&d->job);
	served_loop_free(d->served);
	control_close(&d->control);
	metrics_close(&d->metrics);
	pac_close(&d->pac);
	for (unsigned i = 0; i < d->started; i++)
		worker_request_stop(&d->workers[i]);
	for (unsigned i = 0; i < d->started; i++)
		worker_join(&d->workers[i]);
	/* The verifier stops before the workers go: it may be about to hand
	 * a result to one of them. */
	auth_service_stop(d->shared.auth);
	for (unsigned i = 0; d->workers && i < d->n_workers; i++)
		worker_destroy(&d->workers[i]);
	free(d->workers);
	client_limit_free(d->shared.limits);
	client_limit_free(d->shared.flow_limits);
	client_limit_free(d->shared.udp_limits);
	if (d->shared.fakeip && d->gen->cfg->dns.fakeip_file) {
		int rc = fakeip_save(d->shared.fakeip, d->gen->cfg->dns.fakeip_file);
		if (rc < 0)
			log_warn("fake-IP: saving %s: %s", d->gen->cfg->dns.fakeip_file,
				 strerror(-rc));
	}
	fakeip_free(d->shared.fakeip);
	generation_unref(d->gen); /* its cfg and users with it */
	if (d->dns_ready)
		dns_library_cleanup();
	if (d->sfd >= 0)
		close(d->sfd);
}

int main(int argc, char *argv[])
{
	struct daemon d = { .path = CONFIG_DEFAULT_PATH, .sfd = -1, .job = { .efd = -1 } };
	struct config *cfg = NULL;
	struct users *users = NULL;
	int check = 0, ret = 1, rc;

	d.control.fd = d.metrics.fd = -1;
	rc = parse_options(argc, argv, &d, &check);
	if (rc >= 0)
		return rc;
	rc = load_startup_config(d.path, check, &cfg, &users);
	if (rc < 0 || check) {
		if (rc == 0)
			printf("%s: ok\n", d.path);
		users_free(users);
		config_free(cfg);
		return rc < 0;
	}
	if (daemon_start(&d, cfg, users) == 0) {
		/* listeners are up: the service is ready */
		notify_send("READY=1");
		ret = main_loop(&d, d.sfd, d.served, (int)(notify_watchdog_usec() / 2000)) < 0;
	} else if (!d.gen) {
		users_free(users);
		config_free(cfg);
	}
	daemon_stop(&d);
	return ret;
}
