#!/usr/bin/env bash
# scripts/bench.sh - `make bench` (after build/veneur and build/bench/* are built).
# End-to-end comparison of build/veneur with Go Veneur, statsite, brubeck and the udpsink ceiling,
# plus the micro-benchmarks in build/bench/, then the issue-22 targets with a verdict each; see
# bench/README.md. Never part of pass/fail. As root, the 25m sidecar figure uses a cgroup v1 CPU
# quota under /sys/fs/cgroup/cpu (always removed).
#   BENCH_QUICK=1      ~4 minute run (fewer bisection steps, shorter trials; full ~10)
#   BENCH_ONLY=a,b     only these servers (udpsink,ours,ours_w1,ours_ssf,goveneur,statsite,brubeck)
#   BENCH_FLUSH=1      only our 1 M-series flush figures (counters; 1:1:1 counters/timers/sets) and
#                      build/bench/flush_bench, compared with latest.json (issue 22)
#   PEERS_BIN=dir      peer binaries (default $HOME/.cache/veneur-peers/bin, see
#                      ../shared/peers/README.md); a peer that is not there is skipped
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PEERS_BIN=${PEERS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/veneur-peers/bin}
SHARED_PEERS=${SHARED_PEERS:-$(dirname "$REPO")/shared/peers}
TOOLS=build/bench-tools

command -v python3 >/dev/null || { echo "bench: python3 is required" >&2; exit 1; }

# loadgen / udpsink: the peers' build if present, else compile the shared sources.
tool() {
	local t=$1
	if [ -x "$PEERS_BIN/$t" ]; then echo "$PEERS_BIN/$t"; return 0; fi
	if [ -f "$SHARED_PEERS/$t.c" ]; then
		mkdir -p "$TOOLS"
		if [ ! -x "$TOOLS/$t" ] || [ "$SHARED_PEERS/$t.c" -nt "$TOOLS/$t" ]; then
			${CC:-cc} -O2 -Wall -o "$TOOLS/$t" "$SHARED_PEERS/$t.c" >&2 || return 1
		fi
		echo "$REPO/$TOOLS/$t"; return 0
	fi
	return 1
}
LOADGEN=$(tool loadgen) || { echo "bench: no loadgen ($PEERS_BIN/loadgen or $SHARED_PEERS/loadgen.c)" >&2; exit 1; }
UDPSINK=$(tool udpsink) || { echo "bench: no udpsink; the ceiling will be skipped" >&2; UDPSINK=""; }
# SSF spans: our own standalone sender (bench/tools/, not a micro-benchmark)
SSF_LOADGEN=$TOOLS/ssf_loadgen
mkdir -p "$TOOLS"
if [ ! -x "$SSF_LOADGEN" ] || [ bench/tools/ssf_loadgen.c -nt "$SSF_LOADGEN" ]; then
	${CC:-cc} -O2 -Wall -o "$SSF_LOADGEN" bench/tools/ssf_loadgen.c >&2 || SSF_LOADGEN=""
fi
[ -n "$SSF_LOADGEN" ] && SSF_LOADGEN=$REPO/$SSF_LOADGEN

args=(--loadgen "$LOADGEN" --udpsink "$UDPSINK" --ssf-loadgen "$SSF_LOADGEN" --peers-bin "$PEERS_BIN")
[ -n "${BENCH_ONLY:-}" ] && args+=(--only "$BENCH_ONLY")
[ "${BENCH_FLUSH:-0}" = 1 ] && args+=(--flush-only)

# The orchestrator kills everything it started on exit; this trap makes sure it gets the signal.
pid=
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; }
trap 'cleanup; exit 130' INT TERM HUP
python3 bench/run_bench.py "${args[@]}" &
pid=$!
wait "$pid"
rc=$?
pid=
exit $rc
