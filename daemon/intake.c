/* Intake listeners (one per worker, family and kind, spread by
 * SO_REUSEPORT) and recovery of the original destination: from conntrack
 * after REDIRECT, from the socket itself after TPROXY. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/filter.h>

#include <linux/netfilter_ipv4.h>

#include "intake.h"
#include "tcp_relay_socket.h"

/* From linux/netfilter_ipv6/ip6_tables.h, whose other contents clash with
 * the libc headers. */
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

#define LISTEN_BACKLOG 4096

const char *const intake_names[INTAKES] = {
	[INTAKE_REDIRECT] = "redirect",
	[INTAKE_TPROXY] = "tproxy",
	[INTAKE_SOCKS] = "socks",
	[INTAKE_DNS] = "dns",
};

int intake_listen(enum intake kind, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, err;

	if (kind != INTAKE_REDIRECT && kind != INTAKE_TPROXY)
		return -EINVAL;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    tcp_relay_socket_setup(fd) < 0 || /* accepted sockets inherit it */
	    /* TPROXY hands us connections to addresses that are not ours */
	    (kind == INTAKE_TPROXY && family == AF_INET &&
	     setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0) ||
	    (kind == INTAKE_TPROXY && family == AF_INET6 &&
	     setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int intake_original_dst(enum intake kind, int fd, int family, struct sockaddr_storage *dst)
{
	socklen_t len = sizeof(*dst);
	int rc;

	memset(dst, 0, sizeof(*dst));
	if (kind != INTAKE_REDIRECT && kind != INTAKE_TPROXY)
		return -EINVAL;
	if (kind == INTAKE_TPROXY)
		return getsockname(fd, (struct sockaddr *)dst, &len) < 0 ? -errno : 0;
	if (family == AF_INET)
		rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, dst, &len);
	else
		rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, dst, &len);
	return rc < 0 ? -errno : 0;
}

/* The kernel runs it where it chooses among the group with the packet at
 * hand (a plain UDP socket's receive, the eBPF intake's bpf_sk_assign);
 * the nftables tproxy lookup has no packet and hashes the client's address
 * and port with the router's own, which is as stable. */
int intake_steer_by_client(int fd, int family, unsigned n_workers)
{
	struct sock_filter code[] = {
		/* A = the source address, or its last 32 bits */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + (family == AF_INET ? 12 : 20)),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n_workers),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (n_workers < 2)
		return 0;
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}
