/* sockgate intercept add|del|list: which interfaces and sources the rules
 * intercept, changed live. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/addr.h"
#include "sockgate/json_out.h"
#include "live_sets.h"
#include "nft.h"
#include "ruleset.h"
#include "subcommands.h"
#include "cgroup_intake.h"
#include "tc_intake.h"

void intercept_usage(FILE *out)
{
	fprintf(out,
		"Usage: sockgate [--json] intercept add|del IFACE|CIDR\n"
		"       sockgate intercept add|del cgroup PATH\n"
		"       sockgate [--json] intercept list\n"
		"\n"
		"Changes what table inet sockgate intercepts (LAN interfaces, source ranges),\n"
		"at once. The next `sockgate rules apply` installs what the config says.\n");
}

static int change_iface(const char *name, int add)
{
	char err[256];
	int rc;

	/* the same names [intake] interfaces takes */
	if (!config_valid_ifname(name)) {
		fprintf(stderr,
			"sockgate: intercept: \"%s\" is neither a CIDR nor an interface name\n",
			name);
		return CLI_USAGE;
	}
	rc = nft_change_iface(name, add, err, sizeof(err));
	if (rc == -ENOENT && !add) {
		fprintf(stderr, "sockgate: intercept del: interface %s is not intercepted\n", name);
		return CLI_FAILED;
	}
	if (rc < 0) {
		fprintf(stderr, "sockgate: intercept %s %s: %s\n", add ? "add" : "del", name, err);
		return CLI_FAILED;
	}
	/* with the eBPF intake the interface set only says which ones the tc
	 * program is on; attach or detach it too */
	if (tc_intake_installed() &&
	    (rc = tc_intake_change_iface(name, add, err, sizeof(err))) < 0) {
		fprintf(stderr, "sockgate: intercept %s %s: %s\n", add ? "add" : "del", name, err);
		return CLI_FAILED;
	}
	printf("intercept: interface %s %s (until the next rules apply)\n", name,
	       add ? "added" : "removed");
	return CLI_OK;
}

static int list(const struct cli_opts *opts)
{
	json_t *ifaces = live_sets_ifaces();
	json_t *sources = ifaces ? live_sets_ranges("intercept4", "intercept6") : NULL;

	if (!sources) {
		json_decref(ifaces);
		return CLI_FAILED;
	}
	if (opts->json) {
		json_print(stdout,
			   json_pack("{s:o, s:o}", "interfaces", ifaces, "sources", sources));
		return CLI_OK;
	}
	live_sets_print_lines(ifaces);
	live_sets_print_lines(sources);
	json_decref(ifaces);
	json_decref(sources);
	return CLI_OK;
}

int intercept_main(int argc, char *argv[], const struct cli_opts *opts)
{
	if (argc == 3 && (!strcmp(argv[1], "add") || !strcmp(argv[1], "del"))) {
		struct cidr c;
		int add = !strcmp(argv[1], "add");
		if (!cidr_parse(argv[2], &c))
			return live_sets_change_cidr("intercept", "intercept4", "intercept6",
						     argv[2], add);
		return change_iface(argv[2], add);
	}
	if (argc == 4 && !strcmp(argv[2], "cgroup") &&
	    (!strcmp(argv[1], "add") || !strcmp(argv[1], "del"))) {
		char err[256];
		int add = !strcmp(argv[1], "add");
		if (cgroup_intake_change(argv[3], add, err, sizeof(err)) < 0) {
			fprintf(stderr, "sockgate: intercept %s cgroup: %s\n", argv[1], err);
			return CLI_FAILED;
		}
		printf("intercept: cgroup %s %s (until the next rules apply)\n", argv[3],
		       add ? "added" : "removed");
		return CLI_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "list"))
		return list(opts);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		intercept_usage(stdout);
		return CLI_OK;
	}
	intercept_usage(stderr);
	return CLI_USAGE;
}
