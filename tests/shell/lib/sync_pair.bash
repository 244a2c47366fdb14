# Helpers for the tests that run two `grove serve --upstream` stores on
# one real `git daemon` remote (sourced, not run).  The caller sets GROVE,
# here and tmp first; this sets up the environment, the cleanup trap and
# cd's into $tmp.
#
#   fail MSG        fails the test, with the tail of each store's log
#   start_gitd      serves $tmp/served over git:// on $GP (sets GITD_PID)
#   stop_gitd       stops it
#   seed_remote     served/up.git with one calendar pushed by plain git;
#                   sets R (its path) and UP (its URL)
#   serve NAME      starts store NAME on $UP with $SERVE_ARGS; sets NAME_PID
#                   and NAME (its base URL)
# Users: alice:pw-a; the webhook token is in $tmp/token and $TOKEN.

fail() {
	echo "FAIL: $*" >&2
	for l in "$tmp"/serve-*.log; do [ -f "$l" ] && { echo "== $l"; grep -v ' "[A-Z]* /' "$l" | tail -20; } >&2; done
	exit 1
}
. "$here/lib/git_server.bash"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$here/lib/sync_lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
. "$here/lib/dav_server.bash"
GITD_PID= A_PID= B_PID=
cleanup() {
	set +e  # wait returns the killed process's status: -e would end the trap there
	for p in "$A_PID" "$B_PID"; do [ -n "$p" ] && { kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; }; done
	[ -n "$GITD_PID" ] && { kill "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null; }
	[ -n "${KEEP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
	return 0
}
trap cleanup EXIT
cd "$tmp"
sync_client_env

GP=$(free_port)
start_gitd() {
	git daemon --export-all --enable=receive-pack --base-path="$tmp/served" --listen=127.0.0.1 --port="$GP" \
		--reuseaddr 2>>"$tmp/gitd.log" &
	GITD_PID=$!
	wait_port "$GP"
}
stop_gitd() { kill "$GITD_PID"; wait "$GITD_PID" 2>/dev/null || true; GITD_PID=; }

seed_remote() {
	mkdir served
	git init -q --bare served/up.git
	R=$tmp/served/up.git
	start_gitd
	UP="git://127.0.0.1:$GP/up.git"
	git init -q seed
	/usr/bin/python3 "$here/lib/sync_converge.py" seed seed "$tmp/manifest.json"
	git -C seed add . && git -C seed commit -qm "seed calendar" && git -C seed push -q "$UP" main ||
		fail "seeding the remote"
}

dav_users alice:pw-a
head -c 24 /dev/urandom | base64 > token
TOKEN=$(cat token)

serve() {
	local log=$tmp/serve-$1.log port= i
	# shellcheck disable=SC2086 # SERVE_ARGS is a list of options
	"$GROVE" serve --store "lmdb:$tmp/store-$1" --htpasswd "$tmp/htpasswd" --listen 127.0.0.1:0 \
		--upstream "$UP" --hook-token-file "$tmp/token" $SERVE_ARGS 2>"$log" &
	eval "$1_PID=$!"
	for i in $(seq 1 200); do
		port=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$log" | head -1)
		[ -n "$port" ] && break
		kill -0 "$(eval echo \$$1_PID)" 2>/dev/null || fail "store $1 exited at start"
		sleep 0.05
	done
	[ -n "$port" ] || fail "store $1 did not start"
	eval "$1=http://127.0.0.1:$port"
}
