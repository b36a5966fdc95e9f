#!/bin/bash
# make bench: sockgated against redsocks in the same redirect position, with
# the same upstream (dante), on the namespace rig of the tests; then
# sockgated's SOCKS server against microsocks and dante-server in the same
# place (the router), each connecting directly to the target. A benchmark,
# not a test: it prints numbers and ratios, and fails only if a run breaks.
set -u
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/rig.sh
source tests/lib/rig.sh

# Rounds alternate sockgated and redsocks; the table shows medians, since
# one pass on a small shared machine swings by 20% or more.
ROUNDS=${ROUNDS:-3}
AB_REQUESTS=${AB_REQUESTS:-20000}
AB_CONCURRENCY=${AB_CONCURRENCY:-50}
IPERF_SECONDS=${IPERF_SECONDS:-5}
# Which comparisons to run: "redirect" (vs redsocks), "udp" (transparent
# UDP vs redsocks' redudp), "intake" (eBPF tc vs nftables TPROXY vs
# REDIRECT, and the cgroup hooks vs an output-chain REDIRECT), "socks"
# (SOCKS server vs microsocks and dante).
# "dns" (the DNS service's cache vs dnsmasq's, and uncached through ssh -D
# over a delay line).
# "names" (sniffing's cost per connection, and fake-IP answers per second).
# "failover" (a group's first member killed under load: time to the first
# flow the second serves, and the failures the clients saw).
# "lists" (route lookups at 1,000 .. 1,000,000 prefixes; CPU per connection
# with a 100,000-prefix route file against none).
# "ttfb" (time to first byte over a delay line: direct, cold, warm, warm +
# optimistic, redsocks; TTFB_RS round trips in ms, TTFB_FLOWS per run).
# "longpath" (one LONG_MB download over a path of 2 x LONG_DELAY_MS, open and
# with the LAN shaped to LONG_RATE, vs redsocks).
# "memory" (RSS, pipes and the kernel's TCP buffers with IDLE_CONNS idle and
# BUSY_FLOWS slowly read flows).
# "http" (the HTTP proxy on the SOCKS port vs tinyproxy; BENCH_PERF=1 also
# profiles sockgated during the CONNECTs into build/bench-connect-profile.txt).
BENCH_PARTS=${BENCH_PARTS:-redirect udp intake socks http dns names failover lists ttfb longpath memory}
FAILOVER_RUNS=${FAILOVER_RUNS:-10}
FAILOVER_THREADS=${FAILOVER_THREADS:-20}
DNS_SECONDS=${DNS_SECONDS:-5}
DNS_NAMES=${DNS_NAMES:-2000}
DNS_DELAY_MS=${DNS_DELAY_MS:-10}
UDP_SOCKETS=${UDP_SOCKETS:-8}
UDP_WINDOW=${UDP_WINDOW:-16}
UDP_SECONDS=${UDP_SECONDS:-5}
# 10,000 idle flows need ~20,000 fds in the daemon; where the hard
# RLIMIT_NOFILE is lower (and cannot be raised), hold as many as fit.
HARD_NOFILE=$(ulimit -Hn)
[ "$HARD_NOFILE" = unlimited ] && HARD_NOFILE=1048576
IDLE_MAX=$(((HARD_NOFILE - 400) / 2))
IDLE_CONNS=${IDLE_CONNS:-$((IDLE_MAX < 10000 ? IDLE_MAX : 10000))}
CLK_TCK=$(getconf CLK_TCK)

rig_require_root bench

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU of the whole machine (every process and softirq: kernel work such as
# the intake's, or a send's transmit, is not always charged to the process
# it serves), in jiffies.
system_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# CPU of a process, its threads and all its descendants, live or reaped
# (dante works in forked children).
tree_ticks() { # pid
	local total=0 p
	for p in $1 $(pgrep -P "$1"); do
		if [ "$p" = "$1" ]; then
			total=$((total + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0)))
		else
			total=$((total + $(tree_ticks "$p")))
		fi
	done
	echo "$total"
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# Appends "gbps_N" and "cpu_s_per_gb_N" lines to $1 for an iperf3 JSON
# report and the CPU ticks spent during it (and "sys_cpu_s_per_gb_N" for
# the whole machine's, where given).
iperf_lines() { # out streams json ticks [system-ticks]
	local out=$1 streams=$2 json=$3 ticks=$4 sys_ticks=${5:-} bytes
	bytes=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d["end"]["sum_received"]["bytes"]))' <<<"$json" 2>/dev/null || echo 0)
	echo "gbps_$streams $(python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$json" 2>/dev/null || echo 0)" >>"$out"
	if [ "$bytes" -gt 0 ]; then
		echo "cpu_s_per_gb_$streams $(python3 -c "print('%.3f' % ($ticks / $CLK_TCK / ($bytes / 1e9)))")" >>"$out"
		[ -n "$sys_ticks" ] &&
			echo "sys_cpu_s_per_gb_$streams $(python3 -c "print('%.3f' % ($sys_ticks / $CLK_TCK / ($bytes / 1e9)))")" >>"$out"
	else
		echo "cpu_s_per_gb_$streams n/a" >>"$out"
	fi
}

# Appends ab's short GETs (connections/s, p50, p99, failures) and the CPU
# of pid per connection to $1.
ab_lines() { # out pid
	local out=$1 pid=$2 c0 c1 ab
	c0=$(cpu_ticks "$pid")
	ab=$(in_ns $NS_CLIENT ab -q -r -n "$AB_REQUESTS" -c "$AB_CONCURRENCY" "http://$SERVER4/small" 2>&1)
	c1=$(cpu_ticks "$pid")
	echo "conn_per_s $(awk '/^Requests per second/ {print $4}' <<<"$ab")" >>"$out"
	echo "p50_ms $(awk '$1 == "50%" {print $2}' <<<"$ab")" >>"$out"
	echo "p99_ms $(awk '$1 == "99%" {print $2}' <<<"$ab")" >>"$out"
	echo "failed $(awk '/^Failed requests/ {print $3}' <<<"$ab")" >>"$out"
	echo "cpu_us_per_conn $(python3 -c "print('%.1f' % ($((c1 - c0)) / $CLK_TCK * 1e6 / $AB_REQUESTS))")" >>"$out"
}

# Appends "key value" lines for one proxy and round to $RIG_DIR/$1.results.
measure() { # name pid
	local name=$1 pid=$2 out=$RIG_DIR/$1.round c0 c1 s0 s1 ab iperf holder fds0 fds1 rss ready
	: >"$out"
	echo "bench: $name: warming up" >&2
	in_ns $NS_CLIENT ab -q -n 1000 -c "$AB_CONCURRENCY" "http://$SERVER4/small" >/dev/null 2>&1

	echo "bench: $name: $AB_REQUESTS short GETs, $AB_CONCURRENCY concurrent, a new connection each" >&2
	ab_lines "$out" "$pid"

	for streams in 1 4; do
		echo "bench: $name: iperf3, $streams stream(s), $IPERF_SECONDS s" >&2
		c0=$(cpu_ticks "$pid") s0=$(system_ticks)
		iperf=$(in_ns $NS_CLIENT iperf3 -c $SERVER4 -P $streams -t "$IPERF_SECONDS" -J 2>&1)
		c1=$(cpu_ticks "$pid") s1=$(system_ticks)
		iperf_lines "$out" $streams "$iperf" $((c1 - c0)) $((s1 - s0))
	done

	echo "bench: $name: $IDLE_CONNS idle relayed connections" >&2
	fds0=$(ls "/proc/$pid/fd" | wc -l)
	coproc HOLD { in_ns $NS_CLIENT python3 tests/bench/hold_idle.py $SERVER4 "$IDLE_CONNS"; }
	holder=$HOLD_PID
	read -r -t 300 _ ready <&"${HOLD[0]}"
	sleep 1
	fds1=$(ls "/proc/$pid/fd" | wc -l)
	rss=$(status_kb "$pid" VmRSS)
	echo "idle_ready ${ready:-0}" >>"$out"
	echo "idle_fds_per_conn $(python3 -c "print('%.2f' % (($fds1 - $fds0) / max(1, ${ready:-0})))")" >>"$out"
	echo "idle_rss_mb $(python3 -c "print('%.1f' % ($rss / 1024))")" >>"$out"
	[ -n "${HOLD[1]:-}" ] && eval "exec ${HOLD[1]}>&-"
	wait "$holder" 2>/dev/null
	echo "peak_rss_mb $(python3 -c "print('%.1f' % ($(status_kb "$pid" VmHWM) / 1024))")" >>"$out"
	cat "$out" >>"$RIG_DIR/$name.results"
}

# Median of a metric over the rounds.
get() {
	awk -v k="$2" '$1 == k {print $2}' "$RIG_DIR/$1.results" | python3 -c '
import statistics, sys
v = [x.strip() for x in sys.stdin if x.strip()]
try:
    m = statistics.median(float(x) for x in v)
    print(("%d" if m == int(m) and "." not in v[0] else "%.2f") % m)
except ValueError:
    print(v[0] if v else "n/a")'
}
ratio() { python3 -c "a, b = '$1', '$2'
try: print('%.2f' % (float(a) / float(b)))
except Exception: print('n/a')"; }

RIG_NGINX_CONNS=30000 RIG_NGINX_WORKERS=2
rig_up
rig_start_web
rig_start_dante
rig_redirect_rule
rig_spawn $NS_SERVER IPERF_PID "$RIG_DIR/iperf3.log" iperf3 -s -p 5201
rig_wait_port $NS_SERVER 5201

# what every sockgated config of the bench starts with
BENCH_DAEMON_LINES="workers = auto
log_level = warn"
BENCH_DAEMON="[daemon]
control = $RIG_DIR/ctl.sock
$BENCH_DAEMON_LINES"
cat >"$RIG_DIR/bench.conf" <<CONF
$BENCH_DAEMON
[intake]
redirect = $REDIRECT_PORT
; the UDP part: TPROXY to 12346, beside the REDIRECT rule for TCP
tproxy = 12346
interfaces = r0
bypass_private = no
; one client host stands in for a whole LAN here: no per-client caps
max_flows_per_client = 0
max_udp_per_client = 0
[upstream dante]
url = socks5://$PROXY4:1080
CONF
# redsocks, same ports, same upstream
REDSOCKS_BASE="base {
	log_debug = off;
	log_info = off;
	log = stderr;
	daemon = off;
	redirector = iptables;
	rlimit_nofile = $HARD_NOFILE;
	redsocks_conn_max = 30000;
}"
cat >"$RIG_DIR/redsocks.conf" <<CONF
$REDSOCKS_BASE
redsocks {
	local_ip = 0.0.0.0;
	local_port = $REDIRECT_PORT;
	ip = $PROXY4;
	port = 1080;
	type = socks5;
}
CONF
# A fresh sockgated, then a fresh redsocks, behind the REDIRECT rule: runs
# "$@ NAME PID" with each (logs: sockgated$tag.log, redsocks$tag.log).
with_each_relay() { # tag command...
	local tag=$1
	shift
	rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated$tag.log" "$SOCKGATED" -f -c "$RIG_DIR/bench.conf"
	rig_wait_port $NS_ROUTER $REDIRECT_PORT
	"$@" sockgated "$SG_PID"
	rig_stop "$SG_PID"
	rig_spawn $NS_ROUTER RS_PID "$RIG_DIR/redsocks$tag.log" redsocks -c "$RIG_DIR/redsocks.conf"
	rig_wait_port $NS_ROUTER $REDIRECT_PORT
	"$@" redsocks "$RS_PID"
	rig_stop "$RS_PID"
}
for round in $(seq 1 "$ROUNDS"); do
	[[ " $BENCH_PARTS " == *" redirect "* ]] || break
	echo "bench: round $round of $ROUNDS" >&2
	with_each_relay "" measure
