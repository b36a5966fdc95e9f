#!/bin/bash
# make demo: a throwaway LAN in network namespaces where a client's plain
# curl reaches a web server only through sockgated and a real SOCKS5 proxy
# (then two, as a group that fails over).
set -u
cd "$(dirname "$0")/.."
# shellcheck source=lib/rig.sh
source tests/lib/rig.sh

rig_require_root demo

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# Runs curl in the client; indents its output; returns curl's status.
client_curl() {
	local out rc
	out=$(in_ns $NS_CLIENT curl -sS "$@" 2>&1)
	rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/   /'
	return $rc
}
show() { printf '   $ %s\n' "$*"; }

rig_up
RIG_ACCESS_LOG="$RIG_DIR/nginx/access.log peer"
rig_start_web
# the proxy host knows web.demo (for fake-IP, where the proxy resolves names)
mkdir -p "/etc/netns/$NS_PROXY"
printf '%s\n' "127.0.0.1 localhost" "$SERVER4 web.demo" >"/etc/netns/$NS_PROXY/hosts"
rig_start_dante
rig_redirect_rule
# a resolver beyond the proxy, on the server host: the only one that knows
# web.demo, and one the router cannot reach but through the proxy
rig_spawn $NS_SERVER RESOLVER_PID "$RIG_DIR/resolver.log" dnsmasq -k -C /dev/null -u root \
	--no-resolv --no-hosts --bind-interfaces --listen-address=$SERVER4 --port=5300 \
	--pid-file="$RIG_DIR/resolver.pid" --address=/web.demo/$SERVER4

cat <<TXT

sockgate demo — four hosts, each a network namespace made for this run:

  client $CLIENT4 ── router $ROUTER4_LAN/$ROUTER4 (sockgated) ── proxy $PROXY4 (dante SOCKS5) ── server $SERVER4 (nginx, dnsmasq)

