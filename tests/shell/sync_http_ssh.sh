#!/bin/bash
# grove clone/push over the two transports the other sync tests do not
# cover, against the real servers:
#  (a) smart HTTP: git's `git http-backend` as a CGI behind lighttpd with
#      Basic authentication (htpasswd file, crypt SHA-512 hash): clone and
#      push with credentials (URL and environment), wrong credentials ->
#      exit 5, "authentication failed", no password in the output;
#  (b) ssh: Debian's OpenSSH sshd on a loopback port with a generated host
#      key and a test user key: clone ssh://root@127.0.0.1:PORT/path with
#      --ssh-key and GROVE_SSH_KEY, push, an unknown key is refused.
# Skips (exit 0) only the ssh half, and only when sshd cannot run here.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() {
	echo "FAIL: $*" >&2
	for l in "$tmp"/lighttpd.err "$tmp"/sshd.log; do [ -f "$l" ] && { echo "== $l"; tail -20 "$l"; } >&2; done
	exit 1
}
. "$here/lib/git_server.bash"
LIGHTTPD_PID= SSHD_PID=
# Keeps the script's own exit status: a killed server's wait status is not a failure.
cleanup() {
	local rc=$?
	[ -n "$LIGHTTPD_PID" ] && { kill "$LIGHTTPD_PID" 2>/dev/null; wait "$LIGHTTPD_PID" 2>/dev/null || true; }
	[ -n "$SSHD_PID" ] && { kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null || true; }
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
cd "$tmp"
sync_client_env
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com
export GIT_TERMINAL_PROMPT=0
# Full malloc stacks, so that a suppression can name one libgit2 call path.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$here/lib/sync_lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# A git-made history served by both servers.
git init -q src
echo one >src/a.txt; mkdir src/dir; echo two >src/dir/b.txt
git -C src add . && git -C src commit -qm c1
echo three >src/c.txt && git -C src add . && git -C src commit -qm c2
mkdir served
git clone -q --bare src served/http.git
git clone -q --bare src served/ssh.git

head_of() { "$GROVE" -C "$1" log -n1 | sed -n 's/^commit //p'; }

# clone_push NAME URL [GROVE OPTIONS...]: clone, check, write, push, check
# with git on the served repository (served/NAME.git).
clone_push() {
	local name=$1 url=$2 s="lmdb:$tmp/clone-$1-$RANDOM"; shift 2
	"$GROVE" -q clone "$@" "$url" "$s" 2>err || fail "$name: clone: $(cat err)"
	[ "$("$GROVE" -C "$s" get a.txt)" = one ] || fail "$name: a.txt after clone"
	[ "$("$GROVE" -C "$s" get dir/b.txt)" = two ] || fail "$name: dir/b.txt after clone"
	[ "$(head_of "$s")" = "$(git --git-dir="served/$name.git" rev-parse main)" ] || fail "$name: other commit ids"
	"$GROVE" -C "$s" set "pushed-$name-$RANDOM.txt" "from grove" >/dev/null
	"$GROVE" -q -C "$s" push "$@" 2>err || fail "$name: push: $(cat err)"
	[ "$(head_of "$s")" = "$(git --git-dir="served/$name.git" rev-parse main)" ] || fail "$name: push did not land"
	git --git-dir="served/$name.git" fsck --no-dangling --no-progress >/dev/null 2>&1 || fail "$name: served repository broken after push"
}

echo "--- (a) git http-backend behind lighttpd, Basic auth"
SECRET='Pw-7hQx-secret'
printf 'alice:%s\n' "$(openssl passwd -6 -salt grovetst "$SECRET")" >htpasswd
HP=$(free_port)
cat >lighttpd.conf <<EOF
server.modules = ("mod_alias", "mod_auth", "mod_authn_file", "mod_cgi", "mod_setenv")
server.bind = "127.0.0.1"
server.port = $HP
server.document-root = "$tmp/served"
server.errorlog = "$tmp/lighttpd.err"
server.max-request-size = 0
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "$tmp/htpasswd"
auth.require = ("/git/" => ("method" => "basic", "realm" => "grove test", "require" => "valid-user"))
alias.url = ("/git/" => "/usr/lib/git-core/git-http-backend/")
\$HTTP["url"] =~ "^/git/" {
	cgi.assign = ("" => "")
	setenv.set-environment = ("GIT_PROJECT_ROOT" => "$tmp/served", "GIT_HTTP_EXPORT_ALL" => "1")
}
EOF
/usr/sbin/lighttpd -D -f lighttpd.conf 2>lighttpd.log &
LIGHTTPD_PID=$!
wait_port "$HP"
url="http://127.0.0.1:$HP/git/http.git"
# The server really asks for credentials (and git itself is refused without).
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/info/refs?service=git-upload-pack")" = 401 ] ||
	fail "lighttpd does not require authentication"
