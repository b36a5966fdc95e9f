# shellcheck shell=bash
# The service side: systemd's notification protocol (Type=notify), spoken
# to a stand-in socket (notify_listen.py), since the test machine's PID 1
# need not be systemd. Sourced by run.sh.

NOTIFY_LOG=""

notify_saw() { # pattern (extended regexp, on one message's line)
	grep -Eq "$1" "$NOTIFY_LOG"
}

# RELOADING=1 (with MONOTONIC_USEC), then a READY=1 more than the $1
# seen before the reload.
notify_reloaded() { # READY=1 count before
	awk '/RELOADING=1 MONOTONIC_USEC=[0-9]+/ {r = NR} /^[0-9]+ READY=1/ && r && NR > r {ok = 1} END {exit !ok}' "$NOTIFY_LOG" &&
		[ "$(grep -c ' READY=1' "$NOTIFY_LOG")" -gt "$1" ]
}

notify_watchdog_pings() { # min count
	[ "$(grep -c ' WATCHDOG=1' "$NOTIFY_LOG")" -ge "$1" ]
}

test_service_notify() {
	local sock=$RIG_DIR/notify.sock listener before
	NOTIFY_LOG=$RIG_DIR/notify.log
	rig_spawn $NS_ROUTER listener "$NOTIFY_LOG" python3 tests/integration/notify_listen.py "$sock" "$REDIRECT_PORT"
	for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
	# WATCHDOG_USEC: every worker's loop asked, then a ping, every 250 ms
	SOCKGATED_PREFIX="env NOTIFY_SOCKET=$sock WATCHDOG_USEC=500000" rig_start_sockgated "socks5://$PROXY4:1080"
	sleep 1.2
	check "notify: READY=1 once the listeners are up" notify_saw '^listening [0-9]+ yes$'
	check "notify: WATCHDOG=1 every half interval while the workers answer" notify_watchdog_pings 3
	before=$(grep -c ' READY=1' "$NOTIFY_LOG")
	$SOCKGATE -c "$RIG_DIR/sockgate.conf" reload >/dev/null
	sleep 0.3
	check "notify: a reload is RELOADING=1 (with MONOTONIC_USEC), then READY=1" \
		notify_reloaded "$before"
	rig_stop_sockgated
	sleep 0.2
	check "notify: SIGTERM says STOPPING=1" notify_saw ' STOPPING=1$'
	rig_stop "$listener"
	# without NOTIFY_SOCKET nothing changes (every other test runs so)
}

# The Prometheus endpoint, scraped from the router's namespace and parsed
# with prometheus_client's own parser (python3-prometheus-client).
METRICS_URL=http://127.0.0.1:9180/metrics

metrics_scrape() { # file
	in_ns $NS_ROUTER curl -sf -m 3 "$METRICS_URL" >"$1"
}

# Every sample of file $1 as "name{labels} value" lines, sorted; exit 1
# when the text does not parse as the exposition format.
metrics_samples() {
	# Debian's python3, where python3-prometheus-client installs
	/usr/bin/python3 - "$1" <<-'PY'
	import sys
	from prometheus_client.parser import text_string_to_metric_families
	out = []
	for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
	    for s in fam.samples:
	        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
	        out.append("%s{%s} %s" % (s.name, labels, s.value))
	print("\n".join(sorted(out)))
	PY
}

metric() { # file name{labels}
	metrics_samples "$1" | awk -v k="$2" '$1 == k {print $2; found = 1} END {exit !found}'
}

# metric $2 grew by at least $3 from scrape $1a to $1b
metric_grew() { # prefix key min
	local a b
	a=$(metric "$1a" "$2") && b=$(metric "$1b" "$2") &&
		python3 -c 'import sys; a, b, m = map(float, sys.argv[1:]); sys.exit(b - a < m)' "$a" "$b" "$3" || {
		echo "$2: ${a:-?} -> ${b:-?}" >&2
		return 1
	}
}

metric_is() { # file key value
	[ "$(metric "$1" "$2")" = "$3" ] || {
		echo "$2 = $(metric "$1" "$2"), want $3" >&2
		return 1
	}
}

