#!/bin/bash
# A remote that hangs or drops the connection: grove fetch, push and clone
# give up after the inactivity timeout (GROVE_SYNC_TIMEOUT / --timeout) with
# "the remote did not answer for N s" and a non-zero exit, and nothing
# partial is visible: the store's refs are unchanged, the commit being
# fetched is not readable, the remote's refs are unchanged, a failed clone
# holds no branch.  The faults come from tests/shell/lib/hang_proxy.py in
# front of real servers (git daemon for git://, git http-backend behind
# lighttpd for http://):
#  - silent: accepts the connection and never answers;
#  - fetch-hang / fetch-cut: relays the advertisement and the first 20 KB of
#    the pack, then goes quiet / closes the connection;
#  - push-hang / push-cut: relays the first 20 KB of the pushed pack, then
#    stops reading / closes the connection.
# git:// and ssh are grove's own client (sync/native_conn.c; ssh runs the
# OpenSSH client, and the timeout covers the whole session), http and https
# are libgit2's over grove's socket stream (sync/lg2_stream.c): https is a
# silent server that never starts the TLS handshake, ssh one that never
# sends its banner (an ssh session silent after authentication:
# sync_http_ssh.sh).  GROVE_SYNC_TIMEOUT=0 waits without limit and SIGINT
# still ends it ("cancelled").
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() {
	echo "FAIL: $*" >&2
	for l in "$tmp"/gitd.log "$tmp"/lighttpd.err; do [ -f "$l" ] && { echo "== $l"; tail -20 "$l"; } >&2; done
	exit 1
}
. "$here/lib/git_server.bash"
PIDS=""
cleanup() {
	local rc=$? p
	for p in $PIDS $(cat "$tmp/proxy.pids" 2>/dev/null); do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
cd "$tmp"
sync_client_env
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com
# Full malloc stacks, so that a suppression can name one libgit2 call path.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$here/lib/sync_lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# The faults run with a 1 s timeout (expect_*), the real servers with the default.
unset GROVE_SYNC_TIMEOUT

# proxy_start MODE [UPSTREAM_PORT]: starts hang_proxy.py (in the background).
proxy_start() {
	/usr/bin/python3 "$here/lib/hang_proxy.py" "$tmp/proxy-$1-${2:-0}.port" "$1" "${2:-0}" 20000 \
		</dev/null >/dev/null 2>>"$tmp/proxy.log" &
	echo $! >>"$tmp/proxy.pids" # (also when started in a subshell)
}
# proxy MODE [UPSTREAM_PORT]: sets PROXY_PORT (starts the proxy if needed).
proxy() {
	local pf="$tmp/proxy-$1-${2:-0}.port" i
	[ -e "$tmp/proxy.started-$1-${2:-0}" ] || { proxy_start "$@"; touch "$tmp/proxy.started-$1-${2:-0}"; }
	for i in $(seq 1 200); do [ -s "$pf" ] && break; sleep 0.05; done
	[ -s "$pf" ] || fail "hang_proxy $1 did not start"
	PROXY_PORT=$(cat "$pf")
}

# expect_timeout WHAT LIMIT CMD...: CMD fails (non-zero) within LIMIT
# seconds, saying that the remote did not answer.
expect_timeout() {
	local what=$1 limit=$2 t0 t1 rc=0; shift 2
	t0=$(date +%s.%N)
	GROVE_SYNC_TIMEOUT=1 timeout 20 "$@" 2>err || rc=$?
	[ "$rc" != 124 ] || fail "$what: still waiting after 20 s"
	t1=$(date +%s.%N)
	[ "$rc" != 0 ] || fail "$what: succeeded against a hanging remote"
	grep -q "did not answer for" err || fail "$what: unclear message: $(cat err)"
	awk -v a="$t0" -v b="$t1" -v l="$limit" 'BEGIN { exit !(b - a < l) }' ||
		fail "$what: took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s (limit $limit s)"
	echo "ok ($SECONDS s): $what: exit $rc: $(tail -1 err)"
}

# expect_failure WHAT CMD...: CMD fails (non-zero) within 10 s, with a message.
expect_failure() {
	local what=$1 rc=0; shift
	GROVE_SYNC_TIMEOUT=1 timeout 10 "$@" 2>err || rc=$?
	[ "$rc" != 0 ] || fail "$what: succeeded although the connection was cut"
	[ "$rc" != 124 ] || fail "$what: still running after 10 s"
	[ -s err ] || fail "$what: no message"
	echo "ok ($SECONDS s): $what: exit $rc: $(tail -1 err)"
}

# snap STORE: what a reader can see of the store's refs.
snap() {
	"$GROVE" -C "$1" branch -v
	"$GROVE" -C "$1" log -n1 refs/remotes/origin/main | head -1
	"$GROVE" -C "$1" stats | grep '^refs:'
}

# A small first commit, then one with 300 KB of random bytes (a pack that is
# still arriving when the proxies stop it).
git init -q src
echo one >src/a.txt
git -C src add . && git -C src commit -qm c1
mkdir served
git clone -q --bare src served/git.git
git clone -q --bare src served/http.git
git --git-dir=served/http.git config http.receivepack true
head -c 300000 /dev/urandom >src/big.bin
git -C src add . && git -C src commit -qm c2
C2=$(git -C src rev-parse HEAD)

P=$(free_port)
git daemon --export-all --enable=receive-pack --base-path="$tmp/served" --listen=127.0.0.1 --port="$P" \
	--reuseaddr </dev/null >/dev/null 2>"$tmp/gitd.log" &
PIDS="$PIDS $!"
wait_port "$P"

HP=$(free_port)
cat >lighttpd.conf <<CONF
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.bind = "127.0.0.1"
server.port = $HP
server.document-root = "$tmp/served"
server.errorlog = "$tmp/lighttpd.err"
server.max-request-size = 0
alias.url = ("/git/" => "/usr/lib/git-core/git-http-backend/")
\$HTTP["url"] =~ "^/git/" {
	cgi.assign = ("" => "")
	setenv.set-environment = ("GIT_PROJECT_ROOT" => "$tmp/served", "GIT_HTTP_EXPORT_ALL" => "1")
}
CONF
/usr/sbin/lighttpd -D -f lighttpd.conf </dev/null >/dev/null 2>lighttpd.log &
PIDS="$PIDS $!"
wait_port "$HP"

# run_faults SCHEME URL_OF_PORT_FN UPSTREAM_PORT: every fault against the
# repository served/SCHEME.git; run from a directory of its own (err,
# local.bin), git:// and http:// at the same time.
run_faults() {
	local scheme=$1 upstream=$3 s="lmdb:$tmp/store-$1" before after url R="$tmp/served/$1.git"
	local mkurl=$2 mode
	# All of them at once: each python start is slow.
	for mode in silent fetch-hang fetch-cut push-hang push-cut; do
		proxy_start $mode "$upstream"
		touch "$tmp/proxy.started-$mode-$upstream"
	done
	"$GROVE" -q clone "$($mkurl "$upstream")" "$s" 2>err || fail "$scheme: clone from the real server: $(cat err)"
	# The remote moves on (c2, 300 KB), the store has a commit of its own (300 KB).
	git -C "$tmp/src" push -q "$R" main
	head -c 300000 /dev/urandom >local.bin
	"$GROVE" -q -C "$s" set local.bin <local.bin || fail "$scheme: set"
	before=$(snap "$s")

	echo "--- $scheme: a remote that never answers"
	proxy silent "$upstream"
	url=$($mkurl "$PROXY_PORT")
	"$GROVE" -q -C "$s" remote set-url origin "$url"
	expect_timeout "$scheme: fetch (silent)" 5 "$GROVE" -q -C "$s" fetch
	grep -q "fetch from 'origin'" err || fail "$scheme: the message does not name the fetch: $(cat err)"
	expect_timeout "$scheme: push (silent)" 5 "$GROVE" -q -C "$s" push origin main:side
	if [ "$scheme" = git ]; then
		expect_timeout "$scheme: clone (silent, --timeout 2)" 6 "$GROVE" -q clone --timeout 2 "$url" "lmdb:$tmp/c-$scheme-silent"
		grep -q "did not answer for 2 s" err || fail "$scheme: --timeout 2 not used: $(cat err)"
	else
		expect_timeout "$scheme: clone (silent)" 5 "$GROVE" -q clone "$url" "lmdb:$tmp/c-$scheme-silent"
	fi
	[ -z "$("$GROVE" -C "lmdb:$tmp/c-$scheme-silent" branch 2>/dev/null)" ] || fail "$scheme: failed clone has branches"
	after=$(snap "$s")
	[ "$before" = "$after" ] || fail "$scheme: store changed: $before // $after"
	"$GROVE" -C "$s" sync status | grep -q "did not answer" || fail "$scheme: sync status has no last error"

	echo "--- $scheme: the connection stops / is cut in the middle of the pack (fetch, clone)"
	for mode in fetch-hang fetch-cut; do
		proxy $mode "$upstream"
		url=$($mkurl "$PROXY_PORT")
		"$GROVE" -q -C "$s" remote set-url origin "$url"
		if [ $mode = fetch-hang ]; then
			expect_timeout "$scheme: fetch ($mode)" 5 "$GROVE" -q -C "$s" fetch
			expect_timeout "$scheme: clone ($mode)" 5 "$GROVE" -q clone "$url" "lmdb:$tmp/c-$scheme-$mode"
		else
			expect_failure "$scheme: fetch ($mode)" "$GROVE" -q -C "$s" fetch
			expect_failure "$scheme: clone ($mode)" "$GROVE" -q clone "$url" "lmdb:$tmp/c-$scheme-$mode"
		fi
		[ -z "$("$GROVE" -C "lmdb:$tmp/c-$scheme-$mode" branch 2>/dev/null)" ] || fail "$scheme: failed clone ($mode) has branches"
		after=$(snap "$s")
		[ "$before" = "$after" ] || fail "$scheme: $mode: store changed: $before // $after"
		"$GROVE" -C "$s" show "$C2" >/dev/null 2>&1 && fail "$scheme: $mode: the commit being fetched is readable"
	done

	echo "--- $scheme: the remote stops reading / cuts the connection in the middle of a pushed pack"
	for mode in push-hang push-cut; do
		proxy $mode "$upstream"
		url=$($mkurl "$PROXY_PORT")
		"$GROVE" -q -C "$s" remote set-url origin "$url"
		if [ $mode = push-hang ]; then
			expect_timeout "$scheme: push ($mode)" 5 "$GROVE" -q -C "$s" push origin main:side
		else
			expect_failure "$scheme: push ($mode)" "$GROVE" -q -C "$s" push origin main:side
		fi
		after=$(snap "$s")
		[ "$before" = "$after" ] || fail "$scheme: $mode: store changed: $before // $after"
		git --git-dir="$R" rev-parse -q --verify side >/dev/null && fail "$scheme: $mode: the remote has the branch"
		[ "$(git --git-dir="$R" rev-parse main)" = "$C2" ] || fail "$scheme: $mode: the remote's main moved"
	done
	"$GROVE" -C "$s" sync status | grep -q "last push: never" || fail "$scheme: a failed push was recorded as done"

	echo "--- $scheme: the real server again: everything arrives"
	"$GROVE" -q -C "$s" remote set-url origin "$($mkurl "$upstream")"
	"$GROVE" -q -C "$s" fetch 2>err || fail "$scheme: fetch after the faults: $(cat err)"
	"$GROVE" -C "$s" show "$C2" >/dev/null || fail "$scheme: c2 not fetched"
	"$GROVE" -q -C "$s" push origin main:side 2>err || fail "$scheme: push after the faults: $(cat err)"
	[ "$(git --git-dir="$R" rev-parse side)" = "$("$GROVE" -C "$s" log -n1 | sed -n 's/^commit //p')" ] ||
		fail "$scheme: pushed branch differs"
	git --git-dir="$R" fsck --strict 2>&1 | grep -v "^dangling" && fail "$scheme: git fsck of the remote"
	echo "PASS $scheme"
}

git_url() { echo "git://127.0.0.1:$1/git.git"; }
http_url() { echo "http://127.0.0.1:$1/git/http.git"; }

mkdir w-git w-http
(cd w-git && run_faults git git_url "$P") >log-git 2>&1 &
gpid=$!
(cd w-http && run_faults http http_url "$HP") >log-http 2>&1 &
hpid=$!
grc=0; wait $gpid || grc=$?
hrc=0; wait $hpid || hrc=$?
cat log-git log-http
[ $grc = 0 ] && [ $hrc = 0 ] || fail "git:// exit $grc, http:// exit $hrc"

# https: libgit2's TLS stream runs over grove's socket stream, so a server
# that accepts and never starts the handshake times out the same way.
proxy silent 1
expect_timeout "https: clone (silent)" 5 "$GROVE" -q clone "https://127.0.0.1:$PROXY_PORT/r.git" "lmdb:$tmp/c-https"
[ -z "$("$GROVE" -C "lmdb:$tmp/c-https" branch 2>/dev/null)" ] || fail "https: failed clone has branches"
# ssh: the OpenSSH client waits for a banner that never comes; grove's own
# client times the session out (ssh is killed and reaped).
expect_timeout "ssh: clone (silent)" 5 "$GROVE" -q clone "ssh://git@127.0.0.1:$PROXY_PORT/r.git" "lmdb:$tmp/c-ssh"
[ -z "$("$GROVE" -C "lmdb:$tmp/c-ssh" branch 2>/dev/null)" ] || fail "ssh: failed clone has branches"
# GROVE_SYNC_TIMEOUT=0: no timeout; SIGINT still ends the wait (cancel flag).
t0=$(date +%s)
GROVE_SYNC_TIMEOUT=0 "$GROVE" -q clone "http://127.0.0.1:$PROXY_PORT/r.git" "lmdb:$tmp/c-int" 2>err &
cpid=$!
sleep 1.2
kill -0 $cpid 2>/dev/null || fail "GROVE_SYNC_TIMEOUT=0: gave up: $(cat err)"
kill -INT $cpid
rc=0; wait $cpid || rc=$?
[ "$rc" != 0 ] && grep -q cancelled err || fail "SIGINT during a silent http clone: exit $rc: $(cat err)"
echo "ok: no timeout, interrupted: exit $rc: $(tail -1 err)"
t0=$(date +%s)
GROVE_SYNC_TIMEOUT=0 "$GROVE" -q clone "ssh://git@127.0.0.1:$PROXY_PORT/r.git" "lmdb:$tmp/c-int-ssh" 2>err &
cpid=$!
sleep 1.2
kill -0 $cpid 2>/dev/null || fail "ssh, GROVE_SYNC_TIMEOUT=0: gave up: $(cat err)"
kill -INT $cpid
rc=0; wait $cpid || rc=$?
[ "$rc" != 0 ] && grep -q cancelled err || fail "SIGINT during a silent ssh clone: exit $rc: $(cat err)"
echo "ok: ssh, no timeout, interrupted: exit $rc: $(tail -1 err)"
# A bad --timeout is a usage error.
rc=0; "$GROVE" -q -C "lmdb:$tmp/store-git" fetch --timeout soon 2>err || rc=$?
[ "$rc" = 2 ] || fail "--timeout soon: exit $rc: $(cat err)"
echo "PASS"
