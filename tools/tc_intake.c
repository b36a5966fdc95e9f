/* Loading, attaching and removing the tc intake program (see tc_intake.h).
 * Model: libbpf-bootstrap's skeleton usage, libbpf's bpf_tc_* API. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "bpf_pins.h"
#include "intake.h"
#include "tc_intake.h"
#include "tc_intake.skel.h"

/* Our filter on each interface's clsact ingress: handle "SG", first. */
#define TC_HANDLE 0x5347
#define TC_PRIO	  1

/* replaced by each apply */
static const char *const pins_replaced[] = { "tc_intake", "bypass4", "bypass6", "counters",
					     "takeover" };
/* carried over: the listeners handed in, the socket lookup link (given
 * the new program), the interfaces whose clsact we made */
static const char *const pins_kept[] = { "listeners", "tc_takeover", "clsact_made" };

int tc_intake_probe(char *why, size_t len)
{
	bpf_pins_quiet();
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL) != 1) {
		snprintf(why, len, "the kernel has no tc (SCHED_CLS) BPF programs");
		return -EOPNOTSUPP;
	}
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_sk_assign, NULL) != 1) {
		snprintf(why, len, "the kernel has no bpf_sk_assign (Linux 5.7 or later needed)");
		return -EOPNOTSUPP;
	}
	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_fib_lookup, NULL) != 1) {
		snprintf(why, len, "the kernel has no bpf_fib_lookup for tc programs");
		return -EOPNOTSUPP;
	}
	/* without it a SYN meeting a TIME_WAIT of sockgated's would stall */
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SK_LOOKUP, NULL) != 1) {
		snprintf(why, len,
			 "the kernel has no socket lookup (SK_LOOKUP) programs (Linux 5.9 or "
			 "later needed)");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int listed(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_ifaces; i++)
		if (!strcmp(rs->ifaces[i], name))
			return 1;
	return 0;
}

/* Takes our filter off ifindex; clsact goes too when we made it. */
static int detach_one(int ifindex, int made_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	uint8_t made = 0;
	int rc = bpf_tc_detach(&hook, &opts);

	if (made_fd >= 0 && bpf_map_lookup_elem(made_fd, &ifindex, &made) == 0 && made) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
		bpf_map_delete_elem(made_fd, &ifindex);
	}
	return rc == 0;
}

/* Puts prog_fd on interface name (its clsact made if missing, and noted in
 * made_fd so flush takes it away again). */
static int attach_one(const char *name, int prog_fd, int made_fd, char *err, size_t errlen)
{
	int ifindex = (int)if_nametoindex(name);
	uint8_t one = 1;
	int rc;

	if (!ifindex) {
		snprintf(err, errlen, "interface %s: no such interface", name);
		return -ENODEV;
	}
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	rc = bpf_tc_hook_create(&hook);
	if (rc == 0) {
		if (made_fd >= 0)
			bpf_map_update_elem(made_fd, &ifindex, &one, BPF_ANY);
	} else if (rc != -EEXIST) {
		snprintf(err, errlen, "clsact on %s: %s", name, strerror(-rc));
		return rc;
	}
	rc = bpf_tc_attach(&hook, &opts);
	if (rc < 0)
		snprintf(err, errlen, "attaching to %s: %s", name, strerror(-rc));
	return rc;
}

#define N_PINS(a) (sizeof(a) / sizeof((a)[0]))

static void unpin_all(void)
{
	for (size_t i = 0; i < N_PINS(pins_replaced); i++)
		unlink(PIN(pins_replaced[i]));
	/* unpinning the link detaches the socket lookup program */
	for (size_t i = 0; i < N_PINS(pins_kept); i++)
		unlink(PIN(pins_kept[i]));
}

/* The socket lookup program on this network namespace, through the
 * pinned link: given the new program when there is one (atomically),
 * else attached and pinned. Without TCP to take, the link goes. */
static int attach_takeover(struct tc_intake_bpf *skel, int handle_tcp, char *err, size_t errlen)
{
	struct bpf_link *link = NULL;
	int link_fd, netns_fd, rc = 0;

	if (!handle_tcp) {
		unlink(PIN("tc_takeover"));
		return 0;
	}
	link_fd = bpf_obj_get(PIN("tc_takeover"));
	if (link_fd >= 0) {
		rc = bpf_link_update(link_fd, bpf_program__fd(skel->progs.intake_takeover), NULL);
		close(link_fd);
		if (rc == 0)
			return 0;
		/* a link of another namespace or a stale pin: made anew */
		unlink(PIN("tc_takeover"));
	}
	netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (netns_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "/proc/self/ns/net: %s", strerror(errno));
		return rc;
	}
	link = bpf_program__attach_netns(skel->progs.intake_takeover, netns_fd);
	close(netns_fd);
	rc = libbpf_get_error(link);
	if (rc) {
		link = NULL;
		snprintf(err, errlen, "attaching the socket lookup program: %s", strerror(-rc));
		goto out;
	}
	rc = bpf_link__pin(link, PIN("tc_takeover"));
	if (rc < 0)
		snprintf(err, errlen, "pinning the socket lookup link: %s", strerror(-rc));
