#!/bin/bash
# Per-user git on grove serve's DAV store: /git/users/<U>.git shows only
# U's data (calendars/..., addressbooks/... at the top) as branch main;
# another user's URL is 404 and never content; upload-pack refuses a want
# of an object it did not advertise (another user's blob); a push by U
# lands on the DAV branch at once without touching other users' data; an
# invalid .ics is refused naming the file; non-fast-forward and pushes
# that refer to other users' objects are refused; the projection's
# commit ids are the same on every clone.
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
git config --global init.defaultBranch main

dav_users alice:pw-a bob:pw-b carol:pw-c admin:pw-root
dav_start --git-admin admin
url() { echo "http://$1@127.0.0.1:$PORT/git/users/$2"; }

# Data through DAV: two users, each with events; bob also a contact.
[ "$(dav_status alice:pw-a MKCALENDAR /dav/alice/calendars/work/)" = 201 ] || fail "MKCALENDAR alice"
ics a1 "Alice planning" > a1.ics
[ "$(dav_put alice:pw-a /dav/alice/calendars/work/a1.ics a1.ics)" = 201 ] || fail "PUT a1"
[ "$(dav_status bob:pw-b MKCALENDAR /dav/bob/calendars/home/)" = 201 ] || fail "MKCALENDAR bob"
ics b1 "Bob secret dentist" > b1.ics
[ "$(dav_put bob:pw-b /dav/bob/calendars/home/b1.ics b1.ics)" = 201 ] || fail "PUT b1"
[ "$(dav_status bob:pw-b MKCOL /dav/bob/addressbooks/book/)" = 201 ] || fail "MKCOL book"
vcf c1 "Carol" > c1.vcf
[ "$(dav_put bob:pw-b /dav/bob/addressbooks/book/c1.vcf c1.vcf)" = 201 ] || fail "PUT c1"
ics a2 "Alice review" > a2.ics
[ "$(dav_put alice:pw-a /dav/alice/calendars/work/a2.ics a2.ics)" = 201 ] || fail "PUT a2"
b1_blob=$(git hash-object b1.ics)

# --- access ---------------------------------------------------------------------------
for svc in git-upload-pack git-receive-pack; do
	for path in users/bob.git users/bob users/admin.git; do
		s=$(curl -s -o body -w '%{http_code}' -u alice:pw-a "$BASE/git/$path/info/refs?service=$svc")
		case "$s" in 403|404) ;; *) fail "alice on /git/$path ($svc): $s";; esac
		grep -q "refs/heads" body && fail "alice got refs of /git/$path"
	done
	s=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/git/users/alice.git/info/refs?service=$svc")
	[ "$s" = 401 ] || fail "anonymous on alice's repository ($svc): $s"
	s=$(curl -s -o /dev/null -w '%{http_code}' -u alice:wrong "$BASE/git/users/alice.git/info/refs?service=$svc")
	[ "$s" = 401 ] || fail "wrong password ($svc): $s"
done
s=$(printf '0000' | curl -s -o body -w '%{http_code}' -u alice:pw-a --data-binary @- \
	-H 'Content-Type: application/x-git-upload-pack-request' "$BASE/git/users/bob.git/git-upload-pack")
case "$s" in 403|404) ;; *) fail "alice POST to bob's upload-pack: $s";; esac
rc=0; git clone -q "$(url alice:pw-a bob.git)" stolen 2>err || rc=$?
[ "$rc" -ne 0 ] || fail "alice cloned bob's repository"
[ -e stolen/calendars ] && fail "alice sees bob's files"
# The whole-store URL stays for admins only.
s=$(curl -s -o /dev/null -w '%{http_code}' -u alice:pw-a "$BASE/git/store/info/refs?service=git-upload-pack")
[ "$s" = 403 ] || fail "alice on /git/store: $s"

# --- alice's clone: her files only, at the top ------------------------------------------
git clone -q "$(url alice:pw-a alice.git)" a || fail "alice clone: $(cat err 2>/dev/null)"
[ "$(git -C a rev-parse --abbrev-ref HEAD)" = main ] || fail "HEAD is not main"
files=$(cd a && git ls-files | sort | tr '\n' ' ')
[ "$files" = "calendars/work/.props calendars/work/a1.ics calendars/work/a2.ics " ] ||
	fail "alice's clone holds: $files"
