#!/bin/bash
# `grove daemon` (git://) with the real git client, protocol v0 and v2:
# empty store clone then first push, full clone (same ids as the git-made
# source), --depth 1, --filter=blob:none with a lazy blob fetch, incremental
# fetch, push of a new branch / fast-forward / refused non-ff / delete,
# read-only without --enable-receive-pack, a bare git repository as store
# (clone and push), a connection limit,
# 20 clients cloning and pushing at once, garbage and oversized pkt-lines on
# a raw socket (ERR, and the daemon keeps serving), graceful SIGTERM.
# Every clone passes git fsck --strict.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ] && tail -30 "$SERVER_LOG" >&2; exit 1; }
. "$here/lib/git_server.bash"
. "$here/lib/git_source.bash"
cleanup() { kill_server; [ -n "${KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp"
git config --global init.defaultBranch main
git config --global advice.detachedHead false

# --- a git-made source with history, a merge and tags ---------------------
make_source
commit big.bin "$(head -c 5000 /dev/zero | tr '\0' x)" c5
git clone -q --bare src src.git

mkdir stores
"$GROVE" -q init "lmdb:$tmp/stores/full"
"$GROVE" -C "lmdb:$tmp/stores/full" import src.git >/dev/null
"$GROVE" -q init "lmdb:$tmp/stores/empty"
"$GROVE" -q init "lmdb:$tmp/stores/crowd"
"$GROVE" -C "lmdb:$tmp/stores/crowd" set readme hello >/dev/null
git clone -q --bare src "stores/plain.git"

# A clone's remote-tracking refs and tags, named as on the server.
refs_of() { git -C "$1" for-each-ref --format='%(objectname) %(refname)' refs/remotes/ refs/tags/ | sed 's#refs/remotes/origin/#refs/heads/#' | grep -v ' refs/heads/HEAD$' | sort; }
src_refs=$(git -C src.git for-each-ref --format='%(objectname) %(refname)' | sort)

# --- read-only daemon ------------------------------------------------------
start_server "$tmp/ro.log" "$GROVE" daemon --listen 127.0.0.1 --port 0 --base-path "$tmp/stores"
URL="git://127.0.0.1:$PORT"
for v in 0 2; do
	git -c protocol.version=$v clone -q "$URL/full" ro$v || fail "read-only clone v$v"
	git -C ro$v fsck --strict >/dev/null 2>&1 || fail "fsck ro$v"
	[ "$(refs_of ro$v)" = "$src_refs" ] || fail "refs differ (v$v)"
done
# a bare git repository, named with or without .git
git clone -q "$URL/plain" plain1 || fail "clone of a bare git repo"
git clone -q "$URL/plain.git" plain2 || fail "clone of name.git"
[ "$(git -C plain1 rev-parse HEAD)" = "$(git -C src rev-parse HEAD)" ] || fail "plain clone head"
# pushing is refused
(cd ro0 && git commit -q --allow-empty -m nope && ! git push -q origin HEAD:refs/heads/nope 2>../err) ||
	fail "push to a read-only daemon succeeded"
grep -q "receive-pack is not enabled" err || { cat err; fail "no refusal message"; }
# unknown repositories and paths that try to leave the base directory
for bad in nothere ../stores/full .hidden full/../full; do
	! git clone -q "$URL/$bad" bad 2>err || fail "clone of '$bad' succeeded"
	grep -q "remote error" err || { cat err; fail "no remote error for '$bad'"; }
done
grep -q "git-upload-pack /full v2 ok" "$tmp/ro.log" || fail "no access-log line for a v2 clone"
grep -q "git-upload-pack /full v0 ok" "$tmp/ro.log" || fail "no access-log line for a v0 clone"
stop_server

# --- read-write daemon ------------------------------------------------------
start_server "$tmp/rw.log" "$GROVE" daemon --listen 127.0.0.1 --port 0 --base-path "$tmp/stores" \
	--enable-receive-pack --max-connections 64
URL="git://127.0.0.1:$PORT"

for v in 0 2; do
	echo "=== protocol v$v"
	G="git -c protocol.version=$v"
	# full, shallow and partial clones
	$G clone -q "$URL/full" full$v || fail "clone v$v"
	git -C full$v fsck --strict >/dev/null 2>&1 || fail "fsck full$v"
	[ "$(git -C full$v rev-parse HEAD)" = "$(git -C src rev-parse HEAD)" ] || fail "head v$v"
	shallow_and_partial_clones "$v" "$URL/full"
done

# empty store: clone, first push, then pushes of every kind (v0/v2 fetches)
git clone -q "$URL/empty" e 2>/dev/null || fail "clone of the empty store"
(cd e && echo first >k && git add k && git commit -qm first && git push -q origin HEAD:main) ||
	fail "first push"
[ "$("$GROVE" -C "lmdb:$tmp/stores/empty" get k)" = first ] || fail "first push not in the store"
(cd e && echo second >k && git commit -qam second && git push -q origin HEAD:main) || fail "ff push"
(cd e && git push -q origin HEAD:refs/heads/topic) || fail "push of a new branch"
"$GROVE" -C "lmdb:$tmp/stores/empty" branch | grep -q topic || fail "new branch missing"
before=$("$GROVE" -C "lmdb:$tmp/stores/empty" branch -v)
(cd e && git reset -q --hard HEAD~1 && echo other >k && git commit -qam rewrite &&
	! git push -q origin HEAD:main 2>../err) || fail "non-ff push accepted"
grep -q "rejected\|non-fast-forward" err || { cat err; fail "no non-ff message"; }
[ "$("$GROVE" -C "lmdb:$tmp/stores/empty" branch -v)" = "$before" ] || fail "refused push changed refs"
(cd e && git push -q origin :refs/heads/topic) || fail "delete push"
! "$GROVE" -C "lmdb:$tmp/stores/empty" branch | grep -q topic || fail "branch not deleted"
# incremental fetch into an older clone, both versions
for v in 0 2; do
	git -c protocol.version=$v clone -q "$URL/empty" inc$v
	(cd e && git reset -q --hard origin/main && echo v$v-more >k && git commit -qam "more $v" && git push -q origin HEAD:main)
	git -C inc$v -c protocol.version=$v fetch -q origin || fail "incremental fetch v$v"
	[ "$(git -C inc$v rev-parse origin/main)" = "$(git -C e rev-parse HEAD)" ] || fail "fetch result v$v"
	git -C inc$v fsck --strict >/dev/null 2>&1 || fail "fsck inc$v"
done

# a bare git repository as store: push, then git itself sees the commit
git clone -q "$URL/plain" pw || fail "clone of plain.git"
(cd pw && echo pushed >p.txt && git add p.txt && git commit -qm "to plain" && git push -q origin HEAD:main) ||
	fail "push to a git: store"
[ "$(git -C stores/plain.git rev-parse main)" = "$(git -C pw rev-parse HEAD)" ] || fail "git: store head after push"
git -C stores/plain.git fsck --strict >/dev/null 2>&1 || fail "fsck of the git: store after a push"

# --- 20 clients clone and push to their own branches at once ---------------
pids=()
for i in $(seq 1 20); do
	(
		v=$((i % 2 * 2))
		git -c protocol.version=$v clone -q "$URL/crowd" crowd$i &&
		cd crowd$i && echo "client $i" >"file$i" && git add "file$i" &&
		git commit -qm "client $i" && git push -q origin HEAD:refs/heads/c$i &&
		git fsck --strict >/dev/null 2>&1
	) >"crowd$i.out" 2>&1 &
	pids+=($!)
done
for i in $(seq 1 20); do
	wait "${pids[$((i - 1))]}" || { cat "crowd$i.out"; fail "client $i failed"; }
done
for i in $(seq 1 20); do
	[ "$("$GROVE" -C "lmdb:$tmp/stores/crowd" --branch c$i get file$i)" = "client $i" ] ||
		fail "branch c$i missing its commit"
done
"$GROVE" -C "lmdb:$tmp/stores/crowd" fsck >/dev/null || fail "store fsck after the crowd"

# --- bad input on a raw socket: ERR packets, and the daemon keeps serving ---
expect_err() { # DESCRIPTION PYTHON-BYTES...
	local what=$1; shift
	local got
	got=$(raw_exchange "$@")
	case "$got" in *ERR*) ;; *) fail "$what: no ERR packet (got $got)";; esac
}
expect_err "garbage" "b'hello world, this is not a pkt-line\n'"
expect_err "oversized pkt-line" "b'ffff' + b'x' * 70000"
expect_err "length 0003" "b'0003'"
expect_err "flush instead of a request" "b'0000'"
expect_err "unknown service" "pkt(b'git-frobnicate /full\0host=localhost\0')"
expect_err "no path" "pkt(b'git-upload-pack\0')"
expect_err "path escaping the base" "pkt(b'git-upload-pack /../stores/full\0host=x\0')"
expect_err "garbage inside the session" "pkt(b'git-upload-pack /full\0host=x\0')" "b'zzzz'"
expect_err "oversized pkt-line inside the session" "pkt(b'git-upload-pack /full\0host=x\0')" "b'fff1' + b'a' * 65600"
expect_err "bogus want" "pkt(b'git-upload-pack /full\0host=x\0')" "pkt(b'want 0123456789012345678901234567890123456789\n') + b'0000' + pkt(b'done\n')"
# a client that sends half a request and goes away
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf '00ffgit-upload-pack /fu' >&3
exec 3>&-
# the server is still fine
git clone -q "$URL/full" after || fail "clone after bad input"
git -C after fsck --strict >/dev/null 2>&1 || fail "fsck after bad input"
grep -q "error: bad pkt-line" "$tmp/rw.log" || fail "bad input not in the access log"
stop_server

# --- a connection limit: the connection beyond it is refused, then served again
start_server "$tmp/limit.log" "$GROVE" daemon --listen 127.0.0.1 --port 0 --base-path "$tmp/stores" \
	--max-connections 2
exec 4<>"/dev/tcp/127.0.0.1/$PORT" 5<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.2
! git clone -q "git://127.0.0.1:$PORT/full" over 2>/dev/null || fail "connection beyond the limit served"
exec 4>&- 5>&-
ok=
for i in $(seq 1 50); do
	git clone -q "git://127.0.0.1:$PORT/full" under 2>/dev/null && { ok=1; break; }
	rm -rf under; sleep 0.1
done
[ -n "$ok" ] || fail "no clone after the idle connections closed"
stop_server

echo "git_daemon: all passed"
