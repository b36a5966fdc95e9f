/* The tc intake program's packet parsing, run by the kernel on crafted
 * frames (BPF_PROG_TEST_RUN): truncated headers, IPv4 fragments and
 * options, IPv6 extension chains at and past the limit, IPv6 fragments,
 * VLAN tags, bypassed destinations. Each case checks the verdict and the
 * counter it must move. In a network namespace of the test's own there is
 * no sockgated socket: what would be handed over is dropped as NO_SOCKET,
 * which shows the program chose to hand it over. Needs root; skipped
 * otherwise. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <linux/pkt_cls.h>

#include "intake_run.h"

/* ---- frames ---- */

struct frame {
	uint8_t b[512];
	size_t len;
};

static void put(struct frame *f, const void *p, size_t n)
{
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void eth(struct frame *f, uint16_t type)
{
	uint8_t h[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, (uint8_t)(type >> 8), (uint8_t)type };

	f->len = 0;
	put(f, h, sizeof(h));
}

static void ipv4(struct frame *f, uint8_t proto, const uint8_t dst[4], uint16_t frag, uint8_t ihl)
{
	uint8_t h[60] = { (uint8_t)(0x40 | ihl),
			  0,
			  0,
			  40,
			  0,
			  1,
			  (uint8_t)(frag >> 8),
			  (uint8_t)frag,
			  64,
			  proto,
			  0,
			  0,
			  192,
			  168,
			  1,
			  23 };

	memcpy(h + 16, dst, 4);
	put(f, h, (size_t)ihl * 4 < 20 ? 20 : (size_t)ihl * 4);
}

static void ipv6(struct frame *f, uint8_t next, const uint8_t dst[16])
{
	uint8_t h[40] = { 0x60, 0, 0, 0, 0, 20, next, 64, 0xfd, 0x77, 1 };

	h[23] = 2;
	memcpy(h + 24, dst, 16);
	put(f, h, sizeof(h));
}

/* An IPv6 extension header of 8 bytes (fragment: offset 0, no more unless
 * frag_bits says otherwise). */
static void ext(struct frame *f, uint8_t next, uint16_t frag_bits)
{
	uint8_t h[8] = { next, 0, (uint8_t)(frag_bits >> 8), (uint8_t)frag_bits };

	put(f, h, sizeof(h));
}

#define SYN 0x02
#define ACK 0x10

static void tcp(struct frame *f, uint8_t flags)
{
	uint8_t h[20] = { 0xc3, 0x50, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff };

	put(f, h, sizeof(h));
}

static void udp(struct frame *f)
{
	uint8_t h[8] = { 0xc3, 0x50, 0x00, 0x35, 0, 8, 0, 0 };

	put(f, h, sizeof(h));
}

static const uint8_t far4[4] = { 203, 0, 113, 5 }, bypassed4[4] = { 10, 99, 1, 1 };
static const uint8_t far6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
static const uint8_t bypassed6[16] = { 0xfd, 0x99, [15] = 1 };

/* ---- checks ---- */

/* Runs f: its verdict must be want, counter slot (or none: INTAKE_COUNTERS)
 * must move by one and no other. */
static void expect(const struct frame *f, int want, uint32_t slot, const char *what)
{
	uint64_t before[INTAKE_COUNTERS], after;
	uint32_t mark = 0;
	int got;

	for (uint32_t i = 0; i < INTAKE_COUNTERS; i++)
		before[i] = intake_run_counter(i);
	got = intake_run(f->b, f->len, &mark);
	if (got != want)
		fail_msg("%s: verdict %d, want %d", what, got, want);
	for (uint32_t i = 0; i < INTAKE_COUNTERS; i++) {
		after = intake_run_counter(i);
		if (after != before[i] + (i == slot))
			fail_msg("%s: counter %u moved by %lld", what, i,
				 (long long)(after - before[i]));
	}
	/* only what is marked for a socket carries the mark */
	if ((mark == INTAKE_RUN_MARK) != (slot == INTAKE_TCP_MARKED))
		fail_msg("%s: mark %#x", what, mark);
}

/* A frame the kernel will not run a program on (-EINVAL from the test run):
 * its own checks come first there. */
static void expect_refused(const struct frame *f, const char *what)
{
	if (intake_run(f->b, f->len, NULL) != -1 || errno != EINVAL)
		fail_msg("%s: the kernel ran it", what);
}

static int setup(void **state)
{
	int rc;

	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: BPF_PROG_TEST_RUN and a network namespace need root\n");
		return 0;
	}
	rc = intake_run_setup();
	if (rc)
		print_message("skipped: cannot load the tc intake program: %s\n", strerror(-rc));
	return 0;
}

