# shellcheck shell=bash
# The HTTP proxy on the SOCKS port and the PAC file, sourced by run.sh after
# the rig is up (socks_server.sh's helpers and socks_targets are used). LAN
# clients use the router's [socks] port as an HTTP proxy: curl, wget,
# python's urllib and a headless Chromium. Targets: an HTTP/1.1 origin on
# the proxy host (a direct route) that checks uploads, nginx on the server
# over TLS (port 8443) and plain (8088), reachable only through dante: the
# chained route. http_stop_targets stops them once the HTTP tests are done.

HTTP4=$ROUTER4_LAN HTTP6=$ROUTER6_LAN HTTP_PORT=1080 PAC_PORT=8081 ORIGIN_PORT=8090
HTTP_USER=erin HTTP_PASS='s3cret:pass'

http_targets() {
	rig_spawn $NS_PROXY ORIGIN_PID "$RIG_DIR/origin.log" python3 tests/integration/http_origin.py $ORIGIN_PORT
	mkdir -p "$RIG_DIR/tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=web.sgtest \
		-keyout "$RIG_DIR/tls/key.pem" -out "$RIG_DIR/tls/cert.pem" 2>/dev/null
	printf '<html><head><title>sockgate page</title></head><body><h1>Through the router</h1></body></html>\n' \
		>"$RIG_DIR/www/page.html"
	cat >"$RIG_DIR/tls/nginx.conf" <<-CONF
	worker_processes 1;
	daemon off;
	pid $RIG_DIR/tls/nginx.pid;
	error_log $RIG_DIR/tls/error.log;
	events { worker_connections 256; }
	http {
	    log_format peer '\$remote_addr "\$request" \$status';
	    access_log $RIG_DIR/tls/access.log peer;
	    client_body_temp_path $RIG_DIR/tls;
	    proxy_temp_path $RIG_DIR/tls;
	    fastcgi_temp_path $RIG_DIR/tls;
	    uwsgi_temp_path $RIG_DIR/tls;
	    scgi_temp_path $RIG_DIR/tls;
	    server {
	        listen 8443 ssl;
	        listen [::]:8443 ssl;
	        listen 8088;
	        listen [::]:8088;
	        ssl_certificate $RIG_DIR/tls/cert.pem;
	        ssl_certificate_key $RIG_DIR/tls/key.pem;
	        root $RIG_DIR/www;
	    }
	}
	CONF
	rig_spawn $NS_SERVER TLS_NGINX_PID "$RIG_DIR/tls/stdout.log" nginx -c "$RIG_DIR/tls/nginx.conf"
	rig_wait_port $NS_PROXY $ORIGIN_PORT && rig_wait_port $NS_SERVER 8443
}

# The peers above are the HTTP tests' own: stopped after them, so that their
# ports are free for the tests that follow.
http_stop_targets() {
	rig_stop "$ORIGIN_PID"
	rig_stop "$TLS_NGINX_PID"
	[ -n "${LAN_PEER_PID:-}" ] && rig_stop "$LAN_PEER_PID"
	LAN_PEER_PID=""
}

# [route] (the proxy's link direct, an address behind a dead upstream, the
# rest through dante), [socks] with its extra lines $1, and [pac].
http_tail() {
	printf '%s\n' "$PROXY4/32 = direct" "fd77:2::/64 = direct" "10.77.2.77/32 = dead" \
		"to fd77:3::2 port 8088 = tiny" \
		"[upstream dead]" "url = socks5://$PROXY4:1099" \
		"[upstream tiny]" "url = http://$TINYPROXY_USER:$TINYPROXY_PASS@$PROXY4:8888" \
		"[socks]" "listen = $HTTP4:$HTTP_PORT, [$HTTP6]:$HTTP_PORT" "$1" \
		"[pac]" "listen = $HTTP4:$PAC_PORT, [$HTTP6]:$PAC_PORT"
}

start_http() { # [socks] lines
	rig_start_sockgated "socks5://$PROXY4:1080" "" "log_level = debug
metrics = 127.0.0.1:9181" "$(http_tail "$1")" &&
		rig_wait_port $NS_ROUTER $HTTP_PORT && rig_wait_port $NS_ROUTER $PAC_PORT
}

http_raw() { in_ns $NS_CLIENT python3 tests/integration/http_raw.py $HTTP4 $HTTP_PORT "$1"; }

