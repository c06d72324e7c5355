#!/usr/bin/env python3
"""Generate the sim's cuGetProcAddress table and weak driver stubs from the CUDA headers.

Why: cuGetProcAddress answers (base name, cudaVersion, flags) with the exported ABI variant the
real driver would hand out. The headers are the only public record of that mapping:

  * cudaTypedefs.h (+ GL/EGL/VDPAU/profiler typedef headers) has one typedef
    PFN_<base>_v<version>[_ptds|_ptsz] per ABI variant: <version> is the CUDA version that
    introduced it; the _ptds/_ptsz ones are the per-thread-default-stream variants. Older ABIs
    sit under `#if defined(__CUDA_API_VERSION_INTERNAL)`.
  * cuda.h (+ cudaGL.h, cudaVDPAU.h) maps each base to its current exported name
    (`#define cuMemAlloc cuMemAlloc_v2`, `#define cuLaunchKernel __CUDA_API_PTSZ(cuLaunchKernel)`),
    and declares the older exported names under __CUDA_API_VERSION_INTERNAL.

Exported names of successive ABIs of one base are base, base_v2, base_v3, ... in version order;
the newest must equal the `#define` target (checked: a mismatch stops the generator). A
per-thread typedef introduced at version W is the _ptds/_ptsz export of the legacy ABI current
at W. Every generated name is checked against `nm -D` of the toolkit's stub libcuda.so.

Outputs (committed; the build needs no Python):
  sim/procaddr_table.h  sorted static table read by sim/procaddr.c
  sim/stubs.c           a weak `CUresult name(void)` returning CUDA_ERROR_NOT_SUPPORTED for every
                        `cu*` name the stub libcuda exports (except cuGetProcAddress*, which
                        procaddr.c defines); the sim core's strong definitions override them.

Usage: python3 sim/gen_procaddr.py [--cuda /usr/local/cuda] [--out sim]   (stdlib only)
"""
import argparse
import os
import re
import subprocess
import sys

TYPEDEF_HEADERS = ["cudaTypedefs.h", "cudaGLTypedefs.h", "cudaEGLTypedefs.h",
                   "cudaVDPAUTypedefs.h", "cudaProfilerTypedefs.h"]
API_HEADERS = ["cuda.h", "cudaGL.h", "cudaEGL.h", "cudaVDPAU.h", "cudaProfiler.h"]
# Graphics interop: the real Linux driver exports these, but the toolkit's stub libcuda.so
# leaves them out, so their names are checked against the headers' declarations instead.
INTEROP_HEADERS = ["cudaGL.h", "cudaEGL.h", "cudaVDPAU.h"]

# Bases whose current `#define` target is a different function rather than a newer _vN of the
# same base, so no PFN_<base>_v<N> typedef records when the switch happened. CUDA 12.0 made
# cuGraphInstantiate an alias of cuGraphInstantiateWithFlags (cuda.h 12.0 onwards:
# `#define cuGraphInstantiate cuGraphInstantiateWithFlags`); the 11.x headers still mapped it
# to cuGraphInstantiate_v2 (PFN_cuGraphInstantiate_v11000).
ALIAS_SINCE = {"cuGraphInstantiate": 12000}

# Implemented strongly in sim/procaddr.c; no weak stub for these.
NO_STUB = {"cuGetProcAddress", "cuGetProcAddress_v2"}

PFN_RE = re.compile(r"typedef\s+(\w+)\s*\(\s*CUDAAPI\s*\*\s*PFN_(\w+)_v(\d+)(?:_(ptds|ptsz))?\s*\)")
DEFINE_RE = re.compile(r"^\s*#\s*define\s+(cu\w+)\s+(?:__CUDA_API_PT(?:DS|SZ)\(\s*(cu\w+)\s*\)|(cu\w+))\s*$")
DECL_RE = re.compile(r"\bCUDAAPI\s+(cu\w+)\s*\(")
COND_RE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")


def active_lines(path):
    """Yield (lineno, text) of lines a Linux build with __CUDA_API_VERSION_INTERNAL sees.

    Only _WIN32 conditions are false (cuWGLGetDevice is Windows-only); everything else counts
    as true, which is what we want: internal blocks hold the older ABIs, per-thread blocks
    the per-thread mappings (whose targets we strip to the legacy name anyway).
    """
    stack = []  # each: [this branch active, any branch taken]
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = COND_RE.match(line)
            if m:
                kind, cond = m.group(1), m.group(2)
                win = "_WIN32" in cond
                if kind in ("if", "ifdef", "ifndef"):
                    val = not win if kind != "ifndef" else True
                    stack.append([val, val])
                elif kind == "elif":
                    val = not stack[-1][1] and not win
                    stack[-1] = [val, stack[-1][1] or val]
                elif kind == "else":
                    stack[-1] = [not stack[-1][1], True]
                elif kind == "endif":
                    stack.pop()
                continue
            if all(s[0] for s in stack):
                yield n, line


