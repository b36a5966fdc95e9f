#!/bin/bash
# make fuzz-long: every harness for LONG_SECONDS (600) or LONG_RUNS
# (10,000,000) executions, whichever comes first, from its committed corpus.
# What a run finds that reaches new coverage is merged into corpus/<harness>/
# (libFuzzer's -merge keeps only inputs that add coverage), so the corpus
# grows with the runs and is committed with them. A crash stops nothing: its
# input is kept as build/<harness>-crash-*, and the script fails at the end.
# The table of executions, coverage and findings goes to build/fuzz-long.md.
set -u
cd "$(dirname "$0")"
B=build
SECONDS_EACH=${LONG_SECONDS:-600}
RUNS_EACH=${LONG_RUNS:-10000000}
HARNESSES=${LONG_HARNESSES:-$(make -s print-harnesses)}
out=$B/fuzz-long.md
failed=0

{
	echo "| harness | executions | seconds | coverage (cov / ft) | corpus before → after | findings |"
	echo "|---|---|---|---|---|---|"
} >"$out"
for h in $HARNESSES; do
	scratch=$B/long-$h
	rm -rf "$scratch"
	mkdir -p "$scratch"
	before=$(find "corpus/$h" -type f | wc -l)
	echo "fuzz-long: $h (up to $SECONDS_EACH s or $RUNS_EACH executions)" >&2
	start=$(date +%s)
	$B/$h -max_total_time="$SECONDS_EACH" -runs="$RUNS_EACH" -max_len=4096 \
		-artifact_prefix="$B/$h-" -print_final_stats=1 "$scratch" "corpus/$h" >"$B/$h-long.log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/$h-long.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$B/$h-long.log" | tail -1 | awk '{print $2 " / " $4}')
	found="none"
	if [ "$rc" -ne 0 ]; then
		found="exit $rc: $(ls "$B/$h"-crash-* "$B/$h"-leak-* "$B/$h"-timeout-* "$B/$h"-oom-* 2>/dev/null | tr '\n' ' ')"
		failed=1
		tail -n 30 "$B/$h-long.log" >&2
	fi
	# keep what adds coverage
	$B/$h -merge=1 "corpus/$h" "$scratch" >"$B/$h-merge.log" 2>&1
	after=$(find "corpus/$h" -type f | wc -l)
	echo "| $h | ${runs:-?} | $took | ${cov:-?} | $before → $after | $found |" >>"$out"
done
cat "$out"
exit "$failed"
