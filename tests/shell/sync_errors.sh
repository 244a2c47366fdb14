#!/bin/bash
# grove fetch/clone/push failures leave the store as it was and say why
# without leaking secrets: HTTP with wrong or missing credentials (grove
# serve with an htpasswd file) and then the right ones from the
# environment, an unreachable remote, a server that advertises a ref and
# sends a garbage pack, a server that sends a truncated pack, a missing
# repository.  Passwords never appear in messages or in the stored config.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ] && tail -30 "$SERVER_LOG" >&2; exit 1; }
. "$here/lib/git_server.bash"
BAD_PID=
# Keeps the script's own exit status: a killed server's wait status is not a failure.
cleanup() {
	local rc=$?
	kill_server || true
	[ -n "$BAD_PID" ] && { kill "$BAD_PID" 2>/dev/null; wait "$BAD_PID" 2>/dev/null || true; }
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
cd "$tmp"
sync_client_env
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com

SECRET='Pw-9f3kQ-secret'
refs_of() { "$GROVE" -C "$1" branch -v; git --git-dir="$2" for-each-ref 2>/dev/null | grep -v refs/grove/config || true; }

# A served store with content, and a local store with an upstream.
mkdir stores
"$GROVE" -q init "lmdb:$tmp/stores/s"
"$GROVE" -C "lmdb:$tmp/stores/s" set a one >/dev/null
echo "$SECRET" | "$GROVE" user --htpasswd "$tmp/htpasswd" add alice --password-stdin
start_server "$tmp/serve.log" "$GROVE" serve --listen 127.0.0.1:0 --stores "$tmp/stores" --htpasswd "$tmp/htpasswd"
url="http://127.0.0.1:$PORT/git/s"

# Clone with no credentials: refused, clear message.
rc=0; "$GROVE" -q clone "$url" "lmdb:$tmp/c0" 2>err || rc=$?
[ "$rc" = 5 ] || fail "clone without credentials exited $rc"
grep -q "authentication" err || fail "no authentication message: $(cat err)"

# Wrong password in the URL: refused, the password is not echoed.
rc=0; "$GROVE" -q clone "http://alice:wrong-$SECRET@127.0.0.1:$PORT/git/s" "lmdb:$tmp/c1" 2>err || rc=$?
[ "$rc" = 5 ] || fail "clone with a wrong password exited $rc"
grep -q "authentication failed" err || fail "unclear message: $(cat err)"
grep -q "$SECRET" err && fail "password in the message: $(cat err)"
grep -q "alice" err && fail "URL user in the message: $(cat err)"
grep -q "127.0.0.1:$PORT/git/s" err || fail "message does not name the remote: $(cat err)"

# The right password in the URL: used for the clone, not stored.
"$GROVE" -q clone "http://alice:$SECRET@127.0.0.1:$PORT/git/s" "lmdb:$tmp/c2" || fail "clone with credentials"
[ "$("$GROVE" -C "lmdb:$tmp/c2" get a)" = one ] || fail "cloned value"
"$GROVE" -C "lmdb:$tmp/c2" export "$tmp/c2-export.git"
git --git-dir="$tmp/c2-export.git" grep -q "$SECRET" refs/grove/config 2>/dev/null && fail "password stored in config"
git --git-dir="$tmp/c2-export.git" grep -q "alice" refs/grove/config 2>/dev/null && fail "http user stored in config"
git --git-dir="$tmp/c2-export.git" show refs/grove/config:remotes/origin/url | grep -qx "$url" || fail "stored URL"

# Fetch without credentials fails and changes nothing but last_error.
"$GROVE" -C "lmdb:$tmp/stores/s" set b two >/dev/null
before=$(refs_of "lmdb:$tmp/c2" /nonexistent)
before_remote=$("$GROVE" -C "lmdb:$tmp/c2" log -n1 refs/remotes/origin/main | head -1)
rc=0; "$GROVE" -q -C "lmdb:$tmp/c2" fetch 2>err || rc=$?
[ "$rc" = 5 ] || fail "fetch without credentials exited $rc"
[ "$("$GROVE" -C "lmdb:$tmp/c2" log -n1 refs/remotes/origin/main | head -1)" = "$before_remote" ] || fail "failed fetch moved a ref"
[ "$(refs_of "lmdb:$tmp/c2" /nonexistent)" = "$before" ] || fail "failed fetch changed refs"
"$GROVE" -C "lmdb:$tmp/c2" sync status | grep -q "last error: .*authentication" || fail "last error not recorded"

# Wrong password from the environment: the message hides it.
rc=0; GROVE_REMOTE_USER=alice GROVE_REMOTE_PASSWORD="x$SECRET" "$GROVE" -q -C "lmdb:$tmp/c2" fetch 2>err || rc=$?
[ "$rc" = 5 ] || fail "fetch with a wrong password exited $rc"
grep -q "$SECRET" err && fail "password in the message: $(cat err)"
"$GROVE" -C "lmdb:$tmp/c2" sync status | grep -q "$SECRET" && fail "password in sync status"

# The right one from the environment: fetch, then push.
GROVE_REMOTE_USER=alice GROVE_REMOTE_PASSWORD="$SECRET" "$GROVE" -q -C "lmdb:$tmp/c2" pull || fail "pull with env credentials"
[ "$("$GROVE" -C "lmdb:$tmp/c2" get b)" = two ] || fail "pulled value"
"$GROVE" -C "lmdb:$tmp/c2" sync status | grep -q "last error" && fail "last error not cleared"
"$GROVE" -C "lmdb:$tmp/c2" set c three >/dev/null
rc=0; "$GROVE" -q -C "lmdb:$tmp/c2" push 2>err || rc=$?
[ "$rc" = 5 ] || fail "push without credentials exited $rc"
GROVE_REMOTE_USER=alice GROVE_REMOTE_TOKEN="$SECRET" "$GROVE" -q -C "lmdb:$tmp/c2" push || fail "push with a token"
[ "$("$GROVE" -C "lmdb:$tmp/stores/s" get c)" = three ] || fail "pushed value not on the server"
stop_server

# Unreachable remote (nothing listens): clear error, nothing changed.
before=$(refs_of "lmdb:$tmp/c2" /nonexistent)
"$GROVE" -C "lmdb:$tmp/c2" remote set-url origin "http://127.0.0.1:$PORT/git/s"
rc=0; GROVE_REMOTE_PASSWORD="$SECRET" "$GROVE" -q -C "lmdb:$tmp/c2" fetch 2>err || rc=$?
[ "$rc" = 5 ] || fail "fetch from a closed port exited $rc"
grep -qi "fetch from 'origin'.*\(connect\|refused\)" err || fail "unclear unreachable message: $(cat err)"
[ "$(refs_of "lmdb:$tmp/c2" /nonexistent)" = "$before" ] || fail "failed fetch changed refs"

# A missing repository.
rc=0; "$GROVE" -q clone "file://$tmp/does-not-exist.git" "lmdb:$tmp/c3" 2>err || rc=$?
[ "$rc" != 0 ] || fail "clone of a missing repository succeeded"
grep -q "does-not-exist" err || fail "message does not name the repository: $(cat err)"

# A git:// server that advertises a ref, then sends garbage instead of a pack.
bad_server() { # MODE -> sets BAD_PORT
	/usr/bin/python3 - "$1" >"$tmp/bad.port" <<'PY' &
import socket, sys, hashlib, zlib, struct
mode = sys.argv[1]
def pkt(b): return b'%04x' % (len(b) + 4) + b
oid = b'1' * 40
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    try:
        c.recv(4096)
        c.sendall(pkt(oid + b' HEAD\0side-band-64k ofs-delta\n') + pkt(oid + b' refs/heads/main\n') + b'0000')
        got = b''
        while b'done' not in got:
            d = c.recv(65536)
            if not d: break
            got += d
        c.sendall(pkt(b'NAK\n'))
        if mode == 'garbage':
            body = b'PACK\x00\x00\x00\x02\x00\x00\x00\x03' + b'\xff' * 200
        else:  # truncated: a valid header and one entry cut short
            blob = zlib.compress(b'hello world\n' * 50)
            body = b'PACK' + struct.pack('>II', 2, 1) + bytes([0x30 | 0x0c, 0x25]) + blob[:10]
        c.sendall(pkt(b'\x01' + body) + b'0000')
    except OSError:
        pass
    c.close()
PY
	BAD_PID=$!
	for i in $(seq 1 100); do
		BAD_PORT=$(head -1 "$tmp/bad.port" 2>/dev/null || true)
		[ -n "$BAD_PORT" ] && return 0
		sleep 0.05
	done
	fail "bad server did not start"
}
for mode in garbage truncated; do
	bad_server $mode
	"$GROVE" -C "lmdb:$tmp/c2" remote add "bad-$mode" "git://127.0.0.1:$BAD_PORT/x"
	before=$(refs_of "lmdb:$tmp/c2" /nonexistent)
	rc=0; "$GROVE" -q -C "lmdb:$tmp/c2" fetch "bad-$mode" 2>err || rc=$?
	[ "$rc" != 0 ] || fail "$mode pack accepted"
	grep -q "fetch from 'bad-$mode'" err || fail "$mode: message does not name the fetch: $(cat err)"
	grep -qi "pack\|corrupt\|inflate\|zlib\|entry" err || fail "$mode: unclear message: $(cat err)"
	[ "$(refs_of "lmdb:$tmp/c2" /nonexistent)" = "$before" ] || fail "$mode: refs changed"
	"$GROVE" -C "lmdb:$tmp/c2" sync status | grep -q "last error: fetch from 'bad-$mode'" || fail "$mode: last error"
	"$GROVE" -C "lmdb:$tmp/c2" fsck >/dev/null || fail "$mode: fsck"
	kill "$BAD_PID"; wait "$BAD_PID" 2>/dev/null || true; BAD_PID=
	echo "$mode: $(cat err)"
done
echo ok
