# Sourced by .ci/windows-test.sh and .ci/aarch64-test.sh: what both cross tests share.
#
#   source .ci/cross-lib.sh NAME     # NAME: the target directory is target/cross-NAME
#
# Sets repo (the checkout), exports CARGO_TARGET_DIR and builds without debug info: nothing
# reads it here, and it is much of a debug build's work (the Windows debug .exe with it is
# 1.3 GB). Makes a scratch directory $work, removed on exit, and defines pass, fail and lap.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR="$repo/target/cross-${1:?usage: source .ci/cross-lib.sh NAME}"
export CARGO_PROFILE_DEV_DEBUG=false
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; exit 1; }
t=$SECONDS
# Seconds since the last lap, in $took (not a $(...) function: that would reset t in a subshell).
lap() { took="$((SECONDS - t))s"; t=$SECONDS; }