cmp -s a/calendars/work/a1.ics a1.ics || fail "a1.ics differs from what was PUT"
git -C a fsck --strict 2>/dev/null || fail "fsck of alice's clone"
git -C a log --format=%B | grep -q . || fail "no messages in alice's history"
# Only alice's changes are in her history (bob's PUTs made no commits here).
n=$(git -C a rev-list --count HEAD)
[ "$n" = 3 ] || fail "alice's history has $n commits, expected 3 (MKCALENDAR, PUT, PUT)"
git -C a log --format=%s | grep -qi bob && fail "bob's commits in alice's history"
refs=$(git ls-remote "$(url alice:pw-a alice.git)" | cut -f2 | tr '\n' ' ')
[ "$refs" = "HEAD refs/heads/main " ] || fail "alice's refs: $refs"
# bob's clone has his own files only
git clone -q "$(url bob:pw-b bob)" b || fail "bob clone"
files=$(cd b && git ls-files | sort | tr '\n' ' ')
[ "$files" = "addressbooks/book/.props addressbooks/book/c1.vcf calendars/home/.props calendars/home/b1.ics " ] ||
	fail "bob's clone holds: $files"
grep -rq "Bob secret" a && fail "bob's event in alice's clone"

# --- no fetching by id: a want of bob's blob on alice's URL gets ERR ---------------------
/usr/bin/python3 - "$PORT" "$b1_blob" "$(git -C a rev-parse HEAD)" > raw.out <<'PY' || fail "raw request failed"
import base64, sys, urllib.request
port, blob, head = sys.argv[1], sys.argv[2], sys.argv[3]
def pkt(s):
    b = s.encode()
    return b'%04x' % (len(b) + 4) + b
auth = 'Basic ' + base64.b64encode(b'alice:pw-a').decode()
def post(body, proto=None):
    req = urllib.request.Request('http://127.0.0.1:%s/git/users/alice.git/git-upload-pack' % port,
        data=body, method='POST')
    req.add_header('Authorization', auth)
    req.add_header('Content-Type', 'application/x-git-upload-pack-request')
    if proto:
        req.add_header('Git-Protocol', proto)
    return urllib.request.urlopen(req, timeout=10).read()
# v0: a want of an unadvertised object
v0 = post(pkt('want %s multi_ack_detailed side-band-64k ofs-delta\n' % blob) + b'0000' + pkt('done\n'))
# v2: the same through fetch
v2 = post(pkt('command=fetch\n') + pkt('object-format=sha1\n') + b'0001' +
    pkt('want %s\n' % blob) + pkt('done\n') + b'0000', 'version=2')
# control: a want of alice's own head works
ok = post(pkt('want %s multi_ack_detailed side-band-64k ofs-delta\n' % head) + b'0000' + pkt('done\n'))
print(repr(v0)); print(repr(v2)); print(repr(ok[:200]))
PY
sed -n 1p raw.out | grep -q "ERR upload-pack: not our ref $b1_blob" || fail "v0 want of bob's blob: $(sed -n 1p raw.out)"
sed -n 2p raw.out | grep -q "ERR upload-pack: not our ref $b1_blob" || fail "v2 want of bob's blob: $(sed -n 2p raw.out)"
grep -q PACK raw.out || fail "no pack for the control want: $(cat raw.out)"
[ "$(grep -c PACK raw.out)" = 1 ] || fail "a pack was sent for bob's blob"

# --- a push by alice lands on the DAV branch ---------------------------------------------
bob_tree_before=$(git ls-remote "http://admin:pw-root@127.0.0.1:$PORT/git/store" refs/heads/main | cut -f1)
git clone -q "http://admin:pw-root@127.0.0.1:$PORT/git/store" adm0 || fail "admin clone"
bob_before=$(git -C adm0 rev-parse HEAD:bob)
ics a3 "Pushed by alice" > a/calendars/work/a3.ics
sed -i 's/SUMMARY:Alice planning/SUMMARY:Alice planning (moved by git)/' a/calendars/work/a1.ics
git -C a add -A && git -C a commit -qm "alice: new event over git"
git -C a push -q origin main 2>err || fail "alice push: $(cat err)"
pushed=$(git -C a rev-parse HEAD)
got=$(curl -s -u alice:pw-a "$BASE/dav/alice/calendars/work/a3.ics")
case "$got" in *"SUMMARY:Pushed by alice"*) ;; *) fail "DAV GET of pushed a3.ics: $got";; esac
got=$(curl -s -u alice:pw-a "$BASE/dav/alice/calendars/work/a1.ics")
case "$got" in *"moved by git"*) ;; *) fail "DAV GET of edited a1.ics: $got";; esac
[ "$(curl -s -u bob:pw-b "$BASE/dav/bob/calendars/home/b1.ics")" = "$(cat b1.ics)" ] || fail "bob's b1 changed"
git -C adm0 pull -q --ff-only || fail "admin pull"
[ "$(git -C adm0 rev-parse HEAD:bob)" = "$bob_before" ] || fail "bob's tree changed by alice's push"
[ "$(git -C adm0 rev-parse HEAD:alice)" = "$(git -C a rev-parse HEAD^{tree})" ] || fail "alice/ is not the pushed tree"
[ "$(git -C adm0 log -1 --format=%s)" = "alice: new event over git" ] || fail "DAV commit message: $(git -C adm0 log -1 --format=%s)"
[ "$(git -C adm0 rev-parse HEAD^)" = "$bob_tree_before" ] || fail "DAV commit is not on top of the old head"
[ "$(git ls-remote "$(url alice:pw-a alice.git)" refs/heads/main | cut -f1)" = "$pushed" ] ||
	fail "alice's main is not the pushed commit"

