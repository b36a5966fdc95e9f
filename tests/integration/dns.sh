# shellcheck shell=bash
# The DNS service ([dns]): dnsmasq on the server host (port 5300) knows
# names nobody else does and is reachable only through the upstreams;
# LAN clients ask sockgated's listeners on the router with dig. Sourced by
# run.sh.

DNS_PORT=5353
DNS_SERVER_PORT=5300

dns_start_resolver() {
	local big=() i
	# eight 250-byte TXT strings: a 2 KB answer
	for i in 1 2 3 4 5 6 7 8; do big+=("--txt-record=big.sgdns,$(printf "%0250d" "$i")"); done
	rig_spawn $NS_SERVER DNS_RESOLVER_PID "$RIG_DIR/dns-resolver.log" \
		dnsmasq -k -C /dev/null -u root --no-resolv --no-hosts --bind-interfaces \
		--listen-address=$SERVER4 --listen-address=$SERVER6 --port=$DNS_SERVER_PORT \
		--pid-file="$RIG_DIR/dns-resolver.pid" --local-ttl=60 \
		--address=/only.sgdns/10.9.7.1 --address=/only.sgdns/fd77:9::1 \
		--address=/web.sgdns/$SERVER4 --host-record=short.sgdns,10.9.7.2,2 \
		--txt-record=t.only.sgdns,"beyond the proxy" "${big[@]}"
	for i in $(seq 1 100); do
		[ -n "$(in_ns $NS_SERVER ss -Hltn "sport = :$DNS_SERVER_PORT")" ] && return 0
		sleep 0.05
	done
	echo "dns: the resolver did not start" >&2
}

# sockgated with the DNS service, upstream URL $1 (or direct), [route]
# lines $2.
dns_start_sockgated() {
	rig_start_sockgated "$1" "${3:-}" "" "${2:-}
[dns]
listen = $ROUTER4_LAN:$DNS_PORT, [$ROUTER6_LAN]:$DNS_PORT, $ROUTER4_LAN:53
server = ${DNS_SERVERS:-$SERVER4:$DNS_SERVER_PORT}
allow = $CLIENT4/32, fd77:1::/64
timeout = 2s
${DNS_EXTRA:-}"
	local i
	for i in $(seq 1 100); do
		[ -n "$(in_ns $NS_ROUTER ss -Hlun "sport = :$DNS_PORT")" ] && return 0
		sleep 0.05
	done
}

dig_client() { # server type name [dig options]
	local server=$1 type=$2 name=$3
	shift 3
	in_ns $NS_CLIENT dig +time=4 +tries=1 -p $DNS_PORT "@$server" "$type" "$name" "$@"
}

# dig's output for the question contains the pattern (grep -E)
dns_expect() { # server type name pattern [dig options]
	local server=$1 type=$2 name=$3 pattern=$4
	shift 4
	dig_client "$server" "$type" "$name" "$@" | grep -Eq "$pattern"
}

dns_stat() { # python expression over d = the dns_service stats
	"$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" stats |
		python3 -c "import json,sys; d=json.load(sys.stdin)['dns_service']; sys.exit(0 if ($1) else 1)"
}

dns_answers_through() { # what
	check "dns through $1: A of a name only the resolver knows" \
		dns_expect $ROUTER4_LAN A a.only.sgdns '^10.9.7.1$' +short
	check "dns through $1: AAAA, asked over IPv6" \
		dns_expect $ROUTER6_LAN AAAA b.only.sgdns '^fd77:9::1$' +short
	check "dns through $1: TXT" \
		dns_expect $ROUTER4_LAN TXT t.only.sgdns 'beyond the proxy' +short
}

# A query for LABEL.only.sgdns gets SERVFAIL, within the 2 s timeout.
dns_servfail_in_time() { # what label
	local t0 t1
	t0=$(date +%s%N)
	check "dns: $1: SERVFAIL" dns_expect $ROUTER4_LAN A "$2.only.sgdns" 'status: SERVFAIL'
	t1=$(date +%s%N)
	check "dns: ... within the 2 s timeout ($(((t1 - t0) / 1000000)) ms)" \
		test $(((t1 - t0) / 1000000)) -lt 3000
}

