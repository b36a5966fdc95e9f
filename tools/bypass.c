/* sockgate bypass add|del|list: destinations never proxied, changed live. */
#include <string.h>

#include "sockgate/json_out.h"
#include "live_sets.h"
#include "subcommands.h"

void bypass_usage(FILE *out)
{
	fprintf(out, "Usage: sockgate [--json] bypass add|del CIDR\n"
		     "       sockgate [--json] bypass list\n"
		     "\n"
		     "Changes the destinations table inet sockgate never intercepts, at once and\n"
		     "without touching anything else. The config stays the persistent truth: the\n"
		     "next `sockgate rules apply` installs what it says.\n");
}

static int bypass_list(const struct cli_opts *opts)
{
	json_t *list = live_sets_ranges("bypass4", "bypass6");

	if (!list)
		return CLI_FAILED;
	if (opts->json)
		json_print(stdout, json_pack("{s:o}", "bypass", list));
	else {
		live_sets_print_lines(list);
		json_decref(list);
	}
	return CLI_OK;
}

int bypass_main(int argc, char *argv[], const struct cli_opts *opts)
{
	if (argc == 3 && (!strcmp(argv[1], "add") || !strcmp(argv[1], "del")))
		return live_sets_change_cidr("bypass", "bypass4", "bypass6", argv[2],
					     !strcmp(argv[1], "add"));
	if (argc == 2 && !strcmp(argv[1], "list"))
		return bypass_list(opts);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		bypass_usage(stdout);
		return CLI_OK;
	}
	bypass_usage(stderr);
	return CLI_USAGE;
}
