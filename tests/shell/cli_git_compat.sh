#!/bin/bash
# The point of grove: its objects are git's.  Checked with the real git CLI:
#  1. a git: store written by grove passes `git fsck --strict`; git log and
#     git cat-file see grove's commits and values;
#  2. the same content committed by grove and by git plumbing (same
#     author, committer, dates and message) has the same commit id;
#  3. an lmdb store exported to a bare repository passes fsck and clones;
#  4. a repository made by git (merges, annotated tags, gc --aggressive
#     deltas) imported into grove reads back as git shows it.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
unset GROVE_STORE GROVE_AUTHOR_NAME GROVE_AUTHOR_EMAIL GROVE_AUTHOR_DATE
export HOME="$tmp" GIT_CONFIG_NOSYSTEM=1   # no user config may change git's behaviour
git config --global init.defaultBranch main
git config --global gc.auto 0

fail() { echo "FAIL: $*" >&2; exit 1; }
export GIT_AUTHOR_NAME="Ada Author" GIT_AUTHOR_EMAIL="ada@example.com"
export GIT_COMMITTER_NAME="Carl Committer" GIT_COMMITTER_EMAIL="carl@example.com"
t=1700000000
stamp() { t=$((t + 3600)); export GIT_AUTHOR_DATE="@$t +0200" GIT_COMMITTER_DATE="@$((t + 5)) -0130"; }

# --- 1. a git: store used by grove, read by git --------------------------
G="git:$tmp/repo.git"
"$GROVE" -q -C "$G" init
stamp; "$GROVE" -q -C "$G" set greeting "hello, git" -m "first"
stamp; printf 'line1\nline2\n' | "$GROVE" -q -C "$G" set docs/readme.txt -m "add readme"
stamp; printf 'bin\0ary\377' | "$GROVE" -q -C "$G" set docs/deep/blob.bin -m "binary value"
stamp; "$GROVE" -q -C "$G" rm greeting -m "remove greeting"
stamp; "$GROVE" -q -C "$G" set greeting "back again" -m "Subject line

Body paragraph."
git -C repo.git fsck --strict --no-dangling 2>fsck.err || { cat fsck.err; fail "git fsck --strict on a grove git: store"; }
[ ! -s fsck.err ] || { cat fsck.err; fail "git fsck printed warnings"; }
"$GROVE" -C "$G" log | sed -n 's/^commit //p' > grove.ids
git -C repo.git log --format=%H main > git.ids
diff grove.ids git.ids || fail "git log and grove log disagree"
[ "$(wc -l < git.ids)" = 5 ] || fail "expected 5 commits"
git -C repo.git log -1 --format='%an <%ae> %at %ai|%cn <%ce> %ct %ci|%s|%b' main > meta
grep -qx "Ada Author <ada@example.com> $((t)) .* +0200|Carl Committer <carl@example.com> $((t + 5)) .* -0130|Subject line|Body paragraph." meta ||
	{ cat meta; fail "git sees other author/committer/message"; }
[ "$(git -C repo.git cat-file -p main:greeting)" = "back again" ] || fail "git cat-file value"
git -C repo.git cat-file -p main:docs/readme.txt | cmp - <(printf 'line1\nline2\n') || fail "git cat-file readme"
git -C repo.git cat-file blob main:docs/deep/blob.bin | cmp - <(printf 'bin\0ary\377') || fail "git cat-file binary"
[ "$(git -C repo.git cat-file -t main~1)" = commit ] || fail "parent chain"
git -C repo.git ls-tree -r --name-only main > git.keys
"$GROVE" -C "$G" ls -r | diff - git.keys || fail "git ls-tree and grove ls -r disagree"
# And the other way: git writes, grove reads (same repository, no export).
stamp
blob=$(printf 'from git\n' | git -C repo.git hash-object -w --stdin)
tree=$( (git -C repo.git ls-tree main; printf '100644 blob %s\tgit-made\n' "$blob") | git -C repo.git mktree)
c=$(git -C repo.git commit-tree "$tree" -p main -m "made by git")
git -C repo.git update-ref refs/heads/main "$c"
[ "$("$GROVE" -C "$G" get git-made)" = "from git" ] || fail "grove does not see git's commit"
"$GROVE" -C "$G" log -n1 --oneline | grep -q "made by git" || fail "grove log of git's commit"
stamp; "$GROVE" -q -C "$G" set after-git yes
[ "$(git -C repo.git rev-parse main~1)" = "$c" ] || fail "grove's commit does not follow git's"
git -C repo.git fsck --strict --no-dangling || fail "fsck after mixed writes"

