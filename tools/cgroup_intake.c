/* Loading, attaching and removing the cgroup intake (see cgroup_intake.h).
 * Model: libbpf-bootstrap's skeleton usage; links pinned in bpffs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_pins.h"
#include "cgroup_intake.h"
#include "cgroup_intake.skel.h"
#include "intake.h"

/* The cgroup v2 mount point, from /proc/mounts (never assumed). */
static int cgroup2_root(char *out, size_t len)
{
	FILE *m = fopen("/proc/mounts", "r");
	char dev[256], dir[4096], type[64];
	int found = 0;

	if (!m)
		return -errno;
	while (!found && fscanf(m, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3)
		if (!strcmp(type, "cgroup2"))
			found = snprintf(out, len, "%s", dir) < (int)len;
	fclose(m);
	return found ? 0 : -ENOENT;
}

int cgroup_intake_probe(char *why, size_t len)
{
	char root[4096];

	bpf_pins_quiet();
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, NULL) != 1 ||
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SOCK_OPS, NULL) != 1 ||
	    libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_CGROUP_SOCKOPT, NULL) != 1) {
		snprintf(why, len,
			 "the kernel has no cgroup connect, sockops or sockopt programs "
			 "(or refuses to load them here)");
		return -EOPNOTSUPP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL) != 1) {
		snprintf(why, len, "the kernel has no socket storage maps (Linux 5.2 or later)");
		return -EOPNOTSUPP;
	}
	if (cgroup2_root(root, sizeof(root)) < 0) {
		snprintf(why, len, "no cgroup v2 hierarchy is mounted");
		return -ENOENT;
	}
	return 0;
}

/* The link pinned at path, detached, then the pin removed; 1 if it was a
 * link. Other objects are only unpinned. */
static int unpin_link(const char *path)
{
	int fd = bpf_obj_get(path), was = 0;

	if (fd >= 0) {
		was = bpf_link_detach(fd) == 0;
		close(fd);
	}
	unlink(path);
	return was;
}

int cgroup_intake_flush(unsigned *detached, char *err, size_t errlen)
{
	DIR *d = opendir(bpf_pin_dir());
	struct dirent *e;

	(void)err;
	(void)errlen;
	bpf_pins_quiet();
	*detached = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "cg_", 3))
			continue;
		*detached += (unsigned)unpin_link(PIN(e->d_name));
	}
	closedir(d);
	bpf_pins_tidy();
	return 0;
}

/* The hooks on each intercepted cgroup: their programs pinned at prog_pin
 * (so `intercept add cgroup` finds them), their links at link_fmt with the
 * cgroup's inode number. */
static const struct cgroup_hook {
	const char *link_fmt;
	const char *prog_pin;
	enum bpf_attach_type type;
} hooks[] = {
	{ "cg_link4_%llu", "cg_prog_connect4", BPF_CGROUP_INET4_CONNECT },
	{ "cg_link6_%llu", "cg_prog_connect6", BPF_CGROUP_INET6_CONNECT },
	{ "cg_peer4_%llu", "cg_prog_getpeername4", BPF_CGROUP_INET4_GETPEERNAME },
	{ "cg_peer6_%llu", "cg_prog_getpeername6", BPF_CGROUP_INET6_GETPEERNAME },
};

#define N_HOOKS (sizeof(hooks) / sizeof(hooks[0]))

static int pin_hook_programs(struct cgroup_intake_bpf *skel)
{
	struct bpf_program *progs[N_HOOKS] = { skel->progs.intake_connect4,
					       skel->progs.intake_connect6,
					       skel->progs.intake_getpeername4,
					       skel->progs.intake_getpeername6 };

	for (size_t i = 0; i < N_HOOKS; i++)
		if (bpf_program__pin(progs[i], PIN(hooks[i].prog_pin)) < 0)
			return -errno;
	return 0;
}

