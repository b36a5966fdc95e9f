/* The eBPF intake for forwarded traffic (bpf/tc_intake.bpf.c): a tc
 * ingress program on each intercepted interface hands new TCP connections
 * and UDP datagrams to sockgated's TPROXY sockets (bpf_sk_assign) without
 * netfilter. Loaded from its libbpf skeleton, attached with tc (clsact),
 * its program and maps pinned under bpf_pin_dir() so they outlive the
 * command. Functions return 0 or -errno with a message in err. */
#ifndef SOCKGATE_TC_INTAKE_H
#define SOCKGATE_TC_INTAKE_H

#include <stddef.h>

#include "bpf_pins.h"
#include "ruleset.h"

/* Whether this kernel can run the program (tc programs, bpf_sk_assign,
 * bpf_fib_lookup); if not, why. */
int tc_intake_probe(char *why, size_t len);
/* Loads the program for rs (its tproxy port and mark, its bypass ranges),
 * attaches it to rs's interfaces (replacing a previous version, detaching
 * it from interfaces no longer listed) and pins it. */
int tc_intake_apply(const struct ruleset *rs, char *err, size_t errlen);
/* Detaches it everywhere and removes the pins; *detached counts the
 * interfaces it was taken off. Nothing installed is not an error. */
int tc_intake_flush(unsigned *detached, char *err, size_t errlen);
/* 1 when a program is pinned, 0 when not. */
int tc_intake_installed(void);
/* sockgated's TPROXY TCP listeners (IPv4, IPv6; -1 for none) into the
 * pinned listener map, where the socket lookup program finds them when a
 * new connection meets a TIME_WAIT socket; closing a listener takes it
 * out again. tc_intake_listeners counts those in the map. */
int tc_intake_set_listeners(const int fds[2], char *err, size_t errlen);
int tc_intake_listeners(void);
/* Live changes by `sockgate bypass` and `sockgate intercept`, on the
 * pinned program: the bypass map of is's family made to hold exactly is
 * (new blocks added before stale ones go, so nothing bypassed is taken
 * meanwhile), and the program attached to or detached from interface
 * name (the set of interfaces stays the nft set's twin). */
int tc_intake_set_bypass(const struct interval_set *is, char *err, size_t errlen);
int tc_intake_change_iface(const char *name, int add, char *err, size_t errlen);

#endif
