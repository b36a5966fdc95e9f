# shellcheck shell=bash
# SOCKS server tests, sourced by run.sh after the rig is up. The client uses
# sockgated on the router's LAN address as an ordinary SOCKS server. Targets:
# nginx on the server (reachable only through dante: the chained route) and
# services on the proxy host (reachable directly from the router).

SOCKS4=$ROUTER4_LAN SOCKS6=$ROUTER6_LAN SOCKS_PORT=1080
SOCKS_USER=carol SOCKS_PASS='pa:ss w0rd'

socks_py() { in_ns $NS_CLIENT python3 tests/integration/socks_client.py "$@"; }

# [route] and [socks] for the tests: the proxy's link is direct, the rest
# goes through dante; $1: auth and allow lines, $2: more [socks] lines.
socks_conf() {
	printf '%s\n' "$PROXY4/32 = direct" "fd77:2::/64 = direct" "[socks]" \
		"listen = $SOCKS4:$SOCKS_PORT, [$SOCKS6]:$SOCKS_PORT" "$1" "${2:-}"
}

start_socks() { # auth/allow lines, more [socks] lines, more [daemon] lines
	rig_start_sockgated "socks5://$PROXY4:1080" "" "${3:-}" "$(socks_conf "$1" "${2:-}")" &&
		rig_wait_port $NS_ROUTER $SOCKS_PORT
}

expect_curl() { # expected-body curl-args...
	local want=$1 got
	shift
	got=$(in_ns $NS_CLIENT curl -sS -m 10 "$@" 2>&1)
	[ "$got" = "$want" ] || { echo "       got: $got"; return 1; }
}

expect_out() { # expected-output command...
	local want=$1 got
	shift
	got=$("$@" 2>&1)
	[ "$got" = "$want" ] || { echo "       got: $got"; return 1; }
}

expect_match() { # regex command...
	local re=$1 got
	shift
	got=$("$@" 2>&1)
	[[ $got =~ $re ]] || { echo "       got: $got"; return 1; }
}

socks_targets() {
	mkdir -p "$RIG_DIR/near"
	echo near >"$RIG_DIR/near/small"
	rig_spawn $NS_PROXY NEAR_WEB_PID "$RIG_DIR/near-web.log" \
		python3 -m http.server 8080 --bind :: --directory "$RIG_DIR/near"
	rig_spawn $NS_PROXY UDP_ECHO_PID "$RIG_DIR/udp-echo.log" socat UDP4-RECVFROM:7007,fork EXEC:cat
	rig_spawn $NS_PROXY UDP_ECHO6_PID "$RIG_DIR/udp-echo6.log" socat UDP6-RECVFROM:7007,ipv6only=1,fork EXEC:cat
	# beyond the proxy: reachable only through dante's UDP ASSOCIATE
	rig_spawn $NS_SERVER FAR_UDP_ECHO_PID "$RIG_DIR/far-udp-echo.log" socat UDP4-RECVFROM:7008,fork EXEC:cat
	rig_spawn $NS_SERVER FAR_UDP_ECHO6_PID "$RIG_DIR/far-udp-echo6.log" socat UDP6-RECVFROM:7008,ipv6only=1,fork EXEC:cat
	# one family each: whichever address of a dual-stack name comes first,
	# one of the two ports refuses it and the next address must be tried
	rig_spawn $NS_PROXY NEAR_WEB4_PID "$RIG_DIR/near-web4.log" \
		python3 -m http.server 8082 --bind $PROXY4 --directory "$RIG_DIR/near"
	rig_spawn $NS_PROXY NEAR_WEB6_PID "$RIG_DIR/near-web6.log" \
		python3 -m http.server 8083 --bind $PROXY6 --directory "$RIG_DIR/near"
	rig_wait_port $NS_PROXY 8080 && rig_wait_port $NS_PROXY 8082 && rig_wait_port $NS_PROXY 8083
}

