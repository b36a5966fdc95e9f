/* sockgate status | conns | stats | reload: ask the running daemon over its
 * control socket (docs/control.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockgate/config.h"
#include "sockgate/json_out.h"
#include "nft.h"
#include "ruleset.h"
#include "subcommands.h"
#include "ctl.h"
#include "cgroup_intake.h"
#include "tc_intake.h"

void ctl_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: sockgate [-c FILE] [--json] status | conns | stats | dns flush\n"
	    "       sockgate [-c FILE] [--json] upstream use GROUP MEMBER|auto\n"
	    "\n"
	    "  status     daemon version, uptime, workers, intake, live and total flows;\n"
	    "             each upstream up or down, its addresses and last check; groups\n"
	    "  conns      live flows: client, destination, upstream, state, bytes each way, age\n"
	    "  stats      bytes and failures by reason, per upstream; the DNS service's counters\n"
	    "  dns flush  empty the DNS service's caches\n"
	    "  upstream use GROUP MEMBER\n"
	    "             new flows of the group take MEMBER, up or not, until `auto` (or a\n"
	    "             restart); `auto` returns the group to its policy\n"
	    "\n"
	    "Asks the running sockgated over its control socket ([daemon] control).\n");
}

/* The control socket path from the config, else the default. */
static char *control_path(const struct cli_opts *opts)
{
	struct config *cfg = NULL;
	char *path;

	if (config_load(opts->config_path, 0, &cfg, NULL) || !cfg)
		return strdup(CONTROL_DEFAULT_PATH);
	path = cfg->control_path ? strdup(cfg->control_path) : NULL;
	config_free(cfg);
	return path;
}

/* A connection to the daemon at path with request sent: its fd, or
 * -errno with why in err. */
static int send_request(const char *path, const char *request, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, rc;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s (is sockgated running?)", path, strerror(errno));
		goto fail;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Sends request to the daemon and returns its whole answer (malloc'd), or
 * NULL with why in err. */
static char *ask_daemon(const char *path, const char *request, char *err, size_t errlen)
{
	char *answer = NULL, buf[4096];
	size_t len = 0;
	ssize_t n;
	FILE *out;
	int fd = send_request(path, request, err, errlen);

	if (fd < 0)
		return NULL;
	out = open_memstream(&answer, &len);
	if (!out) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		fwrite(buf, 1, (size_t)n, out);
	fclose(out);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(answer);
		goto fail;
	}
	close(fd);
	return answer;
fail:
	close(fd);
	return NULL;
}

int ctl_take_tproxy_listeners(const char *path, int fds[2], char *err, size_t errlen)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} control;
	char text[128];
	struct iovec iov = { .iov_base = text, .iov_len = sizeof(text) - 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cm;
	int got[2], named[2], n_got = 0, rc = -EPROTO, fd;
	ssize_t n;

	fds[0] = fds[1] = -1;
	fd = send_request(path, "tproxy-listeners\n", err, errlen);
	if (fd < 0)
		return fd;
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	text[n] = '\0';
	text[strcspn(text, "\n")] = '\0';
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k; i++) {
			int one;
			memcpy(&one, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (n_got < 2)
				got[n_got++] = one;
			else
				close(one);
		}
	}
	if (strncmp(text, "ok", 2) || (msg.msg_flags & MSG_CTRUNC)) {
		snprintf(err, errlen, "sockgated: %s", text[0] ? text : "no answer");
		goto out_got;
	}
	/* "ok ipv4 ipv6": the fds come in the order named */
	named[0] = strstr(text, " ipv4") != NULL;
	named[1] = strstr(text, " ipv6") != NULL;
	if (named[0] + named[1] != n_got) {
		snprintf(err, errlen, "sockgated: %d listener(s) named, %d handed over",
			 named[0] + named[1], n_got);
		goto out_got;
	}
	for (int i = 0, k = 0; i < 2; i++)
		if (named[i])
			fds[i] = got[k++];
	rc = 0;
out_got:
	if (rc < 0)
		for (int i = 0; i < n_got; i++)
			close(got[i]);
out:
	close(fd);
	return rc;
}

/* status: the daemon's answer, and whether the rules are installed, which
 * the kernel says even when the daemon is down. */
