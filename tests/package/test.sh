#!/bin/bash
# make package-test: builds the .deb and the .rpm, checks what they hold,
# runs lintian, installs the .deb on this machine, checks the installed
# service, then purges it and checks nothing is left: no file, no group, no
# rules in the kernel. Run as root on Debian (tools/install-deps.sh
# package installs the tools).
set -u
cd "$(dirname "$0")/../.."

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1"; }
check() { # description, command...
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "package-test: run as root (it installs and purges the package)" >&2
	exit 1
fi
if dpkg-query -W -f='${Status}' sockgate 2>/dev/null | grep -q "ok installed"; then
	echo "package-test: sockgate is installed on this machine; not touching it" >&2
	exit 1
fi

VERSION=$(cat VERSION)
OUT=build/packages
DEB=$OUT/sockgate_${VERSION}_$(dpkg --print-architecture).deb
RPM=$(ls $OUT/sockgate-"$VERSION"-1.*.rpm 2>/dev/null | head -n 1)
WORK=$(mktemp -d /tmp/sgpkg.XXXXXX)
HOST_TABLE=""
cleanup() {
	dpkg-query -W -f='${Status}' sockgate 2>/dev/null | grep -q "ok installed" &&
		dpkg --purge sockgate >/dev/null 2>&1
	[ -n "$HOST_TABLE" ] && nft delete table inet sockgate 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

rm -f "$OUT"/sockgate_*.deb "$OUT"/sockgate-*.rpm
check "make deb builds $(basename "$DEB")" bash -c "packaging/build.sh deb >/dev/null && test -s '$DEB'"
check "make rpm builds the .rpm" bash -c "packaging/build.sh rpm >/dev/null && ls $OUT/sockgate-$VERSION-1.*.rpm >/dev/null"
RPM=$(ls $OUT/sockgate-"$VERSION"-1.*.rpm 2>/dev/null | head -n 1)

# what both packages must hold (paths as the .deb has them; the .rpm puts
# the unit under /usr/lib and does not compress man pages)
deb_has() { dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\.||' | grep -qx "$1"; }
rpm_has() { rpm -qlp "$RPM" 2>/dev/null | grep -qx "$1"; }
for f in /usr/sbin/sockgated /usr/sbin/sockgate /etc/sockgate/sockgate.conf \
	/lib/systemd/system/sockgated.service /usr/lib/sysusers.d/sockgate.conf \
	/usr/share/bash-completion/completions/sockgate /usr/share/man/man8/sockgated.8.gz \
	/usr/share/man/man8/sockgate.8.gz /usr/share/man/man5/sockgate.conf.5.gz \
	/usr/share/doc/sockgate/examples/90-sockgate-forwarding.conf; do
	check "the .deb holds $f" deb_has "$f"
done
for f in /usr/sbin/sockgated /usr/sbin/sockgate /etc/sockgate/sockgate.conf \
	/usr/lib/systemd/system/sockgated.service /usr/lib/sysusers.d/sockgate.conf \
	/usr/share/bash-completion/completions/sockgate /usr/share/man/man8/sockgated.8 \
	/usr/share/man/man8/sockgate.8 /usr/share/man/man5/sockgate.conf.5; do
	check "the .rpm holds $f" rpm_has "$f"
done
check "the .deb marks /etc/sockgate/sockgate.conf as a conffile" \
	bash -c "dpkg-deb -f '$DEB' >/dev/null && dpkg-deb --ctrl-tarfile '$DEB' | tar -xO ./conffiles | grep -qx /etc/sockgate/sockgate.conf"
check "the .rpm marks it %config(noreplace), mode 0640, group sockgate" \
	bash -c "rpm -qp --dump '$RPM' 2>/dev/null | grep -q '^/etc/sockgate/sockgate.conf .* 0100640 root sockgate 1 '"
check "the .deb restarts the service on upgrade (postinst)" \
	bash -c "dpkg-deb --ctrl-tarfile '$DEB' | tar -xO ./postinst | grep -q '_dh_action=restart'"
check "lintian: no errors on the .deb" \
	bash -c "lintian --allow-root --fail-on error '$DEB' >'$WORK/lintian.out' 2>&1 || { cat '$WORK/lintian.out' >&2; false; }"

# install, as an admin would
check "apt-get install ./$(basename "$DEB")" \
	bash -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq './$DEB' >'$WORK/install.out' 2>&1 || { tail '$WORK/install.out' >&2; false; }"
check "the group sockgate exists" getent group sockgate
check "the config is mode 0640, root:sockgate" \
	test "$(stat -c '%a %U %G' /etc/sockgate/sockgate.conf)" = "640 root sockgate"
check "sockgated --check passes on the shipped config" \
	/usr/sbin/sockgated --check -c /etc/sockgate/sockgate.conf
check "systemd-analyze verify passes on the unit" \
	bash -c "systemd-analyze verify /lib/systemd/system/sockgated.service >'$WORK/verify.out' 2>&1 && ! grep -q . '$WORK/verify.out' || { cat '$WORK/verify.out' >&2; false; }"
check "man sockgate, man sockgated and man 5 sockgate.conf render" \
	bash -c "MANPAGER=cat MANWIDTH=80 man sockgate 2>/dev/null | grep -Eq 'manage +sockgate' && MANPAGER=cat man sockgated 2>/dev/null | grep -q 'transparent proxy daemon' && MANPAGER=cat man 5 sockgate.conf 2>/dev/null | grep -q 'udp_associations'"
check "the bash completion loads and completes subcommands" \
	bash -c "_init_completion() { cur=\${COMP_WORDS[COMP_CWORD]}; prev=\${COMP_WORDS[COMP_CWORD-1]}; words=(\"\${COMP_WORDS[@]}\"); cword=\$COMP_CWORD; }; source /usr/share/bash-completion/completions/sockgate; COMP_WORDS=(sockgate ru); COMP_CWORD=1; _sockgate; [ \"\${COMPREPLY[*]}\" = rules ]"
check "the shipped config intercepts nothing: rules apply says so, installs nothing" \
	bash -c "/usr/sbin/sockgate --json rules apply 2>&1 | grep -q '\"nothing_to_intercept\": true'"

# rules left in the kernel by hand go with the package: a table that
# intercepts only an interface this machine does not have
if ! nft list table inet sockgate >/dev/null 2>&1; then
	HOST_TABLE=1
	printf '[intake]\nredirect = 12345\ninterfaces = sgpkgtest0\n[route]\ndefault = direct\n' >"$WORK/rules.conf"
	/usr/sbin/sockgate -c "$WORK/rules.conf" rules apply >/dev/null
	check "(a table inet sockgate applied by hand before the purge)" \
		bash -c "nft list table inet sockgate >/dev/null"
fi
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\.||' >"$WORK/files"
check "dpkg --purge sockgate" bash -c "dpkg --purge sockgate >'$WORK/purge.out' 2>&1 || { cat '$WORK/purge.out' >&2; false; }"
gone() { while read -r f; do [ -e "$f" ] && { echo "left behind: $f" >&2; return 1; }; done <"$WORK/files"; return 0; }
check "purge leaves none of the package's files" gone
check "purge removes /etc/sockgate" test ! -e /etc/sockgate
check "purge removes the group sockgate" bash -c "! getent group sockgate"
if [ -n "$HOST_TABLE" ]; then
	check "purge leaves no table inet sockgate in the kernel" bash -c "! nft list table inet sockgate 2>/dev/null"
	HOST_TABLE=""
fi
check "purge leaves no eBPF pin" test ! -e /sys/fs/bpf/sockgate

echo "package-test: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
