# shellcheck shell=bash
# sockgate rules: apply / --dry-run / flush against a real kernel, in a
# scratch network namespace of this run (the rig's own router keeps its
# rules). nft is used only to look at what was installed.

CLI_NS=${RIG_PREFIX}n
CLI_NS2=${RIG_PREFIX}m

# The ruleset as nft -j shows it, without handles, for comparisons.
nft_json() { # namespace
	in_ns "$1" nft -j list ruleset | python3 -c '
import json, sys
out = []
for o in json.load(sys.stdin)["nftables"]:
    for k, v in o.items():
        if k == "metainfo":
            continue
        if isinstance(v, dict):
            v = {a: b for a, b in v.items() if a != "handle"}
        out.append({k: v})
print(json.dumps(out, sort_keys=True))'
}

# Asserts the installed table's shape (python reads nft -j).
check_installed() { # namespace
	in_ns "$1" nft -j list table inet sockgate | python3 -c '
import json, sys
objs = json.load(sys.stdin)["nftables"]
chains = {o["chain"]["name"]: o["chain"] for o in objs if "chain" in o}
sets = {o["set"]["name"]: o["set"] for o in objs if "set" in o}
rules = [o["rule"] for o in objs if "rule" in o]
def fail(msg):
    print("       " + msg); sys.exit(1)
pre = chains.get("prerouting") or fail("no chain prerouting")
if (pre.get("type"), pre.get("hook"), pre.get("prio"), pre.get("policy")) != ("nat", "prerouting", -100, "accept"):
    fail("prerouting is not a nat/prerouting/dstnat/accept base chain: %r" % pre)
"capture" in chains or fail("no chain capture")
def elems(name):
    out = []
    for e in sets[name].get("elem", []):
        if isinstance(e, dict) and "prefix" in e:
            out.append("%s/%d" % (e["prefix"]["addr"], e["prefix"]["len"]))
        else:
            out.append(str(e))
    return out
elems("intercept_ifaces") == ["br-lan"] or fail("intercept_ifaces: %r" % elems("intercept_ifaces"))
elems("intercept4") == ["192.168.7.0/24"] or fail("intercept4: %r" % elems("intercept4"))
elems("intercept6") == ["fd00:7::/64"] or fail("intercept6: %r" % elems("intercept6"))
b4 = elems("bypass4")
for want in ("45.33.0.9", "127.0.0.0/8", "10.0.0.0/8", "192.168.0.0/16"):
    want in b4 or fail("bypass4 lacks %s: %r" % (want, b4))
b6 = elems("bypass6")
for want in ("2a01:4f8::9", "fe80::/10", "fc00::/7"):
    want in b6 or fail("bypass6 lacks %s: %r" % (want, b6))
text = json.dumps([r for r in rules if r["chain"] == "capture"])
"\"redirect\": {\"port\": 12345}" in text or fail("no redirect to 12345 in capture: " + text)
len([r for r in rules if r["chain"] == "prerouting"]) == 3 or fail("prerouting should have 3 rules")
'
}

