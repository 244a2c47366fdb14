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
# A directory of its own: two runs at once must not delete each other's stores.
TMP=${BENCH_TMP:-build/bench-tmp.$$}
SECS=${BENCH_SECS:-2}

# The W5 history: $BENCH_REPO, or the synthetic one (made once, cached).
. "$(dirname "$0")/bench_repo.sh"
bench_repo "$BIN"

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
