#!/usr/bin/env bash
# make soak: a router's months, compressed. sockgated on the test rig's
# router, in a memory cgroup of a small router's size, carries a mixed load
# (tests/soak/soak_load.py: short HTTP, downloads and uploads checked by
# sha256, UDP echo over IPv4 and IPv6, SOCKS TCP and UDP ASSOCIATE, DNS
# through the DNS service, idle connections, slowly read downloads, and a
# second LAN host flooding past its per-client limit) for SOAK_MINUTES
# while a chaos schedule kills and restarts the upstream, reloads
# alternating configs, changes the bypass set and re-applies the rules,
# switches loss and delay on the link to the proxy (NFQUEUE and
# tests/bench/delay_line.c: no netem here) and lowers the daemon's fd
# limit below what it holds. Afterwards the daemon must hold what it held
# before the load (fds, RSS), no byte may have come back changed, no client
# may have waited past the stall limit, and with SOAK_SANITIZE=1 (the ASan +
# UBSan build) no sanitizer may have reported. The table goes to stdout and
# to build/soak.md (build-san/ with the sanitizers).
#
# SOAK_MINUTES (10), SOAK_KILL_EVERY (90 s), SOAK_DOWN (5 s), SOAK_RELOAD_EVERY
# (40 s), SOAK_RULES_EVERY (30 s), SOAK_NET_EVERY (120 s), SOAK_NET_WINDOW (30 s),
# SOAK_DELAY_MS (20), SOAK_LOSS_PERMILLE (20), SOAK_MEM_LIMIT (128M; "off"),
# SOAK_SLOW (50 downloads read at 32 KB/s: see docs/testing.md), SOAK_FLOOD
# (1500 connections held from one more client address, past its per-client
# limit of 1024),
# SOAK_FD_SLACK (16), SOAK_RSS_SLACK_MB (16), SOAK_BUSY (0: CPU-bound loops run
# beside the rig for the whole load, a busy router); SOAK_KEEP=1 keeps the run's
# files (client results, samples, logs) in build/soak-run.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=../lib/rig.sh
. tests/lib/rig.sh
rig_require_root soak

SOAK_MINUTES=${SOAK_MINUTES:-10}
SOAK_SANITIZE=${SOAK_SANITIZE:-0}
SOAK_KILL_EVERY=${SOAK_KILL_EVERY:-90}
SOAK_DOWN=${SOAK_DOWN:-5}
SOAK_RELOAD_EVERY=${SOAK_RELOAD_EVERY:-40}
SOAK_RULES_EVERY=${SOAK_RULES_EVERY:-30}
SOAK_NET_EVERY=${SOAK_NET_EVERY:-120}
SOAK_NET_WINDOW=${SOAK_NET_WINDOW:-30}
SOAK_DELAY_MS=${SOAK_DELAY_MS:-20}
SOAK_LOSS_PERMILLE=${SOAK_LOSS_PERMILLE:-20}
SOAK_FD_SLACK=${SOAK_FD_SLACK:-16}
SOAK_RSS_SLACK_MB=${SOAK_RSS_SLACK_MB:-16}
SOAK_BUSY=${SOAK_BUSY:-0}
SOAK_SLOW=${SOAK_SLOW:-50}
SOAK_FLOOD=${SOAK_FLOOD:-1500}
FLOODER4=10.77.1.3
BUILD_DIR=build
if [ "$SOAK_SANITIZE" = 1 ]; then
	BUILD_DIR=build-san
	# ASan's shadow memory alone is past a small router's budget
	SOAK_MEM_LIMIT=${SOAK_MEM_LIMIT:-off}
fi
SOAK_MEM_LIMIT=${SOAK_MEM_LIMIT:-128M}
SOCKGATED=$PWD/$BUILD_DIR/sockgated
SOCKGATE=$PWD/$BUILD_DIR/sockgate
LOAD_SECONDS=$((SOAK_MINUTES * 60))
SOAK_OUT=$BUILD_DIR/soak.md
SOCKS_PORT=1080
LOAD=tests/soak/soak_load.py
REPORTS=""

rig_cleanup_more() {
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/rules.conf" rules flush >/dev/null 2>&1
}

log() { printf '%s soak: %s\n' "$(date +%T)" "$*"; }
now() { date +%s.%N; }
# A chaos window: what, from when (wall clock), until when.
window() { echo "$1 $2 $3" >>"$RIG_DIR/windows"; }