test_cli_rules() {
	local conf=$RIG_DIR/cli.conf bad=$RIG_DIR/cli-bad.conf before out rc
	ip netns add "$CLI_NS"
	ip netns add "$CLI_NS2"
	RIG_EXTRA_NS+=("$CLI_NS" "$CLI_NS2")
	cat >"$conf" <<-CONF
	[intake]
	redirect = 12345
	interfaces = br-lan, 192.168.7.0/24, fd00:7::/64
	bypass = 203.0.113.7, 2a01:4f8::9
	[upstream corp]
	url = socks5://45.33.0.9:1080
	[route]
	default = corp
	CONF

	check "sockgate: no command -> usage, exit 2" bash -c "'$SOCKGATE' >/dev/null 2>&1; test \$? -eq 2"
	check "sockgate: unknown command -> exit 2" bash -c "'$SOCKGATE' frobnicate >/dev/null 2>&1; test \$? -eq 2"
	check "sockgate rules (no action) -> exit 2" bash -c "'$SOCKGATE' rules >/dev/null 2>&1; test \$? -eq 2"
	check "sockgate rules apply --bogus -> exit 2" bash -c "'$SOCKGATE' -c '$conf' rules apply --bogus >/dev/null 2>&1; test \$? -eq 2"
	check "sockgate help rules -> usage on stdout, exit 0" bash -c "'$SOCKGATE' help rules | grep -q 'rules apply'"

	out=$(in_ns "$CLI_NS" "$SOCKGATE" -c "$conf" rules apply --dry-run)
	rc=$?
	check "rules apply --dry-run prints the table (exit 0)" bash -c "test $rc -eq 0 && grep -q 'redirect to :12345' <<<'$out'"
	check "... and installs nothing" test -z "$(in_ns "$CLI_NS" nft list tables)"

	in_ns "$CLI_NS" nft add table inet other
	in_ns "$CLI_NS" nft add chain inet other c '{ type filter hook input priority 0; policy accept; }'
	check "rules apply: exit 0" bash -c "ip netns exec $CLI_NS '$SOCKGATE' -c '$conf' rules apply >/dev/null"
	check "... chains, sets, elements and the redirect are as configured (nft -j)" check_installed "$CLI_NS"
	printf '%s\n' "$out" >"$RIG_DIR/dry.nft"
	in_ns "$CLI_NS2" nft add table inet other
	in_ns "$CLI_NS2" nft add chain inet other c '{ type filter hook input priority 0; policy accept; }'
	in_ns "$CLI_NS2" nft -f "$RIG_DIR/dry.nft"
	check "... the --dry-run text loads (nft -f) into exactly the same ruleset" \
		test "$(nft_json "$CLI_NS")" = "$(nft_json "$CLI_NS2")"
	before=$(nft_json "$CLI_NS")
	in_ns "$CLI_NS" "$SOCKGATE" -c "$conf" rules apply >/dev/null
	check "rules apply twice leaves the same ruleset" test "$(nft_json "$CLI_NS")" = "$before"
	check "... and the foreign table is untouched" bash -c "ip netns exec $CLI_NS nft list chain inet other c >/dev/null"

	sed 's/^interfaces = br-lan/interfaces = this-name-is-too-long/' "$conf" >"$bad"
	check "a failing apply (interface name over IFNAMSIZ) exits 1 and says why" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' -c '$bad' rules apply 2>&1 | grep -q 'neither an interface name'"
	check "... the previous ruleset stays in place" test "$(nft_json "$CLI_NS")" = "$before"
	sed 's|^url = .*|url = socks5://no-such-host.invalid:1080|' "$conf" >"$bad"
	# a router that boots before its WAN: the upstream is down until its
	# name resolves, the rules go in all the same
	check "an upstream name that does not resolve yet: apply succeeds and warns" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' -c '$bad' rules apply 2>&1 >/dev/null | grep -q 'warning: upstream .*cannot resolve \"no-such-host.invalid\"'"
	check "... an upstream given by name is no bypass entry (its address moves)" \
		bash -c "! ip netns exec $CLI_NS nft list set inet sockgate bypass4 | grep -q 45.33.0.9"
	in_ns "$CLI_NS" "$SOCKGATE" -c "$conf" rules apply >/dev/null
	check "... the first config again: exactly the first ruleset" \
		test "$(nft_json "$CLI_NS")" = "$before"
	printf '[route]\ndefault = direct\n' >"$bad"
	check "--dry-run with nothing to intercept is refused, and says so" \
		bash -c "! ip netns exec $CLI_NS '$SOCKGATE' -c '$bad' rules apply --dry-run >/dev/null 2>&1 && ip netns exec $CLI_NS '$SOCKGATE' -c '$bad' rules apply --dry-run 2>&1 | grep -q 'nothing to intercept'"

	check "rules show: the installed sets, read back" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' rules show | grep -qx '45.33.0.9'"
	check "rules show --json: valid JSON with the interfaces" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' --json rules show | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"installed\"] and d[\"interfaces\"] == [\"br-lan\"], d'"
	check "bypass add: the address is in the live set" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' bypass add 8.8.8.8 >/dev/null && ip netns exec $CLI_NS '$SOCKGATE' bypass list | grep -qx 8.8.8.8"
	check "bypass add of an IPv6 prefix lands in bypass6" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' bypass add 2a02:1::/32 >/dev/null && ip netns exec $CLI_NS nft list set inet sockgate bypass6 | grep -q 2a02:1::/32"
	check "bypass del: gone again" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' bypass del 8.8.8.8 >/dev/null && ip netns exec $CLI_NS '$SOCKGATE' bypass del 2a02:1::/32 >/dev/null && ! ip netns exec $CLI_NS '$SOCKGATE' bypass list | grep -q 8.8.8.8"
	check "bypass del of something not bypassed: exit 1" \
		bash -c "! ip netns exec $CLI_NS '$SOCKGATE' bypass del 8.8.4.4 2>/dev/null"
	check "bypass add of a non-address: exit 2" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' bypass add nonsense >/dev/null 2>&1; test \$? -eq 2"
	in_ns "$CLI_NS" "$SOCKGATE" intercept add eth9 >/dev/null
	in_ns "$CLI_NS" "$SOCKGATE" intercept add 172.20.0.0/16 >/dev/null
	check "intercept add IFACE and CIDR change the live sets" expect_out \
		'{"interfaces": ["br-lan", "eth9"], "sources": ["172.20.0.0/16", "192.168.7.0/24", "fd00:7::/64"]}' \
		in_ns "$CLI_NS" "$SOCKGATE" --json intercept list
	in_ns "$CLI_NS" "$SOCKGATE" intercept del eth9 >/dev/null
	in_ns "$CLI_NS" "$SOCKGATE" intercept del 172.20.0.0/16 >/dev/null
	check "intercept del of an interface not intercepted: exit 1" \
		bash -c "! ip netns exec $CLI_NS '$SOCKGATE' intercept del eth9 2>/dev/null"
	check "... and back to exactly what apply installed" test "$(nft_json "$CLI_NS")" = "$before"
	# TPROXY mode: the mangle chain, the tproxy rules, and policy routing
	ip -n "$CLI_NS" link set lo up
	printf '[intake]\ntproxy = 12346\ninterfaces = br-lan\n[route]\ndefault = direct\n' >"$RIG_DIR/cli-tp.conf"
	check "rules apply in TPROXY mode: exit 0" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' -c '$RIG_DIR/cli-tp.conf' rules apply >/dev/null"
	check "... a filter chain at mangle priority with socket and tproxy rules" \
		bash -c "ip netns exec $CLI_NS nft list table inet sockgate | grep -q 'type filter hook prerouting priority mangle' && ip netns exec $CLI_NS nft list chain inet sockgate capture | grep -q 'socket transparent 1 meta mark set 0x000002a1 accept' && ip netns exec $CLI_NS nft list chain inet sockgate capture | grep -q 'tproxy to :12346 meta mark set 0x000002a1 accept'"
	check "... fwmark rules for IPv4 and IPv6" \
		bash -c "ip -n $CLI_NS rule | grep -q 'fwmark 0x2a1 lookup 673' && ip -n $CLI_NS -6 rule | grep -q 'fwmark 0x2a1 lookup 673'"
	check "... local default routes in table 673 for both families" \
		bash -c "ip -n $CLI_NS route show table 673 | grep -q '^local default dev lo' && ip -n $CLI_NS -6 route show table 673 | grep -q '^local default dev lo'"
	in_ns "$CLI_NS" "$SOCKGATE" -c "$RIG_DIR/cli-tp.conf" rules apply >/dev/null
	check "... applied twice: still one rule per family" \
		bash -c "test \$(ip -n $CLI_NS rule | grep -c fwmark) -eq 1 && test \$(ip -n $CLI_NS -6 rule | grep -c fwmark) -eq 1"
	ip -n "$CLI_NS" link set lo down
	printf '[intake]\ntproxy = 12346\ntproxy_mark = 0x77\ntproxy_table = 700\ninterfaces = br-lan\n[route]\ndefault = direct\n' >"$RIG_DIR/cli-tp2.conf"
	check "a TPROXY apply that fails half way (IPv6 route with lo down) exits 1..." \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' -c '$RIG_DIR/cli-tp2.conf' rules apply >/dev/null 2>&1; test \$? -eq 1"
	check "... and leaves the previous policy routing as it was" \
		bash -c "ip -n $CLI_NS rule | grep -q 'fwmark 0x2a1 lookup 673' && ! ip -n $CLI_NS rule | grep -q 0x77"
	ip -n "$CLI_NS" link set lo up
	check "rules flush: exit 0, --json says it was installed" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' --json rules flush | grep -q '\"was_installed\": true'"
	check "... no sockgate table is left" bash -c "! ip netns exec $CLI_NS nft list table inet sockgate 2>/dev/null"
	check "... no ip rule, no route of sockgate's is left (both families, all tables)" \
		bash -c "! ip -n $CLI_NS rule | grep -q fwmark && ! ip -n $CLI_NS -6 rule | grep -q fwmark && ! ip -n $CLI_NS route show table all | grep -q 'proto 167' && ! ip -n $CLI_NS -6 route show table all | grep -q 'proto 167'"
	check "... the foreign table is still there" bash -c "ip netns exec $CLI_NS nft list chain inet other c >/dev/null"
	check "rules flush again: nothing to remove, exit 0" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' rules flush | grep -q 'was not installed'"
	in_ns "$CLI_NS" "$SOCKGATE" -c "$RIG_DIR/cli-tp.conf" rules apply >/dev/null
	check "apply of a config that intercepts nothing (as shipped): exit 0, says so, removes what was there" \
		bash -c "ip netns exec $CLI_NS '$SOCKGATE' -c packaging/sockgate.conf rules apply | grep -q 'nothing to intercept.*no rules installed; the previous ones removed' && ! ip netns exec $CLI_NS nft list table inet sockgate 2>/dev/null && ! ip -n $CLI_NS rule | grep -q fwmark"
	ip netns del "$CLI_NS"
	ip netns del "$CLI_NS2"
}

