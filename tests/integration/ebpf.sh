# shellcheck shell=bash
# The eBPF intake for forwarded traffic: a tc ingress program hands the
# LAN's new TCP connections and UDP datagrams to sockgated's TPROXY sockets
# (bpf_sk_assign); no nftables rule intercepts the interface. Commands that
# touch BPF run with nsenter --net, not ip netns exec: that one remounts
# /sys in a private mount namespace, and pins made there would vanish.
# Sourced by run.sh (needs udp.sh).

router_cli() { nsenter --net=/run/netns/$NS_ROUTER "$SOCKGATE" "$@"; }

# Sum over CPUs of counter $1 of the pinned program (bpf/intake.h).
ebpf_counter() {
	bpftool -j map dump pinned /sys/fs/bpf/sockgate/counters | python3 -c '
import json, sys
k = int(sys.argv[1])
print(sum(v["value"] for e in json.load(sys.stdin) if e["formatted"]["key"] == k
          for v in e["formatted"]["values"]))' "$1"
}

ebpf_counters_saw() { # min SYNs, min datagrams
	[ "$(ebpf_counter 0)" -ge "$1" ] && [ "$(ebpf_counter 2)" -ge "$2" ]
}

flows_total() {
	$SOCKGATE -c "$RIG_DIR/sockgate.conf" --json status |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["daemon"]["flows_total"])'
}

# Whether a request to the server reaches it (curl succeeds) and went
# through sockgated ($1 = yes) or around it ($1 = no).
ebpf_request_through() { # yes|no
	local before after
	before=$(flows_total)
	in_ns $NS_CLIENT curl -s -m 5 -o /dev/null "http://$SERVER4/small" || return 1
	after=$(flows_total)
	if [ "$1" = yes ]; then [ "$after" -gt "$before" ]; else [ "$after" = "$before" ]; fi
}

