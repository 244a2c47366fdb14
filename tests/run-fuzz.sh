#!/bin/sh
# Runs each libFuzzer binary for a few seconds from its seed corpus
# (tests/fuzz/corpus/<name>/ when present); any crash fails the run.
secs=$1; shift
pass=0; fail=0
for f in "$@"; do
	name=$(basename "$f")
	work=build/fuzz/corpus-$name
	mkdir -p "$work"
	seeds=tests/fuzz/corpus/$name
	[ -d "$seeds" ] || seeds=""
	if "$f" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$work" $seeds \
		>build/fuzz/$name.log 2>&1; then
		pass=$((pass + 1)); echo "ok   fuzz $name ($secs s)"
	else
		fail=$((fail + 1)); echo "FAIL fuzz $name"; tail -40 build/fuzz/$name.log
	fi
done
echo "fuzz: $pass passed, $fail failed"; mkdir -p build/test; echo "$pass $fail" > build/test/count-fuzz
[ "$fail" -eq 0 ]
