#ifndef SOCKGATE_BASE64_H
#define SOCKGATE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Standard base64 with padding; returns the length written (excluding NUL),
 * or -1 if out (which gets a NUL) is too small. */
int base64_encode(const void *in, size_t len, char *out, size_t outlen);
/* Decodes in[0..len) (padded, canonical, nothing else): the length
 * written to out, which gets a NUL after it, or -1 when malformed or out
 * is too small. */
int base64_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

#endif
