#!/usr/bin/env bash
# Two stratbox binaries on the same discover, interleaved round by round on the same machine, so
# that minute-to-minute noise hits both alike: the cost of a change as a ratio against its
# baseline. Reports each binary's median of the wall-clock time, of the run itself (the
# "Done in" line, which excludes the summary printed after it) and of the peak RSS, and the
# ratios NEW / BASE. The first round warms the caches and is not counted.
# Usage: bash benches/versions.sh BASE_BIN NEW_BIN [ROUNDS] [extra discover flags...]
#   e.g. git worktree add ../base <commit> && (cd ../base && cargo build --release)
#        bash benches/versions.sh ../base/target/release/stratbox target/release/stratbox 7
set -euo pipefail
base=$1 new=$2
rounds=${3:-5}
shift 3 || shift $#
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A wall run rss
for i in $(seq 0 "$rounds"); do
  for v in base new; do
    bin=${!v}
    s=$(date +%s.%N)
    "$bin" discover --output "$out/$v/results.parquet" "$@" >"$out/$v.out" 2>"$out/$v.log"
    e=$(date +%s.%N)
    [ "$i" = 0 ] && continue
    wall[$v]+="$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }') "
    run[$v]+="$(sed -n 's/^Done in \([0-9.]*\)s.*/\1/p' "$out/$v.log") "
    rss[$v]+="$(sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' "$out/$v.log") "
  done
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
printf 'discover %s, %s interleaved rounds (after one warm-up), medians:\n' "$*" "$rounds"
printf '                 %10s %10s %8s\n' base new ratio
for m in wall run rss; do
  declare -n t=$m
  b=$(median "${t[base]}"); n=$(median "${t[new]}")
  printf '  %-14s %10s %10s %8s\n' "$m" "$b" "$n" "$(ratio "$n" "$b")"
done
printf '  base rounds: wall %s| run %s\n' "${wall[base]}" "${run[base]}"
printf '  new rounds:  wall %s| run %s\n' "${wall[new]}" "${run[new]}"
cmp -s "$out/base/results.parquet" "$out/new/results.parquet" && echo "  results files: identical" || echo "  results files: differ (expected when the change adds columns)"
