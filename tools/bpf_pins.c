/* The pin directory of sockgate's BPF objects (see bpf_pins.h). */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <bpf/bpf.h>

#include "sockgate/log.h"
#include "bpf_pins.h"
#include "ruleset.h"

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

void bpf_pins_quiet(void)
{
	libbpf_set_print(silent_print);
}

/* libbpf's warnings (a verifier rejection's log among them) as our
 * warnings, its information at debug level, its debugging not at all. */
static int routed_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char text[4096];

	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && log_get_level() < LOG_LEVEL_DEBUG))
		return 0;
	vsnprintf(text, sizeof(text), fmt, ap);
	log_lines(level == LIBBPF_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG, text);
	return 0;
}

void bpf_pins_log_libbpf(void)
{
	libbpf_set_print(routed_print);
}

const char *bpf_pin_dir(void)
{
	static char dir[64];
	struct stat self;

	if (dir[0])
		return dir;
	/* which namespace is the host's cannot always be told from inside
	 * a container (PID 1's may be out of reach): every one has its own */
	if (stat("/proc/self/ns/net", &self) == 0)
		snprintf(dir, sizeof(dir), "%s/netns-%llu", BPF_PIN_ROOT,
			 (unsigned long long)self.st_ino);
	else
		snprintf(dir, sizeof(dir), "%s", BPF_PIN_ROOT);
	return dir;
}

const char *bpf_pin(const char *name)
{
	static char ring[8][PIN_PATH_MAX];
	static unsigned next;
	char *buf = ring[next++ % 8];

	snprintf(buf, sizeof(ring[0]), "%s/%s", bpf_pin_dir(), name);
	return buf;
}

/* Pins of versions that kept every namespace's objects in BPF_PIN_ROOT
 * itself: unpinned, which detaches their links, before this namespace's
 * objects go in (or once they have gone). */
static void sweep_legacy(void)
{
	DIR *d = opendir(BPF_PIN_ROOT);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_type != DT_DIR && e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

int bpf_pins_ready(char *err, size_t errlen)
{
	FILE *m = fopen("/proc/mounts", "r");
	char dev[256], dir[256], type[64];
	int mounted = 0;

	bpf_pins_quiet();
	if (m) {
		while (fscanf(m, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3)
			if (!strcmp(dir, "/sys/fs/bpf") && !strcmp(type, "bpf"))
				mounted = 1;
		fclose(m);
	}
	if (!mounted && mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0) {
		snprintf(err, errlen, "mounting bpffs at /sys/fs/bpf: %s", strerror(errno));
		return -errno;
	}
	sweep_legacy();
	if ((mkdir(BPF_PIN_ROOT, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(bpf_pin_dir(), 0700) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "%s: %s", bpf_pin_dir(), strerror(errno));
		return -errno;
	}
	return 0;
}

void bpf_pins_tidy(void)
{
	/* fail, harmlessly, while anything (another namespace's) is pinned */
	sweep_legacy();
	rmdir(bpf_pin_dir());
	rmdir(BPF_PIN_ROOT);
}

/* The CIDR blocks covering range v (len 4 or 16 bytes) go into map fd;
 * with fd < 0 they are only counted into *n. 0 or -errno. */
static int lpm_blocks(int fd, const struct interval *v, size_t len, size_t *n)
{
	uint8_t lo[16], key[4 + 16], one = 1;
	unsigned bits = (unsigned)len * 8;

	memcpy(lo, v->lo, len);
	for (;;) {
		unsigned p = 0;
		uint8_t last[16];
		/* the largest block starting at lo that ends within the range */
		for (p = 0; p <= bits; p++) {
			int aligned = 1;
			for (unsigned b = p; b < bits && aligned; b++)
				aligned = !(lo[b / 8] & (0x80 >> (b % 8)));
			if (!aligned)
				continue;
			memcpy(last, lo, len);
			for (unsigned b = p; b < bits; b++)
				last[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			if (memcmp(last, v->hi, len) <= 0)
				break;
		}
		uint32_t prefixlen = p;
		memcpy(key, &prefixlen, 4);
		memcpy(key + 4, lo, len);
		if (fd < 0)
			++*n;
		else if (bpf_map_update_elem(fd, key, &one, BPF_ANY) < 0)
			return -errno;
		if (!memcmp(last, v->hi, len) || interval_successor(last, lo, len) < 0)
			return 0;
	}
}

int bpf_lpm_add_range(int fd, const struct interval *v, size_t len)
{
	return lpm_blocks(fd, v, len, NULL);
}

int bpf_lpm_add_set(int fd, const struct interval_set *is)
{
	size_t len = is->family == AF_INET ? 4 : 16;
	int rc = 0;

	for (size_t i = 0; i < is->n && rc == 0; i++)
		rc = lpm_blocks(fd, &is->v[i], len, NULL);
	return rc;
}

uint32_t bpf_lpm_map_size(const struct interval_set *is)
{
	size_t len = is->family == AF_INET ? 4 : 16, n = 0;

	for (size_t i = 0; i < is->n; i++)
		lpm_blocks(-1, &is->v[i], len, &n);
	/* room for live additions (sockgate bypass add) */
	n += BPF_LPM_SPARE;
	return n < BPF_LPM_MIN ? BPF_LPM_MIN : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}
