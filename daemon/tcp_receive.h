/* What a TCP socket's receive side holds and has promised its sender:
 * read apart from the rest of the daemon because the field that tells the
 * promise is named only in the kernel's own header, which clashes with
 * libc's <netinet/tcp.h>. */
#ifndef SOCKGATE_TCP_RECEIVE_H
#define SOCKGATE_TCP_RECEIVE_H

#include <stdint.h>

struct tcp_receive {
	uint32_t rmem;	/* what the kernel charges for the queued data (SO_MEMINFO) */
	int64_t window; /* the window last advertised; -1: not told (before Linux 6.2) */
};

/* 0, or -1 with errno set. */
int tcp_receive_read(int fd, struct tcp_receive *r);

#endif
