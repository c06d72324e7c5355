#!/usr/bin/env python3
"""gen_hooks.py — writes interpose/hooks.def from the CUDA headers (run by hand, output committed).

Why a script: the hook table must carry each exported driver function's exact parameter list
(the ABI of *that* symbol: cuMemAlloc_v2 takes size_t, the legacy cuMemAlloc an unsigned int;
cuGraphExecUpdate and cuGraphExecUpdate_v2 differ entirely). cuda.h compiled with
__CUDA_API_VERSION_INTERNAL declares every exported name under its own name, so its
preprocessed declarations are the source of truth. The families below say which functions hmt
wraps; every exported variant of a family (_v2, _v3, _ptds, _ptsz, ...) becomes a row, except
the 32-bit legacy ABIs (CUdeviceptr_v1 / unsigned int sizes), which cannot address the 64-bit
device ranges hmt manages (they are passed through; see hooks.def's header).

Usage: gen_hooks.py [--cuda-include DIR] [--stub libcuda.so] > interpose/hooks.def
The ABI of the committed table is re-checked at build time by test/interpose/abi_check.c.
Handlers already assigned in the existing hooks.def (column 2) are kept (pass --keep FILE).
"""
import argparse, re, subprocess, sys, tempfile, os

# (comment, [family base names]); a family = base + optional _vN + optional _ptds/_ptsz.
FAMILIES = [
    ("initialisation and the cuGetProcAddress door", ["cuInit", "cuGetProcAddress"]),
    ("allocation (cuMemAlloc family, stream-ordered, managed)",
     ["cuMemAlloc", "cuMemAllocPitch", "cuMemFree", "cuMemAllocAsync", "cuMemAllocFromPoolAsync",
      "cuMemFreeAsync", "cuMemAllocManaged"]),
    ("virtual memory management (VMM) and sharing",
     ["cuMemAddressReserve", "cuMemAddressFree", "cuMemCreate", "cuMemRelease", "cuMemMap",
      "cuMemMapArrayAsync", "cuMemUnmap", "cuMemSetAccess", "cuMemGetAccess",
      "cuMemRetainAllocationHandle", "cuMemExportToShareableHandle",
      "cuMemImportFromShareableHandle", "cuMemGetHandleForAddressRange", "cuIpcGetMemHandle"]),
    ("memory queries", ["cuMemGetInfo", "cuMemGetAddressRange", "cuPointerGetAttribute",
                        "cuPointerGetAttributes", "cuPointerSetAttribute"]),
    ("copies", ["cuMemcpy", "cuMemcpyAsync", "cuMemcpyPeer", "cuMemcpyPeerAsync",
                "cuMemcpyHtoD", "cuMemcpyHtoDAsync", "cuMemcpyDtoH", "cuMemcpyDtoHAsync",
                "cuMemcpyDtoD", "cuMemcpyDtoDAsync", "cuMemcpyDtoA", "cuMemcpyAtoD",
                "cuMemcpyHtoA", "cuMemcpyHtoAAsync", "cuMemcpyAtoH", "cuMemcpyAtoHAsync",
                "cuMemcpyAtoA", "cuMemcpy2D", "cuMemcpy2DUnaligned", "cuMemcpy2DAsync",
                "cuMemcpy3D", "cuMemcpy3DAsync", "cuMemcpy3DPeer", "cuMemcpy3DPeerAsync",
                "cuMemcpyBatchAsync", "cuMemcpy3DBatchAsync", "cuMemBatchDecompressAsync"]),
    ("fills", ["cuMemsetD8", "cuMemsetD16", "cuMemsetD32", "cuMemsetD2D8", "cuMemsetD2D16",
               "cuMemsetD2D32", "cuMemsetD8Async", "cuMemsetD16Async", "cuMemsetD32Async",
               "cuMemsetD2D8Async", "cuMemsetD2D16Async", "cuMemsetD2D32Async"]),
    ("stream memory operations (read or write device memory in stream order)",
     ["cuStreamWriteValue32", "cuStreamWriteValue64", "cuStreamWaitValue32",
      "cuStreamWaitValue64", "cuStreamBatchMemOp"]),
    ("managed-memory prefetch and advice", ["cuMemPrefetchAsync", "cuMemAdvise"]),
    ("kernel launches", ["cuLaunchKernel", "cuLaunchKernelEx", "cuLaunchCooperativeKernel",
                         "cuLaunchCooperativeKernelMultiDevice", "cuLaunch", "cuLaunchGrid",
                         "cuLaunchGridAsync"]),
    ("graphs: instantiate, update, launch, destroy",
     ["cuGraphInstantiate", "cuGraphInstantiateWithFlags", "cuGraphInstantiateWithParams",
      "cuGraphExecUpdate", "cuGraphExecKernelNodeSetParams", "cuGraphExecNodeSetParams",
      "cuGraphExecMemcpyNodeSetParams", "cuGraphExecMemsetNodeSetParams",
      "cuGraphExecChildGraphNodeSetParams", "cuGraphExecBatchMemOpNodeSetParams",
      "cuGraphUpload", "cuGraphLaunch", "cuGraphExecDestroy"]),
    ("synchronisation", ["cuCtxSynchronize", "cuStreamSynchronize", "cuEventSynchronize",
                         "cuStreamQuery", "cuEventQuery"]),
]
SPECIAL = {"cuGetProcAddress": "hmt_door_getproc", "cuGetProcAddress_v2": "hmt_door_getproc_v2"}
LEGACY_32BIT = re.compile(r"CUdeviceptr_v1|CUDA_MEMCPY2D_v1|CUDA_MEMCPY3D_v1|unsigned int \*free"
                          r"|unsigned int \*psize|unsigned int \*pPitch|unsigned int ByteCount"
                          r"|unsigned int srcOffset|unsigned int dstOffset")

