#!/bin/bash
# Clones served with the reachability index (written by `grove import` and
# `grove gc`), with the real git client over stdio, protocol v0 and v2:
# each clone holds exactly the objects the source's refs reach (git
# rev-list --objects), passes git fsck --strict, and is the same whether
# the index is current, stale (commits pushed since) or describes a
# commit the wants do not contain (a side branch alone).  Also a partial
# clone with --filter=blob:none and its lazy fetch, and include-tag.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp"
git config --global init.defaultBranch main
git config --global protocol.file.allow always
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$here/lib/git_source.bash"
UP="$GROVE upload-pack"
RP="$GROVE receive-pack"

# A source with 60 commits on main touching a few directories, a side
# branch that main never merges, and annotated and lightweight tags.
git init -q src
for i in $(seq 1 30); do commit "d$((i % 4))/f$((i % 7)).txt" "main $i" "m$i"; done
git -C src tag -a v1 -m "release 1"
git -C src checkout -qb side HEAD~10
for i in $(seq 1 5); do commit "side/s$i.txt" "side $i" "s$i"; done
git -C src tag light
git -C src checkout -q main
for i in $(seq 31 60); do commit "d$((i % 5))/g$((i % 9)).txt" "main $i" "m$i"; done
git clone -q --bare src src.git

store="$tmp/store"
"$GROVE" -q init "lmdb:$store"
"$GROVE" -C "lmdb:$store" import src.git >/dev/null

# objects CLONE [REFS...]: every object the refs reach, sorted.
objects() {
	local d=$1; shift
	git --git-dir="$d" rev-list --objects "$@" | cut -d' ' -f1 | sort
}

check_clone() { # NAME SOURCE_GITDIR REFS...
	local name=$1 srcdir=$2; shift 2
	git --git-dir="$name" fsck --strict >/dev/null 2>fsck.err || fail "$name: git fsck: $(cat fsck.err)"
	objects "$srcdir" "$@" >want
	git --git-dir="$name" rev-list --objects --all | cut -d' ' -f1 | sort >got
	cmp -s want got || fail "$name: objects differ from the source's: $(diff want got | head -5)"
	# Nothing beyond what the refs reach (a pack with extra objects is
	# accepted by git, so count the pack itself).
	[ "$(git --git-dir="$name" count-objects -v | sed -n 's/^in-pack: //p')" = "$(wc -l <want)" ] ||
		fail "$name: the pack holds other objects than the refs reach"
}

for v in 0 2; do
	git -c protocol.version=$v clone -q --bare --upload-pack="$UP" "file://$store" "full$v.git"
	check_clone "full$v.git" src.git --all
	git -c protocol.version=$v clone -q --bare --single-branch --branch side --upload-pack="$UP" \
		"file://$store" "side$v.git"
	check_clone "side$v.git" src.git refs/heads/side
	git -C "side$v.git" rev-parse -q --verify refs/tags/light >/dev/null || fail "side$v: include-tag lost 'light'"
done

# A partial clone, then a checkout that fetches the blobs lazily.
git clone -q --no-checkout --filter=blob:none --upload-pack="$UP" "file://$store" partial
git -C partial config remote.origin.uploadpack "$UP"
git -C partial checkout -q main
git -C partial fsck --strict >/dev/null 2>&1 || fail "partial clone: git fsck"
[ "$(cat partial/d0/g0.txt 2>/dev/null || true)" = "$(git -C src show main:d0/g0.txt)" ] || fail "partial clone: lazy blob"

# Commits pushed since the index: clones walk them, above the index.
git clone -q src work
for i in $(seq 61 70); do echo "pushed $i" >"work/d$((i % 3))/p$i.txt"; git -C work add -A; git -C work commit -qm "p$i"; done
echo "main 1" >work/d1/back.txt && git -C work add -A && git -C work commit -qm "an old blob again"
git -C work push -q --receive-pack="$RP" "file://$store" main || fail "push to the store"
git -C work push -q "$tmp/src.git" main
for v in 0 2; do
	git -c protocol.version=$v clone -q --bare --upload-pack="$UP" "file://$store" "stale$v.git"
	check_clone "stale$v.git" src.git --all
done

# gc brings the index to the new head; the clone is the same.
"$GROVE" -C "lmdb:$store" gc >/dev/null
git clone -q --bare --upload-pack="$UP" "file://$store" aftergc.git
check_clone aftergc.git src.git --all
echo ok