http_status() { # method path
	in_ns $NS_ROUTER curl -s -o /dev/null -m 3 -w '%{http_code}' -X "$1" "http://127.0.0.1:9180$2"
}

# the compound checks of test_metrics, on scrapes ${M}a (before) and ${M}b
M=""
metrics_bytes_grew() {
	metric_grew "$M" 'sockgate_bytes_total{direction=down}' 1000 &&
		metric_grew "$M" 'sockgate_bytes_total{direction=up}' 100
}
metrics_upstream_counted() {
	metric_grew "$M" 'sockgate_upstream_flows_total{upstream=up}' 6 &&
		metric_grew "$M" 'sockgate_upstream_handshake_seconds_count{}' 5 &&
		metric_grew "$M" 'sockgate_upstream_handshake_seconds_bucket{le=+Inf}' 5
}
metrics_refused_counted() {
	metric_grew "$M" 'sockgate_failures_total{reason=refused}' 1 &&
		metric_is "${M}b" 'sockgate_upstream_up{upstream=up}' 1.0
}
metrics_idle() {
	metric_is "${M}b" 'sockgate_flows_active{intake=redirect}' 0.0 &&
		[ "$(metric "${M}b" 'sockgate_fds_budget{}' | cut -d. -f1)" -gt 100 ]
}
metrics_refuses_others() {
	[ "$(http_status GET /)" = 404 ] && [ "$(http_status POST /metrics)" = 405 ]
}
metrics_scrape_parses() {
	metrics_scrape "$1" && metrics_samples "$1" >/dev/null
}

test_metrics() {
	M=$RIG_DIR/metrics
	rig_start_sockgated "socks5://$PROXY4:1080" "" "metrics = 9180" "$SERVER6/128 = dead

[upstream dead]
url = socks5://$PROXY4:1"
	check "metrics: bound to loopback when only a port is given" \
		bash -c "ip netns exec $NS_ROUTER ss -Hltn 'sport = :9180' | grep -q '127.0.0.1:9180'"
	check "metrics: GET /metrics parses as the Prometheus text format" \
		metrics_scrape_parses "${M}a"
	for _ in 1 2 3 4 5; do
		in_ns $NS_CLIENT curl -s -m 5 -o /dev/null "http://$SERVER4/small"
	done
	in_ns $NS_CLIENT curl -s -m 5 -o /dev/null "http://$SERVER4:81/"
	in_ns $NS_CLIENT curl -s -m 5 -o /dev/null "http://[$SERVER6]/small"
	sleep 0.3
	check "metrics: a scrape after the flows parses too" metrics_scrape_parses "${M}b"
	check "metrics: flows_total{intake=redirect} counts the 7 flows" \
		metric_grew "$M" 'sockgate_flows_total{intake=redirect}' 7
	check "metrics: bytes each way grew" metrics_bytes_grew
	check "metrics: the upstream's flows and the handshake histogram count them" \
		metrics_upstream_counted
	check "metrics: the refused target counted by reason; its upstream still up" \
		metrics_refused_counted
	check "metrics: an upstream nobody answers is down" \
		metric_is "${M}b" 'sockgate_upstream_up{upstream=dead}' 0.0
	check "metrics: no flow left active; a budget of fds" metrics_idle
	check "metrics: / is 404, POST /metrics is 405" metrics_refuses_others
	rig_stop_sockgated
}

# Started as root outside systemd with the default [daemon] user (nobody):
# the daemon gives up root once bound, keeps the three capabilities the
# data path needs, and TPROXY TCP and UDP still work. The config must be
# readable for reload, so $RIG_DIR is opened to others for the test.
proc_field() { # pid field
	awk -v f="$2:" '$1 == f {print $2; exit}' "/proc/$1/status"
}

