/* The value of a hexadecimal digit, for the parsers (URLs, HTTP chunk
 * sizes). */
#ifndef SOCKGATE_HEX_H
#define SOCKGATE_HEX_H

/* 0..15, or -1 when c is not a hex digit. */
static inline int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
