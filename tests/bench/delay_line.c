/* A delay line for the benchmarks and the soak (this kernel has no netem):
 * takes the packets an iptables NFQUEUE rule sends to queue N and lets each
 * one go after a fixed delay, in order, dropping LOSS_PERMILLE of every
 * thousand at random. Usage: delay_line QUEUE DELAY_MS [LOSS_PERMILLE]. Runs
 * until killed; the rule should carry --queue-bypass, so traffic flows
 * undelayed when this program is not there. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define HELD_MAX 65536 /* a power of two: ring indices wrap by mask */

struct held {
	uint32_t id;
	uint64_t due_ns;
};

static struct held ring[HELD_MAX];
static unsigned head, tail; /* taken from head, added at tail */
static uint64_t delay_ns;
static unsigned loss_permille;
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static unsigned long long overflowed;

/* xorshift64: reproducible loss, and no libc state shared with anything */
static unsigned next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state >> 32);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
		     void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);

	(void)msg;
	(void)data;
	if (!ph)
		return 0;
	if (loss_permille && next_random() % 1000 < loss_permille)
		return nfq_set_verdict(qh, ntohl(ph->packet_id), NF_DROP, 0, NULL);
	if (tail - head == HELD_MAX) {
		/* full: this one goes at once rather than being lost */
		overflowed++;
		return nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL);
	}
	ring[tail & (HELD_MAX - 1)] = (struct held){ ntohl(ph->packet_id), now_ns() + delay_ns };
	tail++;
	return 0;
}

/* Lets the packets whose time has come go; ms until the next one, or -1. */
static int release_due(struct nfq_q_handle *qh)
{
	uint64_t now = now_ns();

	while (head != tail) {
		struct held *h = &ring[head & (HELD_MAX - 1)];
		if (h->due_ns > now)
			return (int)((h->due_ns - now + 999999) / 1000000);
		nfq_set_verdict(qh, h->id, NF_ACCEPT, 0, NULL);
		head++;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	struct pollfd pfd;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: delay_line QUEUE DELAY_MS [LOSS_PERMILLE]\n");
		return 2;
	}
	delay_ns = strtoull(argv[2], NULL, 10) * 1000000u;
	loss_permille = argc == 4 ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
	if (loss_permille > 1000) {
		fprintf(stderr, "delay_line: LOSS_PERMILLE is 0..1000\n");
		return 2;
	}
	h = nfq_open();
	if (!h) {
		perror("delay_line: nfq_open");
		return 1;
	}
	qh = nfq_create_queue(h, (uint16_t)atoi(argv[1]), on_packet, NULL);
	if (!qh || nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0 ||
	    nfq_set_queue_maxlen(qh, HELD_MAX) < 0) {
		perror("delay_line: queue");
		return 1;
	}
	pfd.fd = nfq_fd(h);
	pfd.events = POLLIN;
	for (;;) {
		int wait_ms = release_due(qh);
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
			perror("delay_line: poll");
			return 1;
		}
		for (;;) {
			ssize_t n = recv(pfd.fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n < 0 && errno == ENOBUFS) {
				fprintf(stderr,
					"delay_line: the kernel dropped packets (ENOBUFS)\n");
				continue;
			}
			if (n <= 0)
				break;
			nfq_handle_packet(h, buf, (int)n);
		}
	}
}