test_socks_no_auth() {
	start_socks "auth = none
allow = 10.77.1.0/25, fd77:1::/64" "deny_dst = 10.77.2.99
bind_timeout = 2s" "log_level = debug" || { fail "sockgated with [socks] did not start"; return; }
	local s5="--socks5 $SOCKS4:$SOCKS_PORT" s5h="--socks5-hostname $SOCKS4:$SOCKS_PORT"
	# shellcheck disable=SC2086
	{
		check "socks5 (no auth): IPv4 target via the dante chain" expect_curl hello $s5 "http://$SERVER4/small"
		check "socks5 (no auth): IPv6 target via the dante chain" expect_curl hello $s5 "http://[$SERVER6]/small"
		check "socks5 (no auth): server reached over IPv6" expect_curl hello --socks5 "[$SOCKS6]:$SOCKS_PORT" "http://$SERVER4/small"
		check "socks5 (no auth): direct route, IPv4 target" expect_curl near $s5 "http://$PROXY4:8080/small"
		check "socks5 (no auth): direct route, IPv6 target" expect_curl near $s5 "http://[$PROXY6]:8080/small"
		check "socks5-hostname: name resolved by sockgated (c-ares), chained" expect_curl hello $s5h "http://web.sgtest/small"
		check "socks5-hostname: IPv6-only name" expect_curl hello $s5h "http://web6.sgtest/small"
		check "socks5-hostname: name with a direct route" expect_curl near $s5h "http://near.sgtest:8080/small"
		check "socks5-hostname: a dual-stack name, served over IPv4 only" \
			expect_curl near $s5h "http://multi.sgtest:8082/small"
		check "socks5-hostname: a dual-stack name, served over IPv6 only" \
			expect_curl near $s5h "http://multi.sgtest:8083/small"
		check "... the refused first address was followed by the next one" \
			expect_log "multi.sgtest:808[23] (.*) via direct: connect to .*Connection refused; trying the next address"
		check "socks4: IPv4 target" expect_curl hello --socks4 "$SOCKS4:$SOCKS_PORT" "http://$SERVER4/small"
		check "socks4a: name" expect_curl hello --socks4a "$SOCKS4:$SOCKS_PORT" "http://web.sgtest/small"
	}
	local want
	want=$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)
	check "socks5: 10 MB through the chain, sha256 matches" \
		expect_out "$want" bash -c "ip netns exec $NS_CLIENT curl -sS -m 20 --socks5 $SOCKS4:$SOCKS_PORT http://$SERVER4/file10m | sha256sum | cut -d' ' -f1"
	check "socks5: 100 parallel requests" expect_out 100 bash -c \
		"seq 100 | ip netns exec $NS_CLIENT xargs -P 100 -I{} curl -s -m 20 -o /dev/null -w '%{http_code}\n' --socks5 $SOCKS4:$SOCKS_PORT 'http://$SERVER4/small?{}' | grep -c '^200$'"
	check "client data right behind the request (no waiting for replies) reaches the target" \
		expect_out "METHOD 0 REP 0 BODY hello" socks_py $SOCKS4 $SOCKS_PORT optimistic $SERVER4 80
	check "allow: a client outside it gets no reply byte" \
		expect_out NO-REPLY bash -c "ip -n $NS_CLIENT addr add 10.77.1.200/24 dev c0 2>/dev/null; ip netns exec $NS_CLIENT python3 tests/integration/socks_client.py $SOCKS4 $SOCKS_PORT silent --source 10.77.1.200"
	check "auth = none: a client offering only username/password is refused (0xFF)" \
		expect_out "METHOD 255" socks_py $SOCKS4 $SOCKS_PORT offer-password
	check "... over IPv6 too" expect_out "METHOD 255" socks_py $SOCKS6 $SOCKS_PORT offer-password
	check "... and sockgated is still serving" expect_curl hello $s5 "http://$SERVER4/small"
	check "destination policy: the router itself -> REP 2" expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect $ROUTER4 22
	check "destination policy: loopback by name -> REP 2" expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect localhost 22
	check "destination policy: ::ffff:127.0.0.1 -> REP 2" expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect ::ffff:127.0.0.1 22
	check "destination policy: link-local 169.254.1.1 -> REP 2" expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect 169.254.1.1 80
	check "destination policy: link-local fe80::1 -> REP 2" expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect fe80::1 80
	check "destination policy: the LAN's subnet-router anycast (the router) -> REP 2" \
		expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect fd77:1:: $SOCKS_PORT
	ip -n $NS_ROUTER -6 route add local fd77:99::/64 dev lo
	ip -n $NS_ROUTER route add local 10.77.99.0/24 dev lo
	check "destination policy: an IPv6 local route of the router -> REP 2" \
		expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect fd77:99::5 $SOCKS_PORT
	check "destination policy: an IPv4 local route of the router -> REP 2" \
		expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect 10.77.99.5 $SOCKS_PORT
	ip -n $NS_ROUTER -6 route del local fd77:99::/64 dev lo
	ip -n $NS_ROUTER route del local 10.77.99.0/24 dev lo
	check "destination policy: an address sent as a name (\"127.0.0.1\") -> REP 2" \
		expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect name:127.0.0.1 $SOCKS_PORT
	check "destination policy: \"localhost.\" -> REP 2" \
		expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect name:localhost. $SOCKS_PORT
	check "destination policy: deny_dst -> REP 2" expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT connect 10.77.2.99 80
	check "unresolvable name -> REP 4" expect_out "REP 4" socks_py $SOCKS4 $SOCKS_PORT connect nosuch.sgtest 80
	check "closed port (direct) -> REP 5" expect_out "REP 5" socks_py $SOCKS4 $SOCKS_PORT connect $PROXY4 81
	check "closed port (through dante) -> REP 5 passed on" expect_out "REP 5" socks_py $SOCKS4 $SOCKS_PORT connect $SERVER4 81
	check "unknown command -> REP 7" expect_out "REP 7" socks_py $SOCKS4 $SOCKS_PORT command 9
	check "no route to the network (dante says so) -> REP 3" expect_out "REP 3" socks_py $SOCKS4 $SOCKS_PORT connect 192.0.2.1 80
	in_ns $NS_PROXY nft -f - <<-NFT
	table inet sgdrop {
	    chain input { type filter hook input priority 0; tcp dport 9999 drop; }
	}
	NFT
	check "target that never answers -> REP 6 after connect_timeout" \
		expect_out "REP 6" socks_py $SOCKS4 $SOCKS_PORT connect $PROXY4 9999
	in_ns $NS_PROXY nft delete table inet sgdrop
	check "... and each failure logged once with its code" expect_log "nosuch.sgtest:80: cannot resolve.*replied 0x4"
	check "a burst of failures is logged at most $((20 * 2)) lines a second, the rest summed up" \
		test_log_rate_limit
	check "UDP ASSOCIATE: round trip to a UDP echo server (IPv4)" \
		expect_out "ECHO $PROXY4:7007 ping-v4" socks_py $SOCKS4 $SOCKS_PORT udp $PROXY4 7007 ping-v4
	check "UDP ASSOCIATE: round trip over IPv6" \
		expect_out "ECHO $PROXY6:7007 ping-v6" socks_py $SOCKS6 $SOCKS_PORT udp $PROXY6 7007 ping-v6
	check "UDP ASSOCIATE: target by name" \
		expect_out "ECHO $PROXY4:7007 ping-name" socks_py $SOCKS4 $SOCKS_PORT udp near.sgtest 7007 ping-name
	check "UDP ASSOCIATE: a target [route] sends through dante goes through dante's UDP ASSOCIATE (IPv4)" \
		expect_out "ECHO $SERVER4:7008 ping-far-v4" socks_py $SOCKS4 $SOCKS_PORT udp $SERVER4 7008 ping-far-v4
	check "UDP ASSOCIATE: ... and over IPv6" \
		expect_out "ECHO $SERVER6:7008 ping-far-v6" socks_py $SOCKS6 $SOCKS_PORT udp $SERVER6 7008 ping-far-v6
	check "UDP ASSOCIATE: ... and its association with dante ends with the client's" \
		no_control_connection_to_dante
	check "UDP ASSOCIATE: the payload bytes each way are counted in the flow" \
		expect_log "UDP association ended by its client (11 bytes up, 11 down)"
	test_socks_bind
	test_resolv_conf_change
	test_dns_lookups_end
	rig_stop_sockgated
}

