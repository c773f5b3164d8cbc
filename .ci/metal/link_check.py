#!/usr/bin/env python3
"""Link check of the Metal host objects against the wheel's libmlx.dylib:
every mlx::, MTL::, NS::, CA:: symbol the objects leave undefined must be
exported by libmlx.dylib (demangled names compared). The objects are built
with macOS's integer model, so names match as they are; `long long` and
`long` are still folded together, so that a libstdc++/Linux-model object
would match too. Our own symbols (mlx_sched::) are not MLX's.
  link_check.py NM LIBMLX.dylib OBJ.o...
"""
import re
import subprocess
import sys

nm, lib, objs = sys.argv[1], sys.argv[2], sys.argv[3:]


def run(*args):
    r = subprocess.run([nm, *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{nm} {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout.splitlines()


def norm(s):
    return re.sub(r"\blong long\b", "long", s.strip())


exports = {norm(parts[2]) for parts in (l.split(" ", 2) for l in run("--defined-only", "--extern-only", "-C", lib))
           if len(parts) == 3}
if len(exports) < 1000:
    sys.exit(f"{lib}: only {len(exports)} exported symbols read: not MLX's library?")
missing, seen = [], set()
for obj in objs:
    for line in run("-u", "-C", obj):
        sym = norm(line.split("U ", 1)[1]) if "U " in line else ""
        if re.match(r"(mlx::|MTL::|NS::|CA::)", sym):
            seen.add(sym)
            if sym not in exports:
                missing.append(f"{obj.rsplit('/', 1)[-1]}: {sym}")
for m in missing:
    print("LINK: not exported by libmlx.dylib:", m)
print(f"link check: {len(seen)} MLX/metal-cpp symbols referenced by {len(objs)} objects, "
      f"{len(missing)} not exported ({len(exports)} exports in {lib.rsplit('/', 1)[-1]})")
sys.exit(1 if missing or not seen else 0)
