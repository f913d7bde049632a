#!/usr/bin/env python3
"""Reference fixtures for Sightline: tiny random CLIP checkpoints + expected explanations.

Writes (deterministically; rerunnable):
    tests/fixtures/clip-random-a/{config.json,model.safetensors,tokenizer.json,image.png,expected.json}
    tests/fixtures/clip-random-b/{... same ..., preprocessor_config.json}
    tests/fixtures/preprocess/{*.png,*.jpg,expected.json}

Requires torch, transformers (5.x), numpy, pillow, safetensors, and
tests/fixtures/tokenizer/clip-1000/tokenizer.json (tools/build_clip_tokenizer.py).

Conventions (the contract the Rust code is tested against):
  * All explanation numbers are computed in float64 (`model.double()`; variant b
    first rounds its weights to float16 — they are saved as float16 — and the
    reference upcasts those float16 values).  The eager attention softmax is
    done in float64 too (transformers' eager path would do it in float32).
  * The explained score s = logits_per_image[0, target]
      = exp(logit_scale) * cos(image_embeds, text_embeds[target]).
  * Vision tokens: CLS at index 0, then the patches row-major.
  * patch_scores: row-major over the patch grid, raw (not normalized).
    pixel_scores: H*W row-major.  text_scores: one per token of the TARGET
    text (special tokens included).

Methods (A_l = attention probabilities of layer l, heads x T x T; L layers;
G = ds/dx, x = normalized pixel_values 3xHxW; m = steps = 8):
  attention      mean_h(A_L)[CLS, patches]            text: mean_h(A_L)[P, :]
  rollout        Â_l = rownorm(0.5*fuse_h(A_l) + 0.5*I); R = Â_L...Â_1; R[CLS, patches]
                 discard d (jacobgil/vit-explain): on the fused TxT matrix flattened take
                 the floor(T*T*d) smallest (stable argsort), drop flat index 0 from that
                 set, zero the rest, before adding I.  Variants: rollout (mean, 0),
                 rollout_max_discard (max, 0.5), rollout_min (min, 0).  text: row P.
  gradient       pixel = max_c |G|; patch = mean over the patch; text: ||ds/de_t||_2
  grad_x_input   pixel = sum_c G*x; patch = sum over the patch; text: sum_d ds/de_t * e_t
  integrated_gradients  IG = x * (1/m) sum_{k=1..m} grad s(float32(k/m)*x);
                 pixel = sum_c IG; patch = sum
  smoothgrad     sigma = float32(0.15*(max x - min x)); z ~ SplitMix64(seed)+Box-Muller,
                 shape (m,3,H,W) row-major; noisy = f32(x + f32(sigma)*f32(z));
                 pixel = max_c mean_k |G_k|; patch = mean
  gradcam        h = input of the last vision layer (= hidden_states[L-1]);
                 w = mean over patch tokens of ds/dh; patch = ReLU(h[patch] . w)
  chefer         R = I; R += mean_h(ReLU(ds/dA_l * A_l)) @ R for l = 1..L; R[CLS, patches]
                 text: row P
  occlusion      s(x) - s(x with the patch set to 0 in normalized space)
P = pooled text position: argmax(input_ids) if text eos_token_id == 2, else the
first position whose id == eos_token_id.  e_t = token embedding (before position
embeddings).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(REPO, "tests", "fixtures")
TOKENIZER_1000 = os.path.join(FIX, "tokenizer", "clip-1000", "tokenizer.json")

STEPS = 8
SEED = 7

MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------
# PRNG shared with Rust: SplitMix64 + Box–Muller
# --------------------------------------------------------------------------
class SplitMix64:
    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        return (self.next_u64() >> 11) * (2.0**-53)

    def normals(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.float64)
        i = 0
        while i < n:
            u1 = self.uniform()
            u2 = self.uniform()
            r = math.sqrt(-2.0 * math.log(1.0 - u1))
            out[i] = r * math.cos(2.0 * math.pi * u2)
            if i + 1 < n:
                out[i + 1] = r * math.sin(2.0 * math.pi * u2)
            i += 2
        return out


# --------------------------------------------------------------------------
# float64 eager attention (transformers' eager path softmaxes in float32)
# --------------------------------------------------------------------------
def install_f64_eager_attention():
    from torch import nn
    from transformers.models.clip import modeling_clip

    def eager_attention_forward(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
        attn_weights = torch.matmul(query, key.transpose(-1, -2)) * scaling
        if attention_mask is not None:
            attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=query.dtype)
        attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
        ATTN_STASH.append(attn_weights)
        attn_output = torch.matmul(attn_weights, value)
        attn_output = attn_output.transpose(1, 2).contiguous()
        return attn_output, attn_weights

    modeling_clip.eager_attention_forward = eager_attention_forward


ATTN_STASH: list[torch.Tensor] = []


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------
def synth_image(w: int, h: int, variant: int = 0) -> np.ndarray:
    """Deterministic RGB uint8 image (h, w, 3) with gradients and shapes (integer math)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.int64)
    img = np.zeros((h, w, 3), dtype=np.int64)
    img[..., 0] = (xx * 200) // max(w - 1, 1) + 30
    img[..., 1] = (yy * 180) // max(h - 1, 1) + 40
    img[..., 2] = ((xx + yy) * 150) // max(w + h - 2, 1) + 60
    # circle (red)
    cx, cy, r = (w * (3 + variant)) // 10, (h * 4) // 10, max(2, min(w, h) // 5)
    m = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    img[m] = [230, 30 + 10 * variant, 40]
    # rectangle (blue)
    x0, x1, y0, y1 = (w * 6) // 10, (w * 9) // 10, (h * 6) // 10, (h * 9) // 10
    img[y0:y1, x0:x1] = [20, 40, 220]
    # triangle (green)
    tri = (yy > (h * 5) // 10) & (xx < (w * 4) // 10) & ((yy - (h * 5) // 10) * 2 > ((w * 4) // 10 - xx))
    img[tri] = [40, 200, 60]
    # thin diagonal stripes (texture)
    stripes = ((xx + 2 * yy) % 11 == 0) & ~m
    img[stripes] = img[stripes] // 2
    return np.clip(img, 0, 255).astype(np.uint8)


def write_png(arr: np.ndarray, path: str, mode: str | None = None) -> None:
    Image.fromarray(arr, mode=mode).save(path, format="PNG", optimize=False, compress_level=9)


# --------------------------------------------------------------------------
# model construction
# --------------------------------------------------------------------------
VARIANTS = {
    "a": dict(
        vision=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                    image_size=48, patch_size=8, hidden_act="quick_gelu"),
        text=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                  max_position_embeddings=16, hidden_act="quick_gelu", eos_token_id=2),
        projection_dim=24,
        logit_scale=2.3,
        dtype=torch.float32,
        image_wh=(71, 53),
        image_variant=0,
        texts=["a red circle", "a photo of a dog", "two blue squares on grass"],
        target=1,
        processor=None,  # default CLIP mean/std, shortest_edge = crop = image_size
        qk_scale=3.0,
        torch_seed=1234,
    ),
    "b": dict(
        vision=dict(hidden_size=48, num_hidden_layers=3, num_attention_heads=3, intermediate_size=96,
                    image_size=40, patch_size=10, hidden_act="gelu", layer_norm_eps=1e-5),
        text=dict(hidden_size=40, num_hidden_layers=3, num_attention_heads=5, intermediate_size=80,
                  max_position_embeddings=20, hidden_act="gelu", layer_norm_eps=1e-5, eos_token_id=1513),
        projection_dim=16,
        logit_scale=2.9,
        dtype=torch.float16,
        image_wh=(50, 64),
        image_variant=2,
        texts=["a red circle", "a photo of a dog", "two blue squares on grass"],
        target=2,
        processor=dict(size={"shortest_edge": 40}, crop_size={"height": 40, "width": 40},
                       image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.3, 0.35]),
        qk_scale=2.5,
        torch_seed=5678,
    ),
}