# The daemon's config: A and B differ in what a reload must carry over
# (pipe size, warm sessions, DNS cache size, log level).
write_config() { # A|B
	local pipe=1M warm=off cache=10000 level=info
	[ "$1" = B ] && pipe=64K warm=2 cache=2000 level=warn
	cat >"$RIG_DIR/sockgate.conf" <<-CONF
	[daemon]
	workers = 2
	user = root
	control = $RIG_DIR/ctl.sock
	connect_timeout = 5s
	handshake_timeout = 5s
	udp_idle_timeout = 10s
	log_level = $level
	pipe_size = $pipe
	max_flows = 4096

	[intake]
	redirect = $REDIRECT_PORT
	tproxy = 12346

	[upstream up]
	url = socks5://$PROXY4:1080
	warm = $warm

	[route]
	default = up

	[socks]
	listen = $ROUTER4_LAN:$SOCKS_PORT, [$ROUTER6_LAN]:$SOCKS_PORT
	auth = none
	allow = $CLIENT4/32, fd77:1::/64

	[dns]
	listen = $ROUTER4_LAN:53, [$ROUTER6_LAN]:53
	server = $SERVER4:5300
	allow = $CLIENT4/32, fd77:1::/64
	cache_size = $cache
	CONF
}

start_peers() {
	# nginx ends a response it could not write to for send_timeout (60 s),
	# which a slow reader behind dante's deep buffers reaches now that the
	# router holds only about a second of its pace (docs/testing.md): the
	# server's own policy, not the proxy's failure
	RIG_NGINX_SEND_TIMEOUT=900s rig_start_web
	rig_start_dante
	rig_spawn $NS_SERVER ECHO_PID "$RIG_DIR/echo.log" python3 $LOAD serve-echo 7
	rig_spawn $NS_SERVER UDP_ECHO_PID "$RIG_DIR/udpecho.log" python3 tests/integration/udp_echo.py --serve 7777
	rig_spawn $NS_SERVER DNS_PID "$RIG_DIR/dnsmasq.log" \
		dnsmasq -k -C /dev/null -u root --no-resolv --no-hosts --bind-interfaces \
		--listen-address=$SERVER4 --port=5300 --pid-file="$RIG_DIR/dnsmasq.pid" --local-ttl=60 \
		--address=/soak.sgdns/10.9.7.1
	rig_wait_port $NS_SERVER 7 && rig_wait_port $NS_SERVER 5300
	gcc -O2 -Wall -o "$RIG_DIR/delay_line" tests/bench/delay_line.c -lnetfilter_queue || exit 1
}

# The daemon, started inside the memory cgroup so all it allocates is
# charged there.
start_daemon() {
	write_config A
	: >"$RIG_DIR/sockgated.log"
	[ "$SOAK_MEM_LIMIT" = off ] || rig_mem_cgroup sgsoak "$SOAK_MEM_LIMIT" ||
		{ echo "soak: no memory cgroup; SOAK_MEM_LIMIT=off runs without" >&2; exit 1; }
	rig_spawn_mem_cgroup $NS_ROUTER SOCKGATED_PID "$RIG_DIR/sockgated.log" "$SOCKGATED" -f -c "$RIG_DIR/sockgate.conf"
	rig_wait_port $NS_ROUTER $REDIRECT_PORT || { cat "$RIG_DIR/sockgated.log" >&2; exit 1; }
	rig_rules_apply rules "redirect = $REDIRECT_PORT
tproxy = 12346"
}

# One line of the daemon's resources: time fds rss_kb tcp_flows udp_assocs
# pipes (pooled and in use)
sample() {
	local fds rss st
	fds=$(find "/proc/$SOCKGATED_PID/fd" -mindepth 1 2>/dev/null | wc -l)
	rss=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$SOCKGATED_PID/status" 2>/dev/null)
	st=$("$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" status 2>/dev/null |
		python3 -c 'import json,sys; d=json.load(sys.stdin)["daemon"]; print(d["flows_live"], d["udp_associations"], d["memory"]["pipes"])' 2>/dev/null)
	echo "$(now) $fds ${rss:-0} ${st:-? ? ?}"
}

