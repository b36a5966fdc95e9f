# shellcheck shell=bash
# [intake] sniff: intercepted flows' names from the TLS ClientHello and the
# HTTP Host, handed to a socks5h upstream (dante on port 1084, which alone
# knows the names) instead of the address. Sourced by run.sh.

SNIFF_DANTE_PORT=1084

# nginx with a self-signed certificate on the server, port 443; dante on
# the proxy resolving the test's names from a hosts file of its own and
# logging each request; an echo service and a server-speaks-first one.
sniff_start_peers() {
	local d=$RIG_DIR/sniff
	mkdir -p "$d" "/etc/netns/$NS_PROXY"
	printf '%s\n' "127.0.0.1 localhost" "$SERVER4 tls.sgsniff http.sgsniff far.sgsniff" \
		"$SERVER4 a.direct.sgsniff b.direct.sgsniff x.sgsniff y.x.sgsniff listed.sgsniff" \
		>"/etc/netns/$NS_PROXY/hosts"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tls.sgsniff \
		-keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
	cat >"$d/nginx.conf" <<-CONF
	worker_processes 1;
	daemon off;
	pid $d/nginx.pid;
	error_log $d/error.log;
	events { worker_connections 256; }
	http {
	    log_format peer '\$remote_addr \$ssl_server_name';
	    access_log $d/access.log peer;
	    client_body_temp_path $d;
	    proxy_temp_path $d;
	    fastcgi_temp_path $d;
	    uwsgi_temp_path $d;
	    scgi_temp_path $d;
	    server {
	        listen 443 ssl;
	        ssl_certificate $d/cert.pem;
	        ssl_certificate_key $d/key.pem;
	        root $RIG_DIR/www;
	    }
	}
	CONF
	rig_spawn $NS_SERVER SNIFF_NGINX_PID "$d/nginx.out" nginx -c "$d/nginx.conf"
	rig_wait_port $NS_SERVER 443
	rig_dante_conf "$d" $SNIFF_DANTE_PORT none
	rig_spawn $NS_PROXY SNIFF_DANTE_PID "$d/danted.out" danted -f "$d/danted.conf" -p "$d/danted.pid"
	rig_wait_port $NS_PROXY $SNIFF_DANTE_PORT
	rig_spawn $NS_SERVER SNIFF_ECHO_PID "$d/echo.log" socat TCP-LISTEN:7001,fork,reuseaddr EXEC:cat
	rig_spawn $NS_SERVER SNIFF_BANNER_PID "$d/banner.log" \
		socat TCP-LISTEN:2223,fork,reuseaddr SYSTEM:'echo SSH-2.0-sgtest; cat'
	rig_wait_port $NS_SERVER 7001
	rig_wait_port $NS_SERVER 2223
}

sniff_stop_peers() {
	rig_stop "$SNIFF_NGINX_PID"
	rig_stop "$SNIFF_DANTE_PID"
	rig_stop "$SNIFF_ECHO_PID"
	rig_stop "$SNIFF_BANNER_PID"
	rm -rf "/etc/netns/$NS_PROXY"
}

# Sends stdin's bytes to the echo service through the interception, in the
# pieces given (bytes each, 50 ms apart), and compares what comes back.
sniff_echo_same() { # python expression for the bytes
	in_ns $NS_CLIENT python3 - "$SERVER4" "$1" <<-'PY'
	import hashlib, socket, sys, time
	data = eval(sys.argv[2])
	s = socket.create_connection((sys.argv[1], 7001), timeout=5)
	s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
	s.sendall(data)
	s.shutdown(socket.SHUT_WR)
	got = b""
	while True:
	    chunk = s.recv(65536)
	    if not chunk:
	        break
	    got += chunk
	sys.exit(0 if hashlib.sha256(got).digest() == hashlib.sha256(data).digest() else 1)
	PY
}