def parse_typedefs(inc):
    """{base: {"legacy": {version}, "ptds": {version}, "ptsz": {version}}}; also return types."""
    bases, bad_ret = {}, []
    for h in TYPEDEF_HEADERS:
        path = os.path.join(inc, h)
        if not os.path.exists(path):
            sys.exit(f"gen_procaddr: {path} missing; pass --cuda <toolkit root>")
        for _, line in active_lines(path):
            m = PFN_RE.search(line)
            if not m:
                if "PFN_" in line and "typedef" in line:
                    sys.exit(f"gen_procaddr: unparsed typedef in {h}: {line.strip()}")
                continue
            ret, base, ver, pt = m.group(1), m.group(2), int(m.group(3)), m.group(4) or "legacy"
            if ret != "CUresult":
                bad_ret.append(base)
            bases.setdefault(base, {"legacy": set(), "ptds": set(), "ptsz": set()})[pt].add(ver)
    return bases, bad_ret


def parse_defines(inc):
    """{base: current exported legacy name} from the API headers' `#define base target`."""
    cur = {}
    for h in API_HEADERS:
        for _, line in active_lines(os.path.join(inc, h)):
            m = DEFINE_RE.match(line)
            if m:
                base, target = m.group(1), m.group(2) or m.group(3)
                # `#define cuGetProcAddress_v2 cuGetProcAddress_v2_ptsz` (inline wrapper) and
                # per-thread identity maps are not ABI renames.
                if target.endswith(("_ptds", "_ptsz")) or target == base:
                    continue
                cur[base] = target
    return cur


def parse_declared(inc, headers):
    """Exported names the headers declare: raw declarations plus their `#define` renames."""
    raw = set()
    for h in headers:
        for _, line in active_lines(os.path.join(inc, h)):
            raw.update(DECL_RE.findall(line))
    return raw


def cuda_version(inc):
    with open(os.path.join(inc, "cuda.h"), encoding="utf-8") as f:
        m = re.search(r"^#define CUDA_VERSION (\d+)", f.read(), re.M)
    return int(m.group(1))


