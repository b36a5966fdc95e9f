# shellcheck shell=bash
# Transparent UDP: TPROXY rules from `sockgate rules apply`, sockgated
# relaying each client socket through a SOCKS5 UDP ASSOCIATE with dante,
# a UDP echo server (udp_echo.py --serve) and dnsmasq in the server host.
# Sourced by run.sh.

UDP_PORT=7777
UDP_ECHO="python3 tests/integration/udp_echo.py"

udp_rules_apply() { # extra [intake] lines
	rig_rules_apply rules-udp "tproxy = 12346
$1"
}

udp_start_peers() {
	[ -n "${UDP_ECHO_PID:-}" ] && return 0
	rig_spawn $NS_SERVER UDP_ECHO_PID "$RIG_DIR/udpecho.log" python3 tests/integration/udp_echo.py --serve $UDP_PORT
	rig_spawn $NS_SERVER DNSMASQ_PID "$RIG_DIR/dnsmasq.log" \
		dnsmasq -k -C /dev/null -u root --no-resolv --no-hosts --bind-interfaces \
		--listen-address=$SERVER4 --listen-address=$SERVER6 --pid-file="$RIG_DIR/dnsmasq.pid" \
		--address=/udp.sgtest/10.9.8.7 --address=/udp.sgtest/fd77:9::7
	local i
	for i in $(seq 1 100); do
		[ -n "$(in_ns $NS_SERVER ss -Hlun "sport = :53")" ] && [ -n "$(in_ns $NS_SERVER ss -Hlun "sport = :$UDP_PORT")" ] && return 0
		sleep 0.05
	done
	echo "udp: echo server or dnsmasq did not start" >&2
}

# The UDP associations sockgated lists for client port $1, as JSON lines.
udp_conns_for_port() {
	$SOCKGATE -c "$RIG_DIR/sockgate.conf" --json conns | python3 -c '
import json, sys
for c in json.load(sys.stdin)["conns"]:
    if c.get("protocol") == "udp" and c["client"].endswith(":" + sys.argv[1]):
        print(json.dumps(c))
' "$1"
}

# Both ports have an association in state ready.
udp_two_ready() { # port port
	[ "$1" != "$2" ] && udp_conns_for_port "$1" | grep -q '"state": "ready"' &&
		udp_conns_for_port "$2" | grep -q '"state": "ready"'
}

udp_none_for() { # port...
	local p
	for p in "$@"; do
		[ -z "$(udp_conns_for_port "$p")" ] || return 1
	done
}

# One client socket sends to six destinations (and keeps its socket open
# while conns is read): all its datagrams must meet one association.
udp_one_association_for_many_destinations() {
	local port n
	in_ns $NS_CLIENT python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
open(sys.argv[2], "w").write("%d\n" % s.getsockname()[1])
for port in (7777, 53, 9001, 9002, 9003, 9004):
    s.sendto(b"x", (sys.argv[1], port))
time.sleep(2)
' $SERVER4 "$RIG_DIR/udp-many.port" &
	local pid=$!
	sleep 1
	port=$(cat "$RIG_DIR/udp-many.port")
	n=$(udp_conns_for_port "$port" | wc -l)
	wait $pid
	[ "$n" -eq 1 ] || { echo "       $n associations for one client socket"; return 1; }
}

udp_stat() { # python expression over d = stats JSON
	$SOCKGATE -c "$RIG_DIR/sockgate.conf" --json stats |
		python3 -c "import json,sys; d=json.load(sys.stdin); assert $1, d"
}

# Echoes until one round of $3 datagrams all comes back, for up to $4 s.
udp_echo_eventually() { # host port count seconds
	local end=$((SECONDS + $4))
	while [ $SECONDS -lt $end ]; do
		in_ns $NS_CLIENT $UDP_ECHO "$1" "$2" "$3" --timeout 1 >/dev/null 2>&1 && return 0
		sleep 0.3
	done
	return 1
}

