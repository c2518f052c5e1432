#!/usr/bin/env bash
# CI: the binary is self-contained, as after `cargo install --path .` and deleting the clone.
#
#   .ci/standalone-test.sh path/to/stratbox
#
# In a private mount namespace (unshare; the rest of the machine sees nothing), the binary is
# bind-mounted into an empty directory and an empty tmpfs is mounted over the whole checkout, so
# its data/, target/ and sources are gone for the process, as if the clone had been deleted. From
# there `stratbox data check` and `stratbox discover` (no --data: the bundled year) must work,
# and the results must be byte-identical (cmp) to a run reading the checkout's data file with
# --data: the file name and digest the results record are the same, so is everything else.
# Why a namespace rather than a copy of the binary and a renamed data file: nothing in the
# checkout is touched, and a binary that still read the checkout (through a path compiled in,
# say) could not find it.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:?usage: $0 path/to/stratbox}")
name=HISTDATA_COM_ASCII_EURUSD_M12018.zip
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A small grid (60 strategies x 1 lot) on the whole year: the default one takes minutes in a
# debug build, and what is checked is the data, not the grid.
cat >"$work/grid.toml" <<'EOF'
name = "standalone"
strategy = "mvt"
lots = [0.1]
[costs]
spread_points = 0
commission_per_lot = 0.0
initial_balance = 10000.0
[features]
n_mom = 10
n_vol = 20
n_fast = 10
n_slow = 50
[[axes]]
params = ["mom_th"]
values = [0.0, 0.0001, 0.0003, 0.001, 0.003]
[[axes]]
params = ["vol_max"]
values = [0.0002, 0.0012]
[[axes]]
params = ["trend_th"]
values = [0, 8, 20]
[[axes]]
params = ["sl_pips", "tp_pips"]
values = [[20, 40]]
[[axes]]
params = ["direction"]
values = ["long", "short"]
[[axes]]
params = ["max_bars"]
values = [48]
EOF

# The reference: the checkout's file, by path.
(cd "$work" && "$bin" discover -q --no-cache --grid grid.toml --data "$repo/data/$name" -o file.parquet >/dev/null 2>"$work/file.log") ||
  { cat "$work/file.log"; echo "FAIL: discover --data $name"; exit 1; }

# The same with the checkout hidden. Root needs no user namespace; others map themselves to root
# in one (refused on some systems, e.g. Ubuntu 24.04's default AppArmor policy: then run as root).
userns=()
[[ $(id -u) == 0 ]] || userns=(--map-root-user)
mkdir -p "$work/run"
touch "$work/run/stratbox"
# shellcheck disable=SC2016 # the variables are the inner shell's
unshare --mount --propagation private "${userns[@]}" env -i PATH=/usr/bin:/bin HOME="$work/run" \
  WORK="$work" BIN="$bin" REPO="$repo" NAME="$name" bash -euo pipefail -c '
    mount --bind "$BIN" "$WORK/run/stratbox"
    cp "$WORK/grid.toml" "$WORK/run/"
    mount -t tmpfs -o ro tmpfs "$REPO"
    [[ -z $(ls -A "$REPO") && ! -e $REPO/data/$NAME ]] || { echo "FAIL: the checkout is still visible"; exit 1; }
    cd "$WORK/run"
    ./stratbox data check | grep -q "^$NAME: histdata (zip), 372607 rows"
    ./stratbox discover -q --no-cache --grid grid.toml -o embedded.parquet >/dev/null 2>&1
  ' || { echo "FAIL: the binary does not run with the checkout hidden"; exit 1; }
echo "PASS: with the checkout hidden, data check and discover use the bundled year inside the binary"
if cmp "$work/file.parquet" "$work/run/embedded.parquet"; then
  echo "PASS: discover on the built-in year is byte-identical to discover --data $name"
else
  echo "FAIL: the built-in year's results differ from those of --data $name"
  exit 1
fi
