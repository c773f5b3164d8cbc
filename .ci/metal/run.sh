#!/usr/bin/env bash
# The Metal checks on Linux, as CI runs them (.ci/run): install what they
# need (setup.sh), the host code against MLX's macOS build (host-check.sh),
# the shaders (shader-check.sh), and the proof that each check fails on a
# planted error (selftest.sh). README "Metal" says what this does and does
# not verify.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
t0=$SECONDS
phase() {
  local t=$SECONDS
  echo "--- metal: $1"
  shift
  "$@"
  echo "--- metal: $(( SECONDS - t )) s"
}
phase "setup (clang 19, libc++ 19, mlx-metal wheel)" bash "$HERE/setup.sh"
phase "host code vs MLX 0.32.4 macOS headers and libmlx.dylib" bash "$HERE/host-check.sh"
phase "shaders" bash "$HERE/shader-check.sh"
phase "self-test: planted errors" bash "$HERE/selftest.sh"
echo "--- metal checks: $(( SECONDS - t0 )) s in all"
