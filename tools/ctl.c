/* sockgate status | conns | stats | reload: ask the running daemon over its
 * control socket (docs/control.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockgate/config.h"
#include "subcommands.h"

void ctl_usage(FILE *out)
{
	fprintf(out,
		"Usage: sockgate [-c FILE] [--json] status | conns | stats\n"
		"\n"
		"  status  daemon version, uptime, workers, intake, live and total flows\n"
		"  conns   live flows: client, destination, upstream, state, bytes each way, age\n"
		"  stats   bytes and failures by reason, per upstream\n"
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

int ctl_main(int argc, char *argv[], const struct cli_opts *opts)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char req[32], buf[4096], *path;
	int fd = -1, ret = CLI_FAILED;
	ssize_t n;

	if (argc != 1) {
		ctl_usage(stderr);
		return CLI_USAGE;
	}
	path = control_path(opts);
	if (!path) {
		fprintf(stderr, "sockgate: %s: [daemon] control = off; nothing to ask\n",
			opts->config_path);
		return CLI_FAILED;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "sockgate: %s: %s (is sockgated running?)\n", path,
			strerror(errno));
		goto out;
	}
	snprintf(req, sizeof(req), "%s%s\n", argv[0], opts->json ? " json" : "");
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "sockgate: %s: %s\n", path, strerror(errno));
		goto out;
	}
	{
		int first = 1, refused = 0;
		while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			/* the daemon's verdict opens its answer */
			if (first)
				refused = !strncmp(buf, "error", 5) ||
					  !strncmp(buf, "{\"reloaded\": false", 18) ||
					  !strncmp(buf, "{\"error\"", 9);
			first = 0;
			fwrite(buf, 1, (size_t)n, refused && !opts->json ? stderr : stdout);
		}
		if (n < 0) {
			fprintf(stderr, "sockgate: %s: %s\n", path, strerror(errno));
			goto out;
		}
		ret = refused ? CLI_FAILED : CLI_OK;
	}
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return ret;
}
