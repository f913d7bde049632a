#!/usr/bin/env python3
"""Floating-point operations of one CLIP explanation at the benchmark's sizes, for GFLOP/s.

Counts the matrix products only (2 FLOPs per multiply-add; layer norms, activations and softmax
are a few percent and left out). `forward` is both towers for one 224 px image and one 7-token
text; `backward` is the input-gradient pass of `gradient` (no weight gradients): each linear's
dy · W costs what its forward did, and attention's backward takes four products where its forward
took two.

Usage: python3 tools/clip_flops.py --arch clip-vit-b32
"""

from __future__ import annotations

import argparse
import json

PATCH = {"clip-vit-b32": 32, "clip-vit-b16": 16}
IMAGE_SIZE = 224
TEXT_TOKENS = 7
PROJECTION = 512


def encoder_products(tokens: int, hidden: int, intermediate: int, layers: int) -> tuple[int, int]:
    """(linear, attention) multiply-adds of one pass through an encoder."""
    linear = tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 2 * tokens * tokens * hidden  # scores and the weighted sum, over all heads
    return layers * linear, layers * attention


def flops(arch: str) -> dict:
    patch = PATCH[arch]
    patches = (IMAGE_SIZE // patch) ** 2
    vision_linear, vision_attention = encoder_products(patches + 1, 768, 3072, 12)
    vision_linear += patches * 3 * patch * patch * 768 + 768 * PROJECTION
    text_linear, text_attention = encoder_products(TEXT_TOKENS, 512, 2048, 12)
    text_linear += 512 * PROJECTION
    forward = vision_linear + vision_attention + text_linear + text_attention
    backward = vision_linear + 2 * vision_attention + text_linear + 2 * text_attention
    return {"arch": arch, "forward_gflop": 2 * forward / 1e9, "backward_gflop": 2 * backward / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(PATCH), default="clip-vit-b32")
    print(json.dumps(flops(parser.parse_args().arch)))


if __name__ == "__main__":
    main()
