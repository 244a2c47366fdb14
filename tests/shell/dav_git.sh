#!/bin/bash
# git smart HTTP on grove serve's main store (the one DAV serves): only
# --git-admin users may clone/fetch/push it (another user: 403, anonymous:
# 401, other names: 404, never content); a clone shows the users'
# .ics/.vcf files; a pushed edit is what the next DAV GET returns; a push
# bringing invalid iCalendar or vCard is refused naming the file, and
# leaves the store as it was.
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
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp" GIT_TERMINAL_PROMPT=0
git config --global advice.detachedHead false

dav_users alice:pw-a bob:pw-b admin:pw-root
dav_start --git-admin admin
url() { echo "http://$1@127.0.0.1:$PORT/git/$2"; }

# Data through DAV first.
[ "$(dav_status alice:pw-a MKCALENDAR /dav/alice/calendars/work/)" = 201 ] || fail "MKCALENDAR"
ics e1 "Planning" > e1.ics
[ "$(dav_put alice:pw-a /dav/alice/calendars/work/e1.ics e1.ics)" = 201 ] || fail "PUT e1"
[ "$(dav_status bob:pw-b MKCOL /dav/bob/addressbooks/book/)" = 201 ] || fail "MKCOL book"
vcf c1 "Carol" > c1.vcf
[ "$(dav_put bob:pw-b /dav/bob/addressbooks/book/c1.vcf c1.vcf)" = 201 ] || fail "PUT c1"

# --- access -----------------------------------------------------------------------
for who in alice:pw-a bob:pw-b; do
	for svc in git-upload-pack git-receive-pack; do
		s=$(curl -s -o body -w '%{http_code}' -u "$who" "$BASE/git/store/info/refs?service=$svc")
		[ "$s" = 403 ] || fail "$who $svc on the main store: $s"
		grep -q PACK body && fail "$who got pack data"
		grep -q "refs/heads" body && fail "$who got the refs"
	done
	rc=0; git clone -q "$(url "$who" store.git)" "clone-${who%%:*}" 2>err || rc=$?
	[ "$rc" -ne 0 ] && grep -q 403 err || fail "$who cloned the shared store: $(cat err)"
	[ -e "clone-${who%%:*}/alice" ] && fail "$who sees alice's files"
done
s=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/git/store/info/refs?service=git-upload-pack")
[ "$s" = 401 ] || fail "anonymous: $s"
s=$(curl -s -o /dev/null -w '%{http_code}' -u admin:wrong "$BASE/git/store/info/refs?service=git-upload-pack")
[ "$s" = 401 ] || fail "admin with a wrong password: $s"
for name in alice alice.git other x/y; do
	s=$(curl -s -o /dev/null -w '%{http_code}' -u alice:pw-a "$BASE/git/$name/info/refs?service=git-upload-pack")
	case "$s" in 403|404) ;; *) fail "alice on /git/$name: $s";; esac
done
# A POST straight to the RPC endpoint is refused the same way.
s=$(printf '0000' | curl -s -o /dev/null -w '%{http_code}' -u bob:pw-b --data-binary @- \
	-H 'Content-Type: application/x-git-upload-pack-request' "$BASE/git/store/git-upload-pack")
[ "$s" = 403 ] || fail "bob POST upload-pack: $s"

# --- the admin's clone: everyone's files ------------------------------------------
git clone -q "$(url admin:pw-root store.git)" adm || fail "admin clone"
[ -f adm/alice/calendars/work/e1.ics ] || fail "no e1.ics in the clone: $(find adm -path adm/.git -prune -o -type f -print)"
[ -f adm/bob/addressbooks/book/c1.vcf ] || fail "no c1.vcf in the clone"
[ -f adm/alice/calendars/work/.props ] || fail "no .props in the clone"
cmp -s adm/alice/calendars/work/e1.ics e1.ics || fail "e1.ics differs from what was PUT"
git -C adm fsck --strict 2>/dev/null || fail "fsck of the clone"

