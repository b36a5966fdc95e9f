# shellcheck shell=bash
# Test rig: four hosts in network namespaces made here, torn down on exit.
#
#   client ──(10.77.1.0/24, fd77:1::/64)── router ──(10.77.2.0/24, fd77:2::/64)── proxy
#                                                                                   │
#                                     server ──(10.77.3.0/24, fd77:3::/64)──────────┘
#
# The router runs sockgated behind an nftables REDIRECT rule; it has no route
# to the server, so the client reaches the server only through sockgated and
# an upstream proxy on the proxy host. Every name carries a per-run prefix.

RIG_PREFIX=${RIG_PREFIX:-sg$$}
RIG_DIR=""
RIG_PIDS=()
RIG_EXTRA_NS=() # namespaces tests made besides the four
RIG_MEM_CG=""   # the memory cgroup rig_mem_cgroup made
SOCKGATED=${SOCKGATED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/sockgated}
SOCKGATE=${SOCKGATE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/sockgate}

NS_CLIENT=${RIG_PREFIX}c
NS_ROUTER=${RIG_PREFIX}r
NS_PROXY=${RIG_PREFIX}p
NS_SERVER=${RIG_PREFIX}s

CLIENT4=10.77.1.2 ROUTER4_LAN=10.77.1.1 ROUTER4=10.77.2.1 PROXY4=10.77.2.2
PROXY4_WAN=10.77.3.1 SERVER4=10.77.3.2
CLIENT6=fd77:1::2 ROUTER6_LAN=fd77:1::1 ROUTER6=fd77:2::1 PROXY6=fd77:2::2
PROXY6_WAN=fd77:3::1 SERVER6=fd77:3::2
REDIRECT_PORT=12345

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Exits unless root: the rig makes namespaces and nftables rules.
rig_require_root() { # who
	if [ "$(id -u)" -ne 0 ]; then
		echo "$1: run as root (it creates network namespaces and nftables rules)" >&2
		exit 1
	fi
}

rig_link() { # ns_a if_a addr4_a addr6_a ns_b if_b addr4_b addr6_b
	ip -n "$1" link add "$2" type veth peer name "$6" netns "$5"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$1" addr add "$4/64" dev "$2" nodad
	ip -n "$5" addr add "$7/24" dev "$6"
	ip -n "$5" addr add "$8/64" dev "$6" nodad
	ip -n "$1" link set "$2" up
	ip -n "$5" link set "$6" up
}

rig_up() {
	RIG_DIR=$(mktemp -d "/tmp/${RIG_PREFIX}.XXXXXX")
	chmod 755 "$RIG_DIR"
	trap rig_down EXIT
	trap 'exit 130' INT TERM
	for ns in $NS_CLIENT $NS_ROUTER $NS_PROXY $NS_SERVER; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		# no tentative addresses: peers bind them right away
		in_ns "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	done
	rig_link $NS_CLIENT c0 $CLIENT4 $CLIENT6 $NS_ROUTER r0 $ROUTER4_LAN $ROUTER6_LAN
	rig_link $NS_ROUTER r1 $ROUTER4 $ROUTER6 $NS_PROXY p0 $PROXY4 $PROXY6
	rig_link $NS_PROXY p1 $PROXY4_WAN $PROXY6_WAN $NS_SERVER s0 $SERVER4 $SERVER6
	ip -n $NS_CLIENT route add default via $ROUTER4_LAN
	ip -n $NS_CLIENT -6 route add default via $ROUTER6_LAN
	in_ns $NS_ROUTER sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# Names the router resolves (ip netns exec binds these over /etc);
	# the name server is nobody, so other names fail at once.
	mkdir -p "/etc/netns/$NS_ROUTER"
	printf '%s\n' "127.0.0.1 localhost" "::1 localhost" "$SERVER4 web.sgtest" "$SERVER6 web.sgtest" \
		"$SERVER6 web6.sgtest" "$PROXY4 near.sgtest" "$PROXY6 multi.sgtest" "$PROXY4 multi.sgtest" \
		>"/etc/netns/$NS_ROUTER/hosts"
	echo "nameserver 127.0.0.1" >"/etc/netns/$NS_ROUTER/resolv.conf"
	# The router knows the LAN and the proxy's link, nothing beyond.
	# The server answers only its neighbour, the proxy.
}

