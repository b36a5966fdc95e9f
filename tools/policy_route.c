/* rtnetlink for TPROXY's policy routing. Dumps are filtered on our
 * protocol number; what they return is deleted by sending the same message
 * back as RTM_DELRULE / RTM_DELROUTE. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "policy_route.h"

struct found {
	struct nlmsghdr **msgs;
	size_t n, cap;
	int failed;
};

/* Sends req and waits for its acknowledgement (or error); with a dump,
 * feeds the replies to cb. */
static int rt_talk(struct mnl_socket *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t portid = mnl_socket_get_portid(nl);
	int ret;

	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)n, req->nlmsg_seq, portid, cb, data);
		if (ret <= 0)
			break;
	}
	return ret < 0 ? -errno : 0;
}

static int keep(struct found *f, const struct nlmsghdr *nlh)
{
	struct nlmsghdr *copy;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		void *v = realloc(f->msgs, cap * sizeof(*f->msgs));
		if (!v)
			return -1;
		f->msgs = v;
		f->cap = cap;
	}
	copy = malloc(nlh->nlmsg_len);
	if (!copy)
		return -1;
	memcpy(copy, nlh, nlh->nlmsg_len);
	f->msgs[f->n++] = copy;
	return 0;
}

static int rule_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= FRA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int rule_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[FRA_MAX + 1] = { NULL };
	struct found *f = data;

	mnl_attr_parse(nlh, sizeof(struct fib_rule_hdr), rule_attr_cb, tb);
	if (tb[FRA_PROTOCOL] && mnl_attr_get_u8(tb[FRA_PROTOCOL]) == POLICY_ROUTE_PROTO &&
	    keep(f, nlh) < 0)
		f->failed = 1;
	return MNL_CB_OK;
}

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct found *f = data;

	if (rtm->rtm_protocol == POLICY_ROUTE_PROTO && keep(f, nlh) < 0)
		f->failed = 1;
	return MNL_CB_OK;
}

/* Ours of one kind (rules or routes) and family, as dumped. */
static int dump_ours(struct mnl_socket *nl, int rules, int family, struct found *f, uint32_t *seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int ret;

	nlh->nlmsg_type = rules ? RTM_GETRULE : RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (*seq)++;
	if (rules) {
		struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
		frh->family = (uint8_t)family;
	} else {
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = (uint8_t)family;
	}
	ret = rt_talk(nl, nlh, rules ? rule_dump_cb : route_dump_cb, f);
	return !ret && f->failed ? -ENOMEM : ret;
}

static void found_free(struct found *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->msgs[i]);
	free(f->msgs);
	memset(f, 0, sizeof(*f));
}

/* Sends a dumped (or built) message back as its deletion. */
static int delete_msg(struct mnl_socket *nl, struct nlmsghdr *msg, int rules, uint32_t *seq)
{
	int ret;

	msg->nlmsg_type = rules ? RTM_DELRULE : RTM_DELROUTE;
	msg->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	msg->nlmsg_seq = (*seq)++;
	msg->nlmsg_pid = 0;
	ret = rt_talk(nl, msg, NULL, NULL);
	return ret == -ENOENT || ret == -ESRCH ? 0 : ret; /* gone meanwhile */
}

/* Whether a dumped rule is "fwmark MARK lookup TABLE". */
static int rule_is(const struct nlmsghdr *nlh, uint32_t mark, uint32_t table)
{
	const struct nlattr *tb[FRA_MAX + 1] = { NULL };

	mnl_attr_parse(nlh, sizeof(struct fib_rule_hdr), rule_attr_cb, tb);
	return tb[FRA_FWMARK] && mnl_attr_get_u32(tb[FRA_FWMARK]) == mark && tb[FRA_TABLE] &&
	       mnl_attr_get_u32(tb[FRA_TABLE]) == table;
}

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= RTA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* Whether a dumped route is "local default dev lo table TABLE". */
static int route_is(const struct nlmsghdr *nlh, uint32_t table)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { NULL };

	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb);
	return rtm->rtm_type == RTN_LOCAL && rtm->rtm_dst_len == 0 && tb[RTA_TABLE] &&
	       mnl_attr_get_u32(tb[RTA_TABLE]) == table;
}

static struct mnl_socket *rt_open(char *err, size_t errlen)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "rtnetlink socket: %s", strerror(errno));
		if (nl)
			mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

static const int families[2] = { AF_INET, AF_INET6 };

