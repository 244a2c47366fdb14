#!/bin/bash
# git push into a grove store with the real git client over `grove receive-pack`
# (stdio): first push, new branch, fast-forward, non-fast-forward refused and
# --force when allowed, delete, tags, --atomic with a refused ref, and a round
# trip (grove log/get, export + git fsck --strict, clone via upload-pack).
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"

export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp" XDG_CONFIG_HOME="$tmp/.config"
export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
t=1700000000
tick() { t=$((t + 60)); export GIT_AUTHOR_DATE="@$t +0000" GIT_COMMITTER_DATE="@$t +0000"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
store="$tmp/store"
RP="$GROVE receive-pack"

# The refs the store advertises to a pusher: "<id> <ref>" lines.
store_refs() {
	"$GROVE" receive-pack --advertise-refs "$store" | tr '\0' '\n' |
		sed -n 's/^[0-9a-f]\{4\}\([0-9a-f]\{40\} refs\/.*\)$/\1/p'
}
store_ref() { store_refs | awk -v r="$1" '$2 == r { print $1 }'; }
commit() { # file content message
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "$2" > "$1"
	git add -A
	tick
	git commit -q -m "$3"
}

"$GROVE" -C "$store" -q init
# An empty store advertises capabilities^{} with a zero id.
"$GROVE" receive-pack --advertise-refs "$store" | grep -q "0000000000000000000000000000000000000000 capabilities^{}" ||
	fail "empty store advertisement"

git init -q -b main src
cd src
git config push.default current
commit notes/a.txt "first" "c1"
commit notes/b.txt "second" "c2"
commit cal/event.ics "BEGIN:VCALENDAR" "c3"

# --- first push to an empty store ---
git push -q --receive-pack="$RP" "$store" main 2>"$tmp/err" || { cat "$tmp/err"; fail "first push"; }
[ "$(store_ref refs/heads/main)" = "$(git rev-parse main)" ] || fail "main not at the pushed commit"
[ "$("$GROVE" -C "$store" get --rev main notes/a.txt)" = "first" ] || fail "grove get after push"
diff <(git log --format='%h %s' main) <("$GROVE" -C "$store" log --oneline main) || fail "grove log differs"

# --- a new branch, then a fast-forward ---
git switch -q -c feature
commit notes/c.txt "third" "feature c4"
git push -q --receive-pack="$RP" "$store" feature 2>"$tmp/err" || { cat "$tmp/err"; fail "push new branch"; }
[ "$(store_ref refs/heads/feature)" = "$(git rev-parse feature)" ] || fail "feature not pushed"
git switch -q main
commit notes/a.txt "first, edited" "c5"
git push -q --receive-pack="$RP" "$store" main 2>"$tmp/err" || { cat "$tmp/err"; fail "fast-forward"; }
[ "$(store_ref refs/heads/main)" = "$(git rev-parse main)" ] || fail "fast-forward not applied"
[ "$("$GROVE" -C "$store" get --rev main notes/a.txt)" = "first, edited" ] || fail "ff content"

# --- non-fast-forward: refused by the server even with --force ---
good_main=$(git rev-parse main)
git reset -q --hard HEAD~1
commit notes/other.txt "diverged" "c6 diverged"
if git push --force --receive-pack="$RP" "$store" main >"$tmp/out" 2>&1; then
	fail "non-fast-forward push was accepted"
fi
grep -q "non-fast-forward" "$tmp/out" || { cat "$tmp/out"; fail "no non-fast-forward reason"; }
[ "$(store_ref refs/heads/main)" = "$good_main" ] || fail "refused push moved main"

# --- --force accepted when the server allows it ---
GROVE_ALLOW_NON_FF=1 git push -q --force --receive-pack="$RP" "$store" main 2>"$tmp/err" ||
	{ cat "$tmp/err"; fail "forced push with GROVE_ALLOW_NON_FF=1"; }
[ "$(store_ref refs/heads/main)" = "$(git rev-parse main)" ] || fail "forced push not applied"
git push -q --force --receive-pack="$RP --allow-non-ff" "$store" "$good_main:refs/heads/main" 2>"$tmp/err" ||
	{ cat "$tmp/err"; fail "forced push with --allow-non-ff"; }
[ "$(store_ref refs/heads/main)" = "$good_main" ] || fail "--allow-non-ff push not applied"
git reset -q --hard "$good_main"

# --- delete ---
git push -q --receive-pack="$RP" "$store" :feature 2>"$tmp/err" || { cat "$tmp/err"; fail "delete"; }
[ -z "$(store_ref refs/heads/feature)" ] || fail "feature still there after delete"
git push -q --receive-pack="$RP" "$store" feature 2>"$tmp/err" || { cat "$tmp/err"; fail "re-push feature"; }

# --- tags: lightweight and annotated ---
git tag v1 HEAD~1
tick
git tag -a v2 -m "release 2" HEAD
git push -q --receive-pack="$RP" "$store" v1 v2 2>"$tmp/err" || { cat "$tmp/err"; fail "push tags"; }
[ "$(store_ref refs/tags/v1)" = "$(git rev-parse v1)" ] || fail "lightweight tag"
[ "$(store_ref refs/tags/v2)" = "$(git rev-parse v2)" ] || fail "annotated tag (the tag object)"
[ "$(git cat-file -t "$(store_ref refs/tags/v2)")" = tag ] || fail "v2 is not a tag object"

# --- --atomic with one refused ref: nothing applied ---
before=$(store_refs)
git switch -q -c atomic-new
commit notes/d.txt "atomic" "c7 atomic"
git switch -q main
git branch -q rewrite HEAD~2
if git push --atomic --force --receive-pack="$RP" "$store" atomic-new rewrite:main >"$tmp/out" 2>&1; then
	fail "atomic push with a refused ref succeeded"
fi
grep -q "non-fast-forward" "$tmp/out" || { cat "$tmp/out"; fail "atomic: no reason for the bad ref"; }
[ "$(store_refs)" = "$before" ] || fail "atomic push changed refs"
# Without --atomic the good ref applies and the bad one does not.
if git push --force --receive-pack="$RP" "$store" atomic-new rewrite:main >"$tmp/out" 2>&1; then
	fail "push with a refused ref reported success"
fi
[ "$(store_ref refs/heads/atomic-new)" = "$(git rev-parse atomic-new)" ] || fail "non-atomic: good ref not applied"
[ "$(store_ref refs/heads/main)" = "$good_main" ] || fail "non-atomic: bad ref applied"

# --- nothing to push: the session ends cleanly ---
git push --receive-pack="$RP" "$store" main >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "up-to-date push"; }

