#!/bin/bash
# Integration tests: sockgated on a namespace router behind a real nftables
# REDIRECT rule, real upstream proxies (dante, microsocks, tinyproxy), a real
# web server (nginx) and real clients (curl, socat). See tests/lib/rig.sh.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/rig.sh
source tests/lib/rig.sh

rig_require_root integration

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL - $*"
	if [ -n "${SOCKGATED_PID:-}" ] && [ -s "$RIG_DIR/sockgated.log" ]; then
		tail -n 5 "$RIG_DIR/sockgated.log" | sed 's/^/       log: /'
	fi
}
check() { # description, command...
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

url_of() { # address path [port]
	local port=${3:+:$3}
	case $1 in *:*) echo "http://[$1]$port$2" ;; *) echo "http://$1$port$2" ;; esac
}

# curl from the client; prints "EXIT HTTPCODE SHA256" and leaves stderr in $RIG_DIR/curl.err
client_fetch() {
	local url=$1
	shift
	local out=$RIG_DIR/fetch.out code rc
	code=$(in_ns $NS_CLIENT curl -sS -m 20 "$@" -o "$out" -w '%{http_code}' "$url" 2>"$RIG_DIR/curl.err")
	rc=$?
	echo "$rc $code $(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)"
	rm -f "$out"
}

expect_file() { # family-address
	local got want
	want=$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)
	got=$(client_fetch "$(url_of "$1" /file10m)")
	[ "$got" = "0 200 $want" ] || { echo "       got: $got $(cat "$RIG_DIR/curl.err")"; return 1; }
}

expect_parallel() { # address count
	local ok
	ok=$(seq "$2" | in_ns $NS_CLIENT xargs -P "$2" -I{} \
		curl -s -m 20 -o /dev/null -w '%{http_code}\n' "$(url_of "$1" '/small?{}')" | grep -c '^200$')
	[ "$ok" -eq "$2" ] || { echo "       only $ok of $2 succeeded"; return 1; }
}

# The client must see a TCP reset (curl: couldn't connect / send / recv
# failure), not a clean close (52) or a timeout (28).
expect_reset() { # url [max_ms]
	local url=$1 max=${2:-3000} t0 t1 rc
	t0=$(date +%s%N)
	in_ns $NS_CLIENT curl -sS -m 10 -o /dev/null "$url" 2>"$RIG_DIR/curl.err"
	rc=$?
	t1=$(date +%s%N)
	case $rc in
	7 | 55 | 56) ;;
	*) echo "       curl exit $rc: $(cat "$RIG_DIR/curl.err")"; return 1 ;;
	esac
	if [ $(((t1 - t0) / 1000000)) -gt "$max" ]; then
		echo "       reset took $(((t1 - t0) / 1000000)) ms (limit $max)"
		return 1
	fi
}

expect_log() { # pattern
	local i
	for i in $(seq 1 40); do
		grep -q -- "$1" "$RIG_DIR/sockgated.log" && return 0
		sleep 0.05
	done
	echo "       no log line matching: $1"
	return 1
}

# A server-first service (like SSH): the client sends nothing and must get
# the banner, which reaches sockgated right behind the proxy's reply.
expect_banner() { # address
	local got
	got=$(in_ns $NS_CLIENT timeout 5 socat -u "TCP:$1:2222" - 2>&1 | head -n 1)
	[ "$got" = "SSH-2.0-sockgate-test" ] || { echo "       got: '$got'"; return 1; }
}

relay_suite() { # label url [upstream extra] [v4only]
	local label=$1 url=$2 extra=${3:-} v4only=${4:-}
	rig_start_sockgated "$url" "$extra"
	check "$label: 10 MB over IPv4, sha256 matches" expect_file $SERVER4
	check "$label: 200 parallel requests over IPv4" expect_parallel $SERVER4 200
	if [ -z "$v4only" ]; then
		check "$label: 10 MB over IPv6, sha256 matches" expect_file $SERVER6
		check "$label: 200 parallel requests over IPv6" expect_parallel $SERVER6 200
	else
		check "$label: IPv6 target is reset (protocol has no IPv6)" expect_reset "$(url_of $SERVER6 /small)"
		check "$label: ... and logged" expect_log "cannot carry an IPv6 target; client reset"
	fi
	check "$label: server speaks first: banner arrives (IPv4)" expect_banner $SERVER4
	[ -z "$v4only" ] && check "$label: server speaks first: banner arrives (IPv6)" expect_banner "[$SERVER6]"
	check "$label: closed target port -> client reset" expect_reset "$(url_of $SERVER4 /small 81)"
	if [ "$url" = direct ]; then
		check "$label: ... and one log line naming client, target, reason" \
			expect_log "$CLIENT4:[0-9]* -> $SERVER4:81 via direct: connect to $SERVER4:81: Connection refused; client reset"
	else
		check "$label: ... and one log line naming client, target, upstream" \
			expect_log "$CLIENT4:[0-9]* -> $SERVER4:81 via up (${url%%:*} .*client reset"
	fi
	rig_stop_sockgated
}

