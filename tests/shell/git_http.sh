#!/bin/bash
# `grove serve` (git smart HTTP under /git/<name>) with the real git client,
# protocol v0 and v2: empty store clone then first push with credentials,
# full / --depth 1 / --filter=blob:none clones with a lazy fetch,
# incremental fetch, push of a new branch / ff / refused non-ff / delete,
# wrong password (401, nothing changed), anonymous read disabled (401),
# headers and status codes of the endpoints (curl), gzip request bodies,
# 20 clients cloning and pushing at once, a small request answered while a
# big pack streams to a slow client, graceful SIGTERM.  Every clone passes
# git fsck --strict.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ] && tail -30 "$SERVER_LOG" >&2; exit 1; }
. "$here/lib/git_server.bash"
. "$here/lib/git_source.bash"
slow_pid=
cleanup() { [ -n "$slow_pid" ] && kill "$slow_pid" 2>/dev/null; kill_server; [ -n "${KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp" GIT_TERMINAL_PROMPT=0
git config --global init.defaultBranch main
git config --global advice.detachedHead false

# --- users: a bcrypt hash (python crypt) and a sha-crypt one (openssl) -----
bcrypt=$(/usr/bin/python3 -c "import crypt; print(crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))" 2>/dev/null)
case "$bcrypt" in '$2'*) ;; *) fail "no bcrypt hash from python";; esac
sha=$(openssl passwd -6 -salt abcdefgh 'pw2')
printf 'alice:%s\nbob:%s\n' "$bcrypt" "$sha" >htpasswd

# --- stores ------------------------------------------------------------------
make_source
git clone -q --bare src src.git
mkdir stores
"$GROVE" -q init "lmdb:$tmp/stores/full"
"$GROVE" -C "lmdb:$tmp/stores/full" import src.git >/dev/null
"$GROVE" -q init "lmdb:$tmp/stores/empty"
"$GROVE" -q init "lmdb:$tmp/stores/crowd"
"$GROVE" -C "lmdb:$tmp/stores/crowd" set readme hello >/dev/null
# a big store: incompressible blobs, so its pack takes a while to stream
git init -q bigsrc
for i in $(seq 1 8); do head -c 1000000 /dev/urandom >"bigsrc/blob$i"; done
git -C bigsrc add . && git -C bigsrc commit -qm big
"$GROVE" -q init "lmdb:$tmp/stores/big"
"$GROVE" -C "lmdb:$tmp/stores/big" import bigsrc/.git >/dev/null

# A clone's remote-tracking refs and tags, named as on the server.
refs_of() { git -C "$1" for-each-ref --format='%(objectname) %(refname)' refs/remotes/ refs/tags/ | sed 's#refs/remotes/origin/#refs/heads/#' | grep -v ' refs/heads/HEAD$' | sort; }
src_refs=$(git -C src.git for-each-ref --format='%(objectname) %(refname)' | sort)

# --- anonymous read enabled ------------------------------------------------------
start_server "$tmp/serve.log" "$GROVE" serve --listen 127.0.0.1:0 --stores "$tmp/stores" \
	--htpasswd "$tmp/htpasswd" --anonymous-read --max-connections 200
URL="http://127.0.0.1:$PORT/git"
AURL="http://alice:s3cret@127.0.0.1:$PORT/git"

# endpoints, headers and status codes
curl -s -D h -o body "$URL/full/info/refs?service=git-upload-pack" || fail "curl info/refs"
grep -qi '^content-type: application/x-git-upload-pack-advertisement' h || { cat h; fail "adv content type"; }
grep -qi '^cache-control: no-cache' h || { cat h; fail "no Cache-Control: no-cache"; }
head -c 30 body | grep -q '^001e# service=git-upload-pack' || fail "no service header"
curl -s -D h -o body -H 'Git-Protocol: version=2' "$URL/full/info/refs?service=git-upload-pack"
head -c 20 body | grep -q '^000eversion 2' || fail "v2 advertisement: $(head -c 40 body)"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$URL/full/info/refs")" = 403 ] || fail "dumb HTTP not refused"
[ "$(code "$URL/full/info/refs?service=git-frob")" = 403 ] || fail "unknown service not refused"
[ "$(code "$URL/nothere/info/refs?service=git-upload-pack")" = 404 ] || fail "unknown store not 404"
[ "$(code "$URL/.hidden/info/refs?service=git-upload-pack")" = 400 ] || fail "bad name not 400"
[ "$(code "$URL/full/HEAD")" = 404 ] || fail "unknown endpoint not 404"
[ "$(code -X POST "$URL/full/info/refs?service=git-upload-pack")" = 405 ] || fail "POST info/refs not 405"
[ "$(code "$URL/full/git-upload-pack")" = 405 ] || fail "GET git-upload-pack not 405"
[ "$(code -X POST -H 'Content-Type: text/plain' --data-binary 0000 "$URL/full/git-upload-pack")" = 415 ] ||
	fail "wrong content type not 415"
