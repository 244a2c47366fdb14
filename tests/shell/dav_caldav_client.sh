#!/bin/bash
# A real client, python3-caldav 0.11 (tests/shell/dav_caldav_client.py),
# against grove serve: discovery from the server root, calendars and
# events (recurring too), address books and vCards; REPORT-based checks are
# skipped only while the server answers REPORT with 403/405/501.  Then a
# second user must not see the first one's calendars through the client.
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
/usr/bin/python3 -c 'import caldav' 2>/dev/null || fail "python3-caldav is not installed (make deps)"

dav_users alice:pw-a bob:pw-b
dav_start
/usr/bin/python3 "$here/dav_caldav_client.py" "$BASE" alice pw-a || fail "caldav client checks (alice)"

# Bob's client finds his own (empty) home, nothing of alice's.
[ "$(dav_status alice:pw-a MKCALENDAR /dav/alice/calendars/private/)" = 201 ] || fail "MKCALENDAR"
/usr/bin/python3 - "$BASE" <<'PY' || fail "bob's client view"
import sys, caldav
base = sys.argv[1]
p = caldav.DAVClient(url=base + "/", username="bob", password="pw-b").principal()
assert p.url.path.rstrip("/").endswith("/dav/bob"), p.url
urls = [str(c.url) for c in p.calendars()]
assert not any("alice" in u or "private" in u for u in urls), urls
print("ok   bob sees only his own calendars: %r" % urls)
PY
stop_server
echo "dav_caldav_client: ok"