test_check_mode() {
	local conf=$RIG_DIR/bad.conf out rc
	printf '[daemon]\nworkers = many\nbogus = 1\n[upstream x]\nurl = socks5://h:99999\n' >"$conf"
	out=$("$SOCKGATED" --check -c "$conf" 2>&1)
	rc=$?
	check "--check: exit 1 on errors" test $rc -eq 1
	check "--check: FILE:LINE for a bad value" grep -q "^$conf:2: workers" <<<"$out"
	check "--check: unknown keys are errors" grep -q "^$conf:3: unknown key \"bogus\"" <<<"$out"
	check "--check: URL errors carry their line" grep -q "^$conf:5: upstream \"x\": bad port" <<<"$out"
	printf '[upstream x]\nurl = socks5://127.0.0.1:1080\n' >"$conf"
	check "--check: a good file passes" bash -c "'$SOCKGATED' --check -c '$conf' >/dev/null"
	check "--check: the shipped example config passes" \
		bash -c "'$SOCKGATED' --check -c docs/sockgate.conf.example >/dev/null"
	check "--check: missing file fails" bash -c "! '$SOCKGATED' --check -c /nonexistent 2>/dev/null"
}

test_early_data() {
	local got
	rig_spawn $NS_PROXY FAKE_PID "$RIG_DIR/fake.out" python3 tests/integration/fake_socks5.py $PROXY4 1090 "$RIG_DIR/fake.log"
	rig_wait_port $NS_PROXY 1090
	rig_start_sockgated "socks5://$PROXY4:1090"
	got=$( (echo ping; sleep 1) | in_ns $NS_CLIENT timeout 5 socat - TCP:$SERVER4:2222 2>&1 | head -n 2 | tr '\n' ' ')
	check "SOCKS5 greeting and request leave in one segment" grep -q "pipelined=True" "$RIG_DIR/fake.log"
	check "target bytes in the same segment as the reply reach the client, then the relay ($got)" \
		test "$got" = "EARLY-BANNER ping "
	rig_stop_sockgated
	rig_stop "$FAKE_PID"
}

test_pipelining_stall_hint() {
	rig_start_sockgated "socks5://$PROXY4:1081" "" "handshake_timeout = 1s"
	check "microsocks without pipeline = no: reset after the handshake timeout" \
		expect_reset "$(url_of $SERVER4 /small)" 2500
	check "... and the log says to set pipeline = no" expect_log "set pipeline = no"
	rig_stop_sockgated
}

test_wrong_passwords() {
	rig_start_sockgated "socks5://$MICROSOCKS_USER:wrong@$PROXY4:1082" "pipeline = no"
	check "SOCKS5 wrong password (microsocks): client reset" expect_reset "$(url_of $SERVER4 /small)" 1000
	check "SOCKS5 wrong password (microsocks): logged" expect_log "username/password rejected; client reset"
	check "SOCKS5 wrong password: the password is not logged" bash -c "! grep -q wrong '$RIG_DIR/sockgated.log'"
	rig_stop_sockgated
	rig_start_sockgated "socks5://$DANTE_USER:wrong@$PROXY4:1083"
	check "SOCKS5 wrong password (dante, pipelined): client reset" expect_reset "$(url_of $SERVER4 /small)" 1000
	check "SOCKS5 wrong password (dante, pipelined): logged" expect_log "username/password rejected; client reset"
	rig_stop_sockgated
	rig_start_sockgated "http://$TINYPROXY_USER:wrong@$PROXY4:8888"
	check "HTTP wrong password: client reset" expect_reset "$(url_of $SERVER4 /small)" 1000
	check "HTTP wrong password: logged" expect_log "proxy authentication failed (40[17]); client reset"
	rig_stop_sockgated
}

