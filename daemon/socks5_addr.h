/* The address of a SOCKS5 request, reply or UDP header (RFC 1928 section
 * 5): ATYP, then 4 bytes (IPv4), 16 (IPv6), or a length byte and that
 * many (a name). */
#ifndef SOCKGATE_SOCKS5_ADDR_H
#define SOCKGATE_SOCKS5_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define SOCKS5_ATYP_IPV4 0x01
#define SOCKS5_ATYP_NAME 0x03
#define SOCKS5_ATYP_IPV6 0x04

/* The bytes the address after ATYP atyp takes, first being its first byte
 * (a name's length); 0 for an unknown type or an empty name. */
static inline size_t socks5_addr_len(uint8_t atyp, uint8_t first)
{
	if (atyp == SOCKS5_ATYP_IPV4)
		return 4;
	if (atyp == SOCKS5_ATYP_IPV6)
		return 16;
	if (atyp == SOCKS5_ATYP_NAME && first > 0)
		return 1 + (size_t)first;
	return 0;
}

#endif
