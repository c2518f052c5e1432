#!/usr/bin/env bash
# Time and memory against the length of the data (issue: any length in constant memory): the
# bundled 2018 year relabelled as earlier years (generated here, not committed), discover with
# the default flags on 1, 5 and 25 of them, interleaved round by round so that minute-to-minute
# noise hits every size alike. Reports per size the medians of wall time (end to end, the
# summary's luck line included), the run ("Done in"), time per bar, peak RSS (/usr/bin/time)
# and the instance memory high-water mark (the run's largest, from the "Done in" line), and
# the ratios against 1 year. Before the rounds, each size runs once with an empty cache (the
# component compiled, the data parsed): the "cold" column.
# Usage: bash benches/years.sh [BIN] [ROUNDS] [YEARS...]   (default target/release/stratbox 3 1 5 25)
set -euo pipefail
bin=$(realpath "${1:-target/release/stratbox}")
rounds=${2:-3}
shift 2 || shift $#
sizes=("${@:-1 5 25}")
read -r -a sizes <<<"${sizes[*]}"
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
most=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -1)
# One file per year, as HistData names them: 2018's bars with the year replaced.
unzip -p "$here/data/HISTDATA_COM_ASCII_EURUSD_M12018.zip" DAT_ASCII_EURUSD_M1_2018.csv >"$out/2018.csv"
for k in $(seq 0 $((most - 1))); do
  y=$((2018 - k))
  sed "s/^2018/$y/" "$out/2018.csv" >"$out/DAT_ASCII_EURUSD_M1_$y.csv"
done
rm "$out/2018.csv"
files() { for k in $(seq $(($1 - 1)) -1 0); do printf -- '--data %s ' "$out/DAT_ASCII_EURUSD_M1_$((2018 - k)).csv"; done; }
declare -A wall run rss inst bars cold
one() { # one() SIZE CACHE_DIR -> sets last_* from a discover over SIZE years
  local n=$1
  s=$(date +%s.%N)
  # shellcheck disable=SC2046
  STRATBOX_CACHE_DIR=$2 /usr/bin/time -v "$bin" discover $(files "$n") --output "$out/r$n/results.parquet" --fresh \
    >"$out/$n.out" 2>"$out/$n.log"
  e=$(date +%s.%N)
  last_wall=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }')
  last_run=$(sed -n 's/^Done in \([0-9.]*\)s.*/\1/p' "$out/$n.log")
  last_rss=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$out/$n.log" | awk '{ printf "%d", $1 / 1024 }')
  last_inst=$(sed -n 's/.*instance memory \([0-9]*\) MiB.*/\1/p' "$out/$n.log")
  bars[$n]=$(sed -n 's/^stratbox: .* on \([0-9]*\) bars.*/\1/p' "$out/$n.log")
}
for n in "${sizes[@]}"; do
  one "$n" "$out/cold-$n"
  cold[$n]=$last_wall
done
for i in $(seq 1 "$rounds"); do
  for n in "${sizes[@]}"; do
    one "$n" "$out/warm"
    wall[$n]+="$last_wall " run[$n]+="$last_run " rss[$n]+="$last_rss " inst[$n]+="$last_inst "
  done
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
base=${sizes[0]}
printf 'discover, default flags, %s interleaved rounds (medians), %s\n' "$rounds" "$(basename "$bin")"
printf '%6s %10s %8s %8s %7s %8s %10s %9s %10s %9s\n' years bars cold_s wall_s x1 run_s us/bar rss_MiB x1 inst_MiB
for n in "${sizes[@]}"; do
  w=$(median "${wall[$n]}") r=$(median "${run[$n]}") m=$(median "${rss[$n]}") im=$(median "${inst[$n]}")
  printf '%6s %10s %8s %8s %7s %8s %10s %9s %10s %9s\n' "$n" "${bars[$n]}" "${cold[$n]}" "$w" \
    "$(ratio "$w" "$(median "${wall[$base]}")")" "$r" "$(awk -v w="$w" -v b="${bars[$n]}" 'BEGIN { printf "%.2f", w / b * 1e6 }')" \
    "$m" "$(ratio "$m" "$(median "${rss[$base]}")")" "$im"
done
for n in "${sizes[@]}"; do printf '  %s years rounds: wall %s| rss %s| instance %s\n' "$n" "${wall[$n]}" "${rss[$n]}" "${inst[$n]}"; done
