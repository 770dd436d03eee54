#!/usr/bin/env bash
# `make fuzz FUZZ_TIME=N`: runs every libFuzzer target for N seconds (ASan+UBSan), growing its
# working corpus in build/fuzz/corpus/<target>/ from the checked-in seeds in fuzz/corpus/<target>/.
# New crashes are written as build/fuzz/crash-* and fail the run. Ends with "N passed, N failed".
# Per target: fuzz/<target>.dict (libFuzzer dictionary) and fuzz/<target>.options (one libFuzzer
# flag per line, e.g. -max_len=200000; '#' comments and blank lines ignored).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
secs=${1:-60}
passed=0; failed=0
mkdir -p build/fuzz/logs
for bin in build/fuzz/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus=build/fuzz/corpus/$name; mkdir -p "$corpus"
  seeds=fuzz/corpus/$name; [ -d "$seeds" ] || seeds=
  dict=fuzz/$name.dict; [ -f "$dict" ] && dict="-dict=$dict" || dict=
  opts=
  if [ -f "fuzz/$name.options" ]; then
    bad=
    while IFS= read -r line || [ -n "$line" ]; do
      line=${line%%#*}; line=${line#"${line%%[![:space:]]*}"}; line=${line%"${line##*[![:space:]]}"}
      [ -n "$line" ] || continue
      if [[ "$line" != -*=* || "$line" == *" "* ]]; then bad=$line; break; fi
      opts="$opts $line"
    done < "fuzz/$name.options"
    if [ -n "$bad" ]; then
      failed=$((failed+1)); echo "FAIL $name: bad line in fuzz/$name.options: $bad"; continue
    fi
  fi
  echo "== $name: ${secs}s${opts}"
  # shellcheck disable=SC2086
  if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -artifact_prefix=build/fuzz/ $dict $opts \
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