# UDP ASSOCIATE to targets whose upstream cannot carry UDP or cannot be
# reached: the datagrams are dropped and that is logged.
socks_udp_dropped() { # upstream-url what log-line
	rig_start_sockgated "$1" "" "log_level = debug" "$(socks_conf "auth = none
allow = 10.77.1.0/25")" && rig_wait_port $NS_ROUTER $SOCKS_PORT ||
		{ fail "sockgated with upstream $1 did not start"; return; }
	check "UDP ASSOCIATE: $2: no echo" expect_out "NO-ECHO" socks_py $SOCKS4 $SOCKS_PORT udp $SERVER4 7008 ping
	check "... and logged" expect_log "$3"
	rig_stop_sockgated
}

test_socks_udp_routes() {
	socks_udp_dropped "http://$PROXY4:3128" "a target routed to an HTTP upstream (udp = drop)" \
		"UDP to $SERVER4:7008 dropped: its route is upstream \"up\" (http), which has udp = drop"
	socks_udp_dropped "socks5://$PROXY4:1099" "through a SOCKS5 upstream that refuses connections" \
		"UDP through upstream \"up\": connect to the upstream: Connection refused"
}

# No connection of sockgated's to dante is left established (the UDP
# checks run one at a time; their TCP control connections end with them).
no_control_connection_to_dante() {
	local i left
	for i in $(seq 20); do
		left=$(in_ns $NS_ROUTER ss -Htn state established "dst $PROXY4:1080")
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "       still open: $left"
	return 1
}

