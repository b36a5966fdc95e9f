# shellcheck shell=bash
# The guards that keep one client, packet or upstream from stopping the LAN
# or reaching the router (docs/security.md): sourced by run.sh.

TPROXY_PORT=12346

# A destination the rules never intercept can only reach sockgated's
# listeners directly: refused at once, counted as a loop, never relayed.
test_loop_guard() {
	rig_start_sockgated "socks5://$PROXY4:1080"
	check "loop guard: client to sockgated's own port is reset" \
		expect_reset "http://$ROUTER4_LAN:$REDIRECT_PORT/" 1000
	check "loop guard: logged" expect_log "sockgated's own listener"
	check "no NAT original destination: local connection reset" \
		bash -c "! ip netns exec $NS_ROUTER curl -s -m 3 http://127.0.0.1:$REDIRECT_PORT/"
	check "connected networks: rules apply bypasses the proxy's link (IPv4 and IPv6)" \
		bash -c "ip netns exec $NS_ROUTER nft get element inet sockgate bypass4 '{ 10.77.2.5 }' >/dev/null && ip netns exec $NS_ROUTER nft get element inet sockgate bypass6 '{ fd77:2::5 }' >/dev/null"
	rig_stop_sockgated
	# with the proxy's link intercepted, the daemon's own guard answers
	rig_rules_apply rules-nc "redirect = $REDIRECT_PORT
bypass_connected = no"
	RIG_INTAKE="redirect = $REDIRECT_PORT
bypass_connected = no
deny_dst = $SERVER6/128" rig_start_sockgated "socks5://$PROXY4:1080"
	# a LAN device that uses the proxy itself goes there direct (what a
	# bypass entry does), not through the proxy to itself
	check "a LAN client using the upstream proxy itself reaches it, direct" \
		bash -c "ip netns exec $NS_CLIENT curl -sf -m 5 --socks5 $PROXY4:1080 http://$SERVER4/small | grep -qx hello"
	check "[intake] deny_dst: an intercepted flow there is reset" \
		expect_reset "http://[$SERVER6]/small" 3000
	check "... and logged" expect_log "destination refused by \[intake\] deny_dst"
	check "... the rest is served" expect_file $SERVER4
	rig_stop_sockgated
	rig_redirect_rule
}

# TPROXY: one connection or datagram to the router's own tproxy port once
# made sockgated connect to itself until every fd was gone.
test_loop_guard_tproxy() {
	local flows drops
	udp_start_peers
	udp_rules_apply ""
	RIG_INTAKE="tproxy = $TPROXY_PORT" RIG_WAIT_PORT=$TPROXY_PORT \
		rig_start_sockgated "socks5://$PROXY4:1080" "" "log_level = debug" "$ROUTER4_LAN/32 = direct
$ROUTER6_LAN/128 = direct"
	check "TPROXY loop: TCP to the router's tproxy port (IPv4) is reset" \
		expect_reset "http://$ROUTER4_LAN:$TPROXY_PORT/" 1000
	check "TPROXY loop: TCP to the router's tproxy port (IPv6) is reset" \
		expect_reset "http://[$ROUTER6_LAN]:$TPROXY_PORT/" 3000
	check "... logged as the router itself" expect_log "destination is the router itself"
	in_ns $NS_CLIENT socat -u - "UDP4-SENDTO:$ROUTER4_LAN:$TPROXY_PORT" <<<"loop?"
	in_ns $NS_CLIENT socat -u - "UDP6-SENDTO:[$ROUTER6_LAN]:$TPROXY_PORT" <<<"loop?"
	sleep 1
	flows=$("$SOCKGATE" -c "$RIG_DIR/sockgate.conf" status | sed -n 's/^flows: \([0-9]*\) live.*/\1/p')
	check "TPROXY loop: no flow left live ($flows)" test "$flows" -eq 0
	drops=$("$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" stats | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["udp"]["drops"]["loop"], d["failures"]["loop"])')
	check "TPROXY loop: the two datagrams dropped once each, counted as loop (udp, tcp: $drops)" \
		test "${drops% *}" -eq 2
	check "TPROXY loop: the two TCP refusals counted as loop" test "${drops#* }" -eq 2
	check "TPROXY loop: the LAN is still served" expect_file $SERVER4
	rig_stop_sockgated
	# the router routed to the upstream: the loop would go through dante
	RIG_INTAKE="tproxy = $TPROXY_PORT" RIG_WAIT_PORT=$TPROXY_PORT \
		rig_start_sockgated "socks5://$PROXY4:1080"
	check "TPROXY loop through an upstream: TCP to the router's tproxy port is reset" \
		expect_reset "http://$ROUTER4_LAN:$TPROXY_PORT/" 1000
	check "... at the first hop: one flow since start, none live" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' status | grep -q '^flows: 0 live, 1 since start'"
	check "TPROXY loop: UDP is still served" in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 20
	rig_stop_sockgated
	rig_redirect_rule
}

