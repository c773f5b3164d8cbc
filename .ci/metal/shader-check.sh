#!/usr/bin/env bash
# The shaders, checked on Linux as strictly as a C++ compiler allows (no
# Metal compiler exists here; Apple's compiles them in the macOS workflow):
#   shader-check.sh [PROJECT_DIR] [FILE.metal ...]     (default: metal/*.metal)
# Needs clang 19 (setup.sh). Per shader:
# 1. clang as C++ for OpenCL 2021 (C++17 with address spaces; MSL 3.x is
#    C++17-based), -Werror, -nostdinc with msl-strict/ as <metal_stdlib>:
#    device/constant/threadgroup/thread are __global/__constant/__local/
#    __private, no double (fp64 off), no mutable program-scope variables, no
#    virtual functions, function pointers, exceptions, new/delete, VLAs,
#    static locals, no C/C++ standard header.
# 2. msl_scan.py ast: no device/constant pointer reaches an unqualified (MSL:
#    thread) pointer or reference; kernels take device/constant/threadgroup ones.
# 3. msl_scan.py ir (-O0 LLVM IR, -ffp-contract=on as MLX's metallib flags
#    leave it): from every kernel, no recursion, indirect call, exception,
#    double, i128, 64-bit atomic, mutable global, external call, and no
#    llvm.fmuladd (contraction: platform.h's pragma must cover every a*b+c).
# 4. msl_scan.py src (preprocessed): kernel arguments attributed, buffer
#    indices distinct and < 31, buffers device/constant, no long long.
# And once: cmake_metal.py metallib (the metallib's COMPILE_OPTIONS turn
# contraction off and its SOURCES are every shader).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
P="$(cd "${1:-$HERE/../..}" && pwd)"
shift || true
. "$HERE/env.sh"
command -v "$CXX" >/dev/null || { echo "shader-check: no $CXX: run $HERE/setup.sh" >&2; exit 2; }
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
S="$HERE/msl-strict"
EXT="-cl-ext=-cl_khr_fp64,-__opencl_c_fp64,-__opencl_c_program_scope_global_variables,-__opencl_c_device_enqueue,-__opencl_c_pipes"
# x86_64 target: clang has __bf16 arithmetic there (not on spir64); only the
# front end's checks and the IR matter, nothing runs.
FLAGS=(-x clcpp -cl-std=clc++2021 -cl-no-stdinc --target=x86_64-linux-gnu -Xclang "$EXT"
       -nostdinc -isystem "$S" -I "$P/csrc" -I "$P" -include "$S/prelude.h"
       -Wall -Wextra -Wno-unknown-attributes -Wdouble-promotion -Wvla -Werror)
files=("$@"); [ ${#files[@]} -gt 0 ] || files=("$P"/metal/*.metal)
rc=0
python3 "$HERE/cmake_metal.py" metallib "$P" || rc=1
for f in "${files[@]}"; do
  b="$(basename "$f" .metal)"
  echo "=== $b.metal"
  if ! "$CXX" "${FLAGS[@]}" -fsyntax-only "$f"; then
    echo "MSL-COMPILE: $b.metal: pass 1 (C++ for OpenCL 2021, -Werror) FAILED"; rc=1; continue
  fi
  echo "pass 1 (C++ for OpenCL 2021, -Werror): ok"
  "$CXX" "${FLAGS[@]}" -fsyntax-only -Xclang -ast-dump -fno-color-diagnostics "$f" > "$OUT/$b.ast.txt" 2>&1
  python3 "$HERE/msl_scan.py" ast "$OUT/$b.ast.txt" || rc=1
  if "$CXX" "${FLAGS[@]}" -O0 -gline-tables-only -ffp-contract=on -emit-llvm -S -o "$OUT/$b.ll" "$f"; then
    python3 "$HERE/msl_scan.py" ir "$OUT/$b.ll" || rc=1
  else
    echo "MSL-IR: $b.metal: no IR"; rc=1
  fi
  if "$CXX" "${FLAGS[@]}" -E -o "$OUT/$b.i" "$f"; then
    python3 "$HERE/msl_scan.py" src "$OUT/$b.i" || rc=1
  else
    rc=1
  fi
done
echo "shader-check: exit $rc"
exit $rc
