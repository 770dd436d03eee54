#!/usr/bin/env bash
# The seed's three-tier Veneur deployment on 127.0.0.1, without Kubernetes:
#
#   app (veneur-emit every INTERVAL) --udp--> local veneur --gRPC--> veneur-proxy --gRPC--> 2 globals
#                                                                                   --> jsonl files
#
# Usage: examples/seed-scenario.sh            (runs until Ctrl-C, 10 s interval)
#        INTERVAL=1 DURATION=8 examples/seed-scenario.sh   (what the test does)
# Environment: INTERVAL (seconds), DURATION (seconds, 0 = until interrupted), WORKDIR (output dir),
#              BASE_PORT (first of 8 consecutive ports, default 18200).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build
INTERVAL=${INTERVAL:-10}
DURATION=${DURATION:-0}
WORKDIR=${WORKDIR:-$(mktemp -d -t veneur-seed.XXXXXX)}
P=${BASE_PORT:-18200}
LOCAL_UDP=$P LOCAL_HTTP=$((P + 1)) PROXY_GRPC=$((P + 2)) PROXY_HTTP=$((P + 3))
G1_GRPC=$((P + 4)) G1_HTTP=$((P + 5)) G2_GRPC=$((P + 6)) G2_HTTP=$((P + 7))
for b in veneur veneur-proxy veneur-emit; do
  [ -x "$BIN/$b" ] || { echo "seed-scenario: $BIN/$b missing: run make first" >&2; exit 1; }
done
mkdir -p "$WORKDIR"
pids=()
cleanup() { # newest first: the local's final flush still reaches the proxy and the globals
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

global() { # name grpc_port http_port
  cat > "$WORKDIR/$1.yaml" <<YAML
interval: "${INTERVAL}s"
hostname: $1
grpc_address: "127.0.0.1:$2"
http_address: "127.0.0.1:$3"
percentiles: [0.5, 0.99]
metric_sinks:
  - {kind: localfile, name: file, config: {flush_file: "$WORKDIR/$1.jsonl", format: jsonl}}
YAML
  "$BIN/veneur" -f "$WORKDIR/$1.yaml" 2>"$WORKDIR/$1.log" &
  pids+=($!)
}
wait_http() { # port: up to 10 s for /healthcheck (200 or 204)
  for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/healthcheck" || true)
    [ "$code" = 200 ] || [ "$code" = 204 ] && return 0
    sleep 0.1
  done
  echo "seed-scenario: nothing healthy on port $1" >&2
  return 1
}

global global-1 "$G1_GRPC" "$G1_HTTP"
global global-2 "$G2_GRPC" "$G2_HTTP"
wait_http "$G1_HTTP"; wait_http "$G2_HTTP"

cat > "$WORKDIR/proxy.yaml" <<YAML
grpc_address: "127.0.0.1:$PROXY_GRPC"
http_address: "127.0.0.1:$PROXY_HTTP"
dial_timeout: 2s
forward_addresses: ["127.0.0.1:$G1_GRPC", "127.0.0.1:$G2_GRPC"]
YAML
"$BIN/veneur-proxy" -f "$WORKDIR/proxy.yaml" 2>"$WORKDIR/proxy.log" &
pids+=($!)
wait_http "$PROXY_HTTP"

cat > "$WORKDIR/local.yaml" <<YAML
interval: "${INTERVAL}s"
hostname: local
statsd_listen_addresses: ["udp://127.0.0.1:$LOCAL_UDP"]
http_address: "127.0.0.1:$LOCAL_HTTP"
forward_address: "127.0.0.1:$PROXY_GRPC"
metric_sinks:
  - {kind: localfile, name: file, config: {flush_file: "$WORKDIR/local.jsonl", format: jsonl}}
YAML
"$BIN/veneur" -f "$WORKDIR/local.yaml" 2>"$WORKDIR/local.log" &
pids+=($!)
wait_http "$LOCAL_HTTP"
echo "seed-scenario: running in $WORKDIR (interval ${INTERVAL}s); outputs: local.jsonl global-1.jsonl global-2.jsonl"

# The application: a heartbeat counter (flushed by the local), request timings and a set of users
# (forwarded: their percentiles and unique counts come from the globals).
start=$(date +%s)
n=0
while :; do
  n=$((n + 1))
  "$BIN/veneur-emit" -hostport "udp://127.0.0.1:$LOCAL_UDP" -name heartbeat -count 1 -tag "app:seed"
  for ms in 12 30 45 80 250; do
    "$BIN/veneur-emit" -hostport "udp://127.0.0.1:$LOCAL_UDP" -name app.request -timing "${ms}ms" -tag "app:seed"
  done
  "$BIN/veneur-emit" -hostport "udp://127.0.0.1:$LOCAL_UDP" -name app.users -set "user$((n % 3))" -tag "app:seed"
  "$BIN/veneur-emit" -hostport "udp://127.0.0.1:$LOCAL_UDP" -name app.errors -count 1 -tag "app:seed,veneurglobalonly"
  if [ "$DURATION" != 0 ] && [ $(( $(date +%s) - start )) -ge "$DURATION" ]; then break; fi
  sleep "$INTERVAL"
done
