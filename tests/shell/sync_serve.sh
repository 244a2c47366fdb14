#!/bin/bash
# grove serve --upstream against a real `git daemon --enable=receive-pack` on
# loopback: a burst of 50 DAV writes is a few pushes and every commit
# arrives; the remote goes down (daemon killed) -> writes go on, the state
# shows backing-off, the daemon returns -> the backlog is pushed; a restarted
# mem: store comes back with everything; two served stores edit different
# and the same events -> they converge on the remote's tree, the newer
# SEQUENCE wins and the merge commit names the other version; a third party
# pushes an .ics with plain git -> both stores serve it after the webhook;
# the webhook's authentication (token header, admin Basic, others 401).
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; for l in "$tmp"/serve*.log; do [ -f "$l" ] && { echo "== $l"; tail -20 "$l"; } >&2; done; exit 1; }
. "$here/lib/git_server.bash"
# Full malloc stacks, so that the suppression names one libgit2 call path.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$here/lib/sync_lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
. "$here/lib/dav_server.bash"
GITD_PID= B_PID=
cleanup() {
	set +e  # wait returns the killed process's status: -e would end the trap there
	kill_server
	[ -n "$B_PID" ] && { kill -KILL "$B_PID" 2>/dev/null; wait "$B_PID" 2>/dev/null; }
	[ -n "$GITD_PID" ] && { kill "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null; }
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
	return 0
}
trap cleanup EXIT
cd "$tmp"
sync_client_env

GP=$(free_port)
start_gitd() {
	git daemon --export-all --enable=receive-pack --base-path="$tmp/served" --listen=127.0.0.1 --port="$GP" \
		--reuseaddr 2>>"$tmp/gitd.log" &
	GITD_PID=$!
	wait_port "$GP"
}
stop_gitd() { kill "$GITD_PID"; wait "$GITD_PID" 2>/dev/null || true; GITD_PID=; }

mkdir served
git init -q --bare served/up.git
git -C served/up.git config core.logAllRefUpdates always
start_gitd
UP="git://127.0.0.1:$GP/up.git"
R=served/up.git

dav_users alice:pw-a bob:pw-b
head -c 24 /dev/urandom | base64 > token
TOKEN=$(cat token)

# state URLBASE FIELD: one field of GET /hooks/sync (token auth).
state() { curl -s -H "X-Grove-Token: $TOKEN" "$1/hooks/sync" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
# wait_state URLBASE FIELD VALUE SECONDS
wait_state() {
	for i in $(seq 1 $(($4 * 10))); do
		[ "$(state "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	fail "$2 never became $3 (now $(state "$1" "$2"); $(curl -s -H "X-Grove-Token: $TOKEN" "$1/hooks/sync"))"
}
synced() { wait_state "$1" backlog 0 "${2:-20}"; wait_state "$1" state idle "${2:-20}"; }
remote_ics() { git -C "$R" ls-tree -r --name-only main | grep -c '\.ics$' || true; }

serve_a() {
	start_server "$tmp/serve-a.log" "$GROVE" serve --store mem: --htpasswd "$tmp/htpasswd" \
		--listen 127.0.0.1:0 --git-admin alice --upstream "$UP" --push-delay-ms 1500 \
		--hook-token-file "$tmp/token"
	A="http://127.0.0.1:$PORT"
}

echo "--- burst of 50 writes"
serve_a
BASE=$A
[ "$(dav_status alice:pw-a MKCALENDAR /dav/alice/calendars/work/)" = 201 ] || fail "MKCALENDAR"
for i in $(seq 1 50); do
	ics "ev$i" "event $i" > e.ics
	[ "$(dav_put alice:pw-a "/dav/alice/calendars/work/ev$i.ics" e.ics)" = 201 ] || fail "PUT ev$i"
done
synced "$A"
[ "$(remote_ics)" = 50 ] || fail "remote has $(remote_ics) events, not 50"
[ "$(git -C "$R" rev-parse main)" = "$(state "$A" local)" ] || fail "remote head is not the store's"
commits=$(git -C "$R" rev-list --count main)
pushes=$(git -C "$R" reflog show main | wc -l)
echo "commits $commits, pushes (remote reflog) $pushes, state pushes $(state "$A" pushes)"
[ "$commits" -ge 51 ] || fail "only $commits commits on the remote"
[ "$pushes" -le 15 ] || fail "$pushes pushes for 51 commits: not coalesced"

echo "--- webhook authentication"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$A/hooks/sync")" = 401 ] || fail "hook without credentials"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Grove-Token: wrong' "$A/hooks/sync")" = 401 ] || fail "wrong token"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -u bob:pw-b "$A/hooks/sync")" = 401 ] || fail "non-admin"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -u alice:wrong "$A/hooks/sync")" = 401 ] || fail "bad password"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -u alice:pw-a "$A/hooks/sync")" = 202 ] || fail "admin"
f0=$(state "$A" fetches)
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Grove-Token: $TOKEN" "$A/hooks/sync")" = 202 ] || fail "token"
for i in $(seq 1 50); do [ "$(state "$A" fetches)" -gt "$f0" ] && break; sleep 0.1; done
[ "$(state "$A" fetches)" -gt "$f0" ] || fail "the webhook did not fetch"

echo "--- remote down"
stop_gitd
for i in 51 52 53 54 55; do
	ics "ev$i" "event $i" > e.ics
	[ "$(dav_put alice:pw-a "/dav/alice/calendars/work/ev$i.ics" e.ics)" = 201 ] || fail "PUT ev$i while down"
done
wait_state "$A" state backing-off 20
[ "$(state "$A" backlog)" -ge 5 ] || fail "backlog $(state "$A" backlog)"
[ -n "$(state "$A" last_error)" ] || fail "no error while down"
start_gitd
synced "$A" 40
[ "$(remote_ics)" = 55 ] || fail "after the remote returned: $(remote_ics) events"

echo "--- restart of the mem: store"
stop_server
serve_a
BASE=$A
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/ev55.ics)" = 200 ] || fail "ev55 lost in the restart"
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/ev1.ics)" = 200 ] || fail "ev1 lost in the restart"

