#!/bin/bash
# vdirsyncer (Debian 0.19) syncs a local filesystem calendar and address
# book with grove serve's CalDAV/CardDAV both ways: 60 events/contacts made
# locally and 40 on the server meet in 100 on each side; then edits, deletes
# and additions on both sides (local files; curl PUT with If-Match and
# DELETE on the server), a re-sync, and both sides must hold exactly the
# same UIDs with the same content (line endings aside), the edits of both
# sides and none of the deleted objects.  A third sync must find nothing to
# do.  khal then lists the local calendar as a client would.
#
# The htpasswd line uses sha256-crypt at 1,000 rounds: with the bcrypt
# cost 10 of `grove user add` every request of the sanitized server pays
# ~0.1-0.3 s for the password check, too slow for ~1,000 requests.
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
command -v vdirsyncer >/dev/null || fail "vdirsyncer is not installed (make deps)"
PY=/usr/bin/python3

$PY -W ignore::DeprecationWarning -c \
	'import crypt; print("alice:" + crypt.crypt("pw", "$5$rounds=1000$vdirsyncer$"))' >htpasswd
dav_start
CAL=/dav/alice/calendars/home/
BOOK=/dav/alice/addressbooks/contacts/
[ "$(dav_status alice:pw MKCALENDAR $CAL)" = 201 ] || fail "MKCALENDAR"
[ "$(dav_status alice:pw MKCOL $BOOK)" = 201 ] || fail "MKCOL address book"

mkdir -p local/cal local/book status
# vCard of one contact (vcf in dav_server.bash has no EMAIL or TEL)
card() {
	printf '%s\r\n' BEGIN:VCARD VERSION:3.0 "UID:$1" "FN:$2" "N:$2;;;;" \
		"EMAIL;TYPE=INTERNET:$1@example.org" "TEL;TYPE=CELL:+49 160 $3" END:VCARD
}
for i in $(seq 1 60); do
	ics "ev-$i" "Local event $i" "LOCATION:Room $i" >"local/cal/ev-$i.ics"
	card "ct-$i" "Local Person $i" "$((1000 + i))" >"local/book/ct-$i.vcf"
done
for i in $(seq 61 100); do
	ics "ev-$i" "Server event $i" >"$tmp/x.ics"
	[ "$(dav_put alice:pw "${CAL}ev-$i.ics" "$tmp/x.ics")" = 201 ] || fail "PUT event $i"
	card "ct-$i" "Server Person $i" "$((2000 + i))" >"$tmp/x.vcf"
	[ "$(dav_put alice:pw "${BOOK}ct-$i.vcf" "$tmp/x.vcf")" = 201 ] || fail "PUT contact $i"
done

cat >config <<EOF
[general]
status_path = "$tmp/status/"

[pair cal]
a = "cal_local"
b = "cal_grove"
collections = null
conflict_resolution = "a wins"

[storage cal_local]
type = "filesystem"
path = "$tmp/local/cal/"
fileext = ".ics"

[storage cal_grove]
type = "caldav"
url = "$BASE$CAL"
username = "alice"
password = "pw"

[pair book]
a = "book_local"
b = "book_grove"
collections = null
conflict_resolution = "a wins"

[storage book_local]
type = "filesystem"
path = "$tmp/local/book/"
fileext = ".vcf"

[storage book_grove]
type = "carddav"
url = "$BASE$BOOK"
username = "alice"
password = "pw"
EOF
vds() { vdirsyncer -c "$tmp/config" "$@" >"$tmp/vds.log" 2>&1 || { cat "$tmp/vds.log" >&2; fail "vdirsyncer $*"; }; }
vds discover
vds sync

