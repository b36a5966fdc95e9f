/* The neighbour table over rtnetlink (see neigh.h). */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sockgate/addr.h"
#include "sockgate/neigh.h"

struct neigh_entry {
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t ip[16];
	uint8_t mac[6];
};

struct neigh {
	struct mnl_socket *nl;
	uint32_t seq;
	struct neigh_entry *v;
	size_t n, cap;
	uint64_t dumped_ms; /* 0: never */
};

struct neigh *neigh_new(void)
{
	struct neigh *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->nl = mnl_socket_open(NETLINK_ROUTE);
	if (!n->nl || mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = errno;
		neigh_free(n);
		errno = err;
		return NULL;
	}
	n->seq = (uint32_t)time(NULL);
	return n;
}

void neigh_free(struct neigh *n)
{
	if (!n)
		return;
	if (n->nl)
		mnl_socket_close(n->nl);
	free(n->v);
	free(n);
}

struct neigh_msg {
	const uint8_t *ip, *mac;
	size_t ip_len;
};

static int neigh_attr(const struct nlattr *attr, void *data)
{
	struct neigh_msg *m = data;

	if (mnl_attr_get_type(attr) == NDA_DST) {
		m->ip = mnl_attr_get_payload(attr);
		m->ip_len = mnl_attr_get_payload_len(attr);
	} else if (mnl_attr_get_type(attr) == NDA_LLADDR && mnl_attr_get_payload_len(attr) == 6) {
		m->mac = mnl_attr_get_payload(attr);
	}
	return MNL_CB_OK;
}

/* One entry of the dump: kept when it has an address and a MAC and the
 * kernel does not consider it failed. */
static int neigh_entry_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh *n = data;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	struct neigh_msg m = { 0 };
	struct neigh_entry *e;

	if (nlh->nlmsg_type != RTM_NEWNEIGH ||
	    (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) ||
	    (nd->ndm_state & (NUD_FAILED | NUD_INCOMPLETE | NUD_NOARP)))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*nd), neigh_attr, &m);
	if (!m.ip || !m.mac || m.ip_len != (nd->ndm_family == AF_INET ? 4u : 16u))
		return MNL_CB_OK;
	if (n->n == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 64;
		void *grown = realloc(n->v, cap * sizeof(*n->v));
		if (!grown)
			return MNL_CB_ERROR;
		n->v = grown;
		n->cap = cap;
	}
	e = &n->v[n->n++];
	memset(e, 0, sizeof(*e));
	e->family = nd->ndm_family;
	memcpy(e->ip, m.ip, m.ip_len);
	memcpy(e->mac, m.mac, 6);
	return MNL_CB_OK;
}

/* The whole table again; 0 or -1 (the old one is then empty). */
static int neigh_dump(struct neigh *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd;
	uint32_t seq = ++n->seq, port = mnl_socket_get_portid(n->nl);
	ssize_t len;
	int rc = MNL_CB_OK;

	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_UNSPEC;
	n->n = 0;
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while (rc > MNL_CB_STOP && (len = mnl_socket_recvfrom(n->nl, buf, sizeof(buf))) > 0)
		rc = mnl_cb_run(buf, (size_t)len, seq, port, neigh_entry_cb, n);
	return rc < MNL_CB_STOP ? -1 : 0;
}

static const struct neigh_entry *neigh_find(const struct neigh *n, int family, const uint8_t *ip)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < n->n; i++)
		if (n->v[i].family == family && !memcmp(n->v[i].ip, ip, len))
			return &n->v[i];
	return NULL;
}

int neigh_mac(struct neigh *n, const struct sockaddr_storage *ip, uint64_t now_ms, uint8_t mac[6])
{
	struct sockaddr_storage a = *ip;
	const struct neigh_entry *e;
	const uint8_t *bytes;

	addr_unmap_v4(&a);
	if (a.ss_family == AF_INET)
		bytes = (const uint8_t *)&((const struct sockaddr_in *)&a)->sin_addr;
	else if (a.ss_family == AF_INET6)
		bytes = ((const struct sockaddr_in6 *)&a)->sin6_addr.s6_addr;
	else
		return -1;
	if (!n->dumped_ms || now_ms - n->dumped_ms >= NEIGH_TTL_MS) {
		n->dumped_ms = now_ms;
		neigh_dump(n);
	}
	e = neigh_find(n, a.ss_family, bytes);
	if (!e && now_ms - n->dumped_ms >= NEIGH_RETRY_MS) {
		n->dumped_ms = now_ms; /* a client new on the LAN */
		neigh_dump(n);
		e = neigh_find(n, a.ss_family, bytes);
	}
	if (!e)
		return -1;
	memcpy(mac, e->mac, 6);
	return 0;
}
