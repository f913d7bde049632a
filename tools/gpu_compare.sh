#!/bin/sh
# Sightline's native WebGPU backend (wgpu on the machine's Vulkan driver) beside PyTorch eager on
# CUDA, for the ViT-B/32 and ViT-B/16 sizes: `rollout` against PyTorch's forward, `gradient`
# against its forward + backward. Prints one JSON object per line, then the GFLOP counts that
# turn the medians into achieved GFLOP/s (tools/clip_flops.py).
#
# Needs: a release CLI (./build.sh cli), a Vulkan loader with the GPU's driver, PyTorch with CUDA
# and transformers. Usage: tools/gpu_compare.sh [ITERS]
set -eu
cd "$(dirname "$0")/.."
iters="${1:-20}"
cli=target/release/sightline
[ -x "$cli" ] || { echo "build the CLI first: ./build.sh cli" >&2; exit 1; }
for arch in clip-vit-b32 clip-vit-b16; do
  for method in rollout gradient; do
    "$cli" bench --arch "$arch" --backend webgpu --method "$method" --iters "$iters" | tr -d '\n '
    echo
  done
  python3 tools/bench_torch.py --arch "$arch" --device cuda --iters "$iters" --warmup 3
  python3 tools/clip_flops.py --arch "$arch"
done