static int status(const char *path, const struct cli_opts *opts)
{
	char err[256], rules_err[256];
	char *answer =
	    path ? ask_daemon(path, opts->json ? "status json\n" : "status\n", err, sizeof(err))
		 : NULL;
	int rules = nft_table_exists(rules_err, sizeof(rules_err));

	if (!path)
		snprintf(err, sizeof(err), "[daemon] control = off");
	if (opts->json) {
		/* the daemon's own object, or null when it is not reachable */
		json_t *daemon = answer ? json_loads(answer, 0, NULL) : NULL;
		json_print(stdout,
			   json_pack("{s:o?, s:o?, s:b, s:i, s:I}", "daemon", daemon,
				     "rules_installed", rules < 0 ? NULL : json_boolean(rules),
				     "ebpf_intake", tc_intake_installed(), "ebpf_listeners",
				     tc_intake_listeners(), "ebpf_cgroups",
				     (json_int_t)cgroup_intake_count()));
	} else {
		if (answer)
			fputs(answer, stdout);
		else
			printf("sockgated: not reachable: %s\n", err);
		if (rules < 0)
			printf("rules: cannot tell (%s)\n", rules_err);
		else
			printf("rules: table inet %s %s\n", RULESET_TABLE,
			       !rules ? "not installed (sockgate rules apply)"
			       : tc_intake_installed()
				   ? "installed; interfaces intercepted by the eBPF "
				     "tc program"
				   : "installed; intercepted by nftables");
		if (tc_intake_installed())
			printf(
			    "eBPF intake: %d sockgated listener(s) held for connections that meet "
			    "a TIME_WAIT%s\n",
			    tc_intake_listeners(),
			    tc_intake_listeners() ? "" : " (sockgate rules apply hands them over)");
		if (cgroup_intake_count())
			printf(
			    "cgroups: the processes of %u cgroup(s) intercepted by the eBPF cgroup "
			    "hooks\n",
			    cgroup_intake_count());
	}
	free(answer);
	return answer ? CLI_OK : CLI_FAILED;
}

/* A group or member name as the config allows it, or "auto": nothing the
 * request line could be cut or extended with. */
static int upstream_word(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

	return n && !s[n] && n <= 63;
}

int ctl_main(int argc, char *argv[], const struct cli_opts *opts)
{
	char req[256], err[256], args[160] = "", *path, *answer;
	int ret = CLI_FAILED, refused;

	/* "dns flush" and "upstream use GROUP MEMBER" take more words */
	if (argc == 2 && !strcmp(argv[0], "dns") && !strcmp(argv[1], "flush")) {
		argv[0] = "dns-flush";
	} else if (!strcmp(argv[0], "upstream")) {
		if (argc != 4 || strcmp(argv[1], "use") || !upstream_word(argv[2]) ||
		    !upstream_word(argv[3])) {
			ctl_usage(stderr);
			return CLI_USAGE;
		}
		argv[0] = "upstream-use";
		snprintf(args, sizeof(args), " %s %s", argv[2], argv[3]);
	} else if (argc != 1 || !strcmp(argv[0], "dns")) {
		ctl_usage(stderr);
		return CLI_USAGE;
	}
	path = control_path(opts);
	if (!strcmp(argv[0], "status")) {
		ret = status(path, opts);
		free(path);
		return ret;
	}
	if (!path) {
		fprintf(stderr, "sockgate: %s: [daemon] control = off; nothing to ask\n",
			opts->config_path);
		return CLI_FAILED;
	}
	snprintf(req, sizeof(req), "%s%s%s\n", argv[0], args, opts->json ? " json" : "");
	answer = ask_daemon(path, req, err, sizeof(err));
	free(path);
	if (!answer) {
		fprintf(stderr, "sockgate: %s\n", err);
		return CLI_FAILED;
	}
	/* the daemon's verdict opens its answer */
	refused = !strncmp(answer, "error", 5) || !strncmp(answer, "{\"reloaded\": false", 18) ||
		  !strncmp(answer, "{\"error\"", 9) || !strncmp(answer, "{\"ok\": false", 12);
	fputs(answer, refused && !opts->json ? stderr : stdout);
	free(answer);
	return refused ? CLI_FAILED : CLI_OK;
}
