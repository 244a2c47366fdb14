#!/bin/bash
# `grove user` (add/passwd/remove/list on an htpasswd file) and how
# `grove serve` (main mode) takes the accounts: bcrypt hashes, file mode
# 0600, atomic rewrite, clear errors; a running server picks up a new user,
# a changed password and a removed user without a restart; each user reads
# and writes only /dav/<self>/ (another user's data: 403/404, never content).
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
fail() { echo "FAIL: $*" >&2; [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ] && tail -30 "$SERVER_LOG" >&2; exit 1; }
. "$here/lib/git_server.bash"
. "$here/lib/dav_server.bash"
cleanup() { kill_server; [ -n "${KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GROVE_AUTHOR_NAME=T GROVE_AUTHOR_EMAIL=t@example.com

# --- grove user on its own -----------------------------------------------------
H=$tmp/sub/htpasswd
echo 'pw-a' | "$GROVE" -q user --htpasswd "$H" add alice --password-stdin || fail "add alice"
[ "$(stat -c %a "$H")" = 600 ] || fail "htpasswd mode is $(stat -c %a "$H")"
grep -q '^alice:\$2b\$10\$' "$H" || fail "no bcrypt cost-10 hash: $(cat "$H")"
rc=0; echo x | "$GROVE" user --htpasswd "$H" add alice --password-stdin 2>err || rc=$?
[ "$rc" = 1 ] && grep -q "already exists" err || fail "duplicate add: rc $rc $(cat err)"
for bad in 'a/b' '.hidden' 'a:b' 'é' '' "$(printf 'x%.0s' $(seq 70))"; do
	rc=0; echo x | "$GROVE" user --htpasswd "$H" add "$bad" --password-stdin 2>err || rc=$?
	[ "$rc" -ne 0 ] || fail "name '$bad' accepted"
done
grep -q "invalid user name" err || fail "no clear message for a bad name: $(cat err)"
rc=0; printf '' | "$GROVE" user --htpasswd "$H" add carol --password-stdin 2>err || rc=$?
[ "$rc" = 3 ] || fail "empty stdin password: rc $rc"
rc=0; "$GROVE" user --htpasswd "$H" add carol </dev/null 2>err || rc=$?
[ "$rc" -ne 0 ] || fail "add without a terminal or --password-stdin succeeded"
rc=0; "$GROVE" user --htpasswd "$H" remove nobody 2>err || rc=$?
[ "$rc" = 1 ] && grep -q "no user 'nobody'" err || fail "remove unknown: rc $rc $(cat err)"
rc=0; "$GROVE" user --htpasswd "$H" frobnicate x 2>err || rc=$?
[ "$rc" = 2 ] || fail "unknown subcommand: rc $rc"
echo 'pw-b' | "$GROVE" -q user --htpasswd "$H" add bob --password-stdin
printf '# a comment kept as is\n' >> "$H"
[ "$("$GROVE" user --htpasswd "$H" list | tr '\n' ' ')" = "alice bob " ] || fail "list: $("$GROVE" user --htpasswd "$H" list)"
old=$(grep '^alice:' "$H")
echo 'pw-a2' | "$GROVE" -q user --htpasswd "$H" passwd alice --password-stdin
[ "$(grep '^alice:' "$H")" != "$old" ] || fail "passwd did not change the hash"
grep -q '^# a comment kept as is$' "$H" || fail "comment lost"
"$GROVE" -q user --htpasswd "$H" remove alice
[ "$("$GROVE" user --htpasswd "$H" list)" = bob ] || fail "remove: $(cat "$H")"
ls "$tmp/sub" | grep -v '^htpasswd$' && fail "temporary files left behind"
python_ok=$(/usr/bin/python3 -c "import crypt,sys; l=open('$H').read().split('\n'); h=[x for x in l if x.startswith('bob:')][0][4:]; print(crypt.crypt('pw-b', h) == h)" 2>/dev/null)
[ "$python_ok" = True ] || fail "the hash does not verify with crypt(3)"

# --- the server takes the file -------------------------------------------------
rc=0; "$GROVE" serve --store "lmdb:$tmp/store" --htpasswd "$tmp/missing" --listen 127.0.0.1:0 2>err || rc=$?
[ "$rc" -ne 0 ] && grep -q "grove user" err || fail "serve without a password file: rc $rc $(cat err)"

dav_users alice:pw-a bob:pw-b
dav_start
[ "$(dav_status alice:pw-a MKCALENDAR /dav/alice/calendars/work/)" = 201 ] || fail "alice MKCALENDAR"
ics e1 "alice private" > e1.ics
[ "$(dav_put alice:pw-a /dav/alice/calendars/work/e1.ics e1.ics)" = 201 ] || fail "alice PUT"
[ "$(dav_status alice:wrong GET /dav/alice/calendars/work/e1.ics)" = 401 ] || fail "wrong password"
[ "$(dav_status bob:pw-b MKCOL /dav/bob/addressbooks/book/)" = 201 ] || fail "bob MKCOL"

# bob gets a status for alice's data, never the content.
for m in GET PROPFIND DELETE; do
	s=$(dav_status bob:pw-b $m /dav/alice/calendars/work/e1.ics)
	case "$s" in 403|404) ;; *) fail "bob $m alice's event: $s";; esac
done
body=$(curl -s -u bob:pw-b "$BASE/dav/alice/calendars/work/e1.ics")
case "$body" in *"alice private"*) fail "bob read alice's event";; esac
s=$(dav_put bob:pw-b /dav/alice/calendars/work/evil.ics e1.ics)
case "$s" in 403|404) ;; *) fail "bob PUT into alice's calendar: $s";; esac
body=$(curl -s -u bob:pw-b -X PROPFIND -H 'Depth: 1' "$BASE/dav/")
case "$body" in *alice*) fail "bob's PROPFIND of /dav/ lists alice: $body";; esac
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/e1.ics)" = 200 ] || fail "alice lost her event"
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/evil.ics)" = 404 ] || fail "bob's PUT landed"

# Changes to the file apply without a restart (the server reloads on change).
echo 'pw-c' | "$GROVE" -q user --htpasswd "$tmp/htpasswd" add carol --password-stdin
sleep 1.5 # the server looks at the file every second
[ "$(dav_status carol:pw-c MKCALENDAR /dav/carol/calendars/c/)" = 201 ] || fail "new user carol refused"
echo 'pw-a2' | "$GROVE" -q user --htpasswd "$tmp/htpasswd" passwd alice --password-stdin
sleep 1.5
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/e1.ics)" = 401 ] || fail "old password still works"
[ "$(dav_status alice:pw-a2 GET /dav/alice/calendars/work/e1.ics)" = 200 ] || fail "new password refused"
"$GROVE" -q user --htpasswd "$tmp/htpasswd" remove carol
sleep 1.5
[ "$(dav_status carol:pw-c PROPFIND /dav/carol/)" = 401 ] || fail "removed user still gets in"
stop_server
echo "dav_accounts: ok"
