#!/bin/sh
# make bench: the CalDAV/CardDAV benchmark.  grove serve, Xandikos and
# Radicale on loopback serve the same deterministic calendar and address
# book (tools/bench/dav_gen.py) and are driven by the same C load generator
# (tools/bench/dav_load.c); the table shows throughput, p50/p99 latency per
# request type, server peak RSS, the grove/faster-peer ratio and grove's
# scaling in collection size.  See dav_bench.py for the method.
#
#   BENCH_DAV_N=n          items per collection for the comparison (10000)
#   BENCH_DAV_SCALE=a,b    other sizes grove runs at (1000,100000; "" for none)
#   BENCH_DAV_SECS=s       timed loop per request type for grove (2)
#   BENCH_DAV_PEER_SECS=s  the same for the peers (3)
#   BENCH_DAV_PEER_WARMUP=k untimed warm-up requests per type for the peers (1)
#   BENCH_DAV_PEER_TAIL=k  of the last 100 objects per collection, how many the
#                          peers get by PUT (10; the rest go into their storage;
#                          each PUT costs them ~0.1-1 s at 10k).  With these
#                          defaults the 10k comparison takes ~6 min (nproc 2)
#   BENCH_DAV_PEERS=list   xandikos,radicale ("" for grove only)
#   BENCH_DAV_OPS=list     quick mode: only these request types, e.g. MULTIGET,SYNC
#                          (GET PUTNEW PUTUPD PROPFIND QUERY MULTIGET SYNC CARDQUERY;
#                          default all).  BENCH_DAV_PEERS= BENCH_DAV_OPS=MULTIGET,SYNC
#                          runs grove alone at 10k, 1k and 100k in about a minute
#   BENCH_DAV_TMP=dir      scratch directory (default build/bench-dav-tmp.PID, removed)
#
# Data sets are made once per size and dav_gen.py version under
# build/bench-data/dav-N/ (a git repository for grove import, files for
# the peers' storage, the last 100 objects for PUTs over HTTP).
#
# usage: dav_bench.sh [GROVE_BIN]
set -eu

GROVE=${1:-build/grove}
HERE=$(dirname "$0")
DATA=build/bench-data
TMP=${BENCH_DAV_TMP:-build/bench-dav-tmp.$$}
N=${BENCH_DAV_N:-10000}
SCALE=${BENCH_DAV_SCALE-1000,100000}
PY=/usr/bin/python3

for tool in git xandikos radicale $PY cc; do
	command -v "$tool" >/dev/null 2>&1 || { echo "dav_bench: $tool missing (make deps)" >&2; exit 1; }
done

mkdir -p build/bench "$DATA"
LOAD=build/bench/dav_load
if [ ! -x "$LOAD" ] || [ "$HERE/dav_load.c" -nt "$LOAD" ]; then
	cc -O2 -std=c11 -D_GNU_SOURCE -DDAV_LOAD_STANDALONE -Wall -Wextra -Werror \
		-o "$LOAD" "$HERE/dav_load.c" -lpthread
fi

# One data set: files for the peers only at the comparison size.
GENSUM=$(sha1sum "$HERE/dav_gen.py" | cut -c1-12)
make_data() {
	n=$1
	d=$DATA/dav-$n
	[ -f "$d/stamp" ] && [ "$(cat "$d/stamp")" = "$GENSUM" ] && return 0
	echo "generating the DAV data set ($n events, $n contacts) in $d ..." >&2
	t0=$(date +%s)
	rm -rf "$d"
	mkdir -p "$d"
	rm -f "$d/nodelta"
	git init -q --bare "$d/grove.git"
	files=""
	[ "$n" = "$N" ] && files=--files
	$PY "$HERE/dav_gen.py" "$n" "$d" $files --fast-import bench |
		git -C "$d/grove.git" fast-import --quiet --done
	printf 'bench\n' | "$GROVE" -q user --htpasswd "$d/htpasswd.bcrypt" add bench --password-stdin
	echo "$GENSUM" >"$d/stamp"
	echo "  done in $(( $(date +%s) - t0 )) s" >&2
}
# No deltas in what grove imports: a store filled by DAV clients holds whole
# objects, while fast-import deltas every blob against the previous one
# (chains that grove inflates on every read: multiget ~11x slower).
undelta() {
	d=$DATA/dav-$1
	[ -f "$d/nodelta" ] && return 0
	git -C "$d/grove.git" repack -adqf --window=0 --depth=0
	touch "$d/nodelta"
}
make_data "$N"; undelta "$N"
for s in $(echo "$SCALE" | tr , ' '); do make_data "$s"; undelta "$s"; done

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "DAV server benchmark"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: nproc $(nproc), $cpu, $(uname -sr), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load average $(cut -d" " -f1-3 /proc/loadavg) at start"
echo "servers: $GROVE ($(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo '?')), xandikos $(dpkg-query -W -f='${Version}' xandikos 2>/dev/null), radicale $(dpkg-query -W -f='${Version}' radicale 2>/dev/null)"
echo "auth: grove sha256-crypt rounds=1000 htpasswd line; radicale auth none; xandikos none"

rm -rf "$TMP"
mkdir -p "$TMP"
rc=0
$PY -W ignore::DeprecationWarning "$HERE/dav_bench.py" --grove "$GROVE" --load "$LOAD" \
	--data "$DATA" --tmp "$TMP" --n "$N" --scale "$SCALE" \
	--secs "${BENCH_DAV_SECS:-2}" --peer-secs "${BENCH_DAV_PEER_SECS:-3}" \
	--peer-warmup "${BENCH_DAV_PEER_WARMUP:-1}" --peer-tail "${BENCH_DAV_PEER_TAIL:-10}" \
	--peers "${BENCH_DAV_PEERS-xandikos,radicale}" --ops "${BENCH_DAV_OPS:-}" || rc=$?
rm -rf "$TMP"
exit $rc