# A request shape the proxy must refuse with status $2, closing, and
# without a byte reaching the origin.
expect_refused() { # bytes status
	local before after got
	before=$(wc -l <"$RIG_DIR/origin.log")
	got=$(http_raw "$1")
	after=$(wc -l <"$RIG_DIR/origin.log")
	[ "$got" = "$2 CLOSED" ] && [ "$before" = "$after" ] ||
		{ echo "       got: $got, origin lines $before -> $after"; return 1; }
}

test_http_proxy() {
	start_http "auth = none
allow = 10.77.1.0/25, fd77:1::/64
deny_dst = 10.77.2.99" || { fail "sockgated with the HTTP proxy did not start"; return; }
	local x4="-x http://$HTTP4:$HTTP_PORT" x6="-x http://[$HTTP6]:$HTTP_PORT" want got
	# shellcheck disable=SC2086
	{
		check "http proxy: CONNECT to nginx over TLS, through the dante chain (IPv4)" \
			expect_curl hello -k $x4 "https://$SERVER4:8443/small"
		check "http proxy: CONNECT over IPv6 to an IPv6 target" expect_curl hello -k $x6 "https://[$SERVER6]:8443/small"
		check "http proxy: CONNECT by name (resolved on the router)" expect_curl hello -k $x4 "https://web.sgtest:8443/small"
		check "http proxy: plain GET, chained" expect_curl hello $x4 "http://$SERVER4/small"
		check "http proxy: plain GET over IPv6, by name" expect_curl hello $x6 "http://web6.sgtest:80/small"
		check "http proxy: plain GET, direct route" expect_curl origin $x4 "http://$PROXY4:$ORIGIN_PORT/small"
		check "http proxy: a chunked response with trailers passes whole" \
			expect_curl chunked $x4 "http://$PROXY4:$ORIGIN_PORT/chunked"
		check "http proxy: HEAD (no body follows its length)" \
			expect_match "HTTP/1.1 200 OK.*Content-Length: 7" in_ns $NS_CLIENT curl -sS -m 10 -I $x4 "http://$PROXY4:$ORIGIN_PORT/small"
	}
	head -c 1048576 /dev/urandom >"$RIG_DIR/upload"
	want=$(sha256sum <"$RIG_DIR/upload" | cut -d' ' -f1)
	check "http proxy: POST of 1 MB, the origin's sha256 matches" \
		expect_curl "$want" $x4 --data-binary "@$RIG_DIR/upload" "http://$PROXY4:$ORIGIN_PORT/sha"
	check "http proxy: POST of 1 MB chunked with Expect: 100-continue, sha256 matches" \
		expect_curl "$want" $x4 -H "Transfer-Encoding: chunked" -H "Expect: 100-continue" \
		--data-binary "@$RIG_DIR/upload" "http://$PROXY4:$ORIGIN_PORT/sha"
	check "http proxy: POST over IPv6 through the chain (nginx answers 405, passed on)" \
		expect_curl 405 $x6 -o /dev/null -w '%{http_code}' --data-binary "@$RIG_DIR/upload" "http://[$SERVER6]/small"
	want=$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)
	check "http proxy: 10 MB GET through the chain, sha256 matches" \
		expect_out "$want" bash -c "ip netns exec $NS_CLIENT curl -sS -m 20 $x4 http://$SERVER4/file10m | sha256sum | cut -d' ' -f1"
	check "http proxy: keep-alive: two hosts on one client connection" \
		expect_curl "10" $x4 -o /dev/null -o /dev/null -w '%{num_connects}' \
		"http://$PROXY4:$ORIGIN_PORT/small" "http://$SERVER4/small"
	check "http proxy: hop-by-hop headers stay, Host is the URI's, Proxy-* never reach the origin" \
		expect_curl "Host: $PROXY4:$ORIGIN_PORT
X-End: 1
Connection: close" $x4 -H 'Host: evil.example' -H 'Connection: X-Hop' -H 'X-Hop: 1' \
		-H 'Proxy-Authorization: Basic eDp5' -H 'User-Agent:' -H 'Accept:' -H 'X-End: 1' \
		"http://$PROXY4:$ORIGIN_PORT/headers"
	check "an HTTP upstream gets a plain request whole, in absolute form with its credentials" \
		expect_match "<h1>Through the router</h1>" in_ns $NS_CLIENT curl -sS -m 10 $x4 "http://[$SERVER6]:8088/page.html"
	check "... (tinyproxy, which allows CONNECT to few ports, served it)" \
		expect_match "^$PROXY6_WAN \"GET /page.html" tail -n 1 "$RIG_DIR/tls/access.log"
	check "... while a CONNECT there is refused by it -> 403" \
		expect_match "response 403" in_ns $NS_CLIENT curl -sS -m 10 $x4 -k "https://[$SERVER6]:8088/"
	check "wget through the HTTP proxy" expect_out hello \
		in_ns $NS_CLIENT env http_proxy="http://$HTTP4:$HTTP_PORT" wget -q -O - "http://$SERVER4/small"
	check "python urllib through the HTTP proxy" expect_out origin in_ns $NS_CLIENT python3 -c "