#define NEED_PROGRAM()                                                                             \
	do {                                                                                       \
		if (!intake_run_skel || !intake_run_skel->progs.intake_ingress ||                  \
		    bpf_program__fd(intake_run_skel->progs.intake_ingress) < 0)                    \
			skip();                                                                    \
	} while (0)

static void test_not_ip(void **state)
{
	struct frame f;
	(void)state;
	NEED_PROGRAM();
	eth(&f, 0x0806); /* ARP */
	put(&f, "\0\1\10\0\6\4\0\1", 8);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "ARP");
	/* a VLAN tag: the program sees tags only on a trunk, and leaves those
	 * frames to the kernel; attach to the VLAN's own interface */
	eth(&f, 0x8100);
	put(&f, "\0\12\10\0", 4);
	ipv4(&f, IPPROTO_TCP, far4, 0, 5);
	tcp(&f, SYN);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "VLAN-tagged IPv4 SYN");
	eth(&f, 0x88a8); /* QinQ */
	put(&f, "\0\12\x81\0\0\13\x86\xdd", 8);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "QinQ");
}

static void test_truncated(void **state)
{
	struct frame f;
	(void)state;
	NEED_PROGRAM();
	/* the test run refuses an IPv4 or IPv6 frame shorter than its fixed
	 * header (the IP layer after tc drops one anyway); the program's own
	 * bounds checks for it are read, not run */
	eth(&f, 0x0800);
	put(&f, "\x45\0\0\x28\0\1\0\0\x40\6", 10);
	expect_refused(&f, "IPv4 header cut at 10 bytes");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, far4, 0, 4);
	tcp(&f, SYN);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "IPv4 IHL 4");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, far4, 0, 5);
	put(&f, "\xc3\x50\x01\xbb\0\0\0\1", 8);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "IPv4 TCP header cut at 8 bytes");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_UDP, far4, 0, 5);
	put(&f, "\xc3\x50", 2);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "IPv4 UDP header cut at 2 bytes");
	/* options claimed (IHL 15) that the frame does not hold */
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, far4, 0, 5);
	f.b[14] = 0x4f;
	tcp(&f, SYN);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "IPv4 IHL 15 in a short frame");
	eth(&f, 0x86dd);
	put(&f, "\x60\0\0\0\0\x14\6\x40", 8);
	expect_refused(&f, "IPv6 header cut at 8 bytes");
}

static void test_ipv4(void **state)
{
	struct frame f;
	(void)state;
	NEED_PROGRAM();
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, far4, 0, 5);
	tcp(&f, SYN);
	expect(&f, TC_ACT_SHOT, INTAKE_NO_SOCKET, "IPv4 SYN, no listener");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, far4, 0, 5);
	tcp(&f, ACK);
	expect(&f, TC_ACT_OK, INTAKE_TCP_MARKED, "IPv4 ACK: marked for its socket");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, far4, 0, 6); /* with 4 bytes of options */
	tcp(&f, ACK);
	expect(&f, TC_ACT_OK, INTAKE_TCP_MARKED, "IPv4 ACK after options");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_UDP, far4, 0, 5);
	udp(&f);
	expect(&f, TC_ACT_SHOT, INTAKE_NO_SOCKET, "IPv4 UDP, no socket");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, bypassed4, 0, 5);
	tcp(&f, SYN);
	expect(&f, TC_ACT_OK, INTAKE_BYPASSED, "IPv4 SYN to a bypassed destination");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_ICMP, far4, 0, 5);
	put(&f, "\x08\0\0\0\0\0\0\0", 8);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "ICMP");
}

static void test_ipv4_fragments(void **state)
{
	struct frame f;
	(void)state;
	NEED_PROGRAM();
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, far4, 0x2000, 5); /* more fragments */
	tcp(&f, SYN);
	expect(&f, TC_ACT_SHOT, INTAKE_FRAGMENT, "IPv4 first fragment");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_UDP, far4, 0x0010, 5); /* offset 128 */
	put(&f, "payload!", 8);
	expect(&f, TC_ACT_SHOT, INTAKE_FRAGMENT, "IPv4 later fragment");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, far4, 0x4000, 5); /* DF only: whole */
	tcp(&f, ACK);
	expect(&f, TC_ACT_OK, INTAKE_TCP_MARKED, "IPv4 with DF");
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, bypassed4, 0x2000, 5);
	tcp(&f, SYN);
	expect(&f, TC_ACT_OK, INTAKE_BYPASSED, "IPv4 fragment to a bypassed destination");
}

