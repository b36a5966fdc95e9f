/* The eBPF intake for the router's own processes, by cgroup
 * (bpf/cgroup_intake.bpf.c): connect hooks on the intercepted cgroups send
 * their TCP to sockgated's redirect listener, and sockops and getsockopt
 * hooks on the cgroup v2 root answer sockgated's SO_ORIGINAL_DST. Attached
 * with libbpf links pinned under bpf_pin_dir() ("cg_*"). Functions return 0
 * or -errno with a message in err. */
#ifndef SOCKGATE_CGROUP_INTAKE_H
#define SOCKGATE_CGROUP_INTAKE_H

#include <stddef.h>

#include "ruleset.h"

/* Whether this kernel and system can run it (program types, socket
 * storage, a cgroup v2 mount); if not, why. */
int cgroup_intake_probe(char *why, size_t len);
/* Replaces what a previous apply attached: loads the programs for rs (its
 * redirect port and daemon mark, its bypass ranges and this host's own
 * addresses), attaches the root hooks and the connect hooks of each of
 * the n cgroups, and pins everything. */
int cgroup_intake_apply(const struct ruleset *rs, char *const *cgroups, size_t n, char *err,
			size_t errlen);
/* Detaches and unpins everything; *detached counts the links. */
int cgroup_intake_flush(unsigned *detached, char *err, size_t errlen);
/* `sockgate intercept add|del cgroup PATH` on the pinned programs. */
int cgroup_intake_change(const char *path, int add, char *err, size_t errlen);
/* How many cgroups are intercepted now (0 when nothing is pinned). */
unsigned cgroup_intake_count(void);

#endif
