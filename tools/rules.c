/* sockgate rules apply [--dry-run] | flush */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "sockgate/config.h"
#include "sockgate/json_out.h"
#include "live_sets.h"
#include "nft.h"
#include "policy_route.h"
#include "ruleset.h"
#include "cgroup_intake.h"
#include "tc_intake.h"
#include "subcommands.h"
#include "ctl.h"

void rules_usage(FILE *out)
{
	fprintf(out,
		"Usage: sockgate [-c FILE] [--json] rules apply [--dry-run]\n"
		"       sockgate [--json] rules show [--all]\n"
		"       sockgate [--json] rules flush\n"
		"       sockgate [-c FILE] [--json] rules down\n"
		"\n"
		"  apply      build table inet sockgate from the config and install it in one\n"
		"             netlink batch, replacing the previous one (whole or not at all)\n"
		"  --dry-run  print the table in nft syntax instead of installing it\n"
		"  show       what is installed: the sets' contents (a set of more than 32\n"
		"             ranges by its count; --all lists every one) and the rules\n"
		"  flush      remove table inet sockgate (nothing else is touched)\n"
		"  down       what the service does when it stops: flush, unless the config\n"
		"             says [intake] when_down = block (then the rules stay and refuse)\n");
}

/* One part of the eBPF intake: on must work, auto works where the kernel
 * can. 1 to use it, 0 not to, -1 (after saying why) when on cannot. */
static int ebpf_part(const struct config *cfg, const char *part, const char *instead,
		     int (*probe)(char *why, size_t len))
{
	char why[160];

	if (probe(why, sizeof(why)) == 0)
		return 1;
	if (cfg->ebpf == INTAKE_EBPF_ON) {
		fprintf(stderr, "sockgate: rules apply: ebpf = on, but %s; nothing changed\n", why);
		return -1;
	}
	fprintf(stderr, "sockgate: eBPF %s not used (%s): %s\n", part, why, instead);
	return 0;
}

/* [intake] ebpf: off never touches BPF. The interfaces' part needs
 * tproxy, the cgroups' part cgroups; -1 when on cannot be had. */
static int choose_ebpf(const struct config *cfg, struct ruleset *rs)
{
	int rc;

	rs->ebpf = rs->ebpf_cgroups = 0;
	if (cfg->ebpf == INTAKE_EBPF_OFF)
		return 0;
	if (rs->udp &&
	    (cfg->n_exclude_src || cfg->n_exclude_macs || cfg->n_ports || cfg->n_exclude_ports)) {
		/* the tc program would take what those leave to the kernel */
		fprintf(stderr, "sockgate: eBPF intake not used ([intake] exclude_src, ports and "
				"exclude_ports are nftables'): nftables instead\n");
	} else if (rs->udp) {
		rc = ebpf_part(cfg, "intake", "nftables instead", tc_intake_probe);
		if (rc < 0)
			return -1;
		rs->ebpf = rc;
	}
	if (cfg->n_cgroups) {
		rc = ebpf_part(cfg, "cgroup intake", "those cgroups are not intercepted",
			       cgroup_intake_probe);
		if (rc < 0)
			return -1;
		rs->ebpf_cgroups = rc;
	}
	return 0;
}

/* What remove_everything took away. */
struct removed {
	int table; /* table inet sockgate was there */
	unsigned detached, links, routes;
};

/* Every trace of sockgate's in the kernel: the table and the tc program
 * first (no packet is marked once they are gone), the cgroup hooks, the
 * policy routing. 0, or -1 with why in err. */
static int remove_everything(struct removed *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->table = nft_table_exists(err, errlen);
	if (r->table < 0 || nft_flush(err, errlen) < 0 ||
	    tc_intake_flush(&r->detached, err, errlen) < 0 ||
	    cgroup_intake_flush(&r->links, err, errlen) < 0 ||
	    policy_route_flush(&r->routes, err, errlen) < 0)
		return -1;
	return 0;
}

