/* The SOCKS side of a flow that both halves of the SOCKS server use: the
 * replies in the client's protocol. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "sockgate/addr.h"
#include "sockgate/config.h"
#include "sockgate/log.h"
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