rig_down() {
	local pid ns
	# what a test left outside the namespaces (it defines rig_cleanup_more)
	declare -F rig_cleanup_more >/dev/null && rig_cleanup_more
	for pid in "${RIG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${RIG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	RIG_PIDS=()
	for ns in $NS_CLIENT $NS_ROUTER $NS_PROXY $NS_SERVER; do
		ip netns del "$ns" 2>/dev/null
	done
	for ns in "${RIG_EXTRA_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "$RIG_MEM_CG" ] && rmdir "$RIG_MEM_CG" 2>/dev/null
	RIG_MEM_CG=""
	rm -rf "/etc/netns/$NS_ROUTER" "/etc/netns/$NS_CLIENT" "/etc/netns/$NS_PROXY"
	[ -n "$RIG_DIR" ] && rm -rf "$RIG_DIR"
	RIG_DIR=""
}

# Starts "$@" in namespace $1 in the background, recording its pid in RIG_PIDS
# and in the variable named by $2.
rig_spawn() {
	local ns=$1 var=$2 log=$3
	shift 3
	ip netns exec "$ns" "$@" >>"$log" 2>&1 &
	RIG_PIDS+=($!)
	printf -v "$var" '%s' "$!"
}

# A memory cgroup of LIMIT bytes (as systemd's MemoryMax= makes one) in
# RIG_MEM_CG, for rig_spawn_mem_cgroup: v2 where the memory controller is
# enabled, else v1, which charges socket buffers only under a TCP limit of
# their own (v2 counts them in memory.max), given the same size here.
# rig_down removes it.
rig_mem_cgroup() { # name limit
	local name=$1$$ limit=$2
	if grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
		RIG_MEM_CG=/sys/fs/cgroup/$name
		mkdir "$RIG_MEM_CG" && echo "$limit" >"$RIG_MEM_CG/memory.max"
	elif [ -d /sys/fs/cgroup/memory ]; then
		RIG_MEM_CG=/sys/fs/cgroup/memory/$name
		mkdir "$RIG_MEM_CG" && echo "$limit" >"$RIG_MEM_CG/memory.limit_in_bytes" &&
			{ [ ! -e "$RIG_MEM_CG/memory.kmem.tcp.limit_in_bytes" ] ||
				echo "$limit" >"$RIG_MEM_CG/memory.kmem.tcp.limit_in_bytes"; }
	else
		echo "no memory cgroup controller here" >&2
		return 1
	fi
}

# rig_spawn inside RIG_MEM_CG when there is one, so that all the command
# allocates is charged there: joined before ip netns exec, which mounts a
# sysfs of the namespace's own without the cgroup tree.
rig_spawn_mem_cgroup() { # ns var log command...
	[ -n "$RIG_MEM_CG" ] || { rig_spawn "$@"; return; }
	local ns=$1 var=$2 log=$3
	shift 3
	sh -c 'echo $$ >"$0/cgroup.procs" && exec ip netns exec "$@"' "$RIG_MEM_CG" "$ns" "$@" \
		>>"$log" 2>&1 &
	RIG_PIDS+=($!)
	printf -v "$var" '%s' "$!"
}

# What RIG_MEM_CG saw: RIG_MEM_PEAK (bytes charged at most), RIG_MEM_OOM
# (OOM kills) and, on v1, RIG_MEM_TCP_PEAK (socket buffers at most); empty
# where this kernel does not say.
# shellcheck disable=SC2034 # read by the scripts that source this
rig_mem_cgroup_read() {
	RIG_MEM_PEAK=$(cat "$RIG_MEM_CG/memory.peak" "$RIG_MEM_CG/memory.max_usage_in_bytes" 2>/dev/null | head -1)
	RIG_MEM_OOM=$(cat "$RIG_MEM_CG/memory.events" "$RIG_MEM_CG/memory.oom_control" 2>/dev/null |
		awk '$1 == "oom_kill" {print $2; exit}')
	RIG_MEM_TCP_PEAK=$(cat "$RIG_MEM_CG/memory.kmem.tcp.max_usage_in_bytes" 2>/dev/null)
}