out:
	/* the pin holds the attachment now */
	bpf_link__destroy(link);
	return rc;
}

int tc_intake_apply(const struct ruleset *rs, char *err, size_t errlen)
{
	struct tc_intake_bpf *skel = NULL;
	struct if_nameindex *all = NULL;
	int rc, prog_fd, made_fd, listeners_fd = -1;

	bpf_pins_quiet();
	rc = bpf_pins_ready(err, errlen);
	if (rc < 0)
		return rc;
	skel = tc_intake_bpf__open();
	if (!skel) {
		rc = -errno;
		snprintf(err, errlen, "opening the tc intake program: %s", strerror(errno));
		return rc;
	}
	skel->rodata->tproxy_port = rs->tproxy_port;
	skel->rodata->tproxy_mark = rs->tproxy_mark;
	skel->rodata->daemon_mark = rs->daemon_mark;
	skel->rodata->handle_tcp = rs->tproxy;
	skel->rodata->leave_dns4 = rs->hijack4.ss_family != 0;
	skel->rodata->leave_dns6 = rs->hijack6.ss_family != 0;
	/* bypass lists of any size: the maps are made to measure */
	if (bpf_map__set_max_entries(skel->maps.bypass4, bpf_lpm_map_size(&rs->bypass4)) ||
	    bpf_map__set_max_entries(skel->maps.bypass6, bpf_lpm_map_size(&rs->bypass6))) {
		rc = -EINVAL;
		snprintf(err, errlen, "sizing the bypass maps");
		goto out;
	}
	/* listeners handed in earlier stay (the daemon has not changed) */
	listeners_fd = bpf_obj_get(PIN("listeners"));
	if (listeners_fd >= 0 && bpf_map__reuse_fd(skel->maps.listeners, listeners_fd) < 0) {
		close(listeners_fd);
		listeners_fd = -1;
		unlink(PIN("listeners"));
	}
	/* the verifier's word, should it refuse, reaches the log */
	bpf_pins_log_libbpf();
	rc = tc_intake_bpf__load(skel);
	bpf_pins_quiet(); /* detaching where nothing is attached is expected */
	if (rc < 0) {
		snprintf(err, errlen, "loading the tc intake program: %s", strerror(-rc));
		goto out;
	}
	rc = bpf_lpm_add_set(bpf_map__fd(skel->maps.bypass4), &rs->bypass4);
	if (rc == 0)
		rc = bpf_lpm_add_set(bpf_map__fd(skel->maps.bypass6), &rs->bypass6);
	if (rc < 0) {
		snprintf(err, errlen, "filling the bypass maps: %s", strerror(-rc));
		goto out;
	}
	/* the set of interfaces clsact was made on carries over from the
	 * previous version, so flush can take it away */
	made_fd = bpf_obj_get(PIN("clsact_made"));
	if (made_fd < 0) {
		made_fd =
		    bpf_map_create(BPF_MAP_TYPE_HASH, "sg_clsact_made", sizeof(int), 1, 1024, NULL);
		if (made_fd < 0 || bpf_obj_pin(made_fd, PIN("clsact_made")) < 0) {
			rc = -errno;
			snprintf(err, errlen, "the clsact map: %s", strerror(errno));
			goto out;
		}
	}
	prog_fd = bpf_program__fd(skel->progs.intake_ingress);
	for (size_t i = 0; i < rs->n_ifaces; i++) {
		rc = attach_one(rs->ifaces[i], prog_fd, made_fd, err, errlen);
		if (rc < 0)
			goto out_made;
	}
	/* interfaces the previous version was on and this one is not */
	all = if_nameindex();
	for (struct if_nameindex *p = all; p && p->if_index; p++)
		if (!listed(rs, p->if_name))
			detach_one((int)p->if_index, made_fd);
	rc = attach_takeover(skel, rs->tproxy, err, errlen);
	if (rc < 0)
		goto out_made;
	/* the new maps and program replace the pins of the previous ones */
	for (size_t i = 0; i < N_PINS(pins_replaced); i++)
		unlink(PIN(pins_replaced[i]));
	if (bpf_program__pin(skel->progs.intake_ingress, PIN("tc_intake")) < 0 ||
	    bpf_map__pin(skel->maps.bypass4, PIN("bypass4")) < 0 ||
	    bpf_map__pin(skel->maps.bypass6, PIN("bypass6")) < 0 ||
	    bpf_map__pin(skel->maps.counters, PIN("counters")) < 0 ||
	    bpf_map__pin(skel->maps.takeover, PIN("takeover")) < 0 ||
	    (listeners_fd < 0 && bpf_map__pin(skel->maps.listeners, PIN("listeners")) < 0)) {
		rc = -errno;
		snprintf(err, errlen, "pinning under %s: %s", bpf_pin_dir(), strerror(errno));
		goto out_made;
	}
	rc = 0;
out_made:
	close(made_fd);
out:
	if (listeners_fd >= 0)
		close(listeners_fd);
	if (all)
		if_freenameindex(all);
	tc_intake_bpf__destroy(skel);
	return rc;
}

