#!/bin/bash
# git clone/fetch from a grove store through `grove upload-pack` on stdio,
# with the real git client, protocol v0 and v2: empty store, full clone
# (same commit ids as the git-made source), --depth, --shallow-since,
# --deepen/--unshallow, --single-branch, --mirror, --filter=blob:none with
# a lazy blob fetch, incremental fetch, and protocol errors.  Every clone
# passes git fsck --strict.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp"
git config --global init.defaultBranch main
git config --global protocol.file.allow always

fail() { echo "FAIL: $*" >&2; exit 1; }
. "$here/lib/git_source.bash"
UP="$GROVE upload-pack"

# --- a git-made source: branches, a merge, tags (one annotated) -----------
git init -q src
commit a.txt one c1
commit dir/sub/b.txt two c2
git -C src tag -a v1 -m "release 1"
commit a.txt three c3
git -C src checkout -qb side
commit side.txt s1 s1
commit dir/sub/b.txt side-b s2
git -C src checkout -q main
commit c.txt four c4
merge_side
git -C src tag light
commit big.bin "$(head -c 3000 /dev/zero | tr '\0' x)" c6
git clone -q --bare src src.git
since_date=$(git -C src log -1 --format=%ct main~1)

store="$tmp/store"
"$GROVE" -q init "lmdb:$store"
"$GROVE" -C "lmdb:$store" import src.git >/dev/null
empty="$tmp/empty"
"$GROVE" -q init "lmdb:$empty"

# "id name" of every branch and tag; a clone's remote-tracking refs count as branches.
refs_of() {
	if git -C "$1" rev-parse --is-bare-repository | grep -q true; then
		git -C "$1" for-each-ref --format='%(objectname) %(refname)' refs/heads refs/tags
	else
		git -C "$1" for-each-ref --format='%(objectname) %(refname)' refs/remotes/origin refs/tags |
			sed 's#refs/remotes/origin/#refs/heads/#' | grep -v ' refs/heads/HEAD$'
	fi | sort
}
src_refs=$(refs_of src.git)