git ls-remote "http://alice:$SECRET@127.0.0.1:$HP/git/http.git" >/dev/null || fail "git with the password"

rc=0; "$GROVE" -q clone "$url" "lmdb:$tmp/h0" 2>err || rc=$?
[ "$rc" = 5 ] || fail "clone without credentials exited $rc: $(cat err)"
grep -q "authentication" err || fail "no authentication message: $(cat err)"

rc=0; "$GROVE" -q clone "http://alice:wrong-$SECRET@127.0.0.1:$HP/git/http.git" "lmdb:$tmp/h1" 2>err >out || rc=$?
[ "$rc" = 5 ] || fail "clone with a wrong password exited $rc: $(cat err)"
grep -q "authentication failed" err || fail "unclear message: $(cat err)"
grep -q "$SECRET" err out && fail "password in the output: $(cat err out)"
grep -q "127.0.0.1:$HP/git/http.git" err || fail "message does not name the remote: $(cat err)"

rc=0; GROVE_REMOTE_USER=alice GROVE_REMOTE_PASSWORD="x$SECRET" "$GROVE" -q clone "$url" "lmdb:$tmp/h2" \
	2>err >out || rc=$?
[ "$rc" = 5 ] || fail "clone with a wrong environment password exited $rc"
grep -q "$SECRET" err out && fail "password in the output: $(cat err out)"

# Credentials in the URL (for the clone) and from the environment (for the push).
s="lmdb:$tmp/h3"
"$GROVE" -q clone "http://alice:$SECRET@127.0.0.1:$HP/git/http.git" "$s" 2>err || fail "clone: $(cat err)"
[ "$("$GROVE" -C "$s" get c.txt)" = three ] || fail "c.txt after the http clone"
[ "$(head_of "$s")" = "$(git --git-dir=served/http.git rev-parse main)" ] || fail "http clone: other commit ids"
"$GROVE" -C "$s" set from-grove.txt "pushed over http" >/dev/null
rc=0; "$GROVE" -q -C "$s" push 2>err || rc=$?
[ "$rc" = 5 ] || fail "push without stored credentials exited $rc (the URL password must not be kept)"
rc=0; GROVE_REMOTE_USER=alice GROVE_REMOTE_PASSWORD="bad$SECRET" "$GROVE" -q -C "$s" push 2>err >out || rc=$?
[ "$rc" = 5 ] || fail "push with a wrong password exited $rc"
grep -q "$SECRET" err out && fail "password in the push output: $(cat err out)"
[ "$(git --git-dir=served/http.git rev-parse main)" = "$(git -C src rev-parse main)" ] || fail "refused push moved main"
# A pre-receive hook counts the server's receive-pack runs.
printf '#!/bin/sh\ncat >/dev/null\necho run >>"%s/pre-receive.log"\n' "$tmp" >served/http.git/hooks/pre-receive
chmod +x served/http.git/hooks/pre-receive
GROVE_REMOTE_USER=alice GROVE_REMOTE_PASSWORD="$SECRET" "$GROVE" -q -C "$s" push 2>err >out || fail "push: $(cat err)"
[ "$(wc -l <pre-receive.log)" = 1 ] || fail "the push did not run the server's pre-receive hook once"
# Up to date: succeeds without sending anything (regression: libgit2 sent the
# command and an empty pack, a full receive-pack run on the server).
GROVE_REMOTE_USER=alice GROVE_REMOTE_PASSWORD="$SECRET" "$GROVE" -q -C "$s" push 2>err || fail "up-to-date push: $(cat err)"
[ "$(wc -l <pre-receive.log)" = 1 ] || fail "an up-to-date push still ran receive-pack on the server"
grep -q "$SECRET" err out && fail "password in the push output: $(cat err out)"
[ "$(head_of "$s")" = "$(git --git-dir=served/http.git rev-parse main)" ] || fail "http push did not land"
[ "$(git --git-dir=served/http.git show main:from-grove.txt)" = "pushed over http" ] || fail "pushed value"
git --git-dir=served/http.git fsck --no-dangling --no-progress >/dev/null 2>&1 || fail "served repository broken after the http push"
"$GROVE" -C "$s" sync status 2>&1 | grep -q "$SECRET" && fail "password in sync status"
# A fetch with environment credentials sees a commit pushed with git.
git clone -q "http://alice:$SECRET@127.0.0.1:$HP/git/http.git" hw
echo four >hw/d.txt && git -C hw add . && git -C hw commit -qm c4 && git -C hw push -q origin main
GROVE_REMOTE_USER=alice GROVE_REMOTE_PASSWORD="$SECRET" "$GROVE" -q -C "$s" pull 2>err || fail "pull: $(cat err)"
[ "$("$GROVE" -C "$s" get d.txt)" = four ] || fail "pulled value over http"
kill "$LIGHTTPD_PID"; wait "$LIGHTTPD_PID" 2>/dev/null || true; LIGHTTPD_PID=