# The router's name servers change (DHCP, PPP): sockgated follows
# /etc/resolv.conf without a restart.
test_resolv_conf_change() {
	rig_spawn $NS_PROXY DNS_PID "$RIG_DIR/tiny-dns.log" python3 tests/integration/tiny_dns.py $PROXY4 dyn.sgtest $PROXY4
	check "before: a name only the new server knows does not resolve -> REP 4" \
		expect_out "REP 4" socks_py $SOCKS4 $SOCKS_PORT connect dyn.sgtest 8080
	# in place, as resolvconf does: the file is bound over the router's /etc/resolv.conf
	echo "nameserver $PROXY4" >"/etc/netns/$NS_ROUTER/resolv.conf"
	check "after /etc/resolv.conf changes, its new name server is used" \
		wait_for_body near --socks5-hostname $SOCKS4:$SOCKS_PORT "http://dyn.sgtest:8080/small"
	check "... and logged" expect_log "dns: /etc/resolv.conf changed; name servers now $PROXY4:53"
	echo "nameserver 127.0.0.1" >"/etc/netns/$NS_ROUTER/resolv.conf"
	rig_stop "$DNS_PID"
}

# Lookups end with their connections, and are capped: clients that ask for
# fresh names and hang up cannot keep the resolver busy.
test_dns_lookups_end() {
	local queries lookups
	rig_spawn $NS_PROXY DNS_PID "$RIG_DIR/tiny-dns.log" \
		python3 tests/integration/tiny_dns.py $PROXY4 none.sgtest $PROXY4 --silent "$RIG_DIR/dns-queries"
	echo "nameserver $PROXY4" >"/etc/netns/$NS_ROUTER/resolv.conf"
	sleep 5.5 # the workers notice the change
	: >"$RIG_DIR/dns-queries"
	check "500 requests by fresh names, each connection closed at once" \
		expect_out "SENT 500" socks_py $SOCKS4 $SOCKS_PORT names-hangup 500 gone 80
	sleep 1
	lookups=$("$SOCKGATE" -c "$RIG_DIR/sockgate.conf" stats | sed -n 's/^dns: \([0-9]*\) lookups under way/\1/p')
	check "... a second later no lookup is under way (${lookups:-?})" test "${lookups:-1}" -eq 0
	sleep 4
	queries=$(wc -l <"$RIG_DIR/dns-queries")
	check "... and the resolver got no retries: $queries queries for 500 names (at most 2 each)" \
		test "$queries" -le 1000
	echo "nameserver 127.0.0.1" >"/etc/netns/$NS_ROUTER/resolv.conf"
	rig_stop "$DNS_PID"
}