# End to end on the rig's router: with no sockgated running, intercepted
# traffic is refused; `bypass add` of the server lets the next flow go
# straight through the router (a route the test adds), `bypass del` ends it.
test_cli_bypass_live() {
	rig_open_direct_path
	ip -n $NS_PROXY route add 10.77.1.0/24 via $ROUTER4
	check "without sockgated, an intercepted flow is refused" \
		bash -c "! ip netns exec $NS_CLIENT curl -s -m 3 http://$SERVER4/small >/dev/null"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" bypass add $SERVER4 >/dev/null
	check "sockgate bypass add SERVER: the next flow goes direct" \
		expect_out hello in_ns $NS_CLIENT curl -s -m 3 "http://$SERVER4/small"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" bypass del $SERVER4 >/dev/null
	check "sockgate bypass del SERVER: intercepted (and refused) again" \
		bash -c "! ip netns exec $NS_CLIENT curl -s -m 3 http://$SERVER4/small >/dev/null"
	ip -n $NS_PROXY route del 10.77.1.0/24 via $ROUTER4
	rig_close_direct_path
}

# TPROXY end to end: the rig's router switched to TPROXY rules (policy
# routing included), sockgated with a tproxy listener only.
test_tproxy_mode() {
	rig_rules_conf rules-tproxy "tproxy = 12346"
	check "TPROXY: sockgate rules apply switches the router to TPROXY" \
		bash -c "ip netns exec $NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/rules-tproxy.conf' rules apply >/dev/null"
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1080"
	check "TPROXY: sockgated listens on the tproxy port only" \
		bash -c "test -z \"\$(ip netns exec $NS_ROUTER ss -Hltn 'sport = :$REDIRECT_PORT')\""
	check "TPROXY: 10 MB over IPv4 through dante, sha256 matches" expect_file $SERVER4
	check "TPROXY: 10 MB over IPv6 through dante, sha256 matches" expect_file $SERVER6
	check "TPROXY: 100 parallel requests" expect_parallel $SERVER4 100
	check "TPROXY: closed target port -> client reset" expect_reset "$(url_of $SERVER4 /small 81)"
	rig_stop_sockgated
	check "TPROXY: without sockgated, intercepted flows fail" \
		bash -c "! ip netns exec $NS_CLIENT curl -s -m 3 http://$SERVER4/small >/dev/null"
	check "back to REDIRECT: rules apply removes the TPROXY policy routing" \
		bash -c "ip netns exec $NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/rules.conf' rules apply >/dev/null && ! ip -n $NS_ROUTER rule | grep -q fwmark && ! ip -n $NS_ROUTER -6 rule | grep -q fwmark"
}