def build_model(spec):
    from transformers import CLIPConfig, CLIPModel

    text = dict(spec["text"], vocab_size=1514, bos_token_id=1512, pad_token_id=1513,
                projection_dim=spec["projection_dim"])
    vision = dict(spec["vision"], projection_dim=spec["projection_dim"])
    cfg = CLIPConfig(text_config=text, vision_config=vision, projection_dim=spec["projection_dim"],
                     logit_scale_init_value=spec["logit_scale"])
    torch.manual_seed(spec["torch_seed"])
    model = CLIPModel._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    g = torch.Generator().manual_seed(spec["torch_seed"] + 1)

    def rnd(shape, std):
        return torch.randn(shape, generator=g, dtype=torch.float32) * std

    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.copy_(1.0 + rnd(mod.weight.shape, 0.25))
                mod.bias.copy_(rnd(mod.bias.shape, 0.1))
            elif isinstance(mod, torch.nn.Linear):
                if name.endswith(("q_proj", "k_proj")):
                    mod.weight.mul_(spec["qk_scale"])
                if mod.bias is not None:
                    mod.bias.copy_(rnd(mod.bias.shape, 0.05))
        model.vision_model.embeddings.position_embedding.weight.copy_(
            rnd(model.vision_model.embeddings.position_embedding.weight.shape, 0.3))
        model.text_model.embeddings.position_embedding.weight.copy_(
            rnd(model.text_model.embeddings.position_embedding.weight.shape, 0.1))
        model.text_model.embeddings.token_embedding.weight.mul_(5.0)
        model.logit_scale.fill_(spec["logit_scale"])
    return model.to(spec["dtype"]).eval()