# A process and all its descendants, from one look at the process table
# (a pgrep per process took seconds for dante's tree on a busy machine).
rig_tree_pids() { # pid
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(root, queue, " ")
			for (i = 1; i <= n; i++) {
				print queue[i]
				m = split(kids[queue[i]], more, " ")
				for (j = 1; j <= m; j++)
					queue[++n] = more[j]
			}
		}'
}

# Kills a process we started and all its descendants with SIGKILL, at once
# as a crash would (dante's children keep relaying when only the parent
# dies). The parent is stopped first and the rest before any is killed:
# killed one by one, a parent still alive forks replacements for its dead
# children, and went on serving for seconds on a busy machine.
rig_kill_tree() { # pid
	local pids
	kill -STOP "$1" 2>/dev/null
	pids=$(rig_tree_pids "$1")
	# shellcheck disable=SC2086 # a list of pids
	kill -STOP $pids 2>/dev/null
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
}

# Kills a dante we started as a crash would: its process tree, then any
# process still running its config (one forked while the tree was walked
# would keep the listening socket and answer greetings).
rig_kill_dante() { # pid-variable config-file
	rig_kill_tree "${!1}"
	pkill -KILL -f -- "danted -f $2" 2>/dev/null
	rig_stop "${!1}"
}

rig_stop() { # pid
	kill "$1" 2>/dev/null
	{ wait "$1"; } 2>/dev/null # no "Killed" notice for one we killed
	local keep=() p
	for p in "${RIG_PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
	RIG_PIDS=("${keep[@]}")
}

