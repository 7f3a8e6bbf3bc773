#!/bin/sh
# Runs every cmocka test binary in BUILD/tests; prints one summary line.
set -u
B=${1:-build}
pass=0 fail=0
for t in test_config test_clamd test_ipc test_sandbox test_lifecycle test_cache test_shared; do
	if "$B/tests/$t"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "unit: $t FAILED"
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
