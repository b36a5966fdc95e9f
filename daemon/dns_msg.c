/* DNS messages for the DNS service (see dns_msg.h). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns_msg.h"

#define DNS_UDP_ANSWER_MAX 4096 /* the largest UDP answer we send, whatever EDNS0 allows */
#define DNS_TYPE_OPT	   41
#define DNS_TYPE_SOA	   6

/* The end of the name at off in msg (len bytes): the offset after it, or
 * 0 when it runs past the end. Only for messages ldns accepted: it finds
 * where fields lie, it does not judge them. */
static size_t skip_name(const uint8_t *msg, size_t len, size_t off)
{
	while (off < len) {
		uint8_t l = msg[off];
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (l == 0)
			return off + 1;
		off += 1 + (size_t)l;
	}
	return 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Walks msg's records, as far as they read: visit gets the offset of each
 * record's TYPE field, and a nonzero answer stops the walk and is what it
 * returns. Else 0 when the records end exactly at len, -1 when they do
 * not add up. It finds where fields lie; judging them is ldns' work. */
static int walk_records(const uint8_t *msg, size_t len,
			int (*visit)(const uint8_t *msg, size_t type_at, void *arg), void *arg)
{
	unsigned records = (unsigned)get16(msg + 6) + get16(msg + 8) + get16(msg + 10);
	size_t off = DNS_HEADER_LEN;
	int rc;

	for (unsigned i = 0; i < get16(msg + 4); i++) {
		off = skip_name(msg, len, off);
		if (!off || off + 4 > len)
			return -1;
		off += 4;
	}
	for (unsigned i = 0; i < records; i++) {
		off = skip_name(msg, len, off);
		if (!off || off + 10 > len)
			return -1;
		rc = visit(msg, off, arg);
		if (rc)
			return rc;
		off += 10 + get16(msg + off + 8);
		if (off > len)
			return -1;
	}
	return off == len ? 0 : -1;
}

/* Whether ldns would see a TSIG record in msg (len >= DNS_HEADER_LEN),
 * read as far as it reads. ldns 1.8.3's ldns_wire2pkt leaks the records
 * of a message with several TSIGs; we neither sign nor verify (TSIG is
 * between two hops, not for a forwarder to pass on), so such a message
 * never reaches it. Read record by record with ldns' own ldns_wire2rr, the
 * walk ldns_wire2pkt makes: where a record's data is longer than its
 * fields (a CNAME of rdlength 4 holding the root name), ldns reads the
 * next record from inside it, and may find TSIGs no RDLENGTH walk sees
 * (fuzz_dns_msg found one). */
static int has_tsig(const uint8_t *msg, size_t len)
{
	unsigned qd = get16(msg + 4);
	unsigned records = qd + get16(msg + 6) + get16(msg + 8) + get16(msg + 10);
	size_t pos = DNS_HEADER_LEN;

	for (unsigned i = 0; i < records; i++) {
		ldns_rr *rr = NULL;
		int tsig;

		if (ldns_wire2rr(&rr, msg, len, &pos,
				 i < qd ? LDNS_SECTION_QUESTION : LDNS_SECTION_ANSWER) !=
		    LDNS_STATUS_OK)
			return 0; /* ldns_wire2pkt stops there too */
		tsig = ldns_rr_get_type(rr) == LDNS_RR_TYPE_TSIG;
		ldns_rr_free(rr);
		if (tsig)
			return 1;
	}
	return 0;
}

/* The question's one record into q; 0, or -1 for a name or section we do
 * not take. */
static int take_question(ldns_pkt *pkt, struct dns_msg_query *q)
{
	ldns_rr *rr;
	ldns_rdf *owner;

	if (ldns_pkt_qdcount(pkt) != 1 || ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != 1)
		return -1;
	rr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	owner = ldns_rr_owner(rr);
	if (!owner || ldns_rdf_size(owner) == 0 || ldns_rdf_size(owner) > DNS_NAME_WIRE_MAX)
		return -1;
	ldns_dname2canonical(owner);
	memcpy(q->name, ldns_rdf_data(owner), ldns_rdf_size(owner));
	q->name_len = (uint8_t)ldns_rdf_size(owner);
	q->type = (uint16_t)ldns_rr_get_type(rr);
	q->klass = (uint16_t)ldns_rr_get_class(rr);
	return 0;
}

enum dns_query_verdict dns_msg_parse_query(const uint8_t *msg, size_t len, struct dns_msg_query *q)
{
	enum dns_query_verdict v = DNS_QUERY_FORMERR;
	ldns_pkt *pkt = NULL;
	size_t end;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HEADER_LEN || (msg[2] & 0x80))
		return DNS_QUERY_DROP; /* no header to answer, or a response */
	q->id = dns_msg_id(msg);
	q->opcode = (msg[2] >> 3) & 0x0f;
	q->rd = (msg[2] & 0x01) != 0;
	if (q->opcode != LDNS_PACKET_QUERY)
		return DNS_QUERY_NOTIMP;
	if (has_tsig(msg, len) || ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK)
		return DNS_QUERY_FORMERR;
	if (ldns_pkt_ancount(pkt) || ldns_pkt_nscount(pkt) || take_question(pkt, q) < 0)
		goto out;
	q->cd = ldns_pkt_cd(pkt);
	q->edns = ldns_pkt_edns(pkt);
	q->dnssec_ok = q->edns && ldns_pkt_edns_do(pkt);
	q->udp_max = DNS_UDP_PLAIN_MAX;
	if (q->edns && ldns_pkt_edns_udp_size(pkt) > DNS_UDP_PLAIN_MAX)
		q->udp_max = ldns_pkt_edns_udp_size(pkt) < DNS_UDP_ANSWER_MAX
				 ? ldns_pkt_edns_udp_size(pkt)
				 : DNS_UDP_ANSWER_MAX;
	end = skip_name(msg, len, DNS_HEADER_LEN);
	if (end && end + 4 <= len)
		q->question_len = (uint16_t)(end + 4 - DNS_HEADER_LEN);
	v = DNS_QUERY_OK;
out:
	ldns_pkt_free(pkt);
	return v;
}