test_upstream_killed() {
	local pid t0 t1 rc
	rig_spawn $NS_SERVER SINK_PID "$RIG_DIR/sink.log" socat -u TCP-LISTEN:9,reuseaddr,fork OPEN:/dev/null
	rig_wait_port $NS_SERVER 9
	rig_start_sockgated "socks5://$PROXY4:1080"
	# An upload in flight when the proxy dies: the proxy's kernel answers
	# with RST, and the client must get one too, promptly.
	in_ns $NS_CLIENT socat -u /dev/zero TCP:$SERVER4:9 2>/dev/null &
	pid=$!
	sleep 1
	rig_kill_tree "$DANTE_PID"
	t0=$(date +%s%N)
	wait $pid
	rc=$?
	t1=$(date +%s%N)
	check "upstream killed mid-transfer: client stream fails (exit $rc)" test $rc -ne 0
	check "upstream killed mid-transfer: client reset within 1 s" test $(((t1 - t0) / 1000000)) -le 1000
	rig_stop "$DANTE_PID"
	check "upstream down: new connection reset within 1 s" expect_reset "$(url_of $SERVER4 /small)" 1000
	check "upstream down: logged" expect_log "connect to $PROXY4:1080: Connection refused; client reset"
	rig_start_dante
	check "upstream back: relaying again" expect_file $SERVER4
	rig_stop_sockgated
	rig_stop "$SINK_PID"
}

test_timeouts() {
	local got
	# Nobody answers ARP for .99 on the proxy link: the SYN goes nowhere.
	rig_start_sockgated "socks5://10.77.2.99:1080" "" "connect_timeout = 1s"
	check "connect timeout: client reset after connect_timeout" \
		expect_reset "$(url_of $SERVER4 /small)" 2500
	check "connect timeout: logged" expect_log "connect timed out after 1000 ms; client reset"
	rig_stop_sockgated
	rig_start_sockgated "socks5://$PROXY4:1080" "" "idle_timeout = 1s"
	got=$(idle_close_ms 8)
	check "idle timeout: an idle flow is closed after 1-2x idle_timeout ($got ms)" \
		test "$got" -ge 900 -a "$got" -le 2500
	rig_stop_sockgated
}

# Opens a flow to the echo server, sends one line, then waits: prints the
# ms from the echo until the flow is closed (-1: still open after $1 s).
idle_close_ms() { # seconds
	in_ns $NS_CLIENT python3 - $SERVER4 "$1" <<-'PY'
	import socket, sys, time
	s = socket.create_connection((sys.argv[1], 7), timeout=float(sys.argv[2]))
	s.sendall(b"first\n")
	s.recv(100)
	t = time.monotonic()
	try:
	    while s.recv(100):
	        pass
	except socket.timeout:
	    print(-1)
	    sys.exit()
	except OSError:
	    pass
	print(int((time.monotonic() - t) * 1000))
	PY
}

test_half_close_and_mark() {
	local got pid marks
	rig_start_sockgated "socks5://$PROXY4:1080"
	# cat answers and exits only on EOF: the client's FIN must cross both hops.
	got=$(printf 'half-close\n' | in_ns $NS_CLIENT timeout 5 socat -t 5 - TCP:$SERVER4:7)
	check "half-close propagated (IPv4 echo after FIN)" test "$got" = half-close
	got=$(printf 'half-close6\n' | in_ns $NS_CLIENT timeout 5 socat -t 5 - "TCP6:[$SERVER6]:7")
	check "half-close propagated (IPv6 echo after FIN)" test "$got" = half-close6
	in_ns $NS_CLIENT curl -s -m 30 --limit-rate 500k -o /dev/null "$(url_of $SERVER4 /file10m)" &
	pid=$!
	# the transfer takes 20 s; look until its upstream socket shows up
	for _ in $(seq 50); do
		marks=$(in_ns $NS_ROUTER ss -tnHe state established "dst $PROXY4" 2>/dev/null | grep -c "fwmark:0x2a0")
		[ "$marks" -ge 1 ] && break
		sleep 0.1
	done
	check "upstream sockets carry the mark 0x2a0 ($marks seen)" test "$marks" -ge 1
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	rig_stop_sockgated
}