# push needs credentials even with anonymous read
[ "$(code "$URL/full/info/refs?service=git-receive-pack")" = 401 ] || fail "receive-pack adv without auth"
curl -s -D h -o /dev/null "$URL/full/info/refs?service=git-receive-pack"
grep -qi '^www-authenticate: Basic realm=' h || fail "no WWW-Authenticate"
[ "$(code -u alice:s3cret "$URL/full/info/refs?service=git-receive-pack")" = 200 ] || fail "alice (bcrypt)"
[ "$(code -u bob:pw2 "$URL/full/info/refs?service=git-receive-pack")" = 200 ] || fail "bob (sha-crypt)"
[ "$(code -u bob:wrong "$URL/full/info/refs?service=git-receive-pack")" = 401 ] || fail "wrong password"
[ "$(code -X POST -H 'Content-Type: application/x-git-receive-pack-request' --data-binary 0000 \
	"$URL/full/git-receive-pack")" = 401 ] || fail "receive-pack POST without auth"
# a gzip request body: a v2 ls-refs command
printf '0014command=ls-refs\n0001000bsymrefs0000' | gzip -c >lsrefs.gz
curl -s -o lsrefs.out -H 'Git-Protocol: version=2' -H 'Content-Encoding: gzip' \
	-H 'Content-Type: application/x-git-upload-pack-request' --data-binary @lsrefs.gz \
	"$URL/full/git-upload-pack" || fail "gzip POST"
grep -q "refs/heads/main" lsrefs.out || fail "gzip ls-refs: $(head -c 200 lsrefs.out)"

for v in 0 2; do
	echo "=== protocol v$v"
	G="git -c protocol.version=$v"
	$G clone -q "$URL/full" full$v || fail "clone v$v"
	git -C full$v fsck --strict >/dev/null 2>&1 || fail "fsck full$v"
	[ "$(refs_of full$v)" = "$src_refs" ] || fail "refs differ (v$v)"
	shallow_and_partial_clones "$v" "$URL/full"
done

# empty store: anonymous clone, first push with credentials, then every kind of push
git clone -q "$URL/empty" e 2>/dev/null || fail "clone of the empty store"
git -C e remote set-url --push origin "$AURL/empty"
(cd e && echo first >k && git add k && git commit -qm first && git push -q origin HEAD:main) ||
	fail "first push"
[ "$("$GROVE" -C "lmdb:$tmp/stores/empty" get k)" = first ] || fail "first push not in the store"
grep -q ' alice .*"POST /git/empty/git-receive-pack' serve.log || fail "push not logged with the user"
(cd e && echo second >k && git commit -qam second && git push -q origin HEAD:main) || fail "ff push"
(cd e && git push -q origin HEAD:refs/heads/topic) || fail "push of a new branch"
"$GROVE" -C "lmdb:$tmp/stores/empty" branch | grep -q topic || fail "new branch missing"
before=$("$GROVE" -C "lmdb:$tmp/stores/empty" branch -v)
(cd e && git reset -q --hard HEAD~1 && echo other >k && git commit -qam rewrite &&
	! git push -q origin HEAD:main 2>../err) || fail "non-ff push accepted"
grep -q "rejected\|non-fast-forward" err || { cat err; fail "no non-ff message"; }
[ "$("$GROVE" -C "lmdb:$tmp/stores/empty" branch -v)" = "$before" ] || fail "refused push changed refs"
# a wrong password: 401, and nothing changes
! git -C e push -q "http://alice:nope@127.0.0.1:$PORT/git/empty" HEAD:refs/heads/evil 2>err ||
	fail "push with a wrong password succeeded"
grep -q "Authentication failed\|401" err || { cat err; fail "no authentication failure"; }
[ "$("$GROVE" -C "lmdb:$tmp/stores/empty" branch -v)" = "$before" ] || fail "wrong password changed refs"
# anonymous push: refused
! git -C e push -q "$URL/empty" HEAD:refs/heads/anon 2>err || fail "anonymous push succeeded"
[ "$("$GROVE" -C "lmdb:$tmp/stores/empty" branch -v)" = "$before" ] || fail "anonymous push changed refs"
(cd e && git push -q origin :refs/heads/topic) || fail "delete push"
! "$GROVE" -C "lmdb:$tmp/stores/empty" branch | grep -q topic || fail "branch not deleted"
for v in 0 2; do
	git -c protocol.version=$v clone -q "$URL/empty" inc$v
	(cd e && git reset -q --hard origin/main && echo v$v-more >k && git commit -qam "more $v" && git push -q origin HEAD:main)
	git -C inc$v -c protocol.version=$v fetch -q origin || fail "incremental fetch v$v"
	[ "$(git -C inc$v rev-parse origin/main)" = "$(git -C e rev-parse HEAD)" ] || fail "fetch result v$v"
	git -C inc$v fsck --strict >/dev/null 2>&1 || fail "fsck inc$v"
