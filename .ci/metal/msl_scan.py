#!/usr/bin/env python3
"""Checks of MSL rules that a C++ compiler does not enforce, on what clang
produces for a .metal file compiled as C++ for OpenCL (see shader-check.sh).

  msl_scan.py ast  AST.txt            address spaces + kernel signatures
  msl_scan.py ir   IR.ll              what the kernels can reach
  msl_scan.py src  FILE.i             the preprocessed shader: kernel arguments

ast: with OpenCL's generic address space on, an unqualified pointer or
reference accepts a __global (MSL device) one through an
<AddressSpaceConversion> to __generic. MSL has no generic address space: an
unqualified pointer/reference is `thread`, so every such conversion is an
MSL error, except the `this` of an implicit copy/move constructor (MSL copies
a struct out of device/constant memory by value). Kernels (explicit
instantiations) must take pointers and references in device/constant/
threadgroup memory only.

ir (clang -O0 -gline-tables-only -emit-llvm, -ffp-contract=on): from every
kernel (weak_odr definitions = explicit instantiations), the reachable call
graph must have no recursion, no indirect call (function pointers, virtual
calls), no exception machinery, no double, no 128-bit integers, no 64-bit
atomics, no mutable globals, no calls to anything but LLVM intrinsics, and
no llvm.fmuladd and no contract/fast flag: the IR is made with -ffp-contract=on (what MLX's metallib
flags, -fno-fast-math, leave on), so an a*b+c that the Metal compiler could
fuse into an FMA shows up unless #pragma clang fp contract(off) (platform.h's
Metal branch) covers it.

src (clang -E of the shader, line markers kept): every kernel parameter has
an [[attribute]], buffer indices (macro arithmetic evaluated) are distinct and
within Metal's 31-entry argument table, buffer parameters are device or
constant, and no `long long` (MSL has none).

Exit status 1 when a violation is found.
"""

import collections
import re
import sys


def scan_ast(path):
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    depth_re = re.compile(r"^([ |`-]*)")
    loc_re = re.compile(r"(?:(?<![\w/.])line:(\d+):\d+|(?<![\w:])col:\d+|([^\s<>,:][^<>,:]*):(\d+):\d+)")
    cur_file, cur_line = "?", 0
    parsed = []  # (depth, text, file, line)
    for ln in lines:
        depth = len(depth_re.match(ln).group(1))
        text = ln[depth:]
        # track clang's abbreviated source locations (file and line carry over)
        lt = text.find("<")
        first = None
        if lt >= 0:
            for m in loc_re.finditer(text[lt:text.find(">", lt) + 1 if ">" in text[lt:] else len(text)]):
                if m.group(1):
                    cur_line = int(m.group(1))
                elif m.group(2):
                    cur_file, cur_line = m.group(2), int(m.group(3))
                if first is None:
                    first = (cur_file, cur_line)
        f, l = first if first else (cur_file, cur_line)
        parsed.append((depth, text, f, l))

    bad = []
    func = "?"
    stack = []  # (depth, text)
    for i, (depth, text, f, l) in enumerate(parsed):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if text.startswith("FunctionDecl") or text.startswith("CXXMethodDecl"):
            m = re.search(r" (\w+) '", text)
            func = m.group(1) if m else "?"
            if "explicit_instantiation_definition" in text:
                sig = re.search(r"'[^']*\((.*)\)'", text)
                params = sig.group(1).split(", ") if sig else []
                for p in params:
                    if ("*" in p or "&" in p) and not re.search(r"__(global|constant|local)\b[^*&]*[*&]", p):
                        bad.append(f"{f}:{l}: kernel {func}: parameter '{p}' is not a device/constant/threadgroup "
                                   "pointer or reference")
        if "<AddressSpaceConversion>" in text and "__generic" in text:
            child = parsed[i + 1][1] if i + 1 < len(parsed) else ""
            src = re.search(r"'([^']*)'", child)
            src_t = src.group(1) if src else ""
            if re.search(r"__(global|constant|local)\b", src_t):
                parent = stack[-1][1] if stack else ""
                implicit_copy = parent.startswith("CXXConstructExpr") and re.search(
                    r"'void \((const )?__generic \w+ &&?\) __generic", parent)
                if not implicit_copy:
                    what = parent.split(" ")[0] if parent else "?"
                    bad.append(f"{f}:{l}: in {func}: '{src_t}' converted to an unqualified (MSL: thread) "
                               f"pointer/reference ({what})")
        stack.append((depth, text))
    for b in sorted(set(bad)):
        print("MSL-AS:", b)
    print(f"ast: {len(set(bad))} address-space/kernel-signature finding(s)")
    return 1 if bad else 0


