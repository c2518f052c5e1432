#!/usr/bin/env bash
# End-to-end timing of `stratbox discover` on the bundled year: the trusted native engine vs the
# sandbox (columns in the component's memory image, the default) vs the sandbox copying the
# columns into every instance (`--copy-columns`), same machine, same run, interleaved, best of N.
# Prints all three and the ratios. The first round also warms the caches (compiled components,
# parsed data), so run with RUNS >= 2.
# Usage: bash benches/discover.sh [RUNS] [extra discover flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shift || true
cargo build --release --quiet
bin=target/release/stratbox
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
best() { sort -n | head -1; }
declare -A times
configs=(native sandbox copy)
for i in $(seq "$runs"); do
  for c in "${configs[@]}"; do
    case $c in
      native) flags=(--engine native) ;;
      sandbox) flags=() ;;
      copy) flags=(--copy-columns) ;;
    esac
    s=$(date +%s.%N)
    "$bin" discover --quiet "${flags[@]}" --output "$out/$c.parquet" "$@" >/dev/null 2>"$out/$c.log"
    e=$(date +%s.%N)
    times[$c]+="$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }') "
  done
done
b() { printf '%s\n' ${times[$1]} | best; }
n=$(b native); w=$(b sandbox); c=$(b copy)
same=identical
for x in sandbox copy; do cmp -s "$out/native.parquet" "$out/$x.parquet" || same=DIFFERENT; done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf 'discover, bundled year, full default grid, best of %s:\n' "$runs"
printf '  native engine:            %6.2f s\n' "$n"
printf '  sandbox (memory image):   %6.2f s   ratio to native %sx\n' "$w" "$(ratio "$w" "$n")"
printf '  sandbox (--copy-columns): %6.2f s   ratio to native %sx\n' "$c" "$(ratio "$c" "$n")"
printf '  results files: %s\n' "$same"
grep -h "peak RSS" "$out/sandbox.log" | sed 's/^/  sandbox run: /'