echo "--- two stores"
"$GROVE" serve --store "lmdb:$tmp/store-b" --htpasswd "$tmp/htpasswd" --listen 127.0.0.1:0 --git-admin alice \
	--upstream "$UP" --push-delay-ms 200 --hook-token-file "$tmp/token" 2>"$tmp/serve-b.log" &
B_PID=$!
for i in $(seq 1 200); do
	PB=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$tmp/serve-b.log" | head -1)
	[ -n "$PB" ] && break; sleep 0.05
done
[ -n "$PB" ] || fail "store B did not start"
B="http://127.0.0.1:$PB"
BASE=$B
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/ev7.ics)" = 200 ] || fail "B did not start from the remote"
# Different events on each side, and the same event on both (B's SEQUENCE is higher).
ics ev10 "edited in A" "SEQUENCE:1" > a10.ics
ics ev10 "edited in B" "SEQUENCE:2" > b10.ics
ics onlya "made in A" > onlya.ics
ics onlyb "made in B" > onlyb.ics
stop_gitd  # both write before either can push
BASE=$A; [ "$(dav_put alice:pw-a /dav/alice/calendars/work/ev10.ics a10.ics)" = 204 ] || fail "A PUT ev10"
BASE=$A; [ "$(dav_put alice:pw-a /dav/alice/calendars/work/onlya.ics onlya.ics)" = 201 ] || fail "A PUT onlya"
BASE=$B; [ "$(dav_put alice:pw-a /dav/alice/calendars/work/ev10.ics b10.ics)" = 204 ] || fail "B PUT ev10"
BASE=$B; [ "$(dav_put alice:pw-a /dav/alice/calendars/work/onlyb.ics onlyb.ics)" = 201 ] || fail "B PUT onlyb"
start_gitd
synced "$A" 40
synced "$B" 40
for s in "$A" "$B"; do curl -s -X POST -H "X-Grove-Token: $TOKEN" "$s/hooks/sync" >/dev/null; done
sleep 0.5
synced "$A" 20
synced "$B" 20
rh=$(git -C "$R" rev-parse main)
[ "$(state "$A" local)" = "$rh" ] || fail "A did not converge: $(state "$A" local) vs $rh"
[ "$(state "$B" local)" = "$rh" ] || fail "B did not converge: $(state "$B" local) vs $rh"
key=alice/calendars/work
git -C "$R" show "main:$key/ev10.ics" | grep -q "edited in B" || fail "the higher SEQUENCE did not win"
git -C "$R" show "main:$key/onlya.ics" | grep -q "made in A" || fail "A's event lost"
git -C "$R" show "main:$key/onlyb.ics" | grep -q "made in B" || fail "B's event lost"
git -C "$R" log --format=%B main | grep -q "ev10.ics: UID ev10 changed on both sides: .* kept (SEQUENCE" ||
	fail "the merge commit does not name the decision: $(git -C "$R" log --merges --format=%B main | head)"
lost=$(git -C "$R" log --format=%B main | sed -n 's/.*the other version is blob \([0-9a-f]*\).*/\1/p' | head -1)
git -C "$R" cat-file -p "$lost" | grep -q "edited in A" || fail "the losing version is not in the history"

echo "--- a third party pushes with git"
git clone -q "$UP" third
ics thirdparty "pushed with git" > "third/$key/third.ics"
git -C third add . && git -C third commit -qm "third party" && git -C third push -q origin main
for s in "$A" "$B"; do
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Grove-Token: $TOKEN" "$s/hooks/sync")" = 202 ] || fail "hook"
done
for s in "$A" "$B"; do
	BASE=$s
	for i in $(seq 1 50); do
		[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/third.ics)" = 200 ] && break
		sleep 0.1
	done
	[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/third.ics)" = 200 ] || fail "$s does not serve the third party's event"
done

echo "--- usage errors"
rc=0; "$GROVE" serve --store mem: --htpasswd "$tmp/htpasswd" --push-delay-ms 10 2>err || rc=$?
[ "$rc" -ne 0 ] && grep -q "need --upstream" err || fail "sync option without --upstream: rc $rc"
rc=0; "$GROVE" serve --store mem: --htpasswd "$tmp/htpasswd" --listen 127.0.0.1:0 \
	--upstream "git://127.0.0.1:1/none.git" 2>err || rc=$?
[ "$rc" -ne 0 ] || fail "a mem: store started without its upstream"
stop_server
kill -TERM "$B_PID"; wait "$B_PID" || fail "B exited $?"; B_PID=
stop_gitd
echo "ok"
