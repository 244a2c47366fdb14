#!/bin/bash
# grove clone/fetch/pull/push against three real remotes on loopback: a bare
# repository over file:// (made by the git CLI), git's own `git daemon` with
# receive-pack, and `grove daemon --enable-receive-pack`.  For each: clone ->
# values and commit ids match; a commit pushed with git -> grove fetch/pull
# sees it; grove writes -> grove push -> git clone sees the same ids; a
# non-fast-forward push is refused (exit 1, store unchanged), pull merges,
# the push then succeeds; sync status counts ahead/behind and records times.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ] && tail -30 "$SERVER_LOG" >&2; exit 1; }
. "$here/lib/git_server.bash"
GITD_PID=
# Keeps the script's own exit status: a killed server's wait status is not a failure.
cleanup() {
	local rc=$?
	kill_server || true
	[ -n "$GITD_PID" ] && { kill "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null || true; }
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
cd "$tmp"
sync_client_env
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com

# A git-made history: two commits, a tag, a directory.
git init -q src
echo one >src/a.txt; mkdir src/dir; echo two >src/dir/b.txt
git -C src add . && git -C src commit -qm c1
echo three >src/c.txt && git -C src add . && git -C src commit -qm c2
git -C src tag -a v1 -m v1
mkdir served
git clone -q --bare src served/file.git
git clone -q --bare src served/gitd.git
"$GROVE" -q init "lmdb:$tmp/served/grove"
"$GROVE" -q -C "lmdb:$tmp/served/grove" import served/file.git

# Servers.
P=$(free_port)
git daemon --export-all --enable=receive-pack --base-path="$tmp/served" --listen=127.0.0.1 --port="$P" \
	--reuseaddr 2>"$tmp/gitd.log" &
GITD_PID=$!
wait_port "$P"
start_server "$tmp/groved.log" "$GROVE" daemon --listen 127.0.0.1 --port 0 --base-path "$tmp/served" \
	--enable-receive-pack

head_of() { "$GROVE" -C "$1" log -n1 "${2:-}" | sed -n 's/^commit //p'; }

scenario() { # NAME URL
	local name=$1 url=$2 s="lmdb:$tmp/clone-$1" w="$tmp/work-$1"
	echo "--- $name: $url"
	"$GROVE" -q clone "$url" "$s" || fail "$name: clone"
	[ "$("$GROVE" -C "$s" get a.txt)" = one ] || fail "$name: a.txt after clone"
	[ "$("$GROVE" -C "$s" get dir/b.txt)" = two ] || fail "$name: dir/b.txt after clone"
	[ "$(head_of "$s")" = "$(git -C src rev-parse main)" ] || fail "$name: clone has other commit ids"
	"$GROVE" -C "$s" log -n1 --rev v1 >/dev/null 2>&1 || "$GROVE" -C "$s" get --rev v1 a.txt >/dev/null ||
		fail "$name: tag v1 not fetched"
	"$GROVE" -C "$s" fsck >/dev/null || fail "$name: fsck after clone"
	"$GROVE" -C "$s" sync status | grep -q "branch main -> origin/main: ahead 0, behind 0" ||
		fail "$name: sync status after clone"

	# A commit made with git, pushed with git, then fetched and pulled.
	git clone -q "$url" "$w"
	echo ONE >"$w/a.txt" && git -C "$w" commit -qam "edit a"
	git -C "$w" push -q origin main
	"$GROVE" -q -C "$s" fetch || fail "$name: fetch"
	[ "$("$GROVE" -C "$s" get a.txt)" = one ] || fail "$name: fetch moved the local branch"
	[ "$("$GROVE" -C "$s" get --rev refs/remotes/origin/main a.txt)" = ONE ] || fail "$name: fetched value"
	"$GROVE" -C "$s" sync status | grep -q "ahead 0, behind 1" || fail "$name: status not behind 1"
	"$GROVE" -q -C "$s" pull || fail "$name: pull"
	[ "$("$GROVE" -C "$s" get a.txt)" = ONE ] || fail "$name: pulled value"
	[ "$(head_of "$s")" = "$(git -C "$w" rev-parse HEAD)" ] || fail "$name: pull was not a fast-forward"

	# grove writes, pushes; git sees the same commits.
	"$GROVE" -C "$s" set k/new "from grove" >/dev/null
	"$GROVE" -C "$s" sync status | grep -q "ahead 1, behind 0" || fail "$name: status not ahead 1"
	"$GROVE" -q -C "$s" push || fail "$name: push"
	git -C "$w" pull -q origin main
	[ "$(cat "$w/k/new")" = "from grove" ] || fail "$name: git does not see the pushed value"
	[ "$(git -C "$w" rev-parse HEAD)" = "$(head_of "$s")" ] || fail "$name: pushed commit id differs"
	git -C "$w" fsck --strict 2>/dev/null || fail "$name: git fsck after push"
	"$GROVE" -C "$s" sync status | grep -q "last push: never" && fail "$name: last push not recorded"

	# Both sides move: the push is refused, nothing changes, pull merges.
	echo git-side >"$w/g.txt" && git -C "$w" add g.txt && git -C "$w" commit -qm "git side"
	git -C "$w" push -q origin main
	"$GROVE" -C "$s" set grove-side yes >/dev/null
	before=$(head_of "$s")
	rc=0; "$GROVE" -q -C "$s" push 2>"$tmp/err" || rc=$?
	[ "$rc" = 1 ] || fail "$name: non-fast-forward push exited $rc"
	grep -q "fast-forward" "$tmp/err" || fail "$name: unclear non-ff message: $(cat "$tmp/err")"
	[ "$(head_of "$s")" = "$before" ] || fail "$name: refused push changed the branch"
	[ "$(git ls-remote "$url" refs/heads/main | cut -f1)" = "$(git -C "$w" rev-parse HEAD)" ] ||
		fail "$name: refused push changed the remote"
	"$GROVE" -q -C "$s" pull -m "merge git side" || fail "$name: pull (merge)"
	[ "$("$GROVE" -C "$s" get g.txt)" = git-side ] || fail "$name: merge lost the git side"
	[ "$("$GROVE" -C "$s" get grove-side)" = yes ] || fail "$name: merge lost the grove side"
	"$GROVE" -q -C "$s" push || fail "$name: push after merge"
	git -C "$w" pull -q origin main
	[ "$(git -C "$w" rev-parse HEAD)" = "$(head_of "$s")" ] || fail "$name: merge commit id differs"
	[ "$(git -C "$w" rev-list --parents -n1 HEAD | wc -w)" = 3 ] || fail "$name: not a merge commit"
	[ "$(cat "$w/grove-side")" = yes ] || fail "$name: git does not see the merged value"

	# A new branch pushed by refspec; a second store fetches everything.
	"$GROVE" -C "$s" branch topic >/dev/null
	"$GROVE" -C "$s" --branch topic set t 1 >/dev/null
	"$GROVE" -q -C "$s" push origin topic || fail "$name: push of a new branch"
	[ "$(git ls-remote "$url" refs/heads/topic | cut -f1)" = "$(head_of "$s" topic)" ] ||
		fail "$name: new branch not on the remote"
	"$GROVE" -q clone "$url" "lmdb:$tmp/second-$name" || fail "$name: second clone"
	[ "$("$GROVE" -C "lmdb:$tmp/second-$name" --branch topic get t)" = 1 ] || fail "$name: second clone lacks topic"
	"$GROVE" -C "lmdb:$tmp/second-$name" fsck >/dev/null || fail "$name: fsck of the second clone"
}

scenario file "file://$tmp/served/file.git"
scenario gitd "git://127.0.0.1:$P/gitd.git"
scenario grove "git://127.0.0.1:$PORT/grove"

# The git: backend as the local store, with a path (not a URL) as remote.
"$GROVE" -q clone "$tmp/served/file.git" "git:$tmp/gitstore.git" || fail "clone into a git: store"
[ "$("$GROVE" -C "git:$tmp/gitstore.git" get grove-side)" = yes ] || fail "git: store clone content"
git --git-dir="$tmp/gitstore.git" fsck --strict 2>/dev/null || fail "git fsck of the git: store"

# A history stored through a fetch keeps the pack's deltas.
"$GROVE" -C "lmdb:$tmp/clone-file" stats | grep -q "deltas" || fail "stats"

# Remote management.
s="lmdb:$tmp/clone-file"
"$GROVE" -C "$s" remote add backup "https://alice:s3cret@example.invalid/x.git"
"$GROVE" -C "$s" remote -v | grep -q "^backup	https://example.invalid/x.git$" || fail "stored URL kept credentials"
"$GROVE" -C "$s" remote -v | grep -q s3cret && fail "password stored"
rc=0; "$GROVE" -C "$s" remote add backup file:///x 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "duplicate remote add exited $rc"
rc=0; "$GROVE" -C "$s" remote add "bad/name" file:///x 2>/dev/null || rc=$?
[ "$rc" = 3 ] || fail "invalid remote name exited $rc"
"$GROVE" -C "$s" remote remove origin
"$GROVE" -C "$s" remote | grep -qx origin && fail "origin not removed"
[ -z "$(git --git-dir="$tmp/served/file.git" for-each-ref refs/grove)" ] || fail "config leaked to the remote"
"$GROVE" -C "$s" branch -v >/dev/null
"$GROVE" -C "$s" sync status | grep -q "branch main: no upstream" || fail "upstream kept after remote remove"
rc=0; "$GROVE" -C "$s" fetch origin 2>"$tmp/err" || rc=$?
[ "$rc" = 1 ] && grep -q "no remote named 'origin'" "$tmp/err" || fail "fetch of a removed remote: rc $rc $(cat "$tmp/err")"

stop_server
echo "ok"
