# shellcheck shell=bash
# The eBPF intake for forwarded traffic: a tc ingress program hands the
# LAN's new TCP connections and UDP datagrams to sockgated's TPROXY sockets
# (bpf_sk_assign); no nftables rule intercepts the interface. Commands that
# touch BPF run with nsenter --net, not ip netns exec: that one remounts
# /sys in a private mount namespace, and pins made there would vanish.
# Sourced by run.sh (needs udp.sh).

router_cli() { nsenter --net=/run/netns/$NS_ROUTER "$SOCKGATE" "$@"; }

# Pins and cgroup hooks live outside the namespaces: a test that stops half
# way must not leave them behind (run by rig_down).
EBPF_USED=""
rig_cleanup_more() {
	[ -n "$EBPF_USED" ] && [ -e /run/netns/$NS_ROUTER ] && router_cli rules flush >/dev/null 2>&1
	[ -n "${EBPF_CGROUP:-}" ] && rmdir "$EBPF_CGROUP" 2>/dev/null
	[ -n "${CG2_MOUNTED:-}" ] && umount "$CG2_MOUNTED" 2>/dev/null
	# test_syslog's stand-in system logger socket (service.sh)
	[ -n "${SYSLOG_MADE:-}" ] && rm -f /dev/log
	return 0
}

# Where the router namespace's BPF objects are pinned: per namespace.
router_pins() { echo "/sys/fs/bpf/sockgate/netns-$(stat -L -c %i /run/netns/$NS_ROUTER)"; }

# Sum over CPUs of counter $1 of the pinned program (bpf/intake.h).
ebpf_counter() {
	bpftool -j map dump pinned "$(router_pins)/counters" | python3 -c '
import json, sys
k = int(sys.argv[1])
print(sum(v["value"] for e in json.load(sys.stdin) if e["formatted"]["key"] == k
          for v in e["formatted"]["values"]))' "$1"
}

ebpf_counter_at_least() { # counter min
	[ "$(ebpf_counter "$1")" -ge "$2" ]
}

ebpf_counters_saw() { # min SYNs, min datagrams
	[ "$(ebpf_counter 0)" -ge "$1" ] && [ "$(ebpf_counter 2)" -ge "$2" ]
}

# No sockgate program left loaded (freed programs may take a moment).
no_intake_programs() {
	local i
	for i in $(seq 1 20); do
		bpftool prog show | grep -q 'name intake_' || return 0
		sleep 0.1
	done
	return 1
}

tc_nothing_left() {
	! nsenter --net=/run/netns/$NS_ROUTER bpftool net show | grep -q intake_ && no_intake_programs
}

ebpf_status_listeners() { # pattern
	nsenter --net=/run/netns/$NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" status |
		grep -q "^eBPF intake: $1"
}

ebpf_apply_hands_listeners() {
	router_cli -c "$RIG_DIR/rules-ebpf.conf" rules apply >"$RIG_DIR/apply.out" 2>&1 &&
		! grep -q 'not handed' "$RIG_DIR/apply.out" &&
		ebpf_status_listeners "2 sockgated listener(s) held"
}

# A connection from client port $2 (above the ephemeral range, so no
# earlier test's connection can hold it) that the server closes first leaves
# sockgated's side of it in TIME_WAIT; a second one from the same port
# must still be answered at once (the tc program leaves its SYN to the
# socket lookup program, which ends the TIME_WAIT as TPROXY does). A SYN
# handed straight to the listener would be dropped until the TIME_WAIT
# ends, and curl's -m 5 runs out.
ebpf_time_wait_reuse() { # server port
	local url="http://$1/small" start elapsed
	case $1 in *:*) url="http://[$1]/small" ;; esac
	# read to the end: the client closes only after sockgated did
	in_ns $NS_CLIENT curl -s -m 5 -o /dev/null --local-port "$2" -H 'Connection: close' \
		--ignore-content-length "$url" || {
		echo "first connection from port $2 failed" >&2
		return 1
	}
	sleep 0.2
	ip netns exec $NS_ROUTER ss -Htan state time-wait "( dport = :$2 )" | grep -q . || {
		echo "no TIME_WAIT on the router for client port $2" >&2
		return 1
	}
	start=$(date +%s%N)
	if ! in_ns $NS_CLIENT curl -s -m 5 -o /dev/null --local-port "$2" "$url"; then
		echo "second connection failed; takeovers noted $(ebpf_counter 6), made $(ebpf_counter 7)" >&2
		return 1
	fi
	# a stalled SYN would be retried after 1 s at the soonest
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed" -lt 900 ] || {
		echo "second connection took $elapsed ms; takeovers noted $(ebpf_counter 6), made $(ebpf_counter 7)" >&2
		return 1
	}
}

