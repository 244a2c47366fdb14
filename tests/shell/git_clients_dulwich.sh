#!/bin/bash
# dulwich (python3-dulwich, a pure-Python git client) against `grove daemon`
# (git://) and `grove serve` (smart HTTP with Basic credentials), through
# tests/shell/lib/dulwich_client.py.  For each transport, on its own store:
# clone (HEAD and every ref equal the git-made source's; git fsck --strict),
# fetch after the git CLI pushed a commit, a new branch and a tag, push of a
# new branch and a fast-forward (checked in the store with $GROVE), a forced
# non-fast-forward refused by the server (store unchanged).  Over HTTP also:
# no and wrong credentials (clone and push fail, store unchanged).  Both
# servers then stop gracefully.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ] && tail -30 "$SERVER_LOG" >&2; exit 1; }
. "$here/lib/git_server.bash"
. "$here/lib/git_source.bash"
DAEMON_PID=
cleanup() {
	if [ -n "$DAEMON_PID" ]; then kill -KILL "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
	kill_server
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp" GIT_TERMINAL_PROMPT=0 LC_ALL=C
git config --global init.defaultBranch main
dul() { /usr/bin/python3 "$here/lib/dulwich_client.py" "$@"; }
/usr/bin/python3 -c 'import dulwich' 2>/dev/null || fail "python3-dulwich is not installed (make deps)"

# --- a git-made source: history, a merge, annotated and lightweight tags ----
make_source
git -C src tag light
commit big.txt "$(seq 1 3000)" c5

# one store per transport, and a bare copy of the source for each that
# follows what the git CLI pushes (the expected refs)
mkdir stores
for tr in git http; do
	git clone -q --bare src "truth-$tr.git"
	"$GROVE" -q init "lmdb:$tmp/stores/$tr"
	"$GROVE" -C "lmdb:$tmp/stores/$tr" import "truth-$tr.git" >/dev/null
done
printf 'alice:%s\n' "$(openssl passwd -6 -salt abcdefgh s3cret)" >htpasswd

refs_of() { git -C "$1" for-each-ref --format='%(objectname) %(refname)' | sort; }
branch_id() { "$GROVE" -C "lmdb:$tmp/stores/$1" log -n 1 "$2" | sed -n 's/^commit //p'; }

# --- both servers ----------------------------------------------------------------
start_server "$tmp/daemon.log" "$GROVE" daemon --listen 127.0.0.1 --port 0 --base-path "$tmp/stores" \
	--enable-receive-pack
DAEMON_PID=$SERVER_PID DAEMON_PORT=$PORT DAEMON_LOG=$SERVER_LOG
start_server "$tmp/serve.log" "$GROVE" serve --listen 127.0.0.1:0 --stores "$tmp/stores" \
	--htpasswd "$tmp/htpasswd"
HTTP_PORT=$PORT

for tr in git http; do
	if [ $tr = git ]; then
		url="git://127.0.0.1:$DAEMON_PORT/$tr"
		unset DULWICH_USER DULWICH_PASS
		cli_url=$url
	else
		url="http://127.0.0.1:$HTTP_PORT/git/$tr"
		export DULWICH_USER=alice DULWICH_PASS=s3cret
		cli_url="http://alice:s3cret@127.0.0.1:$HTTP_PORT/git/$tr"
	fi
	truth="truth-$tr.git"

	# clone: HEAD and every ref as in the source, a clone git accepts
	dul clone "$url" "c-$tr" >out || fail "dulwich clone over $tr"
	[ "$(head -1 out)" = "HEAD $(git -C "$truth" rev-parse HEAD) refs/heads/main" ] ||
		fail "$tr clone HEAD: $(head -1 out)"
	[ "$(sed 1d out | sort)" = "$(refs_of "$truth")" ] || { cat out; fail "$tr clone refs differ"; }
	git -C "c-$tr" fsck --strict >/dev/null 2>&1 || fail "git fsck --strict of the dulwich $tr clone"

	# fetch after the git CLI pushed a commit, a new branch and a tag
	commit "new-$tr.txt" "new over $tr" "new $tr"
	git -C src branch "newb-$tr" HEAD~2
	git -C src tag -a "v2-$tr" -m "tag over $tr"
	git -C src push -q "$tmp/$truth" main "newb-$tr" "v2-$tr"
	git -C src push -q "$cli_url" main "newb-$tr" "v2-$tr" || fail "git CLI push over $tr"
	dul fetch "c-$tr" >out || fail "dulwich fetch over $tr"
	[ "$(sort out)" = "$(refs_of "$truth")" ] || { cat out; refs_of "$truth"; fail "$tr refs after fetch differ"; }
	git -C "c-$tr" fsck --strict >/dev/null 2>&1 || fail "git fsck --strict after the $tr fetch"

	# push a new branch, then a fast-forward of main (the clone's HEAD is
	# still the old main: bring it up to date first)
	git -C "c-$tr" update-ref refs/heads/main "$(git -C "$truth" rev-parse main)"
	dul push "c-$tr" refs/heads/dul-new >out || fail "dulwich push of a new branch over $tr"
	read -r st ref id <out
	[ "$st $ref" = "ok refs/heads/dul-new" ] || fail "$tr push new branch: $(cat out)"
	[ "$(branch_id $tr dul-new)" = "$id" ] || fail "$tr: store's dul-new is not $id"
	git -C "c-$tr" update-ref refs/heads/main "$id"
	dul push "c-$tr" refs/heads/main >out || fail "dulwich fast-forward over $tr"
	read -r st ref id <out
	[ "$st $ref" = "ok refs/heads/main" ] || fail "$tr fast-forward: $(cat out)"
	[ "$(branch_id $tr main)" = "$id" ] || fail "$tr: store's main is not $id"

	# a non-fast-forward: dulwich refuses it itself; forced, the server does
	git -C "c-$tr" update-ref refs/heads/main "$id"
	[ "$(dul push "c-$tr" refs/heads/main --diverge)" = "ng refs/heads/main diverged (refused by dulwich)" ] ||
		fail "$tr: dulwich pushed a diverged branch"
	[ "$(dul push "c-$tr" refs/heads/main --diverge --force)" = "ng refs/heads/main non-fast-forward" ] ||
		fail "$tr: forced non-fast-forward not refused by the server"
	[ "$(branch_id $tr main)" = "$id" ] || fail "$tr: store's main moved after a refused push"

	"$GROVE" -C "lmdb:$tmp/stores/$tr" fsck >/dev/null || fail "grove fsck of the $tr store"
	git clone -q "$cli_url" "check-$tr" || fail "git clone of the $tr store"
	[ "$(git -C "check-$tr" rev-parse HEAD)" = "$id" ] || fail "$tr: git clone sees another main"
	git -C "check-$tr" fsck --strict >/dev/null 2>&1 || fail "fsck of the git clone of the $tr store"
done

# --- HTTP without and with wrong credentials -------------------------------------
url="http://127.0.0.1:$HTTP_PORT/git/http"
before=$(branch_id http main)
unset DULWICH_USER DULWICH_PASS
! dul clone "$url" c-anon 2>err || fail "clone without credentials succeeded"
grep -q HTTPUnauthorized err || { cat err; fail "no 401 for a clone without credentials"; }
export DULWICH_USER=alice DULWICH_PASS=wrong
! dul clone "$url" c-wrong 2>err || fail "clone with a wrong password succeeded"
grep -q HTTPUnauthorized err || { cat err; fail "no 401 for a wrong password"; }
git -C c-http update-ref refs/heads/main "$before"
! dul push c-http refs/heads/main >out 2>err || fail "push with a wrong password succeeded"
grep -q HTTPUnauthorized err || { cat err; fail "no 401 for a push with a wrong password"; }
[ "$(branch_id http main)" = "$before" ] || fail "a refused push moved main"

# --- both servers stop gracefully ------------------------------------------------
stop_server
SERVER_PID=$DAEMON_PID SERVER_LOG=$DAEMON_LOG
DAEMON_PID=
stop_server
echo "ok git_clients_dulwich"