/* Whether the answer's question is q's. */
static int same_question(ldns_pkt *pkt, const struct dns_msg_query *q)
{
	struct dns_msg_query got;

	memset(&got, 0, sizeof(got));
	return take_question(pkt, &got) == 0 && got.name_len == q->name_len &&
	       !memcmp(got.name, q->name, q->name_len) && got.type == q->type &&
	       got.klass == q->klass;
}

/* RFC 2308 section 5: a negative answer lives as long as the SOA of its
 * authority section says (its TTL, at most its MINIMUM); none: 0. */
static uint32_t negative_ttl(ldns_pkt *pkt)
{
	ldns_rr_list *auth = ldns_pkt_authority(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		uint32_t ttl = ldns_rr_ttl(rr), min;
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7)
			continue;
		min = ldns_rdf2native_int32(ldns_rr_rdf(rr, 6));
		return ttl < min ? ttl : min;
	}
	return 0;
}

/* The smallest TTL of the answer and authority records. */
static uint32_t positive_ttl(ldns_pkt *pkt)
{
	ldns_rr_list *lists[2] = { ldns_pkt_answer(pkt), ldns_pkt_authority(pkt) };
	uint32_t ttl = UINT32_MAX;

	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < ldns_rr_list_rr_count(lists[l]); i++)
			if (ldns_rr_ttl(ldns_rr_list_rr(lists[l], i)) < ttl)
				ttl = ldns_rr_ttl(ldns_rr_list_rr(lists[l], i));
	return ttl == UINT32_MAX ? 0 : ttl;
}

/* Notes where a record's TTL lies (OPT's is no TTL); -1 past
 * DNS_TTLS_MAX. */