# A TLS handshake with address $1 whose ClientHello goes out in three TCP
# segments, 50 ms apart, then GET /small over it: prints the body.
sniff_split_hello() { # address
	in_ns $NS_CLIENT python3 - "$1" <<-'PY'
	import socket, ssl, sys, time
	ctx = ssl.create_default_context()
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
	tls = ctx.wrap_bio(inc, out, server_hostname="tls.sgsniff")
	s = socket.create_connection((sys.argv[1], 443), timeout=5)
	s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
	def pump(first=False):
	    data = out.read()
	    if first:  # the ClientHello, in three pieces
	        for a, b in ((0, 3), (3, 100), (100, len(data))):
	            s.sendall(data[a:b])
	            time.sleep(0.05)
	    elif data:
	        s.sendall(data)
	first = True
	while True:
	    try:
	        tls.do_handshake()
	        break
	    except ssl.SSLWantReadError:
	        pump(first)
	        first = False
	        chunk = s.recv(65536)
	        if not chunk:
	            sys.exit("closed during the handshake")
	        inc.write(chunk)
	pump()
	tls.write(b"GET /small HTTP/1.0\r\nHost: tls.sgsniff\r\n\r\n")
	pump()
	body = b""
	while True:
	    try:
	        got = tls.read(65536)
	        if not got:
	            break
	        body += got
	    except ssl.SSLWantReadError:
	        chunk = s.recv(65536)
	        if not chunk:
	            break
	        inc.write(chunk)
	    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
	        break
	print(body.split(b"\r\n\r\n", 1)[-1].decode().strip())
	PY
}

# Nobody has this address: a flow to it works only when the upstream is
# given the name instead.
SNIFF_NOWHERE=10.77.9.9