wait_for_body() { # body curl-args... (retries for 8 s)
	local want=$1 i got
	shift
	for i in $(seq 16); do
		got=$(in_ns $NS_CLIENT curl -s -m 3 "$@" 2>/dev/null)
		[ "$got" = "$want" ] && return 0
		sleep 0.5
	done
	echo "       got: $got"
	return 1
}

# 300 refused connects at once: the log gets a bounded number of lines
# (20 a second per worker, 2 workers) and one line with the rest counted.
test_log_rate_limit() {
	local before after
	before=$(grep -c "replied 0x5" "$RIG_DIR/sockgated.log")
	socks_py $SOCKS4 $SOCKS_PORT burst 300 $PROXY4 81 | grep -qx "REPLIES 300 REP 5" ||
		{ echo "       not every request got REP 5"; return 1; }
	sleep 1.2 # the summary comes when the window closes
	expect_log "more failure lines suppressed" >/dev/null || { echo "       no summary line"; return 1; }
	after=$(grep -c "replied 0x5" "$RIG_DIR/sockgated.log")
	[ $((after - before)) -le 120 ] || { echo "       $((after - before)) lines logged"; return 1; }
}

test_socks_bind() {
	local bnd=$RIG_DIR/bind.addr out pid i addr port
	rm -f "$bnd"
	in_ns $NS_CLIENT python3 tests/integration/socks_client.py $SOCKS4 $SOCKS_PORT bind $PROXY4 "$bnd" >"$RIG_DIR/bind.out" 2>&1 &
	pid=$!
	for i in $(seq 50); do [ -s "$bnd" ] && break; sleep 0.1; done
	read -r addr port <"$bnd" 2>/dev/null
	check "BIND: first reply names the router's address toward the peer (${addr:-none})" test "${addr:-}" = "$ROUTER4"
	# a host other than the expected peer is turned away
	ip -n $NS_PROXY addr add 10.77.2.3/24 dev p0
	in_ns $NS_PROXY timeout 3 socat -u OPEN:/dev/null "TCP:${addr:-0}:${port:-0},bind=10.77.2.3" 2>/dev/null
	check "BIND: a connection from another address is refused and logged" \
		expect_log "BIND: connection from 10.77.2.3:[0-9]* refused, expecting $PROXY4"
	out=$( (echo hello-from-peer; sleep 1) | in_ns $NS_PROXY timeout 5 socat - "TCP:${addr:-0}:${port:-0},bind=$PROXY4" 2>&1)
	wait $pid
	ip -n $NS_PROXY addr del 10.77.2.3/24 dev p0
	check "BIND: second reply names the peer, data flows both ways" \
		expect_match "^BIND $PROXY4 hello-from-peer" cat "$RIG_DIR/bind.out"
	check "BIND: ... and back to the peer" test "$out" = "hello-from-client"
	check "BIND: no peer within bind_timeout (2s) -> second reply REP 6" \
		expect_out "SECOND-REP 6" socks_py $SOCKS4 $SOCKS_PORT bind $PROXY4 "$RIG_DIR/bind2.addr"
	check "BIND with DST 0.0.0.0 (any peer) is refused -> REP 2" \
		expect_out "REP 2" socks_py $SOCKS4 $SOCKS_PORT bind 0.0.0.0 "$RIG_DIR/bind3.addr"
}