static int note_ttl(const uint8_t *msg, size_t type_at, void *arg)
{
	struct dns_msg_answer *a = arg;

	if (get16(msg + type_at) == DNS_TYPE_OPT)
		return 0;
	if (a->n_ttl == DNS_TTLS_MAX)
		return -1;
	a->ttl_at[a->n_ttl++] = (uint16_t)(type_at + 4);
	return 0;
}

/* Where the TTL fields of msg's records lie; 0, or -1 when there are more
 * than DNS_TTLS_MAX or the message does not add up to exactly its length.
 * msg is ldns' own writing. */
static int find_ttls(const uint8_t *msg, size_t len, struct dns_msg_answer *a)
{
	a->n_ttl = 0;
	return walk_records(msg, len, note_ttl, a);
}

int dns_msg_parse_answer(const uint8_t *msg, size_t len, const struct dns_msg_query *q,
			 struct dns_msg_answer *a, uint8_t *out, size_t cap, const char **why)
{
	ldns_pkt *pkt = NULL;
	uint8_t *wire = NULL;
	size_t size = 0;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	*why = "malformed";
	if (len < DNS_HEADER_LEN || len > UINT16_MAX || has_tsig(msg, len) ||
	    ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK)
		goto out;
	if (!ldns_pkt_qr(pkt) || ldns_pkt_get_opcode(pkt) != LDNS_PACKET_QUERY) {
		*why = "not an answer";
		goto out;
	}
	if (!same_question(pkt, q)) {
		*why = "an answer to another question";
		goto out;
	}
	/* what goes on is ldns' own writing of what it read: nothing of the
	 * resolver's layout (trailing bytes, odd lengths) passes through */
	if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK || size > cap || size > UINT16_MAX) {
		*why = "too large";
		goto out;
	}
	memcpy(out, wire, size);
	a->len = size;
	a->rcode = (uint8_t)ldns_pkt_get_rcode(pkt);
	a->truncated = ldns_pkt_tc(pkt);
	if (!a->truncated && a->rcode == DNS_RCODE_NXDOMAIN)
		a->ttl = negative_ttl(pkt);
	else if (!a->truncated && a->rcode == DNS_RCODE_NOERROR)
		a->ttl = ldns_pkt_ancount(pkt) ? positive_ttl(pkt) : negative_ttl(pkt);
	if (a->ttl && find_ttls(out, size, a) < 0)
		a->ttl = 0; /* too many records to age: served, not kept */
	rc = 0;
out:
	free(wire);
	ldns_pkt_free(pkt);
	return rc;
}

/* A packet with q's header bits and, with_question, its question; NULL
 * when out of memory. */
static ldns_pkt *packet_for(const struct dns_msg_query *q, int with_question)
{
	ldns_pkt *pkt = ldns_pkt_new();
	ldns_rr *rr;
	ldns_rdf *owner;

	if (!pkt || !with_question)
		return pkt;
	rr = ldns_rr_new();
	owner = ldns_dname_new_frm_data(q->name_len, q->name);
	if (!rr || !owner) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(owner);
		ldns_pkt_free(pkt);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, (ldns_rr_type)q->type);
	ldns_rr_set_class(rr, (ldns_rr_class)q->klass);
	ldns_rr_set_question(rr, true);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, rr);
	return pkt;
}

/* pkt's wire form into out; its length, or 0. Frees pkt. */
static size_t to_wire(ldns_pkt *pkt, uint8_t *out, size_t cap)
{
	uint8_t *wire = NULL;
	size_t size = 0, n = 0;

	if (pkt && ldns_pkt2wire(&wire, pkt, &size) == LDNS_STATUS_OK && size <= cap) {
		memcpy(out, wire, size);
		n = size;
	}
	free(wire);
	ldns_pkt_free(pkt);
	return n;
}

/* A reply to q, its header as the asker's: ID, opcode, RD and CD echoed,
 * RA set, and an OPT back to one who sent one (RFC 6891 section 7); NULL
 * when out of memory. */
