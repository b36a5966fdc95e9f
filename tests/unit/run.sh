#!/bin/sh
# Runs each cmocka binary given; prints their output and one total line.
passed=0
failed=0
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "unit: FAILED: $t"
	fi
done
echo "unit binaries: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