# --------------------------------------------------------------------------
# forward helpers (float64)
# --------------------------------------------------------------------------
class Runner:
    def __init__(self, model, pooled_fn):
        self.model = model
        self.L_v = model.config.vision_config.num_hidden_layers
        self.L_t = model.config.text_config.num_hidden_layers
        self.pooled_fn = pooled_fn
        self._tok_emb = None
        self._last_in = None
        model.text_model.embeddings.token_embedding.register_forward_hook(self._hook_tok)
        model.vision_model.encoder.layers[self.L_v - 1].register_forward_pre_hook(self._hook_last)

    def _hook_tok(self, mod, inp, out):
        # make the token embeddings a leaf that requires grad (parameters are frozen)
        out = out.detach().requires_grad_(True)
        self._tok_emb = out
        return out

    def _hook_last(self, mod, args):
        self._last_in = args[0]

    def forward(self, x64: torch.Tensor, ids: list[int], need=False):
        """x64: (3,H,W) float64 (may require grad). Returns dict with s and internals."""
        ATTN_STASH.clear()
        out = self.model(input_ids=torch.tensor([ids]), pixel_values=x64[None],
                         output_attentions=need, output_hidden_states=need)
        s = out.logits_per_image[0, 0]
        res = {"s": s, "out": out}
        if need:
            va = out.vision_model_output.attentions
            ta = out.text_model_output.attentions
            assert len(va) == self.L_v and len(ta) == self.L_t
            # the returned attentions are the very tensors used in the computation
            assert len(ATTN_STASH) == self.L_v + self.L_t
            for a, b in zip(list(va) + list(ta), ATTN_STASH):
                assert a is b, "returned attention is not the computed one"
            hs = out.vision_model_output.hidden_states
            assert len(hs) == self.L_v + 1, len(hs)
            assert torch.equal(hs[self.L_v - 1], self._last_in), "hidden_states[L-1] != input of last layer"
            res.update(va=list(va), ta=list(ta), h=self._last_in, e=self._tok_emb)
        return res


def fuse(A: torch.Tensor, how: str) -> torch.Tensor:
    if how == "mean":
        return A.mean(0)
    if how == "max":
        return A.max(0).values
    if how == "min":
        return A.min(0).values
    raise ValueError(how)


