/* Intake listeners (one per worker, family and kind, spread by
 * SO_REUSEPORT) and recovery of the original destination: from conntrack
 * after REDIRECT, from the socket itself after TPROXY. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter_ipv4.h>

#include "intake.h"
#include "tcp_liveness.h"

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
	    /* accepted sockets inherit it, and the liveness settings */
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    tcp_liveness_set(fd) < 0 ||
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
	if (kind == INTAKE_SOCKS)
		return -EINVAL;
	if (kind == INTAKE_TPROXY)
		return getsockname(fd, (struct sockaddr *)dst, &len) < 0 ? -errno : 0;
	if (family == AF_INET)
		rc = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, dst, &len);
	else
		rc = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, dst, &len);
	return rc < 0 ? -errno : 0;
}