# converge KIND: both sides equal; prints "N uids" on success.
converge() {
	$PY - "$BASE" "$1" "$tmp/local" "$CAL" "$BOOK" <<'PY'
import base64, os, re, sys, urllib.request
base, kind, local, cal, book = sys.argv[1:]
coll, sub, ext = (cal, "cal", ".ics") if kind == "cal" else (book, "book", ".vcf")
auth = {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}

def req(method, path, body=None, headers=None):
    r = urllib.request.Request(base + path, data=body, method=method, headers=dict(auth, **(headers or {})))
    with urllib.request.urlopen(r) as f:
        return f.read().decode()

def norm(text):
    # vdirsyncer keeps items as they are; only line endings may differ
    return text.replace("\r\n", "\n").strip("\n")

def uid(text):
    m = re.search(r"^UID:(.*)$", norm(text), re.M)
    return m.group(1).strip()

ms = req("PROPFIND", coll, b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
         {"Depth": "1", "Content-Type": "application/xml"})
hrefs = [h for h in re.findall(r"<[A-Za-z]*:?href>([^<]*)</", ms) if h.rstrip("/") != coll.rstrip("/")]
server = {}
for h in hrefs:
    t = req("GET", h)
    server[uid(t)] = norm(t)
localm = {}
for fn in os.listdir(os.path.join(local, sub)):
    if fn.endswith(ext):
        with open(os.path.join(local, sub, fn), encoding="utf-8") as f:
            t = f.read()
        localm[uid(t)] = norm(t)
if set(server) != set(localm):
    sys.exit("%s: UIDs differ: only on the server %s, only local %s" % (
        kind, sorted(set(server) - set(localm)), sorted(set(localm) - set(server))))
diff = [u for u in server if server[u] != localm[u]]
if diff:
    u = diff[0]
    sys.exit("%s: %d objects differ, e.g. %s:\n--- server\n%s\n--- local\n%s" % (
        kind, len(diff), u, server[u], localm[u]))
print(" ".join(sorted(server)))
PY
}
uids=$(converge cal) || fail "calendars after the first sync"
[ "$(echo "$uids" | wc -w)" = 100 ] || fail "first sync: $(echo "$uids" | wc -w) events, want 100"
uids=$(converge book) || fail "address books after the first sync"
[ "$(echo "$uids" | wc -w)" = 100 ] || fail "first sync: $(echo "$uids" | wc -w) contacts, want 100"
echo "ok   first sync: 100 events and 100 contacts on both sides"