def rollout(attns, row: int, how="mean", discard=0.0, notes=None, side=""):
    T = attns[0].shape[-1]
    eye = torch.eye(T, dtype=torch.float64)
    R = eye.clone()
    for li, A in enumerate(attns):
        F = fuse(A.detach(), how).clone()
        if discard > 0:
            flat = F.reshape(-1)
            k = int(math.floor(T * T * discard))
            # k smallest (stable order), then drop flat index 0 (CLS->CLS), as jacobgil/vit-explain
            order = np.argsort(flat.numpy(), kind="stable")
            idx = order[:k]
            if notes is not None:
                # tie check at the boundary: ambiguous selection would make the fixture fragile
                if k < flat.numel():
                    kth, nxt = flat[order[k - 1]].item(), flat[order[k]].item()
                    if kth == nxt and kth != 0.0:
                        notes.append(f"rollout {how} discard {discard} ({side}): tie at the k-boundary in layer {li}")
                if 0 in idx:
                    notes.append(f"rollout {how} discard {discard} ({side}): flat index 0 (CLS->CLS) is among the "
                                 f"{k} smallest in layer {li}, so only {k - 1} entries are zeroed (jacobgil semantics)")
            idx = idx[idx != 0]
            flat[torch.from_numpy(idx)] = 0.0
            F = flat.reshape(T, T)
        Ah = 0.5 * F + 0.5 * eye
        Ah = Ah / Ah.sum(-1, keepdim=True)
        R = Ah @ R
    return R[row]


def chefer(attns, grads, row: int):
    T = attns[0].shape[-1]
    R = torch.eye(T, dtype=torch.float64)
    for A, G in zip(attns, grads):
        cam = torch.relu(G * A.detach()).mean(0)
        R = R + cam @ R
    return R[row]


