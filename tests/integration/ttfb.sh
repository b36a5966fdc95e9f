# shellcheck shell=bash
# Time to first byte: warm upstream sessions and optimistic data, sourced by
# run.sh after the rig is up. Functional, not timed: the counters say which
# path a flow took; transfers are sha256-checked both ways. The upstream is
# the rig's dante (and, for optimistic data, OpenSSH's ssh -D as well, both
# behind a 10 ms delay line, as over a WAN).

TTFB_ORIGIN_PORT=8091

warm_stats() { # field of sockgate --json stats' "warm"
	"$SOCKGATE" -c "$RIG_DIR/sockgate.conf" --json stats 2>/dev/null |
		python3 -c "import json,sys; print(json.load(sys.stdin)['warm']['$1'])" 2>/dev/null
}

warm_at_least() { # field n
	local v
	v=$(warm_stats "$1")
	[ -n "$v" ] && [ "$v" -ge "$2" ]
}

# No connection of the router's to dante's port is established.
none_to_dante() { [ -z "$(in_ns $NS_ROUTER ss -Htn state established "dst $PROXY4:1080")" ]; }

served_and_used() { # the flow is served, and warm used grew to n
	in_ns $NS_CLIENT curl -s -m 5 "$(url_of $SERVER4 /small)" | grep -qx hello && warm_at_least used "$1"
}

wait_for() { # seconds command...
	local n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -le 0 ] && return 1
		sleep 0.1
	done
}

# An origin beyond the proxy that reports the sha256 of uploads.
ttfb_start_origin() {
	rig_spawn $NS_SERVER TTFB_ORIGIN_PID "$RIG_DIR/ttfb-origin.log" python3 tests/integration/http_origin.py $TTFB_ORIGIN_PORT
	rig_wait_port $NS_SERVER $TTFB_ORIGIN_PORT
}

test_warm_sessions() {
	# one worker: pools are per worker, and which worker a flow reaches is
	# the kernel's choice
	rig_start_sockgated "socks5://$PROXY4:1080" "warm = 2
warm_idle = 4s" "workers = 1" || { fail "sockgated with warm sessions did not start"; return; }
	check "warm: the first flow finds none ready (a miss), and is served" expect_file $SERVER4
	check "warm: ... then 2 sessions wait at dante, greeting done" wait_for 5 warm_at_least ready 2
	check "warm: a flow takes one (used 1) and is served" served_and_used 1
	local want
	want=$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)
	check "warm: 10 MB over a warm session, sha256 matches" \
		expect_out "$want" bash -c "ip netns exec $NS_CLIENT curl -sS -m 20 $(url_of $SERVER4 /file10m) | sha256sum | cut -d' ' -f1"
	check "warm: 50 parallel flows all served" expect_parallel $SERVER4 50
	# dante restarted while its sessions wait, their FINs lost on the way:
	# a flow takes a session that is dead (dante's kernel answers RST) and
	# is given a fresh connection instead, the client none the wiser
	wait_for 5 warm_at_least ready 1
	in_ns $NS_PROXY nft -f - <<-NFT
	table inet sgwarm {
	    chain output { type filter hook output priority 0; tcp sport 1080 tcp flags & fin == fin drop; }
	}
	NFT
	rig_kill_dante DANTE_PID "$RIG_DIR/danted.conf"
	rig_start_dante
	check "warm: a session dante forgot (restarted) is replaced at once: the client gets its page" \
		expect_file $SERVER4
	in_ns $NS_PROXY nft delete table inet sgwarm
	check "warm: ... counted as found dead and replaced" warm_at_least retried 1
	check "warm: sockgate stats shows the pools" \
		expect_match "warm sessions: [0-9]+ ready; [0-9]+ opened, [0-9]+ used" "$SOCKGATE" -c "$RIG_DIR/sockgate.conf" stats
	check "warm: idle for warm_idle, the pools empty: no connection to dante left" \
		wait_for 10 none_to_dante
	rig_stop_sockgated
}