# IPv4-mapped IPv6 destinations name the router's loopback: never intercepted.
test_guard_mapped() {
	rig_rules_conf rules-mapped "redirect = $REDIRECT_PORT"
	check "::ffff:0:0/96 and ::/96 are bypassed even with bypass_private = no" \
		bash -c "ip netns exec $NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/rules-mapped.conf' rules apply --dry-run | grep -A3 'set bypass6' | grep -q '::ffff:0.0.0.0/96'"
	rig_spawn $NS_ROUTER LOOPSVC_PID "$RIG_DIR/loopsvc.log" \
		socat TCP4-LISTEN:8765,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo router-private'
	rig_wait_port $NS_ROUTER 8765
	rig_start_sockgated "socks5://$PROXY4:1080"
	check "a LAN host cannot reach a loopback-only router service via ::ffff:127.0.0.1" \
		bash -c "! ip netns exec $NS_CLIENT timeout 3 socat -u 'TCP6:[::ffff:127.0.0.1]:8765' - 2>/dev/null | grep -q router-private"
	rig_stop_sockgated
	rig_stop "$LOOPSVC_PID"
}

# A guest LAN host must not reach another LAN of the router around the
# router's forward rules. Here the proxy's link plays the other LAN and a
# forward rule drops LAN -> that link.
test_guard_connected() {
	in_ns $NS_ROUTER nft -f - <<-NFT
	table inet sgtestfw {
		chain forward { type filter hook forward priority 0; iifname "r0" oifname "r1" drop; }
	}
	NFT
	rig_spawn $NS_PROXY NEARSVC_PID "$RIG_DIR/nearsvc.log" \
		socat TCP6-LISTEN:8766,reuseaddr,fork SYSTEM:'echo other-lan'
	rig_wait_port $NS_PROXY 8766
	rig_start_sockgated "socks5://$PROXY4:1080"
	check "another LAN of the router stays behind its forward rules (IPv4)" \
		bash -c "! ip netns exec $NS_CLIENT timeout 3 socat -u TCP4:$PROXY4:8766 - 2>/dev/null | grep -q other-lan"
	check "... and over IPv6" \
		bash -c "! ip netns exec $NS_CLIENT timeout 3 socat -u 'TCP6:[$PROXY6]:8766' - 2>/dev/null | grep -q other-lan"
	rig_stop_sockgated
	# rules from before bypass_connected (the link intercepted), direct:
	# the daemon refuses on its own
	rig_rules_apply rules-nc "redirect = $REDIRECT_PORT
bypass_connected = no"
	rig_start_sockgated direct "" "" "10.77.9.0/24 = direct"
	check "intercepted flow to another interface's network: reset by the daemon" \
		expect_reset "http://$PROXY4:8766/" 1000
	check "... logged" expect_log "network of another interface of the router"
	rig_stop_sockgated
	in_ns $NS_ROUTER nft delete table inet sgtestfw
	rig_stop "$NEARSVC_PID"
	rig_redirect_rule
}