def patch_reduce(pix: torch.Tensor, p: int, how: str) -> torch.Tensor:
    H, W = pix.shape
    blocks = pix.reshape(H // p, p, W // p, p).permute(0, 2, 1, 3).reshape(H // p, W // p, p * p)
    return blocks.mean(-1) if how == "mean" else blocks.sum(-1)


def flist(t) -> list[float]:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    return [float(v) for v in np.asarray(t, dtype=np.float64).reshape(-1)]


# --------------------------------------------------------------------------
def make_variant(name: str, spec: dict, out_dir: str) -> dict:
    from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizerFast

    t0 = time.time()
    notes: list[str] = []
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)

    # --- checkpoint -------------------------------------------------------
    model = build_model(spec)
    model.save_pretrained(out_dir)
    shutil.copy(TOKENIZER_1000, os.path.join(out_dir, "tokenizer.json"))
    if spec["processor"] is not None:
        proc = CLIPImageProcessorPil(**spec["processor"])
        proc.save_pretrained(out_dir)
    else:
        vs = spec["vision"]["image_size"]
        proc = CLIPImageProcessorPil(size={"shortest_edge": vs}, crop_size={"height": vs, "width": vs})

    # reload from disk (float16 weights for b) and upcast to float64
    model = CLIPModel.from_pretrained(out_dir, attn_implementation="eager").eval()
    saved_dtype = next(model.parameters()).dtype
    assert saved_dtype == spec["dtype"], (saved_dtype, spec["dtype"])
    model = model.double()
    for p in model.parameters():
        p.requires_grad_(False)

    # --- inputs -----------------------------------------------------------
    w, h = spec["image_wh"]
    img_arr = synth_image(w, h, spec["image_variant"])
    img_path = os.path.join(out_dir, "image.png")
    write_png(img_arr, img_path)
    image = Image.open(img_path)
    pv = proc(images=image, return_tensors="np")["pixel_values"][0]
    assert pv.dtype == np.float32 and pv.shape == (3, proc.crop_size.height, proc.crop_size.width), (pv.dtype, pv.shape)
    x32 = torch.from_numpy(pv.copy())
    x64 = x32.double()

    tok = CLIPTokenizerFast(tokenizer_file=os.path.join(out_dir, "tokenizer.json"))
    texts, target = spec["texts"], spec["target"]
    input_ids = [tok(t, add_special_tokens=True, truncation=False)["input_ids"] for t in texts]
    for ids in input_ids:
        assert len(ids) <= spec["text"]["max_position_embeddings"], ids
    ids_t = input_ids[target]

    eos = model.config.text_config.eos_token_id
    if eos == 2:
        P = int(np.argmax(ids_t))  # legacy: argmax of the ids (eot is the highest id)
    else:
        P = ids_t.index(eos)  # first position equal to eos_token_id

    runner = Runner(model, None)
    Lv = runner.L_v
    vcfg = model.config.vision_config
    ps = vcfg.patch_size
    grid = vcfg.image_size // ps
    H = W = vcfg.image_size

    # --- logits for all texts (each text run unpadded) ----------------------
    with torch.no_grad():
        img_feat = model.get_image_features(pixel_values=x64[None]).pooler_output[0]
        txt_feats = torch.stack([model.get_text_features(input_ids=torch.tensor([ids])).pooler_output[0]
                                 for ids in input_ids])
        # pooled position check against transformers' choice
        tout = model.text_model(input_ids=torch.tensor([ids_t]))
        assert torch.equal(tout.pooler_output[0], tout.last_hidden_state[0, P]), "pooled position mismatch"
        ie = img_feat / img_feat.norm()
        te = txt_feats / txt_feats.norm(dim=-1, keepdim=True)
        logits = model.logit_scale.exp() * (te @ ie)
        # cross-check against a padded batch through CLIPModel.forward
        maxlen = max(len(i) for i in input_ids)
        padded = torch.tensor([i + [tok.pad_token_id] * (maxlen - len(i)) for i in input_ids])
        outb = model(input_ids=padded, pixel_values=x64[None])
        assert torch.allclose(outb.logits_per_image[0], logits, rtol=0, atol=1e-12), (outb.logits_per_image, logits)
    probs = torch.softmax(logits, 0)

    # --- main forward/backward ------------------------------------------
    xg = x64.clone().requires_grad_(True)
    r = runner.forward(xg, ids_t, need=True)
    s = r["s"]
    assert abs(s.item() - logits[target].item()) < 1e-12, (s.item(), logits[target].item())
    grads = torch.autograd.grad(s, [xg, r["h"], r["e"]] + r["va"] + r["ta"])
    G, Gh, Ge = grads[0], grads[1][0], grads[2][0]
    Gva = [g[0] for g in grads[3:3 + Lv]]
    Gta = [g[0] for g in grads[3 + Lv:]]
    va = [a.detach()[0] for a in r["va"]]
    ta = [a.detach()[0] for a in r["ta"]]
    h = r["h"].detach()[0]
    e = r["e"].detach()[0]

    # finite-difference sanity check of the pixel gradient (float64)
    with torch.no_grad():
        d = torch.from_numpy(np.random.default_rng(0).standard_normal(x64.shape))
        eps = 1e-6
        sp = runner.forward(x64 + eps * d, ids_t)["s"].item()
        sm = runner.forward(x64 - eps * d, ids_t)["s"].item()
        fd = (sp - sm) / (2 * eps)
        an = (G * d).sum().item()
        assert abs(fd - an) <= 1e-6 * max(1.0, abs(an)), ("finite difference", fd, an)

    methods: dict[str, dict] = {}
    pp = slice(1, None)  # patch token columns

    # attention
    methods["attention"] = {
        "patch_scores": flist(va[-1].mean(0)[0, pp]),
        "text_scores": flist(ta[-1].mean(0)[P, :]),
    }
    # rollout variants
    for mname, how, disc in (("rollout", "mean", 0.0), ("rollout_max_discard", "max", 0.5), ("rollout_min", "min", 0.0)):
        entry = {
            "patch_scores": flist(rollout(va, 0, how, disc, notes, "vision")[pp]),
            "text_scores": flist(rollout(ta, P, how, disc, notes, "text")),
        }
        if mname != "rollout":
            entry["params"] = {"head_fusion": how, "discard_ratio": disc}
        methods[mname] = entry

    # gradient
    pix = G.abs().amax(0)
    methods["gradient"] = {
        "patch_scores": flist(patch_reduce(pix, ps, "mean")),
        "pixel_scores": flist(pix),
        "text_scores": flist(Ge.norm(dim=-1)),
    }
    # grad x input
    pix = (G * x64).sum(0)
    methods["grad_x_input"] = {
        "patch_scores": flist(patch_reduce(pix, ps, "sum")),
        "pixel_scores": flist(pix),
        "text_scores": flist((Ge * e).sum(-1)),
    }
    # integrated gradients (baseline 0)
    acc = torch.zeros_like(x64)
    for k in range(1, STEPS + 1):
        scaled = (np.float32(k / STEPS) * pv).astype(np.float32)  # float32 product
        assert scaled.dtype == np.float32
        xk = torch.from_numpy(scaled).double().requires_grad_(True)
        sk = runner.forward(xk, ids_t)["s"]
        acc += torch.autograd.grad(sk, xk)[0]
    ig = x64 * (acc / STEPS)
    pix = ig.sum(0)
    methods["integrated_gradients"] = {
        "patch_scores": flist(patch_reduce(pix, ps, "sum")),
        "pixel_scores": flist(pix),
    }
    ig_total, s0 = float(pix.sum()), None
    with torch.no_grad():
        s0 = runner.forward(torch.zeros_like(x64), ids_t)["s"].item()

    # smoothgrad
    sigma64 = 0.15 * (float(pv.max()) - float(pv.min()))
    sigma32 = np.float32(sigma64)
    z = SplitMix64(SEED).normals(STEPS * 3 * H * W).reshape(STEPS, 3, H, W)
    acc = torch.zeros_like(x64)
    for k in range(STEPS):
        noisy = (pv + sigma32 * z[k].astype(np.float32)).astype(np.float32)
        assert noisy.dtype == np.float32
        xk = torch.from_numpy(noisy).double().requires_grad_(True)
        sk = runner.forward(xk, ids_t)["s"]
        acc += torch.autograd.grad(sk, xk)[0].abs()
    pix = (acc / STEPS).amax(0)
    methods["smoothgrad"] = {
        "patch_scores": flist(patch_reduce(pix, ps, "mean")),
        "pixel_scores": flist(pix),
    }
    prng_check = flist(SplitMix64(SEED).normals(6))

    # gradcam on the residual stream entering the last vision layer
    wts = Gh[1:].mean(0)  # mean over patch tokens
    cam = torch.relu(h[1:] @ wts)
    methods["gradcam"] = {"patch_scores": flist(cam)}

    # chefer
    methods["chefer"] = {
        "patch_scores": flist(chefer(va, Gva, 0)[pp]),
        "text_scores": flist(chefer(ta, Gta, P)),
    }
    # occlusion
    occ = []
    with torch.no_grad():
        for pi in range(grid * grid):
            r0, c0 = divmod(pi, grid)
            xo = x64.clone()
            xo[:, r0 * ps:(r0 + 1) * ps, c0 * ps:(c0 + 1) * ps] = 0.0
            occ.append(s.item() - runner.forward(xo, ids_t)["s"].item())
    methods["occlusion"] = {"patch_scores": occ}

    # --- sanity on non-triviality ------------------------------------------
    ent = []
    for A in va + ta:
        Am = A.clamp_min(1e-300)
        ent.append(float((-(A * Am.log()).sum(-1)).mean() / math.log(A.shape[-1])))
    for mname, m in methods.items():
        for key, vals in m.items():
            if key.endswith("_scores"):
                arr = np.asarray(vals)
                if np.allclose(arr, arr[0]):
                    notes.append(f"{mname}.{key} is constant")

    expected = {
        "texts": texts,
        "target": target,
        "input_ids": input_ids,
        "pixel_values": flist(pv),
        "pixel_values_shape": [3, H, W],
        "logits_per_image": flist(logits),
        "probs": flist(probs),
        "score": float(s.item()),
        "options": {"steps": STEPS, "seed": SEED},
        "smoothgrad_sigma": float(sigma32),
        "prng_check": prng_check,
        "pooled_position": P,
        "grid": [grid, grid],
        "patch_size": ps,
        "image_embeds": flist(img_feat),
        "text_embeds": [flist(t) for t in txt_feats],
        "methods": methods,
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=None, separators=(",", ":"))
        f.write("\n")

    sizes = {fn: os.path.getsize(os.path.join(out_dir, fn)) for fn in sorted(os.listdir(out_dir))}
    print(f"[{name}] {out_dir}  ({time.time() - t0:.1f}s)")
    print(f"    weights dtype {saved_dtype}, logit_scale {model.logit_scale.item():.6f}, grid {grid}x{grid}, "
          f"target {target!r} ids {ids_t}, pooled position {P}")
    print(f"    logits {np.round(logits.numpy(), 4).tolist()} score {s.item():.6f}")
    print(f"    normalized attention entropy per layer (1 = uniform): {np.round(ent, 3).tolist()}")
    print(f"    IG completeness: sum {ig_total:.5f} vs s(x)-s(0) {s.item() - s0:.5f} (steps {STEPS})")
    print(f"    files: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    for n in notes:
        print(f"    NOTE: {n}")
    return {"sizes": sizes, "notes": notes}


# --------------------------------------------------------------------------
def make_preprocess(out_dir: str) -> None:
    from transformers import CLIPImageProcessorPil

    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    proc = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size=32)

    files = []
    big = synth_image(300, 200, 1)
    write_png(big, os.path.join(out_dir, "big_300x200.png"))
    files.append("big_300x200.png")

    tiny = synth_image(20, 30, 3)
    write_png(tiny, os.path.join(out_dir, "tiny_20x30.png"))
    files.append("tiny_20x30.png")

    rgba = np.zeros((45, 60, 4), dtype=np.uint8)
    rgba[..., :3] = synth_image(60, 45, 4)
    yy, xx = np.mgrid[0:45, 0:60]
    alpha = (xx * 255) // 59  # 0 (fully transparent) ... 255 (opaque), left to right
    alpha[yy < 8] = 255
    alpha[yy >= 40] = 0
    rgba[..., 3] = alpha.astype(np.uint8)
    write_png(rgba, os.path.join(out_dir, "rgba_60x45.png"), mode="RGBA")
    files.append("rgba_60x45.png")

    gray = synth_image(40, 52, 5).astype(np.int64)
    gray = ((gray[..., 0] * 3 + gray[..., 1] * 5 + gray[..., 2] * 2) // 10).astype(np.uint8)
    write_png(gray, os.path.join(out_dir, "gray_40x52.png"), mode="L")
    files.append("gray_40x52.png")

    pal = Image.fromarray(synth_image(36, 36, 6)).quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal.info["transparency"] = 0  # palette index 0 is transparent (tRNS chunk)
    pal.save(os.path.join(out_dir, "palette_trns_36x36.png"), format="PNG", transparency=0)
    files.append("palette_trns_36x36.png")

    Image.fromarray(synth_image(64, 48, 7)).save(os.path.join(out_dir, "photo_64x48.jpg"), format="JPEG",
                                                  quality=90, subsampling=0)
    files.append("photo_64x48.jpg")

    cases = []
    for fn in files:
        im = Image.open(os.path.join(out_dir, fn))
        pv = proc(images=im, return_tensors="np")["pixel_values"][0]
        assert pv.dtype == np.float32
        cases.append({"file": fn, "mode": im.mode, "size_wh": list(im.size),
                      "pixel_values": flist(pv), "shape": list(pv.shape)})
    expected = {
        "processor": {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32},
                      "image_mean": list(proc.image_mean), "image_std": list(proc.image_std),
                      "resample": "bicubic", "class": "CLIPImageProcessorPil (slow, PIL)"},
        "cases": cases,
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    sizes = {fn: os.path.getsize(os.path.join(out_dir, fn)) for fn in sorted(os.listdir(out_dir))}
    print(f"[preprocess] {out_dir}: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    for c in cases:
        print(f"    {c['file']}: mode {c['mode']} size {c['size_wh']} -> {c['shape']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["a", "b", "preprocess"], action="append")
    args = ap.parse_args()
    if not os.path.isfile(TOKENIZER_1000):
        sys.exit(f"missing {TOKENIZER_1000}: run tools/build_clip_tokenizer.py first")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    install_f64_eager_attention()
    todo = args.only or ["a", "b", "preprocess"]
    for v in ("a", "b"):
        if v in todo:
            make_variant(v, VARIANTS[v], os.path.join(FIX, f"clip-random-{v}"))
    if "preprocess" in todo:
        make_preprocess(os.path.join(FIX, "preprocess"))


if __name__ == "__main__":
    main()