# The control socket: status, conns (a live iperf3 flow whose byte count
# grows), stats, and their JSON forms.
# A peer that may connect (group root here, group sockgate on a real
# system) but is not root gets no listening socket.
control_listeners_refused_to_non_root() {
	local answer mode
	mode=$(stat -c %a "$RIG_DIR")
	chmod 0710 "$RIG_DIR"
	answer=$(echo tproxy-listeners | setpriv --reuid=65534 --regid=0 --clear-groups \
		socat - "UNIX-CONNECT:$RIG_DIR/ctl.sock" 2>&1)
	chmod "$mode" "$RIG_DIR"
	[ "$answer" = "error: only root may take the listeners" ] || {
		echo "answer: $answer" >&2
		return 1
	}
}

test_control_socket() {
	local ctl="$SOCKGATE -c $RIG_DIR/sockgate.conf" first second
	rig_spawn $NS_SERVER IPERF_PID "$RIG_DIR/iperf3.log" iperf3 -s -p 5201
	rig_wait_port $NS_SERVER 5201
	rig_start_sockgated "socks5://$PROXY4:1080"
	check "the control socket is mode 0660, owned by root" \
		bash -c "test \"\$(stat -c '%a %u' '$RIG_DIR/ctl.sock')\" = '660 0'"
	check "the control socket hands listeners to root only (uid 65534 in group root is refused)" \
		control_listeners_refused_to_non_root
	check "sockgate status: version and intake" \
		bash -c "$ctl status | grep -q '^sockgated $(cat VERSION), up' && $ctl status | grep -q 'intake: redirect port $REDIRECT_PORT'"
	check "sockgate --json status: the daemon's state and the rules' (installed)" \
		bash -c "ip netns exec $NS_ROUTER $ctl --json status | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"daemon\"][\"workers\"] == 2 and d[\"daemon\"][\"redirect_port\"] == $REDIRECT_PORT and d[\"rules_installed\"] is True, d'"
	in_ns $NS_CLIENT iperf3 -c $SERVER4 -t 4 >/dev/null 2>&1 &
	local iperf=$!
	sleep 1.5
	first=$($ctl --json conns)
	sleep 1
	second=$($ctl --json conns)
	wait $iperf
	check "sockgate conns: the live iperf3 flow, its bytes growing" python3 -c '
import json, sys
def data_flow(text):
    flows = [c for c in json.loads(text)["conns"] if c["destination"].endswith(":5201") and c["state"] == "relay"]
    return max(flows, key=lambda c: c["bytes_up"]) if flows else None
a, b = data_flow(sys.argv[1]), data_flow(sys.argv[2])
assert a and b and a["id"] == b["id"], (a, b)
assert b["bytes_up"] > a["bytes_up"] > 1000000, (a, b)
assert a["upstream"] == "up" and a["intake"] == "redirect" and a["client"].startswith("'$CLIENT4':"), a
' "$first" "$second"
	in_ns $NS_CLIENT curl -s -m 3 -o /dev/null "http://$SERVER4:81/" 2>/dev/null
	check "sockgate stats: bytes and failures per upstream" \
		bash -c "$ctl --json stats | python3 -c 'import json,sys; d=json.load(sys.stdin); u=d[\"upstreams\"][\"up\"]; assert u[\"bytes_up\"] > 1000000 and u[\"failures\"] >= 1 and d[\"failures\"][\"refused\"] >= 1, d'"
	check "sockgate status without a daemon: exit 1, says so" \
		bash -c "$SOCKGATE -c /nonexistent status 2>&1 | grep -q 'is sockgated running'"
	rig_stop_sockgated
	rig_stop "$IPERF_PID"
	check "the control socket is removed when sockgated stops" test ! -e "$RIG_DIR/ctl.sock"
}