int tc_intake_set_listeners(const int fds[2], char *err, size_t errlen)
{
	int map_fd = bpf_obj_get(PIN("listeners")), rc = 0;

	if (map_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "the eBPF listener map: %s", strerror(errno));
		return rc;
	}
	for (uint32_t slot = 0; slot < INTAKE_LISTENER_SLOTS && rc == 0; slot++) {
		uint64_t value = (uint64_t)fds[slot];
		if (fds[slot] < 0)
			bpf_map_delete_elem(map_fd, &slot);
		else if (bpf_map_update_elem(map_fd, &slot, &value, BPF_ANY) < 0) {
			rc = -errno;
			snprintf(err, errlen, "the eBPF listener map: %s", strerror(errno));
		}
	}
	close(map_fd);
	return rc;
}

int tc_intake_listeners(void)
{
	int map_fd = bpf_obj_get(PIN("listeners")), n = 0;
	uint64_t cookie;

	if (map_fd < 0)
		return 0;
	for (uint32_t slot = 0; slot < INTAKE_LISTENER_SLOTS; slot++)
		n += bpf_map_lookup_elem(map_fd, &slot, &cookie) == 0;
	close(map_fd);
	return n;
}

int tc_intake_flush(unsigned *detached, char *err, size_t errlen)
{
	struct if_nameindex *all = if_nameindex();
	int made_fd = bpf_obj_get(PIN("clsact_made"));

	(void)err;
	(void)errlen;
	bpf_pins_quiet();
	*detached = 0;
	for (struct if_nameindex *p = all; p && p->if_index; p++)
		*detached += (unsigned)detach_one((int)p->if_index, made_fd);
	if (all)
		if_freenameindex(all);
	if (made_fd >= 0)
		close(made_fd);
	unpin_all();
	bpf_pins_tidy();
	return 0;
}

int tc_intake_installed(void)
{
	return access(PIN("tc_intake"), F_OK) == 0;
}

/* Whether key (4 + len bytes) is one of the blocks covering is. */
static int lpm_key_wanted(const struct interval_set *is, const uint8_t *key, size_t len)
{
	uint32_t prefixlen;
	uint8_t last[16];

	memcpy(&prefixlen, key, 4);
	if (prefixlen > len * 8)
		return 0;
	memcpy(last, key + 4, len);
	for (unsigned b = prefixlen; b < len * 8; b++)
		last[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	/* a block we add never spans two ranges, so it is wanted when one
	 * range holds it whole; the exact split is rebuilt by lpm_add_range */
	for (size_t i = 0; i < is->n; i++)
		if (memcmp(key + 4, is->v[i].lo, len) >= 0 && memcmp(last, is->v[i].hi, len) <= 0)
			return 1;
	return 0;
}

int tc_intake_set_bypass(const struct interval_set *is, char *err, size_t errlen)
{
	size_t len = is->family == AF_INET ? 4 : 16;
	int fd = bpf_obj_get(is->family == AF_INET ? PIN("bypass4") : PIN("bypass6"));
	uint8_t key[4 + 16], next[4 + 16];
	int rc = 0, have = 0;

	if (fd < 0) {
		snprintf(err, errlen, "the eBPF bypass map: %s", strerror(errno));
		return -errno;
	}
	rc = bpf_lpm_add_set(fd, is);
	if (rc < 0) {
		snprintf(err, errlen, "the eBPF bypass map: %s", strerror(-rc));
		goto out;
	}
	/* stale blocks: deleting the current key would lose the iteration,
	 * so each is deleted once the next one is known */
	while (bpf_map_get_next_key(fd, have ? key : NULL, next) == 0) {
		if (have && !lpm_key_wanted(is, key, len))
			bpf_map_delete_elem(fd, key);
		memcpy(key, next, sizeof(key));
		have = 1;
	}
	if (have && !lpm_key_wanted(is, key, len))
		bpf_map_delete_elem(fd, key);
out:
	close(fd);
	return rc;
}

int tc_intake_change_iface(const char *name, int add, char *err, size_t errlen)
{
	int made_fd = bpf_obj_get(PIN("clsact_made"));
	int prog_fd = -1, rc = 0;

	if (!add) {
		int ifindex = (int)if_nametoindex(name);
		if (ifindex)
			detach_one(ifindex, made_fd);
		goto out;
	}
	prog_fd = bpf_obj_get(PIN("tc_intake"));
	if (prog_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "the pinned eBPF intake: %s", strerror(errno));
		goto out;
	}
	rc = attach_one(name, prog_fd, made_fd, err, errlen);
out:
	if (prog_fd >= 0)
		close(prog_fd);
	if (made_fd >= 0)
		close(made_fd);
	return rc;
}