# --- a pushed history of more objects (deltas, many trees) ---
mkdir -p bulk/dir0
for i in $(seq 1 30); do
	commit "bulk/dir$((i % 5))/file$i.txt" "$(seq 1 $((i * 20)))" "bulk $i"
	printf '%s\n' "$(seq 1 $((i * 21)))" >> bulk/dir0/grow.txt
	git add -A; tick; git commit -q -m "grow $i"
done
git push -q --receive-pack="$RP" "$store" main 2>"$tmp/err" || { cat "$tmp/err"; fail "bulk push"; }
diff <(git log --format='%h %s' main) <("$GROVE" -C "$store" log --oneline main) || fail "grove log after bulk"
cd "$tmp"

# --- round trip: export and git fsck --strict; clone via upload-pack ---
"$GROVE" -C "$store" -q export "$tmp/exported.git" >/dev/null
git -C "$tmp/exported.git" fsck --strict --no-dangling >/dev/null 2>&1 || fail "git fsck --strict on the export"
for r in main feature atomic-new; do
	[ "$(git -C "$tmp/exported.git" rev-parse "refs/heads/$r")" = "$(git -C src rev-parse "$r")" ] ||
		fail "export: $r differs"
done
[ "$(git -C "$tmp/exported.git" rev-parse refs/tags/v2)" = "$(git -C src rev-parse v2)" ] || fail "export: v2"
"$GROVE" -C "$store" fsck >/dev/null || fail "grove fsck after pushes"

if "$GROVE" upload-pack --help >/dev/null 2>&1; then
	# a plain path makes git clone look for a git repository itself: file:// hands it to upload-pack
	git clone -q -u "$GROVE upload-pack" "file://$store" "$tmp/clone" 2>"$tmp/err" || { cat "$tmp/err"; fail "clone"; }
	[ "$(git -C "$tmp/clone" rev-parse origin/main)" = "$(git -C src rev-parse main)" ] || fail "clone: main differs"
	[ "$(git -C "$tmp/clone" rev-parse origin/feature)" = "$(git -C src rev-parse feature)" ] || fail "clone: feature"
	git -C "$tmp/clone" fsck --strict >/dev/null 2>&1 || fail "git fsck --strict on the clone"
else
	echo "note: grove upload-pack not available yet; clone round trip skipped"
fi
echo "git_push_stdio: ok"