def nm_exports(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    return {ln.split()[-1] for ln in out.splitlines() if ln.split() and ln.split()[-1].startswith("cu")}


def build_rows(bases, cur, exports, declared, interop):
    """Rows (base, version, variant, exported); variant in none|legacy|ptds|ptsz.

    Returns (rows, problems, notes): problems stop the generator, notes are printed.
    """
    rows, problems, notes = [], [], []
    for base in sorted(bases):
        v = bases[base]
        legacy = sorted(v["legacy"])
        names = [base] + [f"{base}_v{i}" for i in range(2, len(legacy) + 1)]
        abi = list(zip(legacy, names))
        target = cur.get(base, base)
        if base in ALIAS_SINCE:
            abi.append((ALIAS_SINCE[base], target))
        elif abi and abi[-1][1] != target:
            # cuCtxGetDevice_v2, cuCtxSynchronize_v2 (13.0), cuStreamGetCtx_v2 (12.5) are public
            # functions of their own, not `#define` renames, yet the newest PFN_<base>_v<N>
            # typedef says cuGetProcAddress(base, N) hands them out.
            if base not in cur and abi[-1][1] in declared:
                notes.append(f"{base} v{abi[-1][0]} -> {abi[-1][1]} (public _v{len(abi)}, no #define)")
            else:
                problems.append(f"{base}: {len(legacy)} typedef version(s) give {abi[-1][1]} "
                                f"but the header maps it to {target}")
        pt_rows = []
        for kind in ("ptds", "ptsz"):
            for w in sorted(v[kind]):
                at = [n for ver, n in abi if ver <= w]
                if not at:
                    problems.append(f"{base}: per-thread typedef v{w}_{kind} predates every legacy ABI")
                    continue
                pt_rows.append((base, w, kind, f"{at[-1]}_{kind}"))
        with_pt = {r[3][:-5] for r in pt_rows}
        for ver, name in abi:
            rows.append((base, ver, "legacy" if name in with_pt else "none", name))
        rows.extend(pt_rows)
    for b, ver, kind, name in rows:
        if name in exports:
            continue
        legacy_name = name[:-5] if kind in ("ptds", "ptsz") else name
        if b in interop and (legacy_name in declared or legacy_name in cur.values()):
            notes.append(f"{name}: graphics interop, declared in the headers, absent from the stub libcuda")
        else:
            problems.append(f"{b} v{ver} {kind}: {name} is not exported by the stub libcuda")
    return rows, problems, notes


VARIANT_ORDER = {"none": 0, "legacy": 0, "ptds": 1, "ptsz": 1}
VARIANT_ENUM = {"none": "HMT_SIM_PA_NONE", "legacy": "HMT_SIM_PA_LEGACY",
                "ptds": "HMT_SIM_PA_PTDS", "ptsz": "HMT_SIM_PA_PTSZ"}


def emit_table(path, rows, version, src):
    rows = sorted(rows, key=lambda r: (r[0], VARIANT_ORDER[r[2]], r[1]))
    with open(path, "w") as f:
        f.write(f"""/* Generated by sim/gen_procaddr.py (CUDA_VERSION {version}); do not edit. Sources:
 * {src}.
 *
 * Every ABI variant cuGetProcAddress can hand out: base name, CUDA version that introduced the
 * variant, stream variant, and the name the driver exports it under. Sorted by base (strcmp),
 * then legacy rows before per-thread rows, then version, so a base's rows are contiguous and
 * binary-searchable. Regenerate when the toolkit headers change.
 */
#ifndef HMT_SIM_PROCADDR_TABLE_H
#define HMT_SIM_PROCADDR_TABLE_H

/* The CUDA version these headers describe; the sim reports it as its driver version. */
#define HMT_SIM_PROCADDR_CUDA_VERSION {version}

enum hmt_sim_pa_variant {{
    HMT_SIM_PA_NONE = 0,   /* no per-thread-default-stream counterpart */
    HMT_SIM_PA_LEGACY = 1, /* legacy-stream variant that has a _ptds/_ptsz counterpart */
    HMT_SIM_PA_PTDS = 2,   /* per-thread default stream, synchronous (_ptds) */
    HMT_SIM_PA_PTSZ = 3,   /* per-thread default stream, asynchronous (_ptsz) */
}};

struct hmt_sim_pa_entry {{
    const char *base;      /* name passed to cuGetProcAddress, e.g. "cuMemAlloc" */
    int version;           /* 1000*major + 10*minor that introduced this variant */
    int variant;           /* enum hmt_sim_pa_variant */
    const char *exported;  /* exported symbol, e.g. "cuMemAlloc_v2" */
}};

static const struct hmt_sim_pa_entry hmt_sim_pa_table[] = {{
""")
        for b, v, k, e in rows:
            f.write(f'    {{"{b}", {v}, {VARIANT_ENUM[k]}, "{e}"}},\n')
        f.write(f"""}};

#define HMT_SIM_PA_TABLE_LEN {len(rows)}

#endif /* HMT_SIM_PROCADDR_TABLE_H */
""")


def emit_stubs(path, names, src):
    with open(path, "w") as f:
        f.write(f"""/* Generated by sim/gen_procaddr.py from `nm -D {src}` plus the graphics-interop
 * names of cudaGL.h/cudaEGL.h/cudaVDPAU.h (the real Linux driver exports them; the toolkit's
 * stub library does not); do not edit.
 *
 * A weak definition of every function the real driver exports, so the sim exports the same
 * names and cuGetProcAddress can hand out a pointer for every real CUDA 13 entry point, as the
 * real driver does. Each returns CUDA_ERROR_NOT_SUPPORTED (801); the sim core's strong
 * definitions override these at link time. cuda.h is deliberately not included: these
 * prototypes would clash with its declarations, and a callee that ignores its arguments is
 * safe to call with any argument list under the SysV ABI (the caller cleans up).
 * cuGetExportTable stays a stub: the real CUDA runtime needs NVIDIA's private export tables,
 * so it cannot run on the sim.
 */
#define HMT_SIM_STUB(name) \\
    __attribute__((weak, visibility("default"))) int name(void); \\
    __attribute__((weak, visibility("default"))) int name(void) {{ return 801; }}

""")
        for n in names:
            f.write(f"HMT_SIM_STUB({n})\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cuda", default="/usr/local/cuda", help="toolkit root")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output folder")
    args = ap.parse_args()
    inc = os.path.join(args.cuda, "include")
    lib = os.path.join(args.cuda, "lib64", "stubs", "libcuda.so")

    bases, bad_ret = parse_typedefs(inc)
    if bad_ret:
        sys.exit(f"gen_procaddr: typedefs not returning CUresult: {', '.join(sorted(set(bad_ret)))}")
    cur = parse_defines(inc)
    exports = nm_exports(lib)
    declared = parse_declared(inc, API_HEADERS)
    interop = parse_declared(inc, INTEROP_HEADERS)
    rows, problems, notes = build_rows(bases, cur, exports, declared, interop)
    for n in notes:
        print(f"gen_procaddr: note: {n}")
    if problems:
        sys.exit("gen_procaddr: mismatches:\n  " + "\n  ".join(problems))

    reached = {r[3] for r in rows}
    unreached = sorted(exports - reached)
    version = cuda_version(inc)
    emit_table(os.path.join(args.out, "procaddr_table.h"), rows, version,
               f"{', '.join(TYPEDEF_HEADERS)},\n * {', '.join(API_HEADERS)}")
    stubs = sorted((exports | reached) - NO_STUB)
    emit_stubs(os.path.join(args.out, "stubs.c"), stubs, "lib64/stubs/libcuda.so")
    print(f"gen_procaddr: {len(bases)} bases, {len(rows)} variants, {len(exports)} stub-lib exports, "
          f"{len(stubs)} weak stubs; exported but not reachable by cuGetProcAddress: "
          f"{', '.join(unreached) or 'none'}")


if __name__ == "__main__":
    main()