static void test_ipv6(void **state)
{
	struct frame f;
	(void)state;
	NEED_PROGRAM();
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_TCP, far6);
	tcp(&f, SYN);
	expect(&f, TC_ACT_SHOT, INTAKE_NO_SOCKET, "IPv6 SYN, no listener");
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_TCP, far6);
	tcp(&f, ACK);
	expect(&f, TC_ACT_OK, INTAKE_TCP_MARKED, "IPv6 ACK");
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_UDP, far6);
	udp(&f);
	expect(&f, TC_ACT_SHOT, INTAKE_NO_SOCKET, "IPv6 UDP");
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_TCP, bypassed6);
	tcp(&f, SYN);
	expect(&f, TC_ACT_OK, INTAKE_BYPASSED, "IPv6 SYN to a bypassed destination");
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_ICMPV6, far6);
	put(&f, "\x80\0\0\0\0\0\0\0", 8);
	expect(&f, TC_ACT_OK, INTAKE_COUNTERS, "ICMPv6");
}

/* n extension headers (hop-by-hop, then destination options), then TCP. */
static void ext_chain(struct frame *f, int n, uint8_t flags)
{
	eth(f, 0x86dd);
	ipv6(f, n ? IPPROTO_HOPOPTS : IPPROTO_TCP, far6);
	for (int i = 0; i < n; i++)
		ext(f, i + 1 < n ? IPPROTO_DSTOPTS : IPPROTO_TCP, 0);
	tcp(f, flags);
}

static void test_ipv6_extension_chains(void **state)
{
	struct frame f;
	(void)state;
	NEED_PROGRAM();
	ext_chain(&f, 1, ACK);
	expect(&f, TC_ACT_OK, INTAKE_TCP_MARKED, "one extension header");
	ext_chain(&f, 5, SYN);
	expect(&f, TC_ACT_SHOT, INTAKE_NO_SOCKET, "five extension headers, SYN");
	ext_chain(&f, 5, ACK);
	expect(&f, TC_ACT_OK, INTAKE_TCP_MARKED, "five extension headers: followed to TCP");
	/* IPV6_EXT_MAX is 6: a chain it cannot see the end of is dropped,
	 * never let past the proxy */
	ext_chain(&f, 6, ACK);
	expect(&f, TC_ACT_SHOT, INTAKE_FRAGMENT, "six extension headers: past the limit");
	ext_chain(&f, 7, SYN);
	expect(&f, TC_ACT_SHOT, INTAKE_FRAGMENT, "seven extension headers");
	/* a chain cut short */
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_HOPOPTS, far6);
	put(&f, "\x06\0\0", 3);
	expect(&f, TC_ACT_SHOT, INTAKE_FRAGMENT, "extension header cut short");
	/* a length that jumps past the frame */
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_HOPOPTS, far6);
	put(&f, "\x3c\xff\0\0\0\0\0\0", 8);
	expect(&f, TC_ACT_SHOT, INTAKE_FRAGMENT, "extension length past the frame");
	/* a long chain to a bypassed destination is none of ours */
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_HOPOPTS, bypassed6);
	for (int i = 0; i < 7; i++)
		ext(&f, IPPROTO_DSTOPTS, 0);
	expect(&f, TC_ACT_OK, INTAKE_BYPASSED, "long chain to a bypassed destination");
}

static void test_ipv6_fragments(void **state)
{
	struct frame f;
	(void)state;
	NEED_PROGRAM();
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_FRAGMENT, far6);
	ext(&f, IPPROTO_TCP, 0x0001); /* more fragments */
	tcp(&f, SYN);
	expect(&f, TC_ACT_SHOT, INTAKE_FRAGMENT, "IPv6 first fragment");
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_FRAGMENT, far6);
	ext(&f, IPPROTO_UDP, 0x0100); /* offset 32 */
	put(&f, "payload!", 8);
	expect(&f, TC_ACT_SHOT, INTAKE_FRAGMENT, "IPv6 later fragment");
	/* offset 0, no more: an atomic fragment is a whole packet */
	eth(&f, 0x86dd);
	ipv6(&f, IPPROTO_FRAGMENT, far6);
	ext(&f, IPPROTO_TCP, 0);
	tcp(&f, ACK);
	expect(&f, TC_ACT_OK, INTAKE_TCP_MARKED, "IPv6 atomic fragment");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_ip),	       cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_ipv4),	       cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv6),	       cmocka_unit_test(test_ipv6_extension_chains),
		cmocka_unit_test(test_ipv6_fragments),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