# A hostile upstream names the router's own DNS address as the source of a
# UDP reply: sockgated must neither bind there nor deliver it.
test_guard_udp_reply_source() {
	udp_start_peers
	rig_spawn $NS_ROUTER ROUTERDNS_PID "$RIG_DIR/routerdns.log" \
		dnsmasq -k -C /dev/null -u root --no-resolv --no-hosts --bind-interfaces \
		--listen-address=$ROUTER4_LAN --port=53 --pid-file="$RIG_DIR/routerdns.pid" \
		--address=/router.sgtest/10.9.9.9
	rig_spawn $NS_PROXY FAKE_UDP_PID "$RIG_DIR/fake-udp.log" \
		python3 tests/integration/udp_socks5_relay.py $PROXY4 1091 zero "$ROUTER4_LAN:53"
	rig_wait_port $NS_PROXY 1091
	udp_rules_apply ""
	RIG_INTAKE="tproxy = $TPROXY_PORT" RIG_WAIT_PORT=$TPROXY_PORT rig_start_sockgated "socks5://$PROXY4:1091"
	check "hostile relay: a reply 'from' the router's DNS address is not delivered" \
		bash -c "! ip netns exec $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 3 --timeout 2 >/dev/null"
	check "... and logged" expect_log "reply claiming to come from $ROUTER4_LAN:53 dropped"
	check "... sockgated bound nothing on port 53" \
		bash -c "! ip netns exec $NS_ROUTER ss -Hulnp 'sport = :53' | grep -q sockgated"
	check "... the router's own DNS still answers the LAN" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT dig +short +time=2 +tries=1 @$ROUTER4_LAN router.sgtest A)\" = 10.9.9.9"
	rig_stop_sockgated
	rig_stop "$FAKE_UDP_PID"
	rig_stop "$ROUTERDNS_PID"
	rig_redirect_rule
}

# H1: trickling metrics clients must not stall the control socket, signals
# or the watchdog.
test_control_not_stalled() {
	local t0 t1 ms pids=() i
	rig_start_sockgated "socks5://$PROXY4:1080" "" "metrics = 9180"
	for i in $(seq 1 20); do
		in_ns $NS_ROUTER python3 -c '
import socket, time
s = socket.create_connection(("127.0.0.1", 9180))
for b in b"GET /metrics HTTP/1.1\r\n":
    s.send(bytes([b]))
    time.sleep(0.9)
' >/dev/null 2>&1 &
		pids+=($!)
	done
	# measure once all 20 trickle, not while their interpreters still
	# start and compete for the CPU
	for i in $(seq 1 100); do
		[ "$(ip netns exec $NS_ROUTER ss -Htn state established 'dport = :9180' | wc -l)" -ge 20 ] && break
		sleep 0.1
	done
	sleep 0.5
	t0=$(date +%s%N)
	"$SOCKGATE" -c "$RIG_DIR/sockgate.conf" status >/dev/null
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	check "20 trickling metrics clients: sockgate status answers in under 100 ms ($ms ms)" \
		test "$ms" -lt 100
	check "... and a scrape still works" \
		bash -c "ip netns exec $NS_ROUTER curl -sf -m 3 http://127.0.0.1:9180/metrics | grep -q sockgate_flows_total"
	t0=$(date +%s%N)
	check "... and a reload is answered" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' reload | grep -q reloaded"
	t1=$(date +%s%N)
	check "... promptly ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 1000
	check "... the trickling clients are cut off within their 2 s deadline" \
		bash -c "sleep 2.5; test -z \"\$(ip netns exec $NS_ROUTER ss -Htn state established 'sport = :9180')\""
	for i in "${pids[@]}"; do kill "$i" 2>/dev/null; wait "$i" 2>/dev/null; done
	rig_stop_sockgated
}

# conns of one client address: "PROTOCOL ADDRESS" -> how many
conns_of() { # protocol address
	"$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" conns | python3 -c '
import json, sys
proto, addr = sys.argv[1], sys.argv[2]
conns = json.load(sys.stdin)["conns"]
print(sum(1 for c in conns if c["protocol"] == proto and c["client"].rsplit(":", 1)[0].strip("[]") == addr))
' "$1" "$2"
}