import urllib.request
o = urllib.request.build_opener(urllib.request.ProxyHandler({'http': 'http://$HTTP4:$HTTP_PORT'}))
print(o.open('http://$PROXY4:$ORIGIN_PORT/small', timeout=10).read().decode().strip())"
	# errors a browser can show
	check "destination policy: the router itself -> 403" \
		expect_curl 403 $x4 -o /dev/null -w '%{http_code}' "http://$ROUTER4:22/"
	check "destination policy: deny_dst -> 403" expect_curl 403 $x4 -o /dev/null -w '%{http_code}' "http://10.77.2.99/"
	check "destination policy: localhost -> 403" expect_curl 403 $x4 -o /dev/null -w '%{http_code}' "http://localhost/"
	check "a dead upstream -> 502 naming the reason" \
		expect_match "^502 Bad Gateway: .*Connection refused" in_ns $NS_CLIENT curl -sS -m 10 $x4 "http://10.77.2.77/"
	check "a closed port -> 502" expect_curl 502 $x4 -o /dev/null -w '%{http_code}' "http://$PROXY4:81/"
	check "CONNECT to a closed port -> 502, no tunnel" \
		expect_match "502" in_ns $NS_CLIENT curl -sS -m 10 -k -o /dev/null -w '%{http_code}' $x4 "https://$PROXY4:81/"
	check "an unknown name -> 502" expect_curl 502 $x4 -o /dev/null -w '%{http_code}' "http://nosuch.sgtest/"
	in_ns $NS_PROXY nft -f - <<-NFT
	table inet sgdrop {
	    chain input { type filter hook input priority 0; tcp dport 9999 drop; }
	}
	NFT
	check "a target that never answers -> 504 after connect_timeout" \
		expect_curl 504 $x4 -o /dev/null -w '%{http_code}' "http://$PROXY4:9999/"
	in_ns $NS_PROXY nft delete table inet sgdrop
	# malformed and smuggling-shaped requests: 400 (or their status), closed, nothing forwarded
	local u="http://$PROXY4:$ORIGIN_PORT/sha"
	check "smuggling: Content-Length with Transfer-Encoding -> 400" expect_refused \
		"POST $u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" 400
	check "smuggling: two Content-Length -> 400" expect_refused \
		"POST $u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" 400
	check "smuggling: a Transfer-Encoding not ending in chunked -> 400" expect_refused \
		"POST $u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n" 400
	check "smuggling: obs-fold -> 400" expect_refused \
		"GET $u HTTP/1.1\r\nHost: a\r\nX: 1\r\n Transfer-Encoding: chunked\r\n\r\n" 400
	check "smuggling: bare LF line ends -> 400" expect_refused "GET $u HTTP/1.1\nHost: a\n\n" 400
	check "smuggling: white space before the colon -> 400" expect_refused \
		"POST $u HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello" 400
	check "malformed: a control byte in a value -> 400" expect_refused "GET $u HTTP/1.1\r\nX: a\x01b\r\n\r\n" 400
	check "malformed: an https:// absolute URI -> 400" expect_refused "GET https://$PROXY4/ HTTP/1.1\r\n\r\n" 400
	check "malformed: origin form to the proxy -> 400" expect_refused "GET /small HTTP/1.1\r\nHost: a\r\n\r\n" 400
	check "malformed: HTTP/2.0 -> 505" expect_refused "GET $u HTTP/2.0\r\n\r\n" 505
	check "headers too large -> 431" expect_refused \
		"GET $u HTTP/1.1\r\nX: $(head -c 17000 /dev/zero | tr '\0' a)\r\n\r\n" 431
	check "... and sockgated is still serving" expect_curl hello $x4 "http://$SERVER4/small"
	check "the flows show as http in conns and the log" expect_log "flow [0-9.]* http $CLIENT4:[0-9]* -> "
	check "a SOCKS5 client on the same port still works" expect_curl hello --socks5 "$HTTP4:$HTTP_PORT" "http://$SERVER4/small"
	test_http_via_chromium
	test_pac
	rig_stop_sockgated
}

