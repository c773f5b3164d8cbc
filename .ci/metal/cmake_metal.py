#!/usr/bin/env python3
"""What a macOS (Metal) build of mlx-sched compiles, read from CMakeLists.txt
and from MLX's CMake package, so the checks follow the build and cannot
forget a file or a flag.

  cmake_metal.py host-sources PROJECT    the C++ sources of _ext when MLX has Metal
  cmake_metal.py mlx-flags MLXConfig.cmake   MLX's INTERFACE compile flags on macOS
  cmake_metal.py metallib PROJECT        checks the mlx_build_metallib call: its
      SOURCES are exactly metal/*.metal, its COMPILE_OPTIONS turn FMA contraction
      off (-ffp-contract=off: MLX's macro passes -fno-fast-math, which leaves it
      on), and it names a deployment target; prints the sources.
"""
import glob
import os
import re
import sys


def calls(text, name):
    """The argument text of every `name(...)` call (balanced parentheses, no comments)."""
    text = re.sub(r"#[^\n]*", "", text)
    for m in re.finditer(rf"\b{name}\s*\(", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield text[m.end():i - 1]


def metal_branch(text):
    m = re.search(r"elseif\s*\(\s*MLX_BUILD_METAL\s*\)(.*?)\n\s*else\s*\(\s*\)", text, re.S)
    if not m:
        sys.exit("CMakeLists.txt: no elseif(MLX_BUILD_METAL) ... else() branch")
    return m.group(1)


def host_sources(project):
    text = open(os.path.join(project, "CMakeLists.txt")).read()
    srcs = []
    for args in calls(text, "nanobind_add_module"):
        srcs += re.findall(r"\S+\.cpp\b", args)
    for args in calls(metal_branch(text), "target_sources"):
        srcs += re.findall(r"\S+\.cpp\b", args)
    if not any(s.startswith("csrc/metal/") for s in srcs):
        sys.exit("CMakeLists.txt: the Metal branch adds no csrc/metal/ source")
    print("\n".join(srcs))


def mlx_flags(config):
    flags = []
    for m in re.finditer(r"set\(MLX_CXX_FLAGS \$\{MLX_CXX_FLAGS\} ([^)]*)\)", open(config).read()):
        flags += m.group(1).split()
    if "-D_METAL_" not in flags:
        sys.exit(f"{config}: MLX's CMake package sets no -D_METAL_")
    print(" ".join(flags))


def metallib(project):
    text = open(os.path.join(project, "CMakeLists.txt")).read()
    found = list(calls(metal_branch(text), "mlx_build_metallib"))
    if len(found) != 1:
        sys.exit(f"CMakeLists.txt: {len(found)} mlx_build_metallib calls in the Metal branch, expected 1")
    keys = ("TARGET", "TITLE", "SOURCES", "INCLUDE_DIRS", "DEPS", "COMPILE_OPTIONS", "OUTPUT_DIRECTORY",
            "DEPLOYMENT_TARGET", "DEBUG")
    args, key = {}, None
    for tok in found[0].split():
        if tok in keys:
            key = tok
            args[key] = []
        elif key:
            args[key].append(tok)
    bad = []
    opts = args.get("COMPILE_OPTIONS", [])
    if "-ffp-contract=off" not in opts:
        bad.append(f"COMPILE_OPTIONS {opts or '(none)'} do not turn FMA contraction off (-ffp-contract=off)")
    if [o for o in opts if re.match(r"-ffp-contract=(on|fast)|-ffast-math|-fmetal-math-fp32-functions=fast", o)]:
        bad.append(f"COMPILE_OPTIONS {opts} turn contraction or fast math on")
    srcs = sorted(os.path.relpath(s.replace("${CMAKE_CURRENT_LIST_DIR}", project), project)
                  for s in args.get("SOURCES", []))
    shaders = sorted(os.path.relpath(s, project) for s in glob.glob(os.path.join(project, "metal", "*.metal")))
    if srcs != shaders:
        bad.append(f"SOURCES {srcs} are not the shaders {shaders}")
    if not args.get("DEPLOYMENT_TARGET"):
        bad.append("no DEPLOYMENT_TARGET")
    for b in bad:
        print(f"METALLIB: CMakeLists.txt mlx_build_metallib: {b}")
    if bad:
        sys.exit(1)
    print(f"metallib: {len(srcs)} shaders, COMPILE_OPTIONS {' '.join(opts)}, "
          f"DEPLOYMENT_TARGET {args['DEPLOYMENT_TARGET'][0]}")


if __name__ == "__main__":
    {"host-sources": host_sources, "mlx-flags": mlx_flags, "metallib": metallib}[sys.argv[1]](sys.argv[2])
