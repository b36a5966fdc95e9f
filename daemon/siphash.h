/* SipHash-2-4 with a 128-bit tag (Aumasson and Bernstein): a keyed PRF for
 * in-memory digests that must not be computable without the key. */
#ifndef SOCKGATE_SIPHASH_H
#define SOCKGATE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16
#define SIPHASH_TAG_LEN 16

void siphash128(const uint8_t key[SIPHASH_KEY_LEN], const void *data, size_t len,
		uint8_t tag[SIPHASH_TAG_LEN]);

#endif
