#!/usr/bin/env bash
# The web view's cost to a run: `discover` and `discover --serve 127.0.0.1:0` of one binary,
# interleaved round by round, compared on the run itself (the "Done in" line: the watched run
# keeps serving until Ctrl-C after it, which this script sends once the report is up). The
# first round warms the caches and is not counted.
# Usage: bash benches/serve.sh [BIN] [ROUNDS] [extra discover flags...]
set -euo pipefail
bin=${1:-target/release/stratbox}
rounds=${2:-5}
shift 2 || shift $#
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
plain="" served=""
for i in $(seq 0 "$rounds"); do
  "$bin" discover --output "$out/plain.parquet" "$@" >/dev/null 2>"$out/plain.log"
  "$bin" discover --serve 127.0.0.1:0 --output "$out/served.parquet" "$@" >/dev/null 2>"$out/served.log" &
  pid=$!
  until grep -q "until Ctrl-C" "$out/served.log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$out/served.log"; exit 1; }
    sleep 0.1
  done
  kill -INT "$pid"
  wait "$pid" || true
  [ "$i" = 0 ] && continue
  plain+="$(sed -n 's/^Done in \([0-9.]*\)s.*/\1/p' "$out/plain.log") "
  served+="$(sed -n 's/^Done in \([0-9.]*\)s.*/\1/p' "$out/served.log") "
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
p=$(median "$plain"); s=$(median "$served")
printf 'discover %s, %s interleaved rounds, run time (Done in), medians:\n' "$*" "$rounds"
printf '  plain %s s, --serve %s s, ratio %s\n' "$p" "$s" "$(awk -v a="$s" -v b="$p" 'BEGIN { printf "%.3f", a / b }')"
printf '  plain rounds:  %s\n  served rounds: %s\n' "$plain" "$served"
cmp -s "$out/plain.parquet" "$out/served.parquet" && echo "  results files: identical" || echo "  results files: DIFFER"
