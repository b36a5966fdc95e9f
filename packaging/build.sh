#!/bin/sh
# Builds a binary package from the project's tracked files, into
# build/packages/: build.sh deb (debhelper, packaging/debian/) or build.sh
# rpm (rpmbuild, packaging/rpm/sockgate.spec). The version is VERSION's.
set -eu

kind=${1:?usage: build.sh deb|rpm}
top=$(cd "$(dirname "$0")/.." && pwd)
version=$(cat "$top/VERSION")
out=$top/build/packages
stage=$top/build/pkg-$kind
src=$stage/sockgate-$version

rm -rf "$stage"
mkdir -p "$src" "$out"
# what a release holds: the tracked files (as in the work tree), no build
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# one tar for the whole list: xargs would split a long one into several
	# archives, and the reading tar stops at the end of the first
	(cd "$top" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$src"
else
	tar -C "$top" --exclude=./build --exclude='./build-*' -cf - . | tar -xf - -C "$src"
fi
# dates from the last commit, so a rebuild of it is the same package
epoch=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH=$epoch

case $kind in
deb)
	cp -r "$src/packaging/debian" "$src/debian"
	cat >"$src/debian/changelog" <<-CHANGELOG
	sockgate ($version) unstable; urgency=medium

	  * Version $version, built from the project's history.

	 -- sockgate developers <sockgate@example.org>  $(date -u -R -d "@$epoch")
	CHANGELOG
	(cd "$src" && dpkg-buildpackage -b -us -uc >"$stage/build.log" 2>&1) || {
		tail -n 40 "$stage/build.log" >&2
		echo "build.sh: dpkg-buildpackage failed; the whole log: $stage/build.log" >&2
		exit 1
	}
	mv "$stage"/sockgate_"$version"_*.deb "$out"/
	ls "$out"/sockgate_"$version"_*.deb
	;;
rpm)
	mkdir -p "$stage/rpmbuild/SOURCES"
	tar -C "$stage" -czf "$stage/rpmbuild/SOURCES/sockgate-$version.tar.gz" "sockgate-$version"
	# --nodeps: on Debian the build dependencies are Debian packages
	# (tools/install-deps.sh), which rpm's database does not know
	rpmbuild -bb --nodeps --define "_topdir $stage/rpmbuild" \
		--define "sg_version $version" "$src/packaging/rpm/sockgate.spec" \
		>"$stage/build.log" 2>&1 || {
		tail -n 40 "$stage/build.log" >&2
		echo "build.sh: rpmbuild failed; the whole log: $stage/build.log" >&2
		exit 1
	}
	mv "$stage"/rpmbuild/RPMS/*/sockgate-"$version"-*.rpm "$out"/
	ls "$out"/sockgate-"$version"-*.rpm
	;;
*)
	echo "usage: build.sh deb|rpm" >&2
	exit 2
	;;
esac