test_sniff() {
	# the rig's REDIRECT rules, whatever a test before left
	rig_redirect_rule
	sniff_start_peers
	RIG_INTAKE="redirect = $REDIRECT_PORT
sniff = tls, http" rig_start_sockgated "socks5h://$PROXY4:$SNIFF_DANTE_PORT"
	local want got t0 t1
	want=$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)
	check "sniff: TLS to an address nobody has, by its SNI (curl -k --resolve): answered" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -sk -m 5 --resolve tls.sgsniff:443:$SNIFF_NOWHERE https://tls.sgsniff/small)\" = hello"
	got=$(in_ns $NS_CLIENT curl -sk -m 20 --resolve tls.sgsniff:443:$SNIFF_NOWHERE https://tls.sgsniff/file10m | sha256sum | cut -d' ' -f1)
	check "sniff: 10 MB over the sniffed TLS flow, sha256 matches" test "$got" = "$want"
	check "sniff: HTTP to an address nobody has, by its Host (a name only the proxy knows)" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -s -m 5 -H 'Host: far.sgsniff' http://$SNIFF_NOWHERE/small)\" = hello"
	got=$(in_ns $NS_CLIENT curl -s -m 20 -H 'Host: http.sgsniff' "http://$SNIFF_NOWHERE/file10m" | sha256sum | cut -d' ' -f1)
	check "sniff: 10 MB over a sniffed HTTP flow, sha256 matches" test "$got" = "$want"
	got=$(sniff_split_hello $SNIFF_NOWHERE)
	check "sniff: a ClientHello in three TCP segments still gives the name ($got)" test "$got" = hello
	# a client that waits for the server to speak first: by address after
	# the bound (300 ms), never held longer
	got=$(in_ns $NS_CLIENT python3 -c '
import socket, sys, time
t0 = time.monotonic()
s = socket.create_connection((sys.argv[1], 2223), timeout=5)
line = s.makefile("rb").readline().decode().strip()
print(line, int((time.monotonic() - t0) * 1000))' $SERVER4)
	check "sniff: a server-speaks-first service answers ($got)" test "${got% *}" = "SSH-2.0-sgtest"
	check "sniff: ... after the 300 ms bound, not much more (${got#* } ms)" \
		test "${got#* }" -ge 290 -a "${got#* }" -lt 1300
	# malformed beginnings: no name, the bytes relayed as they were
	check "sniff: a ClientHello with lengths past its end: relayed unchanged" \
		sniff_echo_same 'b"\x16\x03\x01\x00\x30\x01\x00\xff\xff" + b"\x03\x03" + bytes(range(256)) * 40'
	check "sniff: a 64 KB HTTP head: relayed unchanged" \
		sniff_echo_same 'b"GET / HTTP/1.1\r\nX: " + b"a" * 65536 + b"\r\n\r\n"'
	check "sniff: a handshake record that is no ClientHello, and garbage after: relayed unchanged" \
		sniff_echo_same 'b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00" + bytes(range(256)) * 8'
	# conns shows the name beside the address while a flow is open
	in_ns $NS_CLIENT curl -sk -m 10 --limit-rate 1M --resolve tls.sgsniff:443:$SNIFF_NOWHERE \
		-o /dev/null https://tls.sgsniff/file10m &
	local slow=$!
	sleep 1
	check "sniff: sockgate conns shows the name beside the address" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' conns | grep -q 'tls.sgsniff:443 ($SNIFF_NOWHERE:443)'"
	kill "$slow" 2>/dev/null
	wait "$slow" 2>/dev/null
	rig_stop_sockgated
	sniff_stop_peers
}

# The address nginx saw for the last request for name $1 (its SNI)
sniff_peer_of() { # name
	awk -v n="$1" '$2 == n {p = $1} END {print p}' "$RIG_DIR/sniff/access.log"
}

# [route] by name: sniffed names and SOCKS clients' names follow domain
# routes (a domain and what is under it, exact names, a 50,000-name list
# file): direct ones reach nginx from the router's own address, the rest
# through dante, from the proxy's.
test_domain_routes() {
	# the rig's REDIRECT rules, whatever a test before left
	rig_redirect_rule
	local n
	sniff_start_peers
	rig_open_direct_path
	for n in $(seq 1 49999); do echo "n$n.bulk.sgsniff"; done >"$RIG_DIR/sniff/names.txt"
	echo "listed.sgsniff" >>"$RIG_DIR/sniff/names.txt"
	echo "$SERVER4 a.direct.sgsniff b.direct.sgsniff" >>"/etc/netns/$NS_ROUTER/hosts"
	RIG_INTAKE="redirect = $REDIRECT_PORT
sniff = tls" rig_start_sockgated "socks5h://$PROXY4:$SNIFF_DANTE_PORT" "" "" "direct.sgsniff = direct
exact x.sgsniff = direct
@$RIG_DIR/sniff/names.txt = direct
[socks]
listen = $ROUTER4_LAN:1080
auth = none
allow = 10.77.1.0/24"
	rig_wait_port $NS_ROUTER 1080
	for n in a.direct.sgsniff tls.sgsniff x.sgsniff y.x.sgsniff listed.sgsniff; do
		in_ns $NS_CLIENT curl -sk -m 5 --resolve $n:443:$SERVER4 -o /dev/null "https://$n/small"
	done
	check "domain route: a.direct.sgsniff (under direct.sgsniff) went direct" \
		test "$(sniff_peer_of a.direct.sgsniff)" = "$ROUTER4"
	check "domain route: tls.sgsniff (no route) went through the proxy" \
		test "$(sniff_peer_of tls.sgsniff)" = "$PROXY4_WAN"
	check "domain route: exact x.sgsniff went direct" test "$(sniff_peer_of x.sgsniff)" = "$ROUTER4"
	check "domain route: ... y.x.sgsniff, under it, did not" \
		test "$(sniff_peer_of y.x.sgsniff)" = "$PROXY4_WAN"
	check "domain route: a name of the 50,000-name list file went direct" \
		test "$(sniff_peer_of listed.sgsniff)" = "$ROUTER4"
	in_ns $NS_CLIENT curl -sk -m 5 --socks5-hostname $ROUTER4_LAN:1080 -o /dev/null https://b.direct.sgsniff/small
	in_ns $NS_CLIENT curl -sk -m 5 --socks5-hostname $ROUTER4_LAN:1080 -o /dev/null https://far.sgsniff/small
	check "domain route: a SOCKS client's name request follows it (direct)" \
		test "$(sniff_peer_of b.direct.sgsniff)" = "$ROUTER4"
	check "domain route: ... and one no route names goes by name through the proxy" \
		test "$(sniff_peer_of far.sgsniff)" = "$PROXY4_WAN"
	rig_stop_sockgated
	rig_close_direct_path
	sniff_stop_peers
}
