# shellcheck shell=bash
# [group]s of upstreams (docs/config.md "Groups"): failover with a retry on
# the next member, the policies, health checks and their hysteresis, every
# member down, a live pin, and upstream names that change or do not resolve
# yet. Two real dantes: "up" on port 1080 (the rig's) and "b" on 1084.
# Sourced by run.sh.

GROUP_B_PORT=1084
DANTE_B_PID=""

group_start_b() {
	local d=$RIG_DIR/dante-b
	mkdir -p "$d"
	rig_dante_conf "$d" $GROUP_B_PORT none
	rig_spawn $NS_PROXY DANTE_B_PID "$d/danted.out" danted -f "$d/danted.conf" -p "$d/danted.pid"
	rig_wait_port $NS_PROXY $GROUP_B_PORT
}

group_kill() { # pid variable name: a dante dies as in a crash
	if [ "$1" = DANTE_B_PID ]; then
		rig_kill_dante "$1" "$RIG_DIR/dante-b/danted.conf"
	else
		rig_kill_dante "$1" "$RIG_DIR/danted.conf"
	fi
}

# sockgated with the server's addresses routed to group g of up and b
# (b's url host $3, default its address), policy $1, more group lines $2.
group_start() { # policy [group lines] [b's host] [daemon lines]
	rig_start_sockgated "socks5://$PROXY4:1080" "" "${4:-}" "$SERVER4/32 = g
$SERVER6/128 = g
[upstream b]
url = socks5://${3:-$PROXY4}:$GROUP_B_PORT
[group g]
members = ${GROUP_MEMBERS:-up, b}
policy = $1
${2:-check_interval = 300ms
check_timeout = 250ms}"
}

# A member's field from status --json.
group_field() { # member field
	"$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" status | python3 -c '
import json, sys
v = json.load(sys.stdin)["daemon"]["upstreams"][sys.argv[1]][sys.argv[2]]
print(v if not isinstance(v, list) else " ".join(v))' "$1" "$2"
}

