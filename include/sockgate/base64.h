#ifndef SOCKGATE_BASE64_H
#define SOCKGATE_BASE64_H

#include <stddef.h>

/* Standard base64 with padding; returns the length written (excluding NUL),
 * or -1 if out (which gets a NUL) is too small. */
int base64_encode(const void *in, size_t len, char *out, size_t outlen);

#endif
