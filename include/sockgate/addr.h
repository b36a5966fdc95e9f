/* Socket addresses and CIDR prefixes: parsing, formatting, comparison. */
#ifndef SOCKGATE_ADDR_H
#define SOCKGATE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "[ffff:...:ffff]:65535" plus NUL fits. */
#define ADDR_STRLEN 64

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
	unsigned prefix_len;
};

/* Formats "1.2.3.4:80" or "[::1]:80" into buf; always NUL-terminates. */
const char *addr_format(const struct sockaddr_storage *ss, char *buf, size_t len);
/* Same address and port (v4 or v6). */
bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
uint16_t addr_port(const struct sockaddr_storage *ss);
void addr_set_port(struct sockaddr_storage *ss, uint16_t port);
/* Same IP address, ports aside. */
bool addr_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Turns ::ffff:a.b.c.d into the AF_INET a.b.c.d (an AF_INET6 socket would
 * reach the IPv4 address, so policy must see it as one). */
void addr_unmap_v4(struct sockaddr_storage *ss);
socklen_t addr_len(const struct sockaddr_storage *ss);
/* 127.0.0.0/8 or ::1. */
bool addr_is_loopback(const struct sockaddr_storage *ss);
/* 0.0.0.0 or ::. */
bool addr_is_unspecified(const struct sockaddr_storage *ss);
/* Parses a numeric IP literal (no brackets) with a port into ss; 0 or -1. */
int addr_from_ip(const char *ip, uint16_t port, struct sockaddr_storage *ss);
/* Parses a decimal port 1..65535; 0 or -1. */
int addr_parse_port(const char *s, uint16_t *port);

/* "10.0.0.0/8", "fd00::/8", or a bare address (full-length prefix); 0 or -1.
 * Host bits beyond the prefix must be zero. */
int cidr_parse(const char *s, struct cidr *out);
bool cidr_contains(const struct cidr *c, const struct sockaddr_storage *ss);
/* Whether any of list[0..n) contains ss. */
bool cidr_list_contains(const struct cidr *list, size_t n, const struct sockaddr_storage *ss);

#endif
