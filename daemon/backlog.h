/* How much one relayed direction lets wait for a destination slower than
 * its source. Left to the kernel, three places fill while the destination
 * lags: the source socket's receive buffer, which autotuning grows by how
 * fast the daemon reads it (at full speed while it fills the pipe) and
 * not by how fast the destination takes (3.8 MB a flow behind readers of
 * 20 KB/s on the rig), the pipe (pipe_size) and the destination's unsent
 * queue (its 128 KiB bound). A LAN client that opens downloads and reads
 * them slowly would so pin the router's memory, and under a memory limit
 * stall everyone's new connections. Holding a direction once its pipe is
 * backed up comes too late: by then the source's window is open by
 * megabytes, and the source fills it at once.
 *
 * So the daemon sizes the source's receive buffer itself from the start of
 * the relay, by what the destination takes (acknowledged: what still waits
 * in the destination socket's queue does not count), judged as the
 * direction's pump runs:
 * - it starts at BACKLOG_FIRST (tcp_rmem's usual start);
 * - while the destination empties the pipe (it could take more than the
 *   source gave) the window grows, every BACKLOG_RAMP_MS, to four times
 *   the destination's pace times the source path's round trip (TCP_INFO),
 *   plus BACKLOG_MIN: twice the window that pace needs to ride out a
 *   loss, twice again for a sender still growing its rate, as the
 *   kernel's autotuning opens it; by at most four times a step, as slow
 *   start does, and up to tcp_rmem's largest. A fast destination behind a
 *   long path so gets the window it needs, one on a short path (the LAN,
 *   a nearby proxy) little more than it needs;
 * - while the pipe stays backed up the direction is held: judged once a
 *   second, its window comes down to a second of the destination's pace
 *   (at least BACKLOG_MIN), and the pipe's fill and the destination's
 *   unsent bound with it; the buffer follows as the socket's queue and
 *   the window it had advertised allow (a buffer lowered below what the
 *   sender was let send drops that data). A second of that pace is more
 *   than a path's round trip needs to keep the destination fed.
 *
 * The bound is the window: TCP_WINDOW_CLAMP is set to it, which the kernel
 * then no longer moves with the buffer, and SO_RCVBUF(FORCE), which turns
 * autotuning off for that socket, to twice it for each packet's overhead;
 * both once the connection is up, so the window scale was chosen for the
 * largest buffer. */
#ifndef SOCKGATE_BACKLOG_H
#define SOCKGATE_BACKLOG_H

#include <stddef.h>
#include <stdint.h>

#define BACKLOG_FIRST	  (128u << 10) /* a new direction's receive buffer */
#define BACKLOG_RAMP_MS	  50	       /* how often a growing one is judged */
#define BACKLOG_WINDOW_MS 1000	       /* how often a held or settled one is */
#define BACKLOG_MIN	  (64u << 10)  /* no direction is held to less */

struct backlog {
	uint64_t mark_ms;    /* since when its destination's pace is measured */
	uint64_t mark_bytes; /* what the destination had taken then */
	uint32_t bound;	     /* bytes; 0: not started, left to the kernel */
	uint32_t buf;	     /* the source's receive buffer as set, as the kernel counts it */
	uint8_t drained;     /* a pump left its pipe empty since the mark */
	uint8_t held;	     /* the last window passed without that */
	uint8_t ramp;	     /* may grow: judged every BACKLOG_RAMP_MS */
};

/* A direction as its pump left it. */
struct backlog_sample {
	uint64_t now_ms;
	uint64_t delivered; /* what its destination took so far */
	size_t in_pipe;	    /* what waits in its pipe */
	int src, dst;	    /* its sockets */
};

/* Held: its pipe stayed backed up through the last judgment. */
enum backlog_change {
	BACKLOG_SAME,
	BACKLOG_HELD,  /* held from now on */
	BACKLOG_FREED, /* held no longer */
};

/* The largest receive buffer: tcp_rmem's third figure, read from /proc
 * once, at start-up by main (6 MiB, the kernel's default, when it cannot
 * be read). */
uint32_t backlog_rcvbuf_max(void);

/* The relay starts, its connections up: the direction's ramp starts at
 * BACKLOG_FIRST. */
void backlog_start(struct backlog *b, uint64_t now_ms, int src);

/* Judges a direction after its pump; the sockets' options follow a new
 * bound. */
enum backlog_change backlog_judge(struct backlog *b, const struct backlog_sample *s);

/* Leaves a direction whose sockets stay in use (either may be -1: closed)
 * to the kernel again, with the largest receive buffer; BACKLOG_FREED when
 * it was held. */
enum backlog_change backlog_let_go(struct backlog *b, int src, int dst);

static inline int backlog_held(const struct backlog *b)
{
	return b->bound && b->held;
}

/* What the direction's pipe of capacity cap may hold: its bound while
 * held. */
static inline size_t backlog_fill(const struct backlog *b, size_t cap)
{
	return backlog_held(b) && b->bound < cap ? b->bound : cap;
}

#endif
