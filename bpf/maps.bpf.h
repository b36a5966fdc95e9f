/* Map shapes both intake programs use (kernel side only). */
#ifndef SOCKGATE_MAPS_BPF_H
#define SOCKGATE_MAPS_BPF_H

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

/* An LPM trie of destinations never intercepted; key: intake_lpm4/6. */
#define BYPASS_MAP(name, key_type)                                                                 \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                                               \
		__type(key, key_type);                                                             \
		__type(value, __u8);                                                               \
		__uint(max_entries, 16384);                                                        \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
	} name SEC(".maps")

/* Per-CPU event counters, n slots, and count(slot) adding one. */
#define COUNTERS_MAP(name, n)                                                                      \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
		__uint(max_entries, n);                                                            \
	} name SEC(".maps");                                                                       \
	static __always_inline void count(__u32 which)                                             \
	{                                                                                          \
		__u64 *c = bpf_map_lookup_elem(&name, &which);                                     \
		if (c)                                                                             \
			*c += 1;                                                                   \
	}

#endif
