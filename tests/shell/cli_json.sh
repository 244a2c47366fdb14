#!/bin/bash
# grove --json: every command prints one valid JSON document, strings are
# escaped, non-text values come as base64, errors come as an error document.
set -eu
GROVE=${GROVE:-build/test/grove}
GROVE=$(cd "$(dirname "$GROVE")" && pwd)/$(basename "$GROVE")
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
export GROVE_STORE="lmdb:$tmp/store"
export GROVE_AUTHOR_NAME='Quote "Tab	Back\slash' GROVE_AUTHOR_EMAIL="j@example.com"
PY=/usr/bin/python3

fail() { echo "FAIL: $*" >&2; exit 1; }
# json CMD...: runs grove --json CMD, checks the output is one valid JSON
# document, leaves it in $tmp/doc.json.
json() {
	"$GROVE" --json "$@" > doc.json || return $?
	$PY -m json.tool doc.json > /dev/null || { cat doc.json; fail "invalid JSON from: $*"; }
}
# check EXPR: a Python expression over d (the last document) must be true.
check() {
	$PY -c 'import json,sys,base64; d=json.load(open("doc.json")); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" ||
		{ cat doc.json; fail "check failed: $1"; }
}

json init; check 'd["created"] is True and d["backend"] == "lmdb"'
json init; check 'd["created"] is False'
json set text "line1
line2 \"quoted\" \\ tab	ctl$(printf '\001') ünïcödé €" -m 'message with "quotes"
and a second line'
check 'len(d["commit"]) == 40 and d["branch"] == "main" and d["key"] == "text"'
json get text
check 'd["value_encoding"] == "utf-8" and d["value"].startswith("line1\nline2 \"quoted\" \\ tab\tctl\x01") and d["value"].endswith("ünïcödé €")'
printf '\0\377\376binary\0' | "$GROVE" -q set bin
json get bin
check 'd["value_encoding"] == "base64" and base64.b64decode(d["value"]) == b"\0\xff\xfebinary\0" and d["size"] == 10'
printf '\303\050' | "$GROVE" -q set badutf8   # an invalid 2-byte sequence
json get badutf8; check 'd["value_encoding"] == "base64" and base64.b64decode(d["value"]) == b"\xc3\x28"'
"$GROVE" -q set 'dir/we ird"name' x
json ls; check '[e["name"] for e in d["entries"]] == ["badutf8", "bin", "dir", "text"] and d["entries"][2]["type"] == "dir"'
json ls dir; check 'd["entries"][0]["name"] == "we ird\"name" and d["entries"][0]["mode"] == "100644"'
json ls -r; check 'sorted(e["path"] for e in d["entries"] if e["type"] != "dir") == ["badutf8", "bin", "dir/we ird\"name", "text"]'
json tree; check 'd["entries"][2]["entries"][0]["name"] == "we ird\"name"'
json log
check 'len(d["commits"]) == 4 and d["commits"][-1]["message"] == "message with \"quotes\"\nand a second line\n" and d["commits"][0]["author"]["name"] == "Quote \"Tab\tBack\\slash"'
json log -n 1; check 'len(d["commits"]) == 1 and len(d["commits"][0]["parents"]) == 1'
json show; check 'd["changes"][0]["status"] == "A" and d["changes"][0]["old_id"] is None'
json diff HEAD~3 HEAD
check 'd["old"] != d["new"] and [c["path"] for c in d["changes"]] == ["badutf8", "bin", "dir/we ird\"name"]'
json branch feature; check 'd["created"] == "feature"'
"$GROVE" -q --branch feature set text changed
json branch; check 'd["head"] == "main" and [b["name"] for b in d["branches"]] == ["feature", "main"]'
json merge feature; check 'd["result"] == "fast-forward"'
json merge feature; check 'd["result"] == "up-to-date"'
"$GROVE" -q --branch feature set text feature-side
"$GROVE" -q set text main-side
rc=0; json merge feature 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "conflicting merge exited $rc"
check 'd["result"] == "conflict" and d["conflicts"][0]["path"] == "text" and d["conflicts"][0]["kind"] == "content"'
json stats; check 'd["objects"] > 0 and d["refs"] == 2'
json fsck; check 'd["problems"] == [] and d["objects_checked"] > 0'
json gc; check 'd["objects_removed"] == 0'
json export "$tmp/out.git"; check 'd["exported"].endswith("out.git")'
# Errors: a JSON error document on stdout, the message on stderr.
rc=0; json get missing 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "missing key exited $rc"
check 'd["error"]["code"] == "GROVE_ENOTFOUND" and d["error"]["exit"] == 1'
rc=0; json get 'a/../b' 2>/dev/null || rc=$?
[ "$rc" = 3 ] || fail "bad key exited $rc"
check 'd["error"]["code"] == "GROVE_EINVALID"'
echo "cli_json: ok"
