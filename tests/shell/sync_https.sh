#!/bin/bash
# https remotes (libgit2's transport on its in-memory repository) verify the
# server's certificate: git http-backend behind lighttpd, with a TLS
# front end on loopback (Python's ssl module: Debian's lighttpd here has no
# TLS module) presenting a certificate from a test CA.
#  - without --ca-file the clone fails with a certificate error, no refs;
#  - with --ca-file naming the test CA: clone, fetch and push work;
#  - a certificate from the same CA for another host name is refused even
#    with --ca-file;
#  - nothing is left in TMPDIR.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; for l in "$tmp"/lighttpd.err "$tmp"/tls*.log; do [ -f "$l" ] && tail -20 "$l" >&2; done; exit 1; }
. "$here/lib/git_server.bash"
PIDS=
cleanup() {
	local rc=$?
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
cd "$tmp"
sync_client_env
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com
mkdir "$tmp/tmpdir"
export TMPDIR="$tmp/tmpdir"

# A test CA and two server certificates: one for 127.0.0.1, one for another name.
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=grove test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
for name in good other; do
	if [ $name = good ]; then san="IP:127.0.0.1"; else san="DNS:other.invalid"; fi
	openssl req -newkey rsa:2048 -nodes -keyout $name.key -out $name.csr -subj "/CN=$name" 2>/dev/null
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >$name.ext
	openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile $name.ext \
		-out $name.pem 2>/dev/null
done

git init -q src
echo one >src/a.txt && git -C src add . && git -C src commit -qm c1
mkdir served
git clone -q --bare src served/r.git
git --git-dir=served/r.git config http.receivepack true

HP=$(free_port)
cat >lighttpd.conf <<EOF
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.bind = "127.0.0.1"
server.port = $HP
server.document-root = "$tmp/served"
server.errorlog = "$tmp/lighttpd.err"
server.max-request-size = 0
alias.url = ("/git/" => "/usr/lib/git-core/git-http-backend/")
\$HTTP["url"] =~ "^/git/" {
	cgi.assign = ("" => "")
	setenv.set-environment = ("GIT_PROJECT_ROOT" => "$tmp/served", "GIT_HTTP_EXPORT_ALL" => "1", "REMOTE_USER" => "t")
}
EOF
/usr/sbin/lighttpd -D -f lighttpd.conf 2>lighttpd.log &
PIDS="$PIDS $!"
wait_port "$HP"

# TLS front ends: accept TLS, relay bytes to lighttpd.
tls_front() { # CERTNAME PORT
	/usr/bin/python3 - "$1" "$2" "$HP" >"$tmp/tls-$1.log" 2>&1 <<'PY' &
import socket, ssl, sys, threading
name, port, back = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(name + ".pem", name + ".key")
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(16)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (ssl.SSLError, OSError):
        c.close()
        return
    b = socket.create_connection(("127.0.0.1", back))
    threading.Thread(target=pump, args=(b, t), daemon=True).start()
    pump(t, b)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
	PIDS="$PIDS $!"
	wait_port "$2"
}
GP=$(free_port); tls_front good "$GP"
OP=$(free_port); tls_front other "$OP"
url="https://127.0.0.1:$GP/git/r.git"
# The front end works for a client that trusts the CA.
curl -s --cacert ca.pem "$url/info/refs?service=git-upload-pack" | grep -q "service=git-upload-pack" ||
	fail "the TLS front end does not serve git"

rc=0; "$GROVE" -q clone "$url" "lmdb:$tmp/c0" 2>err || rc=$?
[ "$rc" != 0 ] || fail "clone from a server with an untrusted certificate succeeded"
grep -qi "certificate" err || fail "no certificate message: $(cat err)"
[ -z "$("$GROVE" -C "lmdb:$tmp/c0" branch 2>/dev/null)" ] || fail "refs stored from an untrusted server"

"$GROVE" -q clone --ca-file ca.pem "$url" "lmdb:$tmp/c1" 2>err || fail "clone with --ca-file: $(cat err)"
[ "$("$GROVE" -C "lmdb:$tmp/c1" get a.txt)" = one ] || fail "cloned content"
"$GROVE" -C "lmdb:$tmp/c1" set b.txt two >/dev/null
"$GROVE" -q -C "lmdb:$tmp/c1" push --ca-file ca.pem 2>err || fail "push over https: $(cat err)"
[ "$(git --git-dir=served/r.git show main:b.txt)" = two ] || fail "push over https did not land"
git --git-dir=served/r.git fsck --strict 2>&1 | grep -v "^dangling" && fail "git fsck after the https push"
"$GROVE" -q -C "lmdb:$tmp/c1" fetch --ca-file ca.pem 2>err || fail "fetch over https: $(cat err)"

rc=0; "$GROVE" -q clone --ca-file ca.pem "https://127.0.0.1:$OP/git/r.git" "lmdb:$tmp/c2" 2>err || rc=$?
[ "$rc" != 0 ] || fail "a certificate for another host was accepted"
grep -qi "certificate\|host" err || fail "unclear host mismatch message: $(cat err)"

[ -z "$(ls -A "$TMPDIR")" ] || fail "files left in TMPDIR: $(ls -A "$TMPDIR")"
echo ok
