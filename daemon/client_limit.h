/* Live connections (or associations) per client address, shared by all
 * workers: per IPv4 address and per IPv6 address, and for IPv6 also per
 * /64, the block one host can pick its addresses from, with a larger
 * budget (so one host's many addresses cannot take a whole LAN's share, and
 * one host's excess does not lock out its /64 neighbours). */
#ifndef SOCKGATE_CLIENT_LIMIT_H
#define SOCKGATE_CLIENT_LIMIT_H

#include <sys/socket.h>

struct client_limit;

/* max 0 means no limit (then take/release do nothing); max64 0: no /64
 * budget. */
struct client_limit *client_limit_new(unsigned max, unsigned max64);
void client_limit_free(struct client_limit *cl);
/* New maxima (a reload); counts held stay. */
void client_limit_set(struct client_limit *cl, unsigned max, unsigned max64);
/* 1 when the client had room and now holds one more (release it later),
 * 0 when it was not counted (no limit, or the table is full), -1 when it is
 * at max. */
int client_limit_take(struct client_limit *cl, const struct sockaddr_storage *client);
void client_limit_release(struct client_limit *cl, const struct sockaddr_storage *client);

#endif