start_loads() {
	local sha common=(--seconds "$LOAD_SECONDS")
	sha=$(sha256sum "$RIG_DIR/www/file10m" | cut -d' ' -f1)
	LOAD_PIDS=()
	load() { # label kind concurrency args...
		local label=$1 kind=$2 conc=$3 pid
		shift 3
		[ "$conc" -gt 0 ] || return 0
		rig_spawn $NS_CLIENT pid "$RIG_DIR/load-$label.log" python3 $LOAD "$kind" --label "$label" \
			--concurrency "$conc" --out "$RIG_DIR/load-$label.json" "${common[@]}" "$@"
		LOAD_PIDS+=("$pid")
	}
	load http http 6 --targets "$SERVER4,$SERVER6"
	load download download 1 --targets "$SERVER4,$SERVER6" --size 10485760 --sha256 "$sha"
	load upload-echo echo 1 --targets "$SERVER4,$SERVER6" --size 8388608
	load udp-v4 udp 1 --targets "$SERVER4"
	load udp-v6 udp 1 --targets "$SERVER6"
	load socks socks 2 --targets "$SERVER4,$SERVER6" --socks "$ROUTER4_LAN:$SOCKS_PORT" --size 1048576
	load socks-udp socks-udp 1 --targets "$SERVER4" --socks "$ROUTER4_LAN:$SOCKS_PORT"
	load socks-udp-v6 socks-udp 1 --targets "$SERVER6" --socks "[$ROUTER6_LAN]:$SOCKS_PORT"
	load dns dns 3 --dns "$ROUTER4_LAN:53"
	load dns-v6 dns 1 --dns "[$ROUTER6_LAN]:53"
	load idle idle 100 --targets "$SERVER4,$SERVER6"
	load slow slow "$SOAK_SLOW" --targets "$SERVER4,$SERVER6" --size 10485760 --sha256 "$sha"
	# a second LAN host opening far more than its share: shed by
	# max_flows_per_client, while the first keeps its service
	ip -n $NS_CLIENT addr add $FLOODER4/24 dev c0
	load flood flood "$SOAK_FLOOD" --targets "$SERVER4" --source $FLOODER4
}

# --- the chaos schedule: one action per due time, checked every second ---

KILLS=0 RELOADS=0 RELOADS_FAILED=0 BYPASS_CHANGES=0 RULES_APPLIED=0 RULES_FAILED=0
NET_WINDOWS=0 FD_WINDOWS=0 CONFIG=A RULES_STEP=0
DANTE_DOWN_AT="" NET_ON_AT="" FD_ON_AT="" FD_SAVED=""

chaos_kill_upstream() {
	DANTE_DOWN_AT=$(now)
	rig_kill_dante DANTE_PID "$RIG_DIR/danted.conf"
	KILLS=$((KILLS + 1))
	log "upstream killed"
}
chaos_restart_upstream() {
	rig_start_dante
	window upstream-down "$DANTE_DOWN_AT" "$(now)"
	DANTE_DOWN_AT=""
	log "upstream restarted"
}

chaos_reload() {
	[ "$CONFIG" = A ] && CONFIG=B || CONFIG=A
	write_config $CONFIG
	if in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" reload >>"$RIG_DIR/chaos.log" 2>&1; then
		RELOADS=$((RELOADS + 1))
	else
		RELOADS_FAILED=$((RELOADS_FAILED + 1))
		echo "$(now) reload" >>"$RIG_DIR/chaos-failed"
	fi
	log "reloaded with config $CONFIG"
}

# bypass add, bypass del, rules apply, in turn: changes that must not touch
# the flows under way
chaos_rules() {
	local cli=(in_ns "$NS_ROUTER" "$SOCKGATE" -c "$RIG_DIR/rules.conf") ok=1
	case $((RULES_STEP % 3)) in
	0) "${cli[@]}" bypass add 10.77.3.200/31 >>"$RIG_DIR/chaos.log" 2>&1 &&
		"${cli[@]}" bypass add fd77:3::200/127 >>"$RIG_DIR/chaos.log" 2>&1 || ok=0 ;;
	1) "${cli[@]}" bypass del 10.77.3.200/31 >>"$RIG_DIR/chaos.log" 2>&1 &&
		"${cli[@]}" bypass del fd77:3::200/127 >>"$RIG_DIR/chaos.log" 2>&1 || ok=0 ;;
	2) if "${cli[@]}" rules apply >>"$RIG_DIR/chaos.log" 2>&1; then
		RULES_APPLIED=$((RULES_APPLIED + 1))
	else ok=0; fi ;;
	esac
	[ $((RULES_STEP % 3)) -lt 2 ] && [ $ok = 1 ] && BYPASS_CHANGES=$((BYPASS_CHANGES + 1))
	if [ $ok = 0 ]; then
		RULES_FAILED=$((RULES_FAILED + 1))
		echo "$(now) rules" >>"$RIG_DIR/chaos-failed"
	fi
	RULES_STEP=$((RULES_STEP + 1))
}