# Reload: 100 downloads in flight while the config changes under them, none
# dropped; new flows take the new route; a broken config is refused with
# the old one still serving.
test_reload() {
	local ctl="$SOCKGATE -c $RIG_DIR/sockgate.conf" conf=$RIG_DIR/sockgate.conf want pids=() i ok=0
	rig_start_sockgated "socks5://$PROXY4:1080"
	want=$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)
	for i in $(seq 100); do
		in_ns $NS_CLIENT curl -s -m 60 --limit-rate 2M "http://$SERVER4/file10m?$i" 2>/dev/null |
			sha256sum | cut -d' ' -f1 >"$RIG_DIR/reload.$i" &
		pids+=($!)
	done
	sleep 1.5
	# a second upstream becomes the default for new flows
	cat >>"$conf" <<-CONF
	[upstream alt]
	url = socks5://$PROXY4:1081
	pipeline = no
	CONF
	sed -i 's/^default = up$/default = alt/' "$conf"
	check "sockgate reload: accepted while 100 transfers run" \
		bash -c "$ctl reload | grep -q 'reloaded: 2 upstream(s)'"
	check "... the live flows are still there, on their old upstream" \
		bash -c "$ctl --json conns | python3 -c 'import json,sys; c=[x for x in json.load(sys.stdin)[\"conns\"] if x[\"state\"] == \"relay\"]; assert len(c) >= 50 and all(x[\"upstream\"] == \"up\" for x in c), len(c)'"
	check "... a new flow takes the new default upstream" \
		bash -c "ip netns exec $NS_CLIENT curl -s -m 5 http://$SERVER4/small >/dev/null && for i in \$(seq 20); do $ctl --json stats | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"upstreams\"][\"alt\"][\"flows\"] >= 1' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
	for i in "${pids[@]}"; do wait "$i"; done
	for i in $(seq 100); do [ "$(cat "$RIG_DIR/reload.$i")" = "$want" ] && ok=$((ok + 1)); done
	check "... all 100 transfers completed intact across the reload (sha256: $ok of 100)" test "$ok" -eq 100
	cp "$conf" "$RIG_DIR/good.conf"
	echo "this is not ini" >>"$conf"
	check "sockgate reload of a broken config: exit 1, with the error and its line" \
		bash -c "$ctl reload 2>&1 | grep -q 'syntax error'; test \${PIPESTATUS[0]} -eq 1"
	check "... and the old config still serves" expect_out hello in_ns $NS_CLIENT curl -s -m 5 "http://$SERVER4/small"
	cp "$RIG_DIR/good.conf" "$conf"
	sed -i 's/^workers = 2$/workers = 3/' "$conf"
	check "a change that needs a restart (workers) is refused and said so" \
		bash -c "! $ctl reload 2>&1 | grep -q reloaded && $ctl reload 2>&1 | grep -q 'workers changed, which needs a restart'"
	cp "$RIG_DIR/good.conf" "$conf"
	sed -i 's/^default = alt$/default = up/' "$conf"
	kill -HUP "$SOCKGATED_PID"
	check "SIGHUP reloads too" expect_log "reloaded: 2 upstream(s), 0 route(s), default up"
	# a new intake port: the old listener closes, the new one opens, no restart
	sed -i "s/^redirect = $REDIRECT_PORT\$/redirect = 12347/" "$conf"
	check "reload with a new redirect port: accepted" bash -c "$ctl reload | grep -q reloaded"
	check "... the new port listens, the old one is closed" \
		bash -c "sleep 0.3; test -n \"\$(ip netns exec $NS_ROUTER ss -Hltn 'sport = :12347')\" && test -z \"\$(ip netns exec $NS_ROUTER ss -Hltn 'sport = :$REDIRECT_PORT')\""
	sed "s/^redirect = .*/redirect = 12347/" "$RIG_DIR/rules.conf" >"$RIG_DIR/rules-12347.conf"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules-12347.conf" rules apply >/dev/null
	check "... and with the rules moved there too, flows go through it" \
		expect_out hello in_ns $NS_CLIENT curl -s -m 5 "http://$SERVER4/small"
	rig_spawn $NS_ROUTER BUSY_PID "$RIG_DIR/busy.log" socat TCP-LISTEN:12348,reuseaddr OPEN:/dev/null
	rig_wait_port $NS_ROUTER 12348
	sed -i "s/^redirect = 12347\$/redirect = 12348/" "$conf"
	check "reload onto a port another program holds: refused, nothing changed" \
		bash -c "$ctl reload 2>&1 | grep -q 'cannot listen on redirect port 12348' && test -n \"\$(ip netns exec $NS_ROUTER ss -Hltn 'sport = :12347')\""
	rig_stop "$BUSY_PID"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" rules apply >/dev/null
	rig_stop_sockgated
}

