/* Runs the tc intake program on crafted frames with BPF_PROG_TEST_RUN, in
 * a network namespace of its own (no sockets of sockgated's, no routes):
 * shared by test_bpf_intake and fuzz_bpf_intake. Needs root. */
#ifndef SOCKGATE_TEST_INTAKE_RUN_H
#define SOCKGATE_TEST_INTAKE_RUN_H

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "intake.h"
#include "tc_intake.skel.h"

#define INTAKE_RUN_TPROXY_PORT 12346
#define INTAKE_RUN_MARK	       0x2a1

/* The bypassed test destinations: 10.99.0.0/16 and fd99::/16. */
static const uint8_t intake_run_bypass4[4] = { 10, 99, 0, 0 };
static const uint8_t intake_run_bypass6[16] = { 0xfd, 0x99 };

static struct tc_intake_bpf *intake_run_skel;

static inline int intake_run_silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* Enters a new network namespace and loads the program (TCP handled, no
 * DNS left out, no daemon mark checked); 0, or -errno. */
static inline int intake_run_setup(void)
{
	struct intake_lpm4 k4 = { .prefixlen = 16 };
	struct intake_lpm6 k6 = { .prefixlen = 16 };
	uint8_t one = 1;
	int rc;

	libbpf_set_print(intake_run_silent);
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	intake_run_skel = tc_intake_bpf__open();
	if (!intake_run_skel)
		return -errno;
	intake_run_skel->rodata->tproxy_port = INTAKE_RUN_TPROXY_PORT;
	intake_run_skel->rodata->tproxy_mark = INTAKE_RUN_MARK;
	intake_run_skel->rodata->handle_tcp = 1;
	rc = tc_intake_bpf__load(intake_run_skel);
	if (rc)
		return rc;
	memcpy(k4.addr, intake_run_bypass4, 4);
	memcpy(k6.addr, intake_run_bypass6, 16);
	if (bpf_map_update_elem(bpf_map__fd(intake_run_skel->maps.bypass4), &k4, &one, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(intake_run_skel->maps.bypass6), &k6, &one, BPF_ANY))
		return -errno;
	return 0;
}

/* The program's verdict on frame[0..len) (an Ethernet frame), and the mark
 * it left in *mark; -1 when the kernel refused the run. */
static inline int intake_run(const void *frame, size_t len, uint32_t *mark)
{
	struct __sk_buff ctx = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .ctx_out = &ctx,
		    .ctx_size_out = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(intake_run_skel->progs.intake_ingress), &opts))
		return -1;
	if (mark)
		*mark = ctx.mark;
	return (int)opts.retval;
}

/* A counter slot summed over the CPUs. */
static inline uint64_t intake_run_counter(uint32_t slot)
{
	int n = libbpf_num_possible_cpus();
	uint64_t *v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL, sum = 0;

	if (v && !bpf_map_lookup_elem(bpf_map__fd(intake_run_skel->maps.counters), &slot, v))
		for (int i = 0; i < n; i++)
			sum += v[i];
	free(v);
	return sum;
}

#endif
