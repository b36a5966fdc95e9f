# shellcheck shell=bash
# [route] rules by device and port (docs/config.md "[route]"), and lists at
# router scale: a second LAN client on its own link (router r2), told
# apart by its MAC; a rule by port; a 100,000-line route file. Which way a
# flow went is read from the flows each upstream ended (direct ones reach
# the server over rig_open_direct_path). Sourced by run.sh.

CLIENT2_4=10.77.4.2
ROUTER2_4=10.77.4.1

policy_client2_up() {
	NS_CLIENT2=${RIG_PREFIX}c2
	ip netns add "$NS_CLIENT2" && RIG_EXTRA_NS+=("$NS_CLIENT2")
	ip -n "$NS_CLIENT2" link set lo up
	rig_link "$NS_CLIENT2" c2 $CLIENT2_4 fd77:4::2 $NS_ROUTER r2 $ROUTER2_4 fd77:4::1
	ip -n "$NS_CLIENT2" route add default via $ROUTER2_4
	CLIENT2_MAC=$(ip -n "$NS_CLIENT2" -j link show c2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
}

# Flows ended through direct and through the upstream: "DIRECT UP".
policy_flows() {
	"$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" stats | python3 -c '
import json, sys
u = json.load(sys.stdin)["upstreams"]
print(u["direct"]["flows"], u["up"]["flows"])'
}

# One GET from namespace $1; then which way it went: "direct" or "up".
policy_way() { # namespace
	local before after i
	before=$(policy_flows)
	in_ns "$1" curl -s -m 5 -o /dev/null "http://$SERVER4/small"
	for i in $(seq 20); do
		after=$(policy_flows)
		[ "$after" != "$before" ] && break
		sleep 0.1
	done
	if [ "${after% *}" != "${before% *}" ]; then echo direct; elif [ "$after" != "$before" ]; then echo up; else echo none; fi
}

test_route_policy() {
	local conns out
	[ -n "${NS_CLIENT2:-}" ] || policy_client2_up
	rig_rules_apply rules-policy "redirect = $REDIRECT_PORT
interfaces = r2"
	rig_open_direct_path
	# client 2 by its MAC goes direct; port 2222 goes direct for everyone,
	# SOCKS clients too
	rig_start_sockgated "socks5://$PROXY4:1080" "" "log_level = debug" "from $CLIENT2_MAC = direct
port 2222 = direct
[socks]
listen = $ROUTER4_LAN:1086
auth = none
allow = $CLIENT4/32"
	out=$(policy_way "$NS_CLIENT")
	check "rules: the first client's GET goes through the proxy ($out)" test "$out" = up
	out=$(policy_way "$NS_CLIENT2")
	check "rules: the second client, by its MAC, goes direct ($out)" test "$out" = direct
	check "... route test agrees, reading the MAC from the neighbour table" \
		expect_match "-> $SERVER4:80: upstream direct.*line [0-9]+: from $CLIENT2_MAC = direct" \
		in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" route test $CLIENT2_4 $SERVER4:80
	check "... and says the first client takes the default" \
		expect_match "upstream up.*by \\[route\\] default" \
		in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" route test $CLIENT4 $SERVER4:80
	# port 2222 (the server's banner, 2 s long): direct, from the first client too
	in_ns $NS_CLIENT socat -u "TCP:$SERVER4:2222" - >"$RIG_DIR/banner.out" 2>&1 &
	local banner=$!
	sleep 0.5
	conns=$("$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" conns)
	wait $banner
	check "rules: port 2222 goes direct while port 80 is proxied" \
		python3 -c 'import json,sys; a=json.loads(sys.argv[1])["conns"]; c=[x for x in a if x["destination"].endswith(":2222")]; assert c and all(x["upstream"] == "direct" for x in c), a' "$conns"
	check "... route test agrees" \
		expect_match "upstream direct.*port 2222 = direct" \
		in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" route test $CLIENT4 $SERVER4:2222
	in_ns $NS_CLIENT socat -u "SOCKS4A:$ROUTER4_LAN:$SERVER4:2222,socksport=1086" - >/dev/null 2>&1 &
	banner=$!
	sleep 0.5
	conns=$("$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" conns)
	wait $banner
	check "rules: a SOCKS client's request follows them too (port 2222: direct)" \
		python3 -c 'import json,sys; a=json.loads(sys.argv[1])["conns"]; c=[x for x in a if x["intake"] == "socks" and x["destination"].endswith(":2222")]; assert c and all(x["upstream"] == "direct" for x in c), a' "$conns"
	rig_stop_sockgated
	rig_close_direct_path
	rig_redirect_rule
}

# [intake] exclude_src and exclude_ports: what they name is left to the
# kernel (forwarded, never reaching sockgated).
test_intake_selectors() {
	local out before after
	[ -n "${NS_CLIENT2:-}" ] || policy_client2_up
	rig_rules_apply rules-sel "redirect = $REDIRECT_PORT
interfaces = r2
exclude_src = $CLIENT2_MAC
exclude_ports = 2222"
	check "exclude_src, exclude_ports: installed as sets" \
		bash -c "ip netns exec $NS_ROUTER nft list set inet sockgate exclude_mac | grep -q '$CLIENT2_MAC' && ip netns exec $NS_ROUTER nft list chain inet sockgate capture | grep -q 'th dport @exclude_ports return'"
	rig_open_direct_path
	# what the kernel forwards comes back to the clients the same way
	ip -n $NS_PROXY route add 10.77.1.0/24 via $ROUTER4
	ip -n $NS_PROXY route add 10.77.4.0/24 via $ROUTER4
	rig_start_sockgated "socks5://$PROXY4:1080"
	out=$(policy_way "$NS_CLIENT")
	check "exclude_src: another client is still intercepted ($out)" test "$out" = up
	out=$(policy_way "$NS_CLIENT2")
	check "exclude_src: the excluded client (by MAC) is forwarded by the kernel, never relayed ($out)" \
		test "$out" = none
	check "... and reaches the server all the same" \
		expect_match "^hello$" in_ns "$NS_CLIENT2" curl -s -m 5 "http://$SERVER4/small"
	before=$(policy_flows)
	out=$(in_ns $NS_CLIENT timeout 5 socat -u "TCP:$SERVER4:2222" - 2>&1 | head -n 1)
	after=$(policy_flows)
	check "exclude_ports: port 2222 is forwarded by the kernel ($out; flows $before -> $after)" \
		test "$out" = "SSH-2.0-sockgate-test" -a "$before" = "$after"
	rig_stop_sockgated
	ip -n $NS_PROXY route del 10.77.1.0/24 via $ROUTER4
	ip -n $NS_PROXY route del 10.77.4.0/24 via $ROUTER4
	rig_close_direct_path
	rig_redirect_rule
}

# A 100,000-line route file: --check takes it, and a flow to an address in
# the middle of it goes the way it says; a 10,000-line bypass file goes into
# the kernel in one apply, every range of it.
test_route_list_scale() {
	local list=$RIG_DIR/routes.list t0 t1 out n
	python3 -c '
import sys
out = sys.stdout
for i in range(100000):
    out.write("%d.%d.%d.0/24\n" % (100 + i // 65536, (i // 256) % 256, i % 256))
out.write("10.77.3.0/24\n")' >"$list"
	rig_open_direct_path
	t0=$(date +%s%N)
	rig_start_sockgated "socks5://$PROXY4:1080" "" "" "@$list = direct"
	t1=$(date +%s%N)
	check "a 100,001-line route file: sockgated starts ($(((t1 - t0) / 1000000)) ms to listening)" \
		test $(((t1 - t0) / 1000000)) -lt 5000
	out=$(policy_way "$NS_CLIENT")
	check "... a flow to an address the list names goes direct ($out)" test "$out" = direct
	check "... route test agrees" \
		expect_match "upstream direct.*longest matching" \
		in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" route test $CLIENT4 $SERVER4:80
	rig_stop_sockgated
	rig_close_direct_path
	python3 -c '
for i in range(10000):
    print("60.%d.%d.0/24" % (i // 128, (i % 128) * 2))' >"$RIG_DIR/bypass.list"
	rig_rules_apply rules-bypass "redirect = $REDIRECT_PORT
bypass = @$RIG_DIR/bypass.list"
	n=$(in_ns $NS_ROUTER nft -j list set inet sockgate bypass4 | python3 -c '
import json, sys
e = json.load(sys.stdin)["nftables"][1]["set"]["elem"]
print(sum(1 for x in e if isinstance(x, dict) and x.get("prefix", {}).get("addr", "").startswith("60.")))')
	check "a 10,000-line bypass file: rules apply installs every range of it ($n)" test "$n" -eq 10000
	rig_redirect_rule
}