test_ebpf_tc() {
	udp_start_peers
	# the program leaves destinations without any route alone (the kernel
	# cannot tell them from local ones): give the router a default route
	# into the proxy host, which forwards nothing
	ip -n $NS_ROUTER route add default via $PROXY4
	ip -n $NS_ROUTER -6 route add default via $PROXY6
	rig_rules_conf rules-ebpf "tproxy = 12346
ebpf = on"
	check "eBPF: rules apply (ebpf = on) attaches the tc program to r0" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/rules-ebpf.conf' rules apply | grep -q 'eBPF intake installed' && ip netns exec $NS_ROUTER tc filter show dev r0 ingress | grep -q 'intake_ingress'"
	check "eBPF: no nftables rule intercepts the interface" \
		bash -c "ip netns exec $NS_ROUTER nft list table inet sockgate >/dev/null && ! ip netns exec $NS_ROUTER nft list table inet sockgate | grep -q 'iifname @intercept_ifaces'"
	check "eBPF: the dry run says so too" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/rules-ebpf.conf' rules apply --dry-run | grep -q '^# eBPF: a tc ingress program'"
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1080"
	check "eBPF: sockgate status names the eBPF intake" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/sockgate.conf' status | grep -q 'intercepted by the eBPF tc program'"
	check "eBPF: 10 MB over IPv4 through dante, sha256 matches" expect_file $SERVER4
	check "eBPF: 10 MB over IPv6 through dante, sha256 matches" expect_file $SERVER6
	check "eBPF: 100 parallel requests" expect_parallel $SERVER4 100
	check "eBPF: 500 UDP datagrams over IPv4, each echoed" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 500
	check "eBPF: 500 UDP datagrams over IPv6, each echoed" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER6 $UDP_PORT 500
	check "eBPF: one client socket, six destinations: one association (workers picked by client)" \
		udp_one_association_for_many_destinations
	check "eBPF: dig through it" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT dig +short +time=3 +tries=1 @$SERVER4 udp.sgtest A)\" = 10.9.8.7"
	check "eBPF: the program counted the SYNs and the datagrams it handed over" \
		ebpf_counters_saw 102 1000
	# no netfilter at all: without table inet sockgate, traffic still flows
	in_ns $NS_ROUTER nft delete table inet sockgate
	check "eBPF: with table inet sockgate deleted, TCP and UDP still go through sockgated" \
		bash -c "ip netns exec $NS_CLIENT curl -s -m 5 -o /dev/null http://$SERVER4/small && ip netns exec $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 20 >/dev/null"
	router_cli -c "$RIG_DIR/rules-ebpf.conf" rules apply >/dev/null
	# routed, the client's own packets need a way back from the proxy host
	rig_open_direct_path
	ip -n $NS_PROXY route add 10.77.1.0/24 via $ROUTER4
	router_cli bypass add $SERVER4 >/dev/null
	check "eBPF: bypass add reaches the program's map: the server is routed directly" \
		ebpf_request_through no
	router_cli bypass del $SERVER4 >/dev/null
	check "eBPF: bypass del: through sockgated again" ebpf_request_through yes
	ip -n $NS_PROXY route del 10.77.1.0/24
	rig_close_direct_path
	router_cli intercept del r0 >/dev/null
	check "eBPF: intercept del r0 detaches the program from it" \
		bash -c "! ip netns exec $NS_ROUTER tc filter show dev r0 ingress | grep -q intake_ingress"
	router_cli intercept add r0 >/dev/null
	check "eBPF: intercept add r0 attaches it again, traffic flows" \
		bash -c "ip netns exec $NS_ROUTER tc filter show dev r0 ingress | grep -q intake_ingress && ip netns exec $NS_CLIENT curl -s -m 5 -o /dev/null http://$SERVER4/small"
	rig_stop_sockgated
	check "eBPF: rules flush detaches it, removes clsact and every pin" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' rules flush | grep -q 'eBPF intake detached' && ! ip netns exec $NS_ROUTER tc qdisc show dev r0 | grep -q clsact && ! test -e /sys/fs/bpf/sockgate"
	ip -n $NS_ROUTER route del default
	ip -n $NS_ROUTER -6 route del default
	rig_redirect_rule
}

# A system that refuses BPF (no CAP_BPF or CAP_SYS_ADMIN, as in an
# unprivileged container): ebpf = auto falls back to nftables, ebpf = on
# refuses and changes nothing.
test_ebpf_fallback() {
	local nobpf="capsh --drop=cap_bpf,cap_sys_admin,cap_perfmon --"
	rig_rules_conf rules-ebpf-auto "tproxy = 12346
ebpf = auto"
	check "eBPF refused, ebpf = auto: rules apply says why and installs nftables rules" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER $nobpf -c '$SOCKGATE -c $RIG_DIR/rules-ebpf-auto.conf rules apply' 2>&1 | grep -q 'eBPF intake not used' && ip netns exec $NS_ROUTER nft list table inet sockgate | grep -q 'iifname @intercept_ifaces goto capture'"
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1080"
	check "eBPF refused, ebpf = auto: traffic flows through the nftables TPROXY rules" \
		expect_file $SERVER4
	rig_stop_sockgated
	rig_rules_conf rules-ebpf-on "tproxy = 12346
ebpf = on"
	check "eBPF refused, ebpf = on: rules apply fails and says why" \
		bash -c "! nsenter --net=/run/netns/$NS_ROUTER $nobpf -c '$SOCKGATE -c $RIG_DIR/rules-ebpf-on.conf rules apply' 2>/dev/null && nsenter --net=/run/netns/$NS_ROUTER $nobpf -c '$SOCKGATE -c $RIG_DIR/rules-ebpf-on.conf rules apply' 2>&1 | grep -q 'ebpf = on, but'"
	check "eBPF refused, ebpf = on: the previous rules stay" \
		bash -c "ip netns exec $NS_ROUTER nft list table inet sockgate | grep -q 'iifname @intercept_ifaces goto capture'"
	rig_redirect_rule
}