# --- 2. identical commit ids from grove and git plumbing -----------------
"$GROVE" -q -C "lmdb:$tmp/same" init
git init -q --bare plumb.git
stamp
"$GROVE" -q -C "lmdb:$tmp/same" set greeting "hello" -m "one"
b1=$(printf 'hello' | git -C plumb.git hash-object -w --stdin)
t1=$(printf '100644 blob %s\tgreeting\n' "$b1" | git -C plumb.git mktree)
c1=$(git -C plumb.git commit-tree "$t1" -m "one")
g1=$("$GROVE" -C "lmdb:$tmp/same" log -n1 | sed -n 's/^commit //p')
[ "$g1" = "$c1" ] || fail "root commit: grove $g1, git $c1"
stamp
printf 'nested\n' | "$GROVE" -q -C "lmdb:$tmp/same" set a/b/c -m "two
with a body"
b2=$(printf 'nested\n' | git -C plumb.git hash-object -w --stdin)
tb=$(printf '100644 blob %s\tc\n' "$b2" | git -C plumb.git mktree)
ta=$(printf '040000 tree %s\tb\n' "$tb" | git -C plumb.git mktree)
t2=$(printf '040000 tree %s\ta\n100644 blob %s\tgreeting\n' "$ta" "$b1" | git -C plumb.git mktree)
c2=$(printf 'two\nwith a body\n' | git -C plumb.git commit-tree "$t2" -p "$c1")
g2=$("$GROVE" -C "lmdb:$tmp/same" log -n1 | sed -n 's/^commit //p')
[ "$g2" = "$c2" ] || fail "nested commit: grove $g2, git $c2"
# A merge commit too: git's merge of two branches with the same trees.
stamp
"$GROVE" -q -C "lmdb:$tmp/same" branch side "$g1"
"$GROVE" -q -C "lmdb:$tmp/same" --branch side set side "s" -m "side"
bs=$(printf 's' | git -C plumb.git hash-object -w --stdin)
ts=$(printf '100644 blob %s\tgreeting\n100644 blob %s\tside\n' "$b1" "$bs" | git -C plumb.git mktree)
cs=$(git -C plumb.git commit-tree "$ts" -p "$c1" -m "side")
stamp
"$GROVE" -q -C "lmdb:$tmp/same" merge side -m "merge side"
tm=$(printf '040000 tree %s\ta\n100644 blob %s\tgreeting\n100644 blob %s\tside\n' "$ta" "$b1" "$bs" | git -C plumb.git mktree)
cm=$(git -C plumb.git commit-tree "$tm" -p "$c2" -p "$cs" -m "merge side")
gm=$("$GROVE" -C "lmdb:$tmp/same" log -n1 | sed -n 's/^commit //p')
[ "$gm" = "$cm" ] || fail "merge commit: grove $gm, git $cm"

# --- 3. export an lmdb store; git fsck and clone it ----------------------
"$GROVE" -q -C "lmdb:$tmp/same" set data/bin.dat < <(printf '\0\1\2\3 bytes \377')
"$GROVE" -q -C "lmdb:$tmp/same" export "$tmp/exported.git"
git -C exported.git fsck --strict --no-dangling || fail "git fsck of an exported store"
git clone -q exported.git clone
"$GROVE" -C "lmdb:$tmp/same" ls -r > keys
[ "$(wc -l < keys)" = 4 ] || { cat keys; fail "expected 4 keys"; }
while read -r key; do
	"$GROVE" -C "lmdb:$tmp/same" get "$key" | cmp - "clone/$key" || fail "clone differs at $key"