# One LAN host cannot take every association or flow: per-client caps, and
# a host over its UDP cap makes room among its own associations only.
test_client_caps() {
	local n other pid holder
	udp_start_peers
	udp_rules_apply ""
	ip -n $NS_CLIENT addr add 10.77.1.202/24 dev c0 2>/dev/null
	in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 2 --hold 6 --source 10.77.1.202 >/dev/null &
	holder=$!
	RIG_INTAKE="tproxy = $TPROXY_PORT
max_udp_per_client = 20
max_flows_per_client = 10" RIG_WAIT_PORT=$TPROXY_PORT rig_start_sockgated "socks5://$PROXY4:1080"
	sleep 0.5
	in_ns $NS_CLIENT python3 - "$SERVER4" "$UDP_PORT" <<-'PY' &
	import socket, sys, time
	socks = []
	for _ in range(60):
	    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	    s.bind(("10.77.1.2", 0))
	    s.sendto(b"x", (sys.argv[1], int(sys.argv[2])))
	    socks.append(s)
	    time.sleep(0.01)
	time.sleep(3)
	PY
	pid=$!
	sleep 1.5
	n=$(conns_of udp $CLIENT4)
	other=$(conns_of udp 10.77.1.202)
	check "UDP: 60 client sockets of one host hold at most max_udp_per_client = 20 associations ($n)" \
		test "$n" -le 20 -a "$n" -ge 15
	check "... and another host's association was not evicted ($other)" test "$other" -eq 1
	wait $pid
	in_ns $NS_CLIENT python3 - "$SERVER4" >"$RIG_DIR/caps-tcp.out" 2>&1 <<-'PY' &
	import socket, sys, time
	held = []
	for i in range(15):
	    s = socket.socket()
	    s.settimeout(10)
	    s.bind(("10.77.1.2", 0))
	    try:
	        s.connect((sys.argv[1], 80))
	    except OSError as e:  # said, and the others still held
	        print("connect %d: %s" % (i, e), flush=True)
	    held.append(s)
	print("connected", flush=True)
	time.sleep(6)
	PY
	pid=$!
	# the connects done (a slow daemon, under the sanitizers, accepts late)
	for _ in $(seq 60); do grep -q connected "$RIG_DIR/caps-tcp.out" && break; sleep 0.1; done
	sleep 0.5
	n=$(conns_of tcp $CLIENT4)
	check "TCP: 15 connections of one host, max_flows_per_client = 10: 10 relayed ($n)" \
		bash -c "[ '$n' = 10 ] || { cat '$RIG_DIR/caps-tcp.out'; false; }"
	check "... the rest reset and logged" expect_log "has 10 intercepted flows already (max_flows_per_client)"
	check "... another host is served meanwhile" \
		bash -c "ip netns exec $NS_CLIENT curl -s -m 5 --interface 10.77.1.202 http://$SERVER4/small | grep -q hello"
	check "... both caps counted in stats" \
		bash -c "'$SOCKGATE' --json -c '$RIG_DIR/sockgate.conf' stats | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"client_limited\"] >= 45 else 1)'"
	check "relayed sockets have keepalive timers (dead peers are found)" \
		bash -c "ip netns exec $NS_ROUTER ss -tnoH state established | grep -q 'timer:(keepalive'"
	wait $pid
	wait $holder
	ip -n $NS_CLIENT addr del 10.77.1.202/24 dev c0
	rig_stop_sockgated
	rig_redirect_rule
}

# TPROXY rules with sockgated down: nothing an intercepted client sends may
# reach a router service listening on the same port, nor go around the
# proxy; and no other user may co-bind sockgated's UDP port.
test_tproxy_fail_closed() {
	local got
	udp_start_peers
	udp_rules_apply ""
	RIG_INTAKE="tproxy = $TPROXY_PORT" RIG_WAIT_PORT=$TPROXY_PORT rig_start_sockgated "socks5://$PROXY4:1080"
	check "an unprivileged user cannot co-bind sockgated's UDP tproxy port" \
		bash -c "! ip netns exec $NS_ROUTER setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", $TPROXY_PORT))' 2>/dev/null"
	rig_stop_sockgated
	rig_spawn $NS_ROUTER ROUTERSVC_PID "$RIG_DIR/routersvc.log" \
		socat TCP4-LISTEN:80,reuseaddr,fork SYSTEM:'echo router-web-ui'
	rig_wait_port $NS_ROUTER 80
	got=$(in_ns $NS_CLIENT curl -s -m 3 "http://$SERVER4/small" 2>&1)
	check "sockgated down: an intercepted flow does not reach a router service on the port ($got)" \
		bash -c "! grep -q router-web-ui <<<'$got'"
	check "... nor the target around the proxy" bash -c "! grep -q hello <<<'$got'"
	check "... UDP neither (no echo)" \
		bash -c "! ip netns exec $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 2 --timeout 1 >/dev/null"
	rig_stop "$ROUTERSVC_PID"
	RIG_INTAKE="tproxy = $TPROXY_PORT" RIG_WAIT_PORT=$TPROXY_PORT rig_start_sockgated "socks5://$PROXY4:1080"
	check "sockgated back: served again without touching the rules" expect_file $SERVER4
	rig_stop_sockgated
	rig_redirect_rule
}