group_wait_state() { # member up|down [seconds]
	local i
	for i in $(seq $((${3:-5} * 10))); do
		[ "$(group_field "$1" state)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "       $1 is $(group_field "$1" state), not $2"
	return 1
}

# n short GETs, one after the other, from the client: their HTTP codes.
group_gets() { # n [out file]
	in_ns $NS_CLIENT bash -c "for i in \$(seq $1); do curl -s -m 5 -o /dev/null -w '%{http_code}\n' http://$SERVER4/small; done" >"${2:-/dev/stdout}"
}

# The flows each member ended grew by: "UP B" since the "UP B" given.
group_grown() { # before
	local before=$1
	sleep 0.2 # flows count once they end
	echo "$(($(group_field up flows) - ${before% *})) $(($(group_field b flows) - ${before#* }))"
}
group_flows() { echo "$(group_field up flows) $(group_field b flows)"; }

# n GETs, then how many each member took: "UP B".
group_gets_grown() { # n
	local before
	before=$(group_flows)
	group_gets "$1" >/dev/null
	group_grown "$before"
}

test_group_failover() {
	local codes=$RIG_DIR/group-codes fails after grown before
	group_start failover "check_interval = 300ms
check_timeout = 250ms
up_after = 3" "" "metrics = 9180"
	check "group: members up after their first checks" group_wait_state b up
	grown=$(group_gets_grown 5)
	check "failover: the first member takes the flows ($grown)" test "$grown" = "5 0"
	before=$(group_flows)
	group_gets 150 "$codes" &
	local loop=$!
	sleep 0.7
	group_kill DANTE_PID
	wait $loop
	fails=$(grep -vc '^200$' "$codes")
	# a request that was in flight when dante died may fail; none after
	after=$(awk 'seen && $0 != "200" { n++ } $0 != "200" { seen = 1 } END { print n + 0 }' "$codes")
	check "failover: the first member killed under a loop of 150 GETs: $fails failed (in flight), none after the first" \
		test "$after" -eq 0 -a "$fails" -le 1
	grown=$(group_grown "$before")
	check "failover: the second member took every flow after the kill ($grown)" \
		test "${grown#* }" -ge 10 -a $((${grown% *} + ${grown#* })) -ge 149
	check "failover: a flow whose member died under it was tried on the next, logged" \
		expect_log "via g/up (socks5 $PROXY4:1080): .*; trying b"
	check "failover: the dead member is down in status" group_wait_state up down 2
	check "... with why" expect_match "Connection refused" group_field up last_error
	check "... and in status's text" \
		expect_match "up \\(socks5 $PROXY4:1080\\): DOWN" "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" status
	rig_start_dante
	check "failover: back after up_after good checks" group_wait_state up up 5
	grown=$(group_gets_grown 5)
	check "failover: traffic returns to the first member ($grown)" test "$grown" = "5 0"
	check "the group in status: policy, members, the member new flows take" \
		expect_match "g \\(failover, on_all_down reset\\): members up, b; new flows take up" \
		"$SOCKGATE" -c "$RIG_DIR/sockgate.conf" status
	# a live pin
	check "upstream use g b: ok" expect_match "new flows take b" "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" upstream use g b
	grown=$(group_gets_grown 4)
	check "... new flows take b although up is up ($grown)" test "$grown" = "0 4"
	check "... metrics: the active member" \
		bash -c "ip netns exec $NS_ROUTER curl -s http://127.0.0.1:9180/metrics | grep -qx 'sockgate_group_member_active{group=\"g\",member=\"b\"} 1'"
	"$SOCKGATE" -c "$RIG_DIR/sockgate.conf" upstream use g auto >/dev/null
	grown=$(group_gets_grown 3)
	check "upstream use g auto: back to the policy ($grown)" test "$grown" = "3 0"
	check "upstream use of a member not in the group: exit 1, says why" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' upstream use g nosuch 2>&1 >/dev/null | grep -q 'not a member of group g'; test \${PIPESTATUS[0]} -eq 1"
	check "upstream use of an upstream that is no group: refused" \
		bash -c "! '$SOCKGATE' -c '$RIG_DIR/sockgate.conf' upstream use up b 2>/dev/null"
	check "upstream use with a bad word: usage, exit 2" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' upstream use 'g x' b >/dev/null 2>&1; test \$? -eq 2"
	rig_stop_sockgated
}

test_group_policies() {
	local grown
	group_start round-robin
	group_wait_state b up >/dev/null
	grown=$(group_gets_grown 10)
	check "round-robin: both members take flows ($grown)" test "${grown% *}" -ge 4 -a "${grown#* }" -ge 4
	rig_stop_sockgated
	group_start hash
	group_wait_state b up >/dev/null
	grown=$(group_gets_grown 10)
	check "hash: one client keeps one member ($grown)" test "$grown" = "10 0" -o "$grown" = "0 10"
	rig_stop_sockgated
	# least-latency: the first member is behind a 100 ms delay line
	gcc -O2 -Wall -o "$RIG_DIR/delay_line" tests/bench/delay_line.c -lnetfilter_queue ||
		{ fail "least-latency: cannot build the delay line"; return; }
	rig_spawn $NS_ROUTER DELAY_PID "$RIG_DIR/delay.log" "$RIG_DIR/delay_line" 9 100
	sleep 0.2
	in_ns $NS_ROUTER iptables-legacy -A OUTPUT -p tcp -d $PROXY4 --dport 1080 -j NFQUEUE --queue-num 9 --queue-bypass
	in_ns $NS_ROUTER iptables-legacy -A INPUT -p tcp -s $PROXY4 --sport 1080 -j NFQUEUE --queue-num 9 --queue-bypass
	group_start least-latency "check_timeout = 1s
check_interval = 1s"
	group_wait_state b up >/dev/null
	sleep 1.5 # both members checked
	check "least-latency: the delayed member's check is slower ($(group_field up check_latency_ms) ms vs $(group_field b check_latency_ms) ms)" \
		test "$(group_field up check_latency_ms)" -ge 150 -a "$(group_field b check_latency_ms)" -lt 100
	grown=$(group_gets_grown 5)
	check "least-latency: new flows take the member behind the shorter delay ($grown)" test "$grown" = "0 5"
	rig_stop_sockgated
	in_ns $NS_ROUTER iptables-legacy -F OUTPUT
	in_ns $NS_ROUTER iptables-legacy -F INPUT
	rig_stop "$DELAY_PID"
}

test_group_all_down() {
	group_start failover
	group_wait_state b up >/dev/null
	group_kill DANTE_PID
	group_kill DANTE_B_PID
	check "every member down, on_all_down = reset: the client is reset at once" \
		expect_reset "http://$SERVER4/small" 1000
	check "... the last member's refusal logged" expect_log "via g/b (socks5 $PROXY4:$GROUP_B_PORT): connect to .*Connection refused; client reset"
	group_wait_state up down 2 >/dev/null && group_wait_state b down 2 >/dev/null
	check "once the checks found them down: reset at once, without trying them" \
		expect_reset "http://$SERVER4/small" 200
	check "... logged" expect_log "every member of group g is down (on_all_down = reset)"
	rig_stop_sockgated
	rig_open_direct_path
	group_start failover "on_all_down = direct"
	check "every member down, on_all_down = direct: served directly" expect_file $SERVER4
	rig_stop_sockgated
	rig_close_direct_path
	rig_start_dante
	group_start_b
}

# Names: b's host is a name in the router's hosts file (bound over
# /etc/hosts by ip netns exec: written in place, never replaced).
test_group_names() {
	local hosts=/etc/netns/$NS_ROUTER/hosts saved grown
	saved=$(cat "$hosts")
	GROUP_MEMBERS="b, up" group_start failover "check_interval = 300ms
check_timeout = 250ms
up_after = 1" proxy-b.sggroup "resolve_min = 1s
log_level = debug"
	check "a name that does not resolve yet: sockgated starts, b is down" group_wait_state b down
	check "... and says why" expect_match "cannot resolve \"proxy-b.sggroup\"" group_field b last_error
	grown=$(group_gets_grown 3)
	check "... the group is served by its other member ($grown)" test "$grown" = "3 0"
	printf '%s\n' "$saved" "$PROXY4 proxy-b.sggroup" >"$hosts"
	check "the name appears: b is up within resolve_min and a check" group_wait_state b up 5
	check "... at the address the name has ($(group_field b addresses))" \
		test "$(group_field b addresses)" = "$PROXY4:$GROUP_B_PORT"
	grown=$(group_gets_grown 3)
	check "... and serves the group ($grown)" test "$grown" = "0 3"
	printf '%s\n' "$saved" "$PROXY6 proxy-b.sggroup" >"$hosts"
	local i
	for i in $(seq 30); do
		[ "$(group_field b addresses)" = "[$PROXY6]:$GROUP_B_PORT" ] && break
		sleep 0.1
	done
	check "the name moves: new flows follow within resolve_min ($(group_field b addresses))" \
		test "$(group_field b addresses)" = "[$PROXY6]:$GROUP_B_PORT"
	check "... logged" expect_log "upstream b: \"proxy-b.sggroup\" is now \\[$PROXY6\\]"
	grown=$(group_gets_grown 3)
	check "... served there ($grown)" test "$grown" = "0 3"
	rig_stop_sockgated
	printf '%s\n' "$saved" >"$hosts"
}

# The SOCKS server's routes and the DNS service's server may name a group.
test_group_services() {
	local i got resolver=""
	if [ -z "$(in_ns $NS_SERVER ss -Hlun "sport = :$DNS_SERVER_PORT")" ]; then
		dns_start_resolver
		resolver=$DNS_RESOLVER_PID
	fi
	rig_start_sockgated "socks5://$PROXY4:1080" "" "" "$SERVER4/32 = g
[upstream b]
url = socks5://$PROXY4:$GROUP_B_PORT
[group g]
members = up, b
check_interval = 300ms
[socks]
listen = $ROUTER4_LAN:1086
auth = none
allow = $CLIENT4/32
[dns]
listen = $ROUTER4_LAN:$DNS_PORT
server = $SERVER4:$DNS_SERVER_PORT via g
allow = $CLIENT4/32"
	group_wait_state b up >/dev/null
	check "a SOCKS client's request routed to a group is served" \
		expect_match "^hello$" in_ns $NS_CLIENT curl -s -m 5 --socks5 $ROUTER4_LAN:1086 "http://$SERVER4/small"
	check "[dns] server via a group: answered through its member" \
		expect_match "^$SERVER4$" in_ns $NS_CLIENT dig +short +time=2 +tries=1 -p $DNS_PORT @$ROUTER4_LAN web.sgdns
	group_kill DANTE_PID
	check "the first member killed: the SOCKS client is served by the second" \
		expect_match "^hello$" in_ns $NS_CLIENT curl -s -m 5 --socks5 $ROUTER4_LAN:1086 "http://$SERVER4/small"
	got=""
	for i in 1 2 3; do
		got=$(in_ns $NS_CLIENT dig +short +time=2 +tries=1 -p $DNS_PORT @$ROUTER4_LAN only.sgdns A)
		[ "$got" = 10.9.7.1 ] && break
		sleep 0.5
	done
	check "... and DNS through the group is answered again ($i attempt(s))" test "$got" = 10.9.7.1
	rig_stop_sockgated
	rig_start_dante
	[ -n "$resolver" ] && rig_stop "$resolver"
}

test_groups() {
	[ -z "$DANTE_B_PID" ] && group_start_b
	test_group_failover
	test_group_services
	test_group_policies
	test_group_all_down
	test_group_names
}