done < keys
(cd clone && git ls-files) | diff - keys || fail "clone has other files"
[ "$(git -C clone log --format=%H -1)" = "$("$GROVE" -C "lmdb:$tmp/same" log -n1 | sed -n 's/^commit //p')" ] ||
	fail "clone HEAD is not the store's head"
git -C exported.git rev-parse --verify -q refs/heads/side >/dev/null || fail "branch side not exported"

# --- 4. import a repository made by git ---------------------------------
git init -q src
(
	cd src
	stamp; echo one > a.txt; mkdir -p dir/sub; echo deep > dir/sub/f; git add .; git commit -qm "initial"
	git tag -a v1.0 -m "release 1.0"
	git checkout -q -b topic
	for i in 1 2 3; do
		stamp; seq 1 $((2000 + i)) > dir/big.txt; echo "topic $i" >> a.txt; git add .; git commit -qm "topic $i"
	done
	git checkout -q main
	stamp; echo main > m.txt; seq 1 2000 > dir/big.txt; git add .; git commit -qm "main work"
	stamp; git merge -q --no-edit --no-ff topic -X theirs -m "merge topic"
	git tag -a v2.0 -m "release 2.0
with notes"
	git tag light HEAD~1
	stamp; git rm -q dir/sub/f; git commit -qm "remove f"
	git gc -q --aggressive
) >/dev/null
ls src/.git/objects/pack/*.pack >/dev/null || fail "gc made no pack"
git verify-pack -v src/.git/objects/pack/*.idx 2>/dev/null | grep -q 'chain length' ||
	fail "the test repository has no deltas"
"$GROVE" -q -C "lmdb:$tmp/imported" init
"$GROVE" -q -C "lmdb:$tmp/imported" import "$tmp/src"
"$GROVE" -C "lmdb:$tmp/imported" fsck >/dev/null || fail "fsck after import"
for rev in main topic v1.0 v2.0 light; do
	"$GROVE" -C "lmdb:$tmp/imported" log "$rev" | sed -n 's/^commit //p' > grove.log
	git -C src log --format=%H "$rev" > git.log
	diff grove.log git.log || fail "log of $rev differs"
	"$GROVE" -C "lmdb:$tmp/imported" ls -r --rev "$rev" > grove.keys
	git -C src ls-tree -r --name-only "$rev" > git.keys
	diff grove.keys git.keys || fail "keys at $rev differ"
	while read -r key; do
		"$GROVE" -C "lmdb:$tmp/imported" get --rev "$rev" "$key" | cmp - <(git -C src show "$rev:$key") ||
			fail "$key at $rev differs"
	done < git.keys
done
# Merge commits and path-limited history agree with git too.
"$GROVE" -C "lmdb:$tmp/imported" log --oneline main -- dir/big.txt | cut -d' ' -f1 > grove.log
git -C src log --format=%h --abbrev=7 main -- dir/big.txt > git.log
diff grove.log git.log || fail "log -- dir/big.txt differs"
"$GROVE" -C "lmdb:$tmp/imported" show v2.0 | grep -q '^Merge: ' || fail "v2.0 is not shown as a merge"
"$GROVE" -C "lmdb:$tmp/imported" diff v1.0 main > grove.diff
git -C src diff --name-status --no-renames v1.0 main | tr '\t' ' ' > git.diff
diff grove.diff git.diff || fail "diff v1.0 main differs"
"$GROVE" -C "lmdb:$tmp/imported" --json stats | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["deltas"] > 0, s' || fail "import kept no deltas"
echo "cli_git_compat: ok"