# file_of DIR UID: the local file holding UID (vdirsyncer names downloads itself)
file_of() { grep -l -E "^UID:$2"$'\r'"?\$" "$1"/* | head -1; }
# Local side: edit 10, delete 5, add 5 of each (server-made ones too).
for i in $(seq 1 10) $(seq 61 65); do
	f=$(file_of local/cal "ev-$i"); [ -n "$f" ] || fail "local file of ev-$i"
	sed -i "s/^SUMMARY:.*/SUMMARY:Edited locally $i\r/" "$f"
	f=$(file_of local/book "ct-$i"); [ -n "$f" ] || fail "local file of ct-$i"
	sed -i "s/^FN:.*/FN:Local Edit $i\r/" "$f"
done
for i in 11 12 13 66 67; do
	rm "$(file_of local/cal "ev-$i")" "$(file_of local/book "ct-$i")"
done
for i in $(seq 101 105); do
	ics "ev-$i" "New local $i" >"local/cal/ev-$i.ics"
	card "ct-$i" "New Local $i" "$((3000 + i))" >"local/book/ct-$i.vcf"
done
# Server side: edit 10 others with If-Match, delete 5 others, add 5.
etag() { curl -s -o /dev/null -D - -u alice:pw "$BASE$1" | sed -n 's/^[Ee][Tt][Aa][Gg]: *\(.*\)\r$/\1/p'; }
for i in $(seq 20 24) $(seq 70 74); do
	ics "ev-$i" "Edited on the server $i" >x.ics
	st=$(curl -s -o /dev/null -w '%{http_code}' -u alice:pw -T x.ics -H 'Content-Type: text/calendar' \
		-H "If-Match: $(etag "${CAL}ev-$i.ics")" "$BASE${CAL}ev-$i.ics")
	[ "$st" = 204 ] || [ "$st" = 200 ] || fail "server edit ev-$i: $st"
	card "ct-$i" "Server Edit $i" "$((4000 + i))" >x.vcf
	st=$(curl -s -o /dev/null -w '%{http_code}' -u alice:pw -T x.vcf -H 'Content-Type: text/vcard' \
		-H "If-Match: $(etag "${BOOK}ct-$i.vcf")" "$BASE${BOOK}ct-$i.vcf")
	[ "$st" = 204 ] || [ "$st" = 200 ] || fail "server edit ct-$i: $st"
done
# vdirsyncer uploaded the local items under names of its own: find them
href_of() {
	curl -s -u alice:pw -X REPORT -H 'Depth: 1' -H 'Content-Type: application/xml' "$BASE$1" --data-binary "$2" |
		grep -o '<[A-Za-z]*:\?href>[^<]*</' | sed 's/<[^>]*>//; s/<\/$//' | head -1
}
for i in 30 31 32 80 81; do
	h=$(href_of "$CAL" "<?xml version=\"1.0\"?><c:calendar-query xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\"><c:comp-filter name=\"VEVENT\"><c:prop-filter name=\"UID\"><c:text-match collation=\"i;octet\">ev-$i</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>")
	[ -n "$h" ] || fail "calendar-query for UID ev-$i found nothing"
	[ "$(dav_status alice:pw DELETE "$h")" = 204 ] || fail "DELETE $h"
	h=$(href_of "$BOOK" "<?xml version=\"1.0\"?><card:addressbook-query xmlns:d=\"DAV:\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\"><d:prop><d:getetag/></d:prop><card:filter><card:prop-filter name=\"UID\"><card:text-match collation=\"i;octet\" match-type=\"equals\">ct-$i</card:text-match></card:prop-filter></card:filter></card:addressbook-query>")
	[ -n "$h" ] || fail "addressbook-query for UID ct-$i found nothing"
	[ "$(dav_status alice:pw DELETE "$h")" = 204 ] || fail "DELETE $h"
done
for i in $(seq 106 110); do
	ics "ev-$i" "New on the server $i" >x.ics
	[ "$(dav_put alice:pw "${CAL}ev-$i.ics" x.ics)" = 201 ] || fail "PUT new event $i"
	card "ct-$i" "New Server $i" "$((5000 + i))" >x.vcf
	[ "$(dav_put alice:pw "${BOOK}ct-$i.vcf" x.vcf)" = 201 ] || fail "PUT new contact $i"
done

vds sync
for kind in cal book; do
	uids=$(converge $kind) || fail "$kind after the second sync"
	p=ev; [ $kind = book ] && p=ct
	[ "$(echo "$uids" | wc -w)" = 100 ] || fail "$kind: $(echo "$uids" | wc -w) objects, want 100"
	for i in 11 12 13 66 67 30 31 32 80 81; do
		case " $uids " in *" $p-$i "*) fail "$kind: deleted $p-$i came back";; esac
	done
	for i in 101 105 106 110; do
		case " $uids " in *" $p-$i "*) ;; *) fail "$kind: new $p-$i missing";; esac
	done
done
grep -q "^SUMMARY:Edited locally 5" local/cal/*.ics || fail "local edit lost"
grep -q "^SUMMARY:Edited on the server 72" local/cal/*.ics || fail "server edit of ev-72 not synced"
grep -q "^FN:Server Edit 22" local/book/*.vcf || fail "server edit of ct-22 not synced"
[ "$(curl -s -u alice:pw "$BASE${CAL}ev-20.ics" | grep -c 'Edited on the server 20')" = 1 ] ||
	fail "server edit of ev-20 not kept"
echo "ok   edits, deletes and additions on both sides converge (100 + 100)"

vds sync
if grep -Eiq "copying|updating|deleting" "$tmp/vds.log"; then
	cat "$tmp/vds.log" >&2
	fail "a sync without changes did something"
fi
echo "ok   a third sync has nothing to do"

if command -v khal >/dev/null; then
	mkdir -p khal
	cat >khal/config <<EOF
[calendars]
[[local]]
path = $tmp/local/cal/
type = calendar
[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
[default]
default_calendar = local
EOF
	n=$(TZ=UTC khal -c khal/config list --format '{title}' 2024-01-10 1d 2>"$tmp/khal.err" |
		grep -c -E 'event|Edited|New') || true
	[ "$n" = 100 ] || { cat "$tmp/khal.err" >&2; fail "khal lists $n events on 2024-01-10, want 100"; }
	echo "ok   khal lists the 100 synced events"
fi
stop_server
echo "dav_vdirsyncer: ok"
