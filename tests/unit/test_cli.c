/* Unit tests for the sockgate command line: global options, the
 * subcommand table, usage errors (exit 2) and help (exit 0). Only paths
 * that stop before touching the kernel or the daemon are run here; the
 * integration tests run the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "subcommands.h"

/* Runs sockgate with the words of line; stdout and stderr go to a file
 * whose text ends up in out. */
static int run(const char *line, char *out, size_t len)
{
	char buf[256], *argv[16];
	int argc = 0, rc, saved_out, saved_err;
	FILE *f = tmpfile();

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *tok = strtok(buf, " "); tok && argc < 15; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fileno(f), 1);
	dup2(fileno(f), 2);
	rc = sockgate_run(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	rewind(f);
	len = fread(out, 1, len - 1, f);
	out[len] = '\0';
	fclose(f);
	return rc;
}

static void test_usage_and_help(void **state)
{
	char out[4096];
	(void)state;
	assert_int_equal(run("sockgate", out, sizeof(out)), CLI_USAGE);
	assert_non_null(strstr(out, "Usage: sockgate"));
	assert_int_equal(run("sockgate --help", out, sizeof(out)), CLI_OK);
	/* every subcommand is listed */
	for (const char *const *c = (const char *const[]){ "status", "rules", "bypass", "intercept",
							   "conns", "stats", "reload", NULL };
	     *c; c++)
		assert_non_null(strstr(out, *c));
	assert_int_equal(run("sockgate help rules", out, sizeof(out)), CLI_OK);
	assert_non_null(strstr(out, "rules apply [--dry-run]"));
	assert_int_equal(run("sockgate help bypass", out, sizeof(out)), CLI_OK);
	assert_int_equal(run("sockgate help nothing", out, sizeof(out)), CLI_USAGE);
	assert_non_null(strstr(out, "no command \"nothing\""));
	assert_int_equal(run("sockgate -V", out, sizeof(out)), CLI_OK);
	assert_non_null(strstr(out, "sockgate "));
}

static void test_usage_errors(void **state)
{
	char out[4096];
	(void)state;
	assert_int_equal(run("sockgate frobnicate", out, sizeof(out)), CLI_USAGE);
	assert_non_null(strstr(out, "no command \"frobnicate\""));
	assert_int_equal(run("sockgate --bogus rules", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate -c", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate rules", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate rules apply --bogus", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate rules apply --dry-run extra", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate rules flush now", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate bypass", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate bypass add", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate bypass add 10.0.0.1/8", out, sizeof(out)), CLI_USAGE);
	assert_non_null(strstr(out, "is not an address or CIDR"));
	assert_int_equal(run("sockgate bypass add nonsense", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate intercept add a/b", out, sizeof(out)), CLI_USAGE);
	/* the same names the config takes, no others */
	assert_int_equal(run("sockgate intercept add eth0:1", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate intercept del ..", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate intercept add averyveryverylongname", out, sizeof(out)),
			 CLI_USAGE);
	assert_int_equal(run("sockgate status extra", out, sizeof(out)), CLI_USAGE);
	/* --json after the command is the global option, not an argument */
	assert_int_not_equal(run("sockgate -c /nonexistent/s.conf conns --json", out, sizeof(out)),
			     CLI_USAGE);
	assert_int_not_equal(
	    run("sockgate -c /nonexistent/s.conf rules apply --json", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate status --json extra", out, sizeof(out)), CLI_USAGE);
	/* dns takes exactly "flush" */
	assert_int_equal(run("sockgate dns", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate dns clear", out, sizeof(out)), CLI_USAGE);
	assert_int_equal(run("sockgate dns flush now", out, sizeof(out)), CLI_USAGE);
}

static void test_config_errors_stop_apply(void **state)
{
	char out[4096];
	(void)state;
	/* a config that cannot be read: exit 1, nothing attempted */
	assert_int_equal(
	    run("sockgate -c /nonexistent/sockgate.conf rules apply --dry-run", out, sizeof(out)),
	    CLI_FAILED);
	assert_non_null(strstr(out, "cannot open"));
	assert_non_null(strstr(out, "nothing changed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_and_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_config_errors_stop_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
