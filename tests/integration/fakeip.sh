# shellcheck shell=bash
# [dns] mode = fakeip: names that would be proxied are answered from
# 198.18.0.0/15 and fd00:5a::/64, and flows to those addresses are relayed
# by name, even to a plain socks5:// upstream (dante on port 1084, which
# alone resolves the test's names). Sourced by run.sh, after dns.sh and
# sniff.sh (their peers).

# The first line of dig +short's answer for a name, from the client.
fake_dig() { # type name
	in_ns $NS_CLIENT dig +short +time=3 +tries=1 @$ROUTER4_LAN "$1" "$2" | head -1
}

in_range() { # address cidr
	python3 -c 'import ipaddress, sys; sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}

# The same by name through an HTTP CONNECT upstream (a tinyproxy of its
# own on port 8889, which sees the proxy host's names and logs each
# CONNECT) and through OpenSSH's ssh -D.
fakeip_through_http_and_ssh() {
	local d=$RIG_DIR/sniff a
	sed -e 's/^Port 8888/Port 8889/' -e "s|$RIG_DIR/tinyproxy|$d/tinyproxy|" -e 's/^LogLevel Notice/LogLevel Connect/' \
		"$RIG_DIR/tinyproxy.conf" >"$d/tinyproxy.conf"
	rig_spawn $NS_PROXY FAKE_TINY_PID "$d/tinyproxy.out" tinyproxy -d -c "$d/tinyproxy.conf"
	rig_wait_port $NS_PROXY 8889
	DNS_EXTRA="mode = fakeip" dns_start_sockgated "http://$TINYPROXY_USER:$TINYPROXY_PASS@$PROXY4:8889"
	a=$(fake_dig A far.sgsniff)
	check "fake-IP through tinyproxy: curl to the fake address ($a) answered" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -s -m 5 http://$a/small)\" = hello"
	check "fake-IP through tinyproxy: ... which was asked to CONNECT far.sgsniff:80" \
		grep -q "far.sgsniff:80" "$d/tinyproxy.log"
	rig_stop_sockgated
	rig_stop "$FAKE_TINY_PID"
	dns_start_ssh_socks
	DNS_EXTRA="mode = fakeip" dns_start_sockgated "socks5://127.0.0.1:$SSH_SOCKS_PORT"
	a=$(fake_dig A far.sgsniff)
	check "fake-IP through ssh -D: curl to the fake address ($a) answered by name" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -s -m 5 http://$a/small)\" = hello"
	rig_stop_sockgated
	rig_stop "$SSH_SOCKS_PID"
	rig_stop "$SSHD_PID"
}

# UDP to a fake address: relayed by name through dante's UDP ASSOCIATE,
# the echoes coming back from the fake address (TPROXY for UDP, rules
# applied with the daemon's own config).
fakeip_udp() {
	local a
	udp_start_peers
	RIG_INTAKE="redirect = $REDIRECT_PORT
tproxy = 12346
interfaces = r0
bypass_private = no" DNS_EXTRA="mode = fakeip" dns_start_sockgated "socks5://$PROXY4:$SNIFF_DANTE_PORT"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" rules apply >/dev/null
	a=$(fake_dig A far.sgsniff)
	check "fake-IP UDP: 50 datagrams to far.sgsniff's fake address ($a) echoed, from that address" \
		in_ns $NS_CLIENT $UDP_ECHO "$a" $UDP_PORT 50
	in_ns $NS_CLIENT $UDP_ECHO "$a" $UDP_PORT 3 --hold 2 >/dev/null &
	local held=$!
	sleep 0.5
	check "fake-IP UDP: conns shows the name" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' conns | grep -q 'far.sgsniff:$UDP_PORT'"
	wait "$held"
	# a fake address whose name a reload routed direct: the router looks
	# the name up (its hosts file knows web.sgtest) and sends from itself
	a=$(fake_dig A web.sgtest)
	sed -i "s/^default = up$/default = up\nweb.sgtest = direct/" "$RIG_DIR/sockgate.conf"
	"$SOCKGATE" -c "$RIG_DIR/sockgate.conf" reload >/dev/null
	check "fake-IP UDP routed direct: 20 datagrams to web.sgtest's fake address ($a) echoed from it" \
		in_ns $NS_CLIENT $UDP_ECHO "$a" $UDP_PORT 20
	rig_stop_sockgated
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" rules apply >/dev/null
}

# [dns] fakeip_file: the table survives a restart; a client holding an
# address from before reaches the same name without asking again.
fakeip_restart() {
	local a extra="mode = fakeip
fakeip_file = $RIG_DIR/fakeip.table"
	DNS_EXTRA=$extra dns_start_sockgated "socks5://$PROXY4:$SNIFF_DANTE_PORT"
	a=$(fake_dig A tls.sgsniff)
	rig_stop_sockgated
	check "fake-IP: the table is saved at stop" grep -q " tls.sgsniff$" "$RIG_DIR/fakeip.table"
	DNS_EXTRA=$extra dns_start_sockgated "socks5://$PROXY4:$SNIFF_DANTE_PORT"
	check "fake-IP: ... read back at start (logged)" grep -q "fake-IP: 1 name(s) kept" "$RIG_DIR/sockgated.log"
	check "fake-IP: ... and an address given before the restart reaches its name" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -sk -m 5 --resolve tls.sgsniff:443:$a https://tls.sgsniff/small)\" = hello"
	rig_stop_sockgated
}

test_fakeip() {
	# the rig's REDIRECT rules, whatever a test before left
	rig_redirect_rule
	local a4 a6 web
	dns_start_resolver
	sniff_start_peers
	rig_open_direct_path
	DNS_EXTRA="mode = fakeip" dns_start_sockgated "socks5://$PROXY4:$SNIFF_DANTE_PORT" \
		"$SERVER4/32 = direct
web.sgdns = direct"
	a4=$(fake_dig A far.sgsniff)
	a6=$(fake_dig AAAA far.sgsniff)
	check "fake-IP: A of a proxied name comes from 198.18.0.0/15 ($a4)" in_range "$a4" 198.18.0.0/15
	check "fake-IP: AAAA from fd00:5a::/64 ($a6)" in_range "$a6" fd00:5a::/64
	check "fake-IP: the same name keeps its address" test "$(fake_dig A far.sgsniff)" = "$a4"
	web=$(fake_dig A web.sgdns)
	check "fake-IP: a name routed direct gets its real answer ($web)" test "$web" = "$SERVER4"
	mkdir -p "/etc/netns/$NS_CLIENT"
	echo "nameserver $ROUTER4_LAN" >"/etc/netns/$NS_CLIENT/resolv.conf"
	check "fake-IP: curl http://far.sgsniff/small by name, through a plain socks5 upstream" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -4 -s -m 5 http://far.sgsniff/small)\" = hello"
	check "fake-IP: ... over IPv6 too" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -6 -s -m 5 http://far.sgsniff/small)\" = hello"
	check "fake-IP: TLS by name (tls.sgsniff, only the proxy resolves it)" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -4 -sk -m 5 https://tls.sgsniff/small)\" = hello"
	rm -rf "/etc/netns/$NS_CLIENT"
	check "fake-IP: a pool address nobody was given is reset" \
		expect_reset "http://198.18.200.200/small" 1000
	check "fake-IP: ... and counted; the pool's answers too" \
		dns_stat "d['fake_unknown'] >= 1 and d['fake_answers'] >= 4"
	# a name that got a fake address, then a reload routes it direct: the
	# router looks it up itself (its hosts file knows web.sgtest)
	a4=$(fake_dig A web.sgtest)
	sed -i "s/^web.sgdns = direct$/web.sgdns = direct\nweb.sgtest = direct/" "$RIG_DIR/sockgate.conf"
	"$SOCKGATE" -c "$RIG_DIR/sockgate.conf" reload >/dev/null
	check "fake-IP: a fake address whose name is now routed direct: looked up and connected" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -s -m 5 http://$a4/small)\" = hello"
	check "fake-IP: sockgate stats has a fake-IP line" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' stats | grep -q '^dns fake-IP: [0-9]* answers from the pool'"
	rig_stop_sockgated
	fakeip_restart
	fakeip_udp
	fakeip_through_http_and_ssh
	check "fake-IP: rules apply never bypasses the pools" \
		bash -c "printf '[intake]\nredirect = 1\ninterfaces = r0\n[route]\ndefault = direct\n[dns]\nlisten = 127.0.0.1:53\nserver = 9.9.9.9\nmode = fakeip\n' >'$RIG_DIR/fk.conf' && ! '$SOCKGATE' -c '$RIG_DIR/fk.conf' rules apply --dry-run | grep -q '198\.18\.'"
	rig_close_direct_path
	sniff_stop_peers
	rig_stop "$DNS_RESOLVER_PID"
}
