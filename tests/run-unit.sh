#!/bin/sh
# Runs every Criterion binary; prints a summary and fails if any failed.
pass=0; fail=0; failed=""
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
for t in "$@"; do
	if "$t" --jobs 2 >"$t.log" 2>&1; then
		pass=$((pass + 1)); tail -1 "$t.log" | sed "s|^|$(basename "$t"): |"
	else
		fail=$((fail + 1)); failed="$failed $(basename "$t")"; cat "$t.log"
	fi
done
echo "unit: $pass passed, $fail failed"; echo "$pass $fail" > build/test/count-unit
[ "$fail" -eq 0 ] || { echo "failed suites:$failed"; exit 1; }
