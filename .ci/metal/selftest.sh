#!/usr/bin/env bash
# Shows that every check of .ci/metal can fail: each plant below puts one
# violation into a copy of the project, runs the check that should catch it
# (on the planted file only, for speed) and expects a failing exit status
# and the named report.
#   selftest.sh [PROJECT_DIR]
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
P="$(cd "${1:-$HERE/../..}" && pwd)"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
fails=0 n=0

# plant NAME CHECK FILE EDITS EXPECTED-REGEX
#   EDITS: "old\n=>\nnew" replacements (first occurrence), several joined by "\n@@\n"
#   CHECK: shader (shader-check.sh; on FILE alone when it is a shader) or
#          host (host-check.sh on FILE alone)
plant() {
  local name=$1 check=$2 file=$3 edit=$4 want=$5 out rc
  n=$((n + 1))
  rm -rf "$T/p" && mkdir -p "$T/p" && cp -r "$P/metal" "$P/csrc" "$P/CMakeLists.txt" "$P/pyproject.toml" "$T/p/"
  if ! python3 - "$T/p/$file" "$edit" <<'PY'
import sys
path, edits = sys.argv[1], sys.argv[2]
s = open(path).read()
for edit in edits.split("\n@@\n"):
    old, new = edit.split("\n=>\n", 1)
    if old not in s:
        sys.exit(f"plant: {old!r} not in {path}")
    s = s.replace(old, new, 1)
open(path, "w").write(s)
PY
  then echo "BROKEN PLANT: $name"; fails=$((fails + 1)); return; fi
  if [ "$check" = shader ]; then
    local files=(); [[ $file == metal/*.metal ]] && files=("$T/p/$file")
    out="$(OUT="$T/out" bash "$HERE/shader-check.sh" "$T/p" "${files[@]}" 2>&1)"; rc=$?
  else
    out="$(OUT="$T/out" HOST_ONLY="^$file\$" bash "$HERE/host-check.sh" "$T/p" 2>&1)"; rc=$?
  fi
  if [ $rc -ne 0 ] && grep -Eq -- "$want" <<<"$out"; then
    echo "caught ($check): $name"
  else
    echo "MISSED ($check, exit $rc): $name -- wanted /$want/"; sed 's/^/    /' <<<"$out" | tail -15
    fails=$((fails + 1))
  fi
}

O=metal/optim_kernels.metal S=metal/sched_kernels.metal
K='  if ((int32_t)chunk.x >= args.nchunks) return;'  # a line of the fused kernel
J='  if (j >= args.N || g >= args.G) return;'        # a line of sched_steps (its first; sched_range's too)
FUSED='template <int KIND>
[[kernel,'
STEPS='template <typename T>
[[kernel]] void sched_steps('

# --- shaders, the compiler (pass 1): what C++ for OpenCL forbids as MSL does
plant "double" shader $O "$K
=>
  lr_out[0] = (float)(args.R * 0.5);
$K" "double precision constant requires cl_khr_fp64"
plant "virtual function" shader $O "$FUSED
=>
struct sched_base { virtual int f() const { return 1; } };
$FUSED" "virtual functions are not supported"
plant "function pointer" shader $O "$K
=>
  float (*fp)(float) = &sched_sqrt; lr_out[0] = fp(1.0f);
$K" "pointers to functions are not allowed"
plant "exception" shader $O "$K
=>
  if (args.R < 0) throw 1;
$K" "exceptions disabled"
plant "mutable global" shader $S "$STEPS
=>
device int sched_calls = 0;
$STEPS" "program scope variable must reside in constant address space"
plant "static local" shader $O "$K
=>
  static int calls = 0; ++calls;
$K" "static local variable must reside in constant address space"
plant "standard header" shader $S '#include "math/schedule.h"
=>
#include <cmath>
#include "math/schedule.h"' "'cmath' file not found"
# --- shaders, address spaces (AST scan)
plant "device pointer as a thread pointer" shader $S "$J
=>
  const float* first = out; out[0] = first[1];
$J" "MSL-AS: .*sched_kernels.metal:[0-9]+: in sched_steps: '__global float \*' converted"
plant "device struct as a thread this" shader $S "$STEPS
=>
struct sched_box { int v; int get() const { return v; } };
$STEPS
@@
$J
=>
  out[0] = (float)((device const sched_box*)program)->get();
$J" "MSL-AS: .*'const __global sched_box \*' converted"
plant "thread pointer kernel argument" shader $O "    device float* lr_out [[buffer(4)]],
=>
    float* lr_out [[buffer(4)]]," "(kernel sched_fused_step: parameter '__generic float|cannot pass pointer to address space '__generic')"
# --- shaders, what the kernels reach (IR scan)
plant "recursion" shader $S "$STEPS
=>
inline int sched_down(int n) { return n > 0 ? sched_down(n - 1) : 0; }
$STEPS
@@
$J
=>
  out[0] = (float)sched_down(g);
$J" "MSL-IR: recursion: .*sched_down"
plant "64-bit atomic" shader $O "$K
=>
  __atomic_fetch_add(step_out, (uint64_t)1, __ATOMIC_RELAXED);
$K" "MSL-IR: 64-bit atomic"
plant "contraction (no pragma)" shader csrc/math/platform.h "#pragma clang fp contract(off)
=>
" "MSL-IR: contraction: .*schedule.h:[0-9]+: .*llvm.fmuladd"
plant "contraction (pragma fast in a kernel)" shader $S "$STEPS
=>
template <typename T>
[[kernel]] void sched_steps_planted(device float* out [[buffer(0)]]) {
#pragma clang fp contract(fast)
  out[0] = out[1] * out[2] + out[3];
}
instantiate_kernel("sched_steps_planted", sched_steps_planted, float)
$STEPS" "MSL-IR: contraction: an operation marked contract/fast"
plant "contraction (metallib options)" shader CMakeLists.txt "    COMPILE_OPTIONS -ffp-contract=off
=>
" "METALLIB: .*do not turn FMA contraction off"
plant "a shader the metallib forgets" shader CMakeLists.txt '${CMAKE_CURRENT_LIST_DIR}/metal/optim_kernels.metal
=>
' "METALLIB: .*SOURCES .* are not the shaders"
# --- shaders, the kernel arguments (preprocessed source)
plant "buffer index past Metal's 31" shader $S "    constant sched_eval_args& args [[buffer(3)]],
=>
    constant sched_eval_args& args [[buffer(31)]]," "MSL-SRC: .*sched_steps: \[\[buffer\(31\)\]\] is outside Metal's 31"
plant "slot list and slot count disagree" shader metal/kernel_names.h "X(24, 30)
=>
X(24, 31)" "the slot list and its count agree"
plant "buffer index twice" shader $S "    device T* out [[buffer(2)]],
=>
    device T* out [[buffer(1)]]," "MSL-SRC: .*sched_range: \[\[buffer\(1\)\]\] bound 2 times"
plant "argument without attribute" shader $S "    uint2 gid [[thread_position_in_grid]]) {
  int64_t j = gid.x;
=>
    uint2 gid) {
  int64_t j = gid.x;" "MSL-SRC: .*parameter 'uint2 gid' has no \[\[attribute\]\]"
plant "long long" shader $S "$J
=>
  long long big = 1; out[0] = (float)big;
$J" "MSL-SRC: .*'long long': MSL has no long long"

# --- host code against MLX's macOS headers and libmlx.dylib
F=csrc/metal/fused_step.cpp
plant "MLX symbol libmlx.dylib does not export" host $F '  auto& enc = mx::metal::get_command_encoder(s);
=>
  (void)mx::current_binary_dir();
  auto& enc = mx::metal::get_command_encoder(s);
@@
#include "primitives.h"
=>
#include "primitives.h"
#include "mlx/backend/common/utils.h"' "LINK: not exported by libmlx.dylib: .*mlx::core::current_binary_dir\(\)"
plant "macOS int64_t (long long)" host $F '  auto& enc = mx::metal::get_command_encoder(s);
=>
  const long most = std::max(plan.table.size() > 0 ? int64_t{1} : int64_t{0}, 0L);
  (void)most;
  auto& enc = mx::metal::get_command_encoder(s);' "HOST: csrc/metal/fused_step.cpp does not compile \(macos\)"
plant "metal-cpp API" host $F "kernel->maxTotalThreadsPerThreadgroup() < SCHED_OPT_LANES
=>
kernel->maxThreadsPerThreadgroup() < SCHED_OPT_LANES" "no member named 'maxThreadsPerThreadgroup'"
plant "warning in the Metal host code" host $F "    for (int k = 0; k < SCHED_METAL_OPT_SLOTS; ++k) {
=>
    for (int k = 0; k < plan.table.size(); ++k) {" "Werror,-Wsign-compare"

echo "selftest: $((n - fails)) of $n plants caught"
[ $fails = 0 ]
