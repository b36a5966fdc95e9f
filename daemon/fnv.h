/* FNV-1a over a few bytes: slot numbers for small in-memory tables whose
 * keys clients cannot use to hurt anyone but themselves. */
#ifndef SOCKGATE_FNV_H
#define SOCKGATE_FNV_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t fnv1a(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#endif
