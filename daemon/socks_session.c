/* The SOCKS side of a flow that both halves of the SOCKS server use: the
 * replies in the client's protocol, and the destination policy. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
#include "dst_guard.h"
#include "flow_core.h"
#include "socks_handshake.h"
#include "socks_session.h"

/* Sends a short handshake message. The socket's send buffer is nearly
 * empty during a handshake, so anything short of all is an error. */
int socks_send(struct flow *f, const uint8_t *buf, size_t len)
{
	ssize_t n = send(f->client_fd, buf, len, MSG_NOSIGNAL);

	if (n == (ssize_t)len)
		return 0;
	log_debug("flow %u.%llu: sending to the SOCKS client: %s", f->r->index,
		  (unsigned long long)f->id, n < 0 ? strerror(errno) : "short write");
	flow_destroy(f, CLOSE_RESET);
	return -1;
}

/* The reply in the client's protocol (SOCKS4 knows only granted/rejected). */
size_t socks_encode_reply(const struct flow *f, uint8_t rep, const struct sockaddr_storage *bnd,
			  uint8_t *out)
{
	return f->socks->hs.version == 4 ? socks_handshake_reply4(rep == REP_SUCCEEDED, bnd, out)
					 : socks_handshake_reply5(rep, bnd, out);
}

int socks_reply(struct flow *f, uint8_t rep, const struct sockaddr_storage *bnd)
{
	uint8_t out[SOCKS_REPLY_MAX];
	return socks_send(f, out, socks_encode_reply(f, rep, bnd, out));
}

/* No pivoting into the router: loopback, the unspecified address, link-
 * local addresses and this host's own (as its routing table says: local
 * routes and anycast too) are refused unless allow_dst names them. */
int socks_dst_allowed(struct flow *f, const struct sockaddr_storage *dst)
{
	const struct socks_config *sc = &f->r->cfg->socks;

	if (config_cidrs_hold(sc->allow_dst_table, dst))
		return 1;
	if (config_cidrs_hold(sc->deny_dst_table, dst))
		return 0;
	/* link-local: the router's own neighbours, metadata services */
	if (dst_link_local(dst))
		return 0;
	return !flow_is_local_address(f, dst); /* special ones included */
}
