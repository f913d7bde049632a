#!/usr/bin/env python3
"""Every vision layer's attention probabilities of tests/fixtures/clip-random-a on its image, in
float64 (transformers, with make_fixtures.py's float64 eager softmax), for the browser test of the
attention explorer (tests/browser/attention.test.mjs).

Writes tests/fixtures/clip-random-a/attentions.json:
    {layers, heads, tokens, attentions}  attentions: (layers, heads, tokens, tokens) row-major,
    rounded to float32, as base64 of little-endian float32 (58 KB instead of 120 KB of decimals).

The input is the fixture's own pixel_values (expected.json), so it is the exact tensor every other
reference number of that fixture was computed from. Deterministic; rerun after make_fixtures.py.
"""

from __future__ import annotations

import base64
import json
import os

import numpy as np
import torch
from transformers import CLIPModel

from make_fixtures import ATTN_STASH, FIX, install_f64_eager_attention


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    install_f64_eager_attention()
    folder = os.path.join(FIX, "clip-random-a")
    with open(os.path.join(folder, "expected.json")) as f:
        expected = json.load(f)
    model = CLIPModel.from_pretrained(folder, attn_implementation="eager").eval().double()
    pixels = torch.tensor(expected["pixel_values"], dtype=torch.float32).reshape(expected["pixel_values_shape"]).double()
    ATTN_STASH.clear()
    with torch.no_grad():
        out = model.vision_model(pixel_values=pixels[None], output_attentions=True)
    layers = torch.stack([a[0] for a in out.attentions])  # (layers, heads, tokens, tokens)
    assert torch.allclose(layers.sum(-1), torch.ones_like(layers.sum(-1))), "rows are softmaxes"
    data = layers.numpy().astype("<f4")
    fixture = {
        "layers": data.shape[0],
        "heads": data.shape[1],
        "tokens": data.shape[2],
        "attentions": base64.b64encode(data.tobytes()).decode("ascii"),
    }
    path = os.path.join(folder, "attentions.json")
    with open(path, "w") as f:
        json.dump(fixture, f)
        f.write("\n")
    print(f"{path}: {data.shape}, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