# Waits until something listens on TCP port $2 inside namespace $1
# (without connecting: a probe connection would be a flow of its own).
rig_wait_port() {
	local ns=$1 port=$2 i
	for i in $(seq 1 100); do
		if [ -n "$(in_ns "$ns" ss -Hltn "sport = :$port")" ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "rig: nothing listening on port $port in $ns" >&2
	return 1
}

# nginx on the server, port 80 v4 and v6, serving $RIG_DIR/www.
rig_start_web() {
	mkdir -p "$RIG_DIR/www" "$RIG_DIR/nginx"
	head -c 10485760 /dev/urandom >"$RIG_DIR/www/file10m"
	echo hello >"$RIG_DIR/www/small"
	cat >"$RIG_DIR/nginx/nginx.conf" <<-CONF
	worker_processes ${RIG_NGINX_WORKERS:-1};
	worker_rlimit_nofile 65536;
	daemon off;
	pid $RIG_DIR/nginx/nginx.pid;
	error_log $RIG_DIR/nginx/error.log;
	events { worker_connections ${RIG_NGINX_CONNS:-4096}; }
	http {
	    log_format peer '\$remote_addr "\$request" \$status \$body_bytes_sent';
	    access_log ${RIG_ACCESS_LOG:-off};
	    client_body_temp_path $RIG_DIR/nginx;
	    proxy_temp_path $RIG_DIR/nginx;
	    fastcgi_temp_path $RIG_DIR/nginx;
	    uwsgi_temp_path $RIG_DIR/nginx;
	    scgi_temp_path $RIG_DIR/nginx;
	    keepalive_requests 100000;
	    send_timeout ${RIG_NGINX_SEND_TIMEOUT:-60s};
	    server {
	        listen 80 backlog=4096;
	        listen [::]:80 backlog=4096;
	        root $RIG_DIR/www;
	    }
	}
	CONF
	rig_spawn $NS_SERVER NGINX_PID "$RIG_DIR/nginx/stdout.log" nginx -c "$RIG_DIR/nginx/nginx.conf"
	rig_wait_port $NS_SERVER 80
}

# A dante config listening on port $2 of the proxy, SOCKS method $3.
rig_dante_conf() { # dir port method
	cat >"$1/danted.conf" <<-CONF
	logoutput: $1/danted.log
	internal: $PROXY4 port = $2
	internal: $PROXY6 port = $2
	external: $PROXY4_WAN
	external: $PROXY6_WAN
	clientmethod: none
	socksmethod: $3
	user.privileged: root
	user.unprivileged: nobody
	client pass { from: 0/0 to: 0/0 }
	socks pass { from: 0/0 to: 0/0 command: connect udpassociate udpreply bind bindreply }
	CONF
}

# dante on the proxy, port 1080, no authentication, SOCKS4 and SOCKS5.
rig_start_dante() {
	rig_dante_conf "$RIG_DIR" 1080 none
	rig_spawn $NS_PROXY DANTE_PID "$RIG_DIR/danted.out" danted -f "$RIG_DIR/danted.conf" -p "$RIG_DIR/danted.pid"
	rig_wait_port $NS_PROXY 1080
}

# dante on the proxy, port 1083, RFC 1929 username/password against the
# system password database. dante runs in a mount namespace of its own where
# a private passwd/shadow (root, nobody and the test user only) is bound over
# /etc: the host's files are neither read nor changed.
DANTE_USER=sgdante
DANTE_PASS=dante-pw
DANTE_PASS_HASH='$6$abcdefgh$pg3qV/b/KU3NqCWKgrrnYwtpQSMtFOWgO6tQTqHkr8Q7EXD6YXDDwSo3tMlhuyj83ZxsT0bcqeHsrPf5VRFSC.'
rig_start_dante_auth() {
	local d=$RIG_DIR/dante-auth
	mkdir -p "$d"
	printf '%s\n' "root:x:0:0:root:/root:/bin/sh" "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin" \
		"$DANTE_USER:x:64999:65534::/nonexistent:/usr/sbin/nologin" >"$d/passwd"
	printf '%s\n' "root:*:19000:0:99999:7:::" "nobody:*:19000:0:99999:7:::" \
		"$DANTE_USER:$DANTE_PASS_HASH:19000:0:99999:7:::" >"$d/shadow"
	chmod 600 "$d/shadow"
	rig_dante_conf "$d" 1083 username
	rig_spawn $NS_PROXY DANTE_AUTH_PID "$d/danted.out" unshare -m sh -c \
		"mount --bind '$d/passwd' /etc/passwd && mount --bind '$d/shadow' /etc/shadow && exec danted -f '$d/danted.conf' -p '$d/danted.pid'"
	rig_wait_port $NS_PROXY 1083
}

# microsocks on the proxy: port 1081 open, port 1082 with user "alice".
MICROSOCKS_USER=alice
MICROSOCKS_PASS='s3cr:t@x'
rig_start_microsocks() {
	rig_spawn $NS_PROXY MICROSOCKS_PID "$RIG_DIR/microsocks.log" microsocks -i :: -p 1081
	rig_spawn $NS_PROXY MICROSOCKS_AUTH_PID "$RIG_DIR/microsocks-auth.log" \
		microsocks -i :: -p 1082 -u "$MICROSOCKS_USER" -P "$MICROSOCKS_PASS"
	rig_wait_port $NS_PROXY 1081 && rig_wait_port $NS_PROXY 1082
}

# tinyproxy on the proxy, port 8888, Basic auth, CONNECT allowed to ports
# 80, 81, 2222 and 5300 (the DNS tests' resolver).
TINYPROXY_USER=bob
TINYPROXY_PASS=hunter2
rig_start_tinyproxy() {
	cat >"$RIG_DIR/tinyproxy.conf" <<-CONF
	Port 8888
	Timeout 60
	MaxClients 1000
	LogFile "$RIG_DIR/tinyproxy.log"
	LogLevel Notice
	PidFile "$RIG_DIR/tinyproxy.pid"
	BasicAuth $TINYPROXY_USER $TINYPROXY_PASS
	ConnectPort 80
	ConnectPort 81
	ConnectPort 2222
	ConnectPort 5300
	CONF
	rig_spawn $NS_PROXY TINYPROXY_PID "$RIG_DIR/tinyproxy.out" tinyproxy -d -c "$RIG_DIR/tinyproxy.conf"
	rig_wait_port $NS_PROXY 8888
}

# A route around the proxies for direct connections: router -> proxy -> server.
rig_open_direct_path() {
	in_ns $NS_PROXY sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n $NS_ROUTER route add 10.77.3.0/24 via $PROXY4
	ip -n $NS_ROUTER -6 route add fd77:3::/64 via $PROXY6
	ip -n $NS_SERVER route add default via $PROXY4_WAN
	ip -n $NS_SERVER -6 route add default via $PROXY6_WAN
}
rig_close_direct_path() {
	in_ns $NS_PROXY sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
	ip -n $NS_ROUTER route del 10.77.3.0/24
	ip -n $NS_ROUTER -6 route del fd77:3::/64
	ip -n $NS_SERVER route del default
	ip -n $NS_SERVER -6 route del default
}

# A rules config $RIG_DIR/$1.conf intercepting the LAN link, with the
# [intake] lines $2 and the daemon's control socket (and [daemon] lines $3). The rig's addresses are private ranges, which are
# bypassed by default.
rig_rules_conf() { # name intake-lines [more daemon lines]
	cat >"$RIG_DIR/$1.conf" <<-CONF
	[daemon]
	control = $RIG_DIR/ctl.sock
	${3:-}
	[intake]
	$2
	interfaces = r0
	bypass_private = no
	[route]
	default = direct
	CONF
}

rig_rules_apply() { # name intake-lines
	rig_rules_conf "$1" "$2"
	in_ns $NS_ROUTER "$SOCKGATE" -c "$RIG_DIR/$1.conf" rules apply >/dev/null
}

# The REDIRECT rules, installed by the CLI: TCP arriving on the LAN link goes
# to sockgated.
rig_redirect_rule() {
	rig_rules_apply rules "redirect = $REDIRECT_PORT"
}
# Writes a config for upstream URL $1 (or "direct") and starts sockgated.
# RIG_INTAKE replaces the [intake] lines, RIG_WAIT_PORT the port waited for.
# $2: more [upstream] lines, $3: more [daemon] lines, $4: text appended
# after "[route] default" (more routes, then other sections).
SOCKGATED_PID=""
rig_start_sockgated() {
	local url=$1 upstream_extra=${2:-} extra=${3:-} tail=${4:-}
	local timeouts=""
	grep -q connect_timeout <<<"$extra" || timeouts+="connect_timeout = 3s"$'\n'
	grep -q handshake_timeout <<<"$extra" || timeouts+="handshake_timeout = 3s"$'\n'
	grep -q workers <<<"$extra" || timeouts+="workers = 2"$'\n'
	grep -q control <<<"$extra" || timeouts+="control = $RIG_DIR/ctl.sock"$'\n'
	# its config and users file live in the root-only $RIG_DIR: stay root
	# unless the test says otherwise (test_privilege_drop)
	grep -q '^user' <<<"$extra" || timeouts+="user = root"$'\n'
	cat >"$RIG_DIR/sockgate.conf" <<-CONF
	[daemon]
	$timeouts
	$extra

	[intake]
	${RIG_INTAKE:-redirect = $REDIRECT_PORT}

	[upstream up]
	url = $url
	$upstream_extra

	[route]
	default = up
	$tail
	CONF
	if [ "$url" = direct ]; then
		sed -i '/^\[upstream up\]/,/^\[route\]/{/^\[route\]/!d}; s/^default = up/default = direct/' "$RIG_DIR/sockgate.conf"
	fi
	: >"$RIG_DIR/sockgated.log"
	# SOCKGATED_PREFIX: a wrapper command such as "prlimit --nofile=200"
	# shellcheck disable=SC2086
	rig_spawn $NS_ROUTER SOCKGATED_PID "$RIG_DIR/sockgated.log" ${SOCKGATED_PREFIX:-} "$SOCKGATED" -f -c "$RIG_DIR/sockgate.conf"
	rig_wait_port $NS_ROUTER ${RIG_WAIT_PORT:-$REDIRECT_PORT}
}

rig_stop_sockgated() {
	[ -n "$SOCKGATED_PID" ] && rig_stop "$SOCKGATED_PID"
	SOCKGATED_PID=""
}
