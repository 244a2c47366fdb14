#!/bin/sh
# make bench: the git-server benchmark.  One repository served by grove
# (`grove daemon`, `grove serve`, lmdb store) and by git 2.39 (`git daemon`,
# `git http-backend` under lighttpd); full clones v0/v2, --depth 1,
# --filter=blob:none, fetch of the last 100 commits, push of 100 commits;
# wall time, server CPU, server peak RSS and the grove/git ratios.  The
# measuring is done by git_server_bench.py (see its header).
#
#   BENCH_REPO=path      git directory to serve (default: the synthetic
#                        10,000-commit history of tools/bench/run.sh, made
#                        once with git fast-import under build/bench-data/)
#   BENCH_GIT_REPS=n     runs of each measurement, median shown (default 1)
#   BENCH_GIT_ONLY=ops   comma-separated operation prefixes ("clone v2,push")
#   BENCH_GIT_TMP=dir    scratch directory (default build/bench-git-tmp.PID, removed
#                        unless the run failed)
#   BENCH_GIT_STORE_AS_IMPORTED=1  serve grove's store as the import wrote it
#                        (default: copied after the import, as the git side
#                        serves a copy; see git_server_bench.py, "srv rss")
#
# usage: git_server_bench.sh [GROVE_BIN [STORE_BENCH_BIN]]
set -eu

GROVE=${1:-build/grove}
GEN=${2:-build/bench/store_bench}
TMP=${BENCH_GIT_TMP:-build/bench-git-tmp.$$}
REPS=${BENCH_GIT_REPS:-1}

for tool in git /usr/lib/git-core/git-daemon /usr/lib/git-core/git-http-backend \
	/usr/sbin/lighttpd openssl /usr/bin/python3 /usr/bin/time; do
	command -v "$tool" >/dev/null 2>&1 || { echo "git_server_bench: $tool missing (make deps)" >&2; exit 1; }
done

. "$(dirname "$0")/bench_repo.sh"
bench_repo "$GEN"
commits=$(git --git-dir="$REPO" rev-list --count "$branch")
objects=$(git --git-dir="$REPO" count-objects -v | sed -n 's/^in-pack: //p')
packmb=$(git --git-dir="$REPO" count-objects -v | sed -n 's/^size-pack: //p')
nrefs=$(git --git-dir="$REPO" for-each-ref | wc -l)
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "git server benchmark"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: nproc $(nproc), $cpu, $(uname -sr), load average $(cut -d" " -f1-3 /proc/loadavg) at start"
echo "repository: $desc"
bitmap=no
ls "$REPO"/objects/pack/*.bitmap >/dev/null 2>&1 && bitmap="yes (git serves full clones from it: little server CPU)"
echo "  $REPO: $commits commits on $branch, $objects objects in packs ($packmb KiB), $nrefs refs"
echo "  reachability bitmap: $bitmap"
echo "servers: $GROVE ($(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?')), $(git --version), $(/usr/sbin/lighttpd -v 2>&1 | head -1)"
echo "runs per measurement: $REPS (median); a fresh server for each"
echo

rm -rf "$TMP"
mkdir -p "$TMP"
set +e
/usr/bin/python3 "$(dirname "$0")/git_server_bench.py" --grove "$GROVE" --repo "$REPO" \
	--branch "$branch" --tmp "$TMP" --reps "$REPS" --only "${BENCH_GIT_ONLY:-}" \
	${BENCH_GIT_STORE_AS_IMPORTED:+--store-as-imported}
rc=$?
set -e
[ $rc -eq 0 ] && rm -rf "$TMP"
exit $rc