# [intake] when_down = block: sockgated killed (SIGKILL, as a crash): the
# LAN's TCP is reset at once and its UDP refused, with a direct path open
# that a leak would take; `rules down` (the service's stop) keeps the
# rules; back, traffic flows. Without block, `rules down` flushes.
test_when_down_block() {
	udp_start_peers
	rig_open_direct_path
	rig_rules_conf rules-block "tproxy = $TPROXY_PORT
when_down = block"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules-block.conf" rules apply >/dev/null
	check "when_down = block: the rules refuse what no socket takes" \
		bash -c "ip netns exec $NS_ROUTER nft list chain inet sockgate capture | grep -q 'meta l4proto tcp reject with tcp reset' && ip netns exec $NS_ROUTER nft list chain inet sockgate capture | grep -q 'meta l4proto udp reject'"
	RIG_INTAKE="tproxy = $TPROXY_PORT" RIG_WAIT_PORT=$TPROXY_PORT rig_start_sockgated "socks5://$PROXY4:1080"
	check "when_down = block: served through the proxy" expect_file $SERVER4
	kill -9 "$SOCKGATED_PID"
	sleep 0.2
	rig_stop_sockgated
	check "when_down = block: sockgated killed: TCP reset at once, not sent around the proxy" \
		expect_reset "http://$SERVER4/small" 1000
	check "... UDP refused at once by ICMP (a connected socket sees ECONNREFUSED)" \
		in_ns $NS_CLIENT python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"x")
try:
    s.recv(100)
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    pass
sys.exit(1)' $SERVER4 $UDP_PORT
	check "when_down = block: rules down (the service's stop) keeps the rules" \
		bash -c "ip netns exec $NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/rules-block.conf' rules down | grep -q 'when_down = block' && ip netns exec $NS_ROUTER nft list table inet sockgate >/dev/null"
	RIG_INTAKE="tproxy = $TPROXY_PORT" RIG_WAIT_PORT=$TPROXY_PORT rig_start_sockgated "socks5://$PROXY4:1080"
	check "when_down = block: sockgated back: served again" expect_file $SERVER4
	rig_stop_sockgated
	check "when_down = pass: rules down flushes" \
		bash -c "ip netns exec $NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/rules.conf' rules down | grep -q removed && ! ip netns exec $NS_ROUTER nft list table inet sockgate 2>/dev/null"
	rig_close_direct_path
	rig_redirect_rule
}

# A reload that shortens a timeout applies to flows already waiting.
test_reload_shortens_timeouts() {
	local got
	rig_start_sockgated "socks5://$PROXY4:1080" "" "idle_timeout = 60s"
	idle_close_ms 10 >"$RIG_DIR/idle-reload.out" &
	local pid=$!
	sleep 0.5
	sed -i 's/^idle_timeout = 60s/idle_timeout = 1s/' "$RIG_DIR/sockgate.conf"
	"$SOCKGATE" -c "$RIG_DIR/sockgate.conf" reload >/dev/null
	wait $pid
	got=$(cat "$RIG_DIR/idle-reload.out")
	check "reload from idle_timeout 60s to 1s: a flow already idle is closed within 3 s ($got ms)" \
		test "$got" -ge 0 -a "$got" -le 3000
	rig_stop_sockgated
}
