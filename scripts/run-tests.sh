#!/usr/bin/env bash
# Runs every suite (unit, unit under ASan+UBSan, end-to-end, fuzz smoke) and ends
# with one line: "N passed, N failed". Exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
FUZZ_SMOKE=${FUZZ_SMOKE:-10}      # seconds per fuzz target
FUZZ_PARSER=${FUZZ_PARSER:-30}    # the line parser gets longer (issue 3: >= 30 s)
SUITES=${SUITES:-"unit asan e2e fuzz"}
passed=0; failed=0
log=build/test-logs; mkdir -p "$log"

note() { printf '%s\n' "$*"; }
fail() { failed=$((failed+1)); note "FAIL $*"; }
pass() { passed=$((passed+1)); }

# Runs one cmocka binary; counts its test cases.
run_cmocka() {
  local bin=$1 tag=$2 out rc ok ran
  out=$("$bin" 2>&1); rc=$?
  ok=$(grep -c '^\[       OK \]' <<<"$out" || true)
  ran=$(grep -oE '^\[==========\] Running [0-9]+' <<<"$out" | awk '{s+=$3} END {print s+0}')
  passed=$((passed+ok))
  local bad=$((ran-ok))
  if [ "$bad" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; }; then
    [ "$bad" -gt 0 ] || bad=1
    failed=$((failed+bad))
    note "FAIL [$tag] $bin ($bad failing, exit $rc)"
    printf '%s\n' "$out" | grep -E 'FAILED|ERROR|error|Assert|Sanitizer|runtime error' | head -20
  fi
}

run_unit_dir() {
  local dir=$1 tag=$2
  while IFS= read -r bin; do run_cmocka "$bin" "$tag"; done < <(find "$dir" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort)
}

for s in $SUITES; do
  case $s in
  unit)
    note "== build + unit tests"
    if make -j"$JOBS" all unit-bins >"$log/build.log" 2>&1; then pass; else fail "build (see $log/build.log)"; tail -30 "$log/build.log"; fi
    run_unit_dir build/tests/unit unit ;;
  asan)
    note "== unit tests under ASan+UBSan"
    if make MODE=asan -j"$JOBS" all unit-bins >"$log/build-asan.log" 2>&1; then pass; else fail "asan build"; tail -30 "$log/build-asan.log"; fi
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_unit_dir build/asan/tests/unit asan ;;
  e2e)
    note "== end-to-end tests"
    for t in tests/e2e/[0-9]*.py; do
      [ -f "$t" ] || continue
      out=$(timeout 300 python3 "$t" 2>&1); rc=$?
      printf '%s\n' "$out" > "$log/$(basename "$t").log"
      p=$(grep -c '^PASS ' <<<"$out" || true); f=$(grep -c '^FAIL ' <<<"$out" || true)
      passed=$((passed+p)); failed=$((failed+f))
      grep '^FAIL ' <<<"$out" | head -20
      if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$t exited $rc"; tail -20 <<<"$out"; fi
    done ;;
  fuzz)
    note "== fuzz smoke (libFuzzer, ASan+UBSan)"
    if make -j"$JOBS" fuzz-build >"$log/build-fuzz.log" 2>&1; then pass; else fail "fuzz build"; tail -30 "$log/build-fuzz.log"; fi
    for bin in build/fuzz/fuzz_*; do
      [ -x "$bin" ] && [ -f "$bin" ] || continue
      name=$(basename "$bin"); secs=$FUZZ_SMOKE
      [ "$name" = fuzz_dogstatsd ] && secs=$FUZZ_PARSER
      corpus=build/fuzz/corpus/$name; mkdir -p "$corpus"
      seeds=fuzz/corpus/$name; [ -d "$seeds" ] || seeds=
      if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -artifact_prefix=build/fuzz/ "$corpus" $seeds >"$log/$name.log" 2>&1; then
        pass
      else
        fail "fuzz $name (see $log/$name.log)"; grep -E 'ERROR|SUMMARY' "$log/$name.log" | head -5
      fi
    done ;;
  esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
