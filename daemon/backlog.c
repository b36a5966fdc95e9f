/* A relayed direction held to its destination's pace (see backlog.h). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "backlog.h"
#include "tcp_receive.h"
#include "tcp_relay_socket.h"

#define RCVBUF_MAX_DEFAULT (6u << 20)

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint32_t backlog_rcvbuf_max(void)
{
	static _Atomic uint32_t max; /* workers may race to read it: the same */
	uint32_t v = atomic_load_explicit(&max, memory_order_relaxed);
	unsigned long lo, def, hi;
	FILE *fp;

	if (v)
		return v;
	v = RCVBUF_MAX_DEFAULT;
	fp = fopen("/proc/sys/net/ipv4/tcp_rmem", "re");
	if (fp) {
		if (fscanf(fp, "%lu %lu %lu", &lo, &def, &hi) == 3 && hi >= 2 * BACKLOG_FIRST &&
		    hi <= INT32_MAX)
			v = (uint32_t)hi;
		fclose(fp);
	}
	atomic_store_explicit(&max, v, memory_order_relaxed);
	return v;
}

/* The receive buffer for a window of bytes, as the kernel counts it. */
static uint64_t buffer_for(uint32_t bytes)
{
	return min_u64(2 * (uint64_t)bytes, 2 * (uint64_t)(backlog_rcvbuf_max() / 2));
}

/* The source's window clamp at window, and its receive buffer with it:
 * a socket whose buffer the user sets no longer has the clamp follow the
 * buffer as autotuning would, and keeps the one it had at the start
 * (64 KiB of window: 1.6 MB/s over a 40 ms path). The buffer is twice the
 * window (up to tcp_rmem's largest), as the kernel's own doubling of
 * SO_RCVBUF is: it counts each packet's overhead too, and a buffer no
 * larger than the window dropped data already inside it, leaving the
 * sender in retransmission back-off for tens of seconds
 * (docs/testing.md).
 *
 * A buffer comes down no lower than what the socket holds plus twice the
 * window it last advertised (the clamp in force until now, where the
 * kernel does not tell): the kernel never takes back a window it
 * advertised, and a buffer lowered below what was sent inside it drops
 * that data, again and again as the sender retransmits, while the daemon
 * reads the queue down at the destination's pace; the sender's back-off
 * then outlasts the queue by many seconds (a slow reader waited 10 to
 * 30 s so). The rest comes off at the later judgments. */
static void set_window(struct backlog *b, int fd, uint32_t window, uint32_t was_window)
{
	uint64_t want = buffer_for(window);
	struct tcp_receive r;
	int half, clamp = (int)window;

	if (fd < 0)
		return;
	if (want < b->buf && tcp_receive_read(fd, &r) == 0) {
		uint64_t promised = r.window >= 0 ? (uint64_t)r.window : was_window;
		uint64_t floor = r.rmem + 2 * promised;

		if (floor > want)
			want = min_u64(floor, b->buf);
	}
	if (want != b->buf) {
		b->buf = (uint32_t)want;
		half = (int)(want / 2); /* the kernel doubles it */
		/* past net.core.rmem_max only with CAP_NET_ADMIN, which the
		 * daemon keeps; without it the kernel caps it at rmem_max */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof(half)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &half, sizeof(half));
	}
	if (window != was_window)
		setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, sizeof(clamp));
}

/* The destination's unsent bound: the bound while held, where it is
 * below the relay's own; a call only when that changes. */
static void set_unsent(int fd, uint32_t was, uint32_t now)
{
	int lowat = (int)now;

	if (fd >= 0 && was != now)
		setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
}

static uint32_t unsent_bound(const struct backlog *b)
{
	return b->held && b->bound < TCP_RELAY_NOTSENT_LOWAT ? b->bound : TCP_RELAY_NOTSENT_LOWAT;
}

/* What the destination took since the mark: what was spliced into its
 * socket less what still waits there unacknowledged or unsent, so that
 * the destination's buffers filling at the start is not taken for pace. */
