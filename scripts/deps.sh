#!/usr/bin/env bash
# Installs the Debian packages and npm modules veneur-c builds and tests with.
# As root it apt-get installs what is missing; otherwise it only reports.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(build-essential pkg-config clang libclang-rt-14-dev libyaml-dev libmicrohttpd-dev libssl-dev openssl
      zlib1g-dev libcmocka-dev libprotobuf-c-dev protobuf-c-compiler python3 nodejs npm
      libcurl4-openssl-dev libsnappy-dev libxxhash-dev libnghttp2-dev librdkafka-dev libre2-dev libdouble-conversion-dev libc-ares-dev prometheus prometheus-node-exporter yamllint curl
      python3-protobuf protobuf-compiler)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm may come from the node image instead of Debian's package.
if [ ${#missing[@]} -gt 0 ] && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = npm ] || [ "$p" = nodejs ] && command -v node >/dev/null && continue; tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
fi
# npm packages the tests use (pinned by each package-lock.json): statsd clients and the gRPC peer
# for the e2e tests, the OpenTelemetry JS SDK for the OTLP ones (tests/e2e/otel), the s3rver fake
# S3 server for the s3 sink's, kubernetes-models for the deployment checks.
for d in tests/e2e/node tests/e2e/s3 tests/e2e/otel tests/deploy; do
  if [ -f "$d/package.json" ] && { [ ! -f "$d/node_modules/.package-lock.json" ] ||
       [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; }; then
    (cd "$d" && { npm ci --silent --no-audit --no-fund >/dev/null 2>&1 || npm install --silent --no-audit --no-fund >/dev/null; })
  fi
done
