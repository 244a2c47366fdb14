#!/bin/bash
# grove clone/push over the two transports the other sync tests do not
# cover, against the real servers:
#  (a) smart HTTP: git's `git http-backend` as a CGI behind lighttpd with
#      Basic authentication (htpasswd file, crypt SHA-512 hash): clone and
#      push with credentials (URL and environment), wrong credentials ->
#      exit 5, "authentication failed", no password in the output;
#  (b) ssh: Debian's OpenSSH sshd on a loopback port with a generated host
#      key and test user keys; grove runs the OpenSSH client (sync/
#      native_ssh.c): clone/fetch/pull/push over ssh:// and scp-like URLs
#      with --ssh-key and GROVE_SSH_KEY, GROVE_SSH_COMMAND, GIT_SSH_COMMAND,
#      a passphrase-protected key (GROVE_SSH_PASSPHRASE: askpass helper);
#      an unknown or changed host key fails with ssh's "Host key
#      verification failed" and no refs; a session that goes silent after
#      authentication (a command="sleep" key) times out with
#      GROVE_SYNC_TIMEOUT=2 / --timeout 2, store unchanged, ssh killed and
#      reaped, SIGINT ends it without a timeout; an unknown key and a wrong
#      passphrase are refused; bad URLs (option injection, quotes) never
#      reach ssh.
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

echo "--- (b) OpenSSH sshd, grove running the OpenSSH client"
SSHD=/usr/sbin/sshd
skip_ssh() { echo "SKIP (ssh half): $*"; exit 0; }
[ -x "$SSHD" ] || skip_ssh "no $SSHD (openssh-server is in DEPS_TEST)"
[ "$(id -u)" = 0 ] || skip_ssh "sshd needs root to switch users"
[ -x /usr/bin/ssh ] || fail "no /usr/bin/ssh (openssh-client is in DEPS_TEST)"
mkdir -p sshd
ssh-keygen -q -t ed25519 -N '' -f sshd/host_key
ssh-keygen -q -t ed25519 -N '' -f sshd/other_host_key
ssh-keygen -q -t ed25519 -N '' -C grove-test -f sshd/user_key
ssh-keygen -q -t ed25519 -N '' -C other -f sshd/other_key
ssh-keygen -q -t ed25519 -N '' -C silent -f sshd/silent_key
PASSPHRASE='pp-Secret-4711 $x'
ssh-keygen -q -t ed25519 -N "$PASSPHRASE" -C with-passphrase -f sshd/pass_key
# silent_key logs in, then its session says nothing: a server that hangs
# mid-session, after the banner and authentication.
{
	cat sshd/user_key.pub sshd/pass_key.pub
	printf 'command="exec sleep 20",no-pty %s\n' "$(cat sshd/silent_key.pub)"
} >sshd/authorized_keys
chmod 600 sshd/authorized_keys
SP=$(free_port)
cat >sshd/sshd_config <<SSHDCONF
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
SSHDCONF
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
# OpenSSH reads the ~/.ssh of the passwd entry, not $HOME: the client gets
# its own config (this host key only, no global known_hosts) from an "ssh"
# first on PATH that adds -F and logs its arguments, so grove still runs
# "ssh" with its own argv (BatchMode, -p, -i, IdentitiesOnly, -l, --).
mkdir -p .ssh bin
printf '[127.0.0.1]:%s %s\n' "$SP" "$(cut -d' ' -f1-2 sshd/host_key.pub)" >.ssh/known_hosts
printf '[127.0.0.1]:%s %s\n' "$SP" "$(cut -d' ' -f1-2 sshd/other_host_key.pub)" >.ssh/known_hosts_changed
: >.ssh/known_hosts_empty
cat >sshd/client_config <<CLIENTCONF
UserKnownHostsFile $tmp/.ssh/known_hosts
GlobalKnownHostsFile /dev/null
Host grovetest
	HostName 127.0.0.1
	Port $SP
	User root