# A DAV write by bob, then by alice: alice's fetch fast-forwards from her push.
ics b2 "Bob again" > b2.ics
[ "$(dav_put bob:pw-b /dav/bob/calendars/home/b2.ics b2.ics)" = 201 ] || fail "PUT b2"
git -C a pull -q --ff-only || fail "alice pull after bob's PUT"
[ "$(git -C a rev-parse HEAD)" = "$pushed" ] || fail "bob's PUT made a commit in alice's history"
ics a4 "From DAV" > a4.ics
[ "$(dav_put alice:pw-a /dav/alice/calendars/work/a4.ics a4.ics)" = 201 ] || fail "PUT a4"
git -C a pull -q --ff-only || fail "alice pull after her PUT"
[ -f a/calendars/work/a4.ics ] || fail "DAV write not in alice's git"
[ "$(git -C a rev-parse HEAD^)" = "$pushed" ] || fail "DAV commit does not follow the pushed one"

# --- refusals ------------------------------------------------------------------------------
head=$(git -C a rev-parse HEAD)
remote_head() { git ls-remote "$(url alice:pw-a alice.git)" refs/heads/main | cut -f1; }
printf 'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nthis is not a property\r\n' > a/calendars/work/bad.ics
git -C a add -A && git -C a commit -qm "broken calendar object"
rc=0; git -C a push origin main 2>err || rc=$?
[ "$rc" -ne 0 ] || fail "invalid .ics push accepted"
grep -q "calendars/work/bad.ics" err || fail "refusal does not name the file: $(cat err)"
grep -qi "invalid iCalendar" err || fail "refusal does not say why: $(cat err)"
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/bad.ics)" = 404 ] || fail "bad.ics served"
[ "$(remote_head)" = "$head" ] || fail "main moved after a refused push"
git -C a reset -q --hard "$head"

# non-fast-forward (also with --force)
git -C a reset -q --hard HEAD^
ics a5 "Diverged" > a/calendars/work/a5.ics
git -C a add -A && git -C a commit -qm "diverged"
rc=0; git -C a push origin main 2>err || rc=$?
[ "$rc" -ne 0 ] || fail "non-fast-forward push accepted"
rc=0; git -C a push --force origin main 2>err || rc=$?
[ "$rc" -ne 0 ] && grep -q "non-fast-forward" err || fail "forced non-fast-forward push: rc $rc $(cat err)"
[ "$(remote_head)" = "$head" ] || fail "main moved after a non-fast-forward push"
git -C a fetch -q origin && git -C a reset -q --hard origin/main

# pushes to other refs, and deleting main
git -C a push origin main:refs/heads/other 2>err && fail "push to another branch accepted"
grep -q "only refs/heads/main" err || fail "other-branch refusal: $(cat err)"
git -C a push origin :main 2>err && fail "deleting main accepted"
[ "$(remote_head)" = "$head" ] || fail "main changed by refused pushes"

