/* DNS messages for the DNS service (RFC 1035, 2308, 6891): judging a
 * client's query, judging a resolver's answer against the question it
 * answers, and the error replies. Messages are read and written with ldns;
 * the only bytes handled here by hand are the ID and the TTL fields of a
 * message ldns has accepted (see dns_msg_answer). */
#ifndef SOCKGATE_DNS_MSG_H
#define SOCKGATE_DNS_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_NAME_WIRE_MAX 255
#define DNS_HEADER_LEN	  12
#define DNS_UDP_PLAIN_MAX 512	/* a UDP message without EDNS0 (RFC 1035 4.2.1) */
#define DNS_MSG_MAX	  65535 /* any message, as ldns writes it again */
/* TTL fields an answer kept in the cache may have (more: not cached) */
#define DNS_TTLS_MAX 64

enum dns_rcode {
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

/* What a query asks, and how its asker wants the answer. */
struct dns_msg_query {
	uint16_t id;
	uint8_t opcode;
	uint8_t name[DNS_NAME_WIRE_MAX]; /* QNAME in wire form, lower case */
	uint8_t name_len;
	uint16_t type, klass;
	uint8_t rd, cd;
	uint8_t edns;	   /* the query had an OPT record */
	uint8_t dnssec_ok; /* its DO bit */
	uint16_t udp_max;  /* the largest UDP answer it takes (512 without EDNS0) */
	/* where its question section lies in the message it came in, so an
	 * answer can repeat the asker's own spelling of the name */
	uint16_t question_len;
};

enum dns_query_verdict {
	DNS_QUERY_OK,
	DNS_QUERY_DROP,	   /* not even a header, or a response: no reply */
	DNS_QUERY_FORMERR, /* malformed, or not one question */
	DNS_QUERY_NOTIMP,  /* an opcode other than QUERY */
};

/* Judges a client's message; q is filled for DNS_QUERY_OK, q->id (and
 * as much as could be read) for the others. */
enum dns_query_verdict dns_msg_parse_query(const uint8_t *msg, size_t len, struct dns_msg_query *q);

/* A resolver's answer to q, as the cache keeps it. */
struct dns_msg_answer {
	size_t len; /* of the answer as written again */
	uint8_t rcode;
	uint8_t truncated;
	/* how long a cache may keep it (RFC 2308 for NXDOMAIN and NODATA:
	 * the SOA's TTL capped by its MINIMUM); 0: not to be cached */
	uint32_t ttl;
	/* offsets of the TTL fields (not OPT's) in the message, for aging */
	uint16_t ttl_at[DNS_TTLS_MAX];
	unsigned n_ttl;
};

/* Judges a resolver's answer to q and writes it again with ldns into out
 * (cap bytes; a->len): that is what clients and the cache get, never the
 * resolver's own bytes. 0, or -1 with why (not an answer, not to this
 * question, malformed, larger than cap). */
int dns_msg_parse_answer(const uint8_t *msg, size_t len, const struct dns_msg_query *q,
			 struct dns_msg_answer *a, uint8_t *out, size_t cap, const char **why);

/* The reply with rcode (FORMERR, SERVFAIL, NOTIMP, REFUSED) to a query
 * judged into q, its question repeated when there was one, written to out
 * (cap bytes): its length, or 0. */
size_t dns_msg_error_reply(const struct dns_msg_query *q, int with_question, uint8_t rcode,
			   uint8_t *out, size_t cap);

/* The reply to q that says its answer does not fit a UDP message: TC set,
 * the question, no records (the client asks again over TCP). */
size_t dns_msg_truncated_reply(const struct dns_msg_query *q, uint8_t *out, size_t cap);

/* A query for q's question with id, as a resolver is asked it (RD set,
 * EDNS0 with our UDP size and q's DO bit): its length in out, or 0. */
size_t dns_msg_forward_query(const struct dns_msg_query *q, uint16_t id, uint16_t udp_size,
			     uint8_t *out, size_t cap);

static inline uint16_t dns_msg_id(const uint8_t *msg)
{
	return (uint16_t)(msg[0] << 8 | msg[1]);
}

static inline void dns_msg_set_id(uint8_t *msg, uint16_t id)
{
	msg[0] = (uint8_t)(id >> 8);
	msg[1] = (uint8_t)id;
}

/* An answer to q (an A or AAAA question) holding addr with ttl, or with
 * addr NULL none (NODATA), into out; its length, or 0. */
size_t dns_msg_address_reply(const struct dns_msg_query *q, const struct sockaddr_storage *addr,
			     uint32_t ttl, uint8_t *out, size_t cap);
/* q's name as text ("www.example.com", lower case) into out; -1 for the
 * root or a name with other characters than letters, digits, '-', '_'. */
int dns_msg_name_text(const struct dns_msg_query *q, char *out, size_t cap);

#endif
