#!/usr/bin/env bash
# CI: stratbox built for another CPU (aarch64-unknown-linux-gnu) and run under qemu-user.
#
#   .ci/aarch64-test.sh path/to/x86_64/stratbox
#
# Builds the binary (debug, target/cross-aarch64), cuts one month (January 2018) out of the
# bundled year at test time, and runs `discover` with the default grid on it twice: the x86_64
# binary given, and the aarch64 one under `qemu-aarch64`. The results files must be
# byte-identical (cmp): same rows, same floats to the bit, on a CPU with other instructions
# (fused multiply-add, say) and whose wasm code Cranelift generated for aarch64, which is what
# the deterministic-float design promises (SPEC section 2: integer prices, features computed by
# the host in one fixed order with no fused multiply-add; README: NaN canonicalisation and
# deterministic relaxed SIMD in the sandbox).
# Needs: rustup target aarch64-unknown-linux-gnu; gcc-aarch64-linux-gnu, libc6-dev-arm64-cross,
# qemu-user (.ci/run installs them).
set -euo pipefail

source "$(dirname "$0")/cross-lib.sh" aarch64
x86_bin=$(realpath "${1:?usage: $0 path/to/x86_64/stratbox}")
target=aarch64-unknown-linux-gnu
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)

cd "$repo"
cargo build --bin stratbox --target "$target" || fail "cargo build --target $target"
bin="$CARGO_TARGET_DIR/$target/debug/stratbox"
file "$bin" | grep -q 'ARM aarch64' || fail "$bin is not an aarch64 executable"
lap
pass "built stratbox for $target ($took)"

# January 2018 of the bundled year, as HistData ships a month (its own file name and digest).
month="$work/DAT_ASCII_EURUSD_M1_201801.csv"
python3 - "$repo/data/HISTDATA_COM_ASCII_EURUSD_M12018.zip" "$month" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    text = z.read(z.namelist()[0]).decode()
lines = [l for l in text.splitlines() if l.startswith("201801")]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
EOF

mkdir "$work/x86_64" "$work/aarch64"
(cd "$work/x86_64" && STRATBOX_CACHE_DIR="$work/x86_64/cache" "$x86_bin" discover --quiet --data "$month" -o results.parquet) \
  >"$work/x86_64.log" 2>&1 || { cat "$work/x86_64.log"; fail "discover on x86_64"; }
(cd "$work/aarch64" && STRATBOX_CACHE_DIR="$work/aarch64/cache" "${qemu[@]}" "$bin" discover --quiet --data "$month" -o results.parquet) \
  >"$work/aarch64.log" 2>&1 || { cat "$work/aarch64.log"; fail "discover under qemu-aarch64"; }
echo "aarch64-test: $(grep "^Done in" "$work/aarch64.log")"
for arch in x86_64 aarch64; do
  grep -q ', image ' "$work/$arch.log" || fail "the $arch run did not put the columns in a memory image"
done
lap
pass "discover on January 2018 under qemu-aarch64 ($took)"
for file in results.parquet results.daily.parquet; do
  if cmp "$work/x86_64/$file" "$work/aarch64/$file"; then
    pass "aarch64 $file byte-identical to x86_64's ($(stat -c %s "$work/x86_64/$file") bytes)"
  else
    fail "aarch64 and x86_64 $file differ"
  fi
done
echo "aarch64: $passed passed"