# A client that knows the id of bob's blob (or of a DAV commit) but not its
# content could still name it: a hand-made pack holding only the new
# commit and trees.  Both are refused, and nothing becomes fetchable.
# raw_push OLD NEW OBJECT...: POSTs a receive-pack request whose pack
# holds exactly OBJECTs (from clone a); prints the report.
raw_push() {
	local old=$1 new=$2; shift 2
	printf '%s\n' "$@" | git -C a pack-objects -q --stdout > raw.pack || fail "pack-objects"
	/usr/bin/python3 - "$PORT" "$old" "$new" raw.pack <<'PY'
import base64, sys, urllib.request
port, old, new, pack = sys.argv[1:5]
line = ('%s %s refs/heads/main\0report-status\n' % (old, new)).encode()
body = b'%04x' % (len(line) + 4) + line + b'0000' + open(pack, 'rb').read()
req = urllib.request.Request('http://127.0.0.1:%s/git/users/alice.git/git-receive-pack' % port,
    data=body, method='POST')
req.add_header('Authorization', 'Basic ' + base64.b64encode(b'alice:pw-a').decode())
req.add_header('Content-Type', 'application/x-git-receive-pack-request')
print(repr(urllib.request.urlopen(req, timeout=10).read()))
PY
}
bob_blob_tree=$(printf '100644 blob %s\tstolen.ics\n' "$b1_blob" | git -C a mktree --missing)
graft=$( (git -C a ls-tree HEAD; printf '040000 tree %s\tsteal\n' "$bob_blob_tree") | git -C a mktree --missing)
evil=$(git -C a commit-tree "$graft" -p HEAD -m "refer to bob's blob")
out=$(raw_push "$head" "$evil" "$evil" "$graft" "$bob_blob_tree")
case "$out" in *"ng refs/heads/main"*"not in your repository"*) ;; *) fail "push naming bob's blob: $out";; esac
[ "$(remote_head)" = "$head" ] || fail "main moved after a foreign-object push"
dav_commit=$(git -C adm0 rev-parse HEAD)
evil=$(printf 'tree %s\nparent %s\nparent %s\nauthor T <t@example.com> 1700000000 +0000\ncommitter T <t@example.com> 1700000000 +0000\n\nmerge the store\n' \
	"$(git -C a rev-parse HEAD^{tree})" "$head" "$dav_commit" | git -C a hash-object -t commit -w --literally --stdin)
out=$(raw_push "$head" "$evil" "$evil")
case "$out" in *"ng refs/heads/main"*"not in your repository"*) ;; *) fail "push naming a DAV commit: $out";; esac
[ "$(remote_head)" = "$head" ] || fail "main moved after the merge push"
# control: the same kind of hand-made pack with only alice's objects works
ics a6 "Hand-made pack" > a6.ics
blob=$(git -C a hash-object -w ../a6.ics)
t_work=$( (git -C a ls-tree HEAD:calendars/work; printf '100644 blob %s\ta6.ics\n' "$blob") | git -C a mktree)
t_cal=$(printf '040000 tree %s\twork\n' "$t_work" | git -C a mktree)
t_root=$(printf '040000 tree %s\tcalendars\n' "$t_cal" | git -C a mktree)
good=$(git -C a commit-tree "$t_root" -p HEAD -m "hand-made")
out=$(raw_push "$head" "$good" "$good" "$t_root" "$t_cal" "$t_work" "$blob")
case "$out" in *"ok refs/heads/main"*) ;; *) fail "hand-made push of alice's own objects: $out";; esac
[ "$(dav_status alice:pw-a GET /dav/alice/calendars/work/a6.ics)" = 200 ] || fail "a6.ics not served"
git -C a pull -q --ff-only || fail "pull after the hand-made push"
head=$(git -C a rev-parse HEAD)
[ "$head" = "$good" ] || fail "alice's head is not the hand-made commit"

# --- a user without data: an empty repository; the first push creates it ------------------
git clone -q "$(url carol:pw-c carol.git)" c 2>err || fail "carol's empty clone: $(cat err)"
[ -z "$(cd c && git ls-files)" ] || fail "carol's empty clone has files"
mkdir -p c/calendars/personal
# A calendar is a folder with a .props file (see grove(1)); without one the
# files are kept but DAV does not show them.
cp a/calendars/work/.props c/calendars/personal/.props
ics c1 "Carol's first" > c/calendars/personal/c1.ics
git -C c add -A && git -C c commit -qm "carol: first calendar over git"
git -C c push -q origin HEAD:main 2>err || fail "carol's first push: $(cat err)"
[ "$(curl -s -u carol:pw-c "$BASE/dav/carol/calendars/personal/c1.ics")" = "$(cat c/calendars/personal/c1.ics)" ] ||
	fail "carol's pushed event not served over DAV"
[ "$(curl -s -u bob:pw-b "$BASE/dav/bob/calendars/home/b1.ics")" = "$(cat b1.ics)" ] || fail "bob's b1 changed by carol"

