/* The step every message codec here shares: gather a message of known
 * length from bytes that arrive in pieces of any size. */
#ifndef SOCKGATE_CODEC_COLLECT_H
#define SOCKGATE_CODEC_COLLECT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Copies up to need - *have bytes of in (len bytes) to msg + *have.
 * Returns how many it took; the message is complete when *have == need. */
static inline size_t codec_collect(uint8_t *msg, size_t *have, size_t need, const uint8_t *in,
				   size_t len)
{
	size_t take = need - *have;

	if (take > len)
		take = len;
	memcpy(msg + *have, in, take);
	*have += take;
	return take;
}

#endif
