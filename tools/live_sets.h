/* Changing the interception sets of an installed table in place, for
 * `sockgate bypass` and `sockgate intercept`: read the set, change it,
 * write it back in one batch. The config stays the persistent truth. */
#ifndef SOCKGATE_LIVE_SETS_H
#define SOCKGATE_LIVE_SETS_H

#include <jansson.h>

struct cli_opts;

/* add = 1 adds, 0 deletes the CIDR text in set4 or set6 (by its family).
 * Returns a CLI exit code. */
int live_sets_change_cidr(const char *what, const char *set4, const char *set6, const char *text,
			  int add);
/* The ranges of set4 and set6, in order, as a JSON array of strings;
 * NULL after saying why on stderr. */
json_t *live_sets_ranges(const char *set4, const char *set6);
/* The intercepted interfaces, sorted, as a JSON array of strings; NULL
 * after saying why on stderr. */
json_t *live_sets_ifaces(void);
/* Prints one of those lists, one entry a line. */
void live_sets_print_lines(const json_t *list);

#endif