test_udp_tproxy() {
	udp_start_peers
	udp_rules_apply ""
	check "UDP: rules apply diverts UDP to the tproxy port (IPv4 and IPv6)" \
		bash -c "ip netns exec $NS_ROUTER nft list chain inet sockgate capture | grep -q 'meta l4proto udp tproxy to :12346 meta mark set 0x000002a1 accept'"
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 \
		rig_start_sockgated "socks5://$PROXY4:1080" "" "udp_idle_timeout = 3s"
	check "UDP: 1,000 datagrams over IPv4 through dante, each echoed from the server's address" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 1000 --size 512
	check "UDP: 1,000 datagrams over IPv6 through dante, each echoed" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER6 $UDP_PORT 1000 --size 512
	check "UDP: a burst of 50 sent before the association exists all arrive" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 50 --burst --size 1200
	check "UDP: 60,000-byte datagrams (fragmented on the way) arrive whole" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 3 --size 60000 --window 1
	check "UDP: one client socket, six destinations: one association" \
		udp_one_association_for_many_destinations
	check "UDP: dig A through the transparent path (dnsmasq on the server)" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT dig +short +time=3 +tries=1 @$SERVER4 udp.sgtest A)\" = 10.9.8.7"
	check "UDP: dig AAAA over IPv6" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT dig +short +time=3 +tries=1 @$SERVER6 udp.sgtest AAAA)\" = fd77:9::7"

	# two client sockets, two associations, both ready; then idle expiry
	in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 5 --hold 2 --port-file "$RIG_DIR/udp-a.port" >/dev/null &
	local a=$!
	in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 5 --hold 2 --port-file "$RIG_DIR/udp-b.port" >/dev/null &
	local b=$!
	sleep 1
	local pa pb
	pa=$(cat "$RIG_DIR/udp-a.port") pb=$(cat "$RIG_DIR/udp-b.port")
	check "UDP: two client sockets get two associations, both ready, in conns" \
		udp_two_ready "$pa" "$pb"
	check "UDP: conns shows datagrams and bytes each way" \
		bash -c "$SOCKGATE -c $RIG_DIR/sockgate.conf conns | grep -E ' udp ready $CLIENT4:$pa -> $SERVER4:$UDP_PORT via up relay .* datagrams 5/5 up 320 down 320 '"
	wait $a $b
	sleep 4
	check "UDP: idle associations expire (udp_idle_timeout = 3s)" udp_none_for "$pa" "$pb"
	check "UDP: stats count associations, datagrams and bytes each way" \
		udp_stat 'd["udp"]["associations_total"] >= 8 and d["udp"]["datagrams_up"] >= 2060 and d["udp"]["datagrams_down"] >= 2060 and d["udp"]["bytes_up"] > 1000000 and d["udp"]["drops"]["queue_full"] == 0 and d["upstreams"]["up"]["flows"] >= 8'
	check "sockgate status counts UDP associations" \
		bash -c "$SOCKGATE -c $RIG_DIR/sockgate.conf status | grep -q 'UDP associations'"

	# upstream killed: the association ends with its control connection,
	# datagrams fail meanwhile, and a new one is made once dante is back
	check "UDP: an association before dante is killed" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 10
	rig_kill_tree "$DANTE_PID"
	sleep 0.5
	check "UDP: with dante down, datagrams are not echoed" \
		bash -c "! ip netns exec $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 5 --timeout 2 >/dev/null"
	rig_start_dante
	check "UDP: dante back: the association is made again, datagrams echoed" \
		udp_echo_eventually $SERVER4 $UDP_PORT 20 10
	check "UDP: the lost control connection and the failed setup are logged" \
		bash -c "grep -q 'control connection closed by the upstream\|connect to the upstream: Connection refused' '$RIG_DIR/sockgated.log'"
	check "UDP: datagrams dropped while dante was down are counted" \
		udp_stat 'd["udp"]["drops"]["upstream_down"] >= 1'
	rig_stop_sockgated
}

