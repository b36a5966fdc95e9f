/* What the CLI's BPF loaders share: the pin directory and quiet libbpf. */
#ifndef SOCKGATE_BPF_PINS_H
#define SOCKGATE_BPF_PINS_H

#include <stddef.h>

#define BPF_PIN_ROOT "/sys/fs/bpf/sockgate"
#define PIN_PATH_MAX 192

/* Where this network namespace's objects are pinned: BPF_PIN_ROOT/netns-
 * INODE (the namespace's inode number), so that the rules of one namespace
 * (apply, flush) never touch another's intake. */
const char *bpf_pin_dir(void);
/* bpf_pin_dir()/name, in one of a few rotating buffers (the CLI is single-
 * threaded; up to eight may be in use at once). */
const char *bpf_pin(const char *name);
#define PIN(name) bpf_pin(name)

/* bpffs at /sys/fs/bpf (mounted when the system has not) and bpf_pin_dir();
 * 0 or -errno with a message in err. Also silences libbpf's own printing:
 * failures are reported by the callers, once (loading excepted, see
 * bpf_pins_log_libbpf). */
int bpf_pins_ready(char *err, size_t errlen);
/* libbpf says nothing (probing what the kernel offers, detaching where
 * nothing may be attached: a no is expected). */
void bpf_pins_quiet(void);
/* libbpf's warnings go to our log as warnings, its information at debug
 * level: around loading a program, where a verifier's rejection says why. */
void bpf_pins_log_libbpf(void);
/* Removes bpf_pin_dir() (and BPF_PIN_ROOT) when empty. */
void bpf_pins_tidy(void);

struct interval;
/* Puts the CIDR blocks that cover range v (len 4 or 16 bytes) into the
 * LPM trie map fd (keys: 32-bit prefix length, then the address). */
int bpf_lpm_add_range(int fd, const struct interval *v, size_t len);
struct interval_set;
/* The same for every range of is; 0 or -errno. */
int bpf_lpm_add_set(int fd, const struct interval_set *is);
/* How many entries an LPM map for is should hold: its CIDR blocks and room
 * for live additions, at least BPF_LPM_MIN. */
#define BPF_LPM_MIN   16384
#define BPF_LPM_SPARE 4096
uint32_t bpf_lpm_map_size(const struct interval_set *is);

#endif
