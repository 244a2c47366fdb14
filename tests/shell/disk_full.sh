#!/bin/bash
# A full disk: an lmdb: store on a 4 MiB tmpfs is filled through the CLI
# until a write fails.  The failure must be clean (exit status 5, a "disk
# full" message, no crash); afterwards the store opens, fsck is clean, the
# branch head is the last acknowledged commit and every earlier value reads
# back intact.  Needs root (mount); skips with exit 0 only if the mount is
# not permitted.
set -u
cd "$(dirname "$0")/../.."
GROVE=${GROVE:-build/test/grove}

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d /tmp/grove-diskfull-XXXXXX)
mnt=$tmp/small
mkdir "$mnt"
cleanup() {
	umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
if ! mount -t tmpfs -o size=4m tmpfs "$mnt" 2>"$tmp/mount.err"; then
	echo "SKIP: cannot mount a tmpfs (needs root): $(cat "$tmp/mount.err")"
	exit 0
fi
# A private copy of the CLI: a rebuild during the run must not break it.
cp "$GROVE" "$tmp/grove" || fail "cannot copy $GROVE"
G=$tmp/grove
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
store=lmdb:$mnt/store

"$G" -C "$store" init >/dev/null || fail "init"

# Values of 48 KiB of random bytes (no dedup, no compression), kept outside
# the tmpfs to compare with later.
last=""
acked=0
for ((i = 1; i <= 400; i++)); do
	head -c 49152 /dev/urandom >"$tmp/v$i"
	"$G" -C "$store" --json set "k$i" - <"$tmp/v$i" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		break
	fi
	last=$(sed -n 's/.*"commit":"\([0-9a-f]\{40\}\)".*/\1/p' "$tmp/out")
	[ -n "$last" ] || fail "set k$i: no commit id in $(cat "$tmp/out")"
	acked=$i
done
[ "$i" -le 400 ] || fail "400 values of 48 KiB fit in 4 MiB: the disk never filled"
[ "$acked" -gt 0 ] || fail "the first write already failed: $(cat "$tmp/err")"
# Exit status 5 is a store error; a signal (>128) or anything else is not clean.
[ "$rc" -eq 5 ] || fail "write k$i failed with exit status $rc, want 5: $(cat "$tmp/err" "$tmp/out")"
grep -qi "disk full\|no space\|ENOSPC" "$tmp/err" "$tmp/out" ||
	fail "write k$i: the error does not say the disk is full: $(cat "$tmp/err" "$tmp/out")"
echo "disk full after $acked values: $(head -1 "$tmp/err")"

# A second attempt on the full disk fails the same clean way.
"$G" -C "$store" set extra value >/dev/null 2>"$tmp/err2"
rc2=$?
[ "$rc2" -eq 5 ] || [ "$rc2" -eq 0 ] || fail "second write on a full disk: exit status $rc2: $(cat "$tmp/err2")"
if [ "$rc2" -eq 0 ]; then
	# a small value may still fit in a free page; then it is the head
	last=$("$G" -C "$store" --json log -n 1 | sed -n 's/^{"commits":\[{"id":"\([0-9a-f]\{40\}\)".*/\1/p')
fi

out=$("$G" -C "$store" fsck 2>&1) || fail "fsck after the full disk: $out"
head=$("$G" -C "$store" --json log -n 1 | sed -n 's/^{"commits":\[{"id":"\([0-9a-f]\{40\}\)".*/\1/p')
[ "$head" = "$last" ] || fail "branch head $head is not the last acknowledged commit $last"
for ((j = 1; j <= acked; j++)); do
	"$G" -C "$store" get "k$j" >"$tmp/got" 2>"$tmp/err" || fail "get k$j: $(cat "$tmp/err")"
	cmp -s "$tmp/got" "$tmp/v$j" || fail "k$j reads back different bytes"
done
"$G" -C "$store" get "k$i" >/dev/null 2>&1 && fail "the failed write k$i is visible"
echo "ok: $acked values intact, head $head, fsck clean"
