#!/bin/sh
# Runs every tests/shell/*.sh with GROVE pointing at the CLI under test.
GROVE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); export GROVE
export ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
pass=0; fail=0; failed=""
for t in tests/shell/*.sh; do
	[ -e "$t" ] || continue
	log=build/test/shell-$(basename "$t" .sh).log
	if bash "$t" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "ok   $t"
	else
		fail=$((fail + 1)); failed="$failed $t"; echo "FAIL $t"; tail -40 "$log"
	fi
done
echo "shell: $pass passed, $fail failed"; echo "$pass $fail" > build/test/count-shell
[ "$fail" -eq 0 ]
