# Helpers for the git server tests (sourced, not run): start and stop a
# `grove daemon` / `grove serve` on an ephemeral port, raw pkt-line clients.
# Expects $tmp and fail() from the test.

SERVER_PID=
PORT=
SERVER_LOG=

# start_server LOG CMD...: runs CMD (which must take port 0 and print
# "listening on ... port N") in the background and sets PORT.
start_server() {
	SERVER_LOG=$1; shift
	"$@" 2>"$SERVER_LOG" &
	SERVER_PID=$!
	local i
	for i in $(seq 1 200); do
		PORT=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\).*/\1/p' "$SERVER_LOG" | head -1)
		[ -n "$PORT" ] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SERVER_LOG" >&2; fail "server exited at start"; }
		sleep 0.05
	done
	fail "server did not start"
}

# stop_server: SIGTERM, then the server must exit 0 after a graceful stop.
stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID"
	local rc=0
	wait "$SERVER_PID" || rc=$?
	SERVER_PID=
	[ "$rc" = 0 ] || { cat "$SERVER_LOG" >&2; fail "server exited $rc after SIGTERM"; }
	grep -q "stopped" "$SERVER_LOG" || fail "server did not report a graceful stop"
}

# For the EXIT trap: never leave a server behind.
kill_server() {
	if [ -n "$SERVER_PID" ]; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}

# raw_exchange EXPR...: connects to 127.0.0.1:$PORT, sends each Python bytes
# expression in turn (pkt(b'...') frames a pkt-line), prints what came back
# (repr) until the server closes or 5 s pass.
raw_exchange() {
	/usr/bin/python3 - "$PORT" "$@" <<'PY'
import socket, sys
def pkt(b):
    return b'%04x' % (len(b) + 4) + b
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
for lit in sys.argv[2:]:
    try:
        s.sendall(eval(lit, {'pkt': pkt}))
    except OSError:
        break
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except (socket.timeout, OSError):
    pass
print(repr(got))
PY
}

# sync_client_env: for the sync tests, run from $tmp: fixed git identities,
# no system or user git config (HOME=$tmp), main as the default branch, no
# remote credentials taken from the caller's environment.
sync_client_env() {
	export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
	export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp"
	git config --global init.defaultBranch main
	unset GROVE_REMOTE_USER GROVE_REMOTE_PASSWORD GROVE_REMOTE_TOKEN || true
}

# free_port: prints a loopback TCP port that was free a moment ago.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_port PORT: waits (5 s at most) until something accepts on PORT.
wait_port() {
	for i in $(seq 1 100); do
		/usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "nothing listens on port $1"
}