test_http_auth() {
	local users=$RIG_DIR/http-users x4="-x http://$HTTP4:$HTTP_PORT"
	printf '%s\n' "$HTTP_PASS" | "$SOCKGATED" --hash-password "$HTTP_USER" >"$users"
	chmod 600 "$users"
	start_http "users = $users
allow = 10.77.1.0/24, fd77:1::/64
http_via = yes" || { fail "sockgated with HTTP proxy auth did not start"; return; }
	# shellcheck disable=SC2086
	{
		check "http auth: no credentials -> 407 with Proxy-Authenticate" \
			expect_match "HTTP/1.1 407 .*Proxy-Authenticate: Basic realm=\"sockgate\"" \
			in_ns $NS_CLIENT curl -sS -m 10 -i $x4 "http://$SERVER4/small"
		check "http auth: the right password -> 200" \
			expect_curl hello $x4 -U "$HTTP_USER:$HTTP_PASS" "http://$SERVER4/small"
		check "http auth: CONNECT with the right password" \
			expect_curl hello -k $x4 -U "$HTTP_USER:$HTTP_PASS" "https://$SERVER4:8443/small"
		check "http auth: a browser's way: 407, then credentials on the same connection" \
			expect_curl "200 1" $x4 --proxy-anyauth -U "$HTTP_USER:$HTTP_PASS" -o /dev/null \
			-w '%{http_code} %{num_connects}' "http://$SERVER4/small"
		check "http auth: a wrong password -> 407" \
			expect_curl 407 $x4 -U "$HTTP_USER:wrong" -o /dev/null -w '%{http_code}' "http://$SERVER4/small"
		check "... logged without the password" expect_log "HTTP client $CLIENT4:[0-9]* failed to log in"
		check "the password never reaches the log" bash -c "! grep -q -e wrong -e 's3cret' '$RIG_DIR/sockgated.log'"
		check "http_via = yes: the origin gets Via, and so does the client" \
			expect_match "Via: 1.1 sockgate.*Via: 1.1 sockgate" bash -c \
			"ip netns exec $NS_CLIENT curl -sS -m 10 -i $x4 -U '$HTTP_USER:$HTTP_PASS' http://$PROXY4:$ORIGIN_PORT/headers | tr -d '\\r' | tr '\\n' ' '"
		check "http auth: malformed Basic -> 407" \
			expect_curl 407 $x4 -H "Proxy-Authorization: Basic !!!" -o /dev/null -w '%{http_code}' "http://$SERVER4/small"
	}
	# 5 failures from one address lock it out, right password or not
	ip -n $NS_CLIENT addr add 10.77.1.201/24 dev c0 2>/dev/null
	for _ in 1 2 3 4 5 6; do
		in_ns $NS_CLIENT curl -s -m 10 --interface 10.77.1.201 $x4 -U "$HTTP_USER:bad" -o /dev/null "http://$SERVER4/small"
	done
	# shellcheck disable=SC2086
	check "http auth: after 5 failures the address is locked out (the right password too -> 407)" \
		expect_curl 407 --interface 10.77.1.201 $x4 -U "$HTTP_USER:$HTTP_PASS" -o /dev/null -w '%{http_code}' "http://$SERVER4/small"
	# shellcheck disable=SC2086
	check "... while another client still gets in" \
		expect_curl hello $x4 -U "$HTTP_USER:$HTTP_PASS" "http://$SERVER4/small"
	ip -n $NS_CLIENT addr del 10.77.1.201/24 dev c0 2>/dev/null
	rig_stop_sockgated
}

# Headless Chromium on the client, its proxy the router's port (HTTP).
chromium_dump() { # proxy-args url
	local args=$1 url=$2
	rm -rf "$RIG_DIR/chromium"
	# shellcheck disable=SC2086
	in_ns $NS_CLIENT timeout 60 chromium --headless=new --no-sandbox --disable-gpu \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --no-default-browser-check --user-data-dir="$RIG_DIR/chromium" $args \
		--screenshot="$RIG_DIR/page.png" --window-size=800,600 --dump-dom "$url" 2>/dev/null
}

test_http_via_chromium() {
	check "chromium with --proxy-server=http://router: loads a page through the chain" \
		expect_match "<h1>Through the router</h1>" chromium_dump "--proxy-server=http://$HTTP4:$HTTP_PORT" "http://web.sgtest:8088/page.html"
	check "... the server saw dante's address, not the client's" \
		grep -q "^$PROXY4_WAN \"GET /page.html" "$RIG_DIR/tls/access.log"
}

