/* The pin directory of sockgate's BPF objects (see bpf_pins.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <bpf/bpf.h>

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
	if (mkdir(BPF_PIN_DIR, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", BPF_PIN_DIR, strerror(errno));
		return -errno;
	}
	return 0;
}

void bpf_pins_tidy(void)
{
	rmdir(BPF_PIN_DIR); /* fails, harmlessly, while anything is pinned */
}

/* The CIDR blocks covering range v (len 4 or 16 bytes) go into map fd. */
int bpf_lpm_add_range(int fd, const struct interval *v, size_t len)
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
		if (bpf_map_update_elem(fd, key, &one, BPF_ANY) < 0)
			return -errno;
		if (!memcmp(last, v->hi, len) || interval_successor(last, lo, len) < 0)
			return 0;
	}
}

int bpf_lpm_add_set(int fd, const struct interval_set *is)
{
	size_t len = is->family == AF_INET ? 4 : 16;
	int rc = 0;

	for (size_t i = 0; i < is->n && rc == 0; i++)
		rc = bpf_lpm_add_range(fd, &is->v[i], len);
	return rc;
}
