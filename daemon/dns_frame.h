/* RFC 7766 framing for the DNS service's TCP: each message behind two
 * bytes of length. The buffers of one connection, written to and read from
 * by its owner: the clients' connections (dns_conn.c) and the service's
 * own to its servers (dns_tcp.c). Sockets and events stay with them. */
#ifndef SOCKGATE_DNS_FRAME_H
#define SOCKGATE_DNS_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct dns_frames {
	uint8_t *in; /* what was read and not yet taken */
	size_t in_len;
	uint8_t *out; /* framed messages not written yet */
	size_t out_len, out_cap;
};

/* Appends msg with its prefix to out, which grows up to out_max bytes; 0,
 * or -1 (nothing appended) past that, for a message over 65535 bytes, or
 * without memory. */
int dns_frames_put(struct dns_frames *b, const uint8_t *msg, size_t len, size_t out_max);
/* Writes out to fd as far as the socket takes it: 0, or -errno on an
 * error other than EAGAIN. */
int dns_frames_write(struct dns_frames *b, int fd);
/* The whole message at *off of in, if there is one: 1 with msg and len
 * set and *off past it, 0 when none is whole yet. */
int dns_frames_next(const struct dns_frames *b, size_t *off, const uint8_t **msg, size_t *len);
/* Drops the first n bytes of in (taken messages, a handshake's reply). */
void dns_frames_consume(struct dns_frames *b, size_t n);
/* Both buffers freed and emptied. */
void dns_frames_free(struct dns_frames *b);

#endif
