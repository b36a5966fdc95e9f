#!/bin/sh
# Installs the Debian packages sockgate needs to build and test, only those
# missing, without questions. Usage: install-deps.sh [bench|package]
set -eu

BUILD="make gcc libc6-dev pkg-config libinih-dev libc-ares-dev libjansson-dev libldns-dev libcrypt-dev libnftnl-dev libmnl-dev libcmocka-dev clang libbpf-dev bpftool linux-libc-dev"
TEST="nftables iptables libnetfilter-queue-dev iproute2 procps python3 python3-prometheus-client dante-server microsocks tinyproxy nginx curl socat proxychains4 iperf3 dnsmasq-base bind9-dnsutils libcap2-bin openssh-server openssh-client wget openssl nodejs chromium fonts-dejavu-core"
FUZZ="clang clang-format libclang-rt-dev"
BENCH="redsocks apache2-utils dnsperf iputils-ping gnuplot-nox"
PACKAGE="debhelper dpkg-dev fakeroot lintian rpm man-db systemd"

want="$BUILD $TEST $FUZZ"
[ "${1:-}" = bench ] && want="$want $BENCH"
[ "${1:-}" = package ] && want="$want $PACKAGE"

missing=""
for pkg in $want; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"

# The test peers (nginx, dante, tinyproxy, redsocks) are started by the tests
# inside their own namespaces; keep their packages from starting system-wide
# services on this host while they install.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
cleanup() { if [ -n "$made_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