The router has no route to the server; its only way there is the SOCKS5 proxy.
The client is not configured for any proxy: it just runs curl.
On the router, \`sockgate rules apply\` installed table inet sockgate in one netlink
batch; TCP arriving on the LAN link r0 is redirected to sockgated:
TXT
in_ns $NS_ROUTER nft list chain inet sockgate prerouting | sed 's/^/   /'
in_ns $NS_ROUTER nft list chain inet sockgate capture | sed 's/^/   /'

result=0
say "1. Without sockgated: the client's curl fails"
show "curl http://$SERVER4/small"
if client_curl -m 3 "http://$SERVER4/small"; then
	echo "   unexpected: reached the server without sockgated"
	result=1
fi

say "2. With sockgated relaying through socks5://$PROXY4:1080"
cat >"$RIG_DIR/demo.conf" <<CONF
[daemon]
workers = 2
control = $RIG_DIR/ctl.sock
; the demo's files are in a root-only temporary directory: stay root
user = root

[intake]
redirect = $REDIRECT_PORT
interfaces = r0
; the demo's addresses are private ranges, bypassed by default
bypass_private = no

[upstream dante]
url = socks5://$PROXY4:1080

[route]
default = dante

; DNS for the LAN, asked of the resolver beyond the proxy (through dante's
; UDP ASSOCIATE), cached; hijack: rules apply sends any port-53 query here
[dns]
listen = $ROUTER4_LAN:53
server = $SERVER4:5300
allow = $CLIENT4/32
hijack = yes
CONF
sed 's/^/   /' "$RIG_DIR/demo.conf"
rig_spawn $NS_ROUTER SOCKGATED_PID "$RIG_DIR/sockgated.log" "$SOCKGATED" -f -c "$RIG_DIR/demo.conf"
rig_wait_port $NS_ROUTER $REDIRECT_PORT

show "curl http://$SERVER4/small"
client_curl -m 5 "http://$SERVER4/small" || result=1
want=$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)
for url in "http://$SERVER4/file10m" "http://[$SERVER6]/file10m"; do
	show "curl -o file $url   (10 MB, sha256 compared with the server's copy)"
	got=$(in_ns $NS_CLIENT curl -sS -m 20 "$url" | sha256sum | cut -d' ' -f1)
	if [ "$got" = "$want" ]; then
		echo "   sha256 $got  identical"
	else
		echo "   sha256 MISMATCH: $got"
		result=1
	fi
done

say "3. DNS through the proxy: names only the far side knows"
show "dig +short @$ROUTER4_LAN web.demo"
got=$(in_ns $NS_CLIENT dig +short +time=3 +tries=1 @$ROUTER4_LAN web.demo)
echo "   $got"
[ "$got" = "$SERVER4" ] || { echo "   unexpected answer"; result=1; }
# ip netns exec binds /etc/netns/NAME over /etc: the client's resolver is the router
mkdir -p "/etc/netns/$NS_CLIENT"
echo "nameserver $ROUTER4_LAN" >"/etc/netns/$NS_CLIENT/resolv.conf"
show "curl http://web.demo/small   (the client's resolv.conf names the router)"
client_curl -m 5 "http://web.demo/small" || result=1
rm -rf "/etc/netns/$NS_CLIENT"
show "sockgate -c demo.conf rules apply   ([dns] hijack = yes: a NAT chain for port 53)"
in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/demo.conf" rules apply | sed 's/^/   /'
in_ns $NS_ROUTER nft list chain inet sockgate dns_hijack | sed 's/^/   /'
show "dig +short @203.0.113.53 web.demo   (a device with a hard-coded resolver; nothing is there)"
got=$(in_ns $NS_CLIENT dig +short +time=3 +tries=1 @203.0.113.53 web.demo)
echo "   $got"
[ "$got" = "$SERVER4" ] || { echo "   unexpected answer"; result=1; }
show "sockgate stats   (the DNS service's lines)"
"$SOCKGATE" -c "$RIG_DIR/demo.conf" stats | grep '^ *dns' | sed 's/^/   /'

say "4. Names for intercepted flows: [dns] mode = fakeip (sockgated restarted with it)"
rig_stop "$SOCKGATED_PID"
sed -i 's/^hijack = yes$/hijack = yes\nmode = fakeip/' "$RIG_DIR/demo.conf"
rig_spawn $NS_ROUTER SOCKGATED_PID "$RIG_DIR/sockgated.log" "$SOCKGATED" -f -c "$RIG_DIR/demo.conf"
rig_wait_port $NS_ROUTER $REDIRECT_PORT
show "dig +short @$ROUTER4_LAN web.demo   (an address from the fake-IP pool)"
got=$(in_ns $NS_CLIENT dig +short +time=3 +tries=1 @$ROUTER4_LAN web.demo)
echo "   $got"
case $got in 198.18.*|198.19.*) ;; *) echo "   unexpected answer"; result=1 ;; esac
show "curl http://$got/small   (the flow to it goes to dante by name: web.demo:80)"
client_curl -m 5 "http://$got/small" || result=1

say "5. An upstream dies: a group of two dantes fails over"
rig_stop "$SOCKGATED_PID"
mkdir -p "$RIG_DIR/dante-b"
rig_dante_conf "$RIG_DIR/dante-b" 1084 none
rig_spawn $NS_PROXY DANTE_B_PID "$RIG_DIR/dante-b/danted.out" danted -f "$RIG_DIR/dante-b/danted.conf" -p "$RIG_DIR/dante-b/danted.pid"
rig_wait_port $NS_PROXY 1084
sed -i 's/^default = dante$/default = out/' "$RIG_DIR/demo.conf"
cat >>"$RIG_DIR/demo.conf" <<CONF

[upstream dante-b]
url = socks5://$PROXY4:1084
[group out]
members = dante, dante-b
policy = failover
check_interval = 1s
CONF
sed -n '/^\[upstream dante-b\]/,$p' "$RIG_DIR/demo.conf" | sed 's/^/   /'
echo "   ([route] default = out)"
rig_spawn $NS_ROUTER SOCKGATED_PID "$RIG_DIR/sockgated.log" "$SOCKGATED" -f -c "$RIG_DIR/demo.conf"
rig_wait_port $NS_ROUTER $REDIRECT_PORT
sleep 1.2
show "100 curls one after the other; the first dante killed (SIGKILL) during them"
in_ns $NS_CLIENT bash -c "for i in \$(seq 100); do curl -s -m 5 -o /dev/null -w '%{http_code}\n' http://$SERVER4/small; done" >"$RIG_DIR/failover.codes" &
loop=$!
sleep 0.3
{ rig_kill_dante DANTE_PID "$RIG_DIR/danted.conf"; } 2>/dev/null # no "Killed" notice
wait $loop 2>/dev/null
ok=$(grep -c '^200$' "$RIG_DIR/failover.codes")
echo "   $ok of 100 answered"
[ "$ok" -ge 99 ] || result=1
sleep 2.5 # the checks (every second) find it down
show "sockgate status   (the upstreams and the group)"
"$SOCKGATE" -c "$RIG_DIR/demo.conf" status | sed -n '/^upstreams:/,/^rules:/p' | grep -v '^rules:' | sed 's/^/   /'
grep 'trying dante-b\|is down' "$RIG_DIR/sockgated.log" | head -3 | sed 's/^/   log: /'

say "6. The router as an explicit proxy: HTTP on the SOCKS port, and a PAC file for browsers"
rig_stop "$SOCKGATED_PID"
cat >>"$RIG_DIR/demo.conf" <<CONF

[socks]
listen = $ROUTER4_LAN:1080
auth = none
allow = 10.77.1.0/24
[pac]
listen = $ROUTER4_LAN:8080
CONF
sed -n '/^\[socks\]/,$p' "$RIG_DIR/demo.conf" | sed 's/^/   /'
rig_spawn $NS_ROUTER SOCKGATED_PID "$RIG_DIR/sockgated.log" "$SOCKGATED" -f -c "$RIG_DIR/demo.conf"
rig_wait_port $NS_ROUTER 1080 && rig_wait_port $NS_ROUTER 8080
show "curl -x http://$ROUTER4_LAN:1080 http://$SERVER4/small   (a plain request, forwarded)"
client_curl -m 5 -x "http://$ROUTER4_LAN:1080" "http://$SERVER4/small" || result=1
show "curl -p -x http://$ROUTER4_LAN:1080 http://$SERVER4/small   (through a CONNECT tunnel)"
client_curl -m 5 -p -x "http://$ROUTER4_LAN:1080" "http://$SERVER4/small" || result=1
show "curl -x http://$ROUTER4_LAN:1080 http://$ROUTER4_LAN:22/   (the router itself: refused)"
client_curl -m 5 -x "http://$ROUTER4_LAN:1080" "http://$ROUTER4_LAN:22/"
show "curl http://$ROUTER4_LAN:8080/wpad.dat   (what a browser's WPAD fetches)"
in_ns $NS_CLIENT curl -sS -m 5 -o "$RIG_DIR/wpad.dat" "http://$ROUTER4_LAN:8080/wpad.dat" || result=1
grep -m1 '^var sgProxy' "$RIG_DIR/wpad.dat" | sed 's/^/   /'
show "what the file decides for three URLs (run by node as a browser would)"
node tests/integration/pac_eval.js "$RIG_DIR/wpad.dat" "http://web.demo/" "http://$SERVER4/" "http://printer/" |
	tr '|' '\n' | sed 's/^/   /'

say "7. Who did the server see? (nginx access log: the proxy's address, not the client's)"
echo "   requests  from"
awk '{print $1}' "$RIG_DIR/nginx/access.log" | sort | uniq -c | sed 's/^/   /'
grep -q "^$CLIENT4 " "$RIG_DIR/nginx/access.log" && { echo "   unexpected: the client's own address"; result=1; }

say "8. sockgated stopped: the client fails again"
rig_stop "$SOCKGATED_PID"
show "curl http://$SERVER4/small"
if client_curl -m 3 "http://$SERVER4/small"; then
	echo "   unexpected: reached the server with sockgated stopped"
	result=1
fi

say "sockgated's log"
sed 's/^/   /' "$RIG_DIR/sockgated.log"

echo
if [ $result -eq 0 ]; then
	echo "demo: OK — the client reached the server, and its names, only through sockgated and the SOCKS5 proxy."
else
	echo "demo: FAILED (see above)"
fi
echo "Tearing down the namespaces."
exit $result