# IPv6 TCP with a destination options header before the TCP header on
# every segment: the program must follow the header chain, or the
# connection would be routed around the proxy (here: nowhere).
ebpf_ipv6_dstopts_through() {
	local before after
	before=$(flows_total)
	in_ns $NS_CLIENT python3 - "$SERVER6" <<-'PY' || return 1
	import socket, sys
	s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
	# next header (the kernel's), length 0 (8 bytes), a PadN option of 4
	s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
	s.settimeout(5)
	s.connect((sys.argv[1], 80))
	s.sendall(b"GET /small HTTP/1.0\r\nHost: sgtest\r\n\r\n")
	data = b""
	while chunk := s.recv(65536):
	    data += chunk
	sys.exit(0 if data.startswith(b"HTTP/1.1 200") else 1)
	PY
	after=$(flows_total)
	[ "$after" -gt "$before" ]
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
	EBPF_USED=1
	udp_start_peers
	# the program leaves destinations without any route alone (the kernel
	# cannot tell them from local ones): give the router a default route
	# into the proxy host, which forwards nothing
	ip -n $NS_ROUTER route add default via $PROXY4
	ip -n $NS_ROUTER -6 route add default via $PROXY6
	rig_rules_conf rules-ebpf "tproxy = 12346
ebpf = on"
	# a pin where versions before per-namespace directories kept them
	mkdir -p /sys/fs/bpf/sockgate
	bpftool map create /sys/fs/bpf/sockgate/counters type array key 4 value 4 entries 1 name sg_old
	check "eBPF: rules apply (ebpf = on) attaches the tc program to r0" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/rules-ebpf.conf' rules apply | grep -q 'eBPF intake installed' && ip netns exec $NS_ROUTER tc filter show dev r0 ingress | grep -q 'intake_ingress'"
	check "eBPF: pinned under the router namespace's own directory" test -e "$(router_pins)/tc_intake"
	check "... and an old-layout pin at the top is gone" test ! -e /sys/fs/bpf/sockgate/counters
	ip netns add ${RIG_PREFIX}o && RIG_EXTRA_NS+=(${RIG_PREFIX}o)
	check "eBPF: rules flush in another namespace leaves this one's intake alone" \
		bash -c "ip netns exec ${RIG_PREFIX}o '$SOCKGATE' rules flush >/dev/null; ip netns exec $NS_ROUTER tc filter show dev r0 ingress | grep -q intake_ingress && test -e '$(router_pins)/tc_intake'"
	ip netns del ${RIG_PREFIX}o
	check "eBPF: no nftables rule intercepts the interface" \
		bash -c "ip netns exec $NS_ROUTER nft list table inet sockgate >/dev/null && ! ip netns exec $NS_ROUTER nft list table inet sockgate | grep -q 'iifname @intercept_ifaces'"
	check "eBPF: the dry run says so too" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/rules-ebpf.conf' rules apply --dry-run | grep -q '^# eBPF: a tc ingress program'"
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1080"
	check "eBPF: TCP to the router's own tproxy port is reset, never looped (IPv4)" \
		expect_reset "http://$ROUTER4_LAN:12346/" 1000
	check "... (IPv6)" expect_reset "http://[$ROUTER6_LAN]:12346/" 3000
	check "... logged as the router itself" expect_log "destination is the router itself"
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
	check "eBPF: without the daemon's listeners, status says how to hand them over" \
		ebpf_status_listeners "0 sockgated listener(s) held.*rules apply hands them over"
	check "eBPF: rules apply with sockgated up hands over its IPv4 and IPv6 listeners" \
		ebpf_apply_hands_listeners
	check "eBPF: a new connection on the addresses of one in TIME_WAIT is taken over at once (IPv4)" \
		ebpf_time_wait_reuse "$SERVER4" 61111
	check "eBPF: the same over IPv6" ebpf_time_wait_reuse "$SERVER6" 61112
	check "eBPF: the socket lookup program counted both takeovers" ebpf_counter_at_least 7 2
	check "eBPF: IPv6 TCP behind a destination options header still goes through sockgated" \
		ebpf_ipv6_dstopts_through
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
	check "eBPF: sockgated down, a program of another's bound on the tproxy port is handed nothing" \
		ebpf_imposter_gets_nothing
	check "eBPF: rules flush detaches it, removes clsact and every pin" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' rules flush | grep -q 'eBPF intake detached' && ! ip netns exec $NS_ROUTER tc qdisc show dev r0 | grep -q clsact && ! test -e /sys/fs/bpf/sockgate"
	check "eBPF: after flush neither bpftool net show nor prog show has the program" \
		tc_nothing_left
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

# The router's own processes by cgroup (cgroup v2): connects from a test
# cgroup go to sockgated's redirect listener and through dante; the rest
# of the router is left alone. The cgroup v2 hierarchy is found in
# /proc/mounts and mounted for the test when the system has none.
CG2_MOUNTED=""
CG2_ROOT=""
# Sets CG2_ROOT (and CG2_MOUNTED when it had to mount it; rig_down unmounts).
cgroup2_find() {
	CG2_ROOT=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
	if [ -z "$CG2_ROOT" ]; then
		CG2_ROOT=$RIG_DIR/cgroup2
		mkdir -p "$CG2_ROOT" && mount -t cgroup2 none "$CG2_ROOT" && CG2_MOUNTED=$CG2_ROOT
	fi
}

# Runs "$@" in the router's network namespace from inside cgroup $1.
in_cgroup() { # cgroup command...
	local cg=$1
	shift
	nsenter --net=/run/netns/$NS_ROUTER sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}

cgroup_fetch_ok() { # cgroup family-address
	local want got
	want=$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)
	got=$(in_cgroup "$1" curl -s -m 20 "$(url_of "$2" /file10m)" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ]
}

