#!/bin/bash
# supervise.sh UNIT-FILE PID-FILE -- COMMAND...
# Runs COMMAND the way the unit's Restart= and RestartSec= would (for a test
# machine whose PID 1 is not systemd): again after RestartSec when it fails
# (exit status other than 0, or a signal), not when it exits 0
# (Restart=on-failure). The running command's pid is kept in PID-FILE. TERM
# stops the supervision and the command.
set -u
unit=$1 pidfile=$2
shift 3
policy=$(sed -n 's/^Restart=//p' "$unit")
delay=$(sed -n 's/^RestartSec=//p' "$unit")
delay=${delay%s}
child=""
trap '[ -n "$child" ] && kill "$child" 2>/dev/null; wait; exit 0' TERM INT
while :; do
	"$@" &
	child=$!
	echo "$child" >"$pidfile"
	wait "$child"
	rc=$?
	echo "supervise: exited $rc" >&2
	case $policy in
	always) ;;
	on-failure) [ "$rc" -eq 0 ] && exit 0 ;;
	*) exit "$rc" ;;
	esac
	sleep "$delay"
done
