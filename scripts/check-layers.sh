#!/usr/bin/env bash
# Checks that every `#include "dir/file.h"` under src/ points to the including file's own layer or
# a lower one. The order is the "layers: a < b < ..." line of README's Layout section (lowest
# first); src/main.c is the layer "main". Exit 0 when clean, 1 with one line per violation.
# LAYERS="a b ..." overrides the order and SRC=dir the tree (to test the script itself).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
if [ -z "${LAYERS:-}" ]; then
  LAYERS=$(sed -n 's/^[[:space:]]*layers:[[:space:]]*//p' README.md | head -1 | tr -d '<' | tr -s ' ')
fi
if [ -z "$LAYERS" ]; then echo "check-layers: no 'layers: a < b < ...' line in README.md"; exit 1; fi
SRC=${SRC:-src}

declare -A rank
i=0
for l in $LAYERS; do rank[$l]=$i; i=$((i+1)); done

bad=0; files=0
while IFS= read -r f; do
  files=$((files+1))
  rel=${f#"$SRC"/}
  if [[ "$rel" == */* ]]; then own=${rel%%/*}; else own=main; fi
  if [ -z "${rank[$own]+x}" ]; then
    echo "check-layers: $f: directory '$own' is not in the layer order ($LAYERS)"; bad=$((bad+1)); continue
  fi
  while IFS=: read -r line inc; do
    dep=${inc%%/*}
    if [ -z "${rank[$dep]+x}" ]; then
      echo "check-layers: $f:$line: includes \"$inc\": '$dep' is not in the layer order"; bad=$((bad+1))
    elif [ "${rank[$dep]}" -gt "${rank[$own]}" ]; then
      echo "check-layers: $f:$line: layer '$own' includes \"$inc\" from higher layer '$dep'"; bad=$((bad+1))
    fi
  done < <(awk '/^[ \t]*#[ \t]*include[ \t]*"[^"]*\/[^"]*"/ {
                  s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s); print FNR ":" s }' "$f")
done < <(find "$SRC" \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) | sort)

if [ "$files" -eq 0 ]; then echo "check-layers: no sources under $SRC"; exit 1; fi
if [ "$bad" -gt 0 ]; then echo "check-layers: $bad violation(s) in $files files"; exit 1; fi
echo "check-layers: $files files, layer order respected ($LAYERS)"