cgroup_request_ok() { # cgroup
	in_cgroup "$1" curl -s -m 5 -o /dev/null "http://$SERVER4/small"
}
cgroup_request_fails() { ! cgroup_request_ok "$1"; }

# A client in the cgroup asks getpeername() of its connection to
# address:80 (IPv4, IPv6, or IPv4-mapped on an IPv6 socket): the answer
# must be the server, not sockgated's listener on loopback.
cgroup_peer_is_server() { # cgroup family address
	in_cgroup "$1" python3 -c '
import socket, sys
family = socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6
s = socket.socket(family)
s.settimeout(5)
s.connect((sys.argv[2], 80))
peer = s.getpeername()
s.close()
sys.exit(0 if peer[0] == sys.argv[2] and peer[1] == 80 else "getpeername: %r" % (peer,))
' "$2" "$3"
}

# 20 connections opened and closed at once leave nothing in the hand-over map.
cgroup_no_leftovers() { # cgroup
	in_cgroup "$1" python3 -c '
import socket, sys
for _ in range(20):
    s = socket.create_connection((sys.argv[1], 80), timeout=5)
    s.close()
' $SERVER4 || return 1
	sleep 0.5
	[ "$(bpftool -j map dump pinned "$(router_pins)/cg_pending")" = "[]" ]
}