# A client that stops reading a download: sockgated's socket toward it holds
# at most about TCP_NOTSENT_LOWAT (128 KiB, plus the 64 KiB packet being
# built) unsent, not its whole send buffer (1-2 MB here without the bound).
test_stalled_reader_bound() {
	local pid q max=0
	rig_start_sockgated "socks5://$PROXY4:1080"
	in_ns $NS_CLIENT python3 -c "
import socket, time
s = socket.create_connection(('$SERVER4', 80))
s.sendall(b'GET /file10m HTTP/1.1\r\nHost: t\r\n\r\n')
n = 0
while n < 100000:
    n += len(s.recv(65536))
time.sleep(5)" &
	pid=$!
	for _ in $(seq 30); do
		sleep 0.1
		# unsent bytes only: what is in flight is bounded by the client's window
		q=$(in_ns $NS_ROUTER ss -tniH state established "sport = :$REDIRECT_PORT" |
			grep -o 'notsent:[0-9]*' | head -1 | cut -d: -f2)
		[ "${q:-0}" -gt "$max" ] && max=$q
	done
	check "a stalled reader's socket holds little unsent ($max bytes, <= 256 KiB)" \
		test "$max" -gt 0 -a "$max" -le 262144
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	rig_stop_sockgated
}

# A download read slowly by a client whose own buffers are small: the
# router holds about a second of its pace (the upstream socket's receive
# queue stays small, where autotuning let it grow to megabytes); read fast
# afterwards, the rest comes whole and quickly (the bound is lifted).
test_slow_reader_backlog() {
	local out max=0 r
	rig_start_sockgated "socks5://$PROXY4:1080"
	in_ns $NS_CLIENT python3 -c "
import hashlib, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
s.connect(('$SERVER4', 80))
s.sendall(b'GET /file10m HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
data = b''
t_end = time.time() + 5
while time.time() < t_end:
    data += s.recv(16384)
    time.sleep(0.1)
t0 = time.time()
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    data += b
body = data.split(b'\r\n\r\n', 1)[1]
print(hashlib.sha256(body).hexdigest(), len(body), '%.1f' % (time.time() - t0))
" >"$RIG_DIR/slow-reader.out" &
	local pid=$!
	sleep 2
	for _ in $(seq 25); do
		# skmem r: what the router's sockets toward dante hold received
		r=$(in_ns $NS_ROUTER ss -tmHn state established "dport = :1080" |
			grep -o 'skmem:(r[0-9]*' | tr -dc '0-9\n' | sort -n | tail -1)
		[ "${r:-0}" -gt "$max" ] && max=$r
		sleep 0.1
	done
	check "a slow reader's upstream socket holds about a second of its pace ($max bytes received and waiting, <= 512 KiB)" \
		test "$max" -gt 0 -a "$max" -le 524288
	check "... counted as held in sockgate stats" \
		bash -c "'$SOCKGATE' --json -c '$RIG_DIR/sockgate.conf' stats | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"backlog\"][\"holds\"] >= 1 else 1)'"
	wait $pid
	out=$(cat "$RIG_DIR/slow-reader.out")
	check "... read fast afterwards, the rest comes whole and quickly ($out)" \
		bash -c "set -- $out; [ \"\$1 \$2\" = '$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1) 10485760' ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 5 else 1)' \$3"
	rig_stop_sockgated
}

# [daemon] max_flows: past it new connections are reset at once, counted,
# and a place freed is taken again. pipe_size: the splice pipes are that
# size, and a reload changes it for the pipes made afterwards.
test_max_flows_and_pipe_size() {
	local ctl="$SOCKGATE -c $RIG_DIR/sockgate.conf" got
	rig_start_sockgated "socks5://$PROXY4:1080" "" "max_flows = 3
pipe_size = 64K
metrics = 127.0.0.1:9182"
	got=$(in_ns $NS_CLIENT python3 -c "
import socket, time
def echo(s, b):
    s.sendall(b)
    return s.recv(64) == b
held = [socket.create_connection(('$SERVER4', 7), timeout=5) for _ in range(3)]
print('held', all(echo(s, b'x%d' % i) for i, s in enumerate(held)))
try:
    s = socket.create_connection(('$SERVER4', 7), timeout=5)
    s.sendall(b'over')
    print('over', s.recv(64))
# the reset may come before the connect is seen done, before the send, or after
except (ConnectionResetError, BrokenPipeError):
    print('over reset')
held.pop().close()
time.sleep(0.5)
s = socket.create_connection(('$SERVER4', 7), timeout=5)
print('freed', echo(s, b'again'))" 2>&1)
	check "max_flows = 3: three connections held and echoed" grep -q '^held True$' <<<"$got"
	check "... a fourth is reset at once ($(grep "^over" <<<"$got"))" grep -q '^over reset$' <<<"$got"
	check "... and once one closes, a new one is served" grep -q '^freed True$' <<<"$got"
	check "... the reset is counted (stats flows_shed), the cap shown in status" bash -c "
		$ctl --json stats | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"flows_shed\"] == 1' &&
		$ctl status | grep -q '(max_flows 3)' &&
		grep -q 'flows live (max_flows): new connections are reset' '$RIG_DIR/sockgated.log'"
	check "pipe_size = 64K: a 10 MB download through 64 KiB pipes is intact" expect_file $SERVER4
	got=$(python3 tests/integration/pipe_sizes.py "$SOCKGATED_PID" | tr '\n' ' ')
	check "... and the daemon's pipes are 64 KiB ($got)" test "$got" = "65536 "
	check "status shows the memory: RSS, the pipes and their capacity, the kernel's socket buffers" \
		bash -c "$ctl --json status | python3 -c '
import json, sys
m = json.load(sys.stdin)[\"daemon\"][\"memory\"]
assert m[\"rss_bytes\"] > 1 << 20 and m[\"pipes\"] >= 1, m
assert m[\"pipe_bytes\"] == 65536 * m[\"pipes\"] and m[\"kernel_tcp_bytes\"] >= 0, m' &&
		$ctl status | grep -q '^memory: RSS [0-9]* KiB; [0-9]* pipes of [0-9]* KiB in all'"
	check "... and the metrics too" bash -c "ip netns exec $NS_ROUTER curl -s http://127.0.0.1:9182/metrics |
		grep -Eq '^sockgate_memory_bytes\{kind=\"pipes\"\} [1-9][0-9]*\$' &&
		ip netns exec $NS_ROUTER curl -s http://127.0.0.1:9182/metrics |
		grep -Eq '^sockgate_kernel_socket_memory_bytes\{protocol=\"tcp\"\} [0-9]+\$'"
	sed -i 's/^pipe_size = 64K/pipe_size = 256K/' "$RIG_DIR/sockgate.conf"
	$ctl reload >/dev/null
	expect_file $SERVER4 >/dev/null
	got=$(python3 tests/integration/pipe_sizes.py "$SOCKGATED_PID" | tr '\n' ' ')
	check "... after a reload to 256K, the pipes made since are ($got)" test "$got" = "262144 "
	rig_stop_sockgated
}

test_fd_budget() {
	local cpu0 cpu1 ticks
	# 200 fds: 64 reserved, about 66 flows fit; 100 idle clients overflow it.
	SOCKGATED_PREFIX="prlimit --nofile=200:200" rig_start_sockgated "socks5://$PROXY4:1080" "" "workers = 1"
	in_ns $NS_CLIENT python3 - "$SERVER4" >"$RIG_DIR/hold.log" 2>&1 <<-'PY' &
	import socket, sys, time
	held = []
	for _ in range(100):
	    s = socket.socket()
	    s.settimeout(5)
	    s.connect((sys.argv[1], 80))
	    held.append(s)
	time.sleep(3)
	PY
	local holder=$!
	check "fd budget: pause is logged once" expect_log "fd budget full"
	cpu0=$(awk '{print $14 + $15}' /proc/"$SOCKGATED_PID"/stat)
	sleep 1
	cpu1=$(awk '{print $14 + $15}' /proc/"$SOCKGATED_PID"/stat)
	ticks=$((cpu1 - cpu0))
	check "fd budget: no busy loop while paused ($ticks ticks in 1 s)" test $ticks -le 10
	check "fd budget: logged once per episode" test "$(grep -c 'fd budget full' "$RIG_DIR/sockgated.log")" -eq 1
	wait $holder
	check "fd budget: accepting again after flows end" expect_file $SERVER4
	check "fd budget: resume logged" expect_log "accepting"
	rig_stop_sockgated
}

test_sigterm() {
	local t0 t1 rc
	rig_start_sockgated "socks5://$PROXY4:1080"
	t0=$(date +%s%N)
	kill -TERM "$SOCKGATED_PID"
	wait "$SOCKGATED_PID"
	rc=$?
	t1=$(date +%s%N)
	rig_stop "$SOCKGATED_PID"
	SOCKGATED_PID=""
	check "SIGTERM: exit status 0" test $rc -eq 0
	check "SIGTERM: stops within 1 s" test $(((t1 - t0) / 1000000)) -le 1000
	check "SIGTERM: listener closed" test -z "$(in_ns $NS_ROUTER ss -Hltn "sport = :$REDIRECT_PORT")"
}

# shellcheck source=socks_server.sh
source tests/integration/socks_server.sh
# shellcheck source=cli_rules.sh
source tests/integration/cli_rules.sh
# shellcheck source=udp.sh
source tests/integration/udp.sh
# shellcheck source=ebpf.sh
source tests/integration/ebpf.sh
# shellcheck source=sniff.sh
source tests/integration/sniff.sh
# shellcheck source=fakeip.sh
source tests/integration/fakeip.sh
# shellcheck source=service.sh
source tests/integration/service.sh
# shellcheck source=guards.sh
source tests/integration/guards.sh
# shellcheck source=dns.sh
source tests/integration/dns.sh
# shellcheck source=groups.sh
source tests/integration/groups.sh
# shellcheck source=policy.sh
source tests/integration/policy.sh
# shellcheck source=http_proxy.sh
source tests/integration/http_proxy.sh
# shellcheck source=ttfb.sh
source tests/integration/ttfb.sh

rig_up
rig_start_web
rig_start_dante
rig_start_dante_auth
rig_start_microsocks
rig_start_tinyproxy
rig_redirect_rule
rig_spawn $NS_SERVER BANNER_PID "$RIG_DIR/banner.log" \
	socat TCP6-LISTEN:2222,reuseaddr,fork SYSTEM:'echo SSH-2.0-sockgate-test; sleep 2'
rig_wait_port $NS_SERVER 2222
rig_spawn $NS_SERVER ECHO_PID "$RIG_DIR/echo.log" socat TCP-LISTEN:7,reuseaddr,fork EXEC:cat
rig_spawn $NS_SERVER ECHO6_PID "$RIG_DIR/echo6.log" socat TCP6-LISTEN:7,ipv6only=1,reuseaddr,fork EXEC:cat
rig_wait_port $NS_SERVER 7

# SG_TESTS="test_a test_b": only those (for working on one part)
if [ -n "${SG_TESTS:-}" ]; then
	for t in $SG_TESTS; do $t; done
	echo "integration: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit
fi

test_check_mode
test_cli_rules
relay_suite "dante socks5" "socks5://$PROXY4:1080"
relay_suite "dante socks5 (upstream over IPv6)" "socks5://[$PROXY6]:1080"
relay_suite "dante socks5 + auth (pipelined)" "socks5://$DANTE_USER:$DANTE_PASS@$PROXY4:1083"
relay_suite "microsocks socks5" "socks5://$PROXY4:1081" "pipeline = no"
relay_suite "microsocks socks5 + auth" \
	"socks5://$MICROSOCKS_USER:$(printf %s "$MICROSOCKS_PASS" | sed 's/:/%3A/; s/@/%40/')@$PROXY4:1082" "pipeline = no"
relay_suite "dante socks4" "socks4://$PROXY4:1080" "" v4only
relay_suite "dante socks4a" "socks4a://$PROXY4:1080" "" v4only
relay_suite "tinyproxy http CONNECT + Basic auth" "http://$TINYPROXY_USER:$TINYPROXY_PASS@$PROXY4:8888"
rig_open_direct_path
relay_suite "direct" direct
rig_close_direct_path
test_cli_bypass_live
test_tproxy_mode
test_udp_tproxy
test_udp_unsupported_upstream
test_udp_relay_address
test_udp_lru
test_udp_beside_redirect
test_ebpf_tc
test_ebpf_fallback
test_ebpf_cgroup
test_control_socket
test_reload
test_local_traffic
test_conns_json_names
test_early_data
test_pipelining_stall_hint
test_wrong_passwords
test_upstream_killed
test_warm_sessions
test_optimistic_data
test_loop_guard
test_loop_guard_tproxy
test_guard_mapped
test_guard_connected
test_guard_udp_reply_source
test_control_not_stalled
test_client_caps
test_tproxy_fail_closed
test_when_down_block
test_reload_shortens_timeouts
test_timeouts
test_half_close_and_mark
test_stalled_reader_bound
test_slow_reader_backlog
test_max_flows_and_pipe_size
test_fd_budget
test_sigterm
test_service_notify
test_crash_restart
test_metrics
test_privilege_drop
test_syslog
socks_targets
test_socks_config_safety
test_socks_no_auth
test_socks_udp_routes
test_socks_auth
http_targets
test_http_proxy
test_http_auth
http_stop_targets
test_dns_service
test_dns_hijack
test_sniff
test_domain_routes
test_fakeip
test_groups
test_route_policy
test_intake_selectors
test_route_list_scale

echo "integration: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
