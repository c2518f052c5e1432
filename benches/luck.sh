#!/usr/bin/env bash
# Two stratbox binaries' `luck --json` on the same results (the bundled year's default
# discover, run once by BASE), interleaved round by round so that minute-to-minute noise hits
# both alike. Reports each binary's median wall-clock time and the ratio NEW / BASE, and
# whether the two JSON answers are byte-identical (they should be: a speed-up must not move a
# bit). The first round warms the caches and is not counted.
# Usage: bash benches/luck.sh BASE_BIN NEW_BIN [ROUNDS]
set -euo pipefail
base=$1 new=$2
rounds=${3:-7}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$base" discover --output "$out/results.parquet" >/dev/null 2>&1
declare -A wall
for i in $(seq 0 "$rounds"); do
  for v in base new; do
    bin=${!v}
    s=$(date +%s.%N)
    "$bin" luck "$out/results.parquet" --json >"$out/$v.json"
    e=$(date +%s.%N)
    [ "$i" = 0 ] && continue
    wall[$v]+="$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }') "
  done
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
b=$(median "${wall[base]}"); n=$(median "${wall[new]}")
printf 'luck --json on the bundled year, %s interleaved rounds (after one warm-up), median wall:\n' "$rounds"
printf '  base %s s, new %s s, ratio %s\n' "$b" "$n" "$(awk -v a="$n" -v b="$b" 'BEGIN { printf "%.3f", a / b }')"
printf '  base rounds: %s\n  new rounds:  %s\n' "${wall[base]}" "${wall[new]}"
cmp -s "$out/base.json" "$out/new.json" && echo "  JSON: identical" || { echo "  JSON: DIFFERS"; exit 1; }