done

# ---- transparent UDP: sockgated vs redsocks' redudp, both by TPROXY to
# port 12346, through the same dante; a C echo server on the server ----
gcc -O2 -o "$RIG_DIR/udp_load" tests/bench/udp_load.c || exit 1
rig_spawn $NS_SERVER UDP_ECHO_PID "$RIG_DIR/udp-echo.log" "$RIG_DIR/udp_load" serve 7777
cat >"$RIG_DIR/redudp.conf" <<CONF
$REDSOCKS_BASE
redudp {
	local_ip = 0.0.0.0;
	local_port = 12346;
	ip = $PROXY4;
	port = 1080;
	udp_timeout = 30;
}
CONF

# Appends UDP lines for one relay and round to $RIG_DIR/$1.results.
measure_udp() { # name pid
	local name=$1 pid=$2 out=$RIG_DIR/$1.round c0 c1 load rate
	: >"$out"
	# warm-up: the associations of the first sockets are made here
	in_ns $NS_CLIENT "$RIG_DIR/udp_load" $SERVER4 7777 "$UDP_SOCKETS" "$UDP_WINDOW" 1 512 >/dev/null
	c0=$(tree_ticks "$pid")
	load=$(in_ns $NS_CLIENT "$RIG_DIR/udp_load" $SERVER4 7777 "$UDP_SOCKETS" "$UDP_WINDOW" "$UDP_SECONDS" 512)
	c1=$(tree_ticks "$pid")
	rate=$(awk '{print $2}' <<<"$load")
	echo "udp_dgram_per_s ${rate:-0}" >>"$out"
	echo "udp_lost $(awk '{print $4}' <<<"$load")" >>"$out"
	# each echo is two datagrams through the relay, one each way
	echo "udp_cpu_us_per_dgram $(python3 -c "r = ${rate:-0} * $UDP_SECONDS * 2
print('%.2f' % (($c1 - $c0) / $CLK_TCK * 1e6 / r) if r else 'n/a')")" >>"$out"
	cat "$out" >>"$RIG_DIR/$name.results"
}
for round in $(seq 1 "$ROUNDS"); do
	[[ " $BENCH_PARTS " == *" udp "* ]] || break
	echo "bench: UDP round $round of $ROUNDS" >&2
	[ "$round" = 1 ] && in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/bench.conf" rules apply >/dev/null
	rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-udp.log" "$SOCKGATED" -f -c "$RIG_DIR/bench.conf"
	rig_wait_port $NS_ROUTER 12346
	measure_udp sockgated-udp "$SG_PID"
	rig_stop "$SG_PID"
	rig_spawn $NS_ROUTER RU_PID "$RIG_DIR/redudp.log" redsocks -c "$RIG_DIR/redudp.conf"
	sleep 0.5
	measure_udp redudp "$RU_PID"
	rig_stop "$RU_PID"
done

# ---- the intake: how the LAN's (and the router's own) TCP reaches
# sockgated, with the same daemon and dante behind each ----