# n queries at once from the client, names PREFIX1.only.sgdns ...; the
# answers in $RIG_DIR/dns-par.*. Each dig from a port of its own, below
# the ephemeral range: dig binds port 0 with SO_REUSEPORT, so the kernel
# may give two digs one port, and one's answer then reaches the other
# (with 250 at once, about every third run).
dns_parallel() { # n prefix
	local digs=() i
	rm -f "$RIG_DIR"/dns-par.*
	for i in $(seq 1 "$1"); do
		dig_client $ROUTER4_LAN A "$2$i.only.sgdns" +short -b "$CLIENT4#$((20000 + i))" \
			>"$RIG_DIR/dns-par.$i" &
		digs+=($!)
	done
	wait "${digs[@]}"
}

# All n of dns_parallel's answers are the address; those that are not are
# shown.
dns_parallel_answered() { # n
	local f bad=0
	for f in "$RIG_DIR"/dns-par.*; do
		grep -qx 10.9.7.1 "$f" && continue
		bad=$((bad + 1))
		echo "       ${f##*/}: $(tr '\n' ' ' <"$f")"
	done
	# a lost query: did the router's socket buffers overflow?
	[ "$bad" -eq 0 ] || echo "       router: $(in_ns $NS_ROUTER nstat -az UdpRcvbufErrors Udp6RcvbufErrors UdpInErrors | awk 'NR > 1 {printf "%s %s ", $1, $2}')"
	[ "$bad" -eq 0 ] && [ "$(ls "$RIG_DIR"/dns-par.* | wc -l)" -eq "$1" ]
}

# OpenSSH's dynamic forwarding as the upstream, the commonest personal
# SOCKS5 proxy: sshd on the proxy host, `ssh -D` on the router's loopback.
# It has no UDP ASSOCIATE; the DNS service asks over TCP through CONNECT.
SSH_SOCKS_PORT=1085
dns_start_ssh_socks() {
	local d=$RIG_DIR/ssh
	mkdir -p "$d"
	ssh-keygen -q -t ed25519 -N "" -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N "" -f "$d/user_key"
	cp "$d/user_key.pub" "$d/authorized_keys"
	cat >"$d/sshd_config" <<-CONF
	ListenAddress $PROXY4
	HostKey $d/host_key
	PidFile $d/sshd.pid
	AuthorizedKeysFile $d/authorized_keys
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	AllowTcpForwarding yes
	CONF
	mkdir -p /run/sshd
	rig_spawn $NS_PROXY SSHD_PID "$d/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config"
	rig_wait_port $NS_PROXY 22
	rig_spawn $NS_ROUTER SSH_SOCKS_PID "$d/ssh.log" ssh -N -D 127.0.0.1:$SSH_SOCKS_PORT \
		-i "$d/user_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes root@$PROXY4
	rig_wait_port $NS_ROUTER $SSH_SOCKS_PORT
}