done

# --- 20 clients clone and push to their own branches at once ---------------
pids=()
for i in $(seq 1 20); do
	(
		v=$((i % 2 * 2))
		git -c protocol.version=$v clone -q "$URL/crowd" crowd$i &&
		cd crowd$i && echo "client $i" >"file$i" && git add "file$i" &&
		git commit -qm "client $i" && git push -q "$AURL/crowd" HEAD:refs/heads/c$i &&
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

# --- a small request is answered while a big pack streams -----------------------
# A slow client (curl --limit-rate) fetches the 8 MB pack of the big store,
# which keeps a worker and the response busy for many seconds.  Meanwhile an
# info/refs request and a whole small clone must complete, and the slow
# transfer must still be running afterwards (so they really overlapped).
# The 2 s bound is a sanity check, not a benchmark.
big_head=$(git -C bigsrc rev-parse HEAD)
/usr/bin/python3 - "$big_head" >bigreq <<'PY'
import sys
def pkt(b): return b'%04x' % (len(b) + 4) + b
sys.stdout.buffer.write(pkt(b'want ' + sys.argv[1].encode() + b' side-band-64k ofs-delta\n') + b'0000' + pkt(b'done\n'))
PY
curl -s --limit-rate 400k -H 'Content-Type: application/x-git-upload-pack-request' \
	--data-binary @bigreq -o bigpack "$URL/big/git-upload-pack" &
slow_pid=$!
for i in $(seq 1 100); do [ -s bigpack ] && break; sleep 0.05; done
[ -s bigpack ] || fail "the big pack did not start streaming"
start=$(date +%s%N)
curl -s -m 10 -o small "$URL/full/info/refs?service=git-upload-pack" || fail "small request failed"
ms=$((($(date +%s%N) - start) / 1000000))
grep -q "refs/heads/main" small || fail "small request: wrong answer"
echo "info/refs while a big pack streams: ${ms} ms"
[ "$ms" -lt 2000 ] || fail "info/refs took ${ms} ms while a big pack streamed"
git clone -q "$URL/full" during || fail "clone while a big pack streams"
kill -0 "$slow_pid" 2>/dev/null || fail "the big transfer ended before the small requests (no overlap)"
# the slow client gives up in the middle: the server cancels the pack
kill "$slow_pid"; wait "$slow_pid" 2>/dev/null || true; slow_pid=
git clone -q "$URL/big" bigclone || fail "full clone of the big store"
git -C bigclone fsck --strict >/dev/null 2>&1 || fail "fsck bigclone"
cmp -s bigclone/blob8 bigsrc/blob8 || fail "big clone content"
# SIGTERM while a pack streams: the response completes, then the server exits
curl -s --limit-rate 4M -H 'Content-Type: application/x-git-upload-pack-request' \
	--data-binary @bigreq -o bigpack2 "$URL/big/git-upload-pack" &
slow_pid=$!
for i in $(seq 1 100); do [ -s bigpack2 ] && break; sleep 0.05; done
[ -s bigpack2 ] || fail "the big pack did not start streaming"
stop_server
wait "$slow_pid" || fail "graceful stop cut the transfer"
slow_pid=
[ "$(tail -c 4 bigpack2)" = 0000 ] || fail "transfer incomplete after a graceful stop"
[ "$(stat -c %s bigpack2)" -gt 8000000 ] || fail "transfer too short after a graceful stop"

# --- anonymous read disabled -------------------------------------------------------
start_server "$tmp/auth.log" "$GROVE" serve --listen 127.0.0.1:0 --stores "$tmp/stores" \
	--htpasswd "$tmp/htpasswd"
URL="http://127.0.0.1:$PORT/git"
[ "$(code "$URL/full/info/refs?service=git-upload-pack")" = 401 ] || fail "anonymous read not 401"
[ "$(code -X POST -H 'Content-Type: application/x-git-upload-pack-request' --data-binary 0000 \
	"$URL/full/git-upload-pack")" = 401 ] || fail "anonymous upload-pack POST not 401"
! git clone -q "$URL/full" anon 2>err || fail "anonymous clone succeeded"
git clone -q "http://bob:pw2@127.0.0.1:$PORT/git/full" authed || fail "clone with credentials"
git -C authed fsck --strict >/dev/null 2>&1 || fail "fsck authed"
stop_server

# --- no way in: refused at start ---------------------------------------------------
! "$GROVE" serve --listen 127.0.0.1:0 --stores "$tmp/stores" 2>err || fail "serve without any access started"
grep -q "anonymous-read" err || fail "no hint about --anonymous-read"

echo "git_http: all passed"
