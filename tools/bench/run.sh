#!/bin/sh
# make bench: runs build/bench/store_bench and prints its table.
#
#   BENCH_REPO=path   git repository for W5 (default: a synthetic history of
#                     10,000 commits made once with git fast-import and cached
#                     under build/bench-data/)
#   BENCH_SECS=s      length of each timed loop (default 2)
#   BENCH_ONLY=ids    comma-separated workload ids (w1.relaxed,w3.*,...)
#   BENCH_TMP=dir     scratch directory (default build/bench-tmp.PID, removed after)
set -eu

BIN=${1:-build/bench/store_bench}
DATA=build/bench-data
SYNTH=$DATA/synthetic-10000.git
# A directory of its own: two runs at once must not delete each other's stores.
TMP=${BENCH_TMP:-build/bench-tmp.$$}
SECS=${BENCH_SECS:-2}

make_synthetic() {
	# Deterministic: the generator seeds its own PRNG; dates are fixed.
	rm -rf "$SYNTH.tmp"
	git init -q --bare "$SYNTH.tmp"
	"$BIN" --gen-history 10000 | git -C "$SYNTH.tmp" fast-import --quiet
	# A normal gc-style pack, the baseline of the size comparison.
	git -C "$SYNTH.tmp" repack -adq
	git -C "$SYNTH.tmp" prune-packed
	mv "$SYNTH.tmp" "$SYNTH"
}

if [ -n "${BENCH_REPO:-}" ]; then
	REPO=$BENCH_REPO
else
	mkdir -p "$DATA"
	if [ ! -d "$SYNTH" ]; then
		echo "generating the synthetic W5 history (10,000 commits) in $SYNTH ..." >&2
		t0=$(date +%s)
		make_synthetic
		echo "  done in $(( $(date +%s) - t0 )) s" >&2
	fi
	REPO=$SYNTH
fi

commits=$(git --git-dir="$REPO" rev-list --count --all 2>/dev/null ||
	git -C "$REPO" rev-list --count --all 2>/dev/null || echo "?")
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: nproc $(nproc), $cpu, $(uname -sr), load average $(cut -d" " -f1-3 /proc/loadavg) at start"
echo "W5 repository: $REPO ($commits commits reachable from its refs)"

rm -rf "$TMP"
mkdir -p "$TMP"
set +e
if [ -n "${BENCH_ONLY:-}" ]; then
	"$BIN" --tmp "$TMP" --repo "$REPO" --secs "$SECS" --only "$BENCH_ONLY"
else
	"$BIN" --tmp "$TMP" --repo "$REPO" --secs "$SECS"
fi
rc=$?
set -e
rm -rf "$TMP"
exit $rc
