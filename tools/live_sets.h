/* Changing the interception sets of an installed table in place, for
 * `sockgate bypass` and `sockgate intercept`: read the set, change it,
 * write it back in one batch. The config stays the persistent truth. */
#ifndef SOCKGATE_LIVE_SETS_H
#define SOCKGATE_LIVE_SETS_H

struct cli_opts;

/* add = 1 adds, 0 deletes the CIDR text in set4 or set6 (by its family).
 * Returns a CLI exit code. */
int live_sets_change_cidr(const char *what, const char *set4, const char *set6, const char *text,
			  int add);
/* Prints the ranges of set4 and set6, one a line; with JSON, "key": [...]
 * inside braces when whole, bare when part of a larger object. */
int live_sets_list(const char *key, const char *set4, const char *set6, const struct cli_opts *opts,
		   int whole);

/* Prints the intercepted interfaces, one a line; with JSON,
 * "interfaces": [...] followed by ", " (always part of a larger object). */
int live_sets_list_ifaces(const struct cli_opts *opts);

#endif
