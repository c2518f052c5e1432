#!/usr/bin/env bash
# End-to-end timing of `stratbox discover` on the bundled year: the trusted native engine vs the
# sandbox, same machine, same run, interleaved, best of N. Prints both and the ratio.
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
native=(); sandbox=()
for i in $(seq "$runs"); do
  for engine in native sandbox; do
    s=$(date +%s.%N)
    "$bin" discover --quiet --engine "$engine" --output "$out/$engine.parquet" "$@" >/dev/null 2>"$out/$engine.log"
    e=$(date +%s.%N)
    t=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }')
    if [ "$engine" = native ]; then native+=("$t"); else sandbox+=("$t"); fi
  done
done
n=$(printf '%s\n' "${native[@]}" | best)
w=$(printf '%s\n' "${sandbox[@]}" | best)
cmp -s "$out/native.parquet" "$out/sandbox.parquet" && same=identical || same=DIFFERENT
printf 'discover, bundled year, full default grid, best of %s:\n' "$runs"
printf '  native engine: %6.2f s\n  sandbox:       %6.2f s\n  ratio sandbox/native: %.2fx\n  results files: %s\n' "$n" "$w" "$(awk -v a="$w" -v b="$n" 'BEGIN { print a / b }')" "$same"
grep -h "peak RSS" "$out/sandbox.log" | sed 's/^/  sandbox run: /'