# Two commits in one push: one DAV commit (the tip's message); carol's
# history keeps both.
git -C adm0 fetch -q origin && store_before=$(git -C adm0 rev-parse origin/main)
ics c2 "Carol two" > c/calendars/personal/c2.ics
git -C c add -A && git -C c commit -qm "carol: two"
ics c3 "Carol three" > c/calendars/personal/c3.ics
git -C c add -A && git -C c commit -qm "carol: three"
git -C c push -q origin HEAD:main 2>err || fail "carol's two-commit push: $(cat err)"
git -C adm0 fetch -q origin
[ "$(git -C adm0 rev-list --count "$store_before..origin/main")" = 1 ] || fail "a two-commit push made $(git -C adm0 rev-list --count "$store_before..origin/main") store commits"
[ "$(git -C adm0 log -1 --format=%s origin/main)" = "carol: three" ] || fail "store commit message"
[ "$(git ls-remote "$(url carol:pw-c carol.git)" refs/heads/main | cut -f1)" = "$(git -C c rev-parse HEAD)" ] ||
	fail "carol's main is not her pushed tip"
[ "$(dav_status carol:pw-c GET /dav/carol/calendars/personal/c2.ics)" = 200 ] || fail "c2.ics not served"

# --- pushes race DAV writes of another user: nothing is lost ---------------------------------
(for i in $(seq 1 15); do
	ics "race$i" "Bob race $i" > "race$i.ics"
	s=$(dav_put bob:pw-b "/dav/bob/calendars/home/race$i.ics" "race$i.ics")
	[ "$s" = 201 ] || echo "PUT race$i: $s" >> race.err
done) &
racer=$!
for i in 1 2 3 4 5; do
	ics "cr$i" "Carol race $i" > "c/calendars/personal/cr$i.ics"
	git -C c add -A && git -C c commit -qm "carol race $i"
	git -C c push -q origin HEAD:main 2>err || fail "carol's push $i during bob's PUTs: $(cat err)"
done
wait "$racer"
[ ! -s race.err ] || fail "bob's PUTs during carol's pushes: $(cat race.err)"
for i in $(seq 1 15); do
	[ "$(dav_status bob:pw-b GET "/dav/bob/calendars/home/race$i.ics")" = 200 ] || fail "bob's race$i lost"
done
for i in 1 2 3 4 5; do
	[ "$(dav_status carol:pw-c GET "/dav/carol/calendars/personal/cr$i.ics")" = 200 ] || fail "carol's cr$i lost"
done
git -C c pull -q --ff-only || fail "carol pull after the race"
[ "$(git -C c log --format=%s | grep -c 'carol race')" = 5 ] || fail "carol's history lost pushes"

# --- determinism: a fresh clone has the same ids; a projection derived afresh too ----------
git clone -q "$(url alice:pw-a alice.git)" a2 || fail "re-clone"
[ "$(git -C a2 rev-parse HEAD)" = "$head" ] || fail "re-clone head differs"
[ "$(git -C a2 rev-list HEAD | tr '\n' ' ')" = "$(git -C a rev-list HEAD | tr '\n' ' ')" ] ||
	fail "re-clone history differs"
b_head=$(git -C b rev-parse HEAD)
git -C b pull -q --ff-only || fail "bob pull"
git -C b merge-base --is-ancestor "$b_head" HEAD || fail "bob's history was rewritten"
[ "$(git -C b rev-list --count "$b_head..HEAD")" = 16 ] || fail "bob's new commits: $(git -C b rev-list --count "$b_head..HEAD"), expected 16 PUTs"
b_head=$(git -C b rev-parse HEAD)
stop_server

# After a restart the projections are the same; a server that allows
# forced pushes (for --stores and admins) still refuses them for a user.
dav_start --git-admin admin --allow-non-ff
git clone -q "$(url bob:pw-b bob.git)" b2 || fail "bob re-clone"
[ "$(git -C b2 rev-parse HEAD)" = "$b_head" ] || fail "bob's head differs after a restart"
git -C a reset -q --hard HEAD^
git -C a commit -q --allow-empty -m "diverged again"
rc=0; git -C a push --force "$(url alice:pw-a alice.git)" main 2>err || rc=$?
[ "$rc" -ne 0 ] && grep -q "non-fast-forward" err || fail "forced push with --allow-non-ff: rc $rc $(cat err)"
[ "$(remote_head)" = "$head" ] || fail "main moved after a forced push"
stop_server
echo "dav_git_user: ok"
