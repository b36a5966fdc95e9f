/* RFC 7766 framing (see dns_frame.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_frame.h"

int dns_frames_put(struct dns_frames *b, const uint8_t *msg, size_t len, size_t out_max)
{
	size_t need = b->out_len + 2 + len;

	if (len > UINT16_MAX || need > out_max)
		return -1;
	if (b->out_cap < need) {
		size_t cap = b->out_cap ? b->out_cap : 4096;
		uint8_t *grown;
		while (cap < need)
			cap *= 2;
		grown = realloc(b->out, cap);
		if (!grown)
			return -1;
		b->out = grown;
		b->out_cap = cap;
	}
	b->out[b->out_len] = (uint8_t)(len >> 8);
	b->out[b->out_len + 1] = (uint8_t)len;
	memcpy(b->out + b->out_len + 2, msg, len);
	b->out_len = need;
	return 0;
}

int dns_frames_write(struct dns_frames *b, int fd)
{
	while (b->out_len) {
		ssize_t n = send(fd, b->out, b->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			return -errno;
		memmove(b->out, b->out + n, b->out_len - (size_t)n);
		b->out_len -= (size_t)n;
	}
	return 0;
}

int dns_frames_next(const struct dns_frames *b, size_t *off, const uint8_t **msg, size_t *len)
{
	size_t n;

	if (b->in_len - *off < 2)
		return 0;
	n = (size_t)b->in[*off] << 8 | b->in[*off + 1];
	if (b->in_len - *off - 2 < n)
		return 0;
	*msg = b->in + *off + 2;
	*len = n;
	*off += 2 + n;
	return 1;
}

void dns_frames_consume(struct dns_frames *b, size_t n)
{
	memmove(b->in, b->in + n, b->in_len - n);
	b->in_len -= n;
}

void dns_frames_free(struct dns_frames *b)
{
	free(b->in);
	free(b->out);
	memset(b, 0, sizeof(*b));
}