privileges_dropped() {
	local pid=$SOCKGATED_PID
	[ "$(proc_field "$pid" Uid)" = 65534 ] && [ "$(proc_field "$pid" Gid)" != 0 ] &&
		[ "$(proc_field "$pid" CapEff)" = 0000000000003400 ] &&
		[ "$(proc_field "$pid" CapPrm)" = 0000000000003400 ] &&
		[ "$(proc_field "$pid" CapBnd)" = 0000000000003400 ] || {
		grep -E '^(Uid|Gid|Cap)' "/proc/$pid/status" >&2
		return 1
	}
}

privileges_threads_dropped() { # every thread, not just the main one
	local t
	for t in /proc/$SOCKGATED_PID/task/*; do
		grep -q "^Uid:[[:space:]]65534" "$t/status" &&
			grep -q "^CapEff:[[:space:]]0000000000003400" "$t/status" || return 1
	done
}

test_privilege_drop() {
	local mode
	mode=$(stat -c %a "$RIG_DIR")
	chmod 0711 "$RIG_DIR"
	udp_start_peers
	udp_rules_apply ""
	RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 \
		rig_start_sockgated "socks5://$PROXY4:1080" "" "user = nobody"
	chmod 0644 "$RIG_DIR/sockgate.conf"
	check "root outside systemd: runs as nobody with CAP_NET_ADMIN, NET_RAW, NET_BIND_SERVICE only" \
		privileges_dropped
	check "... in every thread" privileges_threads_dropped
	check "... and says so in the log" expect_log "running as nobody"
	check "... TPROXY TCP still works (10 MB, sha256)" expect_file $SERVER4
	check "... transparent UDP still works (reply sockets need IP_TRANSPARENT)" \
		in_ns $NS_CLIENT $UDP_ECHO $SERVER4 $UDP_PORT 200
	check "... sockgate reload still reads the config" \
		bash -c "$SOCKGATE -c '$RIG_DIR/sockgate.conf' reload | grep -q '^ok: '"
	rig_stop_sockgated
	SOCKGATED_PREFIX="env INVOCATION_ID=0123456789abcdef" RIG_INTAKE="tproxy = 12346" RIG_WAIT_PORT=12346 \
		rig_start_sockgated "socks5://$PROXY4:1080" "" "user = nobody"
	check "an inherited INVOCATION_ID does not keep root: dropped by euid" \
		test "$(proc_field "$SOCKGATED_PID" Uid)" = 65534
	rig_stop_sockgated
	chmod "$mode" "$RIG_DIR"
	rig_redirect_rule
}

# log = syslog: lines reach /dev/log with facility daemon and the level's
# priority, and not stderr. The test's own socket stands in for the
# system logger: at /dev/log when there is none, else bound over it in a
# private mount namespace for the daemon alone.
SYSLOG_SOCK=""
SYSLOG_MADE=""
syslog_saw() { # pattern
	grep -Eq "$1" "$RIG_DIR/syslog.out"
}

test_syslog() {
	local listener prefix=""
	if [ -e /dev/log ]; then
		SYSLOG_SOCK=$RIG_DIR/devlog
		printf '#!/bin/sh\nmount --bind "%s" /dev/log && exec "$@"\n' "$SYSLOG_SOCK" >"$RIG_DIR/with-devlog.sh"
		chmod +x "$RIG_DIR/with-devlog.sh"
		prefix="unshare -m --propagation private $RIG_DIR/with-devlog.sh"
	else
		SYSLOG_SOCK=/dev/log
		SYSLOG_MADE=1
	fi
	: >"$RIG_DIR/syslog.out"
	# spawned by the rig, so a run stopped half way still ends it
	rig_spawn $NS_ROUTER listener "$RIG_DIR/syslog.out" /usr/bin/python3 -c '
import os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
while True:
    print(s.recv(65536).decode(errors="replace"), flush=True)
' "$SYSLOG_SOCK"
	for _ in $(seq 1 50); do [ -S "$SYSLOG_SOCK" ] && break; sleep 0.1; done
	SOCKGATED_PREFIX="$prefix" rig_start_sockgated "socks5://$PROXY4:1080" "" "log = syslog"
	in_ns $NS_CLIENT curl -s -m 5 -o /dev/null "http://$SERVER4:81/"
	sleep 0.3
	check "log = syslog: the start line, facility daemon, priority info (<30>), with the pid" \
		syslog_saw "^<30>.*sockgated\[$SOCKGATED_PID\]: sockgated [0-9.]+: "
	check "... a failed flow as one warning (<28>)" syslog_saw '^<28>.*sockgated\[[0-9]+\]: flow .*10\.77\.3\.2:81.*client reset$'
	check "... and nothing on stderr" bash -c "! grep -q 'client reset' '$RIG_DIR/sockgated.log'"
	rig_stop_sockgated
	rig_stop "$listener"
	[ -n "$SYSLOG_MADE" ] && rm -f /dev/log
	SYSLOG_MADE=""
}

# kill -9 under load: every live download (a slow origin's, so little of it
# waits in buffers) is reset at once (none hangs, and a close-delimited one
# does not look complete, as it would after a FIN), and the unit's restart logic (Restart=,
# RestartSec= of packaging/systemd/sockgated.service, driven by
# supervise.sh where PID 1 is not systemd) brings back a daemon that serves
# new flows within 2 s of its start.
test_crash_restart() {
	local sup pidfile=$RIG_DIR/supervised.pid old new i rc t0 t1 ok=0 bad="" codes="" restart_ms trickle
	rig_spawn $NS_SERVER trickle "$RIG_DIR/trickle.log" python3 tests/integration/trickle_server.py 8099
	rig_wait_port $NS_SERVER 8099
	rig_start_sockgated "socks5://$PROXY4:1080"
	rig_stop_sockgated
	rig_spawn $NS_ROUTER sup "$RIG_DIR/sockgated.log" tests/integration/supervise.sh \
		packaging/systemd/sockgated.service "$pidfile" -- "$SOCKGATED" -f -c "$RIG_DIR/sockgate.conf"
	rig_wait_port $NS_ROUTER $REDIRECT_PORT
	old=$(cat "$pidfile")
	for i in $(seq 8); do
		# half of them close-delimited: a FIN would pass for their end
		in_ns $NS_CLIENT curl -s -m 30 -o /dev/null \
			"$(url_of $SERVER4 "$([ $((i % 2)) = 0 ] && echo /nolength || echo /)" 8099)" 2>/dev/null &
		eval "crash_pid_$i=\$!"
	done
	sleep 1.5
	t0=$(date +%s%N)
	kill -9 "$old"
	for i in $(seq 8); do
		eval "wait \$crash_pid_$i"
		rc=$?
		# 56: reset while receiving (18 would be a FIN with bytes left)
		case $rc in 56) ok=$((ok + 1)) codes+=" $rc" ;; *) bad+=" $rc" ;; esac
	done
	t1=$(date +%s%N)
	check "kill -9 under load: all 8 downloads are reset, the close-delimited ones too (curl:$codes${bad:+; others:$bad})" \
		test "$ok" -eq 8
	check "... within 2 s of the kill ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -le 2000
	# the restart: a new pid after RestartSec, then new flows
	for _ in $(seq 100); do
		new=$(cat "$pidfile")
		[ "$new" != "$old" ] && break
		sleep 0.05
	done
	t0=$(date +%s%N)
	for _ in $(seq 40); do
		[ "$(client_fetch "$(url_of $SERVER4 /small)" | cut -d' ' -f2)" = 200 ] && break
		sleep 0.05
	done
	t1=$(date +%s%N)
	restart_ms=$(((t1 - t0) / 1000000))
	check "... the restart logic of the unit (Restart=on-failure, RestartSec=2s) started it again" \
		test "$new" != "$old"
	check "... and new flows work within 2 s of that start ($restart_ms ms)" \
		test "$(client_fetch "$(url_of $SERVER4 /small)" | cut -d' ' -f2)" = 200 -a "$restart_ms" -le 2000
	check "... an exit 0 (SIGTERM) is not restarted" bash -c "
		kill -TERM $new; sleep 2.5; ! kill -0 \$(cat '$pidfile') 2>/dev/null"
	kill "$sup" "$trickle" 2>/dev/null
	wait "$sup" "$trickle" 2>/dev/null
}
