#!/bin/bash
# Crash safety: a writer committing to an lmdb: store is killed with
# SIGKILL at a random moment, again and again.  After each kill the store
# must open, fsck must be clean, and every commit the writer acknowledged
# (printed after grove_set returned) must be in the branch's history.
# Durable mode is tested ITERATIONS times; relaxed mode (GROVE_RELAXED,
# syncs every second) a few times: a process crash must not lose
# acknowledged commits there either, since they sit in the page cache.
set -u
cd "$(dirname "$0")/../.."
GROVE=${GROVE:-build/test/grove}
ITERATIONS=${CRASH_ITERATIONS:-100}
RELAXED_ITERATIONS=${CRASH_RELAXED_ITERATIONS:-10}

fail() { echo "FAIL: $*" >&2; exit 1; }

# Build the writer against the library next to the CLI under test: the
# sanitized build/test/libgrove.a, or the release build/libgrove.a.
libdir=$(dirname "$GROVE")
lib=$libdir/libgrove.a
[ -f "$lib" ] || fail "no $lib (build it with make first)"
case "$libdir" in
*test*) san="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" ;;
*) san="-O2 -g" ;;
esac
tmp=$(mktemp -d /tmp/grove-crash-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
writer=$tmp/crash_writer
# shellcheck disable=SC2086
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $san -Istore tests/crash/crash_writer.c "$lib" \
	$(pkg-config --libs libgit2 lmdb libdeflate zlib libcrypto 2>/dev/null || echo -lgit2 -llmdb -ldeflate -lz -lcrypto) \
	-lpthread -o "$writer" || fail "cannot build the crash writer"
# A private copy of the CLI: a rebuild during the run must not break it.
cp "$GROVE" "$tmp/grove" || fail "cannot copy $GROVE"
GROVE=$tmp/grove
# Leak reports of a killed process are meaningless; the CLI's are not.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

total_acked=0
# One store per mode, reused across kills: each run must also recover
# from the previous crash.
check_store() { # store mode iteration acked-file
	local store=$1 mode=$2 i=$3 acked=$4 out
	out=$("$GROVE" -C "lmdb:$store" fsck 2>&1) ||
		fail "$mode run $i: fsck after kill -9: $out"
	# The acknowledged commits are the newest ones of a linear history.
	"$GROVE" -C "lmdb:$store" log -n "$(($(wc -l <"$acked") + 10))" >"$tmp/log" 2>"$tmp/log.err" ||
		fail "$mode run $i: log after kill -9: $(cat "$tmp/log.err")"
	grep '^commit ' "$tmp/log" | cut -d' ' -f2 | sort >"$tmp/history"
	local missing
	missing=$(comm -23 "$acked" "$tmp/history")
	[ -z "$missing" ] || fail "$mode run $i: acknowledged commits lost: $missing"
}

run_mode() { # mode iterations
	local mode=$1 n=$2 store i ms pid acked_n
	for ((i = 1; i <= n; i++)); do
		# A fresh store every 25 kills keeps fsck quick; within a store
		# each run also starts from the previous crash.
		if (((i - 1) % 25 == 0)); then
			store=$tmp/store-$mode-$i
			"$GROVE" -C "lmdb:$store" init >/dev/null || fail "init $store"
		fi
		ms=$((10 + RANDOM % 291))
		"$writer" "lmdb:$store" "$mode" >"$tmp/out" 2>"$tmp/err" &
		pid=$!
		sleep "$(printf '0.%03d' "$ms")"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=$?
		# 137 = killed; anything else means the writer stopped on its own.
		[ "$rc" -eq 137 ] || fail "$mode run $i: writer exited $rc before the kill: $(cat "$tmp/err")"
		# Complete lines only: the kill may cut the last one.
		grep -E '^[0-9a-f]{40}$' "$tmp/out" | sort >"$tmp/acked"
		acked_n=$(wc -l <"$tmp/acked")
		total_acked=$((total_acked + acked_n))
		check_store "$store" "$mode" "$i" "$tmp/acked"
	done
	echo "$mode: $n kills"
}

start=$SECONDS
run_mode durable "$ITERATIONS"
run_mode relaxed "$RELAXED_ITERATIONS"
[ "$total_acked" -gt 0 ] || fail "the writer never acknowledged a commit: the test tested nothing"
echo "ok: $total_acked acknowledged commits survived $((ITERATIONS + RELAXED_ITERATIONS)) kills in $((SECONDS - start)) s"
