#!/bin/bash
# grove --read-only: reads work, every write fails with exit status 5 and
# leaves the store unchanged (lmdb: and git: stores).  When not running as
# root, a store directory made read-only with chmod is checked as well.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
tmp=$(mktemp -d)
cleanup() { chmod -R u+w "$tmp" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GROVE_AUTHOR_NAME="RO" GROVE_AUTHOR_EMAIL="ro@example.com"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {
	local want=$1; shift
	local got=0
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	[ "$got" = "$want" ] || { cat "$tmp/err" >&2; fail "'$*' exited $got, expected $want"; }
}
# A fingerprint of everything a store holds: refs, HEAD, every key and value.
fingerprint() {
	"$GROVE" -C "$1" branch -v
	"$GROVE" -C "$1" log --oneline
	"$GROVE" -C "$1" ls -r | while read -r k; do echo "$k=$("$GROVE" -C "$1" get "$k" | od -An -tx1 | tr -d ' \n')"; done
}

for store in "lmdb:$tmp/lmdb-store" "git:$tmp/git-store.git"; do
	"$GROVE" -q -C "$store" init
	"$GROVE" -q -C "$store" set a/key value
	"$GROVE" -q -C "$store" branch side
	"$GROVE" -q -C "$store" set a/more data  # so merging main into side has work to do
	fingerprint "$store" > before
	R=("$GROVE" --read-only -C "$store")
	[ "$("${R[@]}" get a/key)" = value ] || fail "read-only get ($store)"
	"${R[@]}" ls -r > /dev/null || fail "read-only ls ($store)"
	"${R[@]}" log > /dev/null || fail "read-only log ($store)"
	"${R[@]}" fsck > /dev/null || fail "read-only fsck ($store)"
	expect_rc 5 "${R[@]}" set a/key other
	grep -q "^grove: .*read-only" err || { cat err; fail "no read-only message ($store)"; }
	expect_rc 5 "${R[@]}" set new/key x
	expect_rc 5 "${R[@]}" rm a/key
	expect_rc 5 "${R[@]}" branch newbranch
	expect_rc 5 "${R[@]}" branch -d side
	expect_rc 5 "${R[@]}" switch side
	expect_rc 5 "${R[@]}" --branch side merge main~0
	expect_rc 5 "${R[@]}" import "$tmp/git-store.git"
	expect_rc 5 "${R[@]}" init
	rc=0; "${R[@]}" gc >/dev/null 2>&1 || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 5 ] || fail "read-only gc exited $rc"
	rc=0; printf 'stdin' | "${R[@]}" --json set k >out.json 2>/dev/null || rc=$?
	[ "$rc" = 5 ] || fail "read-only set --json exited $rc"
	/usr/bin/python3 -c 'import json; d = json.load(open("out.json")); assert d["error"]["code"] == "GROVE_EREADONLY", d' ||
		fail "read-only error document"
	fingerprint "$store" > after
	diff before after || fail "a read-only command changed $store"
done

# The read-only open of a store that does not exist creates nothing.
expect_rc 1 "$GROVE" --read-only -C "$tmp/none" get a
[ ! -e "$tmp/none" ] || fail "read-only open created a store"

if [ "$(id -u)" != 0 ]; then
	chmod -R a-w "$tmp/lmdb-store"
	fingerprint "lmdb:$tmp/lmdb-store" > before 2>/dev/null || true
	expect_rc 5 "$GROVE" -C "lmdb:$tmp/lmdb-store" set a/key other
	chmod -R u+w "$tmp/lmdb-store"
	[ "$("$GROVE" -C "lmdb:$tmp/lmdb-store" get a/key)" = value ] || fail "chmod store changed"
fi
echo "cli_readonly: ok"
