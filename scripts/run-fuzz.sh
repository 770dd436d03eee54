#!/usr/bin/env bash
# `make fuzz FUZZ_TIME=N`: runs every libFuzzer target for N seconds (ASan+UBSan), growing its
# working corpus in build/fuzz/corpus/<target>/ from the checked-in seeds in fuzz/corpus/<target>/.
# New crashes are written as build/fuzz/crash-* and fail the run. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
passed=0; failed=0
mkdir -p build/fuzz/logs
for bin in build/fuzz/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus=build/fuzz/corpus/$name; mkdir -p "$corpus"
  seeds=fuzz/corpus/$name; [ -d "$seeds" ] || seeds=
  dict=fuzz/$name.dict; [ -f "$dict" ] && dict="-dict=$dict" || dict=
  echo "== $name: ${secs}s"
  if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -artifact_prefix=build/fuzz/ $dict \
       "$corpus" $seeds >"build/fuzz/logs/$name.log" 2>&1; then
    passed=$((passed+1))
    grep -E '^#[0-9]+.*DONE' "build/fuzz/logs/$name.log" | tail -1
  else
    failed=$((failed+1))
    echo "FAIL $name (see build/fuzz/logs/$name.log)"
    grep -E 'ERROR|SUMMARY|Test unit written' "build/fuzz/logs/$name.log" | head -5
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
