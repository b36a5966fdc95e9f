/* Live SOCKS connections per client address (IPv6 counted per /64, the
 * block one client picks its addresses from), shared by all workers. */
#ifndef SOCKGATE_CLIENT_LIMIT_H
#define SOCKGATE_CLIENT_LIMIT_H

#include <sys/socket.h>

struct client_limit;

/* max 0 means no limit (then take/release do nothing). */
struct client_limit *client_limit_new(unsigned max);
void client_limit_free(struct client_limit *cl);
/* 0 when the client had room (and now holds one more), -1 when at max. */
int client_limit_take(struct client_limit *cl, const struct sockaddr_storage *client);
void client_limit_release(struct client_limit *cl, const struct sockaddr_storage *client);

#endif
