/* sockgate's subcommands: each is <name>_main(argc, argv, opts), argv[0]
 * being the subcommand's own name. */
#ifndef SOCKGATE_SUBCOMMANDS_H
#define SOCKGATE_SUBCOMMANDS_H

#include <stdio.h>

struct cli_opts {
	const char *config_path;
	int json;
};

/* The whole command line (argv[0] = "sockgate"); returns the exit code. */
int sockgate_run(int argc, char *argv[]);

/* Exit codes */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

int rules_main(int argc, char *argv[], const struct cli_opts *opts);
void rules_usage(FILE *out);
int bypass_main(int argc, char *argv[], const struct cli_opts *opts);
void bypass_usage(FILE *out);
int intercept_main(int argc, char *argv[], const struct cli_opts *opts);
void intercept_usage(FILE *out);
/* route test: which upstream a flow would take, and why */
int route_main(int argc, char *argv[], const struct cli_opts *opts);
void route_usage(FILE *out);
/* status, conns, stats: asked of the daemon */
int ctl_main(int argc, char *argv[], const struct cli_opts *opts);
void ctl_usage(FILE *out);

#endif