# The table is capped: a new client socket beyond udp_associations takes
# the place of the least recently active association.
test_udp_lru() {
	udp_start_peers
	udp_rules_apply ""
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1080" "" \
		"workers = 1
udp_associations = 2"
	local p pids=()
	for p in 1 2 3; do
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 3 --hold 3 --port-file "$RIG_DIR/udp-lru$p.port" >/dev/null &
		pids+=($!)
		sleep 0.5
	done
	check "UDP: udp_associations = 2: the third socket evicts the oldest" \
		udp_none_for "$(cat "$RIG_DIR/udp-lru1.port")"
	check "UDP: the two newest stay" udp_two_ready "$(cat "$RIG_DIR/udp-lru2.port")" "$(cat "$RIG_DIR/udp-lru3.port")"
	check "UDP: the eviction is counted" udp_stat 'd["udp"]["evicted"] == 1 and d["udp"]["associations_live"] == 2'
	wait "${pids[@]}"
	rig_stop_sockgated
}

# Upstreams that cannot carry UDP: udp = drop (the default) and udp = direct.
test_udp_unsupported_upstream() {
	local web="http://$TINYPROXY_USER:$TINYPROXY_PASS@$PROXY4:8888"
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "$web"
	check "UDP: an HTTP upstream drops UDP by default" \
		bash -c "! ip netns exec $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 5 --timeout 2 >/dev/null"
	check "UDP: the drop is counted (unsupported)" udp_stat 'd["udp"]["drops"]["unsupported"] >= 5'
	check "UDP: and logged once for the client socket" \
		bash -c "test \$(grep -c 'cannot carry UDP and has udp = drop' '$RIG_DIR/sockgated.log') -eq 1"
	check "UDP: TCP through the same upstream still works" expect_file $SERVER4
	rig_stop_sockgated
	rig_open_direct_path
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "$web" "udp = direct" \
		"metrics = 127.0.0.1:9180"
	check "UDP: udp = direct sends it straight to the target" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 100
	check "UDP: direct over IPv6 too" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER6 $UDP_PORT 100
	# a firewall rule on the router refusing the send: send_failed, by errno
	in_ns $NS_ROUTER nft add table inet sgtest_deny
	in_ns $NS_ROUTER nft add chain inet sgtest_deny out '{ type filter hook output priority 0; }'
	in_ns $NS_ROUTER nft add rule inet sgtest_deny out udp dport 7778 drop
	in_ns $NS_CLIENT $UDP_ECHO $SERVER4 7778 5 --timeout 2 >/dev/null 2>&1
	in_ns $NS_ROUTER nft delete table inet sgtest_deny
	check "UDP: a send the router's firewall refuses is send_failed with its errno (EPERM)" \
		udp_stat 'd["udp"]["drops"]["send_failed"] >= 5 and d["udp"]["send_errors"]["EPERM"] >= 5'
	check "... in the text stats and the metrics too" bash -c "
		$SOCKGATE -c '$RIG_DIR/sockgate.conf' stats | grep -q 'send_failed by errno: EPERM [5-9]' &&
		ip netns exec $NS_ROUTER curl -s http://127.0.0.1:9180/metrics | grep -q '^sockgate_udp_send_errors_total{errno=\"EPERM\"} [5-9]'"
	rig_stop_sockgated
	rig_close_direct_path
}

