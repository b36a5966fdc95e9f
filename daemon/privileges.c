/* Giving up root outside systemd (see privileges.h). Capabilities are set
 * with the raw capset(2) interface: three bits do not need libcap. */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privileges.h"

/* what the data path needs after the start */
static const int kept[] = { CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE };

static int is_kept(int cap)
{
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (kept[i] == cap)
			return 1;
	return 0;
}

int privileges_should_drop(const char *user)
{
	/* by what we are, not by what the environment says: an inherited
	 * $INVOCATION_ID must not keep root */
	return geteuid() == 0 && strcmp(user, "root") != 0;
}

int privileges_drop(const char *user, char *err, size_t errlen)
{
	struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	struct passwd *pw = getpwnam(user);
	struct group *g = getgrnam("sockgate");
	gid_t gid;

	if (!pw) {
		snprintf(err, errlen, "[daemon] user %s: no such user", user);
		return -ENOENT;
	}
	gid = g ? g->gr_gid : pw->pw_gid;
	/* the bounding set first: dropping from it needs CAP_SETPCAP, which
	 * goes with root */
	for (int cap = 0; cap <= 63; cap++) {
		if (is_kept(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
			snprintf(err, errlen, "dropping capability %d: %s", cap, strerror(errno));
			return -errno;
		}
	}
	/* keep the permitted set across the uid change, then trim it */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &gid) < 0 ||
	    setresgid(gid, gid, gid) < 0 || setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		snprintf(err, errlen, "becoming %s: %s", user, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		data[kept[i] / 32].permitted |= 1u << (kept[i] % 32);
		data[kept[i] / 32].effective |= 1u << (kept[i] % 32);
	}
	if (syscall(SYS_capset, &head, data) < 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
		snprintf(err, errlen,
			 "keeping CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE: %s",
			 strerror(errno));
		return -errno;
	}
	/* root cannot be had back */
	if (setuid(0) == 0) {
		snprintf(err, errlen, "still able to become root after dropping it");
		return -EPERM;
	}
	return 0;
}