test_dns_service() {
	dns_start_resolver
	dns_start_sockgated "socks5://$PROXY4:1080"
	dns_answers_through "dante (UDP ASSOCIATE)"
	check "dns through dante: over UDP, no TCP connection reached the resolver" \
		test -z "$(in_ns $NS_SERVER ss -Htn state established "sport = :$DNS_SERVER_PORT")"
	# ordinary programs by name: the client's resolv.conf names the
	# router (ip netns exec binds /etc/netns/NAME over /etc)
	mkdir -p "/etc/netns/$NS_CLIENT"
	echo "nameserver $ROUTER4_LAN" >"/etc/netns/$NS_CLIENT/resolv.conf"
	check "dns: getent hosts on the client resolves a name only the resolver knows" \
		bash -c "ip netns exec $NS_CLIENT getent hosts w1.web.sgdns | grep -q '^$SERVER4 '"
	check "dns: curl http://web.sgdns/small from the client, by name, through the proxy" \
		bash -c "test \"\$(ip netns exec $NS_CLIENT curl -s -m 5 http://web.sgdns/small)\" = hello"
	rm -rf "/etc/netns/$NS_CLIENT"
	check "dns: sockgate status names the service" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' status | grep -q '^dns service: 3 listen address(es), 1 server(s);'"
	check "dns: over TCP from the client too (dig +tcp)" \
		dns_expect $ROUTER4_LAN A tcp.only.sgdns '^10.9.7.1$' +short +tcp
	check "dns: a 2 KB TXT answer whole over TCP" \
		bash -c "ip netns exec $NS_CLIENT dig +time=4 +tries=1 -p $DNS_PORT @$ROUTER4_LAN TXT big.sgdns +tcp | grep -c '^big.sgdns.*TXT' | grep -qx 8"
	check "dns: a client outside allow gets no answer at all" \
		bash -c "! ip netns exec $NS_ROUTER dig +time=1 +tries=1 -p $DNS_PORT @$ROUTER4_LAN A x.only.sgdns >/dev/null"
	# a 2 KB answer whole over UDP with EDNS0 (it comes truncated through
	# the association, 1232 bytes, and is asked again over TCP through
	# CONNECT); without EDNS0 the client is told to ask over TCP (TC)
	check "dns: a 2 KB TXT answer arrives whole with EDNS0" \
		bash -c "ip netns exec $NS_CLIENT dig +time=4 +tries=1 -p $DNS_PORT @$ROUTER4_LAN TXT big.sgdns +bufsize=4096 +ignore | grep -c '^big.sgdns.*TXT' | grep -qx 8"
	check "dns: ... and truncated (TC) without EDNS0" \
		bash -c "ip netns exec $NS_CLIENT dig +time=4 +tries=1 -p $DNS_PORT @$ROUTER4_LAN TXT big.sgdns +noedns +ignore | grep -q 'flags: qr tc'"
	# the cache: a second query is not forwarded
	dig_client $ROUTER4_LAN A c.only.sgdns +short >/dev/null
	local fwd
	fwd=$("$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["dns_service"]["forwarded"])')
	local i
	for i in 1 2 3 4; do dig_client $ROUTER4_LAN A c.only.sgdns +short >/dev/null; done
	check "dns: the cache answers again without asking (forwarded stays $fwd)" \
		dns_stat "d['forwarded'] == $fwd and d['cache_hits'] >= 4 and d['cache_entries'] >= 1"
	check "dns: sockgate dns flush empties the caches" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' dns flush | grep -q 'emptied on 2 of 2 workers'"
	dig_client $ROUTER4_LAN A c.only.sgdns +short >/dev/null
	check "dns: ... and the next query is forwarded again" dns_stat "d['forwarded'] == $fwd + 1"
	# the TTL: a 2 s answer is kept 2 s, then asked for again
	dig_client $ROUTER4_LAN A short.sgdns +short >/dev/null
	dig_client $ROUTER4_LAN A short.sgdns +short >/dev/null
	check "dns: a 2 s answer comes from the cache within its TTL" dns_stat "d['forwarded'] == $fwd + 2"
	sleep 2.2
	check "dns: ... and from the resolver again after it" \
		dns_expect $ROUTER4_LAN A short.sgdns '^10.9.7.2$' +short
	check "dns: ... (forwarded once more)" dns_stat "d['forwarded'] == $fwd + 3"
	dns_parallel 50 p
	check "dns: 50 queries in parallel all answered" dns_parallel_answered 50
	# per worker at most the association's control connection and the TCP
	# connection the 2 KB answer took: no connection per query
	check "dns: ... with no connection to the upstream per query (at most two per worker)" \
		test "$(in_ns $NS_PROXY ss -Htn state established "sport = :1080 and src $PROXY4 and dst $ROUTER4" | wc -l)" -le 4
	# malformed queries: counted, no crash, the service keeps answering
	in_ns $NS_CLIENT python3 - "$ROUTER4_LAN" $DNS_PORT <<-'PY'
	import socket, struct, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	dst = (sys.argv[1], int(sys.argv[2]))
	hdr = lambda qd: struct.pack(">HHHHHH", 0x4242, 0x0100, qd, 0, 0, 0)
	q = b"\x07example\x03com\x00" + struct.pack(">HH", 1, 1)
	for m in (b"\x12\x34\x01", hdr(1) + b"\x3fabc", hdr(1) + b"\xc0\x0c" + struct.pack(">HH", 1, 1),
	          hdr(0), hdr(2) + q + q, b"\xff" * 65000):
	    s.sendto(m, dst)
	PY
	# over TCP: a length prefix promising 64 KB that never comes, and two
	# good queries pipelined on one connection behind a malformed one
	in_ns $NS_CLIENT python3 - "$ROUTER4_LAN" $DNS_PORT <<-'PY' >"$RIG_DIR/dns-tcp.out"
	import socket, struct, sys
	dst = (sys.argv[1], int(sys.argv[2]))
	liar = socket.create_connection(dst, timeout=5)
	liar.sendall(b"\xff\xff" + b"x" * 100)
	def query(qid, name):
	    m = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
	    for label in name.split("."):
	        m += bytes([len(label)]) + label.encode()
	    m += b"\x00" + struct.pack(">HH", 1, 1)
	    return struct.pack(">H", len(m)) + m
	s = socket.create_connection(dst, timeout=5)
	bad = struct.pack(">HHHHHH", 9, 0x0100, 0, 0, 0, 0)  # no question: FORMERR
	s.sendall(struct.pack(">H", len(bad)) + bad + query(1, "q1.only.sgdns") + query(2, "q2.only.sgdns"))
	got = set()
	buf = b""
	while len(got) < 3:
	    chunk = s.recv(65536)
	    if not chunk:
	        break
	    buf += chunk
	    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
	        n = struct.unpack(">H", buf[:2])[0]
	        msg, buf = buf[2:2 + n], buf[2 + n:]
	        got.add((struct.unpack(">H", msg[:2])[0], msg[3] & 0x0f))
	print(sorted(got))
	PY
	check "dns: TCP: pipelined queries answered behind a malformed one (FORMERR)" \
		grep -qF "[(1, 0), (2, 0), (9, 1)]" "$RIG_DIR/dns-tcp.out"
	sleep 0.3
	check "dns: malformed queries are counted (7)" dns_stat "d['malformed'] >= 7"
	check "dns: ... and the service still answers" \
		dns_expect $ROUTER4_LAN A m.only.sgdns '^10.9.7.1$' +short
	# the resolver down: SERVFAIL within the timeout, then back
	rig_stop "$DNS_RESOLVER_PID"
	dns_servfail_in_time "resolver down" down
	dns_start_resolver
	check "dns: resolver back: answered again" \
		dns_expect $ROUTER4_LAN A back.only.sgdns '^10.9.7.1$' +short
	check "dns: answers by rcode counted (SERVFAIL among them)" \
		dns_stat "d['answers']['servfail'] >= 1 and d['answers']['noerror'] >= 60"
	# dante dies and comes back: its UDP ASSOCIATE worked before, so the
	# service goes back to UDP, not to TCP for a minute as for an upstream
	# that refuses it
	rig_kill_dante DANTE_PID "$RIG_DIR/danted.conf"
	dig_client $ROUTER4_LAN A gone.only.sgdns +short >/dev/null
	rig_start_dante
	sleep 1.2 # the association's pause after a failed setup
	check "dns: dante killed and restarted: answered again" \
		dns_expect $ROUTER4_LAN A after.only.sgdns '^10.9.7.1$' +short
	check "dns: ... over UDP ASSOCIATE again (a datagram socket to dante's relay)" \
		test -n "$(in_ns $NS_ROUTER ss -Hun state established "dst $PROXY4")"
	check "dns: ... and never switched to TCP for a minute" \
		bash -c "! grep -q 'asking over TCP through it for a minute' '$RIG_DIR/sockgated.log'"
	# a reload takes the cache's bounds: with cache_size = 0 nothing is kept
	dig_client $ROUTER4_LAN A r.only.sgdns +short >/dev/null
	sed -i 's/^timeout = 2s$/timeout = 2s\ncache_size = 0/' "$RIG_DIR/sockgate.conf"
	check "dns: reload with cache_size = 0" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' reload | grep -q reloaded"
	check "dns: ... empties the cache" dns_stat "d['cache_entries'] == 0"
	fwd=$("$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["dns_service"]["forwarded"])')
	dig_client $ROUTER4_LAN A r.only.sgdns +short >/dev/null
	dig_client $ROUTER4_LAN A r.only.sgdns +short >/dev/null
	check "dns: ... and keeps nothing: both queries forwarded" dns_stat "d['forwarded'] == $fwd + 2"
	rig_stop_sockgated

	dns_start_sockgated "http://$TINYPROXY_USER:$TINYPROXY_PASS@$PROXY4:8888"
	dns_answers_through "tinyproxy (HTTP CONNECT)"
	rig_stop_sockgated

	# failover: the first server refuses (nothing on that port), the
	# second is the resolver over IPv6
	DNS_SERVERS="$SERVER4:5301, [$SERVER6]:$DNS_SERVER_PORT" dns_start_sockgated "socks5://$PROXY4:1080"
	dns_answers_through "dante to a second server over IPv6 after the first refused"
	check "dns: ... the refusing server is logged" grep -q "dns: server $SERVER4:5301" "$RIG_DIR/sockgated.log"
	rig_stop_sockgated

	dns_start_ssh_socks
	dns_start_sockgated "socks5://127.0.0.1:$SSH_SOCKS_PORT"
	dns_answers_through "ssh -D (OpenSSH's SOCKS5, no UDP)"
	check "dns through ssh -D: its missing UDP ASSOCIATE is logged, and TCP through it used" \
		grep -q 'asking over TCP through it for a minute' "$RIG_DIR/sockgated.log"
	check "dns through ssh -D: a 2 KB answer over TCP" \
		bash -c "ip netns exec $NS_CLIENT dig +time=4 +tries=1 -p $DNS_PORT @$ROUTER4_LAN TXT big.sgdns +tcp | grep -c '^big.sgdns.*TXT' | grep -qx 8"
	# a client's UDP queries all reach one worker, whose connection through
	# the upstream is open already: the 50 open none (a TCP client may
	# have made the other worker open its own)
	local up0 res0
	up0=$(in_ns $NS_ROUTER ss -Htn state established "dport = :$SSH_SOCKS_PORT" | wc -l)
	res0=$(in_ns $NS_SERVER ss -Htn state established "sport = :$DNS_SERVER_PORT" | wc -l)
	dns_parallel 50 s
	check "dns through ssh -D: 50 queries in parallel all answered" dns_parallel_answered 50
	check "dns through ssh -D: ... over the worker's one connection through the upstream ($up0, at most one per worker)" \
		test "$(in_ns $NS_ROUTER ss -Htn state established "dport = :$SSH_SOCKS_PORT" | wc -l)" -eq "$up0" -a "$up0" -le 2
	check "dns through ssh -D: ... which the resolver sees as one connection each ($res0)" \
		test "$(in_ns $NS_SERVER ss -Htn state established "sport = :$DNS_SERVER_PORT" | wc -l)" -eq "$res0" -a "$res0" -le 2
	# dnsmasq ends a TCP connection after 100 queries: those it left
	# unanswered are asked again on a new connection, not failed
	dns_parallel 250 m
	check "dns through ssh -D: 250 queries in parallel all answered, past the resolver's 100 per connection" \
		dns_parallel_answered 250
	check "dns: per-server counters: asked, answered, a mean latency" \
		dns_stat "d['servers'][0]['answered'] >= 50 and d['servers'][0]['asked'] >= d['servers'][0]['answered'] and 'latency_ms_mean' in d['servers'][0]"
	check "dns: sockgate stats prints the server's line" \
		bash -c "'$SOCKGATE' -c '$RIG_DIR/sockgate.conf' stats | grep -Eq '^  dns server $SERVER4:$DNS_SERVER_PORT: asked [0-9]+, answered [0-9]+, failed [0-9]+, [0-9]+ ms mean$'"
	# the upstream down: SERVFAIL in time; back up: answers again
	rig_stop "$SSH_SOCKS_PID"
	dns_servfail_in_time "upstream down (ssh -D gone)" gone
	check "dns: ... counted as the server's failure" dns_stat "d['servers'][0]['failed'] >= 1"
	rig_spawn $NS_ROUTER SSH_SOCKS_PID "$RIG_DIR/ssh/ssh2.log" ssh -N -D 127.0.0.1:$SSH_SOCKS_PORT \
		-i "$RIG_DIR/ssh/user_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes root@$PROXY4
	rig_wait_port $NS_ROUTER $SSH_SOCKS_PORT
	check "dns: upstream back: answered again" \
		dns_expect $ROUTER4_LAN A again.only.sgdns '^10.9.7.1$' +short
	rig_stop_sockgated
	rig_stop "$SSH_SOCKS_PID"
	rig_stop "$SSHD_PID"

	# direct: plain UDP to the resolver, by a route for its address
	rig_open_direct_path
	dns_start_sockgated "socks5://$PROXY4:1080" "$SERVER4/32 = direct"
	dns_answers_through "a direct route (UDP)"
	check "dns: direct: the 2 KB answer too" \
		bash -c "ip netns exec $NS_CLIENT dig +time=4 +tries=1 -p $DNS_PORT @$ROUTER4_LAN TXT big.sgdns +bufsize=4096 +ignore | grep -c '^big.sgdns.*TXT' | grep -qx 8"
	rig_stop_sockgated
	rig_close_direct_path
	rig_stop "$DNS_RESOLVER_PID"
}

# [dns] hijack = yes: `sockgate rules apply` sends intercepted clients'
# port 53 to the service, whatever server they asked; in intake mode $1
# (the [intake] lines), rules applied with the daemon's own config.
dns_hijack_in() { # what intake-lines
	local what=$1
	RIG_INTAKE="$2
interfaces = r0
bypass_private = no" RIG_WAIT_PORT=${3:-$REDIRECT_PORT} DNS_EXTRA="hijack = yes" \
		dns_start_sockgated "socks5://$PROXY4:1080"
	check "dns hijack ($what): rules apply names where port 53 goes" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' -c '$RIG_DIR/sockgate.conf' rules apply | grep -q 'to the DNS service: IPv4 $ROUTER4_LAN:$DNS_PORT, IPv6 \[$ROUTER6_LAN\]:$DNS_PORT'"
	# nothing listens at 203.0.113.53 or 2001:db8::53
	check "dns hijack ($what): a client asking 203.0.113.53 is answered by the service" \
		bash -c "ip netns exec $NS_CLIENT dig +time=3 +tries=1 @203.0.113.53 A h1.only.sgdns +short | grep -qx 10.9.7.1"
	check "dns hijack ($what): ... over TCP too" \
		bash -c "ip netns exec $NS_CLIENT dig +time=3 +tries=1 @203.0.113.53 A h2.only.sgdns +short +tcp | grep -qx 10.9.7.1"
	check "dns hijack ($what): ... and one asking 2001:db8::53 over IPv6, UDP and TCP" \
		bash -c "ip netns exec $NS_CLIENT dig +time=3 +tries=1 @2001:db8::53 AAAA h3.only.sgdns +short | grep -qx fd77:9::1 && ip netns exec $NS_CLIENT dig +time=3 +tries=1 @2001:db8::53 AAAA h4.only.sgdns +short +tcp | grep -qx fd77:9::1"
	check "dns hijack ($what): the answer comes from the address asked" \
		bash -c "ip netns exec $NS_CLIENT dig +time=3 +tries=1 @203.0.113.53 A h5.only.sgdns | grep -q 'SERVER: 203.0.113.53#53'"
	check "dns hijack ($what): other TCP still goes through the proxy" expect_file $SERVER4
	check "dns hijack ($what): rules flush leaves nothing" \
		bash -c "nsenter --net=/run/netns/$NS_ROUTER '$SOCKGATE' rules flush >/dev/null && ! ip netns exec $NS_ROUTER nft list table inet sockgate 2>/dev/null"
	check "dns hijack ($what): ... and port 53 goes nowhere unasked then" \
		bash -c "! ip netns exec $NS_CLIENT dig +time=1 +tries=1 @203.0.113.53 A h6.only.sgdns >/dev/null"
	rig_stop_sockgated
}

test_dns_hijack() {
	dns_start_resolver
	dns_hijack_in "TPROXY" "tproxy = 12346" 12346
	dns_hijack_in "REDIRECT" "redirect = $REDIRECT_PORT"
	# the tc program leaves destinations without a route alone (it cannot
	# tell them from local ones): a default route into the proxy host
	EBPF_USED=1
	ip -n $NS_ROUTER route add default via $PROXY4
	ip -n $NS_ROUTER -6 route add default via $PROXY6
	dns_hijack_in "eBPF" "tproxy = 12346
ebpf = on" 12346
	ip -n $NS_ROUTER route del default via $PROXY4
	ip -n $NS_ROUTER -6 route del default via $PROXY6
	rig_stop "$DNS_RESOLVER_PID"
	# back to the rig's REDIRECT rules
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" rules apply >/dev/null
}