def declarations(inc):
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write("#include <cuda.h>\n")
    out = subprocess.run(["gcc", "-E", "-P", "-D__CUDA_API_VERSION_INTERNAL", "-I", inc, f.name],
                         check=True, capture_output=True, text=True).stdout
    os.unlink(f.name)
    out = re.sub(r"\s+", " ", out)
    sig = {}
    for m in re.finditer(r"CUresult (?:__attribute__\(\(deprecated\)\) )?(\w+) ?\(([^;{]*?)\) ?;", out):
        sig[m.group(1)] = re.sub(r"\s*,\s*", ", ", m.group(2).strip())
    return sig

def arg_names(params):
    if params in ("void", ""):
        return []
    names = []
    for p in params.split(", "):
        m = re.search(r"(\w+)\s*(\[\s*\])?$", p)
        names.append(m.group(1))
    return names

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuda-include", default="/usr/local/cuda/include")
    ap.add_argument("--stub", default="/usr/local/cuda/lib64/stubs/libcuda.so")
    ap.add_argument("--keep", help="existing hooks.def whose handler column is kept")
    a = ap.parse_args()
    sig = declarations(a.cuda_include)
    nm = subprocess.run(["nm", "-D", "--defined-only", a.stub], check=True, capture_output=True,
                        text=True).stdout.split()
    exported = sorted({w for w in nm if w.startswith("cu")})
    keep = {}
    if a.keep and os.path.exists(a.keep):
        for m in re.finditer(r"^HMT_HOOK\((\w+),\s*(\w+),", open(a.keep).read(), re.M):
            keep[m.group(1)] = m.group(2)
    print(HEADER)
    seen = set()
    for comment, bases in FAMILIES:
        print(f"\n/* ---- {comment} */")
        for base in bases:
            fam = re.compile(re.escape(base) + r"(_v\d+)?(_ptds|_ptsz)?$")
            rows = [n for n in exported if fam.match(n) and n not in seen]
            if not rows:
                sys.exit(f"gen_hooks: no exported variant of {base}")
            for n in rows:
                p = sig[n]
                if LEGACY_32BIT.search(p):
                    continue
                seen.add(n)
                h = keep.get(n, SPECIAL.get(n, "FWD"))
                args = ", ".join(arg_names(p))
                if p == "void":
                    p = ""   # "()" so that handler prototypes can append params after `real`
                print(f"HMT_HOOK({n}, {h}, ({p}), ({args}))")

HEADER = """/* hooks.def — every driver function hmt wraps, under its real exported name:
 *   HMT_HOOK(name, handler, (params), (args))
 * Shapes: see internal.h. handler FWD = count and forward; otherwise a function
 * `CUresult handler(<type of hmt_real.name>, params)` defined in another interpose/ file.
 *
 * Generated by test/interpose/gen_hooks.py from cuda.h (declarations under
 * __CUDA_API_VERSION_INTERNAL, i.e. each exported symbol's own ABI) and the stub's exports;
 * test/interpose/abi_check.c re-checks every row against cuda.h at build time. Rooms change the
 * handler column by hand; to add a family, add it to FAMILIES and rerun with --keep.
 *
 * A function without parameters has `()` here (its ABI is (void)); internal.h appends params
 * after the handler's `real` argument, which a literal `void` would break.
 *
 * Left out on purpose: the 32-bit legacy ABIs (cuMemAlloc, cuMemcpyHtoD, cuMemsetD8, ... without
 * _v2: CUdeviceptr_v1 / unsigned int sizes). They cannot name the 64-bit device addresses hmt
 * hands out, so they pass through untouched (cuGetProcAddress returns the driver's pointer).
 */"""

if __name__ == "__main__":
    main()
