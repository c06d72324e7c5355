#!/usr/bin/env bash
# run.sh — the main job's checks on a real NVIDIA GPU, as one script (bench/gpu/README.md).
#
#   bench/gpu/run.sh [OUTDIR]        from the repository root; OUTDIR defaults to $OUT
#
# 1. builds hmt with nvcc (the GPT-2 kernels as PTX) into build-gpu/;
# 2. `hmt demo`: the shipped checkpoint four ways (no hmt; emulated + hints; real + hints;
#    real LRU, under one budget) with the PTX kernels on the GPU;
# 3. `hmt bench` of hmt-gpt2 with random GPT-2 124M weights at half its device footprint;
# 4. a PyTorch GPT-2 124M (transformers, random init, a few AdamW steps so the optimizer has
#    state), `hmt analyze` of it, then `hmt bench` of its greedy generation under the hints
#    and a budget of half the model's bytes — and whether text and logits match.
# Needs: the NVIDIA driver, CUDA (nvcc), cmake, ninja, gcc, python3 with torch and
# transformers; our -dev packages either installed or as .deb files in .deb/ (GPU.md).
# Writes seven small files to OUTDIR: run.log (everything printed), build.log, demo.json,
# gpt2-124M.json, gpt2-124M-stats.json, torch_hints.json, torch.json. Not yet run: no GPU was lent to
# the task that wrote it.
set -euo pipefail
out=${1:-${OUT:?give OUTDIR or set OUT}}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
exec > >(tee "$out/run.log") 2>&1

if ! pkg-config --exists libcjson 2>/dev/null && [ -d .deb ]; then
    mkdir -p /tmp/pfx && for f in .deb/*.deb; do dpkg -x "$f" /tmp/pfx; done
    export PKG_CONFIG_SYSROOT_DIR=/tmp/pfx
    export PKG_CONFIG_PATH=/tmp/pfx/usr/lib/x86_64-linux-gnu/pkgconfig
    export LD_LIBRARY_PATH=/tmp/pfx/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

echo "== build"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DHMT_WERROR=OFF >"$out/build.log" 2>&1
cmake --build build-gpu -j"$(nproc)" >>"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log"; exit 1; }
H=build-gpu/tools/hmt
G=build-gpu/bench/gpt2/hmt-gpt2
ls -l build-gpu/bench/gpt2/gpt2_kernels.ptx

echo "== demo (PTX kernels on the GPU)"
"$H" demo --dir /tmp/hmt-gpu-demo --json "$out/demo.json" || echo "demo FAILED"

echo "== hmt-gpt2, random 124M, half its footprint, LRU"
fp=$("$G" --random-weights 124M --tokens 2 --prompt ab | sed -n 's/^device_alloc_chunked_bytes: \([0-9]*\).*/\1/p')
half=$(( fp / 2 / 1048576 ))M
echo "footprint $fp bytes; budget $half"
"$H" bench --iterations 3 --warmup 1 --json "$out/gpt2-124M.json" --hbm-limit "$half" \
    --stats "$out/gpt2-124M-stats.json" -- "$G" --random-weights 124M --tokens 32 --segments \
    || echo "gpt2 124M bench FAILED"

echo "== PyTorch GPT-2 124M under hints and half its size"
ck=/tmp/hmt-gpu-torch-ckpt
python3 bench/gpu/torch_gpt2.py --config 124M --save "$ck" --train-steps 10
"$H" analyze -o "$out/torch_hints.json" "$ck"
bytes=$(python3 -c "import os;print(os.path.getsize('$ck/model.safetensors'))")
tb=$(( bytes / 2 / 1048576 ))M
echo "model.safetensors $bytes bytes; budget $tb"
"$H" bench --iterations 2 --warmup 1 --json "$out/torch.json" --hints "$out/torch_hints.json" \
    --hbm-limit "$tb" -- python3 bench/gpu/torch_gpt2.py --load "$ck" --tokens 16 \
    || echo "torch bench FAILED"
echo "== done"