net_rules() { # -A|-D
	local chain
	for chain in OUTPUT INPUT; do
		local dir=-d
		[ $chain = INPUT ] && dir=-s
		in_ns $NS_ROUTER iptables-legacy "$1" $chain $dir $PROXY4 -j NFQUEUE --queue-num 9 --queue-bypass
	done
}
chaos_net_on() {
	rig_spawn $NS_ROUTER DELAY_PID "$RIG_DIR/delay.log" "$RIG_DIR/delay_line" 9 "$SOAK_DELAY_MS" "$SOAK_LOSS_PERMILLE"
	sleep 0.2
	net_rules -A
	NET_ON_AT=$(now)
	NET_WINDOWS=$((NET_WINDOWS + 1))
	log "link to the proxy: ${SOAK_DELAY_MS} ms delay, ${SOAK_LOSS_PERMILLE}/1000 loss"
}
chaos_net_off() {
	net_rules -D
	rig_stop "$DELAY_PID"
	window loss-delay "$NET_ON_AT" "$(now)"
	NET_ON_AT=""
	log "link to the proxy: clear"
}

# The fd limit lowered to a few above what the daemon holds: accepts,
# upstream sockets, pipes and DNS sockets run out while flows are live.
chaos_fd_on() {
	local held hard
	held=$(find "/proc/$SOCKGATED_PID/fd" -mindepth 1 | wc -l)
	read -r FD_SAVED hard < <(prlimit --pid "$SOCKGATED_PID" --nofile --noheadings --output SOFT,HARD)
	# only the soft limit: raising a hard one back needs CAP_SYS_RESOURCE,
	# which root may not have (a container)
	if prlimit --pid "$SOCKGATED_PID" --nofile=$((held + 24)):"$hard"; then
		FD_ON_AT=$(now)
		FD_WINDOWS=$((FD_WINDOWS + 1))
		log "fd limit $((held + 24)) (held $held)"
	fi
}
chaos_fd_off() {
	local hard
	read -r _ hard < <(prlimit --pid "$SOCKGATED_PID" --nofile --noheadings --output SOFT,HARD)
	prlimit --pid "$SOCKGATED_PID" --nofile="$FD_SAVED:$hard" ||
		echo "$(now) fd-restore" >>"$RIG_DIR/chaos-failed" 
	window fd-limit "$FD_ON_AT" "$(now)"
	FD_ON_AT=""
	log "fd limit back to $FD_SAVED"
}

# Each action has its next due time (seconds into the load); an action that
# takes longer than a second delays, never skips, the next.
run_chaos() {
	local t=0 quiet_end=$((LOAD_SECONDS - 30))
	local next_sample=0 next_kill=$SOAK_KILL_EVERY next_reload=$((SOAK_RELOAD_EVERY + 7))
	local next_rules=$((SOAK_RULES_EVERY + 13)) next_net=$((SOAK_NET_EVERY + 20))
	local fd_at=$((LOAD_SECONDS / 2 + 3)) up_at=0 net_off_at=0 fd_off_at=0
	while [ $t -lt "$LOAD_SECONDS" ]; do
		if [ $t -ge $next_sample ]; then
			sample >>"$RIG_DIR/samples"
			next_sample=$((t + 10))
		fi
		if [ $t -lt $quiet_end ]; then
			if [ $t -ge $next_kill ]; then
				chaos_kill_upstream
				up_at=$((t + SOAK_DOWN)) next_kill=$((next_kill + SOAK_KILL_EVERY))
			fi
			if [ $t -ge $next_reload ]; then
				chaos_reload
				next_reload=$((next_reload + SOAK_RELOAD_EVERY))
			fi
			if [ $t -ge $next_rules ]; then
				chaos_rules
				next_rules=$((next_rules + SOAK_RULES_EVERY))
			fi
			if [ $t -ge $next_net ]; then
				chaos_net_on
				net_off_at=$((t + SOAK_NET_WINDOW)) next_net=$((next_net + SOAK_NET_EVERY))
			fi
			if [ $t -ge $fd_at ] && [ $FD_WINDOWS = 0 ]; then
				chaos_fd_on
				fd_off_at=$((t + 20))
			fi
		fi
		[ -n "$DANTE_DOWN_AT" ] && [ $t -ge $up_at ] && chaos_restart_upstream
		[ -n "$NET_ON_AT" ] && [ $t -ge $net_off_at ] && chaos_net_off
		[ -n "$FD_ON_AT" ] && [ $t -ge $fd_off_at ] && chaos_fd_off
		sleep 1
		t=$(($(date +%s) - START))
	done
	[ -n "$DANTE_DOWN_AT" ] && chaos_restart_upstream
	[ -n "$NET_ON_AT" ] && chaos_net_off
	[ -n "$FD_ON_AT" ] && chaos_fd_off
}

