/* libFuzzer harness: the tc intake program's packet parsing, run by the
 * kernel (BPF_PROG_TEST_RUN) on each input as an Ethernet frame, in a
 * network namespace of its own. The verifier already proved every access
 * in bounds; this checks the verdicts: only pass or drop, and a frame that
 * is neither IPv4 nor IPv6 is passed untouched. Needs root. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <linux/pkt_cls.h>

#include "intake_run.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int rc = intake_run_setup();

	(void)argc, (void)argv;
	if (rc) {
		fprintf(stderr, "fuzz_bpf_intake: cannot load the program (root needed): %s\n",
			strerror(-rc));
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t mark = 0;
	int verdict, ip;

	/* shorter than an Ethernet header, or past a jumbo frame: refused by
	 * the kernel's test run before the program */
	if (size < 14 || size > 9018)
		return 0;
	ip = (data[12] == 0x08 && data[13] == 0x00) || (data[12] == 0x86 && data[13] == 0xdd);
	verdict = intake_run(data, size, &mark);
	if (verdict == -1) {
		/* only an IP frame shorter than its header is refused */
		if (errno != EINVAL || !ip)
			abort();
		return 0;
	}
	if (verdict != TC_ACT_OK && verdict != TC_ACT_SHOT)
		abort();
	if (!ip && (verdict != TC_ACT_OK || mark))
		abort();
	if (mark && mark != INTAKE_RUN_MARK)
		abort();
	return 0;
}
