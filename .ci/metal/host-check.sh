#!/usr/bin/env bash
# The Metal host code, compiled as a macOS build compiles it, on Linux:
#   host-check.sh [PROJECT_DIR]        (setup.sh first)
# Against MLX's exact macOS headers and metal-cpp (the mlx-metal wheel),
# every C++ source _ext has when MLX has Metal (read from CMakeLists.txt),
# with MLX's INTERFACE flags (read from its CMake package), C++20 and ours
# (-Wall -Wextra -Werror on csrc/metal/). Apple's system headers that
# metal-cpp includes come from stubs/. Three standard libraries:
#   libstdc++, libc++ (Apple's), libc++ with macOS's integer model
#   (darwin-ints/: int64_t is long long) and arm64's float16_t (__fp16).
# The last gives the objects, and link_check.py: every mlx::, MTL::,
# NS::, CA:: symbol they reference must be exported by the wheel's libmlx.dylib.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
P="$(cd "${1:-$HERE/../..}" && pwd)"
. "$HERE/env.sh"
[ -d "$MLX/include/metal_cpp" ] || { echo "host-check: no MLX headers in $CACHE: run $HERE/setup.sh" >&2; exit 2; }
OUT="${OUT:-$(mktemp -d)}"; mkdir -p "$OUT"
PYI="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
mapfile -t SRCS < <(python3 "$HERE/cmake_metal.py" host-sources "$P") || exit 1
# HOST_ONLY=REGEX: only the sources it matches (the self-test's plants)
if [ -n "${HOST_ONLY:-}" ]; then mapfile -t SRCS < <(printf '%s\n' "${SRCS[@]}" | grep -E "$HOST_ONLY"); fi
read -r -a MLXFLAGS < <(python3 "$HERE/cmake_metal.py" mlx-flags "$MLX/share/cmake/MLX/MLXConfig.cmake") || exit 1
# CMake on macOS: -std=gnu++20 (CXX_STANDARD 20, extensions on), -O3
# -ffp-contract=off, MLX_SCHED_METAL, include dirs csrc and the project.
# Warnings are errors in the Metal host code (csrc/metal/: no other build
# compiles it), shown elsewhere.
FLAGS=(-std=gnu++20 -fblocks "${MLXFLAGS[@]}" -DMLX_SCHED_METAL -O3 -ffp-contract=off -Wno-deprecated-declarations
       -isystem "$HERE/stubs" -I "$P/csrc" -I "$P" -isystem "$MLX/include" -isystem "$MLX/include/metal_cpp"
       -isystem "$NB/include" -isystem "$NB/ext/robin_map/include" -isystem "$PYI")
# macOS arm64: int64_t = long long; mlx::core::float16_t = __fp16 (MLX's
# half_types.h keys it on __ARM_FEATURE_FP16_SCALAR_ARITHMETIC, which Apple
# silicon has), so names mangle as on the Mac.
MAC=(-isystem "$HERE/darwin-ints" -D__ARM_FEATURE_FP16_SCALAR_ARITHMETIC=1 -Xclang -fnative-half-arguments-and-returns
     -Xclang -fnative-half-type)
# one compile: MODE FILE [-c OBJ]; warnings are errors in the Metal host
# code (csrc/metal/: no other build compiles it), as CMake has them elsewhere
one() {
  local mode=$1 f=$2; shift 2
  local lib=(-stdlib=libc++) warn=()
  [ "$mode" = libstdc++ ] && lib=(-stdlib=libstdc++)
  [ "$mode" = macos ] && lib+=("${MAC[@]}")
  [[ $f == csrc/metal/* ]] && warn=(-Wall -Wextra -Werror)
  if [ "$#" = 0 ]; then set -- -fsyntax-only; fi
  "$CXX" "${lib[@]}" "${FLAGS[@]}" "${warn[@]}" "$P/$f" "$@" > "$OUT/$mode.$(echo "$f" | tr / _).log" 2>&1 \
    || { echo "HOST: $f does not compile ($mode):"; sed 's/^/  /' "$OUT/$mode.$(echo "$f" | tr / _).log" | head -30; return 1; }
}
# libstdc++ and libc++: syntax; macOS model: objects (-O0: every call stays a reference)
jobs=() objs=()
for f in "${SRCS[@]}"; do
  for mode in libstdc++ libc++; do one "$mode" "$f" & jobs+=($!); done
  o="$OUT/$(echo "$f" | tr / _).o"; objs+=("$o")
  one macos "$f" -O0 -c -o "$o" & jobs+=($!)
  # two compiles at a time per core
  while [ "$(jobs -rp | wc -l)" -ge "$(( $(nproc) * 2 ))" ]; do wait -n; done
done
rc=0
for j in "${jobs[@]}"; do wait "$j" || rc=1; done
echo "host: ${#SRCS[@]} sources x (libstdc++, libc++, macOS model + object): $([ $rc = 0 ] && echo ok || echo FAILED)"
[ $rc = 0 ] || { echo "host-check: exit 1"; exit 1; }
python3 "$HERE/link_check.py" "$NM" "$MLX/lib/libmlx.dylib" "${objs[@]}" || rc=1
echo "host-check: exit $rc"
exit $rc
