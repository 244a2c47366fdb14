#!/bin/bash
# grove CLI basics: init, set/get (arguments, stdin, binary), ls, tree, rm,
# exit codes, --help for every command.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
src=$(pwd)
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GROVE_AUTHOR_NAME="Test User" GROVE_AUTHOR_EMAIL="test@example.com"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_rc CODE CMD...: runs CMD, checks its exit status.
expect_rc() {
	local want=$1; shift
	local got=0
	"$@" >"$tmp/out" 2>"$tmp/err" || got=$?
	[ "$got" = "$want" ] || { cat "$tmp/err" >&2; fail "'$*' exited $got, expected $want"; }
}

# --- init ---
out=$("$GROVE" init)
case "$out" in *"Initialized empty"*) ;; *) fail "init said: $out" ;; esac
[ -d grove-data ] || fail "init did not create ./grove-data"
out=$("$GROVE" init)
case "$out" in *"existing"*) ;; *) fail "second init said: $out" ;; esac
# Commands on a store that does not exist fail as "not found" and create nothing.
expect_rc 1 "$GROVE" -C "$tmp/nowhere" get a
[ ! -e "$tmp/nowhere" ] || fail "get created a store"
"$GROVE" -q init "lmdb:$tmp/other"
[ -d "$tmp/other" ] || fail "init LOCATION did not create the store"
GROVE_STORE="$tmp/other" "$GROVE" set only-here yes >/dev/null
[ "$("$GROVE" -C "$tmp/other" get only-here)" = yes ] || fail "GROVE_STORE not honoured"
expect_rc 1 "$GROVE" get only-here

# --- set / get ---
"$GROVE" set greeting "hello world" >/dev/null
[ "$("$GROVE" get greeting)" = "hello world" ] || fail "get after set"
printf 'from stdin\n' | "$GROVE" set dir/stdin >/dev/null
printf 'dash\n' | "$GROVE" set dir/dash - >/dev/null
[ "$("$GROVE" get dir/stdin)" = "from stdin" ] || fail "stdin value"
"$GROVE" get dir/dash > got
printf 'dash\n' | cmp -s - got || fail "set KEY - did not read stdin exactly"

# Binary data with NUL bytes and every byte value round-trips exactly.
/usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4 + b"\0\0end\0")' > bin.in
"$GROVE" set data/blob < bin.in >/dev/null
"$GROVE" get data/blob > bin.out
cmp bin.in bin.out || fail "binary value changed"
# An empty value.
"$GROVE" set empty "" >/dev/null
"$GROVE" get empty > e.out
[ ! -s e.out ] || fail "empty value is not empty"
# A value from stdin with no trailing newline stays that way.
printf 'no-newline' | "$GROVE" set raw >/dev/null
[ "$("$GROVE" get raw | od -An -c | tr -d ' \n')" = "no-newline" ] || fail "stdin bytes altered"

# Overwrite and read an old revision.
"$GROVE" set greeting "second" -m "change greeting" >/dev/null
[ "$("$GROVE" get greeting)" = second ] || fail "overwrite"
[ "$("$GROVE" get --rev HEAD~1 greeting 2>/dev/null || true)" != second ] || fail "--rev HEAD~1"
first=$("$GROVE" log --oneline | tail -1 | cut -d' ' -f1)
[ "$("$GROVE" get --rev "$first" greeting)" = "hello world" ] || fail "get --rev <short id>"
"$GROVE" log -n1 | grep -q "change greeting" || fail "-m message not in log"
"$GROVE" log -n1 | grep -q "Author: Test User <test@example.com>" || fail "author from env"

# --- ls / tree ---
"$GROVE" ls > ls.out
printf 'data/\ndir/\nempty\ngreeting\nraw\n' | diff - ls.out || fail "ls root"
"$GROVE" ls dir > ls.out
printf 'dash\nstdin\n' | diff - ls.out || fail "ls dir"
"$GROVE" ls dir/ > ls.out
printf 'dash\nstdin\n' | diff - ls.out || fail "ls dir/"
"$GROVE" ls -r > ls.out
printf 'data/blob\ndir/dash\ndir/stdin\nempty\ngreeting\nraw\n' | diff - ls.out || fail "ls -r"
"$GROVE" ls -r dir > ls.out
printf 'dir/dash\ndir/stdin\n' | diff - ls.out || fail "ls -r dir"
"$GROVE" tree > tree.out
grep -q '^|-- dir/$' tree.out || fail "tree shows dir/"
grep -q '^|   |-- dash$' tree.out || fail "tree indents children"
expect_rc 1 "$GROVE" ls nosuchdir

# --- rm ---
"$GROVE" rm greeting >/dev/null
expect_rc 1 "$GROVE" get greeting
grep -q "not found" "$tmp/err" || fail "missing key message"
grep -q "^grove: " "$tmp/err" || fail "errors start with 'grove: '"
"$GROVE" rm dir -m "drop dir" >/dev/null
expect_rc 1 "$GROVE" get dir/stdin
expect_rc 1 "$GROVE" rm dir

# --- exit codes ---
expect_rc 1 "$GROVE" get missing
expect_rc 3 "$GROVE" get a/../b
expect_rc 3 "$GROVE" set a/../b x
expect_rc 3 "$GROVE" set /leading x
expect_rc 3 "$GROVE" set a//b x
expect_rc 3 "$GROVE" set .git/config x
expect_rc 3 "$GROVE" --branch 'bad..name' set k v
expect_rc 3 "$GROVE" branch 'no spaces'
expect_rc 2 "$GROVE" get --no-such-option x
expect_rc 2 "$GROVE" --no-such-global get x
expect_rc 2 "$GROVE" frobnicate
expect_rc 2 "$GROVE" get
expect_rc 2 "$GROVE" get a b
expect_rc 2 "$GROVE" set -m
expect_rc 2 "$GROVE" -C
expect_rc 2 "$GROVE"
expect_rc 1 "$GROVE" get --rev no-such-branch data/blob
expect_rc 1 "$GROVE" show 0000000000000000000000000000000000000000
# The store is unchanged by all of the above.
"$GROVE" ls -r > ls.out
printf 'data/blob\nempty\nraw\n' | diff - ls.out || fail "store changed by failed commands"

# --- help ---
"$GROVE" --help | grep -q "Exit status" || fail "--help lists exit codes"
"$GROVE" --version | grep -q '^grove version ' || fail "--version"
for cmd in init get set rm ls tree log show diff branch switch merge export import fsck gc stats; do
	"$GROVE" "$cmd" --help > help.out || fail "$cmd --help exited non-zero"
	grep -q "^usage: grove $cmd" help.out || fail "$cmd --help prints no usage"
	"$GROVE" help "$cmd" > /dev/null || fail "grove help $cmd"
done
# The man page documents every command and exit status the CLI has.
if [ -f "$src/tools/grove.1" ]; then
	for cmd in $("$GROVE" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 {print $1}'); do
		grep -Eq "^\.(B|BR|BI) \"?$cmd( |\"|$)" "$src/tools/grove.1" || fail "grove.1 does not document $cmd"
	done
	for code in 0 1 2 3 4 5; do
		grep -Pzq "\.TP\n\.B $code\n" "$src/tools/grove.1" || fail "grove.1 does not document exit status $code"
	done
fi
echo "cli_basic: ok"