test_ebpf_cgroup() {
	local root cg nobpf="capsh --drop=cap_bpf,cap_sys_admin,cap_perfmon --"
	EBPF_USED=1
	cgroup2_find
	root=$CG2_ROOT
	cg=$root/${RIG_PREFIX}-intercepted
	mkdir -p "$cg"
	EBPF_CGROUP=$cg
	rig_rules_conf rules-cgroup "redirect = $REDIRECT_PORT
ebpf = on
cgroups = $cg"
	check "eBPF cgroups: rules apply attaches the cgroup hooks" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/rules-cgroup.conf' rules apply | grep -q 'eBPF cgroup hooks attached: TCP from the processes of 1 cgroup'"
	rig_start_sockgated "socks5://$PROXY4:1080"
	check "eBPF cgroups: curl in the cgroup reaches the server through sockgated and dante (IPv4, 10 MB sha256)" \
		cgroup_fetch_ok "$cg" $SERVER4
	check "eBPF cgroups: and over IPv6" cgroup_fetch_ok "$cg" $SERVER6
	check "eBPF cgroups: getpeername() in the cgroup names the server (IPv4)" \
		cgroup_peer_is_server "$cg" 4 "$SERVER4"
	check "eBPF cgroups: and over IPv6" cgroup_peer_is_server "$cg" 6 "$SERVER6"
	check "eBPF cgroups: and IPv4-mapped on an IPv6 socket" \
		cgroup_peer_is_server "$cg" 6 "::ffff:$SERVER4"
	check "eBPF cgroups: a process outside the cgroup is not intercepted (the router has no route)" \
		bash -c "! nsenter --net=/run/netns/$NS_ROUTER curl -s -m 3 -o /dev/null http://$SERVER4/small"
	check "eBPF cgroups: sockgated saw the flows as redirected ones (SO_ORIGINAL_DST answered)" \
		bash -c "$SOCKGATE -c $RIG_DIR/sockgate.conf --json stats | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"upstreams\"][\"up\"][\"flows\"] >= 2, d'"
	check "eBPF cgroups: connections closed at once leave no map entry" cgroup_no_leftovers "$cg"
	check "eBPF cgroups: sockgate status counts the cgroup" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/sockgate.conf' status | grep -q 'processes of 1 cgroup'"
	router_cli intercept del cgroup "$cg" >/dev/null
	check "eBPF cgroups: intercept del cgroup: its processes go their own way again" \
		cgroup_request_fails "$cg"
	router_cli intercept add cgroup "$cg" >/dev/null
	check "eBPF cgroups: intercept add cgroup: intercepted again" cgroup_request_ok "$cg"
	rig_stop_sockgated
	check "eBPF cgroups: rules flush detaches every hook and removes the pins" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' rules flush | grep -q 'eBPF cgroup hooks detached' && ! test -e /sys/fs/bpf/sockgate && test -z \"\$(bpftool cgroup show '$cg')\" && test -z \"\$(bpftool cgroup show '$root')\""
	check "eBPF cgroups: after flush bpftool prog show has none of the cgroup programs" \
		no_intake_programs
	rig_rules_conf rules-cgroup-auto "redirect = $REDIRECT_PORT
ebpf = auto
cgroups = $cg"
	check "eBPF cgroups refused, ebpf = auto: rules apply says so and goes on" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER $nobpf -c '$SOCKGATE -c $RIG_DIR/rules-cgroup-auto.conf rules apply' 2>&1 | grep -q 'eBPF cgroup intake not used'"
	rmdir "$cg"
	EBPF_CGROUP=""
	[ -n "$CG2_MOUNTED" ] && umount "$CG2_MOUNTED"
	CG2_MOUNTED=""
	rig_redirect_rule
}

# With sockgated down, a program that is not sockgated binds the tproxy
# port (no mark on its sockets): the tc program must hand it nothing.
ebpf_imposter_gets_nothing() {
	local got
	in_ns $NS_ROUTER python3 - >"$RIG_DIR/imposter.out" 2>&1 <<-'PY' &
	import select, socket, time
	u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	u.bind(("0.0.0.0", 12346))
	t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	t.bind(("0.0.0.0", 12346))
	t.listen(8)
	print("READY", flush=True)
	r, _, _ = select.select([u, t], [], [], 4)
	print("GOT" if r else "NOTHING", flush=True)
	PY
	local pid=$!
	for _ in $(seq 1 40); do grep -q READY "$RIG_DIR/imposter.out" && break; sleep 0.05; done
	in_ns $NS_CLIENT socat -u - "UDP4-SENDTO:$SERVER4:5353" <<<"for sockgated only"
	in_ns $NS_CLIENT timeout 2 socat -u /dev/null "TCP4:$SERVER4:80,connect-timeout=1" 2>/dev/null
	wait $pid
	got=$(tail -n 1 "$RIG_DIR/imposter.out")
	[ "$got" = NOTHING ] || { echo "       imposter: $got"; return 1; }
}