static uint64_t taken_since_mark(const struct backlog *b, const struct backlog_sample *s)
{
	int queued = 0;
	uint64_t taken;

	if (ioctl(s->dst, SIOCOUTQ, &queued) < 0 || queued < 0 || (uint64_t)queued > s->delivered)
		queued = 0;
	taken = s->delivered - (uint64_t)queued;
	return taken > b->mark_bytes ? taken - b->mark_bytes : 0;
}

/* The source path's round trip in microseconds: the larger of the
 * kernel's receive-side estimate and its smoothed one (the handshake and
 * what the daemon sent gave it samples); 0 when unknown. */
static uint64_t source_rtt_us(int src)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(src, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	return ti.tcpi_rcv_rtt > ti.tcpi_rtt ? ti.tcpi_rcv_rtt : ti.tcpi_rtt;
}

void backlog_start(struct backlog *b, uint64_t now_ms, int src)
{
	*b = (struct backlog){ .mark_ms = now_ms, .bound = BACKLOG_FIRST, .ramp = 1 };
	set_window(b, src, BACKLOG_FIRST, 0);
}

/* The bound a judgment gives, the destination having taken took since
 * the mark (elapsed ms ago), and whether the direction is held. The
 * destination emptied the pipe: the source gave less than it could take,
 * so the window grows to four times what the destination's pace needs
 * over the source path's round trip, as the kernel's autotuning reasons
 * (tcp_rcv_space_adjust): twice to ride out a loss, twice again for a
 * sender still growing its rate; at most four times a window, as slow
 * start. The pipe stayed backed up: held, to a second of the
 * destination's pace where that is less. */
static uint64_t next_bound(struct backlog *b, const struct backlog_sample *s, uint64_t took,
			   uint64_t elapsed)
{
	uint64_t pace = took * 1000 / (elapsed ? elapsed : 1), want;

	b->held = !b->drained;
	b->ramp = 0;
	if (b->drained) {
		uint64_t need = 4 * pace * source_rtt_us(s->src) / 1000000 + BACKLOG_MIN;
		/* judged again soon while the need is near the bound */
		b->ramp = 2 * need > b->bound;
		want = need > b->bound ? min_u64(need, 4 * (uint64_t)b->bound) : b->bound;
	} else {
		want = min_u64(pace, b->bound);
	}
	want = min_u64(want, backlog_rcvbuf_max());
	return want < BACKLOG_MIN ? BACKLOG_MIN : want;
}

enum backlog_change backlog_judge(struct backlog *b, const struct backlog_sample *s)
{
	int was_held = backlog_held(b);
	uint32_t was_unsent = unsent_bound(b);
	uint64_t bound, took, elapsed = s->now_ms - b->mark_ms;

	if (!b->bound) /* not started: left to the kernel */
		return BACKLOG_SAME;
	b->drained |= !s->in_pipe;
	if (elapsed < (b->ramp || b->drained ? BACKLOG_RAMP_MS : BACKLOG_WINDOW_MS))
		return BACKLOG_SAME;
	took = taken_since_mark(b, s);
	bound = next_bound(b, s, took, elapsed);
	b->mark_ms = s->now_ms;
	b->mark_bytes += took;
	b->drained = 0;
	if (bound != b->bound || b->buf > buffer_for((uint32_t)bound)) {
		set_window(b, s->src, (uint32_t)bound, b->bound);
		b->bound = (uint32_t)bound;
	}
	set_unsent(s->dst, was_unsent, unsent_bound(b));
	return was_held == backlog_held(b) ? BACKLOG_SAME : was_held ? BACKLOG_FREED : BACKLOG_HELD;
}

enum backlog_change backlog_let_go(struct backlog *b, int src, int dst)
{
	int was_held = backlog_held(b);
	uint32_t was_unsent = unsent_bound(b);

	if (b->bound) {
		set_window(b, src, backlog_rcvbuf_max(), b->bound);
		b->bound = 0;
		b->held = 0;
		set_unsent(dst, was_unsent, unsent_bound(b));
	}
	return was_held ? BACKLOG_FREED : BACKLOG_SAME;
}