test_socks_auth() {
	local users=$RIG_DIR/users
	printf '%s\n' "$SOCKS_PASS" | "$SOCKGATED" --hash-password "$SOCKS_USER" >"$users"
	# proxychains.conf cannot hold a password with a space
	echo proxy-pw | "$SOCKGATED" --hash-password dave >>"$users"
	chmod 600 "$users"
	check "--hash-password writes a crypt(3) line" grep -q "^$SOCKS_USER:\\$" "$users"
	start_socks "users = $users" "max_conns_per_client = 20" "handshake_timeout = 2s" ||
		{ fail "sockgated with [socks] auth did not start"; return; }
	local enc
	enc=$(printf %s "$SOCKS_PASS" | sed 's/:/%3A/; s/ /%20/')
	check "password is the default beyond loopback: no-auth client refused" \
		expect_out NO-ACCEPTABLE-METHOD socks_py $SOCKS4 $SOCKS_PORT connect $SERVER4 80
	check "socks5 + user/password: IPv4 target" expect_curl hello -x "socks5://$SOCKS_USER:$enc@$SOCKS4:$SOCKS_PORT" "http://$SERVER4/small"
	check "socks5 + user/password: IPv6 target" expect_curl hello -x "socks5://$SOCKS_USER:$enc@$SOCKS4:$SOCKS_PORT" "http://[$SERVER6]/small"
	check "socks5h + user/password: name" expect_curl hello -x "socks5h://$SOCKS_USER:$enc@[$SOCKS6]:$SOCKS_PORT" "http://web.sgtest/small"
	check "socks4 is refused when a password is required" \
		bash -c "! ip netns exec $NS_CLIENT curl -s -m 5 --socks4 $SOCKS4:$SOCKS_PORT http://$SERVER4/small"
	check "wrong password: RFC 1929 status 1, connection closed" \
		expect_out "STATUS 1 CLOSED" socks_py $SOCKS4 $SOCKS_PORT auth $SOCKS_USER wrong
	check "unknown user: status 1, closed" expect_out "STATUS 1 CLOSED" socks_py $SOCKS4 $SOCKS_PORT auth mallory x
	check "... logged without the password" expect_log "user \"$SOCKS_USER\" failed to log in"
	check "the password never reaches the log" bash -c "! grep -q -e wrong -e 'pa:ss' '$RIG_DIR/sockgated.log'"
	socks_py $SOCKS6 $SOCKS_PORT auth $'eve\n00:00:00.000 error: forged\x1b[2J' x >/dev/null
	check "a user name with a newline and an escape cannot forge a log line" \
		bash -c "! grep -q '^00:00:00.000 error: forged' '$RIG_DIR/sockgated.log' && ! grep -q \$'\\x1b' '$RIG_DIR/sockgated.log'"
	check "... it is logged escaped, on one line" expect_log 'user "eve\\x0a00:00:00.000 error: forged\\x1b\[2J" failed to log in'
	check "proxychains4 runs an unmodified curl through the server (names remote)" \
		test_proxychains
	# 5 failures from one address lock it out for a minute, right password or not
	socks_py $SOCKS4 $SOCKS_PORT auth $SOCKS_USER wrong >/dev/null
	socks_py $SOCKS4 $SOCKS_PORT auth $SOCKS_USER wrong >/dev/null
	socks_py $SOCKS4 $SOCKS_PORT auth $SOCKS_USER wrong >/dev/null
	check "failures are throttled per address: right password refused after 5" \
		expect_out "STATUS 1 CLOSED" socks_py $SOCKS4 $SOCKS_PORT auth $SOCKS_USER "$SOCKS_PASS"
	check "... logged once" expect_log "failed 5 times; refusing its logins"
	check "... other addresses are not affected" \
		expect_out "STATUS 0 OPEN" socks_py $SOCKS6 $SOCKS_PORT auth $SOCKS_USER "$SOCKS_PASS"
	ip -n $NS_CLIENT addr add 10.77.1.201/24 dev c0 2>/dev/null
	ip -n $NS_CLIENT addr add fd77:1::201/64 dev c0 nodad 2>/dev/null
	check "60 logins at once, the right one 41st: refused like 60 in a row (checks count when sent)" \
		expect_out "ACCEPTED 0" socks_py $SOCKS4 $SOCKS_PORT burst-auth 60 40 $SOCKS_USER "$SOCKS_PASS" --source 10.77.1.201
	check "... and the lockout logged" expect_log "10.77.1.201:[0-9]* failed [0-9]* times"
	for _ in 1 2 3 4 5; do socks_py $SOCKS6 $SOCKS_PORT auth $SOCKS_USER wrong --source fd77:1::201 >/dev/null; done
	check "IPv6: five failures lock out that address" \
		expect_out "STATUS 1 CLOSED" socks_py $SOCKS6 $SOCKS_PORT auth $SOCKS_USER "$SOCKS_PASS" --source fd77:1::201
	check "... not its /64 neighbours" \
		expect_out "STATUS 0 OPEN" socks_py $SOCKS6 $SOCKS_PORT auth $SOCKS_USER "$SOCKS_PASS" --source $CLIENT6
	ip -n $NS_CLIENT addr del 10.77.1.201/24 dev c0
	ip -n $NS_CLIENT addr del fd77:1::201/64 dev c0
	check "max_conns_per_client: the 21st connection is reset unanswered" \
		expect_out "ACCEPTED 20" socks_py $SOCKS6 $SOCKS_PORT limit 25
	check "half-open handshakes time out (handshake_timeout 2s)" \
		expect_match "^CLOSED 300 OF 300 AFTER [234]\." bash -c \
		"ip netns exec $NS_CLIENT python3 tests/integration/socks_client.py $SOCKS4 $SOCKS_PORT hold 300 --within 6 &
		 sleep 0.5; ip netns exec $NS_CLIENT curl -s -m 5 -x 'socks5://$SOCKS_USER:$enc@[$SOCKS6]:$SOCKS_PORT' http://$SERVER4/small >'$RIG_DIR/during-flood'; wait"
	check "... while they hang, an established client is served" grep -qx hello "$RIG_DIR/during-flood"
	rig_stop_sockgated
}