# [intake] local = yes: the router's own outgoing TCP goes through
# sockgated too, while sockgated's own (marked) connections do not loop.
test_local_traffic() {
	# a route toward the server that ends at the proxy, which does not forward
	ip -n $NS_ROUTER route add 10.77.3.0/24 via $PROXY4
	rig_start_sockgated "socks5://$PROXY4:1080"
	check "without local = yes, the router's own connection is not intercepted" \
		bash -c "! ip netns exec $NS_ROUTER curl -s -m 3 http://$SERVER4/small >/dev/null"
	sed 's/^bypass_private = no$/bypass_private = no\nlocal = yes/' "$RIG_DIR/rules.conf" >"$RIG_DIR/rules-local.conf"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules-local.conf" rules apply >/dev/null
	check "local = yes: the router's own curl reaches the server through sockgated and dante" \
		expect_out hello in_ns $NS_ROUTER curl -s -m 5 "http://$SERVER4/small"
	check "... an output chain skips sockgated's marked sockets" \
		bash -c "ip netns exec $NS_ROUTER nft list chain inet sockgate output | grep -q 'meta mark 0x000002a0 return'"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" rules apply >/dev/null
	check "... and applying without local removes it" \
		bash -c "! ip netns exec $NS_ROUTER nft list chain inet sockgate output 2>/dev/null"
	rig_stop_sockgated
	# TPROXY: marked on the way out, routed back in through lo, taken there
	sed 's/^redirect = .*/tproxy = 12346/' "$RIG_DIR/rules-local.conf" >"$RIG_DIR/rules-tproxy-local.conf"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules-tproxy-local.conf" rules apply >/dev/null
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 rig_start_sockgated "socks5://$PROXY4:1080"
	check "local = yes with TPROXY: the router's own curl reaches the server through sockgated" \
		expect_out hello in_ns $NS_ROUTER curl -s -m 5 "http://$SERVER4/small"
	check "... 10 MB intact (sha256) from the router itself" \
		expect_out "$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)" \
		bash -c "ip netns exec $NS_ROUTER curl -s -m 20 http://$SERVER4/file10m | sha256sum | cut -d' ' -f1"
	rig_stop_sockgated
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" rules apply >/dev/null
	ip -n $NS_ROUTER route del 10.77.3.0/24 via $PROXY4
}