# A delay line (NFQUEUE: this kernel has no netem) of $1 ms each way on
# the router's link to the proxy's ports 1080 and 22: what a WAN makes of
# it, the target's answer and FIN arriving together with the grant.
ttfb_delay_on() { # ms
	gcc -O2 -Wall -o "$RIG_DIR/delay_line" tests/bench/delay_line.c -lnetfilter_queue || return 1
	rig_spawn $NS_ROUTER TTFB_DELAY_PID "$RIG_DIR/ttfb-delay.log" "$RIG_DIR/delay_line" 10 "$1"
	sleep 0.2
	for port in 1080 22; do
		in_ns $NS_ROUTER iptables-legacy -A OUTPUT -p tcp -d $PROXY4 --dport $port -j NFQUEUE --queue-num 10 --queue-bypass
		in_ns $NS_ROUTER iptables-legacy -A INPUT -p tcp -s $PROXY4 --sport $port -j NFQUEUE --queue-num 10 --queue-bypass
	done
}
ttfb_delay_off() {
	in_ns $NS_ROUTER iptables-legacy -F OUTPUT
	in_ns $NS_ROUTER iptables-legacy -F INPUT
	rig_stop "$TTFB_DELAY_PID"
}

test_optimistic_data() {
	local up want got
	ttfb_start_origin
	ttfb_delay_on 10 || { fail "optimistic: cannot build the delay line"; return; }
	head -c 1048576 /dev/urandom >"$RIG_DIR/ttfb-upload"
	want=$(sha256sum <"$RIG_DIR/ttfb-upload" | cut -d' ' -f1)
	for up in dante ssh; do
		local url="socks5://$PROXY4:1080" extra="optimistic = yes"
		if [ $up = ssh ]; then
			rm -rf "$RIG_DIR/ssh" # its keys are made afresh
			dns_start_ssh_socks
			url="socks5://127.0.0.1:$SSH_SOCKS_PORT"
		fi
		for warm in off 2; do
			rig_start_sockgated "$url" "$extra
warm = $warm" "workers = 1" || { fail "sockgated with optimistic data ($up) did not start"; continue; }
			# the first flow warms the pool
			in_ns $NS_CLIENT curl -s -m 5 -o /dev/null "$(url_of $SERVER4 /small)"
			sleep 0.5
			got=$(in_ns $NS_CLIENT curl -sS -m 20 --data-binary "@$RIG_DIR/ttfb-upload" \
				"http://$SERVER4:$TTFB_ORIGIN_PORT/sha" 2>&1)
			check "optimistic ($up, warm $warm): a 1 MB upload arrives byte-exact (sha256)" \
				test "$got" = "$want"
			check "optimistic ($up, warm $warm): 10 MB down, sha256 matches" \
				expect_out "$(sha256sum <"$RIG_DIR/www/file10m" | cut -d' ' -f1)" bash -c \
				"ip netns exec $NS_CLIENT curl -sS -m 20 $(url_of $SERVER4 /file10m) | sha256sum | cut -d' ' -f1"
			check "optimistic ($up, warm $warm): a server that speaks first is served (after the wait)" \
				expect_banner $SERVER4
			# the target's answer and its FIN come right behind the grant:
			# the relay must still see the FIN (each flow read to its end)
			check "optimistic ($up, warm $warm): answers that end with the server's close end" \
				expect_match "failed 0" in_ns $NS_CLIENT timeout 20 python3 tests/bench/ttfb_load.py $SERVER4 80 /small 5 1
			check "optimistic ($up, warm $warm): the first bytes went with the request (counted)" \
				warm_at_least optimistic 2
			check "optimistic ($up, warm $warm): a refused CONNECT still resets the client" \
				expect_reset "http://$SERVER4:81/" 4000
			[ $warm = 2 ] && check "optimistic ($up, warm $warm): the flows used warm sessions" \
				warm_at_least used 2
			rig_stop_sockgated
		done
	done
	ttfb_delay_off
	rig_stop "$SSH_SOCKS_PID"
	rig_stop "$SSHD_PID"
	rig_stop "$TTFB_ORIGIN_PID"
}