test_proxychains() {
	cat >"$RIG_DIR/proxychains.conf" <<-CONF
	strict_chain
	proxy_dns
	tcp_read_time_out 15000
	tcp_connect_time_out 8000
	[ProxyList]
	socks5 $SOCKS4 $SOCKS_PORT dave proxy-pw
	CONF
	local got
	got=$(in_ns $NS_CLIENT proxychains4 -q -f "$RIG_DIR/proxychains.conf" curl -s -m 10 http://web.sgtest/small 2>&1)
	[ "$got" = hello ] || { echo "       got: $got"; return 1; }
}

test_socks_config_safety() {
	local conf=$RIG_DIR/open.conf out
	printf '[route]\ndefault = direct\n[socks]\nlisten = 10.0.0.1:1080\nauth = none\n' >"$conf"
	out=$("$SOCKGATED" --check -c "$conf" 2>&1)
	check "--check: auth = none beyond loopback without allow is refused (open proxy)" \
		grep -q "needs an allow = CIDR list" <<<"$out"
	printf '[route]\ndefault = direct\n[socks]\nlisten = 10.0.0.1:1080\nusers = %s\n' "$RIG_DIR/plain" >"$conf"
	echo "alice:secret" >"$RIG_DIR/plain"
	chmod 600 "$RIG_DIR/plain"
	out=$("$SOCKGATED" --check -c "$conf" 2>&1)
	check "--check: a plaintext password in the users file is refused" \
		grep -q "plain:1: user \"alice\": not a crypt(3) hash" <<<"$out"
	chmod 666 "$RIG_DIR/plain"
	out=$("$SOCKGATED" --check -c "$conf" 2>&1)
	check "--check: a users file others may write is refused" grep -q "writable by group or others" <<<"$out"
}
