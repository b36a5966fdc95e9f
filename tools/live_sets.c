/* Read-modify-write of one interval set of table inet sockgate. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sockgate/json_out.h"
#include "live_sets.h"
#include "nft.h"
#include "ruleset.h"
#include "tc_intake.h"
#include "subcommands.h"

/* The installed ranges of set name (family af) into is; *keys too, for
 * deleting them. 0 or a CLI exit code. */
static int read_ranges(const char *name, int af, struct interval_set *is, struct set_key **keys,
		       size_t *n)
{
	char err[256];

	interval_set_init(is, af);
	if (nft_read_set(name, keys, n, err, sizeof(err)) < 0) {
		fprintf(stderr, "sockgate: %s\n", err);
		return CLI_FAILED;
	}
	if (interval_set_from_keys(is, *keys, *n) < 0) {
		fprintf(stderr, "sockgate: out of memory\n");
		return CLI_FAILED;
	}
	return 0;
}

int live_sets_change_cidr(const char *what, const char *set4, const char *set6, const char *text,
			  int add)
{
	struct interval_set is;
	struct set_key *keys = NULL;
	size_t n = 0;
	struct cidr c;
	const char *name;
	char err[256];
	int ret;

	if (cidr_parse(text, &c)) {
		fprintf(stderr, "sockgate: %s: \"%s\" is not an address or CIDR\n", what, text);
		return CLI_USAGE;
	}
	name = c.family == AF_INET ? set4 : set6;
	ret = read_ranges(name, c.family, &is, &keys, &n);
	if (ret)
		goto out;
	ret = CLI_FAILED;
	if (add && interval_set_covers(&is, &c)) {
		printf("%s: %s is already in set %s; nothing changed\n", what, text, name);
		ret = CLI_OK;
		goto out;
	}
	if (!add && !interval_set_covers(&is, &c)) {
		fprintf(stderr, "sockgate: %s del: %s is not (wholly) in set %s\n", what, text,
			name);
		goto out;
	}
	if ((add ? interval_set_add(&is, &c) : interval_set_remove(&is, &c)) < 0) {
		fprintf(stderr, "sockgate: out of memory\n");
		goto out;
	}
	if (nft_replace_interval_set(name, keys, n, &is, err, sizeof(err)) < 0) {
		fprintf(stderr, "sockgate: %s %s: %s; nothing changed\n", what, add ? "add" : "del",
			err);
		goto out;
	}
	/* the eBPF intake's bypass map is the twin of the bypass sets */
	if (!strncmp(name, "bypass", 6) && tc_intake_installed() &&
	    tc_intake_set_bypass(&is, err, sizeof(err)) < 0)
		fprintf(stderr, "sockgate: %s %s: the nft set changed, but %s\n", what,
			add ? "add" : "del", err);
	printf("%s: %s %s set %s (until the next rules apply; put it in the config to keep it)\n",
	       what, text, add ? "added to" : "removed from", name);
	ret = CLI_OK;
out:
	interval_set_free(&is);
	free(keys);
	return ret;
}

json_t *live_sets_ranges(const char *set4, const char *set6)
{
	const char *names[2] = { set4, set6 };
	const int families[2] = { AF_INET, AF_INET6 };
	json_t *list = json_array();
	int ret = list ? CLI_OK : CLI_FAILED;

	for (int f = 0; f < 2 && ret == CLI_OK; f++) {
		struct interval_set is;
		struct set_key *keys = NULL;
		size_t n = 0;

		ret = read_ranges(names[f], families[f], &is, &keys, &n);
		for (size_t i = 0; !ret && i < is.n; i++) {
			char buf[2 * INET6_ADDRSTRLEN + 2];
			interval_format(&is, i, buf, sizeof(buf));
			if (json_array_append_new(list, json_string(buf)) < 0)
				ret = CLI_FAILED;
		}
		interval_set_free(&is);
		free(keys);
	}
	if (ret == CLI_OK)
		return list;
	json_decref(list);
	return NULL;
}

static int compare_names(const void *a, const void *b)
{
	return memcmp(((const struct set_key *)a)->key, ((const struct set_key *)b)->key,
		      CONFIG_IFNAME_SIZE);
}

json_t *live_sets_ifaces(void)
{
	struct set_key *keys = NULL;
	size_t n = 0;
	char err[256];
	json_t *list;

	if (nft_read_set("intercept_ifaces", &keys, &n, err, sizeof(err)) < 0) {
		fprintf(stderr, "sockgate: %s\n", err);
		return NULL;
	}
	/* the kernel keeps a hash: sort for a stable listing */
	qsort(keys, n, sizeof(*keys), compare_names);
	list = json_array();
	for (size_t i = 0; list && i < n; i++) {
		char name[CONFIG_IFNAME_SIZE] = { 0 };
		memcpy(name, keys[i].key, CONFIG_IFNAME_SIZE - 1);
		/* an interface's name is bytes, not always UTF-8 */
		json_array_append_new(list, json_text(name));
	}
	free(keys);
	return list;
}

void live_sets_print_lines(const json_t *list)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) printf("%s\n", json_string_value(v));
}
