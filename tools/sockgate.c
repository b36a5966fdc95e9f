/* sockgate: the admin's command. One table of subcommands; global options
 * come before the subcommand's name, --json before or after it. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sockgate/config.h"
#include "subcommands.h"

#ifndef SOCKGATE_VERSION
#define SOCKGATE_VERSION "unknown"
#endif

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[], const struct cli_opts *opts);
	void (*usage)(FILE *out);
	const char *description;
} subcommands[] = {
	{ "status", ctl_main, ctl_usage, "the running daemon: version, intake, flows" },
	{ "rules", rules_main, rules_usage,
	  "install (apply [--dry-run]), show or remove (flush) table inet sockgate" },
	{ "bypass", bypass_main, bypass_usage,
	  "add|del|list destinations never proxied, changed live" },
	{ "intercept", intercept_main, intercept_usage,
	  "add|del|list interfaces and sources intercepted, changed live" },
	{ "conns", ctl_main, ctl_usage, "live flows with their byte counts" },
	{ "stats", ctl_main, ctl_usage, "counters per upstream and per failure reason" },
	{ "reload", ctl_main, ctl_usage, "make the daemon re-read its config, keeping live flows" },
	{ "dns", ctl_main, ctl_usage, "flush: empty the DNS service's caches" },
	{ "upstream", ctl_main, ctl_usage, "use GROUP MEMBER|auto: pin a group's member live" },
	{ "route", route_main, route_usage,
	  "test SRC DST:PORT [NAME]: which upstream a flow would take, and why" },
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: sockgate [-c FILE] [--json] COMMAND [ARGS]\n"
		"       sockgate help [COMMAND]\n"
		"\n"
		"  -c, --config FILE  configuration file (default %s)\n"
		"      --json         machine-readable output\n"
		"  -V, --version      print the version\n"
		"\n"
		"Commands:\n",
		CONFIG_DEFAULT_PATH);
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].description);
}

static int find(const char *name)
{
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		if (!strcmp(subcommands[i].name, name))
			return (int)i;
	return -1;
}

static int help(int argc, char *argv[])
{
	int i;

	if (argc == 1) {
		usage(stdout);
		return CLI_OK;
	}
	i = argc == 2 ? find(argv[1]) : -1;
	if (i < 0) {
		fprintf(stderr, "sockgate: help: no command \"%s\"\n", argc > 1 ? argv[1] : "");
		usage(stderr);
		return CLI_USAGE;
	}
	subcommands[i].usage(stdout);
	return CLI_OK;
}

/* --json anywhere after the subcommand's name (up to a "--") counts as
 * the global one: taken out of argv; returns the new argc. */
static int take_json(int argc, char *argv[], int from, struct cli_opts *opts)
{
	int out = from;

	for (int in = from; in < argc; in++) {
		if (!strcmp(argv[in], "--")) {
			while (in < argc)
				argv[out++] = argv[in++];
			break;
		}
		if (!strcmp(argv[in], "--json"))
			opts->json = 1;
		else
			argv[out++] = argv[in];
	}
	argv[out] = NULL;
	return out;
}

int sockgate_run(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts opts = { .config_path = CONFIG_DEFAULT_PATH };
	int opt, i;

	optind = 0; /* a fresh parse each call (unit tests call it repeatedly) */
	/* '+': stop at the first non-option, the subcommand */
	while ((opt = getopt_long(argc, argv, "+c:Vh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'j':
			opts.json = 1;
			break;
		case 'V':
			printf("sockgate %s\n", SOCKGATE_VERSION);
			return CLI_OK;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[optind], "help"))
		return help(argc - optind, argv + optind);
	argc = take_json(argc, argv, optind + 1, &opts);
	i = find(argv[optind]);
	if (i < 0) {
		fprintf(stderr, "sockgate: no command \"%s\"\n", argv[optind]);
		usage(stderr);
		return CLI_USAGE;
	}
	return subcommands[i].fn(argc - optind, argv + optind, &opts);
}
