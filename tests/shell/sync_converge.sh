#!/bin/bash
# Issue 5: two `grove serve --upstream` stores on one real `git daemon`
# remote take 200 CalDAV edits each at the same time (2 client threads per
# server), some on the same events, and converge to one tree with every
# edit accounted for; a third party then pushes .ics changes with plain git
# and both stores serve them.
#
# Phase 1 (remote up): per server 100 events made, 20 made then edited, 5
# made then deleted, and 40 edits of 20 shared events; for each shared
# event the designated winner writes its final version after a barrier,
# above every other version (SEQUENCE; two decided by LAST-MODIFIED, two by
# DTSTAMP), so the outcome does not depend on when the stores merge.
# Phase 2 (remote down, so neither store sees the other's edits): 10 edits
# per server of 5 contested events, where the rule (not the order) picks
# the winner, including a modification against a deletion.
# The checker (lib/sync_converge.py) works from the ledger of acknowledged
# operations: the remote's tree byte for byte, every acknowledged PUT in
# its history, every merge decision consistent with the rule and naming a
# blob the remote has, both stores serving the same.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
helper=$here/lib/sync_converge.py
tmp=$(mktemp -d)
SERVE_ARGS="--git-admin alice --push-delay-ms 100 --fetch-interval 1"
. "$here/lib/sync_pair.bash"
t_start=$(date +%s.%N)
# since T: seconds since T (date +%s.%N); step TITLE: a section header with the time.
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
step() { echo "--- $* (at $(since "$t_start") s)"; }

step "the remote: one calendar, 34 events, pushed with git"
seed_remote
AUTH=alice:pw-a

# stop NAME: SIGTERM; the store must stop gracefully with exit 0 (ASan/LSan clean).
stop() {
	local pid rc=0
	pid=$(eval echo \$$1_PID)
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	eval "$1_PID="
	[ "$rc" = 0 ] || fail "store $1 exited $rc after SIGTERM"
	grep -q "stopped" "$tmp/serve-$1.log" || fail "store $1 did not report a graceful stop"
}
serve A
serve B
BASE=$A; [ "$(dav_status $AUTH GET /dav/alice/calendars/work/sh01.ics)" = 200 ] || fail "A did not start from the remote"
BASE=$B; [ "$(dav_status $AUTH GET /dav/alice/calendars/work/sh01.ics)" = 200 ] || fail "B did not start from the remote"

step "phase 1: 190 edits on each store at once, the remote up"
GROVE_HOOK_TOKEN=$TOKEN $PY "$helper" drive 1 "$A" "$B" "$AUTH" "$tmp/ledger.json" || fail "phase 1"

step "phase 2: 10 edits of the contested events on each store, the remote down"
stop_gitd
GROVE_HOOK_TOKEN=$TOKEN $PY "$helper" drive 2 "$A" "$B" "$AUTH" "$tmp/ledger.json" || fail "phase 2"
start_gitd

step "convergence"
$PY "$helper" wait "$A" "$B" "$R" "$TOKEN" 60 || fail "convergence"
$PY "$helper" check "$A" "$B" "$AUTH" "$R" "$tmp/manifest.json" "$tmp/ledger.json" || fail "check"
git -C "$R" fsck --strict 2>fsck.err || { cat fsck.err >&2; fail "git fsck --strict on the remote"; }
echo "remote: $(git -C "$R" rev-list --count main) commits, $(git -C "$R" rev-list --merges --count main) merges"

step "a third party pushes with git"
key=alice/calendars/work
git clone -q "$UP" third
ics thirdparty "pushed with git" > "third/$key/thirdparty.ics"
ics a-u001 "a-u001 edited with git" "SEQUENCE:1" > "third/$key/a-u001.ics"
git -C third add . && git -C third commit -qm "third party: one new event, a-u001 edited" &&
	git -C third push -q origin main || fail "the third party's push"
new_blob=$(git -C third rev-parse "HEAD:$key/thirdparty.ics")
mod_blob=$(git -C third rev-parse "HEAD:$key/a-u001.ics")
# The webhook for A only; B has to notice through its periodic fetch.
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Grove-Token: $TOKEN" "$A/hooks/sync")" = 202 ] || fail "hook"
etag() { curl -s -o /dev/null -D - -u "$AUTH" "$1/dav/$key/$2" | tr -d '\r' | sed -n 's/^ETag: "\(.*\)"$/\1/Ip'; }
t0=$(date +%s.%N)
for s in A B; do
	url=$(eval echo \$$s)
	for i in $(seq 1 100); do
		[ "$(etag "$url" thirdparty.ics)" = "$new_blob" ] && [ "$(etag "$url" a-u001.ics)" = "$mod_blob" ] && break
		sleep 0.1
	done
	[ "$(etag "$url" thirdparty.ics)" = "$new_blob" ] || fail "$s does not serve the third party's new event"
	[ "$(etag "$url" a-u001.ics)" = "$mod_blob" ] || fail "$s does not serve the third party's edit of a-u001"
	echo "$s serves the third party's push after $(since "$t0") s"
done
$PY "$helper" wait "$A" "$B" "$R" "$TOKEN" 20 || fail "convergence after the third party"
[ "$(git -C "$R" rev-parse main)" = "$(git -C third rev-parse HEAD)" ] ||
	fail "the stores changed the remote after the third party's push (nothing was written since)"
git -C "$R" fsck --strict 2>fsck.err || { cat fsck.err >&2; fail "git fsck --strict on the remote"; }

step "stopping the stores"
stop A
stop B
stop_gitd
! grep -l "ERROR: AddressSanitizer\|runtime error:" "$tmp"/serve-*.log || fail "sanitizer report in a store's log"
echo "ok ($(since "$t_start") s)"