/* The cgroup's directory, open, and the pin names of its links. */
static int cgroup_open(const char *cgroup, char pins[N_HOOKS][PIN_PATH_MAX])
{
	struct stat st;
	int fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	for (size_t i = 0; i < N_HOOKS; i++)
		snprintf(pins[i], PIN_PATH_MAX, PIN(hooks[i].link_fmt),
			 (unsigned long long)st.st_ino);
	return fd;
}

/* Attaches prog to the cgroup open as cg_fd and pins the link at pin. */
static int attach_pinned(struct bpf_program *prog, int cg_fd, const char *pin)
{
	struct bpf_link *link = bpf_program__attach_cgroup(prog, cg_fd);
	int rc;

	if (!link)
		return -errno;
	rc = bpf_link__pin(link, pin);
	bpf_link__destroy(link); /* the pin holds it */
	return rc;
}

/* Every hook's pinned program onto cgroup, each link pinned; all or none. */
static int attach_cgroup(const char *cgroup, char *err, size_t errlen)
{
	char pins[N_HOOKS][PIN_PATH_MAX];
	size_t made = 0;
	int fd = cgroup_open(cgroup, pins), rc = 0;

	if (fd < 0) {
		snprintf(err, errlen, "cgroup %s: %s", cgroup, strerror(-fd));
		return fd;
	}
	for (; made < N_HOOKS; made++) {
		DECLARE_LIBBPF_OPTS(bpf_link_create_opts, opts);
		int prog = bpf_obj_get(PIN(hooks[made].prog_pin)), link = -1;

		if (prog < 0) {
			rc = -errno;
			snprintf(err, errlen,
				 "the cgroup intake is not installed (sockgate rules apply with "
				 "[intake] cgroups)");
			break;
		}
		link = bpf_link_create(prog, fd, hooks[made].type, &opts);
		if (link < 0 || bpf_obj_pin(link, pins[made]) < 0) {
			rc = -errno;
			snprintf(err, errlen, "cgroup %s: %s", cgroup, strerror(errno));
		}
		/* the pin holds the link now (or, unpinned, it goes with the fd) */
		if (link >= 0)
			close(link);
		close(prog);
		if (rc < 0)
			break;
	}
	while (rc < 0 && made > 0)
		unpin_link(pins[--made]);
	close(fd);
	return rc;
}

/* The bypass ranges of the config, and this host's own addresses. */
static int fill_bypass(struct cgroup_intake_bpf *skel, const struct ruleset *rs)
{
	int fd4 = bpf_map__fd(skel->maps.cg_bypass4), fd6 = bpf_map__fd(skel->maps.cg_bypass6);
	struct ifaddrs *ifa = NULL;
	int rc = bpf_lpm_add_set(fd4, &rs->bypass4);

	if (rc == 0)
		rc = bpf_lpm_add_set(fd6, &rs->bypass6);
	if (rc < 0 || getifaddrs(&ifa) < 0)
		return rc < 0 ? rc : -errno;
	for (struct ifaddrs *p = ifa; p && rc == 0; p = p->ifa_next) {
		struct interval one;
		if (!p->ifa_addr)
			continue;
		if (p->ifa_addr->sa_family == AF_INET) {
			memcpy(one.lo, &((struct sockaddr_in *)p->ifa_addr)->sin_addr, 4);
			memcpy(one.hi, one.lo, 4);
			rc = bpf_lpm_add_range(fd4, &one, 4);
		} else if (p->ifa_addr->sa_family == AF_INET6) {
			memcpy(one.lo, &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr, 16);
			memcpy(one.hi, one.lo, 16);
			rc = bpf_lpm_add_range(fd6, &one, 16);
		}
	}
	freeifaddrs(ifa);
	return rc;
}