echo "--- (b) OpenSSH sshd"
SSHD=/usr/sbin/sshd
skip_ssh() { echo "SKIP (ssh half): $*"; exit 0; }
[ -x "$SSHD" ] || skip_ssh "no $SSHD (openssh-server is in DEPS_TEST)"
[ "$(id -u)" = 0 ] || skip_ssh "sshd needs root to switch users"
mkdir -p sshd
ssh-keygen -q -t ed25519 -N '' -f sshd/host_key
ssh-keygen -q -t ed25519 -N '' -C grove-test -f sshd/user_key
ssh-keygen -q -t ed25519 -N '' -C other -f sshd/other_key
cp sshd/user_key.pub sshd/authorized_keys
chmod 600 sshd/authorized_keys
SP=$(free_port)
cat >sshd/sshd_config <<EOF
Port $SP
ListenAddress 127.0.0.1
HostKey $tmp/sshd/host_key
AuthorizedKeysFile $tmp/sshd/authorized_keys
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
SetEnv PATH=/usr/local/bin:/usr/bin:/bin
EOF
mkdir -p /run/sshd 2>/dev/null || true
"$SSHD" -t -f sshd/sshd_config 2>sshd.log || skip_ssh "sshd rejects the configuration: $(cat sshd.log)"
"$SSHD" -D -e -f "$tmp/sshd/sshd_config" 2>>sshd.log &
SSHD_PID=$!
for i in $(seq 1 100); do
	/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$SP),0.2)" 2>/dev/null && break
	kill -0 "$SSHD_PID" 2>/dev/null || { SSHD_PID=; skip_ssh "sshd exited at start: $(tail -5 sshd.log)"; }
	sleep 0.05
done
kill -0 "$SSHD_PID" 2>/dev/null || { SSHD_PID=; skip_ssh "sshd did not start"; }
# The client trusts this host key only (HOME=$tmp): libgit2 checks known_hosts.
mkdir -p .ssh
printf '[127.0.0.1]:%s %s\n' "$SP" "$(cut -d' ' -f1-2 sshd/host_key.pub)" >.ssh/known_hosts
# Plain ssh works here, or the environment cannot run sshd sessions: skip.
ssh -o BatchMode=yes -o UserKnownHostsFile="$tmp/.ssh/known_hosts" -i sshd/user_key -p "$SP" \
	root@127.0.0.1 true 2>ssh.err || skip_ssh "ssh to the test sshd fails here: $(tail -3 ssh.err)"

surl="ssh://root@127.0.0.1:$SP$tmp/served/ssh.git"
unset SSH_AUTH_SOCK || true
clone_push ssh "$surl" --ssh-key "$tmp/sshd/user_key"
GROVE_SSH_KEY="$tmp/sshd/user_key" clone_push ssh "$surl"
# An unknown key: refused with exit 5 and an authentication message.
rc=0; GROVE_SSH_KEY="$tmp/sshd/other_key" "$GROVE" -q clone "$surl" "lmdb:$tmp/s-bad" 2>err || rc=$?
[ "$rc" = 5 ] || fail "clone with an unknown key exited $rc: $(cat err)"
grep -qi "auth" err || fail "no authentication message for an unknown key: $(cat err)"
echo "ok"
