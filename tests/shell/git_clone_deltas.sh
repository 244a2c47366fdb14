#!/bin/bash
# Serving a history whose stored records are git's deep delta chains
# (git repack --depth=100, imported keeping the deltas): grove upload-pack
# over stdio must send exactly the objects git would (rev-list --objects),
# reusing the stored deltas, for full, --filter=blob:none and incremental
# fetches, protocol v0 and v2; the enumeration's tree cache and the pack
# writer's single read per record are exercised on chains far longer than
# their windows.  Every clone passes git fsck --strict.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp"
git config --global init.defaultBranch main
git config --global protocol.file.allow always
fail() { echo "FAIL: $*" >&2; exit 1; }
UP="$GROVE upload-pack"

# 300 commits editing files in nested directories: every version of a tree
# differs a little from the next, so git deltifies trees and blobs deeply.
git init -q --bare src.git
awk 'BEGIN {
	t = 1600000000
	for (i = 1; i <= 300; i++) {
		t += 3600
		printf "commit refs/heads/main\ncommitter T <t@example.com> %d +0000\ndata 8\nc%06d\n", t, i
		for (k = 0; k < 3; k++) {
			body = ""
			for (n = k; n <= k + 40 + i % 13; n++)
				body = body (n == i % 40 ? "edit " i : n) "\n"
			printf "M 100644 inline d%d/e%d/f%d.txt\ndata %d\n%s", i % 7, int(i / 7) % 5, k, length(body), body
		}
		printf "\n"
	}
}' | git -C src.git fast-import --quiet
git -C src.git repack -adfq --depth=100 --window=50
git -C src.git rev-parse main~40 >old.txt
deltas=$(git verify-pack -v "$tmp"/src.git/objects/pack/*.idx | awk 'NF >= 7 && $7 > 64' | wc -l)
[ "$deltas" -gt 10 ] || fail "the source has only $deltas deltas deeper than 64 (the tree cache's recursion limit)"

store="$tmp/store"
"$GROVE" -q init "lmdb:$store"
"$GROVE" -C "lmdb:$store" import src.git >/dev/null

objects_of() { git -C "$1" rev-list --objects --all | cut -c1-40 | sort; }
want=$(objects_of src.git)

for v in 0 2; do
	g() { git -c protocol.version=$v "$@"; }
	GROVE_UPLOAD_PACK_STATS=1 g clone -q --bare -u "$UP" "file://$store" full$v.git 2>err$v ||
		{ cat err$v; fail "v$v: clone"; }
	git -C full$v.git fsck --strict 2>&1 | grep -v '^dangling' && fail "v$v: fsck" || true
	[ "$(objects_of full$v.git)" = "$want" ] || fail "v$v: the clone's objects differ from git's"
	reused=$(sed -n 's/.* \([0-9][0-9]*\) reused deltas.*/\1/p' err$v)
	[ "${reused:-0}" -gt 100 ] || { cat err$v; fail "v$v: only ${reused:-0} stored deltas reused"; }

	# Partial clone: commits and trees only, the same as git sends.
	g clone -q --bare --filter=blob:none -u "$UP" "file://$store" part$v.git ||
		fail "v$v: blob:none clone"
	got=$(git -C part$v.git rev-list --objects --all --missing=print | grep -v '^?' | cut -c1-40 | sort)
	exp=$(git -C src.git rev-list --objects --all --filter=blob:none | cut -c1-40 | sort)
	[ "$got" = "$exp" ] || fail "v$v: blob:none clone holds other objects than git would send"

	# Incremental: a client at main~40 fetches the last 40 commits.
	git init -q --bare inc$v.git
	git -C inc$v.git fetch -q --no-tags "$tmp/src.git" "$(cat old.txt):refs/heads/main"
	g -C inc$v.git fetch -q --no-tags --upload-pack="$UP" "file://$store" "+refs/heads/main:refs/heads/main" ||
		fail "v$v: incremental fetch"
	[ "$(git -C inc$v.git rev-parse main)" = "$(git -C src.git rev-parse main)" ] || fail "v$v: fetch tip"
	git -C inc$v.git fsck --strict 2>&1 | grep -v '^dangling' && fail "v$v: fsck after fetch" || true
done
echo "git_clone_deltas: all passed"