# --- a pushed edit is visible over DAV at once -----------------------------------
etag_before=$(curl -s -D - -o /dev/null -u alice:pw-a "$BASE/dav/alice/calendars/work/e1.ics" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
sed -i 's/SUMMARY:Planning/SUMMARY:Planning (moved by git)/' adm/alice/calendars/work/e1.ics
ics e2 "Pushed by git" > adm/alice/calendars/work/e2.ics
vcf c2 "Dave" > adm/bob/addressbooks/book/c2.vcf
git -C adm add -A && git -C adm commit -qm "edit over git"
git -C adm push -q origin main 2>err || fail "push: $(cat err)"
got=$(curl -s -u alice:pw-a "$BASE/dav/alice/calendars/work/e1.ics")
case "$got" in *"SUMMARY:Planning (moved by git)"*) ;; *) fail "DAV GET after push: $got";; esac
etag_after=$(curl -s -D - -o /dev/null -u alice:pw-a "$BASE/dav/alice/calendars/work/e1.ics" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
[ -n "$etag_after" ] && [ "$etag_after" != "$etag_before" ] || fail "ETag did not change: $etag_before $etag_after"
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/e2.ics)" = 200 ] || fail "pushed e2.ics not served"
[ "$(dav_status bob:pw-b GET /dav/bob/addressbooks/book/c2.vcf)" = 200 ] || fail "pushed c2.vcf not served"
body=$(curl -s -u alice:pw-a -X PROPFIND -H 'Depth: 1' "$BASE/dav/alice/calendars/work/")
case "$body" in *e2.ics*) ;; *) fail "PROPFIND does not list the pushed e2.ics";; esac
# and a DAV write after the push lands on top of it (git sees it on fetch).
ics e3 "From DAV" > e3.ics
[ "$(dav_put alice:pw-a /dav/alice/calendars/work/e3.ics e3.ics)" = 201 ] || fail "PUT after push"
git -C adm pull -q --ff-only || fail "pull"
[ -f adm/alice/calendars/work/e3.ics ] || fail "DAV write not in git"

# --- invalid data is refused, naming the file -----------------------------------
head=$(git -C adm rev-parse HEAD)
printf 'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nthis is not a property\r\n' > adm/alice/calendars/work/bad.ics
git -C adm add -A && git -C adm commit -qm "broken calendar object"
rc=0; git -C adm push origin main 2>err || rc=$?
[ "$rc" -ne 0 ] || fail "invalid .ics push accepted"
grep -q "alice/calendars/work/bad.ics" err || fail "refusal does not name the file: $(cat err)"
grep -qi "invalid iCalendar" err || fail "refusal does not say why: $(cat err)"
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/bad.ics)" = 404 ] || fail "bad.ics served"
[ "$(git ls-remote "$(url admin:pw-root store)" refs/heads/main | cut -f1)" = "$head" ] || fail "main moved"
git -C adm reset -q --hard "$head"

# an edit that breaks an existing event, and an invalid vCard
printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n' > adm/alice/calendars/work/e1.ics
git -C adm commit -qam "empty calendar"
rc=0; git -C adm push origin main 2>err || rc=$?
[ "$rc" -ne 0 ] && grep -q "alice/calendars/work/e1.ics" err || fail "broken edit accepted: $(cat err)"
git -C adm reset -q --hard "$head"
printf 'BEGIN:VCARD\r\nFN:No version\r\n' > adm/bob/addressbooks/book/bad.vcf
git -C adm add -A && git -C adm commit -qm "broken card"
rc=0; git -C adm push origin main 2>err || rc=$?
[ "$rc" -ne 0 ] && grep -q "bob/addressbooks/book/bad.vcf" err && grep -qi "invalid vCard" err ||
	fail "invalid .vcf push: rc $rc $(cat err)"
git -C adm reset -q --hard "$head"

# files outside the DAV model and other branches are not checked
mkdir -p adm/notes && echo "free text" > adm/notes/todo.txt
git -C adm add -A && git -C adm commit -qm "notes"
git -C adm push -q origin main 2>err || fail "push outside the DAV model: $(cat err)"
git -C adm checkout -q -b scratch
printf 'garbage\r\n' > adm/alice/calendars/work/wip.ics
git -C adm add -A && git -C adm commit -qm "wip"
git -C adm push -q origin scratch 2>err || fail "push to another branch: $(cat err)"
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/wip.ics)" = 404 ] || fail "other branch served"
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/e1.ics)" = 200 ] || fail "e1 gone"
stop_server
echo "dav_git: ok"