# sockgate_flows_total{intake="socks"}: flows of the proxy port (SOCKS and HTTP).
port_flows() {
	in_ns $NS_ROUTER curl -s -m 5 http://127.0.0.1:9181/metrics |
		sed -n 's/^sockgate_flows_total{intake="socks"} //p'
}

test_pac() {
	local pac="http://$HTTP4:$PAC_PORT/proxy.pac" before after
	check "PAC: /proxy.pac served as application/x-ns-proxy-autoconfig" \
		expect_match "Content-Type: application/x-ns-proxy-autoconfig" in_ns $NS_CLIENT curl -sS -m 5 -i "$pac"
	check "PAC: /wpad.dat too, naming the router's port (SOCKS5 first, then PROXY)" \
		expect_match "var sgProxy = 'SOCKS5 $HTTP4:$HTTP_PORT; PROXY $HTTP4:$HTTP_PORT';" \
		in_ns $NS_CLIENT curl -sS -m 5 "http://$HTTP4:$PAC_PORT/wpad.dat"
	check "PAC: over IPv6, naming the address it was asked on" \
		expect_match "SOCKS5 \[$HTTP6\]:$HTTP_PORT" in_ns $NS_CLIENT curl -sS -m 5 "http://[$HTTP6]:$PAC_PORT/proxy.pac"
	check "PAC: nothing else is served (404, 405)" expect_out "404 405" bash -c \
		"ip netns exec $NS_CLIENT curl -s -m 5 -o /dev/null -w '%{http_code} ' http://$HTTP4:$PAC_PORT/etc/passwd; ip netns exec $NS_CLIENT curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST $pac"
	in_ns $NS_CLIENT curl -sS -m 5 -o "$RIG_DIR/proxy.pac" "$pac"
	check "PAC: its decisions (node runs the script)" expect_out \
		"web.sgtest PROXY|10.77.2.2 DIRECT|printer DIRECT|10.77.2.77 DIRECT|8.8.8.8 PROXY|[fd77:3::2] DIRECT|[2a00::1] PROXY" \
		node tests/integration/pac_eval.js "$RIG_DIR/proxy.pac" http://web.sgtest/ http://10.77.2.2:8090/ \
		http://printer/ http://10.77.2.77/ https://8.8.8.8/ "http://[fd77:3::2]/" "http://[2a00::1]/"
	sed -i '/^\[route\]/a pacreload.sgtest = direct' "$RIG_DIR/sockgate.conf"
	check "PAC: follows sockgate reload (a domain route added)" bash -c \
		"$SOCKGATE -c $RIG_DIR/sockgate.conf reload >/dev/null && ip netns exec $NS_CLIENT curl -sS -m 5 $pac | grep -q \"'pacreload.sgtest':1\""
	before=$(port_flows)
	check "chromium with --proxy-pac-url: a page by name goes through the proxy port" \
		expect_match "<h1>Through the router</h1>" chromium_dump "--proxy-pac-url=$pac" "http://web.sgtest:8088/page.html"
	after=$(port_flows)
	check "... as a flow of the proxy port (metrics), and the server saw dante's address" \
		bash -c "[ '$after' -gt '$before' ] && [ \$(grep -c '^$PROXY4_WAN \"GET /page.html' '$RIG_DIR/tls/access.log') = 2 ]"
	check "... the screenshot was taken (a PNG of the page)" \
		bash -c "file '$RIG_DIR/page.png' 2>/dev/null | grep -q 'PNG image data, 800 x 600' || head -c 8 '$RIG_DIR/page.png' | grep -q PNG"
	# a LAN peer (here the client's own address): the router never sees it
	rig_spawn $NS_CLIENT LAN_PEER_PID "$RIG_DIR/lan-peer.log" python3 tests/integration/http_origin.py 8095
	rig_wait_port $NS_CLIENT 8095
	check "chromium with --proxy-pac-url: a bypassed destination (a LAN address) loads directly" \
		expect_match "origin" chromium_dump "--proxy-pac-url=$pac" "http://$CLIENT4:8095/small"
	check "... not through the proxy (the peer saw the browser's own address)" \
		grep -Eq "^(::ffff:)?$CLIENT4 GET /small" "$RIG_DIR/lan-peer.log"
	check "... nor did sockgated see it" bash -c "! grep -q -- '-> $CLIENT4:8095' '$RIG_DIR/sockgated.log'"
}