# TCP by REDIRECT and UDP by TPROXY at once: UDP gets chains of its own.
test_udp_beside_redirect() {
	udp_rules_apply "redirect = $REDIRECT_PORT"
	check "UDP beside REDIRECT: udp_prerouting and udp_capture chains" \
		bash -c "ip netns exec $NS_ROUTER nft list chain inet sockgate udp_capture | grep -q 'meta l4proto udp tproxy to :12346 meta mark set 0x000002a1 accept' && ip netns exec $NS_ROUTER nft list chain inet sockgate capture | grep -q 'redirect to :$REDIRECT_PORT'"
	RIG_INTAKE="redirect = $REDIRECT_PORT
tproxy = 12346" rig_start_sockgated "socks5://$PROXY4:1080"
	check "UDP beside REDIRECT: 200 datagrams echoed" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 200
	check "UDP beside REDIRECT: TCP through the redirect listener" expect_file $SERVER4
	rig_stop_sockgated
	check "rules flush removes the UDP chains and the policy routing" \
		bash -c "ip netns exec $NS_ROUTER '$SOCKGATE' rules flush >/dev/null && ! ip netns exec $NS_ROUTER nft list table inet sockgate 2>/dev/null && ! ip -n $NS_ROUTER rule | grep -q fwmark"
	# back to the rig's REDIRECT rules
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" rules apply >/dev/null
}

# Where datagrams go when the upstream names no usable relay address: its
# own address for 0.0.0.0, and udp_address when it names one nobody reaches.
test_udp_relay_address() {
	local conf="url = socks5://$PROXY4:1091"
	udp_start_peers
	rig_spawn $NS_PROXY FAKE_UDP_PID "$RIG_DIR/fake-udp.log" \
		python3 tests/integration/udp_socks5_relay.py $PROXY4 1091 zero
	rig_wait_port $NS_PROXY 1091
	udp_rules_apply ""
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1091"
	in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 20 --hold 1 --port-file "$RIG_DIR/udp-z.port" >"$RIG_DIR/udp-z.out" &
	local z=$!
	sleep 0.6
	check "UDP: BND.ADDR 0.0.0.0 -> datagrams go to the upstream's own address" \
		bash -c "$SOCKGATE -c $RIG_DIR/sockgate.conf conns | grep -q ' udp ready $CLIENT4:$(cat "$RIG_DIR/udp-z.port") -> .* relay $PROXY4:1091 '"
	wait $z
	check "UDP: and all 20 are echoed" grep -q '^20/20 echoed' "$RIG_DIR/udp-z.out"
	# full cone: another host's datagram to the upstream's outside port
	# reaches the client from that host's own address
	in_ns $NS_CLIENT python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
s.recvfrom(100)
open(sys.argv[3], "w").write("ready\n")
data, src = s.recvfrom(100)
print(data.decode().strip(), "%s:%d" % src)
' $SERVER4 $UDP_PORT "$RIG_DIR/udp-cone.ready" >"$RIG_DIR/udp-cone.out" 2>&1 &
	local cone=$!
	for _ in $(seq 1 50); do [ -s "$RIG_DIR/udp-cone.ready" ] && break; sleep 0.1; done
	in_ns $NS_SERVER socat -u - UDP4-SENDTO:$PROXY4_WAN:1092,sourceport=5353 <<<"from-elsewhere"
	wait $cone
	check "UDP: full cone: another sender's datagram reaches the client from that sender" \
		grep -q "^from-elsewhere $SERVER4:5353\$" "$RIG_DIR/udp-cone.out"
	rig_stop_sockgated
	rig_stop "$FAKE_UDP_PID"
	rig_spawn $NS_PROXY FAKE_UDP_PID "$RIG_DIR/fake-udp.log" \
		python3 tests/integration/udp_socks5_relay.py $PROXY4 1091 bogus
	rig_wait_port $NS_PROXY 1091
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1091"
	check "UDP: BND.ADDR nobody reaches -> nothing comes back" \
		bash -c "! ip netns exec $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 5 --timeout 2 >/dev/null"
	rig_stop_sockgated
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1091" \
		"udp_address = $PROXY4:1091"
	check "UDP: udp_address overrides it: all echoed" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 20
	rig_stop_sockgated
	rig_stop "$FAKE_UDP_PID"
}
