#!/usr/bin/env bash
# CI: stratbox built for Windows (x86_64-pc-windows-gnu, Debian's mingw-w64) and run under Wine.
#
#   .ci/windows-test.sh path/to/linux/stratbox
#
# 1. Builds the binary and the library's unit tests for Windows (debug, target/cross-windows).
#    No clippy for this target: `cargo clippy` does not reuse the build (it checks every
#    dependency again: 390 CPU seconds measured), and CI's 60 minutes have no room for it.
# 2. Runs the unit tests under Wine.
# 3. Runs `discover` on the bundled year under Wine and compares the results and daily P&L
#    files with the same run of the Linux binary given: byte-identical. The year is longer than
#    one block, so both read the bars a block at a time through the `series` import (protocol
#    6); on Windows the host's side of it, and the guest's memory, are Windows code.
# Needs: rustup target x86_64-pc-windows-gnu; gcc-mingw-w64-x86-64, wine, wine64 (.ci/run
# installs them). Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, which Rust's std calls for
# random bytes, so .ci/wine/bcryptprimitives.c is built and put beside each .exe.
set -euo pipefail

source "$(dirname "$0")/cross-lib.sh" windows
linux_bin=$(realpath "${1:?usage: $0 path/to/linux/stratbox}")
target=x86_64-pc-windows-gnu
# Linker and C compiler: x86_64-w64-mingw32-gcc, the defaults of rustc and of the cc crate for
# this target.
# A Wine prefix of this test only, made on first use; no Mono or Gecko (nothing here needs them).
export WINEPREFIX="$CARGO_TARGET_DIR/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
out="$CARGO_TARGET_DIR/$target/debug"
step() { echo "windows-test: $*"; }

cd "$repo"
cargo build --bin stratbox --target "$target" || fail "cargo build --target $target"
# The unit tests' executable, as cargo names it.
unit=$(cargo test --lib --target "$target" --no-run --message-format=json-render-diagnostics |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["profile"]["test"] and m.get("executable"):
        print(m["executable"])') || fail "cargo test --lib --target $target --no-run"
[[ $unit == *.exe ]] || fail "no unit-test executable from cargo test --no-run"
lap
pass "built stratbox.exe and the library's unit tests for $target ($took)"

mkdir -p "$out"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -o "$out/bcryptprimitives.dll" \
  .ci/wine/bcryptprimitives.c -ladvapi32
cp "$out/bcryptprimitives.dll" "$out/deps/"
[[ -d $WINEPREFIX ]] || wineboot -i >/dev/null 2>&1 || true
step "wine: $(wine --version)"

if (cd "$work" && wine "$unit") >"$work/unit.log" 2>&1; then
  lap
  pass "unit tests under Wine: $(grep '^test result:' "$work/unit.log") ($took)"
else
  cat "$work/unit.log"
  fail "unit tests under Wine"
fi

# discover on the bundled year, Windows vs Linux, each with a cache of its own; both stream the
# bars (protocol 6, its Done line gives the instance memory) rather than map a memory image.
(cd "$work" && wine "$out/stratbox.exe" discover --quiet -o windows.parquet) \
  >"$work/windows.log" 2>&1 || { cat "$work/windows.log"; fail "discover under Wine"; }
step "$(grep "^Done in" "$work/windows.log")"
lap
pass "discover on the bundled year under Wine ($took)"
(cd "$work" && STRATBOX_CACHE_DIR="$work/cache" "$linux_bin" discover --quiet -o linux.parquet) \
  >"$work/linux.log" 2>&1 || { cat "$work/linux.log"; fail "discover on Linux"; }
for os in linux windows; do
  grep -q 'instance memory' "$work/$os.log" || fail "the $os run gave no instance memory: $(grep "^Done in" "$work/$os.log")"
  ! grep -q ', image ' "$work/$os.log" || fail "the $os run used a memory image instead of streaming the year"
done
for kind in "" .daily; do
  if cmp "$work/linux$kind.parquet" "$work/windows$kind.parquet"; then
    pass "Windows linux$kind.parquet of the bundled year byte-identical to Linux's ($(stat -c %s "$work/linux$kind.parquet") bytes)"
  else
    fail "Windows and Linux results differ (linux$kind.parquet)"
  fi
done
echo "windows: $passed passed"