# Waits for the flows to drain (UDP associations expire after 10 s idle).
wait_drained() {
	local s
	for _ in $(seq 1 60); do
		s=$(sample)
		[ "$(echo "$s" | awk '{print $4 + $5}')" = 0 ] && break
		sleep 1
	done
	sleep 2
}

main() {
	if [ "$SOAK_SANITIZE" = 1 ]; then
		REPORTS=$PWD/$BUILD_DIR/soak-reports
		rm -rf "$REPORTS" && mkdir -p "$REPORTS"
		export ASAN_OPTIONS=log_path=$REPORTS/asan:detect_leaks=1
		export UBSAN_OPTIONS=log_path=$REPORTS/ubsan:print_stacktrace=1
	fi
	rig_up
	start_peers
	start_daemon
	sleep 2
	sample >"$RIG_DIR/baseline"
	log "sockgated $SOCKGATED_PID; baseline: $(cat "$RIG_DIR/baseline")"
	: >"$RIG_DIR/windows"
	: >"$RIG_DIR/chaos-failed"
	START=$(date +%s)
	local busy=()
	for _ in $(seq 1 "$SOAK_BUSY"); do
		(while :; do :; done) &
		busy+=($!)
		RIG_PIDS+=($!)
	done
	start_loads
	log "load for ${SOAK_MINUTES} min"
	run_chaos
	log "load ending: waiting for the clients' last operations"
	wait "${LOAD_PIDS[@]}"
	for p in "${busy[@]}"; do rig_stop "$p"; done
	wait_drained
	sample >"$RIG_DIR/after"
	# what the daemon still holds, for the table
	{
		find "/proc/$SOCKGATED_PID/fd" -mindepth 1 -printf '%l\n' | sed 's/:\[.*//' | sort | uniq -c
		in_ns $NS_ROUTER ss -Htuanp | grep "pid=$SOCKGATED_PID," | awk '{print $1, $2, $6}' | sort | uniq -c
	} >"$RIG_DIR/held"
	"$SOCKGATE" --json -c "$RIG_DIR/sockgate.conf" stats >"$RIG_DIR/stats.json"
	local alive=no
	kill -0 "$SOCKGATED_PID" 2>/dev/null && alive=yes
	RIG_MEM_PEAK="" RIG_MEM_OOM="" RIG_MEM_TCP_PEAK=""
	[ -z "$RIG_MEM_CG" ] || rig_mem_cgroup_read
	rig_stop_sockgated # a sanitizer's leak report is written at exit
	mkdir -p "$BUILD_DIR"
	if [ "${SOAK_KEEP:-0}" = 1 ]; then
		rm -rf "$BUILD_DIR/soak-run" && cp -r "$RIG_DIR" "$BUILD_DIR/soak-run"
	fi
	python3 tests/soak/soak_report.py --dir "$RIG_DIR" --minutes "$SOAK_MINUTES" --start "$START" \
		--alive $alive --mem-limit "$SOAK_MEM_LIMIT" --cgroup-peak "$RIG_MEM_PEAK" --cgroup-tcp-peak "$RIG_MEM_TCP_PEAK" --oom-kills "$RIG_MEM_OOM" \
		--fd-slack "$SOAK_FD_SLACK" --rss-slack-mb "$SOAK_RSS_SLACK_MB" --reports "$REPORTS" \
		--chaos "kills=$KILLS down=${SOAK_DOWN}s reloads=$RELOADS reloads_failed=$RELOADS_FAILED bypass_changes=$BYPASS_CHANGES rules_applied=$RULES_APPLIED rules_failed=$RULES_FAILED net_windows=$NET_WINDOWS fd_windows=$FD_WINDOWS" \
		--conditions "$SOAK_BUSY CPU-bound loops beside the rig; delay ${SOAK_DELAY_MS} ms, loss ${SOAK_LOSS_PERMILLE}/1000 for ${SOAK_NET_WINDOW} s every ${SOAK_NET_EVERY} s; upstream killed every ${SOAK_KILL_EVERY} s; reload every ${SOAK_RELOAD_EVERY} s; bypass/rules every ${SOAK_RULES_EVERY} s" \
		--sanitize "$SOAK_SANITIZE" --out "$SOAK_OUT"
}

main
