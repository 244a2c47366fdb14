#!/bin/bash
# grove push and fetch over git:// with grove's own client (sync/native_*.c)
# against a real `git daemon --enable=receive-pack`:
#  - commits fetched from elsewhere (stored as pack deltas) are pushed with
#    their deltas: the pack the remote keeps holds deltas, git fsck --strict
#    of the remote is clean and git sees the same commit ids;
#  - nothing is written to TMPDIR (no scratch repository);
#  - an up-to-date push sends nothing (the remote's pre-receive hook does
#    not run); a new branch, a delete, a forced update;
#  - a non-fast-forward update is refused before anything is sent (exit 1,
#    remote and store unchanged); a missing repository, a closed port and a
#    server speaking garbage give clear errors naming the push and the URL;
#  - file:// (git's upload-pack/receive-pack): push with deltas, fetch, git's
#    error in grove's message;
#  - fetch and clone: branches, annotated tags, the remote's HEAD, the same
#    refs as a clone through libgit2 (GROVE_SYNC_LIBGIT2=1), nothing in
#    TMPDIR, a fetch after local and remote both moved;
#  - GROVE_SYNC_LIBGIT2=1 still pushes and fetches through libgit2, also
#    without a scratch repository in TMPDIR.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/gitd.log" ] && tail -20 "$tmp/gitd.log" >&2; exit 1; }
. "$here/lib/git_server.bash"
GITD_PID=
BAD_PID=
cleanup() {
	local rc=$?
	[ -n "$GITD_PID" ] && { kill "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null || true; }
	[ -n "$BAD_PID" ] && { kill "$BAD_PID" 2>/dev/null; wait "$BAD_PID" 2>/dev/null || true; }
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
cd "$tmp"
sync_client_env
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com
mkdir "$tmp/tmpdir"
export TMPDIR="$tmp/tmpdir"

# A history with a file edited a little per commit (delta material).
git init -q src
for i in $(seq 1 200); do echo "line $i of a text that changes slowly"; done >src/big.txt
git -C src add . && git -C src commit -qm base
mkdir served
git clone -q --bare src served/r.git
git --git-dir=served/r.git config receive.unpackLimit 1 # keep pushed packs to inspect them
for i in $(seq 1 20); do
	sed -i "s/^line $((i * 7)) .*/line $((i * 7)) edited in commit $i/" src/big.txt
	echo "note $i" >src/note-$i.txt
	git -C src add . && git -C src commit -qm "edit $i"
done
git -C src repack -adq

P=$(free_port)
git daemon --export-all --enable=receive-pack --base-path="$tmp/served" --listen=127.0.0.1 --port="$P" \
	--reuseaddr 2>"$tmp/gitd.log" &
GITD_PID=$!
wait_port "$P"
URL="git://127.0.0.1:$P/r.git"

s="lmdb:$tmp/store"
"$GROVE" -q clone "$URL" "$s" || fail "clone"
"$GROVE" -q -C "$s" remote add local "file://$tmp/src/.git"
"$GROVE" -q -C "$s" fetch local || fail "fetch from the local remote"
"$GROVE" -C "$s" stats | grep -q "deltas" || fail "fetched history not kept as deltas"

# Push the 20 fetched commits: a thin pack with the store's deltas.
packs_before=$(ls served/r.git/objects/pack/*.pack 2>/dev/null | wc -l)
"$GROVE" -q -C "$s" push origin refs/remotes/local/main:refs/heads/main || fail "push"
[ "$(git --git-dir=served/r.git rev-parse main)" = "$(git -C src rev-parse main)" ] || fail "pushed commit differs"
git --git-dir=served/r.git fsck --strict 2>&1 | grep -v "^dangling" && fail "git fsck of the remote after push"
newpack=$(ls -t served/r.git/objects/pack/*.idx | head -1)
[ "$(ls served/r.git/objects/pack/*.pack | wc -l)" -gt "$packs_before" ] || fail "the remote kept no pack"
git verify-pack -v "$newpack" | grep -q "chain length = 1" || fail "the pushed pack has no deltas: $(git verify-pack -v "$newpack" | tail -5)"
[ -z "$(ls -A "$TMPDIR")" ] || fail "push left files in TMPDIR: $(ls -A "$TMPDIR")"
"$GROVE" -C "$s" log -n1 refs/remotes/origin/main | grep -q "$(git -C src rev-parse main)" || fail "tracking ref not updated"
"$GROVE" -C "$s" sync status | grep -A3 "^remote origin" | grep -q "last push: never" && fail "last push not recorded"

# Up to date: nothing is sent (receive-pack's hook would run for any command).
cat >served/r.git/hooks/pre-receive <<EOF
#!/bin/sh
touch "$tmp/hook-ran"
EOF
chmod +x served/r.git/hooks/pre-receive
"$GROVE" -q -C "$s" push origin refs/remotes/local/main:refs/heads/main || fail "up-to-date push"
[ -e "$tmp/hook-ran" ] && fail "an up-to-date push reached receive-pack's commands"

# A new branch from a grove commit, then its deletion.
"$GROVE" -q -C "$s" pull local main >/dev/null || fail "pull from the local remote"
"$GROVE" -C "$s" branch topic >/dev/null
"$GROVE" -C "$s" --branch topic set t.txt "on topic" >/dev/null
"$GROVE" -q -C "$s" push origin topic || fail "push of a new branch"
[ -e "$tmp/hook-ran" ] || fail "hook did not run for a real push"
[ "$(git --git-dir=served/r.git show topic:t.txt)" = "on topic" ] || fail "topic content on the remote"
git --git-dir=served/r.git fsck --strict 2>&1 | grep -v "^dangling" && fail "git fsck after the branch push"
"$GROVE" -q -C "$s" push origin :refs/heads/topic || fail "delete push"
git --git-dir=served/r.git rev-parse -q --verify refs/heads/topic >/dev/null && fail "topic not deleted"

# Non-fast-forward: refused before sending, nothing changes; force works.
git clone -q "$URL" w
echo other >w/other.txt && git -C w add other.txt && git -C w commit -qm "git side"
git -C w push -q origin main
"$GROVE" -C "$s" --branch topic set t2.txt x >/dev/null
rm -f "$tmp/hook-ran"
rc=0; "$GROVE" -q -C "$s" push origin topic:main 2>err || rc=$?
[ "$rc" = 1 ] || fail "non-ff push exited $rc: $(cat err)"
grep -q "fast-forward" err || fail "unclear non-ff message: $(cat err)"
[ -e "$tmp/hook-ran" ] && fail "a non-ff push was sent"
[ "$(git --git-dir=served/r.git rev-parse main)" = "$(git -C w rev-parse HEAD)" ] || fail "refused push changed the remote"
"$GROVE" -q -C "$s" push origin +topic:main || fail "forced push"
[ "$(git --git-dir=served/r.git rev-parse main)" = "$("$GROVE" -C "$s" log -n1 topic | sed -n 's/^commit //p')" ] ||
	fail "forced push did not land"
git --git-dir=served/r.git fsck --strict 2>&1 | grep -v "^dangling" && fail "git fsck after the forced push"

# Errors: a missing repository, a closed port, a server speaking garbage.
"$GROVE" -C "$s" remote add missing "git://127.0.0.1:$P/missing.git"
rc=0; "$GROVE" -q -C "$s" push missing topic 2>err || rc=$?
[ "$rc" != 0 ] || fail "push to a missing repository succeeded"
grep -q "push to 'missing' (git://127.0.0.1:$P/missing.git)" err || fail "message does not name the push: $(cat err)"
"$GROVE" -C "$s" sync status | grep -q "last error: push to 'missing'" || fail "last error not recorded"
"$GROVE" -C "$s" remote add closed "git://127.0.0.1:$(free_port)/x.git"
rc=0; "$GROVE" -q -C "$s" push closed topic 2>err || rc=$?
[ "$rc" != 0 ] && grep -q "cannot connect" err || fail "closed port: rc $rc $(cat err)"
/usr/bin/python3 - >"$tmp/bad.port" <<'PY' &
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    try:
        c.recv(4096)
        c.sendall(b'zzzz not a pkt-line')
    except OSError:
        pass
    c.close()
PY
BAD_PID=$!
for i in $(seq 1 100); do BAD_PORT=$(head -1 "$tmp/bad.port" 2>/dev/null || true); [ -n "$BAD_PORT" ] && break; sleep 0.05; done
"$GROVE" -C "$s" remote add bad "git://127.0.0.1:$BAD_PORT/x.git"
before=$("$GROVE" -C "$s" branch -v)
rc=0; "$GROVE" -q -C "$s" push bad topic 2>err || rc=$?
[ "$rc" != 0 ] && grep -q "push to 'bad'.*protocol error" err || fail "garbage server: rc $rc $(cat err)"
[ "$("$GROVE" -C "$s" branch -v)" = "$before" ] || fail "a failed push changed the store's branches"
[ -z "$(ls -A "$TMPDIR")" ] || fail "failed pushes left files in TMPDIR: $(ls -A "$TMPDIR")"

# file://: git's upload-pack / receive-pack on the repository.  The push
# keeps deltas, the repository stays sound, git's stderr ends up in grove's
# one-line message (not on the caller's stderr by itself).
git clone -q --bare src served/f.git
git --git-dir=served/f.git config receive.unpackLimit 1
git --git-dir=served/f.git update-ref refs/heads/main "$(git -C src rev-parse main~15)"
"$GROVE" -C "$s" remote add file "file://$tmp/served/f.git"
"$GROVE" -q -C "$s" push file refs/remotes/local/main:refs/heads/main || fail "file:// push"
[ "$(git --git-dir=served/f.git rev-parse main)" = "$(git -C src rev-parse main)" ] || fail "file:// push did not land"
git --git-dir=served/f.git fsck --strict 2>&1 | grep -v "^dangling" && fail "git fsck after the file:// push"
git verify-pack -v "$(ls -t served/f.git/objects/pack/*.idx | head -1)" | grep -q "chain length = 1" ||
	fail "the file:// push sent no deltas"
"$GROVE" -q -C "$s" fetch file || fail "file:// fetch"
"$GROVE" -C "$s" log -n1 refs/remotes/file/main | grep -q "$(git -C src rev-parse main)" || fail "file:// fetch refs"
rc=0; "$GROVE" -q clone "file://$tmp/served/nope.git" "lmdb:$tmp/c-nope" 2>err || rc=$?
[ "$rc" != 0 ] || fail "clone of a missing file:// repository succeeded"
[ "$(wc -l <err)" = 1 ] && grep -q "^grove: fetch from 'origin' (file://$tmp/served/nope.git): .*does not appear to be a git repository" err ||
	fail "file:// error message: $(cat err)"
# A plain path is local too, also one with a ':' in its name (never an ssh
# host, as git reads it): relative and absolute, clone and push.
cp -r served/f.git "served/host:f.git"
(cd served && "$GROVE" -q clone "host:f.git" "lmdb:$tmp/c-colon") || fail "clone of a local 'host:f.git'"
"$GROVE" -C "lmdb:$tmp/c-colon" log -n1 main | grep -q "$(git -C src rev-parse main)" || fail "colon clone refs"
"$GROVE" -q clone "$tmp/served/f.git" "lmdb:$tmp/c-abs" || fail "clone of an absolute path"
"$GROVE" -C "lmdb:$tmp/c-abs" --branch main set colon.txt z >/dev/null
"$GROVE" -q -C "lmdb:$tmp/c-abs" remote add colon "$tmp/served/host:f.git"
"$GROVE" -q -C "lmdb:$tmp/c-abs" push colon main || fail "push to an absolute path with a ':'"
[ "$(git --git-dir="served/host:f.git" rev-parse main)" = "$("$GROVE" -C "lmdb:$tmp/c-abs" log -n1 main | sed -n 's/^commit //p')" ] ||
	fail "the push to 'host:f.git' did not land"

# The libgit2 path still works (and is what https/ssh use).
"$GROVE" -C "$s" --branch topic set t3.txt y >/dev/null
GROVE_SYNC_LIBGIT2=1 "$GROVE" -q -C "$s" push origin topic:main || fail "push through libgit2"
[ "$(git --git-dir=served/r.git show main:t3.txt)" = y ] || fail "libgit2 push content"
GROVE_SYNC_LIBGIT2=1 "$GROVE" -q -C "$s" fetch origin || fail "fetch through libgit2"
[ -z "$(ls -A "$TMPDIR")" ] || fail "the libgit2 path left files in TMPDIR: $(ls -A "$TMPDIR")"

# Fetch: new commits and an annotated tag made with git; the store also has
# commits of its own (their haves are unknown to the remote).
git -C w fetch -q origin && git -C w reset -q --hard origin/main
echo more >w/more.txt && git -C w add more.txt && git -C w commit -qm "more"
git -C w tag -a v2 -m "tag v2"
git -C w push -q origin main v2
"$GROVE" -q -C "$s" fetch origin || fail "fetch"
[ "$("$GROVE" -C "$s" log -n1 refs/remotes/origin/main | sed -n 's/^commit //p')" = "$(git -C w rev-parse HEAD)" ] ||
	fail "fetch did not bring main"
[ "$("$GROVE" -C "$s" get --rev v2 more.txt)" = more ] || fail "fetch did not bring tag v2"
"$GROVE" -C "$s" fsck >/dev/null || fail "fsck after fetch"
"$GROVE" -C "$s" sync status | grep -A2 "^remote origin" | grep -q "last fetch: never" && fail "last fetch not recorded"
"$GROVE" -q -C "$s" fetch origin || fail "up-to-date fetch"
[ -z "$(ls -A "$TMPDIR")" ] || fail "fetch left files in TMPDIR: $(ls -A "$TMPDIR")"

# A clone with grove's client and one with libgit2 end up with the same refs.
"$GROVE" -q clone "$URL" "lmdb:$tmp/c-native" || fail "native clone"
GROVE_SYNC_LIBGIT2=1 "$GROVE" -q clone "$URL" "lmdb:$tmp/c-lg2" || fail "libgit2 clone"
for c in c-native c-lg2; do
	"$GROVE" -C "lmdb:$tmp/$c" branch -v >"$tmp/$c.branches"
	for r in refs/remotes/origin/main refs/tags/v2 main; do
		"$GROVE" -C "lmdb:$tmp/$c" log -n1 "$r" | head -1
	done >"$tmp/$c.refs"
	"$GROVE" -C "lmdb:$tmp/$c" fsck >/dev/null || fail "fsck of $c"
done
cmp -s "$tmp/c-native.refs" "$tmp/c-lg2.refs" || fail "native and libgit2 clones differ: $(diff "$tmp/c-native.refs" "$tmp/c-lg2.refs")"
cmp -s "$tmp/c-native.branches" "$tmp/c-lg2.branches" || fail "native and libgit2 clones have other branches"
[ -z "$(ls -A "$TMPDIR")" ] || fail "clone left files in TMPDIR: $(ls -A "$TMPDIR")"

# A repository the daemon does not serve: a clear error, nothing stored.
rc=0; "$GROVE" -q -C "$s" fetch missing 2>err || rc=$?
[ "$rc" != 0 ] && grep -q "fetch from 'missing' (git://127.0.0.1:$P/missing.git): remote error: .*not exported" err ||
	fail "fetch of a missing repository: rc $rc $(cat err)"
echo ok