for v in 0 2; do
	echo "=== protocol v$v"
	# clone -u does not record the command: later fetches get it from config.
	g() { git -c protocol.version=$v -c remote.origin.uploadpack="$UP" "$@"; }
	url="file://$store"

	# Empty store.
	g clone -q -u "$UP" "file://$empty" e$v 2>err || { cat err; fail "v$v: clone of an empty store"; }
	[ -z "$(git -C e$v rev-parse --all)" ] || fail "v$v: empty clone has refs"
	git -C e$v fsck --strict

	# Full clone: same ids, all refs, tags, fsck.
	g clone -q -u "$UP" "$url" full$v
	git -C full$v fsck --strict
	[ "$(git -C full$v rev-parse HEAD)" = "$(git -C src rev-parse main)" ] || fail "v$v: HEAD differs"
	[ "$(refs_of full$v)" = "$src_refs" ] || { refs_of full$v; fail "v$v: refs differ"; }
	[ "$(git -C full$v cat-file -t v1)" = tag ] || fail "v$v: annotated tag lost"
	[ "$(git -C full$v rev-list --all | sort)" = "$(git -C src rev-list --all | sort)" ] || fail "v$v: history differs"

	# Mirror: every ref exactly.
	g clone -q --mirror -u "$UP" "$url" mirror$v.git
	git -C mirror$v.git fsck --strict
	[ "$(refs_of mirror$v.git)" = "$src_refs" ] || fail "v$v: mirror refs differ"

	# Single branch.
	g clone -q --single-branch --branch side -u "$UP" "$url" single$v
	git -C single$v fsck --strict
	[ "$(git -C single$v rev-parse HEAD)" = "$(git -C src rev-parse side)" ] || fail "v$v: single-branch HEAD"
	[ "$(git -C single$v branch -r | grep -c main || true)" = 0 ] || fail "v$v: single-branch fetched main"

	# --depth 1, then deepen and unshallow.
	g clone -q --depth 1 -u "$UP" "$url" shallow$v
	git -C shallow$v fsck --strict
	[ "$(git -C shallow$v rev-list --count HEAD)" = 1 ] || fail "v$v: depth 1 has $(git -C shallow$v rev-list --count HEAD) commits"
	[ -f shallow$v/.git/shallow ] || fail "v$v: no shallow file"
	g -C shallow$v fetch -q --deepen 2
	git -C shallow$v fsck --strict
	[ "$(git -C shallow$v rev-list --count HEAD)" = 4 ] || fail "v$v: deepen 2 gave $(git -C shallow$v rev-list --count HEAD) commits"
	g -C shallow$v fetch -q --unshallow
	git -C shallow$v fsck --strict
	[ ! -f shallow$v/.git/shallow ] || fail "v$v: still shallow after --unshallow"
	[ "$(git -C shallow$v rev-list --count HEAD)" = "$(git -C src rev-list --count main)" ] || fail "v$v: unshallow count"

	# --shallow-since: the commits from main~1's date on.
	g clone -q --shallow-since="$since_date" -u "$UP" "$url" since$v
	git -C since$v fsck --strict
	want=$(git -C src rev-list --count --since="$since_date" main)
	got=$(git -C since$v rev-list --count HEAD)
	[ "$got" = "$want" ] || fail "v$v: shallow-since gave $got commits, expected $want"

	# Partial clone, then a lazy blob fetch through the same command.
	g clone -q --filter=blob:none --no-checkout -u "$UP" "$url" partial$v
	missing=$(git -C partial$v rev-list --objects --missing=print HEAD | grep -c '^?' || true)
	[ "$missing" -gt 0 ] || fail "v$v: blob:none sent every blob"
	[ "$(g -C partial$v show HEAD:a.txt)" = three ] || fail "v$v: lazy fetch of a blob"
	git -C partial$v fsck --strict

	# Incremental fetch after the store moved on (a copy: the source
	# store stays identical to src for the next protocol version).
	cp -r "$store" "$tmp/inc$v"
	"$GROVE" -C "lmdb:$tmp/inc$v" --branch main set "new-v$v" "value $v" >/dev/null
	new=$(g ls-remote --upload-pack="$UP" "file://$tmp/inc$v" refs/heads/main | cut -f1)
	[ "$new" != "$(git -C src rev-parse main)" ] || fail "v$v: store did not move"
	git -C full$v remote set-url origin "file://$tmp/inc$v"
	g -C full$v fetch -q 2>err || { cat err; fail "v$v: incremental fetch"; }
	[ "$(git -C full$v rev-parse origin/main)" = "$new" ] || fail "v$v: fetch did not get the new commit"
	git -C full$v fsck --strict
	[ "$(git -C full$v show origin/main:new-v$v)" = "value $v" ] || fail "v$v: fetched content"
done

# --- protocol errors, straight on stdin ----------------------------------
pkt() { printf '%04x%s' $((${#1} + 4)) "$1"; }
bogus=0123456789012345678901234567890123456789
head=$(git -C src rev-parse main)
# A want of an object we never advertised.
{ pkt "want $bogus multi_ack_detailed side-band-64k"$'\n'; printf 0000; pkt $'done\n'; } |
	"$GROVE" upload-pack "$store" >out 2>err && fail "bogus want accepted"
grep -q "ERR upload-pack: not our ref $bogus" out || fail "no ERR for a bogus want: $(cat out)"
# An unknown capability.
{ pkt "want $head frobnicate"$'\n'; printf 0000; } |
	"$GROVE" upload-pack "$store" >out 2>err && fail "unknown capability accepted"
grep -q "ERR upload-pack: unknown capability 'frobnicate'" out || fail "no ERR for a capability"
# A bad pkt-line length, and input ending inside a packet.
printf 'zzzzwant' | "$GROVE" upload-pack "$store" >out 2>err && fail "bad hex accepted"
grep -q "ERR upload-pack: pkt-line: invalid length" out || fail "no ERR for bad hex"
printf '0032want ' | "$GROVE" upload-pack "$store" >out 2>err && fail "truncated packet accepted"
grep -q "inside a pkt-line" out || fail "no ERR for a truncated packet"
# --advertise-refs only advertises; a client that only lists refs is fine.
"$GROVE" upload-pack --advertise-refs "$store" >adv
grep -aq "symref=HEAD:refs/heads/main" adv || fail "advertisement lacks HEAD symref"
printf 0000 | "$GROVE" upload-pack "$store" >/dev/null || fail "ls-remote style hang-up failed"
# The store is unchanged by all that.
"$GROVE" -C "lmdb:$store" fsck >/dev/null
echo "all git_clone_stdio tests passed"