/* The tc program's socket lookup half needs sockgated's TPROXY listeners,
 * which only the daemon has: it hands copies over its control socket.
 * Without them (daemon down, control off) interception still works, but a
 * SYN meeting a TIME_WAIT of sockgated's gets the kernel's answer for it
 * (an ACK the client must reset and retry after), so say so. */
static void hand_listeners_to_tc(const struct config *cfg)
{
	char err[256];
	int fds[2] = { -1, -1 }, rc;

	if (!cfg->control_path) {
		snprintf(err, sizeof(err), "[daemon] control = off");
		rc = -ENOENT;
	} else {
		rc = ctl_take_tproxy_listeners(cfg->control_path, fds, err, sizeof(err));
	}
	if (rc == 0)
		rc = tc_intake_set_listeners(fds, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr,
			"sockgate: note: sockgated's listeners not handed to the eBPF intake "
			"(%s); run rules apply again once it runs: until then a new connection "
			"reusing the addresses of one sockgated closed in the last minute is "
			"answered only after the client resets and retries\n",
			err);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Takes away whatever eBPF intake this apply put in (or found). */
static void ebpf_rollback(void)
{
	char ignored[8];
	unsigned n;

	tc_intake_flush(&n, ignored, sizeof(ignored));
	cgroup_intake_flush(&n, ignored, sizeof(ignored));
}

/* The ruleset the config asks for, with the networks of the interfaces and
 * the eBPF choice: 0 or -1 (said why). */
static int rules_plan(const struct cli_opts *opts, const struct config *cfg, struct ruleset *rs)
{
	char err[256];
	unsigned n;
	int rc;

	if (ruleset_build(cfg, rs, err, sizeof(err)) < 0) {
		fprintf(stderr, "sockgate: %s: %s; nothing changed\n", opts->config_path, err);
		return -1;
	}
	if (cfg->bypass_connected && (rc = ruleset_add_connected(rs, &n)) < 0) {
		fprintf(stderr, "sockgate: rules apply: listing the interfaces' networks: %s\n",
			strerror(-rc));
		return -1;
	}
	return choose_ebpf(cfg, rs);
}

/* The eBPF parts (cgroup hooks, then the tc program before the table that
 * leaves the interfaces to it); a part that cannot be had falls back, or
 * with ebpf = on fails (a tc program that cannot be had takes the eBPF
 * intake away, as it was half replaced). Without them, what a previous
 * apply left goes. */
static int install_ebpf(const struct config *cfg, struct ruleset *rs)
{
	char err[256];
	unsigned n;
	int on = cfg->ebpf == INTAKE_EBPF_ON;

	if (rs->ebpf_cgroups &&
	    cgroup_intake_apply(rs, cfg->cgroups, cfg->n_cgroups, err, sizeof(err)) < 0) {
		fprintf(stderr,
			on ? "sockgate: rules apply: ebpf = on: %s\n"
			   : "sockgate: eBPF cgroup intake not used (%s): those cgroups are not "
			     "intercepted\n",
			err);
		if (on)
			return -1;
		rs->ebpf_cgroups = 0;
	} else if (!rs->ebpf_cgroups && (cfg->ebpf != INTAKE_EBPF_OFF || cgroup_intake_count())) {
		cgroup_intake_flush(&n, err, sizeof(err));
	}
	if (rs->ebpf && tc_intake_apply(rs, err, sizeof(err)) < 0) {
		fprintf(stderr,
			on ? "sockgate: rules apply: ebpf = on: %s\n"
			   : "sockgate: eBPF intake not used (%s): nftables instead\n",
			err);
		if (on) {
			ebpf_rollback();
			return -1;
		}
		tc_intake_flush(&n, err, sizeof(err));
		rs->ebpf = 0;
	} else if (!rs->ebpf && (cfg->ebpf != INTAKE_EBPF_OFF || tc_intake_installed())) {
		tc_intake_flush(&n, err, sizeof(err));
	}
	return 0;
}

/* Policy routing, the eBPF parts, the table: 0 or -1 (said why; the eBPF
 * parts taken away again, the previous table unchanged). */
static int rules_install(const struct config *cfg, struct ruleset *rs)
{
	char err[256];
	unsigned removed;
	int rc;

	/* Policy routing first: without the marking rules it routes nothing,
	 * and the table must not mark packets nobody routes. Redirect mode
	 * needs none: what a previous TPROXY setup left goes. */
	rc = rs->tproxy || rs->udp
		 ? policy_route_apply(rs->tproxy_mark, rs->tproxy_table, err, sizeof(err))
		 : policy_route_flush(&removed, err, sizeof(err));
	if (rc < 0)
		goto fail;
	if (install_ebpf(cfg, rs) < 0)
		return -1;
	rc = nft_apply(rs, err, sizeof(err));
	if (rc < 0) {
		if (rs->ebpf || rs->ebpf_cgroups)
			ebpf_rollback();
		snprintf(err + strlen(err), sizeof(err) - strlen(err),
			 "; the previous ruleset is unchanged");
		goto fail;
	}
	if (rs->ebpf && rs->tproxy)
		hand_listeners_to_tc(cfg);
	return 0;
fail:
	fprintf(stderr, "sockgate: rules apply: %s\n", err);
	if (rc == -EPERM)
		fprintf(stderr, "sockgate: (run it as root, or with CAP_NET_ADMIN)\n");
	return -1;
}

/* [dns] hijack: where each family's port 53 goes, as an array of
 * addresses, or in words on stdout. */
static json_t *hijack_report(const struct ruleset *rs, int json)
{
	const struct sockaddr_storage *t[2] = { &rs->hijack4, &rs->hijack6 };
	json_t *list = json ? json_array() : NULL;
	char a[2][ADDR_STRLEN];

	for (int i = 0; i < 2; i++) {
		if (!t[i]->ss_family)
			snprintf(a[i], sizeof(a[i]), "not hijacked");
		else
			addr_format(t[i], a[i], sizeof(a[i]));
		if (list && t[i]->ss_family)
			json_array_append_new(list, json_string(a[i]));
	}
	if (!json && (t[0]->ss_family || t[1]->ss_family))
		printf(
		    "DNS of intercepted clients (port 53, UDP and TCP, to any server) to the DNS "
		    "service: IPv4 %s, IPv6 %s\n",
		    a[0], a[1]);
	return list;
}

/* What was installed, in words or JSON. */
static void rules_report(const struct cli_opts *opts, const struct config *cfg,
			 const struct ruleset *rs)
{
	if (opts->json)
		json_print(stdout,
			   json_pack("{s:b, s:s, s:s, s:i, s:i, s:b, s:I, s:o*}", "applied", 1,
				     "table", "inet " RULESET_TABLE, "mode",
				     rs->tproxy ? "tproxy" : "redirect", "port",
				     rs->tproxy ? rs->tproxy_port : rs->redirect_port, "udp_port",
				     rs->udp ? rs->tproxy_port : 0, "ebpf", rs->ebpf, "cgroups",
				     (json_int_t)(rs->ebpf_cgroups ? cfg->n_cgroups : 0),
				     "dns_hijack", hijack_report(rs, 1)));
	else if (rs->ebpf)
		printf("table inet %s and the eBPF intake installed: %s from %zu interface(s) by a "
		       "tc program to port %u (mark %#x, routing table %u); %zu+%zu source "
		       "range(s) intercepted by nftables, %zu+%zu destination range(s) bypassed\n",
		       RULESET_TABLE, rs->tproxy ? "TCP and UDP" : "UDP", rs->n_ifaces,
		       rs->tproxy_port, rs->tproxy_mark, rs->tproxy_table, rs->intercept4.n,
		       rs->intercept6.n, rs->bypass4.n, rs->bypass6.n);
	else if (rs->tproxy)
		printf("table inet %s installed: TCP and UDP by TPROXY to port %u (mark %#x, "
		       "routing table %u, IPv4 and IPv6 rules added); %zu interface(s), %zu+%zu "
		       "source range(s) intercepted, %zu+%zu destination range(s) bypassed\n",
		       RULESET_TABLE, rs->tproxy_port, rs->tproxy_mark, rs->tproxy_table,
		       rs->n_ifaces, rs->intercept4.n, rs->intercept6.n, rs->bypass4.n,
		       rs->bypass6.n);
	else
		printf("table inet %s installed: TCP redirected to port %u%s; %zu interface(s), "
		       "%zu+%zu source range(s) intercepted, %zu+%zu destination range(s) "
		       "bypassed\n",
		       RULESET_TABLE, rs->redirect_port,
		       rs->udp ? ", UDP by TPROXY to the tproxy port" : "", rs->n_ifaces,
		       rs->intercept4.n, rs->intercept6.n, rs->bypass4.n, rs->bypass6.n);
	if (!opts->json && rs->ebpf_cgroups)
		printf(
		    "eBPF cgroup hooks attached: TCP from the processes of %zu cgroup(s) goes to "
		    "port %u\n",
		    cfg->n_cgroups, rs->redirect_port);
	if (!opts->json)
		hijack_report(rs, 0);
}

/* A config that intercepts nothing (as shipped) is applied as such: no
 * rules, and none left from an earlier one. */
static int apply_nothing(const struct cli_opts *opts)
{
	char err[256];
	struct removed r;

	if (remove_everything(&r, err, sizeof(err)) < 0) {
		fprintf(stderr, "sockgate: rules apply: %s\n", err);
		return CLI_FAILED;
	}
	if (opts->json)
		json_print(stdout, json_pack("{s:b, s:n, s:b}", "applied", 1, "table",
					     "nothing_to_intercept", 1));
	else
		printf("nothing to intercept ([intake] interfaces names no interface or source): "
		       "no rules installed%s\n",
		       r.table ? "; the previous ones removed" : "");
	return CLI_OK;
}

static int rules_apply(const struct cli_opts *opts, int dry_run)
{
	struct config *cfg = NULL;
	struct ruleset rs;
	int ret = CLI_FAILED;

	if (config_load(opts->config_path, 1, &cfg, stderr)) {
		fprintf(stderr, "sockgate: %s has errors; nothing changed\n", opts->config_path);
		config_free(cfg);
		return CLI_FAILED;
	}
	if (!cfg->n_intercept_ifaces && !cfg->n_intercept_src && !dry_run) {
		ret = apply_nothing(opts);
		config_free(cfg);
		return ret;
	}
	memset(&rs, 0, sizeof(rs));
	if (rules_plan(opts, cfg, &rs) == 0) {
		if (dry_run) {
			ruleset_print_nft(&rs, stdout);
			ret = CLI_OK;
		} else if (rules_install(cfg, &rs) == 0) {
			rules_report(opts, cfg, &rs);
			ret = CLI_OK;
		}
	}
	ruleset_free(&rs);
	config_free(cfg);
	return ret;
}

static int rules_flush(const struct cli_opts *opts)
{
	char err[256];
	struct removed r;

	if (remove_everything(&r, err, sizeof(err)) < 0) {
		fprintf(stderr, "sockgate: rules flush: %s\n", err);
		return CLI_FAILED;
	}
	if (opts->json)
		json_print(stdout, json_pack("{s:b, s:b, s:i, s:i, s:i}", "flushed", 1,
					     "was_installed", r.table, "policy_routes_removed",
					     (int)r.routes, "ebpf_detached", (int)r.detached,
					     "cgroup_links_detached", (int)r.links));
	else
		printf("table inet %s %s%s%s%s\n", RULESET_TABLE,
		       r.table ? "removed" : "was not installed; nothing to remove",
		       r.routes ? "; TPROXY policy routing removed" : "",
		       r.detached ? "; eBPF intake detached" : "",
		       r.links ? "; eBPF cgroup hooks detached" : "");
	return CLI_OK;
}

/* The service stopped: flush, unless when_down = block keeps the LAN off
 * the direct path (a config that cannot be read flushes, as before). */
static int rules_down(const struct cli_opts *opts)
{
	struct config *cfg = NULL;
	int block = 0;

	if (config_load(opts->config_path, 0, &cfg, stderr) == 0)
		block = cfg->when_down_block;
	config_free(cfg);
	if (!block)
		return rules_flush(opts);
	if (opts->json)
		json_print(stdout, json_pack("{s:b, s:s}", "flushed", 0, "when_down", "block"));
	else
		printf("when_down = block: table inet %s stays; the LAN's intercepted TCP is reset "
		       "and its UDP refused until sockgated is back or `sockgate rules flush` "
		       "runs\n",
		       RULESET_TABLE);
	return CLI_OK;
}

/* The interception sets of the installed table; 0, or -1 after saying
 * why. */
static int read_live_sets(json_t *sets[3])
{
	sets[0] = live_sets_ifaces();
	sets[1] = sets[0] ? live_sets_ranges("intercept4", "intercept6") : NULL;
	sets[2] = sets[1] ? live_sets_ranges("bypass4", "bypass6") : NULL;
	if (sets[2])
		return 0;
	json_decref(sets[0]);
	json_decref(sets[1]);
	return -1;
}

/* Sets longer than this are shown by their size unless --all is given. */
#define SHOW_LIST_MAX 32

/* What is in the kernel now, read back over netlink; a long set as its
 * count (all its entries with all). */
static int rules_show(const struct cli_opts *opts, int all)
{
	static const char *const headings[3] = { "intercepted interfaces:", "intercepted sources:",
						 "bypassed destinations:" };
	char err[256];
	int exists = nft_table_exists(err, sizeof(err));
	json_t *sets[3];

	if (exists < 0) {
		fprintf(stderr, "sockgate: rules show: %s\n", err);
		return CLI_FAILED;
	}
	if (!exists) {
		if (opts->json)
			json_print(stdout, json_pack("{s:b}", "installed", 0));
		else
			printf("table inet %s is not installed\n", RULESET_TABLE);
		return CLI_OK;
	}
	if (read_live_sets(sets) < 0)
		return CLI_FAILED;
	if (opts->json) {
		json_t *counts =
		    json_pack("{s:I, s:I, s:I}", "interfaces", (json_int_t)json_array_size(sets[0]),
			      "sources", (json_int_t)json_array_size(sets[1]), "bypass",
			      (json_int_t)json_array_size(sets[2]));
		json_print(stdout, json_pack("{s:b, s:o, s:o, s:o, s:o*}", "installed", 1,
					     "interfaces", sets[0], "sources", sets[1], "bypass",
					     sets[2], "counts", counts));
		return CLI_OK;
	}
	printf("table inet %s is installed\n", RULESET_TABLE);
	for (int i = 0; i < 3; i++) {
		size_t n = json_array_size(sets[i]);
		printf("%s\n", headings[i]);
		if (all || n <= SHOW_LIST_MAX)
			live_sets_print_lines(sets[i]);
		else
			printf("%zu ranges (sockgate rules show --all lists them)\n", n);
		json_decref(sets[i]);
	}
	printf("rules (netlink expressions):\n");
	if (nft_print_rules(stdout, err, sizeof(err)) < 0) {
		fprintf(stderr, "sockgate: rules show: %s\n", err);
		return CLI_FAILED;
	}
	return CLI_OK;
}

int rules_main(int argc, char *argv[], const struct cli_opts *opts)
{
	if (argc >= 2 && !strcmp(argv[1], "apply")) {
		if (argc == 2)
			return rules_apply(opts, 0);
		if (argc == 3 && !strcmp(argv[2], "--dry-run"))
			return rules_apply(opts, 1);
	} else if (argc == 2 && !strcmp(argv[1], "flush")) {
		return rules_flush(opts);
	} else if (argc == 2 && !strcmp(argv[1], "down")) {
		return rules_down(opts);
	} else if (argc >= 2 && argc <= 3 && !strcmp(argv[1], "show")) {
		if (argc == 2 || !strcmp(argv[2], "--all"))
			return rules_show(opts, argc == 3);
	} else if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		rules_usage(stdout);
		return CLI_OK;
	}
	rules_usage(stderr);
	return CLI_USAGE;
}
