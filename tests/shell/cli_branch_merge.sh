#!/bin/bash
# grove CLI: branches, clean and conflicting merges, log options, show, diff.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GROVE_STORE="lmdb:$tmp/store"
export GROVE_AUTHOR_NAME="Merge Tester" GROVE_AUTHOR_EMAIL="merge@example.com"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {
	local want=$1; shift
	local got=0
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	[ "$got" = "$want" ] || { cat "$tmp/err" >&2; fail "'$*' exited $got, expected $want"; }
}
# Distinct, increasing commit times so history order is deterministic.
t=1700000000
commit_env() { t=$((t + 60)); export GIT_AUTHOR_DATE="@$t +0000" GIT_COMMITTER_DATE="@$t +0000"; }

"$GROVE" -q init
commit_env; "$GROVE" -q set config/name base -m "base commit"
commit_env; "$GROVE" -q set config/shared one -m "add shared"
base=$("$GROVE" log -n1 --oneline | cut -d' ' -f1)

# --- branches ---
"$GROVE" -q branch feature
"$GROVE" -q branch other "$base"
"$GROVE" branch > br.out
printf '  feature\n* main\n  other\n' | diff - br.out || fail "branch list"
expect_rc 1 "$GROVE" branch feature
"$GROVE" -q branch -f feature HEAD~1
[ "$("$GROVE" --branch feature log --oneline | wc -l)" = 1 ] || fail "branch -f did not move feature"
"$GROVE" -q branch -f feature main
expect_rc 1 "$GROVE" branch -d no-such-branch
expect_rc 1 "$GROVE" branch -d main
"$GROVE" -q branch -d other
"$GROVE" branch | grep -q other && fail "branch -d did not delete"
expect_rc 2 "$GROVE" branch -d

# --- a clean merge ---
commit_env; "$GROVE" -q --branch feature set feature/flag on -m "feature flag"
commit_env; "$GROVE" -q --branch feature set config/name feature-name -m "rename on feature"
commit_env; "$GROVE" -q set main/only yes -m "main only"
"$GROVE" merge feature > merge.out
grep -q "^Merge made: [0-9a-f]\{40\}$" merge.out || fail "merge output: $(cat merge.out)"
merged=$(cut -d' ' -f3 merge.out)
[ "$("$GROVE" get config/name)" = feature-name ] || fail "merge lost feature change"
[ "$("$GROVE" get main/only)" = yes ] || fail "merge lost main change"
[ "$("$GROVE" get feature/flag)" = on ] || fail "merge lost feature key"
"$GROVE" show | grep -q "^Merge: " || fail "merge commit has no Merge: line"
"$GROVE" merge feature > merge.out
grep -qx "Already up to date" merge.out || fail "second merge: $(cat merge.out)"
# Fast-forward: feature catches up with main.
"$GROVE" --branch feature merge main > merge.out
grep -q "^Fast-forward" merge.out || fail "fast-forward: $(cat merge.out)"
[ "$("$GROVE" --branch feature log -n1 --oneline | cut -d' ' -f1)" = "${merged:0:7}" ] || fail "ff target"

# --- a conflicting merge leaves the branch unchanged ---
commit_env; "$GROVE" -q set config/shared main-side -m "main edits shared"
commit_env; "$GROVE" -q --branch feature set config/shared feature-side -m "feature edits shared"
commit_env; "$GROVE" -q set both/new main -m "main adds both/new"
commit_env; "$GROVE" -q --branch feature set both/new feature -m "feature adds both/new"
before=$("$GROVE" log -n1 --oneline)
expect_rc 1 "$GROVE" merge feature
grep -qx "CONFLICT (content): config/shared" "$tmp/err" || { cat "$tmp/err"; fail "content conflict line"; }
grep -qx "CONFLICT (add/add): both/new" "$tmp/err" || fail "add/add conflict line"
[ "$("$GROVE" log -n1 --oneline)" = "$before" ] || fail "conflicting merge moved main"
[ "$("$GROVE" get config/shared)" = main-side ] || fail "conflicting merge changed a value"
commit_env; "$GROVE" -q --branch feature rm main/only -m "feature removes main/only"
commit_env; "$GROVE" -q set main/only changed -m "main changes main/only"
expect_rc 1 "$GROVE" merge feature
grep -qx "CONFLICT (modify/delete): main/only" "$tmp/err" || { cat "$tmp/err"; fail "modify/delete line"; }
expect_rc 1 "$GROVE" merge no-such-rev

