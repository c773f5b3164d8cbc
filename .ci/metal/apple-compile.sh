#!/usr/bin/env bash
# macOS only (the GitHub workflow): the shaders through Apple's Metal
# compiler, the one real shader compile we have.
#   apple-compile.sh [PROJECT_DIR]
# Each shader is compiled with the flags of MLX's mlx_build_metallib macro
# plus ours (COMPILE_OPTIONS, DEPLOYMENT_TARGET, as CMakeLists.txt passes
# them; the shaders include no MLX header), warnings as errors, to AIR; then its LLVM text must hold no
# contraction: no llvm.fmuladd, no contract/fast flag (explicit metal::fma,
# air.fma, are counted, not refused).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
P="$(cd "${1:-$HERE/../..}" && pwd)"
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
xcrun -sdk macosx metal --version
python3 "$HERE/cmake_metal.py" metallib "$P"
FLAGS=(-Wall -Wextra -fno-fast-math -Wno-c++17-extensions -Wno-c++20-extensions -Wmetal-addr-spaces
       -ffp-contract=off -mmacosx-version-min=14.0 -Werror -I "$P" -I "$P/csrc")
rc=0
for f in "$P"/metal/*.metal; do
  b="$(basename "$f" .metal)"
  xcrun -sdk macosx metal "${FLAGS[@]}" -c "$f" -o "$OUT/$b.air"
  xcrun -sdk macosx metal "${FLAGS[@]}" -S -emit-llvm "$f" -o "$OUT/$b.ll"
  fmuladd=$(grep -c 'llvm\.fmuladd' "$OUT/$b.ll" || true)
  flags=$(grep -Ec '= (fadd|fsub|fmul|fneg|fdiv)( [a-z]+)* (contract|reassoc|fast)\b' "$OUT/$b.ll" || true)
  fma=$(grep -c 'air\.fma' "$OUT/$b.ll" || true)
  echo "$b.metal: Apple's compiler ok; $fmuladd llvm.fmuladd, $flags contract/fast operations, $fma explicit fma calls"
  [ "$fmuladd" = 0 ] && [ "$flags" = 0 ] || { echo "APPLE: $b.metal: contraction left on"; rc=1; }
done
xcrun -sdk macosx metal -mmacosx-version-min=14.0 "$OUT"/*.air -o "$OUT/mlx_sched.metallib"
echo "apple-compile: exit $rc"
exit $rc
