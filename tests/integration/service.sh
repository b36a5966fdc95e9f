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
