# Sourced by the benchmark scripts: the one repository they all measure.
#
#   bench_repo GEN   sets REPO (an absolute git directory), desc (how it was
#                    made) and branch (the branch to clone and fetch).
#
# $BENCH_REPO names a real repository; otherwise a deterministic synthetic
# history of 10,000 commits (fixed seed and dates) is made once by GEN
# (store_bench --gen-history) and cached in build/bench-data/.
bench_repo() {
	gen=$1
	synth=build/bench-data/synthetic-10000.git
	if [ -n "${BENCH_REPO:-}" ]; then
		REPO=$BENCH_REPO
		# a work tree: serve its git directory
		[ -d "$REPO/.git" ] && REPO=$REPO/.git
		desc="BENCH_REPO=$BENCH_REPO"
	else
		if [ ! -d "$synth" ]; then
			echo "generating the synthetic history (10,000 commits) in $synth ..." >&2
			mkdir -p build/bench-data
			rm -rf "$synth.tmp"
			git init -q --bare "$synth.tmp"
			"$gen" --gen-history 10000 | git -C "$synth.tmp" fast-import --quiet
			git -C "$synth.tmp" repack -adq
			git -C "$synth.tmp" prune-packed
			mv "$synth.tmp" "$synth"
		fi
		REPO=$synth
		desc="synthetic history ($gen --gen-history 10000 | git fast-import; repack -ad)"
	fi
	REPO=$(cd "$REPO" && pwd)
	# HEAD may name a branch that does not exist (the cached synthetic
	# history's HEAD says master, its branch is main).
	branch=$(git --git-dir="$REPO" symbolic-ref -q HEAD || true)
	git --git-dir="$REPO" rev-parse -q --verify "$branch^{commit}" >/dev/null 2>&1 ||
		branch=$(git --git-dir="$REPO" for-each-ref --count=1 --format='%(refname)' refs/heads/)
}
