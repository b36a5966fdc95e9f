/* libFuzzer harness: everything the DNS service reads from the network,
 * queries from clients and answers from resolvers, through dns_msg.c and
 * the cache. Whatever is accepted must come out again as a message ldns
 * reads back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns_cache.h"
#include "dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_parse(const uint8_t *msg, size_t len)
{
	ldns_pkt *p = NULL;

	if (!len || ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(p);
}

/* data as a client's query */
static void as_query(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	struct dns_msg_query q, again;
	enum dns_query_verdict v = dns_msg_parse_query(data, size, &q);
	size_t n;

	if (v == DNS_QUERY_DROP)
		return;
	n = dns_msg_error_reply(&q, v == DNS_QUERY_OK, DNS_RCODE_FORMERR, out, sizeof(out));
	must_parse(out, n);
	if (v != DNS_QUERY_OK)
		return;
	if (q.udp_max < DNS_UDP_PLAIN_MAX || q.name_len == 0)
		abort();
	n = dns_msg_forward_query(&q, 0x5151, 1232, out, sizeof(out));
	if (dns_msg_parse_query(out, n, &again) != DNS_QUERY_OK || again.name_len != q.name_len ||
	    memcmp(again.name, q.name, q.name_len) || again.type != q.type)
		abort();
}

/* data as a resolver's answer to the question it carries */
static void as_answer(const uint8_t *data, size_t size)
{
	static uint8_t copy[65535], out[65535], norm[65535];
	struct dns_msg_query q;
	struct dns_msg_answer a;
	struct dns_cache *c;
	const char *why;
	size_t n;

	if (size < DNS_HEADER_LEN || size > sizeof(copy))
		return;
	memcpy(copy, data, size);
	copy[2] &= 0x7f; /* its question, asked as a query */
	copy[6] = copy[7] = copy[8] = copy[9] = 0;
	if (dns_msg_parse_query(copy, size, &q) != DNS_QUERY_OK ||
	    dns_msg_parse_answer(data, size, &q, &a, norm, sizeof(norm), &why) < 0)
		return;
	must_parse(norm, a.len);
	if (!a.ttl)
		return;
	c = dns_cache_new(4, 1 << 20, 3600);
	if (!c)
		return;
	dns_cache_put(c, &q, norm, a.len, &a, 0);
	/* the last millisecond it may be served: every TTL aged the most */
	n = dns_cache_get(c, &q, copy, size, out, sizeof(out),
			  (uint64_t)(a.ttl < 3600 ? a.ttl : 3600) * 1000 - 1);
	if (n != a.len)
		abort();
	must_parse(out, n);
	dns_cache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_query(data, size);
	as_answer(data, size);
	return 0;
}