static ldns_pkt *reply_to(const struct dns_msg_query *q, int with_question)
{
	ldns_pkt *pkt = packet_for(q, with_question);

	if (!pkt)
		return NULL;
	ldns_pkt_set_id(pkt, q->id);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_opcode(pkt, (ldns_pkt_opcode)q->opcode);
	ldns_pkt_set_rd(pkt, q->rd);
	ldns_pkt_set_cd(pkt, q->cd);
	ldns_pkt_set_ra(pkt, true);
	if (q->edns)
		ldns_pkt_set_edns_udp_size(pkt, q->udp_max);
	return pkt;
}

size_t dns_msg_error_reply(const struct dns_msg_query *q, int with_question, uint8_t rcode,
			   uint8_t *out, size_t cap)
{
	ldns_pkt *pkt = reply_to(q, with_question);

	if (!pkt)
		return 0;
	ldns_pkt_set_rcode(pkt, rcode);
	return to_wire(pkt, out, cap);
}

size_t dns_msg_truncated_reply(const struct dns_msg_query *q, uint8_t *out, size_t cap)
{
	ldns_pkt *pkt = reply_to(q, 1);

	if (!pkt)
		return 0;
	ldns_pkt_set_tc(pkt, true);
	return to_wire(pkt, out, cap);
}

size_t dns_msg_forward_query(const struct dns_msg_query *q, uint16_t id, uint16_t udp_size,
			     uint8_t *out, size_t cap)
{
	ldns_pkt *pkt = packet_for(q, 1);

	if (!pkt)
		return 0;
	ldns_pkt_set_id(pkt, id);
	ldns_pkt_set_opcode(pkt, LDNS_PACKET_QUERY);
	ldns_pkt_set_rd(pkt, true);
	ldns_pkt_set_cd(pkt, q->cd);
	ldns_pkt_set_edns_udp_size(pkt, udp_size);
	ldns_pkt_set_edns_do(pkt, q->dnssec_ok);
	return to_wire(pkt, out, cap);
}

size_t dns_msg_address_reply(const struct dns_msg_query *q, const struct sockaddr_storage *addr,
			     uint32_t ttl, uint8_t *out, size_t cap)
{
	ldns_pkt *pkt = reply_to(q, 1);
	ldns_rr *rr = NULL;
	ldns_rdf *owner = NULL, *data = NULL;

	if (!pkt)
		return 0;
	ldns_pkt_set_aa(pkt, true); /* nobody else has these addresses */
	if (!addr)
		return to_wire(pkt, out, cap); /* NODATA */
	rr = ldns_rr_new();
	owner = ldns_dname_new_frm_data(q->name_len, q->name);
	if (addr->ss_family == AF_INET)
		data = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4,
					     &((const struct sockaddr_in *)addr)->sin_addr);
	else
		data = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16,
					     &((const struct sockaddr_in6 *)addr)->sin6_addr);
	if (!rr || !owner || !data) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(owner);
		ldns_rdf_deep_free(data);
		ldns_pkt_free(pkt);
		return 0;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, addr->ss_family == AF_INET ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	ldns_rr_push_rdf(rr, data);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
	return to_wire(pkt, out, cap);
}

int dns_msg_name_text(const struct dns_msg_query *q, char *out, size_t cap)
{
	size_t i = 0, n = 0;

	while (i < q->name_len && q->name[i]) {
		uint8_t len = q->name[i++];
		if (len > 63 || i + len > q->name_len || n + len + 1 >= cap)
			return -1;
		for (uint8_t k = 0; k < len; k++) {
			char c = (char)q->name[i + k];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '_'))
				return -1; /* anything else is no host name */
			out[n++] = c;
		}
		i += len;
		out[n++] = '.';
	}
	if (n == 0)
		return -1; /* the root */
	out[n - 1] = '\0';
	return 0;
}
