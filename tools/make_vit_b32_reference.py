#!/usr/bin/env python3
"""A ViT-B/32-size reference: random weights at openai/clip-vit-base-patch32's real sizes (12 + 12
layers, 50 vision tokens, 768/512 wide, the 49408-token vocabulary), explained in float64 by
transformers + PyTorch, stored compactly.

The 151 M weights are not committed: each tensor is drawn from a seed by a generator simple
enough to implement identically in Rust (tests/common/vit_b32.rs):

    tensor k of the list, n values:  s_i = SplitMix64 output i (i = 1..n) from state SEED + k
                                     u_i = (s_i >> 11) · 2⁻⁵³                      (float64)
                                     w_i = float32(center + half_width · (2 u_i − 1))

The list (name, shape, center, half_width) is written to the fixture, so the Rust side needs no
rules of its own. Writes tests/fixtures/clip-vit-b32-random/{config.json, image.png,
expected.json}; the tokenizer is tests/fixtures/tokenizer/clip/tokenizer.json (the real one).

expected.json: "weights" {"seed", "tensors": [[name, shape, center, half_width], ...]}, "texts",
"target", "input_ids", "pooled_position", "logits_per_image", "probs", "score", "image_embeds",
"text_embeds", "options" {"steps"}, "pixel_sample" {"offset", "stride", "count"} and "methods":
{name: {"patch_scores", "text_scores"?, "pixel_scores"?}}, where pixel_scores holds only the
pixels (offset + stride·i, offset + stride·j) for i, j < count, row-major. Method definitions are
make_fixtures.py's (its docstring); IG uses `steps` points.

Usage: python3 tools/make_vit_b32_reference.py   (about two minutes on 2 cores, 3 GB of memory)
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

OUT = os.path.join(mf.FIX, "clip-vit-b32-random")
TOKENIZER = os.path.join(mf.FIX, "tokenizer", "clip", "tokenizer.json")
SEED = 32_000_000
STEPS = 4
TEXTS = ["a photo of a red circle", "a diagram of two blue squares"]
TARGET = 0
PIXEL_SAMPLE = {"offset": 3, "stride": 7, "count": 32}
MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix64_uniforms(state: int, n: int) -> np.ndarray:
    """The first n outputs of SplitMix64 from `state`, as uniforms in [0, 1) with 53 bits."""
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(state & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def rule(name: str, shape: list[int]) -> tuple[float, float]:
    """(center, half_width) of a tensor's uniform distribution. Linear weights keep unit gain
    (half width √(3 / fan_in)); queries and keys get twice that, so attention is peaked enough
    for rollout and Chefer maps to vary; norms scatter around 1."""
    norm = any(key in name for key in ("layer_norm", "layrnorm", "layernorm"))
    if name == "logit_scale":
        return 2.6592600369, 0.0  # the published init, ln(1 / 0.07)
    if norm:
        return (1.0, 0.5) if name.endswith("weight") else (0.0, 0.2)
    if name.endswith("bias"):
        return 0.0, 0.1
    if name.endswith("class_embedding") or name.endswith("token_embedding.weight"):
        return 0.0, 1.0
    if name.endswith("position_embedding.weight"):
        return 0.0, 0.5 if name.startswith("vision") else 0.2
    fan_in = int(np.prod(shape[1:]))
    gain = 2.0 if name.endswith(("q_proj.weight", "k_proj.weight")) else 1.0
    return 0.0, gain * math.sqrt(3.0 / fan_in)


def build_model():
    from transformers import CLIPConfig, CLIPModel

    text = dict(hidden_size=512, num_hidden_layers=12, num_attention_heads=8, intermediate_size=2048,
                max_position_embeddings=77, vocab_size=49408, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                hidden_act="quick_gelu", projection_dim=512)
    vision = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                  image_size=224, patch_size=32, hidden_act="quick_gelu", projection_dim=512)
    cfg = CLIPConfig(text_config=text, vision_config=vision, projection_dim=512,
                     logit_scale_init_value=2.6592600369)
    model = CLIPModel._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    tensors = []
    with torch.no_grad():
        for k, (name, param) in enumerate(model.state_dict().items()):
            shape = list(param.shape)
            center, half_width = rule(name, shape)
            u = splitmix64_uniforms(SEED + k, param.numel())
            values = (center + half_width * (2.0 * u - 1.0)).astype(np.float32)
            param.copy_(torch.from_numpy(values.reshape(shape)))
            tensors.append([name, shape, center, half_width])
    return model, tensors


def sample_pixels(pixel_map: torch.Tensor) -> list[float]:
    idx = [PIXEL_SAMPLE["offset"] + PIXEL_SAMPLE["stride"] * i for i in range(PIXEL_SAMPLE["count"])]
    return mf.flist(pixel_map[idx][:, idx])


def main() -> None:
    from transformers import CLIPImageProcessorPil, CLIPTokenizerFast

    t0 = time.time()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    mf.install_f64_eager_attention()
    model, tensors = build_model()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        f.write(model.config.to_json_string())
    model = model.double().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    print(f"weights drawn ({sum(int(np.prod(t[1])) for t in tensors) / 1e6:.1f} M) in {time.time() - t0:.0f} s")

    img_path = os.path.join(OUT, "image.png")
    mf.write_png(mf.synth_image(256, 224, 1), img_path)
    proc = CLIPImageProcessorPil(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    pv = proc(images=Image.open(img_path), return_tensors="np")["pixel_values"][0]
    x64 = torch.from_numpy(pv.copy()).double()

    tok = CLIPTokenizerFast(tokenizer_file=TOKENIZER)
    input_ids = [tok(t)["input_ids"] for t in TEXTS]
    ids = input_ids[TARGET]
    pooled = int(np.argmax(ids))  # eos_token_id 2: transformers' legacy argmax pooling

    runner = mf.Runner(model, None)
    with torch.no_grad():
        image_embeds = model.get_image_features(pixel_values=x64[None]).pooler_output[0]
        text_embeds = torch.stack([model.get_text_features(input_ids=torch.tensor([i])).pooler_output[0]
                                   for i in input_ids])
        logits = model.logit_scale.exp() * (text_embeds / text_embeds.norm(dim=-1, keepdim=True)) @ (
            image_embeds / image_embeds.norm())

    xg = x64.clone().requires_grad_(True)
    r = runner.forward(xg, ids, need=True)
    s = r["s"]
    assert abs(s.item() - logits[TARGET].item()) < 1e-9, (s.item(), logits)
    layers = runner.L_v
    grads = torch.autograd.grad(s, [xg, r["h"], r["e"]] + r["va"] + r["ta"])
    G, Gh, Ge = grads[0], grads[1][0], grads[2][0]
    Gva, Gta = [g[0] for g in grads[3:3 + layers]], [g[0] for g in grads[3 + layers:]]
    va, ta = [a.detach()[0] for a in r["va"]], [a.detach()[0] for a in r["ta"]]
    h, e = r["h"].detach()[0], r["e"].detach()[0]
    patch = model.config.vision_config.patch_size
    print(f"forward and backward in {time.time() - t0:.0f} s; score {s.item():.6f}")

    methods = {}
    pp = slice(1, None)
    methods["attention"] = {"patch_scores": mf.flist(va[-1].mean(0)[0, pp]),
                            "text_scores": mf.flist(ta[-1].mean(0)[pooled, :])}
    methods["rollout"] = {"patch_scores": mf.flist(mf.rollout(va, 0)[pp]),
                          "text_scores": mf.flist(mf.rollout(ta, pooled))}
    pix = G.abs().amax(0)
    methods["gradient"] = {"patch_scores": mf.flist(mf.patch_reduce(pix, patch, "mean")),
                           "pixel_scores": sample_pixels(pix), "text_scores": mf.flist(Ge.norm(dim=-1))}
    pix = (G * x64).sum(0)
    methods["grad_x_input"] = {"patch_scores": mf.flist(mf.patch_reduce(pix, patch, "sum")),
                               "pixel_scores": sample_pixels(pix), "text_scores": mf.flist((Ge * e).sum(-1))}
    methods["gradcam"] = {"patch_scores": mf.flist(torch.relu(h[1:] @ Gh[1:].mean(0)))}
    methods["chefer"] = {"patch_scores": mf.flist(mf.chefer(va, Gva, 0)[pp]),
                         "text_scores": mf.flist(mf.chefer(ta, Gta, pooled))}
    total = torch.zeros_like(x64)
    for k in range(1, STEPS + 1):
        xk = torch.from_numpy((np.float32(k / STEPS) * pv).astype(np.float32)).double().requires_grad_(True)
        total += torch.autograd.grad(runner.forward(xk, ids)["s"], xk)[0]
    pix = (x64 * total / STEPS).sum(0)
    methods["integrated_gradients"] = {"patch_scores": mf.flist(mf.patch_reduce(pix, patch, "sum")),
                                       "pixel_scores": sample_pixels(pix)}
    entropy = [float((-(A * A.clamp_min(1e-300).log()).sum(-1)).mean() / math.log(A.shape[-1])) for A in va]

    expected = {
        "weights": {"seed": SEED, "tensors": tensors},
        "texts": TEXTS,
        "target": TARGET,
        "input_ids": input_ids,
        "pooled_position": pooled,
        "logits_per_image": mf.flist(logits),
        "probs": mf.flist(torch.softmax(logits, 0)),
        "score": float(s.item()),
        "image_embeds": mf.flist(image_embeds),
        "text_embeds": [mf.flist(t) for t in text_embeds],
        "options": {"steps": STEPS},
        "pixel_sample": PIXEL_SAMPLE,
        "methods": methods,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    sizes = {fn: os.path.getsize(os.path.join(OUT, fn)) for fn in sorted(os.listdir(OUT))}
    print(f"logits {np.round(logits.numpy(), 4).tolist()}, ids {ids}, pooled position {pooled}")
    print(f"vision attention entropy per layer (1 = uniform): {np.round(entropy, 3).tolist()}")
    print(f"wrote {os.path.relpath(OUT, mf.REPO)}: {sizes} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
