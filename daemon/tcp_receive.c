/* A TCP socket's receive side (see tcp_receive.h). */
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "tcp_receive.h"

/* tcp_info's tcpi_rcv_wnd (Linux 6.2) comes right after tcpi_snd_wnd; the
 * kernel only ever appends to the structure, so its place is fixed, while
 * headers before 6.2 stop at tcpi_snd_wnd. A kernel that does not fill it
 * returns a shorter structure. */
#define RCV_WND_AT (offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(__u32))

int tcp_receive_read(int fd, struct tcp_receive *r)
{
	uint32_t mem[SK_MEMINFO_VARS];
	union {
		struct tcp_info ti;
		unsigned char raw[RCV_WND_AT + 64];
	} info;
	socklen_t len = sizeof(mem);
	uint32_t wnd;

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0)
		return -1;
	r->rmem = mem[SK_MEMINFO_RMEM_ALLOC];
	r->window = -1;
	len = sizeof(info);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
	    len >= RCV_WND_AT + sizeof(wnd)) {
		memcpy(&wnd, info.raw + RCV_WND_AT, sizeof(wnd));
		r->window = wnd;
	}
	return 0;
}
