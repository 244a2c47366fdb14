# Helpers for the git client tests (sourced, not run): a git-made source
# repository "src" in the current directory with fixed dates, so its
# commit ids are the same on every run.

# commit FILE CONTENT MSG: writes src/FILE and commits it one day after
# the previous commit.
t=1600000000
commit() {
	mkdir -p "$(dirname "src/$1")"
	echo "$2" >"src/$1"
	git -C src add "$1"
	t=$((t + 86400))
	GIT_AUTHOR_DATE="@$t +0000" GIT_COMMITTER_DATE="@$t +0000" git -C src commit -qm "$3"
}

# merge_side: merges branch side into the checked-out branch (dated too).
merge_side() {
	t=$((t + 86400))
	GIT_AUTHOR_DATE="@$t +0000" GIT_COMMITTER_DATE="@$t +0000" git -C src merge -q --no-edit side
}

# make_source: main with a.txt and dir/b.txt, an annotated tag v1, a side
# branch with side.txt merged into main after c.txt.
make_source() {
	git init -q src
	commit a.txt one c1
	commit dir/b.txt two c2
	git -C src tag -a v1 -m "release 1"
	git -C src checkout -qb side
	commit side.txt s1 s1
	git -C src checkout -q main
	commit c.txt three c3
	merge_side
}

# shallow_and_partial_clones V URL: with protocol version V, a --depth 1
# clone of URL (one commit, fsck clean) as shallowV, and a
# --filter=blob:none clone as partialV that lacks blobs until its checkout
# fetches them lazily (a.txt is "one", fsck clean).
shallow_and_partial_clones() {
	local v=$1 url=$2 missing
	local G="git -c protocol.version=$v"
	$G clone -q --depth 1 "$url" shallow$v || fail "shallow clone v$v"
	[ "$(git -C shallow$v rev-list --count HEAD)" = 1 ] || fail "depth 1 v$v"
	git -C shallow$v fsck --strict >/dev/null 2>&1 || fail "fsck shallow$v"
	$G clone -q --filter=blob:none --no-checkout "$url" partial$v || fail "partial clone v$v"
	missing=$(git -C partial$v rev-list --objects --missing=print HEAD | grep -c '^?' || true)
	[ "$missing" -gt 0 ] || fail "blob:none sent blobs (v$v)"
	git -C partial$v -c protocol.version=$v checkout -q main || fail "lazy blob fetch v$v"
	[ "$(cat partial$v/a.txt)" = one ] || fail "lazy content v$v"
	git -C partial$v fsck --strict >/dev/null 2>&1 || fail "fsck partial$v"
}