CLIENTCONF
cat >bin/ssh <<WRAPPER
#!/bin/sh
printf '%s\n' "\$*" >>"$tmp/ssh-argv.log"
exec /usr/bin/ssh -F "$tmp/sshd/client_config" "\$@"
WRAPPER
chmod +x bin/ssh
export PATH="$tmp/bin:$PATH"
unset SSH_AUTH_SOCK GIT_SSH_COMMAND GROVE_SSH_COMMAND GIT_SSH GROVE_SSH_KEY GROVE_SSH_PASSPHRASE || true
# Plain ssh works here, or the environment cannot run sshd sessions: skip.
ssh -o BatchMode=yes -i sshd/user_key -p "$SP" root@127.0.0.1 true 2>ssh.err ||
	skip_ssh "ssh to the test sshd fails here: $(tail -3 ssh.err)"
: >ssh-argv.log
# A private TMPDIR: the passphrase helper must not outlive a sync.
mkdir tmpdir
export TMPDIR="$tmp/tmpdir"
now() { date +%s.%N; }
secs_since() { /usr/bin/python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
lt() { /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }

surl="ssh://root@127.0.0.1:$SP$tmp/served/ssh.git"
clone_push ssh "$surl" --ssh-key "$tmp/sshd/user_key"
grep -qF -- "-o BatchMode=yes -T -p $SP -i $tmp/sshd/user_key -o IdentitiesOnly=yes -l root -- 127.0.0.1 git-upload-pack '$tmp/served/ssh.git'" \
	ssh-argv.log || fail "grove's ssh argv: $(cat ssh-argv.log)"
grep -qF "git-receive-pack '$tmp/served/ssh.git'" ssh-argv.log || fail "push did not run git-receive-pack: $(cat ssh-argv.log)"
GROVE_SSH_KEY="$tmp/sshd/user_key" clone_push ssh "$surl"
# scp-like: host, port and user from the ssh config.
GROVE_SSH_KEY="$tmp/sshd/user_key" clone_push ssh "grovetest:$tmp/served/ssh.git"
# $GROVE_SSH_COMMAND, else $GIT_SSH_COMMAND, runs instead of "ssh" (through sh, as git runs it).
: >ssh-argv.log
GROVE_SSH_COMMAND="/usr/bin/ssh -F $tmp/sshd/client_config -i $tmp/sshd/user_key" clone_push ssh "$surl"
GIT_SSH_COMMAND="/usr/bin/ssh -F $tmp/sshd/client_config -i $tmp/sshd/user_key" clone_push ssh "$surl"
[ ! -s ssh-argv.log ] || fail "GROVE_SSH_COMMAND / GIT_SSH_COMMAND: plain ssh ran: $(cat ssh-argv.log)"

# fetch/pull over ssh see a commit pushed with git.
export GROVE_SSH_KEY="$tmp/sshd/user_key"
s="lmdb:$tmp/s-fetch"
"$GROVE" -q clone "$surl" "$s" 2>err || fail "ssh clone for fetch: $(cat err)"
git clone -q served/ssh.git sw
echo five >sw/e.txt && git -C sw add . && git -C sw commit -qm c5 && git -C sw push -q origin main
"$GROVE" -q -C "$s" fetch 2>err || fail "ssh fetch: $(cat err)"
"$GROVE" -q -C "$s" pull 2>err || fail "ssh pull: $(cat err)"
[ "$("$GROVE" -C "$s" get e.txt)" = five ] || fail "pulled value over ssh"
"$GROVE" -C "$s" log | grep -q "$(git --git-dir=served/ssh.git rev-parse main)" || fail "fetched commit not in the log"
unset GROVE_SSH_KEY

# state_of STORE: what a failed sync must leave alone.
state_of() { "$GROVE" -C "$1" branch -v 2>&1; "$GROVE" -C "$1" log -n3 origin/main 2>&1 || true; }
# Unknown host key (empty known_hosts) and a changed one: ssh refuses,
# grove says so with ssh's line, nothing is stored, known_hosts untouched.
for kh in empty changed; do
	cp ".ssh/known_hosts_$kh" kh.before
	rc=0; GROVE_SSH_KEY="$tmp/sshd/user_key" \
		GROVE_SSH_COMMAND="/usr/bin/ssh -F $tmp/sshd/client_config -o UserKnownHostsFile=$tmp/.ssh/known_hosts_$kh" \
		"$GROVE" -q clone "$surl" "lmdb:$tmp/s-hk-$kh" 2>err || rc=$?
	[ "$rc" = 5 ] || fail "clone with the $kh known_hosts exited $rc: $(cat err)"
	grep -q "host key verification failed" err || fail "$kh known_hosts: no host key message: $(cat err)"
	grep -q "Host key verification failed" err || fail "$kh known_hosts: ssh's own line missing: $(cat err)"
	grep -q "127.0.0.1:$SP" err || fail "$kh known_hosts: message does not name the remote: $(cat err)"
	[ -z "$("$GROVE" -C "lmdb:$tmp/s-hk-$kh" branch 2>/dev/null)" ] || fail "$kh known_hosts: the failed clone has branches"
	cmp -s kh.before ".ssh/known_hosts_$kh" || fail "$kh known_hosts was changed"
	echo "ok: $kh known_hosts: $(tail -1 err)"
done
# A fetch into an existing store with an unknown host key leaves it alone.
before=$(state_of "$s")
rc=0; GROVE_SSH_KEY="$tmp/sshd/user_key" \
	GROVE_SSH_COMMAND="/usr/bin/ssh -F $tmp/sshd/client_config -o UserKnownHostsFile=$tmp/.ssh/known_hosts_empty" \
	"$GROVE" -q -C "$s" fetch 2>err || rc=$?
[ "$rc" = 5 ] && grep -q "Host key verification failed" err || fail "fetch with an unknown host key: exit $rc: $(cat err)"
[ "$before" = "$(state_of "$s")" ] || fail "a refused fetch changed the store"

# A session that goes silent after authentication: timed out, ssh killed
# and reaped.
ssh_children() { ps -eo pid=,stat=,args= | grep -F "$tmp/sshd/silent_key" | grep -v grep || true; }
t0=$(now)
rc=0; GROVE_SYNC_TIMEOUT=2 GROVE_SSH_KEY="$tmp/sshd/silent_key" "$GROVE" -q clone "$surl" "lmdb:$tmp/s-silent" 2>err || rc=$?
t=$(secs_since "$t0")
[ "$rc" = 5 ] || fail "silent ssh session: clone exited $rc: $(cat err)"
grep -q "the remote did not answer for 2 s" err || fail "silent ssh session: message: $(cat err)"
lt "$t" 8 || fail "silent ssh session: took $t s"
lt 1.8 "$t" || fail "silent ssh session: gave up after $t s, before the timeout"
[ -z "$("$GROVE" -C "lmdb:$tmp/s-silent" branch 2>/dev/null)" ] || fail "silent ssh session: the failed clone has branches"
[ -z "$(ssh_children)" ] || fail "ssh still running after the timeout: $(ssh_children)"
echo "ok: silent ssh clone: $t s: $(tail -1 err)"
# fetch and push with --timeout 2: store and server unchanged.
"$GROVE" -C "$s" set silent.txt "not pushed" >/dev/null
before=$(state_of "$s")
served_before=$(git --git-dir=served/ssh.git for-each-ref)
for op in fetch push; do
	t0=$(now)
	rc=0; GROVE_SSH_KEY="$tmp/sshd/silent_key" "$GROVE" -q -C "$s" $op --timeout 2 2>err || rc=$?
	t=$(secs_since "$t0")
	[ "$rc" = 5 ] && grep -q "the remote did not answer for 2 s" err || fail "silent ssh $op: exit $rc: $(cat err)"
	lt "$t" 8 || fail "silent ssh $op: took $t s"
	[ "$before" = "$(state_of "$s")" ] || fail "silent ssh $op changed the store"
	[ "$served_before" = "$(git --git-dir=served/ssh.git for-each-ref)" ] || fail "silent ssh $op changed the server"
	"$GROVE" -C "$s" sync status 2>&1 | grep -q "did not answer" || fail "silent ssh $op: error not recorded"
	[ -z "$(ssh_children)" ] || fail "ssh still running after the $op timeout: $(ssh_children)"
	echo "ok: silent ssh $op --timeout 2: $t s"
done
# No timeout: SIGINT (the cancel flag) still ends a silent session.
GROVE_SYNC_TIMEOUT=0 GROVE_SSH_KEY="$tmp/sshd/silent_key" "$GROVE" -q clone "$surl" "lmdb:$tmp/s-int" 2>err &
cpid=$!
sleep 1.5
kill -0 $cpid 2>/dev/null || fail "silent ssh, no timeout: gave up: $(cat err)"
kill -INT $cpid
rc=0; wait $cpid || rc=$?
[ "$rc" != 0 ] && grep -q cancelled err || fail "SIGINT during a silent ssh session: exit $rc: $(cat err)"
[ -z "$(ssh_children)" ] || fail "ssh still running after SIGINT: $(ssh_children)"
echo "ok: silent ssh, no timeout, SIGINT: $(tail -1 err)"

# A passphrase-protected key: the passphrase reaches ssh through a private
# askpass helper; a wrong or missing one is refused; the secret is never
# shown and no helper is left behind.
GROVE_SSH_KEY="$tmp/sshd/pass_key" GROVE_SSH_PASSPHRASE="$PASSPHRASE" clone_push ssh "$surl"
rc=0; GROVE_SSH_KEY="$tmp/sshd/pass_key" GROVE_SSH_PASSPHRASE="wrong-$PASSPHRASE" \
	"$GROVE" -q clone "$surl" "lmdb:$tmp/s-badpass" 2>err >out || rc=$?
[ "$rc" = 5 ] || fail "clone with a wrong passphrase exited $rc: $(cat err)"
grep -qi "auth" err || fail "no authentication message for a wrong passphrase: $(cat err)"
grep -qF "$PASSPHRASE" err out && fail "passphrase in the output: $(cat err out)"
# Without BatchMode (the helper asks instead), an unknown host key is still
# refused: the helper answers only the passphrase prompt, even a "yes".
rc=0; GROVE_SSH_KEY="$tmp/sshd/pass_key" GROVE_SSH_PASSPHRASE=yes \
	GROVE_SSH_COMMAND="/usr/bin/ssh -F $tmp/sshd/client_config -o UserKnownHostsFile=$tmp/.ssh/known_hosts_empty" \
	"$GROVE" -q clone "$surl" "lmdb:$tmp/s-pass-hk" 2>err || rc=$?
[ "$rc" = 5 ] && grep -q "Host key verification failed" err || fail "passphrase, unknown host key: exit $rc: $(cat err)"
[ ! -s .ssh/known_hosts_empty ] || fail "the passphrase helper accepted a host key"
rc=0; GROVE_SSH_KEY="$tmp/sshd/pass_key" "$GROVE" -q clone "$surl" "lmdb:$tmp/s-nopass" 2>err || rc=$?
[ "$rc" = 5 ] || fail "clone with a protected key and no passphrase exited $rc: $(cat err)"
[ -z "$(ls -A tmpdir)" ] || fail "left in TMPDIR: $(ls -A tmpdir)"

# An unknown key: refused with exit 5 and an authentication message.
rc=0; GROVE_SSH_KEY="$tmp/sshd/other_key" "$GROVE" -q clone "$surl" "lmdb:$tmp/s-bad" 2>err || rc=$?
[ "$rc" = 5 ] || fail "clone with an unknown key exited $rc: $(cat err)"
grep -qi "auth" err || fail "no authentication message for an unknown key: $(cat err)"
grep -q "Permission denied" err || fail "ssh's line missing for an unknown key: $(cat err)"
[ -z "$("$GROVE" -C "lmdb:$tmp/s-bad" branch 2>/dev/null)" ] || fail "refused clone has branches"
# Bad URLs are refused before anything runs.
: >ssh-argv.log
for bad in "ssh://-oProxyCommand=touch\${IFS}$tmp/pwned:22/x" "-oProxyCommand=touch:x" "ssh://127.0.0.1:$SP/it's.git" \
	"ssh://127.0.0.1:$SP"; do
	rc=0; "$GROVE" -q clone -- "$bad" "lmdb:$tmp/s-url-$RANDOM" 2>err || rc=$?
	[ "$rc" != 0 ] || fail "clone of '$bad' succeeded"
	grep -q "invalid ssh URL" err || fail "bad URL '$bad': $(cat err)"
	echo "ok: $bad: $(tail -1 err)"
done
[ ! -s ssh-argv.log ] || fail "ssh ran for a bad URL: $(cat ssh-argv.log)"
[ ! -e "$tmp/pwned" ] || fail "option injection through the host"
echo "ok"
