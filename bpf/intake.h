/* Shared by the tc intake program and the CLI that loads it: the keys of
 * the bypass maps and the slots of the counters. */
#ifndef SOCKGATE_BPF_INTAKE_H
#define SOCKGATE_BPF_INTAKE_H

#include <linux/types.h>

/* LPM trie keys: prefix length in bits, then the address (network order). */
struct intake_lpm4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct intake_lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

enum intake_counter {
	INTAKE_TCP_NEW,	   /* SYNs handed to the TPROXY listener */
	INTAKE_TCP_MARKED, /* other segments marked for their socket */
	INTAKE_UDP,	   /* datagrams handed to the TPROXY UDP socket */
	INTAKE_BYPASSED,   /* to a bypassed or local destination */
	INTAKE_NO_SOCKET,  /* no sockgated socket to hand it to: dropped */
	INTAKE_FRAGMENT,   /* an IPv4 fragment to an intercepted destination: dropped */
	INTAKE_TAKEOVER,   /* SYNs meeting a TIME_WAIT: left to the socket lookup */
	INTAKE_TAKEN_OVER, /* of those, given to the listener by the socket lookup */
	INTAKE_COUNTERS,
};

/* A new connection's addresses (network order; IPv4 in the first word),
 * noted by the tc program for the socket lookup program when its SYN
 * meets a TIME_WAIT socket of the same addresses. */
struct intake_tuple {
	__u32 saddr[4]; /* the client */
	__u32 daddr[4]; /* the original destination */
	__u16 sport;
	__u16 dport;
	__u32 family;
};

/* Slots of the listener map: sockgated's TPROXY TCP listeners. */
enum intake_listener_slot {
	INTAKE_LISTENER_V4,
	INTAKE_LISTENER_V6,
	INTAKE_LISTENER_SLOTS,
};

/* An address and port (network order): the original destination a
 * socket of an intercepted cgroup connected to, or a connecting socket's
 * own address as key of the hand-over to sockgated. IPv4 in addr[0..3]. */
struct intake_endpoint {
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 port;
	__u8 addr[16];
};

enum cgroup_counter {
	CGROUP_REDIRECTED, /* connects sent to sockgated's redirect listener */
	CGROUP_PUBLISHED,  /* their local port known: waiting for the accept */
	CGROUP_CLAIMED,	   /* accepted by sockgated: moved onto its socket */
	CGROUP_ANSWERED,   /* SO_ORIGINAL_DST answered */
	CGROUP_COUNTERS,
};

#endif
