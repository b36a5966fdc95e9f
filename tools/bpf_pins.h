/* What the CLI's BPF loaders share: the pin directory and quiet libbpf. */
#ifndef SOCKGATE_BPF_PINS_H
#define SOCKGATE_BPF_PINS_H

#include <stddef.h>

#define BPF_PIN_DIR "/sys/fs/bpf/sockgate"

/* bpffs at /sys/fs/bpf (mounted when the system has not) and BPF_PIN_DIR;
 * 0 or -errno with a message in err. Also silences libbpf's own printing:
 * failures are reported by the callers, once. */
int bpf_pins_ready(char *err, size_t errlen);
void bpf_pins_quiet(void);
/* Removes BPF_PIN_DIR when it is empty. */
void bpf_pins_tidy(void);

struct interval;
/* Puts the CIDR blocks that cover range v (len 4 or 16 bytes) into the
 * LPM trie map fd (keys: 32-bit prefix length, then the address). */
int bpf_lpm_add_range(int fd, const struct interval *v, size_t len);
struct interval_set;
/* The same for every range of is; 0 or -errno. */
int bpf_lpm_add_set(int fd, const struct interval_set *is);

#endif