# ab and iperf3 from $2 (a command prefix that runs in the client's or the
# router's cgroup and namespace) for one intake; lines to $RIG_DIR/$1.results.
measure_intake() { # name runner...
	local name=$1 out=$RIG_DIR/$1.round c0 c1 ab iperf
	shift
	: >"$out"
	"$@" ab -q -n 1000 -c "$AB_CONCURRENCY" "http://$SERVER4/small" >/dev/null 2>&1
	c0=$(system_ticks)
	ab=$("$@" ab -q -r -n "$AB_REQUESTS" -c "$AB_CONCURRENCY" "http://$SERVER4/small" 2>&1)
	c1=$(system_ticks)
	grep -q '^Requests per second' <<<"$ab" || echo "bench: $name: ab failed: $(tail -n 2 <<<"$ab")" >&2
	echo "conn_per_s $(awk '/^Requests per second/ {print $4}' <<<"$ab")" >>"$out"
	echo "failed $(awk '/^Failed requests/ {print $3}' <<<"$ab")" >>"$out"
	echo "sys_cpu_us_per_conn $(((c1 - c0) * 1000000 / CLK_TCK / AB_REQUESTS))" >>"$out"
	iperf=$("$@" iperf3 -c $SERVER4 -t "$IPERF_SECONDS" -J 2>&1)
	echo "gbps_1 $(python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f" % (d["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$iperf" 2>/dev/null || echo 0)" >>"$out"
	cat "$out" >>"$RIG_DIR/$name.results"
}
lan() { in_ns $NS_CLIENT "$@"; }
router_local() { nsenter --net=/run/netns/$NS_ROUTER "$@"; }
in_bench_cgroup() { nsenter --net=/run/netns/$NS_ROUTER sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$BENCH_CGROUP" "$@"; }

# One intake: rules from its config, sockgated with the same config.
intake_round() { # name intake-lines runner...
	local name=$1 lines=$2
	shift 2
	rig_rules_conf "intake-$name" "$lines
max_flows_per_client = 0
max_udp_per_client = 0" "$BENCH_DAEMON_LINES"
	cat >>"$RIG_DIR/intake-$name.conf" <<-CONF
	[upstream dante]
	url = socks5://$PROXY4:1080
	CONF
	sed -i 's/^default = direct$/default = dante/' "$RIG_DIR/intake-$name.conf"
	rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-$name.log" "$SOCKGATED" -f -c "$RIG_DIR/intake-$name.conf"
	sleep 0.5
	# after the daemon, as systemd does: the eBPF intake takes its listeners
	nsenter --net=/run/netns/$NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/intake-$name.conf" rules apply >/dev/null || return 1
	measure_intake "$name" "$@"
	rig_stop "$SG_PID"
}
if [[ " $BENCH_PARTS " == *" intake "* ]]; then
	# the tc program leaves destinations without a route alone: give the
	# router a default route into the proxy host, which forwards nothing
	ip -n $NS_ROUTER route add default via $PROXY4
	BENCH_CGROUP=""
	CG2_ROOT=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
	[ -n "$CG2_ROOT" ] && BENCH_CGROUP=$CG2_ROOT/${RIG_PREFIX}-bench && mkdir -p "$BENCH_CGROUP"
	for round in $(seq 1 "$ROUNDS"); do
		echo "bench: intake round $round of $ROUNDS" >&2
		intake_round tc "tproxy = 12346
ebpf = on" lan
		intake_round tproxy "tproxy = 12346" lan
		intake_round redirect "redirect = $REDIRECT_PORT" lan
		if [ -n "$BENCH_CGROUP" ]; then
			intake_round cgroup "redirect = $REDIRECT_PORT
ebpf = on
cgroups = $BENCH_CGROUP" in_bench_cgroup
		fi
		intake_round output "redirect = $REDIRECT_PORT
local = yes" router_local
	done
	nsenter --net=/run/netns/$NS_ROUTER "$SOCKGATE" rules flush >/dev/null
	[ -n "$BENCH_CGROUP" ] && rmdir "$BENCH_CGROUP"
	ip -n $NS_ROUTER route del default
	rig_redirect_rule
fi

# ---- the SOCKS server role ----
SOCKS_ADDR=$ROUTER4_LAN
SOCKS_PORT=1080
gcc -O2 -o "$RIG_DIR/socks_load" tests/bench/socks_load.c || exit 1

measure_server() { # name pid
	local name=$1 pid=$2 out=$RIG_DIR/$1.round c0 c1 load iperf
	: >"$out"
	in_ns $NS_CLIENT "$RIG_DIR/socks_load" $SOCKS_ADDR $SOCKS_PORT $SERVER4 80 /small "$AB_CONCURRENCY" 1000 >/dev/null
	echo "bench: $name: $AB_REQUESTS short GETs through SOCKS5, $AB_CONCURRENCY concurrent, a new connection each" >&2
	c0=$(tree_ticks "$pid")
	load=$(in_ns $NS_CLIENT "$RIG_DIR/socks_load" $SOCKS_ADDR $SOCKS_PORT $SERVER4 80 /small "$AB_CONCURRENCY" "$AB_REQUESTS")
	c1=$(tree_ticks "$pid")
	echo "$load" >>"$out"
	echo "cpu_us_per_conn $(((c1 - c0) * 1000000 / CLK_TCK / AB_REQUESTS))" >>"$out"
	echo "bench: $name: iperf3 through proxychains4, 1 stream, $IPERF_SECONDS s" >&2
	c0=$(tree_ticks "$pid")
	iperf=$(in_ns $NS_CLIENT proxychains4 -q -f "$RIG_DIR/proxychains.conf" iperf3 -c $SERVER4 -t "$IPERF_SECONDS" -J 2>&1)
	c1=$(tree_ticks "$pid")
	iperf_lines "$out" 1 "$iperf" $((c1 - c0))
	cat "$out" >>"$RIG_DIR/$name.results"
}

rig_open_direct_path
cat >"$RIG_DIR/socks-server.conf" <<CONF
$BENCH_DAEMON
[intake]
redirect = $REDIRECT_PORT
[route]
default = direct
[socks]
listen = $SOCKS_ADDR:$SOCKS_PORT
auth = none
allow = 10.77.1.0/24
max_conns_per_client = 0
CONF
mkdir -p "$RIG_DIR/dante-server"
cat >"$RIG_DIR/dante-server/danted.conf" <<CONF
logoutput: $RIG_DIR/dante-server/danted.log
internal: $SOCKS_ADDR port = $SOCKS_PORT
external: $ROUTER4
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0/0 to: 0/0 }
socks pass { from: 0/0 to: 0/0 command: connect }
CONF
cat >"$RIG_DIR/proxychains.conf" <<CONF
strict_chain
tcp_read_time_out 15000
tcp_connect_time_out 8000
[ProxyList]
socks5 $SOCKS_ADDR $SOCKS_PORT
CONF
for round in $(seq 1 "$ROUNDS"); do
	[[ " $BENCH_PARTS " == *" socks "* ]] || break
	echo "bench: SOCKS server round $round of $ROUNDS" >&2
	rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-socks.log" "$SOCKGATED" -f -c "$RIG_DIR/socks-server.conf"
	rig_wait_port $NS_ROUTER $SOCKS_PORT
	measure_server sockgated-socks "$SG_PID"
	rig_stop "$SG_PID"
	rig_spawn $NS_ROUTER MS_PID "$RIG_DIR/microsocks-server.log" microsocks -i $SOCKS_ADDR -p $SOCKS_PORT
	rig_wait_port $NS_ROUTER $SOCKS_PORT
	measure_server microsocks "$MS_PID"
	rig_stop "$MS_PID"
	rig_spawn $NS_ROUTER DS_PID "$RIG_DIR/dante-server/out.log" danted -f "$RIG_DIR/dante-server/danted.conf" -p "$RIG_DIR/dante-server/danted.pid"
	rig_wait_port $NS_ROUTER $SOCKS_PORT
	measure_server dante "$DS_PID"
	rig_stop "$DS_PID"
done

# ---- the HTTP proxy role: sockgated's HTTP proxy (its SOCKS port takes
# HTTP too) vs tinyproxy, each on the router, connecting directly ----
HTTP_PORT=3128
# the SOCKS server role's config on tinyproxy's port
sed "s/^listen = $SOCKS_ADDR:$SOCKS_PORT\$/listen = $SOCKS_ADDR:$HTTP_PORT/" \
	"$RIG_DIR/socks-server.conf" >"$RIG_DIR/http-server.conf"
cat >"$RIG_DIR/tinyproxy-bench.conf" <<CONF
User nobody
Group nogroup
Port $HTTP_PORT
Listen $SOCKS_ADDR
Timeout 600
MaxClients 2000
LogFile "$RIG_DIR/tinyproxy-bench.log"
LogLevel Warning
PidFile "$RIG_DIR/tinyproxy-bench.pid"
Allow 10.77.1.0/24
ConnectPort 80
ConnectPort 5201
DisableViaHeader Yes
CONF
for kind in http socks5; do
	printf '%s\n' strict_chain "tcp_read_time_out 15000" "tcp_connect_time_out 8000" "[ProxyList]" \
		"$kind $SOCKS_ADDR $HTTP_PORT" >"$RIG_DIR/proxychains-$kind.conf"
done

measure_http() { # name pid
	local name=$1 pid=$2 out=$RIG_DIR/$1.round c0 c1 s0 s1 t0 t1 ab load iperf
	local x="-X $SOCKS_ADDR:$HTTP_PORT"
	: >"$out"
	# shellcheck disable=SC2086
	in_ns $NS_CLIENT ab -q -k -n 1000 -c "$AB_CONCURRENCY" $x "http://$SERVER4/small" >/dev/null 2>&1
	echo "bench: $name: $AB_REQUESTS plain GETs through the proxy, keep-alive, $AB_CONCURRENCY concurrent" >&2
	c0=$(tree_ticks "$pid")
	# shellcheck disable=SC2086
	ab=$(in_ns $NS_CLIENT ab -q -k -n "$AB_REQUESTS" -c "$AB_CONCURRENCY" $x "http://$SERVER4/small" 2>&1)
	c1=$(tree_ticks "$pid")
	{
		echo "get_per_s $(awk '/^Requests per second/ {print $4}' <<<"$ab")"
		echo "get_p50_ms $(awk '$1 == "50%" {print $2}' <<<"$ab")"
		echo "get_p99_ms $(awk '$1 == "99%" {print $2}' <<<"$ab")"
		echo "get_failed $(awk '/^Failed requests/ {print $3}' <<<"$ab")"
		echo "get_kept_alive $(awk '/^Keep-Alive requests/ {print $3}' <<<"$ab")"
		echo "get_cpu_us_per_req $(((c1 - c0) * 1000000 / CLK_TCK / AB_REQUESTS))"
	} >>"$out"
	echo "bench: $name: $AB_REQUESTS CONNECTs, a short GET in each, $AB_CONCURRENCY concurrent" >&2
	c0=$(tree_ticks "$pid")
	s0=$(system_ticks)
	t0=$(date +%s%N)
	# BENCH_PERF=1: where sockgated's time goes during the CONNECTs
	local perf_pid=""
	if [ -n "${BENCH_PERF:-}" ] && [ "$name" = sockgated-http ]; then
		perf record -q -e cpu-clock -F 2000 -g -p "$pid" -o "$RIG_DIR/connect.perf" 2>/dev/null &
		perf_pid=$!
	fi
	load=$(in_ns $NS_CLIENT "$RIG_DIR/socks_load" $SOCKS_ADDR $HTTP_PORT $SERVER4 80 /small "$AB_CONCURRENCY" "$AB_REQUESTS" connect)
	t1=$(date +%s%N)
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" 2>/dev/null
		mkdir -p build
		{
			perf report -i "$RIG_DIR/connect.perf" --stdio --no-children -g none --sort dso 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -8
			echo
			perf report -i "$RIG_DIR/connect.perf" --stdio --no-children -g none --sort sym 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -30
		} >build/bench-connect-profile.txt
	fi
	s1=$(system_ticks)
	c1=$(tree_ticks "$pid")
	sed 's/^/connect_/' <<<"$load" >>"$out"
	echo "connect_cpu_us_per_conn $(((c1 - c0) * 1000000 / CLK_TCK / AB_REQUESTS))" >>"$out"
	# how busy the whole machine was (every process, softirq): at 100%
	# the rate is the machine's, not the proxy's
	echo "connect_machine_busy_pct $(python3 -c "print('%.0f' % (100.0 * ($s1 - $s0) / $CLK_TCK / (($t1 - $t0) / 1e9) / $(nproc)))")" >>"$out"
	echo "bench: $name: iperf3 through CONNECT (proxychains4), 1 stream, $IPERF_SECONDS s" >&2
	c0=$(tree_ticks "$pid")
	iperf=$(in_ns $NS_CLIENT proxychains4 -q -f "$RIG_DIR/proxychains-http.conf" iperf3 -c $SERVER4 -t "$IPERF_SECONDS" -J 2>&1)
	c1=$(tree_ticks "$pid")
	iperf_lines "$out" 1 "$iperf" $((c1 - c0))
	if [ "$name" = sockgated-http ]; then
		echo "bench: $name: iperf3 through its SOCKS5, the same port, 1 stream" >&2
		iperf=$(in_ns $NS_CLIENT proxychains4 -q -f "$RIG_DIR/proxychains-socks5.conf" iperf3 -c $SERVER4 -t "$IPERF_SECONDS" -J 2>&1)
		iperf_lines "$RIG_DIR/socks-path.round" 1 "$iperf" 0
		awk '$1 == "gbps_1" {print "socks_gbps_1", $2}' "$RIG_DIR/socks-path.round" >>"$out"
		rm -f "$RIG_DIR/socks-path.round"
	fi
	cat "$out" >>"$RIG_DIR/$name.results"
}

for round in $(seq 1 "$ROUNDS"); do
	[[ " $BENCH_PARTS " == *" http "* ]] || break
	echo "bench: HTTP proxy round $round of $ROUNDS" >&2
	rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-http.log" "$SOCKGATED" -f -c "$RIG_DIR/http-server.conf"
	rig_wait_port $NS_ROUTER $HTTP_PORT
	measure_http sockgated-http "$SG_PID"
	rig_stop "$SG_PID"
	rig_spawn $NS_ROUTER TP_PID "$RIG_DIR/tinyproxy-bench.out" tinyproxy -d -c "$RIG_DIR/tinyproxy-bench.conf"
	rig_wait_port $NS_ROUTER $HTTP_PORT
	measure_http tinyproxy "$TP_PID"
	rig_stop "$TP_PID"
done
rig_close_direct_path


# ---- the DNS service: sockgated's cache vs dnsmasq's, both on the router's
# LAN address forwarding to the same resolver (dnsmasq on the server host);
# then uncached through an ssh -D upstream over a delay line ----
DNS_RESOLVER_PORT=5300
dns_resolver_up() {
	rig_spawn $NS_SERVER DNS_RESOLVER_PID "$RIG_DIR/dns-resolver.log" \
		dnsmasq -k -C /dev/null -u root --no-resolv --no-hosts --bind-interfaces \
		--listen-address=$SERVER4 --port=$DNS_RESOLVER_PORT --cache-size=0 \
		--pid-file="$RIG_DIR/dns-resolver.pid" --local-ttl=3600 --address=/bench.sgdns/10.9.7.1
	sleep 0.3
}

# "key value" lines from a dnsperf -v run (stdin): queries/s, p50/p99 ms, lost
dnsperf_lines() { # prefix
	python3 -c '
import sys
p = sys.argv[1]
lat, qps, lost = [], "n/a", "n/a"
for line in sys.stdin:
    f = line.split()
    if line.startswith("> ") and len(f) >= 5:
        lat.append(float(f[-1]) * 1000)
    elif line.strip().startswith("Queries per second:"):
        qps = "%.0f" % float(f[-1])
    elif line.strip().startswith("Queries lost:"):
        lost = f[2]
lat.sort()
q = lambda x: "%.3f" % lat[min(len(lat) - 1, int(len(lat) * x))] if lat else "n/a"
print("%s_qps %s\n%s_p50_ms %s\n%s_p99_ms %s\n%s_lost %s" % (p, qps, p, q(0.5), p, q(0.99), p, lost))
' "$1"
}

# Appends the cache-hit numbers of one server and round to $RIG_DIR/$1.results.
measure_dns_cached() { # name pid
	local name=$1 pid=$2 out=$RIG_DIR/$1.round c0 c1 run n
	: >"$out"
	# every name asked once: the cache holds them all afterwards
	in_ns $NS_CLIENT dnsperf -s $ROUTER4_LAN -d "$RIG_DIR/dns-names" -n 1 -q 50 >/dev/null 2>&1
	echo "bench: $name: cache hits for $DNS_SECONDS s, 100 queries outstanding" >&2
	c0=$(tree_ticks "$pid")
	run=$(in_ns $NS_CLIENT dnsperf -s $ROUTER4_LAN -d "$RIG_DIR/dns-names" -l "$DNS_SECONDS" -q 100 -v 2>&1)
	c1=$(tree_ticks "$pid")
	dnsperf_lines hit <<<"$run" >>"$out"
	n=$(awk '/Queries completed:/ {print $3}' <<<"$run")
	echo "hit_cpu_us_per_query $(python3 -c "print('%.2f' % ($((c1 - c0)) / $CLK_TCK * 1e6 / max(1, ${n:-0})))")" >>"$out"
	cat "$out" >>"$RIG_DIR/$name.results"
}


# Uncached queries through upstream URL $2 (server options $3), over the
# delay line: one at a time, then 50 outstanding; "PREFIX_key value" lines
# appended to $RIG_DIR/dns-uncached.results.
measure_dns_uncached() { # prefix url server-options
	local p=$1 pid
	cat >"$RIG_DIR/dns-$p.conf" <<-CONF
	$BENCH_DAEMON
	[intake]
	redirect = $REDIRECT_PORT
	[upstream up]
	url = $2
	[route]
	default = up
	[dns]
	listen = $ROUTER4_LAN:53
	server = $SERVER4:$DNS_RESOLVER_PORT$3
	allow = 10.77.1.0/24
	CONF
	rig_spawn $NS_ROUTER pid "$RIG_DIR/sockgated-dns-$p.log" "$SOCKGATED" -f -c "$RIG_DIR/dns-$p.conf"
	rig_wait_port $NS_ROUTER 53
	# the first query opens the connection (through ssh -D after its
	# UDP ASSOCIATE failed: TCP through CONNECT from then on)
	in_ns $NS_CLIENT dig +time=5 +tries=2 @$ROUTER4_LAN "open$p.bench.sgdns" >/dev/null
	sed "s/^/$p/" "$RIG_DIR/dns-seq" >"$RIG_DIR/dns-seq-$p"
	sed "s/^/$p/" "$RIG_DIR/dns-par" >"$RIG_DIR/dns-par-$p"
	echo "bench: uncached through $p, one query at a time, RTT $DNS_RTT_MS ms" >&2
	in_ns $NS_CLIENT dnsperf -s $ROUTER4_LAN -d "$RIG_DIR/dns-seq-$p" -n 1 -q 1 -v 2>&1 |
		dnsperf_lines "${p}_seq" >>"$RIG_DIR/dns-uncached.results"
	echo "bench: uncached through $p, 50 outstanding" >&2
	in_ns $NS_CLIENT dnsperf -s $ROUTER4_LAN -d "$RIG_DIR/dns-par-$p" -n 1 -q 50 -v 2>&1 |
		dnsperf_lines "${p}_par" >>"$RIG_DIR/dns-uncached.results"
	echo "${p}_resolver_conns $(in_ns $NS_SERVER ss -Htn state established "sport = :$DNS_RESOLVER_PORT" | wc -l)" >>"$RIG_DIR/dns-uncached.results"
	rig_stop "$pid"
}

if [[ " $BENCH_PARTS " == *" dns "* ]]; then
	rig_open_direct_path
	dns_resolver_up
	for i in $(seq 1 "$DNS_NAMES"); do echo "n$i.bench.sgdns A"; done >"$RIG_DIR/dns-names"
	cat >"$RIG_DIR/dns-cached.conf" <<-CONF
	$BENCH_DAEMON
	[intake]
	redirect = $REDIRECT_PORT
	[route]
	default = direct
	[dns]
	listen = $ROUTER4_LAN:53
	server = $SERVER4:$DNS_RESOLVER_PORT
	allow = 10.77.1.0/24
	CONF
	for round in $(seq 1 "$ROUNDS"); do
		echo "bench: DNS cache round $round of $ROUNDS" >&2
		rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-dns.log" "$SOCKGATED" -f -c "$RIG_DIR/dns-cached.conf"
		rig_wait_port $NS_ROUTER 53
		measure_dns_cached sockgated-dns "$SG_PID"
		rig_stop "$SG_PID"
		rig_spawn $NS_ROUTER DM_PID "$RIG_DIR/dnsmasq-router.log" dnsmasq -k -C /dev/null -u root \
			--no-resolv --no-hosts --bind-interfaces --listen-address=$ROUTER4_LAN --port=53 \
			--server=$SERVER4#$DNS_RESOLVER_PORT --cache-size=10000 --pid-file="$RIG_DIR/dnsmasq-router.pid"
		rig_wait_port $NS_ROUTER 53
		measure_dns_cached dnsmasq "$DM_PID"
		rig_stop "$DM_PID"
	done
	rig_close_direct_path

	# uncached, through ssh -D: the router's link to the proxy host gets
	# DNS_DELAY_MS each way (NFQUEUE and a delay line of ours: no netem)
	gcc -O2 -Wall -o "$RIG_DIR/delay_line" tests/bench/delay_line.c -lnetfilter_queue || exit 1
	d=$RIG_DIR/ssh && mkdir -p "$d"
	ssh-keygen -q -t ed25519 -N "" -f "$d/host_key" && ssh-keygen -q -t ed25519 -N "" -f "$d/user_key"
	cp "$d/user_key.pub" "$d/authorized_keys"
	printf '%s\n' "ListenAddress $PROXY4" "HostKey $d/host_key" "PidFile $d/sshd.pid" \
		"AuthorizedKeysFile $d/authorized_keys" "PermitRootLogin prohibit-password" \
		"PasswordAuthentication no" "UsePAM no" "StrictModes no" "AllowTcpForwarding yes" >"$d/sshd_config"
	mkdir -p /run/sshd
	rig_spawn $NS_PROXY SSHD_PID "$d/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config"
	rig_wait_port $NS_PROXY 22
	rig_spawn $NS_ROUTER DELAY_PID "$RIG_DIR/delay.log" "$RIG_DIR/delay_line" 7 "$DNS_DELAY_MS"
	sleep 0.2
	in_ns $NS_ROUTER iptables-legacy -A OUTPUT -d $PROXY4 -j NFQUEUE --queue-num 7 --queue-bypass
	in_ns $NS_ROUTER iptables-legacy -A INPUT -s $PROXY4 -j NFQUEUE --queue-num 7 --queue-bypass
	rig_spawn $NS_ROUTER SSH_PID "$d/ssh.log" ssh -N -D 127.0.0.1:1085 -i "$d/user_key" \
		-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o ExitOnForwardFailure=yes root@$PROXY4
	rig_wait_port $NS_ROUTER 1085
	# the round trip TCP sees: a connect's SYN and SYN-ACK
	DNS_RTT_MS=$(in_ns $NS_ROUTER python3 -c '
import socket, statistics, sys, time
t = []
for _ in range(5):
    t0 = time.monotonic()
    socket.create_connection((sys.argv[1], 22)).close()
    t.append((time.monotonic() - t0) * 1000)
print("%.2f" % statistics.median(t))' $PROXY4)
	for i in $(seq 1 400); do echo "s$i.bench.sgdns A"; done >"$RIG_DIR/dns-seq"
	for i in $(seq 1 2000); do echo "p$i.bench.sgdns A"; done >"$RIG_DIR/dns-par"
	echo "rtt_ms $DNS_RTT_MS" >"$RIG_DIR/dns-uncached.results"
	measure_dns_uncached ssh "socks5://127.0.0.1:1085" ""
	# the same through dante, the server asked over TCP (option tcp):
	# dante's connections carry no Nagle delay of their own
	measure_dns_uncached dante "socks5://$PROXY4:1080" " tcp"
	rig_stop "$SSH_PID"
	in_ns $NS_ROUTER iptables-legacy -F OUTPUT
	in_ns $NS_ROUTER iptables-legacy -F INPUT
	rig_stop "$DELAY_PID"
	rig_stop "$SSHD_PID"
	rig_stop "$DNS_RESOLVER_PID"
fi


# ---- names: [intake] sniff against the plain path, the same sockgated and
# dante, short HTTP GETs (the Host is read before the upstream is chosen);
# then fake-IP answers per second ----
measure_sniff() { # name pid
	local name=$1 pid=$2 out=$RIG_DIR/$1.round
	: >"$out"
	in_ns $NS_CLIENT ab -q -n 1000 -c "$AB_CONCURRENCY" "http://$SERVER4/small" >/dev/null 2>&1
	echo "bench: $name: $AB_REQUESTS short GETs, $AB_CONCURRENCY concurrent" >&2
	ab_lines "$out" "$pid"
	cat "$out" >>"$RIG_DIR/$name.results"
}

if [[ " $BENCH_PARTS " == *" names "* ]]; then
	sed 's/^\[intake\]$/[intake]\nsniff = tls, http/' "$RIG_DIR/bench.conf" >"$RIG_DIR/bench-sniff.conf"
	for round in $(seq 1 "$ROUNDS"); do
		echo "bench: sniffing round $round of $ROUNDS" >&2
		rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-plain.log" "$SOCKGATED" -f -c "$RIG_DIR/bench.conf"
		rig_wait_port $NS_ROUTER $REDIRECT_PORT
		measure_sniff plain "$SG_PID"
		rig_stop "$SG_PID"
		rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-sniff.log" "$SOCKGATED" -f -c "$RIG_DIR/bench-sniff.conf"
		rig_wait_port $NS_ROUTER $REDIRECT_PORT
		measure_sniff sniff "$SG_PID"
		rig_stop "$SG_PID"
	done
	# fake-IP: every A question for a proxied name answered from the pool
	for i in $(seq 1 20000); do echo "n$i.fake.sgbench A"; done >"$RIG_DIR/fake-names"
	cat >"$RIG_DIR/fake.conf" <<-CONF
	$BENCH_DAEMON
	[intake]
	redirect = $REDIRECT_PORT
	[upstream dante]
	url = socks5://$PROXY4:1080
	[dns]
	listen = $ROUTER4_LAN:53
	server = 192.0.2.53
	allow = 10.77.1.0/24
	mode = fakeip
	CONF
	rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-fake.log" "$SOCKGATED" -f -c "$RIG_DIR/fake.conf"
	rig_wait_port $NS_ROUTER 53
	in_ns $NS_CLIENT dnsperf -s $ROUTER4_LAN -d "$RIG_DIR/fake-names" -n 1 -q 100 >/dev/null 2>&1
	echo "bench: fake-IP answers, $DNS_SECONDS s, 100 outstanding" >&2
	c0=$(tree_ticks "$SG_PID")
	run=$(in_ns $NS_CLIENT dnsperf -s $ROUTER4_LAN -d "$RIG_DIR/fake-names" -l "$DNS_SECONDS" -q 100 -v 2>&1)
	c1=$(tree_ticks "$SG_PID")
	{
		dnsperf_lines fake <<<"$run"
		n=$(awk '/Queries completed:/ {print $3}' <<<"$run")
		echo "fake_cpu_us_per_query $(python3 -c "print('%.2f' % ($((c1 - c0)) / $CLK_TCK * 1e6 / max(1, ${n:-0})))")"
	} >"$RIG_DIR/fake.results"
	rig_stop "$SG_PID"
fi

# ---- failover: group g = dante (1080), dante-b (1084); the first killed
# (SIGKILL, its children too) 1.5 s into a 4 s load of short GETs ----
if [[ " $BENCH_PARTS " == *" failover "* ]]; then
	d=$RIG_DIR/dante-b && mkdir -p "$d"
	rig_dante_conf "$d" 1084 none
	rig_spawn $NS_PROXY DANTE_B_PID "$d/danted.out" danted -f "$d/danted.conf" -p "$d/danted.pid"
	rig_wait_port $NS_PROXY 1084
	cat >"$RIG_DIR/failover.conf" <<-CONF
	$BENCH_DAEMON
	connect_timeout = 3s
	handshake_timeout = 3s
	[intake]
	redirect = $REDIRECT_PORT
	max_flows_per_client = 0
	[upstream dante]
	url = socks5://$PROXY4:1080
	[upstream dante-b]
	url = socks5://$PROXY4:1084
	[group g]
	members = dante, dante-b
	check_interval = 1s
	check_timeout = 500ms
	[route]
	default = g
	CONF
	: >"$RIG_DIR/failover.results"
	# kill: dante dies, its port refuses; blackhole: the proxy host's
	# packets to it vanish (a cable pulled), so only timeouts tell
	for mode in kill blackhole; do
		for run in $(seq 1 "$FAILOVER_RUNS"); do
			echo "bench: failover ($mode) run $run of $FAILOVER_RUNS" >&2
			rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-failover.log" "$SOCKGATED" -f -c "$RIG_DIR/failover.conf"
			rig_wait_port $NS_ROUTER $REDIRECT_PORT
			sleep 1.2 # both members checked
			in_ns $NS_CLIENT python3 tests/bench/failover_load.py $SERVER4 "$FAILOVER_THREADS" 6 "$RIG_DIR/failover.run" &
			load=$!
			sleep 1.5
			if [ $mode = kill ]; then
				{ rig_kill_dante DANTE_PID "$RIG_DIR/danted.conf"; } 2>/dev/null
			else
				in_ns $NS_PROXY nft -f - <<-NFT
				table inet sgblackhole {
				    chain input { type filter hook input priority 0; tcp dport 1080 drop; }
				}
				NFT
			fi
			# from when it is done: a request started later cannot be
			# served by the first member
			kill_ns=$(date +%s%N)
			wait $load
			rig_stop "$SG_PID"
			python3 - "$RIG_DIR/failover.run" "$kill_ns" "$mode" >>"$RIG_DIR/failover.results" <<-'PY'
			import sys
			rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
			kill, mode = int(sys.argv[2]), sys.argv[3]
			after = [e for s, e, ok in rows if ok and s >= kill]
			first = (min(after) - kill) / 1e6 if after else float("nan")
			failed = sum(1 for s, e, ok in rows if not ok)
			in_flight = sum(1 for s, e, ok in rows if s < kill <= e)
			for k, v in (("failover_ms", "%.1f" % first), ("failed", failed), ("in_flight", in_flight), ("requests", len(rows))):
			    print("%s_%s %s" % (mode, k, v))
			PY
			if [ $mode = kill ]; then
				rig_start_dante
			else
				in_ns $NS_PROXY nft delete table inet sgblackhole
				rig_stop "$DANTE_PID" # its flows stalled: a fresh one
				rig_start_dante
			fi
		done
	done
	rig_stop "$DANTE_B_PID"
fi

# ---- lists: the prefix table alone, then sockgated with and without a
# 100,000-line route file (none of it matching the bench's server) ----
# ---- time to first byte: a delay line adds a round trip R on the
# router-proxy link; direct (routed by the kernel, no proxy), sockgated
# cold, warm, warm + optimistic, and redsocks, in the same run ----
TTFB_RS=${TTFB_RS:-20 80}
TTFB_FLOWS=${TTFB_FLOWS:-500}
ttfb_mode() { # name R pid-or-empty
	local name=$1 R=$2 pid=${3:-} c0=0 c1=0 seq par
	[ -n "$pid" ] && c0=$(tree_ticks "$pid")
	seq=$(in_ns $NS_CLIENT python3 tests/bench/ttfb_load.py $SERVER4 80 /small "$TTFB_FLOWS" 1)
	par=$(in_ns $NS_CLIENT python3 tests/bench/ttfb_load.py $SERVER4 80 /small "$TTFB_FLOWS" 10)
	[ -n "$pid" ] && c1=$(tree_ticks "$pid")
	{
		sed "s/^/${name}_r${R}_seq_/" <<<"$seq"
		sed "s/^/${name}_r${R}_par_/" <<<"$par"
		echo "${name}_r${R}_cpu_us_per_conn $(((c1 - c0) * 1000000 / CLK_TCK / (2 * TTFB_FLOWS)))"
	} >>"$RIG_DIR/ttfb.results"
}
ttfb_sockgated() { # name R extra-upstream-lines
	local name=$1 R=$2 ready
	sed "s|^url = socks5://$PROXY4:1080\$|&\n$3|" "$RIG_DIR/bench.conf" >"$RIG_DIR/ttfb-$name.conf"
	rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-ttfb.log" "$SOCKGATED" -f -c "$RIG_DIR/ttfb-$name.conf"
	rig_wait_port $NS_ROUTER $REDIRECT_PORT
	# a few flows first: the pools learn the rate (and cold is measured warm-free)
	in_ns $NS_CLIENT python3 tests/bench/ttfb_load.py $SERVER4 80 /small 20 1 >/dev/null
	sleep 1
	echo "bench: ttfb: $name at R = $R ms" >&2
	ttfb_mode "$name" "$R" "$SG_PID"
	"$SOCKGATE" -c "$RIG_DIR/ttfb-$name.conf" --json stats | python3 -c '
import json, sys
w = json.load(sys.stdin)["warm"]
flows = 2 * int(sys.argv[2]) + 20
print("%s_r%s_extra_per_1000 %.0f" % (sys.argv[1], sys.argv[3], (w["opened"] - w["used"]) * 1000 / flows))
print("%s_r%s_used_per_1000 %.0f" % (sys.argv[1], sys.argv[3], w["used"] * 1000 / flows))' \
		"$name" "$TTFB_FLOWS" "$R" >>"$RIG_DIR/ttfb.results"
	if [ "$name" = warm ] && [ "$R" = "${TTFB_RS%% *}" ]; then
		# the LAN idle: after warm_idle (a minute) no session is left
		sleep 63
		ready=$(in_ns $NS_ROUTER ss -Htn state established "dst $PROXY4:1080" | wc -l)
		echo "warm_idle_conns_after_63s $ready" >>"$RIG_DIR/ttfb.results"
	fi
	rig_stop "$SG_PID"
}
if [[ " $BENCH_PARTS " == *" ttfb "* ]]; then
	[ -x "$RIG_DIR/delay_line" ] ||
		gcc -O2 -Wall -o "$RIG_DIR/delay_line" tests/bench/delay_line.c -lnetfilter_queue || exit 1
	: >"$RIG_DIR/ttfb.results"
	rig_open_direct_path
	for R in $TTFB_RS; do
		rig_spawn $NS_ROUTER DELAY_PID "$RIG_DIR/delay.log" "$RIG_DIR/delay_line" 8 $((R / 2))
		sleep 0.2
		for chain in OUTPUT FORWARD; do
			in_ns $NS_ROUTER iptables-legacy -A $chain -d $PROXY4 -j NFQUEUE --queue-num 8 --queue-bypass
			in_ns $NS_ROUTER iptables-legacy -A $chain -d 10.77.3.0/24 -j NFQUEUE --queue-num 8 --queue-bypass
		done
		for chain in INPUT FORWARD; do
			in_ns $NS_ROUTER iptables-legacy -A $chain -s $PROXY4 -j NFQUEUE --queue-num 8 --queue-bypass
			in_ns $NS_ROUTER iptables-legacy -A $chain -s 10.77.3.0/24 -j NFQUEUE --queue-num 8 --queue-bypass
		done
		rtt=$(in_ns $NS_ROUTER python3 -c '
import socket, statistics, sys, time
t = []
for _ in range(5):
    t0 = time.monotonic()
    socket.create_connection((sys.argv[1], 1080)).close()
    t.append((time.monotonic() - t0) * 1000)
print("%.2f" % statistics.median(t))' $PROXY4)
		echo "rtt_r${R} $rtt" >>"$RIG_DIR/ttfb.results"
		echo "bench: ttfb: direct at R = $R ms (measured $rtt)" >&2
		# routed by the kernel: the proxy host routes the LAN back through the router
		nsenter --net=/run/netns/$NS_ROUTER "$SOCKGATE" rules flush >/dev/null
		ip -n $NS_PROXY route add 10.77.1.0/24 via $ROUTER4
		ttfb_mode direct "$R"
		ip -n $NS_PROXY route del 10.77.1.0/24
		rig_redirect_rule
		ttfb_sockgated cold "$R" "warm = off"
		ttfb_sockgated warm "$R" "warm = auto"
		ttfb_sockgated optimistic "$R" "warm = auto\noptimistic = yes"
		rig_spawn $NS_ROUTER RS_PID "$RIG_DIR/redsocks-ttfb.log" redsocks -c "$RIG_DIR/redsocks.conf"
		rig_wait_port $NS_ROUTER $REDIRECT_PORT
		echo "bench: ttfb: redsocks at R = $R ms" >&2
		ttfb_mode redsocks "$R" "$RS_PID"
		rig_stop "$RS_PID"
		for chain in INPUT OUTPUT FORWARD; do in_ns $NS_ROUTER iptables-legacy -F $chain; done
		rig_stop "$DELAY_PID"
	done
	rig_close_direct_path
	# the graph: median TTFB in units of R, by mode and R
	python3 - "$RIG_DIR/ttfb.results" "$TTFB_RS" >"$RIG_DIR/ttfb.dat" <<-'PY'
	import sys
	v = dict(l.split() for l in open(sys.argv[1]))
	rs = sys.argv[2].split()
	print("mode " + " ".join("R=%sms" % r for r in rs))
	for m in ("direct", "cold", "warm", "optimistic", "redsocks"):
	    print(m + " " + " ".join("%.2f" % (float(v["%s_r%s_seq_p50_ms" % (m, r)]) / float(r)) for r in rs))
	PY
	if command -v gnuplot >/dev/null; then
		mkdir -p build
		gnuplot <<-GP
		set terminal pngcairo size 800,450 font "DejaVu Sans,10"
		set output "build/ttfb.png"
		set title "Time to first byte of a short GET, median of $TTFB_FLOWS sequential connections"
		set ylabel "TTFB in units of the round trip R to the proxy"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set yrange [0:*]
		set grid ytics
		set key top left
		plot "$RIG_DIR/ttfb.dat" using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3)
		GP
	fi
fi

if [[ " $BENCH_PARTS " == *" lists "* ]]; then
	gcc -O2 -std=gnu11 -Wall -Iinclude -o "$RIG_DIR/prefix_bench" tests/bench/prefix_bench.c \
		build/libsockgate.a || exit 1
	: >"$RIG_DIR/lists-table.results"
	for fam in 4 6; do
		for n in 1000 100000 1000000; do
			echo "bench: prefix table, IPv$fam, $n prefixes" >&2
			read -r load bytes lps _ <<<"$("$RIG_DIR/prefix_bench" $fam $n)"
			echo "v${fam}_${n} $load $bytes $lps" >>"$RIG_DIR/lists-table.results"
		done
	done
	python3 -c '
import sys
for i in range(100000):
    sys.stdout.write("%d.%d.%d.0/24\n" % (100 + i // 65536, (i // 256) % 256, i % 256))' >"$RIG_DIR/routes.list"
	sed 's|^url = socks5://.*$|&\n[route]\ndefault = dante\n@'"$RIG_DIR"'/routes.list = direct|' \
		"$RIG_DIR/bench.conf" >"$RIG_DIR/bench-lists.conf"
	for round in $(seq 1 "$ROUNDS"); do
		echo "bench: route list round $round of $ROUNDS" >&2
		rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-nolist.log" "$SOCKGATED" -f -c "$RIG_DIR/bench.conf"
		rig_wait_port $NS_ROUTER $REDIRECT_PORT
		measure_sniff nolist "$SG_PID"
		rig_stop "$SG_PID"
		rig_spawn $NS_ROUTER SG_PID "$RIG_DIR/sockgated-list.log" "$SOCKGATED" -f -c "$RIG_DIR/bench-lists.conf"
		rig_wait_port $NS_ROUTER $REDIRECT_PORT
		measure_sniff list100k "$SG_PID"
		echo "rss_kb $(status_kb "$SG_PID" VmRSS)" >>"$RIG_DIR/list100k.results"
		rig_stop "$SG_PID"
	done
fi

row() { # label key better(higher|lower)
	local a b
	a=$(get sockgated "$2")
	b=$(get redsocks "$2")
	printf '| %-38s | %12s | %12s | %7s |\n' "$1" "$a" "$b" "$(ratio "$a" "$b")"
}
urow() { # label key
	local a b
	a=$(get sockgated-udp "$2")
	b=$(get redudp "$2")
	printf '| %-38s | %12s | %12s | %7s |\n' "$1" "$a" "$b" "$(ratio "$a" "$b")"
}
srow() { # label key
	local a b c
	a=$(get sockgated-socks "$2")
	b=$(get microsocks "$2")
	c=$(get dante "$2")
	printf '| %-38s | %10s | %10s | %10s | %8s | %8s |\n' "$1" "$a" "$b" "$c" "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
}
# ---- a long path: one LONG_MB download with the router-proxy link delayed
# LONG_DELAY_MS each way by the delay line, sockgated (which sizes its
# sockets' receive buffers itself, daemon/backlog.c) against redsocks (whose
# sockets autotune as the kernel does); then the same with the router's LAN
# link shaped to LONG_RATE by tbf, the destination slower than the source.
# LONG_RUNS downloads each, the relays alternating ----
LONG_DELAY_MS=${LONG_DELAY_MS:-20}
LONG_RATE=${LONG_RATE:-200mbit}
LONG_MB=${LONG_MB:-50}
LONG_RUNS=${LONG_RUNS:-6}
long_download() { # label relay pid: one download's seconds to $RIG_DIR/longpath.results
	local t
	t=$(in_ns $NS_CLIENT curl -s -o /dev/null -w '%{time_total}' "http://$SERVER4/file_long")
	echo "$2_$1 $t" >>"$RIG_DIR/longpath.results"
}
long_round() { # label
	local i
	for i in $(seq 1 "$LONG_RUNS"); do
		with_each_relay -long long_download "$1"
	done
}
if [[ " $BENCH_PARTS " == *" longpath "* ]]; then
	echo "bench: longpath: $LONG_MB MB over a path of $((2 * LONG_DELAY_MS)) ms" >&2
	[ -x "$RIG_DIR/delay_line" ] ||
		gcc -O2 -Wall -o "$RIG_DIR/delay_line" tests/bench/delay_line.c -lnetfilter_queue || exit 1
	head -c $((LONG_MB << 20)) /dev/urandom >"$RIG_DIR/www/file_long"
	: >"$RIG_DIR/longpath.results"
	rig_spawn $NS_ROUTER DELAY_PID "$RIG_DIR/delay.log" "$RIG_DIR/delay_line" 9 "$LONG_DELAY_MS"
	sleep 0.2
	in_ns $NS_ROUTER iptables-legacy -A OUTPUT -d $PROXY4 -j NFQUEUE --queue-num 9 --queue-bypass
	in_ns $NS_ROUTER iptables-legacy -A INPUT -s $PROXY4 -j NFQUEUE --queue-num 9 --queue-bypass
	long_round open
	in_ns $NS_ROUTER tc qdisc add dev r0 root tbf rate "$LONG_RATE" burst 256kb latency 50ms
	long_round shaped
	in_ns $NS_ROUTER tc qdisc del dev r0 root
	for chain in INPUT OUTPUT; do in_ns $NS_ROUTER iptables-legacy -F $chain; done
	rig_stop "$DELAY_PID"
fi

# ---- memory: what idle and busy flows cost the daemon and the kernel ----
# (sockgated's own `status` memory figures, and the receive and send queues
# of the router's TCP sockets, all sockgated's), with IDLE_CONNS idle
# relayed flows, then BUSY_FLOWS downloads read slowly by their clients
BUSY_FLOWS=${BUSY_FLOWS:-1000}
mem_sample() { # label
	local j
	j=$(in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/bench.conf" --json status 2>/dev/null)
	# the router's TCP sockets are sockgated's: their receive and send
	# queues as the kernel counts them (ss -m: r = rmem_alloc, w = wmem_queued)
	in_ns $NS_ROUTER ss -tmHn >"$RIG_DIR/ss-mem.txt"
	python3 - "$1" "$j" "$RIG_DIR/ss-mem.txt" >>"$RIG_DIR/memory.results" <<'PY'
import json, re, sys
label, text, ss = sys.argv[1], sys.argv[2], sys.argv[3]
m = json.loads(text)["daemon"]["memory"]
for k in ("rss_bytes", "pipes", "pipe_bytes"):
    print("%s_%s %s" % (label, k, m[k]))
r = w = n = 0
for sk in re.findall(r"skmem:\(([^)]*)\)", open(ss).read()):
    f = {}
    for part in sk.split(","):
        key = part.rstrip("0123456789")
        f[key] = int(part[len(key):])
    r += f.get("r", 0)
    w += f.get("w", 0)
    n += 1
print("%s_sockets %d" % (label, n))
print("%s_recv_queued %d" % (label, r))
print("%s_send_queued %d" % (label, w))
PY
}
# Starts a client load script that prints "ready N" and holds its flows
# until its stdin closes; samples the memory once they have settled.
mem_under_load() { # label script count settle-seconds
	local ready
	coproc LOAD { in_ns $NS_CLIENT python3 "tests/bench/$2" $SERVER4 "$3"; }
	read -r -t 300 _ ready <&"${LOAD[0]}"
	sleep "$4"
	echo "$1_flows ${ready:-0}" >>"$RIG_DIR/memory.results"
	mem_sample "$1"
	[ -n "${LOAD[1]:-}" ] && eval "exec ${LOAD[1]}>&-"
	wait "$LOAD_PID" 2>/dev/null
}
if [[ " $BENCH_PARTS " == *" memory "* ]]; then
	echo "bench: memory: $IDLE_CONNS idle flows, then $BUSY_FLOWS slowly read downloads" >&2
	: >"$RIG_DIR/memory.results"
	# MEM_LIMIT=128M: the daemon in a memory cgroup of that size, as
	# systemd's MemoryMax= would put it
	[ -z "${MEM_LIMIT:-}" ] || rig_mem_cgroup sgbench "$MEM_LIMIT" || exit 1
	rig_spawn_mem_cgroup $NS_ROUTER SG_PID "$RIG_DIR/sockgated-mem.log" "$SOCKGATED" -f -c "$RIG_DIR/bench.conf"
	rig_wait_port $NS_ROUTER $REDIRECT_PORT
	sleep 1
	mem_sample base
	mem_under_load idle hold_idle.py "$IDLE_CONNS" 2
	sleep 2
	mem_under_load busy busy_flows.py "$BUSY_FLOWS" 5
	sleep 3
	mem_sample after
	if [ -n "$RIG_MEM_CG" ]; then
		rig_mem_cgroup_read
		{
			echo "cgroup_limit $MEM_LIMIT"
			echo "cgroup_peak $RIG_MEM_PEAK"
			echo "cgroup_tcp_peak $RIG_MEM_TCP_PEAK"
			echo "cgroup_oom_kills $RIG_MEM_OOM"
			echo "daemon_alive $(kill -0 "$SG_PID" 2>/dev/null && echo yes || echo no)"
		} >>"$RIG_DIR/memory.results"
	fi
	rig_stop "$SG_PID"
	rmdir "$RIG_MEM_CG" 2>/dev/null
	RIG_MEM_CG=""
fi

part_ran() { [[ " $BENCH_PARTS " == *" $1 "* ]]; }
{
	if part_ran redirect; then
		echo
		echo "Medians of $ROUNDS alternating rounds. sockgated $(cat VERSION) vs redsocks $(dpkg-query -W -f='${Version}' redsocks), upstream dante $(dpkg-query -W -f='${Version}' dante-server), kernel $(uname -r), $(nproc) CPUs"
		echo
		printf '| %-38s | %12s | %12s | %7s |\n' "metric" "sockgated" "redsocks" "ratio"
		echo "|----------------------------------------|--------------|--------------|---------|"
		row "connections/s ($AB_CONCURRENCY concurrent, short GET)" conn_per_s
		row "latency p50 (ms)" p50_ms
		row "latency p99 (ms)" p99_ms
		row "failed requests" failed
		row "daemon CPU per connection (µs)" cpu_us_per_conn
		row "throughput, 1 stream (Gbit/s)" gbps_1
		row "throughput, 4 streams (Gbit/s)" gbps_4
		row "daemon CPU per GB, 1 stream (s)" cpu_s_per_gb_1
		row "daemon CPU per GB, 4 streams (s)" cpu_s_per_gb_4
		row "machine CPU per GB, 1 stream (s)" sys_cpu_s_per_gb_1
		row "machine CPU per GB, 4 streams (s)" sys_cpu_s_per_gb_4
		row "idle relayed connections held" idle_ready
		row "fds per idle connection" idle_fds_per_conn
		row "RSS with the idle connections (MB)" idle_rss_mb
		row "peak RSS (MB)" peak_rss_mb
		echo
		echo "Targets: CPU per connection <= 0.5x redsocks, CPU per GB <= 0.8x, throughput >= 1x, <= 2 fds per idle connection."
	fi
	if part_ran udp; then
		echo
		echo "Transparent UDP: medians of $ROUNDS rounds; sockgated vs redsocks' redudp, both taking TPROXY'd UDP on the router and relaying it through dante's UDP ASSOCIATE. $UDP_SOCKETS client sockets, $UDP_WINDOW datagrams of 512 bytes outstanding on each, echoed by the server. CPU per datagram relayed (each echo is two)."
		echo
		printf '| %-38s | %12s | %12s | %7s |\n' "metric" "sockgated" "redudp" "ratio"
		echo "|----------------------------------------|--------------|--------------|---------|"
		urow "UDP datagrams/s echoed (512 B)" udp_dgram_per_s
		urow "daemon CPU per datagram (µs)" udp_cpu_us_per_dgram
		urow "datagrams lost" udp_lost
	fi
	if part_ran intake; then
		echo
		echo "Intake: medians of $ROUNDS rounds; the same sockgated and dante behind each; LAN TCP from the client (ab: $AB_CONCURRENCY concurrent short GETs, a new connection each; iperf3 1 stream), the router's own TCP from inside the router. CPU is the whole machine's (every process and softirq) per connection: the intake's work is kernel work no one process is charged for."
		echo
		printf '| %-34s | %10s | %10s | %10s | %12s | %12s |\n' "metric" "tc+sk_assign" "TPROXY" "REDIRECT" "local: cgroup" "local: output"
		echo "|------------------------------------|------------|------------|------------|--------------|--------------|"
		for k in conn_per_s sys_cpu_us_per_conn gbps_1 failed; do
			printf '| %-34s | %10s | %10s | %10s | %12s | %12s |\n' "$k" "$(get tc $k)" "$(get tproxy $k)" "$(get redirect $k)" "$(get cgroup $k)" "$(get output $k)"
		done
	fi
	if part_ran socks; then
		echo
		echo "SOCKS server role: medians of $ROUNDS rounds; sockgated's SOCKS5 server vs microsocks $(dpkg-query -W -f='${Version}' microsocks) and dante-server, each on the router, connecting directly. Short GETs by a C client ($AB_CONCURRENCY concurrent, a new connection each, no pipelining); one iperf3 stream through proxychains4. CPU counts the whole process tree."
		echo
		printf '| %-38s | %10s | %10s | %10s | %8s | %8s |\n' "metric" "sockgated" "microsocks" "dante" "vs micro" "vs dante"
		echo "|----------------------------------------|------------|------------|------------|----------|----------|"
		srow "connections/s ($AB_CONCURRENCY concurrent, short GET)" conn_per_s
		srow "latency p50 (ms)" p50_ms
		srow "latency p99 (ms)" p99_ms
		srow "failed requests" failed
		srow "server CPU per connection (µs)" cpu_us_per_conn
		srow "throughput, 1 stream (Gbit/s)" gbps_1
		srow "server CPU per GB, 1 stream (s)" cpu_s_per_gb_1
		echo
		echo "Targets: connections/s >= 1.5x microsocks, throughput >= dante, CPU per connection below both."
	fi
	if part_ran http; then
		echo
		echo "HTTP proxy role: medians of $ROUNDS rounds; sockgated's HTTP proxy (the [socks] port) vs tinyproxy $(dpkg-query -W -f='${Version}' tinyproxy), each on the router, connecting directly to nginx on the server. Plain GETs: ab -k -X (absolute form, keep-alive to the proxy; each proxy opens a connection to the origin per request). CONNECT: the C client, a new tunnel per short GET, no pipelining. One iperf3 stream through CONNECT (proxychains4), and through sockgated's SOCKS5 on the same port for comparison. CPU counts the whole process tree."
		echo
		printf '| %-40s | %12s | %12s | %7s |\n' "metric" "sockgated" "tinyproxy" "ratio"
		echo "|------------------------------------------|--------------|--------------|---------|"
		for k in get_per_s get_p50_ms get_p99_ms get_failed get_kept_alive get_cpu_us_per_req \
			connect_conn_per_s connect_p50_ms connect_p99_ms connect_failed connect_cpu_us_per_conn \
			connect_machine_busy_pct \
			gbps_1 cpu_s_per_gb_1; do
			a=$(get sockgated-http $k)
			b=$(get tinyproxy $k)
			printf '| %-40s | %12s | %12s | %7s |\n' "$k" "$a" "$b" "$(ratio "$a" "$b")"
		done
		a=$(get sockgated-http socks_gbps_1)
		printf '| %-40s | %12s | %12s | %7s |\n' "SOCKS5 path, 1 stream (Gbit/s)" "$a" "" "$(ratio "$(get sockgated-http gbps_1)" "$a")"
		echo
		echo "Targets: requests/s >= 2x tinyproxy's at lower CPU per request (plain GET and CONNECT); CONNECT single-stream throughput >= 0.9x the SOCKS path's (the last ratio)."
	fi
	if part_ran dns; then
		echo
		echo "DNS service, cache hits: medians of $ROUNDS alternating rounds; sockgated vs dnsmasq $(dpkg-query -W -f='${Version}' dnsmasq-base), each on the router's LAN address port 53 forwarding to the same resolver, $DNS_NAMES names all cached, dnsperf $(dpkg-query -W -f='${Version}' dnsperf) from the client, 100 queries outstanding, $DNS_SECONDS s. CPU counts the server's process tree."
		echo
		printf '| %-38s | %12s | %12s | %7s |\n' "metric" "sockgated" "dnsmasq" "ratio"
		echo "|----------------------------------------|--------------|--------------|---------|"
		for k in hit_qps hit_p50_ms hit_p99_ms hit_lost hit_cpu_us_per_query; do
			a=$(get sockgated-dns $k)
			b=$(get dnsmasq $k)
			printf '| %-38s | %12s | %12s | %7s |\n' "$k" "$a" "$b" "$(ratio "$a" "$b")"
		done
		echo
		echo "Uncached, the router-proxy link delayed ${DNS_DELAY_MS} ms each way by NFQUEUE and tests/bench/delay_line.c (round trip $(get dns-uncached rtt_ms) ms, a TCP connect's): through ssh -D (OpenSSH $(dpkg-query -W -f='${Version}' openssh-client), no UDP ASSOCIATE: DNS over TCP through CONNECT), and through dante with the server's option tcp. 400 new names one at a time, then 2000 with 50 outstanding."
		echo
		printf '| %-38s | %12s | %12s |\n' "metric" "ssh -D" "dante, tcp"
		echo "|----------------------------------------|--------------|--------------|"
		for k in seq_p50_ms seq_p99_ms seq_lost par_qps par_p50_ms par_p99_ms par_lost resolver_conns; do
			printf '| %-38s | %12s | %12s |\n' "$k" "$(get dns-uncached ssh_$k)" "$(get dns-uncached dante_$k)"
		done
		echo
		echo "Targets: cache hits >= 1.5x dnsmasq's queries/s at lower CPU per query; uncached p50 <= 1 round trip (+ the resolver's own time), one connection (no connect per query)."
	fi
	if part_ran names; then
		echo
		echo "Sniffing: medians of $ROUNDS alternating rounds; the same sockgated (REDIRECT, through dante) without and with [intake] sniff = tls, http; $AB_REQUESTS short GETs, $AB_CONCURRENCY concurrent, a new connection each (the Host header is peeked before the upstream is chosen)."
		echo
		printf '| %-38s | %12s | %12s | %7s |\n' "metric" "plain" "sniff" "ratio"
		echo "|----------------------------------------|--------------|--------------|---------|"
		for k in conn_per_s p50_ms p99_ms failed cpu_us_per_conn; do
			a=$(get plain $k)
			b=$(get sniff $k)
			printf '| %-38s | %12s | %12s | %7s |\n' "$k" "$a" "$b" "$(ratio "$b" "$a")"
		done
		echo
		echo "Fake-IP: 20,000 names asked over and over (A), every answer from the pool; dnsperf, 100 outstanding, $DNS_SECONDS s."
		echo
		printf '| %-38s | %12s |\n' "metric" "sockgated"
		echo "|----------------------------------------|--------------|"
		for k in fake_qps fake_p50_ms fake_p99_ms fake_lost fake_cpu_us_per_query; do
			printf '| %-38s | %12s |\n' "$k" "$(get fake $k)"
		done
		echo
		echo "Target: sniffing adds < 10% CPU per connection."
	fi
	if part_ran lists; then
		echo
		echo "Route lookups: tests/bench/prefix_bench.c, random prefixes (IPv4 /16../24, IPv6 /32../48), random addresses looked up for 1 s on one core; load = add and build."
		echo
		printf '| %-14s | %10s | %12s | %14s | %10s |\n' "prefixes" "load (ms)" "memory (KB)" "lookups/s" "ns/lookup"
		echo "|----------------|------------|--------------|----------------|------------|"
		while read -r k load bytes lps; do
			printf '| %-14s | %10s | %12s | %14s | %10s |\n' "$k" "$load" "$((bytes / 1024))" "$lps" "$(python3 -c "print('%.0f' % (1e9 / $lps))")"
		done <"$RIG_DIR/lists-table.results"
		echo
		echo "sockgated (REDIRECT, through dante), medians of $ROUNDS alternating rounds, $AB_REQUESTS short GETs, $AB_CONCURRENCY concurrent: no [route] list against a 100,000-prefix route file."
		echo
		printf '| %-38s | %12s | %12s | %7s |\n' "metric" "no list" "100k list" "ratio"
		echo "|----------------------------------------|--------------|--------------|---------|"
		for k in conn_per_s p50_ms p99_ms failed cpu_us_per_conn; do
			a=$(get nolist $k)
			b=$(get list100k $k)
			printf '| %-38s | %12s | %12s | %7s |\n' "$k" "$a" "$b" "$(ratio "$b" "$a")"
		done
		echo "| RSS with the list (KB)                 |              | $(printf '%12s' "$(get list100k rss_kb)") |         |"
		echo
		echo "Targets: a 100,000-prefix set loads in under a second, costs well under 1 µs per lookup; no measurable difference in CPU per connection."
	fi
	if part_ran longpath; then
		echo
		echo "A long path: one $LONG_MB MB download (nginx through dante), the router-proxy link delayed $LONG_DELAY_MS ms each way by the delay line (tests/bench/delay_line.c: a $((2 * LONG_DELAY_MS)) ms round trip), $LONG_RUNS downloads per relay alternating, each with a fresh relay process; shaped: the router's LAN link limited to $LONG_RATE by tbf, so the destination is slower than the source. redsocks' sockets autotune as the kernel does; sockgated sizes its receive buffers by what the destination takes (docs/architecture.md, Relay)."
		echo
		python3 - "$RIG_DIR/longpath.results" "$LONG_MB" <<-'PY'
		import statistics, sys
		v = {}
		for line in open(sys.argv[1]):
		    k, t = line.split()
		    v.setdefault(k, []).append(float(t))
		mb = float(sys.argv[2])
		print("| path | relay | median s | min s | max s | MB/s (median) |")
		print("|---|---|---|---|---|---|")
		for label in ("open", "shaped"):
		    for relay in ("sockgated", "redsocks"):
		        t = v.get("%s_%s" % (relay, label), [])
		        if t:
		            m = statistics.median(t)
		            print("| %s | %s | %.2f | %.2f | %.2f | %.1f |" % (label, relay, m, min(t), max(t), mb * 1.048576 / m))
		PY
	fi
	if part_ran memory; then
		mv() { awk -v k="$1" '$1 == k {print $2}' "$RIG_DIR/memory.results"; }
		mb() { python3 -c "print('%.1f' % (float('${1:-0}') / 1048576))"; }
		echo
		echo "Memory: one sockgated (defaults: pipe_size 1M, max_flows 16384), dante upstream. Idle: $(mv idle_flows) relayed flows held open after one request each. Busy: $(mv busy_flows) downloads of a 10 MB file whose clients read 4 KB every 200 ms. Kernel queues: the receive and send queues of the router's TCP sockets (all sockgated's), from ss -m; after: 3 s after the busy clients left."
		echo
		echo "| state | daemon RSS (MB) | pipes | pipe capacity (MB) | TCP sockets | receive queues (MB) | send queues (MB) |"
		echo "|---|---|---|---|---|---|---|"
		for st in base idle busy after; do
			echo "| $st | $(mb "$(mv ${st}_rss_bytes)") | $(mv ${st}_pipes) | $(mb "$(mv ${st}_pipe_bytes)") | $(mv ${st}_sockets) | $(mb "$(mv ${st}_recv_queued)") | $(mb "$(mv ${st}_send_queued)") |"
		done
		if [ -n "$(mv cgroup_limit)" ]; then
			echo
			echo "In a memory cgroup of $(mv cgroup_limit): peak charge $(mb "$(mv cgroup_peak)") MB$([ -z "$(mv cgroup_tcp_peak)" ] || echo " (socket buffers at most $(mb "$(mv cgroup_tcp_peak)") MB, under a TCP limit of the same size)"), OOM kills $(mv cgroup_oom_kills), daemon alive at the end: $(mv daemon_alive)."
		fi
	fi
	if part_ran ttfb; then
		echo
		echo "Time to first byte: a delay line (NFQUEUE, tests/bench/delay_line.c) adds a round trip R on the router's link to the proxy host (measured: $(for r in $TTFB_RS; do printf 'R=%s: %s ms ' "$r" "$(get ttfb rtt_r$r)"; done| sed 's/ $//; s/ R=/, R=/g')). A short GET to nginx, a new connection each, $TTFB_FLOWS sequential and $TTFB_FLOWS 10 at a time; from the client's connect to the first response byte. direct: the same path routed by the kernel, no proxy. In units of R (ms in brackets)."
		echo
		printf '| %-12s |' "mode"
		for r in $TTFB_RS; do printf ' %-24s | %-24s |' "R=$r seq p50 / p99" "R=$r 10-conc p50 / p99"; done
		echo
		printf '|--------------|'
		for r in $TTFB_RS; do printf '%s|%s|' "--------------------------" "--------------------------"; done
		echo
		for m in direct cold warm optimistic redsocks; do
			printf '| %-12s |' "$m"
			for r in $TTFB_RS; do
				for k in seq par; do
					printf ' %-24s |' "$(python3 -c "
r = float('$r'); a = float('$(get ttfb ${m}_r${r}_${k}_p50_ms)'); b = float('$(get ttfb ${m}_r${r}_${k}_p99_ms)')
print('%.2f / %.2f R (%.0f / %.0f)' % (a / r, b / r, a, b))")"
				done
			done
			echo
		done
		echo
		printf '| %-40s |' "cost"
		for r in $TTFB_RS; do printf ' %12s |' "R=$r"; done
		echo
		printf '|------------------------------------------|'
		for r in $TTFB_RS; do printf '%s|' "--------------"; done
		echo
		for k in cold_cpu_us_per_conn warm_cpu_us_per_conn optimistic_cpu_us_per_conn redsocks_cpu_us_per_conn \
			warm_extra_per_1000 warm_used_per_1000 optimistic_extra_per_1000 optimistic_used_per_1000; do
			printf '| %-40s |' "$k"
			for r in $TTFB_RS; do printf ' %12s |' "$(get ttfb ${k%%_*}_r${r}_${k#*_})"; done
			echo
		done
		printf '| %-40s | %12s |\n' "warm sessions left after 63 s idle" "$(get ttfb warm_idle_conns_after_63s)"
		echo
		echo "Targets: warm + optimistic <= 1.3 R (plus the proxy-target leg), below direct's 2 R and <= 0.4x redsocks; warm alone <= 2.3 R; cold no worse than 3.1 R. Graph: build/ttfb.png."
	fi
	if part_ran failover; then
		echo
		echo "Failover: $FAILOVER_RUNS runs each way; a group of two dantes (failover, check_interval 1s, check_timeout 500ms, down_after 2, connect_timeout 3s); $FAILOVER_THREADS clients doing short GETs through REDIRECT, a new connection each (2 s client timeout), for 6 s; 1.5 s in, the first dante is killed (SIGKILL, its children too: its port refuses) or blackholed (an nftables drop on the proxy host: nothing answers, only timeouts tell). failover_ms: from the moment the kill or the drop rule is complete to the end of the first request started after it (which only the second member can serve); failed: client-visible failures; in_flight: requests under way at that moment."
		echo
		printf '| %-38s | %12s | %12s | %12s |\n' "metric" "median" "worst" "sum"
		echo "|----------------------------------------|--------------|--------------|--------------|"
		for k in kill_failover_ms kill_failed kill_in_flight kill_requests blackhole_failover_ms blackhole_failed blackhole_in_flight blackhole_requests; do
			python3 - "$RIG_DIR/failover.results" "$k" <<-'PY'
			import statistics, sys
			v = [float(l.split()[1]) for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
			print("| %-38s | %12s | %12s | %12s |" % (sys.argv[2], "%g" % statistics.median(v), "%g" % max(v), "%g" % sum(v)))
			PY
		done
		echo
		echo "Target: failover within 1 connect timeout; failures at most the flows in their handshake at the kill (here: at most the requests in flight)."
	fi
} | tee "$RIG_DIR/table.md"
mkdir -p build
cp "$RIG_DIR/table.md" build/bench-results.md
echo "bench: table saved in build/bench-results.md"