def scan_ir(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    # metadata: !N = !DILocation(line: L, column: C, scope: !S) ; scopes -> file
    md = {}
    for m in re.finditer(r"^(![0-9]+) = (?:distinct )?(!\w+\(.*\))$", text, re.M):
        md[m.group(1)] = m.group(2)

    def file_of(scope, seen=0):
        s = md.get(scope, "")
        if s.startswith("!DIFile"):
            fm = re.search(r'filename: "([^"]*)"', s)
            return fm.group(1) if fm else "?"
        fm = re.search(r"file: (![0-9]+)", s)
        if fm:
            return file_of(fm.group(1), seen + 1)
        sm = re.search(r"scope: (![0-9]+)", s)
        return file_of(sm.group(1), seen + 1) if sm and seen < 50 else "?"

    def where(line):
        dm = re.search(r"!dbg (![0-9]+)", line)
        if not dm:
            return "?"
        loc = md.get(dm.group(1), "")
        lm = re.search(r"line: (\d+)", loc)
        sm = re.search(r"scope: (![0-9]+)", loc)
        return f"{file_of(sm.group(1)) if sm else '?'}:{lm.group(1) if lm else '?'}"

    funcs = {}  # name -> (linkage line, body lines)
    declared = set()
    cur = None
    for line in text.splitlines():
        if line.startswith("define "):
            m = re.search(r"@([\w.$]+)\(", line)
            cur = m.group(1)
            funcs[cur] = (line, [])
        elif line.startswith("declare "):
            m = re.search(r"@([\w.$]+)\(", line)
            declared.add(m.group(1))
        elif line.startswith("}"):
            cur = None
        elif cur:
            funcs[cur][1].append(line)
    mutable_globals = set(re.findall(r"^@([\w.$]+) = (?:[\w()]+ )*global ", text, re.M))
    kernels = [n for n, (hdr, _) in funcs.items() if hdr.startswith("define weak_odr")]
    callee_re = re.compile(r"([@%][\w.$-]+)\(")
    graph = collections.defaultdict(set)
    bad, fmas = [], []
    for name, (_, body) in funcs.items():
        for line in body:
            s = line.strip()
            if re.match(r"(%\S+ = )?(tail |musttail )?(call|invoke) ", s):
                cm = callee_re.search(s[s.index("call") if "call" in s else 0:])
                callee = cm.group(1) if cm else "?"
                if callee.startswith("%"):
                    graph[name].add("<indirect>")
                    bad.append((name, f"indirect call ({where(s)})"))
                else:
                    graph[name].add(callee[1:])
                if "llvm.fmuladd" in s:
                    fmas.append((name, where(s)))
    reach, todo = set(), list(kernels)
    while todo:
        f = todo.pop()
        if f in reach:
            continue
        reach.add(f)
        todo.extend(c for c in graph[f] if c in funcs)
    # recursion: a cycle among reachable functions
    color = {}

    def dfs(u, path):
        color[u] = 1
        for v in graph[u]:
            if v not in funcs:
                continue
            if color.get(v) == 1:
                bad.append((u, "recursion: " + " -> ".join(path[path.index(v):] + [v])))
            elif v not in color:
                dfs(v, path + [v])
        color[u] = 2

    for k in kernels:
        if k not in color:
            dfs(k, [k])
    for f in sorted(reach):
        for line in funcs[f][1]:
            s = line.strip()
            checks = [
                # arithmetic/conversions only: x86-64's ABI passes a uint2 as a double
                (r"\b(fadd|fsub|fmul|fdiv|frem|fneg|fcmp|fpext|fptrunc|sitofp|uitofp|fptosi|fptoui)\b.*\bdouble\b"
                 r"|\bf64\b", "double"),
                (r"\bi128\b", "128-bit integer"),
                (r"\b(invoke|landingpad|resume)\b|__cxa_", "exception machinery"),
                (r"\b(atomicrmw|cmpxchg)\b.*\bi64\b", "64-bit atomic"),
                # fast-math flags that let the code generator fuse or reorder
                (r"= (fadd|fsub|fmul|fneg|fdiv|frem)((?: (?:nnan|ninf|nsz|arcp|afn))*) (contract|reassoc|fast)\b",
                 "contraction: an operation marked contract/fast"),
            ]
            for pat, what in checks:
                if re.search(pat, s):
                    bad.append((f, f"{what} ({where(s)})"))
            for g in re.findall(r"@([\w.$]+)\b(?!\()", s):
                if g in mutable_globals:
                    bad.append((f, f"mutable global @{g} ({where(s)})"))
        for c in graph[f]:
            if c in declared and not c.startswith("llvm."):
                bad.append((f, f"call to external function {c}"))
    where_fns = collections.defaultdict(set)
    for f, why in bad:
        where_fns[why].add(f)
    for why, fns in sorted(where_fns.items()):
        more = f" and {len(fns) - 1} more" if len(fns) > 1 else ""
        print(f"MSL-IR: {why} [in {min(fns)}{more}]")
    reach_fmas = [(f, w) for f, w in fmas if f in reach]
    by_loc = collections.Counter(w for _, w in reach_fmas)
    for w, n in sorted(by_loc.items()):
        print(f"MSL-IR: contraction: {w}: {n} a*b+c the Metal compiler may fuse into an FMA (llvm.fmuladd)")
    print(f"ir: {len(kernels)} kernels, {len(reach)} reachable functions, {len(where_fns)} violation(s), "
          f"{len(reach_fmas)} contractible a*b+c at {len(by_loc)} source lines")
    if not kernels:
        print("MSL-IR: no kernel found (no explicit instantiation): nothing was checked")
    return 1 if bad or reach_fmas or not kernels else 0


MAX_BUFFERS = 31  # Metal's buffer argument table: [[buffer(0)]] .. [[buffer(30)]]


def scan_src(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    # where each preprocessed line came from (clang -E line markers)
    origin, cur_file, cur_line, out = [], "?", 1, []
    for ln in text.split("\n"):
        m = re.match(r'# (\d+) "([^"]*)"', ln)
        if m:
            cur_line, cur_file = int(m.group(1)), m.group(2)
            out.append("")
            origin.append((cur_file, 0))
            continue
        out.append(ln)
        origin.append((cur_file, cur_line))
        cur_line += 1
    src = "\n".join(out)
    src = re.sub(r"//[^\n]*|/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), src, flags=re.S)

    def where(pos):
        f, l = origin[src.count("\n", 0, pos)]
        return f"{f}:{l}"

    def value(expr):
        if not re.fullmatch(r"[0-9+\-*() ]+", expr):
            return None
        return eval(expr, {"__builtins__": {}})  # digits and + - * ( ) only

    bad, nkernels = [], 0
    for m in re.finditer(r"\[\[\s*kernel\b[^\]]*\]\]\s*void\s+(\w+)\s*\((.*?)\)\s*\{", src, re.S):
        nkernels += 1
        name, at = m.group(1), where(m.start())
        params = [p.strip() for p in re.split(r",(?![^\[]*\]\])", m.group(2)) if p.strip()]
        seen = collections.defaultdict(list)
        for p in params:
            a = re.search(r"\[\[\s*(\w+)\s*(?:\(([^)]*)\))?\s*\]\]\s*$", p)
            if not a:
                bad.append(f"{at}: kernel {name}: parameter '{p}' has no [[attribute]]")
                continue
            idx = None
            if a.group(2) is not None:
                idx = value(a.group(2))
                if idx is None:
                    bad.append(f"{at}: kernel {name}: [[{a.group(1)}({a.group(2)})]] is not a constant index")
                    continue
            seen[(a.group(1), idx)].append(p)
            if a.group(1) == "buffer":
                if not re.match(r"(const\s+)?__(global|constant)\b", p):
                    bad.append(f"{at}: kernel {name}: buffer parameter '{p}' is not device/constant")
                if not 0 <= idx < MAX_BUFFERS:
                    bad.append(f"{at}: kernel {name}: [[buffer({idx})]] is outside Metal's {MAX_BUFFERS} buffer slots")
        for (attr, idx), ps in seen.items():
            if len(ps) > 1 and idx is not None:
                bad.append(f"{at}: kernel {name}: [[{attr}({idx})]] bound {len(ps)} times")
        nbuf = sum(1 for (attr, _), ps in seen.items() if attr == "buffer")
        print(f"src: kernel {name}: {len(params)} parameters, {nbuf} buffers")
    for m in re.finditer(r"\blong\s+long\b|\b\d+[uU]?(ll|LL)\b", src):
        bad.append(f"{where(m.start())}: '{m.group(0)}': MSL has no long long")
    if not nkernels:
        bad.append(f"{path}: no [[kernel]] found")
    for b in sorted(set(bad)):
        print("MSL-SRC:", b)
    print(f"src: {nkernels} kernel templates, {len(set(bad))} finding(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    mode = sys.argv[1]
    rc = {"ast": lambda: scan_ast(sys.argv[2]), "ir": lambda: scan_ir(sys.argv[2]),
          "src": lambda: scan_src(sys.argv[2])}[mode]()
    sys.exit(rc)