# conns --json names a SOCKS target by name while its handshake with an
# upstream that never answers is under way; a name with '"' or '\' (which
# could break a JSON answer or an upstream's CONNECT line) is refused.
test_conns_json_names() {
	local ctl="$SOCKGATE -c $RIG_DIR/sockgate.conf" name='we-ird_name.test' client
	rig_spawn $NS_PROXY MUTE_PID "$RIG_DIR/mute.log" socat TCP-LISTEN:1099,reuseaddr,fork SYSTEM:'sleep 5'
	rig_wait_port $NS_PROXY 1099
	rig_start_sockgated "socks5h://$PROXY4:1099" "" "" "[socks]
listen = $ROUTER4_LAN:1080
auth = none
allow = 10.77.1.0/24" && rig_wait_port $NS_ROUTER 1080
	check "a target name with quote and backslash is refused (REP 1)" \
		expect_out "REP 1" in_ns $NS_CLIENT python3 tests/integration/socks_client.py $ROUTER4_LAN 1080 connect 'we"ird\name.test' 80
	in_ns $NS_CLIENT python3 tests/integration/socks_client.py $ROUTER4_LAN 1080 connect "$name" 80 >/dev/null 2>&1 &
	client=$!
	sleep 0.7
	check "conns --json names a SOCKS target by name during its handshake" \
		bash -c "$ctl --json conns | python3 -c 'import json,sys; c=json.load(sys.stdin)[\"conns\"]; assert any(x[\"destination\"] == sys.argv[1] + \":80\" and x[\"intake\"] == \"socks\" for x in c), c' '$name'"
	wait $client
	rig_stop_sockgated
	rig_stop "$MUTE_PID"
}
