#!/bin/bash
# make demo: a throwaway LAN in network namespaces where a client's plain
# curl reaches a web server only through sockgated and a real SOCKS5 proxy.
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
rig_start_dante
rig_redirect_rule

cat <<TXT

sockgate demo — four hosts, each a network namespace made for this run:

  client $CLIENT4 ── router $ROUTER4_LAN/$ROUTER4 (sockgated) ── proxy $PROXY4 (dante SOCKS5) ── server $SERVER4 (nginx)

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

[upstream dante]
url = socks5://$PROXY4:1080

[route]
default = dante
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

say "3. Who did the server see? (nginx access log: the proxy's address, not the client's)"
sed 's/^/   /' "$RIG_DIR/nginx/access.log"

say "4. sockgated stopped: the client fails again"
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
	echo "demo: OK — the client reached the server only through sockgated and the SOCKS5 proxy."
else
	echo "demo: FAILED (see above)"
fi
echo "Tearing down the namespaces."
exit $result
