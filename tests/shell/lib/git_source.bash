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
