#!/bin/sh
# make bench: the sync benchmark.  Against one `git daemon` (git 2.39)
# serving the git-server benchmark's repository: grove clone / fetch of 100
# new commits / push of 100 new commits vs git clone --bare / git fetch /
# git push of the same (wall time, ratio, target <= 1.3x of git); then the
# latency from a DAV PUT's response to its commit being on the remote under
# `grove serve --upstream git://... --push-delay-ms 200` at 50 PUTs/s for
# 20 s (p50, p99; target p99 < 1 s).  The measuring is done by
# sync_bench.py (see its header).  About 2-5 minutes.
#
#   BENCH_REPO=path        git directory to serve (default: the synthetic
#                          10,000-commit history of tools/bench/run.sh,
#                          made once under build/bench-data/, as
#                          git_server_bench.sh does)
#   BENCH_SYNC_REPS=n      runs of each transfer, median shown (default 3)
#   BENCH_SYNC_ONLY=part   transfer or latency (default both)
#   BENCH_SYNC_RATE=n      PUTs per second (50); BENCH_SYNC_SECS=s (20)
#   BENCH_SYNC_TMP=dir     scratch directory (default build/bench-sync-tmp.PID,
#                          removed unless the run failed)
#
# usage: sync_bench.sh [GROVE_BIN [STORE_BENCH_BIN]]
set -eu

GROVE=${1:-build/grove}
GEN=${2:-build/bench/store_bench}
TMP=${BENCH_SYNC_TMP:-build/bench-sync-tmp.$$}

for tool in git /usr/lib/git-core/git-daemon /usr/bin/python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "sync_bench: $tool missing (make deps)" >&2; exit 1; }
done

. "$(dirname "$0")/bench_repo.sh"
bench_repo "$GEN"
commits=$(git --git-dir="$REPO" rev-list --count "$branch")
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "sync benchmark"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "command: sh tools/bench/sync_bench.sh $GROVE${BENCH_REPO:+ (BENCH_REPO=$BENCH_REPO)}"
echo "machine: nproc $(nproc), $cpu, $(uname -sr), load average $(cut -d" " -f1-3 /proc/loadavg) at start"
echo "repository: $desc"
echo "  $REPO: $commits commits on $branch"
echo "server: $(git --version) daemon, receive-pack enabled; grove $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "runs per transfer: ${BENCH_SYNC_REPS:-3} (median)"
echo

rm -rf "$TMP"
mkdir -p "$TMP"
set +e
/usr/bin/python3 "$(dirname "$0")/sync_bench.py" --grove "$GROVE" --repo "$REPO" --branch "$branch" \
	--commits "$commits" --tmp "$TMP" --reps "${BENCH_SYNC_REPS:-3}" --only "${BENCH_SYNC_ONLY:-}" \
	--rate "${BENCH_SYNC_RATE:-50}" --seconds "${BENCH_SYNC_SECS:-20}"
rc=$?
set -e
[ $rc -eq 0 ] && rm -rf "$TMP"
exit $rc