int cgroup_intake_apply(const struct ruleset *rs, char *const *cgroups, size_t n, char *err,
			size_t errlen)
{
	struct cgroup_intake_bpf *skel = NULL;
	char root[4096];
	unsigned old;
	int rc, root_fd = -1;

	rc = bpf_pins_ready(err, errlen);
	if (rc < 0)
		return rc;
	rc = cgroup2_root(root, sizeof(root));
	if (rc < 0) {
		snprintf(err, errlen, "no cgroup v2 hierarchy is mounted");
		return rc;
	}
	skel = cgroup_intake_bpf__open();
	if (!skel) {
		rc = -errno;
		snprintf(err, errlen, "opening the cgroup intake programs: %s", strerror(errno));
		return rc;
	}
	skel->rodata->redirect_port = rs->redirect_port;
	skel->rodata->daemon_mark = rs->daemon_mark;
	/* bypass lists of any size: the maps are made to measure (the
	 * router's own addresses go in too) */
	if (bpf_map__set_max_entries(skel->maps.cg_bypass4, bpf_lpm_map_size(&rs->bypass4) + 256) ||
	    bpf_map__set_max_entries(skel->maps.cg_bypass6, bpf_lpm_map_size(&rs->bypass6) + 256)) {
		rc = -EINVAL;
		snprintf(err, errlen, "sizing the bypass maps");
		goto out;
	}
	/* the verifier's word, should it refuse, reaches the log */
	bpf_pins_log_libbpf();
	rc = cgroup_intake_bpf__load(skel);
	bpf_pins_quiet(); /* detaching where nothing is attached is expected */
	if (rc < 0) {
		snprintf(err, errlen, "loading the cgroup intake programs: %s", strerror(-rc));
		goto out;
	}
	rc = fill_bypass(skel, rs);
	if (rc < 0) {
		snprintf(err, errlen, "filling the cgroup bypass maps: %s", strerror(-rc));
		goto out;
	}
	/* the previous version goes first: pins have fixed names */
	cgroup_intake_flush(&old, err, errlen);
	rc = bpf_pins_ready(err, errlen);
	if (rc < 0)
		goto out;
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", root, strerror(errno));
		goto out;
	}
	if (pin_hook_programs(skel) < 0 ||
	    bpf_map__pin(skel->maps.pending, PIN("cg_pending")) < 0 ||
	    bpf_map__pin(skel->maps.cg_counters, PIN("cg_counters")) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pinning under %s: %s", bpf_pin_dir(), strerror(errno));
		goto fail;
	}
	rc = attach_pinned(skel->progs.intake_sockops, root_fd, PIN("cg_root_sockops"));
	if (rc == 0)
		rc = attach_pinned(skel->progs.intake_getsockopt, root_fd,
				   PIN("cg_root_getsockopt"));
	if (rc < 0) {
		snprintf(err, errlen, "attaching to the cgroup v2 root %s: %s", root,
			 strerror(-rc));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		rc = attach_cgroup(cgroups[i], err, errlen);
		if (rc < 0)
			goto fail;
	}
	rc = 0;
	goto out;
fail : {
	char ignored[8];
	cgroup_intake_flush(&old, ignored, sizeof(ignored));
}
out:
	if (root_fd >= 0)
		close(root_fd);
	cgroup_intake_bpf__destroy(skel);
	return rc;
}

int cgroup_intake_change(const char *path, int add, char *err, size_t errlen)
{
	char pins[N_HOOKS][PIN_PATH_MAX];
	int fd, found = 0;

	bpf_pins_quiet();
	if (add)
		return attach_cgroup(path, err, errlen);
	fd = cgroup_open(path, pins);
	if (fd < 0) {
		snprintf(err, errlen, "cgroup %s: %s", path, strerror(-fd));
		return fd;
	}
	close(fd);
	for (size_t i = 0; i < N_HOOKS; i++)
		found |= unpin_link(pins[i]);
	if (!found) {
		snprintf(err, errlen, "cgroup %s is not intercepted", path);
		return -ENOENT;
	}
	return 0;
}

unsigned cgroup_intake_count(void)
{
	DIR *d = opendir(bpf_pin_dir());
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "cg_link4_", 9);
	closedir(d);
	return n;
}