# --- log ---
n=$("$GROVE" log --oneline | wc -l)
[ "$n" -ge 8 ] || fail "log --oneline shows $n commits"
[ "$("$GROVE" log -n 2 --oneline | wc -l)" = 2 ] || fail "log -n 2"
[ "$("$GROVE" log -n2 --oneline | wc -l)" = 2 ] || fail "log -n2"
[ "$("$GROVE" log --max-count=3 --oneline | wc -l)" = 3 ] || fail "log --max-count=3"
"$GROVE" log --oneline | sed -n 2p > second
"$GROVE" log --skip 1 -n 1 --oneline | diff - second || fail "log --skip"
"$GROVE" log --oneline | head -1 | grep -q '^[0-9a-f]\{7\} main changes main/only$' || fail "oneline format"
"$GROVE" log -n1 > full
grep -q '^commit [0-9a-f]\{40\}$' full || fail "log commit line"
grep -q '^Author: Merge Tester <merge@example.com>$' full || fail "log author line"
grep -q '^Date:   ' full || fail "log date line"
grep -q '^    main changes main/only$' full || fail "log message indented"
# Path-limited history: only the commits that touched feature/flag.
"$GROVE" log --oneline feature/flag > path.out
[ "$(wc -l < path.out)" = 1 ] && grep -q "feature flag" path.out || { cat path.out; fail "log PATH"; }
"$GROVE" log --oneline feature -- config/name > path.out
grep -q "rename on feature" path.out && grep -q "base commit" path.out || fail "log REV -- PATH"
expect_rc 1 "$GROVE" log --oneline featur          # neither a revision nor a key: a typo
expect_rc 2 "$GROVE" log -n abc
expect_rc 2 "$GROVE" log -n
expect_rc 3 "$GROVE" log --oneline -- a/../b

# --- show ---
"$GROVE" show > show.out
grep -q '^commit ' show.out && grep -qx 'M main/only' show.out || { cat show.out; fail "show head"; }
"$GROVE" show HEAD~1 > show.out
grep -qx 'A both/new' show.out || fail "show HEAD~1"
first=$("$GROVE" log --oneline | tail -1 | cut -d' ' -f1)
"$GROVE" show "$first" > show.out
grep -qx 'A config/name' show.out || fail "show root commit"
"$GROVE" --branch feature show > show.out
grep -qx 'D main/only' show.out || fail "show removal"
expect_rc 1 "$GROVE" show deadbeef
expect_rc 2 "$GROVE" show a b

# --- diff ---
"$GROVE" diff main feature > diff.out
grep -qx 'M config/shared' diff.out || { cat diff.out; fail "diff M"; }
grep -qx 'D main/only' diff.out || fail "diff D"
"$GROVE" diff feature main > diff.out
grep -qx 'A main/only' diff.out || fail "diff A"
"$GROVE" diff --prefix config main feature > diff.out
[ "$(cat diff.out)" = "M config/shared" ] || fail "diff --prefix"
[ -z "$("$GROVE" diff main main)" ] || fail "diff of a commit with itself"
"$GROVE" diff "$first" > diff.out
grep -qx 'A main/only' diff.out || fail "diff A (against the branch head)"
expect_rc 1 "$GROVE" diff main no-such
expect_rc 2 "$GROVE" diff

# --- switch ---
"$GROVE" -q switch feature
"$GROVE" branch | grep -qx '\* feature' || fail "switch"
[ "$("$GROVE" get config/shared)" = feature-side ] || fail "default branch after switch"
expect_rc 1 "$GROVE" switch nope
# --- log of a key that is gone: needs "--" ---
"$GROVE" --branch main rm -q feature/flag -m "drop flag"  # -q after the command works too
expect_rc 1 "$GROVE" --branch main log --oneline feature/flag
[ "$("$GROVE" --branch main log --oneline -- feature/flag | wc -l)" = 2 ] || fail "log -- PATH of a removed key"

# --- concurrent writers: each set lands (a busy lock or a moved head is
# retried), on both backends ---
for store in "lmdb:$tmp/conc" "git:$tmp/conc.git"; do
	"$GROVE" -q -C "$store" init
	pids=""
	for i in 1 2 3 4 5 6 7 8; do
		"$GROVE" -q -C "$store" set "w/$i" "v$i" 2>"$tmp/conc.$i.err" & pids="$pids $!"
	done
	for p in $pids; do wait "$p" || { cat "$tmp"/conc.*.err; fail "a concurrent set failed ($store)"; }; done
	[ "$("$GROVE" -C "$store" ls w | wc -l)" = 8 ] || fail "lost a concurrent write ($store)"
	[ "$("$GROVE" -C "$store" log --oneline | wc -l)" = 8 ] || fail "expected 8 commits ($store)"
done
git -C "$tmp/conc.git" fsck --strict --no-dangling || fail "git fsck after concurrent writes"
echo "cli_branch_merge: ok"
