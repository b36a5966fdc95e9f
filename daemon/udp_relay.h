/* Transparent UDP: datagrams the TPROXY rules divert to the tproxy port are
 * relayed per client socket through a SOCKS5 UDP ASSOCIATE with the
 * destination's upstream (or directly, or dropped, as the upstream's udp
 * key says), and replies go back to the client from a transparent socket
 * bound to the address they came from. One table per worker: the kernel
 * picks a worker's tproxy socket by the client's address and port, so a
 * client socket always lands on the same worker. */
#ifndef SOCKGATE_UDP_RELAY_H
#define SOCKGATE_UDP_RELAY_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct ev;
struct relay;

/* The TPROXY UDP socket of one worker and family (IP_TRANSPARENT,
 * IP_RECVORIGDSTADDR, SO_REUSEPORT among n_workers); fd or -errno. */
int udp_relay_listen(int family, uint16_t port, unsigned n_workers);
/* The tproxy UDP socket fd is readable. */
void udp_relay_intake(struct relay *r, int fd);
/* From the worker's timer tick: setup timeouts, idle expiry. */
void udp_relay_tick(struct relay *r);
/* Live associations, in the formats of flow_snapshot and
 * flow_snapshot_json. */
void udp_relay_snapshot(struct relay *r, FILE *out);
void udp_relay_snapshot_json(struct relay *r, json_t *list);
/* Ends every association and closes every socket (worker stop). */
void udp_relay_free(struct relay *r);

#endif