int policy_route_flush(unsigned *removed, char *err, size_t errlen)
{
	uint32_t seq = (uint32_t)time(NULL);
	struct mnl_socket *nl = rt_open(err, errlen);
	int ret = 0;

	*removed = 0;
	if (!nl)
		return -errno;
	/* rules first: then nothing is steered into the tables any more */
	for (int i = 0; !ret && i < 4; i++) {
		struct found f = { 0 };
		int rules = i < 2;
		ret = dump_ours(nl, rules, families[i % 2], &f, &seq);
		for (size_t j = 0; !ret && j < f.n; j++) {
			ret = delete_msg(nl, f.msgs[j], rules, &seq);
			if (!ret)
				(*removed)++;
		}
		if (ret < 0)
			snprintf(err, errlen, "removing sockgate's %s %s: %s",
				 families[i % 2] == AF_INET ? "IPv4" : "IPv6",
				 rules ? "rules" : "routes", strerror(-ret));
		found_free(&f);
	}
	mnl_socket_close(nl);
	return ret;
}

/* Builds "fwmark MARK lookup TABLE" or "local default dev lo table TABLE"
 * for family into buf. */
static struct nlmsghdr *build(char *buf, int rules, int family, uint32_t mark, uint32_t table,
			      unsigned lo, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_seq = seq;
	if (rules) {
		struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
		nlh->nlmsg_type = RTM_NEWRULE;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
		frh->family = (uint8_t)family;
		frh->action = FR_ACT_TO_TBL;
		mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
		mnl_attr_put_u32(nlh, FRA_TABLE, table);
		mnl_attr_put_u8(nlh, FRA_PROTOCOL, POLICY_ROUTE_PROTO);
	} else {
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		nlh->nlmsg_type = RTM_NEWROUTE;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
		rtm->rtm_family = (uint8_t)family;
		rtm->rtm_table = RT_TABLE_UNSPEC;
		rtm->rtm_protocol = POLICY_ROUTE_PROTO;
		rtm->rtm_scope = RT_SCOPE_HOST;
		rtm->rtm_type = RTN_LOCAL;
		mnl_attr_put_u32(nlh, RTA_TABLE, table);
		mnl_attr_put_u32(nlh, RTA_OIF, lo);
	}
	return nlh;
}

/* Adds what is missing, and only if all of it could be added removes
 * what a different earlier config left: a failure changes nothing. */
int policy_route_apply(uint32_t mark, uint32_t table, char *err, size_t errlen)
{
	uint32_t seq = (uint32_t)time(NULL);
	unsigned lo = if_nametoindex("lo");
	struct found have[4] = { { 0 } }; /* rules v4, v6, routes v4, v6 */
	char added[4][MNL_SOCKET_BUFFER_SIZE / 16];
	int n_added = 0, added_kind[4], ret = 0;
	struct mnl_socket *nl;

	if (!lo) {
		snprintf(err, errlen, "no loopback interface: %s", strerror(errno));
		return -ENODEV;
	}
	nl = rt_open(err, errlen);
	if (!nl)
		return -errno;
	for (int i = 0; !ret && i < 4; i++) {
		ret = dump_ours(nl, i < 2, families[i % 2], &have[i], &seq);
		if (ret < 0)
			snprintf(err, errlen, "reading the routing %s: %s",
				 i < 2 ? "rules" : "tables", strerror(-ret));
	}
	for (int i = 0; !ret && i < 4; i++) {
		int rules = i < 2, present = 0;
		struct nlmsghdr *nlh;
		for (size_t j = 0; j < have[i].n; j++)
			present |= rules ? rule_is(have[i].msgs[j], mark, table)
					 : route_is(have[i].msgs[j], table);
		if (present)
			continue;
		nlh = build(added[n_added], rules, families[i % 2], mark, table, lo, seq++);
		ret = rt_talk(nl, nlh, NULL, NULL);
		if (ret < 0) {
			snprintf(err, errlen, "adding the %s %s: %s",
				 families[i % 2] == AF_INET ? "IPv4" : "IPv6",
				 rules ? "rule \"fwmark ... lookup ...\""
				       : "route \"local default dev lo\" (is lo up?)",
				 strerror(-ret));
			break;
		}
		added_kind[n_added++] = rules;
	}
	if (ret < 0) {
		/* take back this call's additions; the earlier setup stays */
		for (int i = n_added; i-- > 0;)
			delete_msg(nl, (struct nlmsghdr *)added[i], added_kind[i], &seq);
	} else {
		/* what an earlier, different config left */
		for (int i = 0; !ret && i < 4; i++) {
			int rules = i < 2;
			for (size_t j = 0; !ret && j < have[i].n; j++) {
				int wanted = rules ? rule_is(have[i].msgs[j], mark, table)
						   : route_is(have[i].msgs[j], table);
				if (!wanted)
					ret = delete_msg(nl, have[i].msgs[j], rules, &seq);
			}
		}
		if (ret < 0)
			snprintf(err, errlen, "removing stale policy routing: %s", strerror(-ret));
	}
	for (int i = 0; i < 4; i++)
		found_free(&have[i]);
	mnl_socket_close(nl);
	return ret;
}
