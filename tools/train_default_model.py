#!/usr/bin/env python3
"""Train Sightline's tiny default CLIP model on synthetic scenes.

The model is a genuine Hugging Face `transformers.CLIPModel` (eager attention,
quick_gelu) with a reduced real CLIP BPE tokenizer, trained from scratch on
scenes of coloured shapes drawn by the crate's own generator
(`sightline scenes`, i.e. `sightline::scene`). It is small enough to embed in
the wasm build and is trained so that

  (a) one-object scenes: the right caption among the 12 "a {colour} {shape}"
      captions wins;
  (b) multi-object scenes: each present object's caption beats every caption
      of an absent colour x shape pair;
  (c) gradient explanations (Chefer relevance, Grad-CAM on the residual stream
      entering the last vision layer, grad x input, integrated gradients)
      point at the prompted object and follow the prompt.

Pipeline (all deterministic for a given set of library versions):
  1. tokenizer: tools/build_clip_tokenizer.py --merges K (real CLIP BPE, first K merges);
  2. data: `sightline scenes` writes the training set (dataset seed < 1_000_000)
     and the held-out evaluation sets (dataset seeds >= 1_000_000; the scene
     seeds of both are checked to be disjoint);
  3. training: a per-object softmax over the 12 single captions (other present
     objects masked out) + a masked CLIP contrastive loss over one random
     caption per image (single / conjunction / left_of);
  4. evaluation of (a), (b), (c) in PyTorch, in float32;
  5. export in float16 to OUT (config.json, model.safetensors, tokenizer.json,
     preprocessor_config.json) and re-evaluation from the saved files, with
     PNG-encoded images through CLIPImageProcessorPil and the tokenizer loaded
     from tokenizer.json; metrics go to OUT/TRAINING.md.

Usage (from the repository root, after `cargo build --release`):
    python3 tools/train_default_model.py
    python3 tools/train_default_model.py --sightline target/release/sightline \
        --bpe /path/to/bpe_simple_vocab_16e6.txt.gz --out assets/default-model
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time

# A spinning OpenMP barrier is ruinous on a shared machine (10x slower when another process holds a
# core), so threads sleep while they wait; set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COLOURS = ["red", "green", "blue", "yellow"]
SHAPES = ["circle", "square", "triangle"]
SINGLES = [f"a {c} {s}" for c in COLOURS for s in SHAPES]  # == meta.json single_captions
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
EVAL_SEED_BASE = 1_000_000  # the Rust benchmark's held-out dataset seeds start here


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
class SceneSet:
    """A dataset written by `sightline scenes`, reduced to what training and evaluation need."""

    def __init__(self, folder: str, keep_masks: bool = False, grid: int = 0, packed_masks: bool = False):
        with open(os.path.join(folder, "meta.json")) as f:
            self.meta = json.load(f)
        assert self.meta["single_captions"] == SINGLES, self.meta["single_captions"]
        self.size = self.meta["size"]
        self.count = self.meta["count"]
        self.images = np.memmap(os.path.join(folder, self.meta["images_file"]), dtype=np.uint8, mode="r",
                                shape=(self.count, self.size, self.size, 3))
        self.seeds = np.zeros(self.count, dtype=np.int64)
        self.classes = np.full((self.count, 4), -1, dtype=np.int64)  # object classes in drawing order
        self.captions: list[list[str]] = []
        self.masks: list[list[np.ndarray]] = [] if keep_masks else None
        # per scene and object slot: share of each patch of a grid x grid tiling the object covers, x 255
        self.patch_cov = np.zeros((self.count, 4, grid * grid), dtype=np.uint8) if grid else None
        # per scene and object slot: the pixel mask, bit-packed (1/8 of the bytes, for whole training sets)
        self.packed = np.zeros((self.count, 4, self.size * self.size // 8), dtype=np.uint8) if packed_masks else None
        single_index = {t: i for i, t in enumerate(SINGLES)}
        with open(os.path.join(folder, self.meta["scenes_file"])) as f:
            for line in f:
                line = line.strip().rstrip(",")
                if not line.startswith("{"):
                    continue
                rec = json.loads(line)
                i = rec["index"]
                self.seeds[i] = rec["seed"]
                for k, obj in enumerate(rec["objects"]):
                    self.classes[i, k] = single_index[f"a {obj['colour']} {obj['shape']}"]
                self.captions.append([c["text"] for c in rec["captions"]])
                if keep_masks or grid or packed_masks:
                    masks = [rle_decode(o["mask_rle"], self.size) for o in rec["objects"]]
                    if keep_masks:
                        self.masks.append(masks)
                    for k, mask in enumerate(masks[:4] if packed_masks else []):
                        self.packed[i, k] = np.packbits(mask.ravel())
                    for k, mask in enumerate(masks[:4] if grid else []):
                        self.patch_cov[i, k] = np.round(patch_coverage(mask, grid) * 255)
        assert len(self.captions) == self.count
        self.num_objects = (self.classes >= 0).sum(1)
        self.present = np.zeros((self.count, 12), dtype=bool)
        for k in range(4):
            ok = self.classes[:, k] >= 0
            self.present[np.nonzero(ok)[0], self.classes[ok, k]] = True

    def subset(self, n: int) -> "SceneSet":
        """A view of the first n scenes (for quick checks)."""
        import copy

        view = copy.copy(self)
        view.count = min(n, self.count)
        for name in ("images", "seeds", "classes", "num_objects", "present"):
            setattr(view, name, getattr(self, name)[: view.count])
        view.captions = self.captions[: view.count]
        return view

    def object_masks(self, index, slot) -> torch.Tensor:
        """The pixel masks (B, S, S) of object `slot[b]` of scene `index[b]` (needs packed_masks)."""
        bits = np.unpackbits(self.packed[index, slot], axis=-1)
        return torch.from_numpy(bits.reshape(len(index), self.size, self.size).astype(bool))

    def pixels(self, index) -> torch.Tensor:
        """CLIP-normalised pixel values (B, 3, S, S) of the given scenes; equal to what
        CLIPImageProcessor produces for an image already at the model's size."""
        x = torch.from_numpy(np.ascontiguousarray(self.images[index])).permute(0, 3, 1, 2).float() / 255.0
        mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
        return (x - mean) / std


def rle_decode(runs, size: int) -> np.ndarray:
    """Mask::to_rle inverse: alternating runs over the row-major image, background first."""
    runs = np.asarray(runs, dtype=np.int64)
    assert runs.sum() == size * size
    values = np.arange(len(runs)) % 2 == 1
    return np.repeat(values, runs).reshape(size, size)


def patch_coverage(mask: np.ndarray, grid: int) -> np.ndarray:
    """Fraction of each patch covered by the mask (row-major grid x grid), as Mask::patch_coverage."""
    s = mask.shape[0]
    p = s // grid
    assert p * grid == s
    return mask.reshape(grid, p, grid, p).mean(axis=(1, 3)).reshape(-1)


def generate(sightline: str, out: str, count: int, seed: int, size: int, min_objects=None, max_objects=None):
    meta_path = os.path.join(out, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        spec = meta["spec"]
        if (meta["count"] == count and meta["seed"] == seed and meta["size"] == size
                and (min_objects is None or spec["min_objects"] == min_objects)
                and (max_objects is None or spec["max_objects"] == max_objects)):
            return
    cmd = [sightline, "scenes", "--count", str(count), "--seed", str(seed), "--size", str(size), "--out", out]
    if min_objects is not None:
        cmd += ["--min-objects", str(min_objects)]
    if max_objects is not None:
        cmd += ["--max-objects", str(max_objects)]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


# --------------------------------------------------------------------------
# captions
# --------------------------------------------------------------------------
class CaptionTable:
    """Every caption the generator can write, tokenised once: the 12 singles, then
    conjunctions and left_of captions for every ordered pair of distinct classes."""

    def __init__(self, tokenizer, max_len: int):
        texts, kinds, objs = list(SINGLES), ["single"] * 12, [[i] for i in range(12)]
        for kind, word in (("conjunction", "and"), ("left_of", "left of")):
            for a in range(12):
                for b in range(12):
                    if a != b:
                        texts.append(f"{SINGLES[a]} {word} {SINGLES[b]}")
                        kinds.append(kind)
                        objs.append([a, b])
        self.texts, self.kinds, self.objs = texts, kinds, objs
        self.index = {t: i for i, t in enumerate(texts)}
        self.bits = np.array([sum(1 << o for o in ob) for ob in objs], dtype=np.int64)
        self.is_left_of = np.array([k == "left_of" for k in kinds])
        self.reverse = np.array([self.index[f"{SINGLES[o[1]]} left of {SINGLES[o[0]]}"] if k == "left_of" else i
                                 for i, (k, o) in enumerate(zip(kinds, objs))])
        enc = tokenizer(texts, padding="max_length", max_length=max_len, truncation=False)
        ids = enc["input_ids"]
        assert max(len(x) for x in ids) <= max_len, "a caption is longer than the position limit"
        self.ids = torch.tensor(ids, dtype=torch.long)
        self.lengths = [sum(enc["attention_mask"][i]) for i in range(len(texts))]


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------
def build_config(args, vocab_size: int, sot: int, eot: int):
    from transformers import CLIPConfig

    vision = dict(image_size=args.image_size, patch_size=args.patch_size, hidden_size=args.vision_hidden,
                  intermediate_size=args.vision_mlp or 4 * args.vision_hidden,
                  num_hidden_layers=args.vision_layers, num_attention_heads=args.vision_heads,
                  hidden_act="quick_gelu", num_channels=3, projection_dim=args.projection_dim)
    text = dict(vocab_size=vocab_size, hidden_size=args.text_hidden, intermediate_size=4 * args.text_hidden,
                num_hidden_layers=args.text_layers, num_attention_heads=args.text_heads,
                max_position_embeddings=args.max_positions, hidden_act="quick_gelu",
                bos_token_id=sot, eos_token_id=eot, pad_token_id=eot, projection_dim=args.projection_dim)
    cfg = CLIPConfig(text_config=text, vision_config=vision, projection_dim=args.projection_dim,
                     logit_scale_init_value=math.log(1 / 0.07))
    cfg._attn_implementation = "eager"
    return cfg


def image_features(model, pixels, **kw):
    out = model.vision_model(pixel_values=pixels, **kw)
    return model.visual_projection(out.pooler_output), out


def text_features(model, ids):
    out = model.text_model(input_ids=ids)
    return model.text_projection(out.pooler_output)


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------
def train(model, data: SceneSet, table: CaptionTable, args, log, monitor=None):
    gen = np.random.default_rng(args.seed)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "embedding" in name or "logit_scale" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, int(args.steps * 0.05))

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

    def features_eager(pixels, ids):
        out = model.vision_model(pixel_values=pixels)
        image = model.visual_projection(out.pooler_output)
        patches = model.visual_projection(model.vision_model.post_layernorm(out.last_hidden_state[:, 1:]))
        return image, patches, text_features(model, ids)

    # dense auxiliary head (training only, nothing of it is saved): sigmoid(scale * cos(patch, caption) + bias)
    dense_scale = torch.nn.Parameter(torch.tensor(math.log(10.0)))
    dense_bias = torch.nn.Parameter(torch.tensor(-5.0 if args.dense_mode == "bce" else 0.0))
    if args.dense_weight > 0:
        opt.add_param_group({"params": [dense_scale, dense_bias], "weight_decay": 0.0})

    features = torch.compile(features_eager) if args.compile else features_eager
    max_len = max(table.lengths)
    caption_ids = [[table.index[t] for t in caps] for caps in data.captions]
    image_bits = (data.present.astype(np.int64) << np.arange(12)).sum(1)
    order = gen.permutation(data.count)
    cursor = 0
    model.train()
    t0 = time.time()
    stats = []
    for step in range(args.steps):
        if cursor + args.batch > data.count:
            order, cursor = gen.permutation(data.count), 0
        idx = np.sort(order[cursor:cursor + args.batch])
        cursor += args.batch
        B = len(idx)
        # one caption per image: a single of a random object, or a conjunction / left_of
        chosen = np.empty(B, dtype=np.int64)
        for b, i in enumerate(idx):
            caps = caption_ids[i]
            n = data.num_objects[i]
            singles = caps[:n]
            pairs = [c for c in caps[n:] if table.kinds[c] == "conjunction"]
            lefts = [c for c in caps[n:] if table.kinds[c] == "left_of"]
            r = gen.random()
            if r < args.p_conjunction and pairs:
                chosen[b] = pairs[gen.integers(len(pairs))]
            elif r < args.p_conjunction + args.p_left_of and lefts:
                chosen[b] = lefts[gen.integers(len(lefts))]
            else:
                chosen[b] = singles[gen.integers(len(singles))]
        # which sampled captions are also true (or ambiguous) for which images
        bits_i = image_bits[idx][:, None]
        bits_c = table.bits[chosen][None, :]
        all_present = (bits_i & bits_c) == bits_c
        member = np.zeros((B, len(table.texts)), dtype=bool)
        for b, i in enumerate(idx):
            member[b, caption_ids[i]] = True
        reverse_true = member[:, table.reverse[chosen]] & table.is_left_of[chosen][None, :]
        truthy = all_present & ~reverse_true
        np.fill_diagonal(truthy, False)
        off_positive = torch.from_numpy(truthy)

        # fixed shapes (12 singles + B captions, padded to the longest caption) keep the compiled graph static
        img_emb, patch_emb, txt_emb = features(data.pixels(idx),
                                               table.ids[np.concatenate([np.arange(12), chosen])][:, :max_len])
        txt = F.normalize(txt_emb, dim=-1)
        single_txt, chosen_txt = txt[:12], txt[12:]
        img = F.normalize(img_emb, dim=-1)
        scale = model.logit_scale.exp().clamp(max=100.0)

        # (1) per present object: softmax over {object} + absent classes
        logits12 = scale * img @ single_txt.t()  # (B, 12)
        present = torch.from_numpy(data.present[idx])  # (B, 12)
        eye = torch.eye(12, dtype=torch.bool)
        masked = logits12[:, None, :].expand(B, 12, 12).masked_fill(present[:, None, :] & ~eye[None], float("-inf"))
        per_target = torch.logsumexp(masked, -1) - logits12  # (B, 12): -log p(target)
        loss_cls = per_target[present].mean()

        # (2) CLIP contrastive over the sampled captions, true-but-not-own captions masked out
        logits = scale * img @ chosen_txt.t()
        target = torch.arange(B)
        loss_i2t = F.cross_entropy(logits.masked_fill(off_positive, float("-inf")), target)
        loss_t2i = F.cross_entropy(logits.t().masked_fill(off_positive.t(), float("-inf")), target)
        loss_con = 0.5 * (loss_i2t + loss_t2i)

        loss = loss_cls + args.contrastive_weight * loss_con

        # (3) dense: every patch token (through post_layernorm and the projection) against the 12 singles;
        # positive where the class covers >= dense_hi of the patch, ignored between 0 and dense_hi
        if args.dense_weight > 0:
            cov = np.zeros((B, patch_emb.shape[1], 12), dtype=np.float32)
            for k in range(4):
                ok = data.classes[idx, k] >= 0
                rows = np.nonzero(ok)[0]
                cov[rows, :, data.classes[idx[rows], k]] = data.patch_cov[idx[rows], k] / 255.0
            cov = torch.from_numpy(cov)
            patch = F.normalize(patch_emb, dim=-1)
            dl = dense_scale.exp() * patch @ single_txt.t()
            if args.dense_mode == "bce":
                target = (cov >= args.dense_hi).float()
                weight = ((cov == 0) | (cov >= args.dense_hi)).float()
                loss_dense = (F.binary_cross_entropy_with_logits(dl + dense_bias, target, reduction="none")
                              * weight).sum() / weight.sum() * 12
            else:  # softmax over the 12 classes + background (a constant logit)
                best, label = cov.max(-1)
                label = torch.where(best >= args.dense_hi, label, torch.where(cov.sum(-1) == 0, 12, -100))
                dl = torch.cat([dl, dense_bias.expand(dl.shape[0], dl.shape[1], 1)], -1)
                loss_dense = F.cross_entropy(dl.reshape(-1, 13), label.reshape(-1), ignore_index=-100)
            loss = loss + args.dense_weight * loss_dense
        else:
            loss_dense = torch.zeros(())

        # (4) saliency: the integrated-gradients integrand x * ds/dx at a random point a*x of the path, summed over
        # channels, should put its positive relevance on the prompted object's pixels (Ross et al. 2017, "right for
        # the right reasons", with IG's path point); penalised: the share of positive relevance outside the mask
        if args.saliency_weight > 0:
            sub = np.arange(min(args.saliency_batch, B))
            slot = np.array([gen.integers(data.num_objects[idx[b]]) for b in sub])
            classes = torch.from_numpy(data.classes[idx[sub], slot])
            masks = data.object_masks(idx[sub], slot)
            x = data.pixels(idx[sub])
            alpha = torch.from_numpy(gen.uniform(0.05, 1.0, size=(len(sub), 1, 1, 1)).astype(np.float32))
            path_point = (alpha * x).requires_grad_(True)
            emb = F.normalize(model.visual_projection(model.vision_model(pixel_values=path_point).pooler_output), dim=-1)
            s_target = scale * (emb * single_txt[classes]).sum(-1)
            (grad,) = torch.autograd.grad(s_target.sum(), path_point, create_graph=True)
            relevance = (x * grad).sum(1)  # (b, S, S)
            positive = F.relu(relevance)
            loss_sal = ((positive * ~masks).sum((1, 2)) / (positive.sum((1, 2)) + 1e-6)).mean()
            if args.rank_weight > 0 or args.rank_hinge_weight > 0:
                # relevance rank accuracy: with K mask pixels, the mask should hold the K largest relevances
                flat, inside = relevance.flatten(1), masks.flatten(1)
                k = inside.sum(1).clamp(min=1)
                kth = flat.detach().sort(1, descending=True).values.gather(1, (k - 1)[:, None])
            if args.rank_weight > 0:
                # smoothed: how much of the mask lies above the K-th largest relevance, a sigmoid step of width a
                # quarter standard deviation instead of a hard one
                width = 0.25 * flat.detach().std(1, keepdim=True) + 1e-8
                above = torch.sigmoid((flat - kth) / width)
                loss_sal = loss_sal + args.rank_weight * (1 - (above * inside).sum(1) / k).mean()
            if args.rank_hinge_weight > 0:
                # hinges that never saturate: mask pixels below the K-th largest relevance and other pixels above
                # it, in units of the relevance a mask pixel would get if all positive relevance lay evenly on it
                unit = positive.detach().flatten(1).sum(1) / k + 1e-8
                mask_below = (F.relu(kth - flat) * inside).sum(1)
                others_above = (F.relu(flat - kth) * ~inside).sum(1)
                loss_sal = loss_sal + args.rank_hinge_weight * ((mask_below + others_above) / (unit * k)).mean()
            loss = loss + args.saliency_weight * loss_sal
        else:
            loss_sal = torch.zeros(())
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100.0))
        stats.append((loss_cls.item(), loss_con.item(), loss_dense.item(), loss_sal.item()))
        if (step + 1) % args.log_every == 0 or step == 0:
            recent = np.mean(stats[-args.log_every:], axis=0)
            el = time.time() - t0
            quick = ""
            if monitor is not None and ((step + 1) % (args.log_every * 5) == 0 or step + 1 == args.steps):
                quick = "  " + monitor()  # no dropout: train and eval mode compute the same
            log(f"step {step + 1}/{args.steps}  cls {recent[0]:.4f}  con {recent[1]:.4f}  dense {recent[2]:.4f}  sal {recent[3]:.4f}  "
                f"scale {scale.item():.1f}  lr {lr_at(step):.2e}  {el:.0f}s  "
                f"({(step + 1) * args.batch / el:.0f} img/s){quick}")
    model.eval()
    return time.time() - t0


# --------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------
@torch.no_grad()
def single_logits(model, pixels: torch.Tensor, single_ids: torch.Tensor, batch=256) -> torch.Tensor:
    txt = F.normalize(text_features(model, single_ids), dim=-1)
    out = []
    for s in range(0, len(pixels), batch):
        img = F.normalize(image_features(model, pixels[s:s + batch])[0], dim=-1)
        out.append(model.logit_scale.exp() * img @ txt.t())
    return torch.cat(out)


def retrieval_metrics(logits: torch.Tensor, data: SceneSet) -> dict:
    logits = logits.numpy()
    res = {}
    one = data.num_objects == 1
    if one.any():
        res["single_acc"] = float((logits[one].argmax(1) == data.classes[one, 0]).mean())
        res["single_n"] = int(one.sum())
    multi = data.num_objects >= 2
    if multi.any():
        hits, total = 0, 0
        for i in np.nonzero(multi)[0]:
            absent_max = logits[i][~data.present[i]].max()
            for c in data.classes[i][: data.num_objects[i]]:
                hits += logits[i, c] > absent_max
                total += 1
        res["multi_present_beats_absent"] = hits / total
        res["multi_n"] = total
    return res


def explain_batch(model, pixels: torch.Tensor, text_ids: torch.Tensor, methods, ig_steps=8):
    """Patch maps (B, grid*grid) of each method for s_b = logits_per_image[b, target_b]
    (every score depends on its own image and text only, so one backward serves the batch)."""
    grid = model.config.vision_config.image_size // model.config.vision_config.patch_size
    p = model.config.vision_config.patch_size
    L = model.config.vision_config.num_hidden_layers
    B = pixels.shape[0]
    txt = F.normalize(text_features(model, text_ids), dim=-1).detach()
    scale = model.logit_scale.exp().detach()

    def score(x, **kw):
        emb, out = image_features(model, x, **kw)
        return (scale * (F.normalize(emb, dim=-1) * txt).sum(-1)), out

    maps = {}
    need_pass = {"chefer", "gradcam", "grad_x_input", "gradient"} & set(methods)
    if need_pass:
        x = pixels.clone().requires_grad_(True)
        s, out = score(x, output_attentions=True, output_hidden_states=True)
        attns = list(out.attentions)
        h = out.hidden_states[L - 1]
        for a in attns:
            a.retain_grad()
        h.retain_grad()
        s.sum().backward()
        if "chefer" in methods:
            T = attns[0].shape[-1]
            r = torch.zeros(B, 1, T)
            r[:, 0, 0] = 1.0
            for a in reversed(attns):
                cam = torch.relu(a.grad * a.detach()).mean(1)  # (B, T, T)
                r = r + torch.bmm(r, cam)
            maps["chefer"] = r[:, 0, 1:]
        if "gradcam" in methods:
            w = h.grad[:, 1:].mean(1)  # (B, C)
            maps["gradcam"] = torch.relu((h.detach() * w[:, None, :]).sum(-1))[:, 1:]
        if "grad_x_input" in methods:
            gx = (x.grad * pixels).sum(1)  # (B, H, W)
            maps["grad_x_input"] = gx.reshape(B, grid, p, grid, p).sum((2, 4)).reshape(B, -1)
        if "gradient" in methods:
            g = x.grad.abs().amax(1)
            maps["gradient"] = g.reshape(B, grid, p, grid, p).mean((2, 4)).reshape(B, -1)
    if "integrated_gradients" in methods:
        total = torch.zeros_like(pixels)
        for k in range(1, ig_steps + 1):
            x = (pixels * (k / ig_steps)).requires_grad_(True)
            s, _ = score(x)
            (g,) = torch.autograd.grad(s.sum(), x)
            total += g
        ig = (pixels * total / ig_steps).sum(1)
        maps["integrated_gradients"] = ig.reshape(B, grid, p, grid, p).sum((2, 4)).reshape(B, -1)
    return {k: v.detach() for k, v in maps.items()}


def explanation_metrics(model, data: SceneSet, single_ids: torch.Tensor, methods, max_scenes: int, batch=64):
    """Pointing game and relevance mass on every object of the first max_scenes multi-object scenes."""
    grid = model.config.vision_config.image_size // model.config.vision_config.patch_size
    items = [(i, k) for i in range(min(max_scenes, data.count)) if data.num_objects[i] >= 2
             for k in range(data.num_objects[i])]
    coverage = {i: [patch_coverage(mask, grid) for mask in data.masks[i]] for i, _ in items}
    acc = {m: {"point": [], "point_strict": [], "mass_touch": [], "mass_pixels": []} for m in methods}
    tops = {m: {} for m in methods}
    for s in range(0, len(items), batch):
        chunk = items[s:s + batch]
        idx = np.array([i for i, _ in chunk])
        cls = torch.tensor([data.classes[i, k] for i, k in chunk])
        maps = explain_batch(model, data.pixels(idx), single_ids[cls], methods)
        for m, mp in maps.items():
            mp = mp.numpy()
            for row, (i, k) in enumerate(chunk):
                covs = coverage[i]
                cov = covs[k]
                top = int(mp[row].argmax())
                tops[m][(i, k)] = top
                acc[m]["point"].append(cov[top] > 0)
                acc[m]["point_strict"].append(cov[top] > 0 and all(cov[top] >= c[top] for c in covs))
                pos = np.maximum(mp[row], 0)
                tot = pos.sum()
                acc[m]["mass_touch"].append(pos[cov > 0].sum() / tot if tot > 0 else 0.0)
                acc[m]["mass_pixels"].append((pos * cov).sum() / tot if tot > 0 else 0.0)
    res = {}
    for m in methods:
        res[m] = {k: float(np.mean(v)) for k, v in acc[m].items()}
        res[m]["n"] = len(acc[m]["point"])
        # text dependence on two-object scenes: prompting either object puts the top patch on it
        two = [i for i in range(min(max_scenes, data.count)) if data.num_objects[i] == 2]
        if two:
            grid_cov = {i: [patch_coverage(mask, grid) for mask in data.masks[i]] for i in two}
            switch = [grid_cov[i][0][tops[m][(i, 0)]] > 0 and grid_cov[i][1][tops[m][(i, 1)]] > 0
                      and tops[m][(i, 0)] != tops[m][(i, 1)] for i in two]
            res[m]["two_object_switch"] = float(np.mean(switch))
            res[m]["two_object_n"] = len(two)
    return res


# --------------------------------------------------------------------------
# export and reload
# --------------------------------------------------------------------------
def preprocessor_config(size: int) -> dict:
    return {
        "crop_size": {"height": size, "width": size},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": CLIP_MEAN,
        "image_processor_type": "CLIPImageProcessor",
        "image_std": CLIP_STD,
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": size},
    }


def export(model, out: str, tokenizer_json: str, dtype: torch.dtype):
    import copy

    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))
    m = copy.deepcopy(model).to(dtype)
    m.save_pretrained(out, safe_serialization=True)
    shutil.copy(tokenizer_json, os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_config(model.config.vision_config.image_size), f, indent=2, sort_keys=True)
        f.write("\n")
    extra = sorted(set(os.listdir(out)) - {"config.json", "model.safetensors", "tokenizer.json",
                                           "preprocessor_config.json"})
    for name in extra:  # e.g. generation_config.json: not part of the model folder we ship
        os.remove(os.path.join(out, name))


def reload_and_check(out: str, sets: dict, log) -> dict:
    """(a)/(b) from the saved folder: transformers' own loader, tokenizer and the slow
    PIL image processor on PNG-encoded scenes."""
    from PIL import Image
    from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizerFast

    model = CLIPModel.from_pretrained(out, attn_implementation="eager", dtype=torch.float32).eval()
    tok = CLIPTokenizerFast(tokenizer_file=os.path.join(out, "tokenizer.json"))
    proc = CLIPImageProcessorPil.from_pretrained(out)
    enc = tok(SINGLES, padding=True, return_tensors="pt")
    eot = model.config.text_config.eos_token_id
    assert all(eot in row.tolist() for row in enc["input_ids"]), "captions must end with the end-of-text token"
    res = {}
    for name, data in sets.items():
        n = data.count
        pil = []
        for i in range(n):
            buf = io.BytesIO()
            Image.fromarray(np.asarray(data.images[i])).save(buf, format="PNG")
            buf.seek(0)
            pil.append(Image.open(buf).convert("RGB"))
        pixels = proc(images=pil, return_tensors="pt")["pixel_values"]
        diff = (pixels - data.pixels(np.arange(n))).abs().max().item()
        with torch.no_grad():
            logits = []
            for s in range(0, n, 256):
                o = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                          pixel_values=pixels[s:s + 256])
                logits.append(o.logits_per_image)
            logits = torch.cat(logits)
        r = retrieval_metrics(logits, data)
        r["max_pixel_diff_vs_training_path"] = diff
        res[name] = r
        log(f"reloaded {name}: {r}")
    return res, model


# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sightline", default=os.path.join(REPO, "target", "release", "sightline"),
                    help="the sightline binary (its `scenes` subcommand draws the data)")
    ap.add_argument("--out", default=os.path.join(REPO, "assets", "default-model"))
    ap.add_argument("--work", default=os.path.join(REPO, "target", "default-model-work"),
                    help="scratch folder for datasets, the tokenizer and checkpoints")
    ap.add_argument("--bpe", default=None, help="bpe_simple_vocab_16e6.txt.gz (else build_clip_tokenizer.py downloads it)")
    ap.add_argument("--merges", type=int, default=4000, help="BPE merges kept in the tokenizer")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="torch / sampling seed")
    ap.add_argument("--train-seed", type=int, default=1, help="dataset seed of the training set (< 1000000)")
    ap.add_argument("--train-scenes", type=int, default=250_000)
    ap.add_argument("--eval-scenes", type=int, default=1000)
    ap.add_argument("--explain-scenes", type=int, default=400)
    ap.add_argument("--steps", type=int, default=6500)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--contrastive-weight", type=float, default=0.5)
    ap.add_argument("--dense-weight", type=float, default=1.0,
                    help="weight of the per-patch auxiliary loss (uses the scenes' masks)")
    ap.add_argument("--saliency-weight", type=float, default=0.0,
                    help="weight of the penalty on integrated-gradients relevance outside the prompted object")
    ap.add_argument("--rank-weight", type=float, default=0.0,
                    help="weight of a smoothed rank-accuracy term inside the saliency penalty")
    ap.add_argument("--rank-hinge-weight", type=float, default=0.0,
                    help="weight of a hinge rank term inside the saliency penalty: mask pixels below the K-th "
                         "largest relevance, other pixels above it")
    ap.add_argument("--saliency-batch", type=int, default=32, help="images per step that get the saliency penalty")
    ap.add_argument("--init-from", default=None, help="start from this state dict (a fine-tuning run)")
    ap.add_argument("--dense-mode", choices=["ce", "bce"], default="ce")
    ap.add_argument("--dense-hi", type=float, default=0.25, help="patch share above which a patch shows a class")
    ap.add_argument("--p-conjunction", type=float, default=0.25)
    ap.add_argument("--p-left-of", type=float, default=0.15)
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--patch-size", type=int, default=12)
    ap.add_argument("--vision-hidden", type=int, default=64)
    ap.add_argument("--vision-mlp", type=int, default=0)
    ap.add_argument("--vision-layers", type=int, default=4)
    ap.add_argument("--vision-heads", type=int, default=4)
    ap.add_argument("--text-hidden", type=int, default=64)
    ap.add_argument("--text-layers", type=int, default=2)
    ap.add_argument("--text-heads", type=int, default=4)
    ap.add_argument("--max-positions", type=int, default=32)
    ap.add_argument("--projection-dim", type=int, default=64)
    ap.add_argument("--dtype", choices=["float16", "float32"], default="float16", help="weights as saved")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--no-compile", dest="compile", action="store_false", help="train without torch.compile")
    ap.add_argument("--skip-train", action="store_true", help="reuse WORK/checkpoint.pt (for iterating on evaluation)")
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()
    assert args.train_seed < EVAL_SEED_BASE

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.work, exist_ok=True)
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    from transformers import CLIPModel, CLIPTokenizerFast

    # 1. tokenizer
    tok_dir = os.path.join(args.work, f"tokenizer-{args.merges}")
    tok_json = os.path.join(tok_dir, "tokenizer.json")
    if not os.path.exists(tok_json):
        cmd = [sys.executable, os.path.join(REPO, "tools", "build_clip_tokenizer.py"), "--merges", str(args.merges),
               "--out", tok_dir]
        if args.bpe:
            cmd += ["--bpe", args.bpe]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    tokenizer = CLIPTokenizerFast(tokenizer_file=tok_json)
    vocab_size = 512 + args.merges + 2
    assert len(tokenizer) == vocab_size, (len(tokenizer), vocab_size)
    sot, eot = vocab_size - 2, vocab_size - 1
    assert tokenizer.convert_tokens_to_ids("<|endoftext|>") == eot
    assert tokenizer.convert_tokens_to_ids("<|startoftext|>") == sot
    table = CaptionTable(tokenizer, args.max_positions)
    for w in ["a", "red", "green", "blue", "yellow", "circle", "square", "triangle", "and", "left", "of"]:
        log(f"token {w!r}: {tokenizer.tokenize(w)}")
    log(f"longest caption: {max(table.lengths)} tokens (limit {args.max_positions})")
    single_ids = table.ids[:12, : max(table.lengths[:12])]

    # 2. data
    S = args.image_size
    d_train = os.path.join(args.work, f"train-{args.train_seed}-{args.train_scenes}-{S}")
    d_one = os.path.join(args.work, f"eval-one-{S}")
    d_multi = os.path.join(args.work, f"eval-multi-{S}")
    d_two = os.path.join(args.work, f"eval-two-{S}")
    t = time.time()
    generate(args.sightline, d_train, args.train_scenes, args.train_seed, S)
    generate(args.sightline, d_one, args.eval_scenes, EVAL_SEED_BASE + 1, S, 1, 1)
    generate(args.sightline, d_multi, args.eval_scenes, EVAL_SEED_BASE + 2, S, 2, 4)
    generate(args.sightline, d_two, args.explain_scenes, EVAL_SEED_BASE + 3, S, 2, 2)
    train_set = SceneSet(d_train, grid=(S // args.patch_size) if args.dense_weight > 0 else 0,
                         packed_masks=args.saliency_weight > 0)
    one, multi = SceneSet(d_one), SceneSet(d_multi, keep_masks=True)
    two = SceneSet(d_two, keep_masks=True)
    held_out = set(one.seeds) | set(multi.seeds) | set(two.seeds)
    overlap = len(held_out & set(train_set.seeds.tolist()))
    assert overlap == 0, f"{overlap} held-out scene seeds also in the training set"
    log(f"data: {train_set.count} training scenes (dataset seed {args.train_seed}), held out: "
        f"{one.count} one-object, {multi.count} 2-4-object, {two.count} two-object "
        f"(dataset seeds {EVAL_SEED_BASE + 1}..{EVAL_SEED_BASE + 3}); {time.time() - t:.0f}s")

    # 3. model + training
    cfg = build_config(args, vocab_size, sot, eot)
    model = CLIPModel(cfg)
    model.config._attn_implementation = "eager"
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters (vision {sum(p.numel() for p in model.vision_model.parameters())}, "
        f"text {sum(p.numel() for p in model.text_model.parameters())})")
    ckpt = os.path.join(args.work, "checkpoint.pt")
    if args.init_from:
        model.load_state_dict(torch.load(args.init_from))
        log(f"initialised from {args.init_from}")
    if args.skip_train:
        model.load_state_dict(torch.load(ckpt))
        train_time = float("nan")
    else:
        def monitor():
            a = retrieval_metrics(single_logits(model, one.pixels(np.arange(min(300, one.count))), single_ids),
                                  one.subset(300))
            b = retrieval_metrics(single_logits(model, multi.pixels(np.arange(min(300, multi.count))), single_ids),
                                  multi.subset(300))
            return f"[held-out (a) {a['single_acc']:.3f} (b) {b['multi_present_beats_absent']:.3f}]"

        train_time = train(model, train_set, table, args, log, monitor)
        torch.save(model.state_dict(), ckpt)
        log(f"training: {args.steps} steps x {args.batch} = {args.steps * args.batch} images in {train_time:.0f}s")
    model.eval()

    # 4. evaluation (float32)
    methods = ["chefer", "gradcam", "grad_x_input", "integrated_gradients"]

    def evaluate(m, tag):
        r = {}
        r.update({f"one_{k}": v for k, v in retrieval_metrics(single_logits(m, one.pixels(np.arange(one.count)),
                                                                          single_ids), one).items()})
        r.update({f"multi_{k}": v for k, v in retrieval_metrics(single_logits(m, multi.pixels(np.arange(multi.count)),
                                                                            single_ids), multi).items()})
        log(f"[{tag}] (a) one-object top-1 over 12 singles: {r['one_single_acc']:.4f} (n={r['one_single_n']})")
        log(f"[{tag}] (b) multi-object present > every absent: {r['multi_multi_present_beats_absent']:.4f} "
            f"(n={r['multi_multi_n']})")
        ex = explanation_metrics(m, multi, single_ids, methods, args.explain_scenes)
        ex2 = explanation_metrics(m, two, single_ids, methods, args.explain_scenes)
        for meth in methods:
            ex[meth]["two_object_switch"] = ex2[meth]["two_object_switch"]
            ex[meth]["two_object_n"] = ex2[meth]["two_object_n"]
            e = ex[meth]
            log(f"[{tag}] (c) {meth:22s} pointing {e['point']:.3f} (strict {e['point_strict']:.3f})  "
                f"mass on touched patches {e['mass_touch']:.3f}  mass pixel-weighted {e['mass_pixels']:.3f}  "
                f"two-object switch {e['two_object_switch']:.3f}  (n={e['n']}, {e['two_object_n']})")
        r["explanations"] = ex
        return r

    metrics = {"float32": evaluate(model, "float32")}
    if args.no_export:
        return

    # 5. export + reload
    dtype = getattr(torch, args.dtype)
    export(model, args.out, tok_json, dtype)
    sizes = {n: os.path.getsize(os.path.join(args.out, n)) for n in sorted(os.listdir(args.out))}
    log(f"export ({args.dtype}): {sizes}, total {sum(sizes.values())} bytes")
    reloaded, rmodel = reload_and_check(args.out, {"one": one, "multi": multi}, log)
    metrics["saved"] = evaluate(rmodel, f"saved {args.dtype}")
    metrics["saved_png_processor"] = reloaded
    write_report(args, metrics, sizes, lines, train_time, n_params, train_set)


def write_report(args, metrics, sizes, lines, train_time, n_params, train_set):
    cmd = "python3 " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    s = metrics["saved"]
    png = metrics["saved_png_processor"]
    ex = s["explanations"]
    rows = "\n".join(
        f"| {m} | {e['point']:.3f} | {e['point_strict']:.3f} | {e['mass_touch']:.3f} | {e['mass_pixels']:.3f} | "
        f"{e['two_object_switch']:.3f} |" for m, e in ex.items())
    saliency_note = "" if args.saliency_weight <= 0 else f"""
+ {args.saliency_weight} x a saliency penalty on {args.saliency_batch} images per step (Ross et al. 2017, "right for
the right reasons"): the integrated-gradients integrand x * ds/dx at a random point a*x of IG's path (a uniform
in [0.05, 1]), summed over channels, for one present object's caption; penalised is the share of its positive
part outside that object's pixel mask. It teaches the model to base its score on the named object's pixels.""" + ("" if args.rank_weight <= 0 else f"""
Inside that penalty, {args.rank_weight} x a smoothed relevance rank accuracy: with K mask pixels, the share of the
mask above the K-th largest relevance, the step replaced by a sigmoid a quarter standard deviation wide.""") + (
        "" if args.rank_hinge_weight <= 0 else f"""
Inside that penalty, {args.rank_hinge_weight} x a hinge form of relevance rank accuracy that never saturates: with
K mask pixels and t the K-th largest relevance, the sum of (t - r) over mask pixels below t and of (r - t) over other
pixels above t, divided by K times the relevance a mask pixel would get if all positive relevance lay evenly on
the mask.""")
    init_note = "" if not args.init_from else f"""

This run fine-tuned the state dict `{args.init_from}` (the checkpoint of a previous run of this script,
see "Recipe" in tools/README.md) rather than starting from a random initialisation."""
    md = f"""# Default model: training record

Written by `tools/train_default_model.py`; rerun it to reproduce (see tools/README.md).

Command (from the repository root, after `cargo build --release`):

```sh
{cmd}
```
{init_note}

## Model

A Hugging Face `CLIPModel` trained from scratch (eager attention, quick_gelu, weights saved as {args.dtype}):

- vision: {args.image_size}x{args.image_size} pixels, patch {args.patch_size} ({args.image_size // args.patch_size}x{args.image_size // args.patch_size} patches), hidden {args.vision_hidden}, MLP {args.vision_mlp or 4 * args.vision_hidden}, {args.vision_layers} layers, {args.vision_heads} heads
- text: hidden {args.text_hidden}, MLP {4 * args.text_hidden}, {args.text_layers} layers, {args.text_heads} heads, {args.max_positions} positions, pooled at the first `<|endoftext|>` (eos_token_id {512 + args.merges + 1})
- projection {args.projection_dim}; {n_params} parameters in all
- tokenizer: real OpenAI CLIP BPE reduced to its first {args.merges} merges (`tools/build_clip_tokenizer.py --merges {args.merges}`), vocabulary {512 + args.merges + 2}
- preprocessing: CLIPImageProcessor, shortest edge / crop {args.image_size}, CLIP mean and std

Files: {", ".join(f"`{n}` {v} B" for n, v in sizes.items())}; total {sum(sizes.values())} bytes.

## Data

Scenes from `sightline scenes` (the crate's `sightline::scene` generator, default spec: 1-4 objects,
4 colours x 3 shapes, extents 1/12-1/3 of the side), drawn at {args.image_size} pixels.

- training: {train_set.count} scenes, dataset seed {args.train_seed}
- held out: dataset seeds {EVAL_SEED_BASE + 1} ({args.eval_scenes} one-object scenes),
  {EVAL_SEED_BASE + 2} ({args.eval_scenes} scenes of 2-4 objects), {EVAL_SEED_BASE + 3}
  ({args.explain_scenes} two-object scenes); no held-out scene seed occurs in the training set.

## Training

{args.steps} steps of batch {args.batch} ({args.steps * args.batch} images), AdamW lr {args.lr} (5 % warm-up, cosine),
weight decay {args.weight_decay}, {args.threads} CPU threads, seed {args.seed}; {train_time:.0f} s of training on
{platform.processor() or platform.machine()} (torch {torch.__version__}).

Loss = per-object softmax over the 12 single captions (the image's other objects masked out)
+ {args.contrastive_weight} x CLIP contrastive loss over one caption per image (single, or with probability
{args.p_conjunction} a conjunction and {args.p_left_of} a "left of" caption), where in-batch captions that are
also true of an image are masked out
+ {args.dense_weight} x a dense auxiliary loss ({args.dense_mode}): every final patch token, through the
vision tower's own post_layernorm and projection, classified against the 12 single-caption embeddings plus
a constant background logit, with the object covering >= {args.dense_hi} of the patch as label (patches
partly covered below that are ignored). It uses the scenes' masks and adds no saved parameters; it is what
makes the patch features local, so gradient explanations localise.{saliency_note}

## Held-out metrics (from the saved {args.dtype} files)

- (a) one-object scenes, right caption among the 12 singles: **{s['one_single_acc']:.4f}** (n={s['one_single_n']});
  through PNG + CLIPImageProcessorPil + tokenizer.json: {png['one']['single_acc']:.4f}
- (b) 2-4-object scenes, each present object's caption above every absent pair's caption:
  **{s['multi_multi_present_beats_absent']:.4f}** (n={s['multi_multi_n']} objects);
  through PNG + processor: {png['multi']['multi_present_beats_absent']:.4f}
- (c) explanations on the 2-4-object scenes (every object prompted with its single caption;
  s = logits_per_image[0, target]). pointing: the top patch touches the object's mask; strict: and the
  object covers that patch at least as much as any other object; mass: share of the positive relevance
  on patches the object touches, or weighted by the share of each patch it covers (pixel level);
  switch: in two-object scenes both prompts put their top patch on their own object (different patches).

| method | pointing | pointing strict | mass (touched patches) | mass (pixel-weighted) | two-object switch |
| --- | --- | --- | --- | --- | --- |
{rows}

(n = {next(iter(ex.values()))['n']} prompted objects, {next(iter(ex.values()))['two_object_n']} two-object scenes.)
Float32 (before the cast) for comparison: {json.dumps({m: round(e['point'], 3) for m, e in metrics['float32']['explanations'].items()})} (pointing),
(a) {metrics['float32']['one_single_acc']:.4f}, (b) {metrics['float32']['multi_multi_present_beats_absent']:.4f}.

## Log

```
""" + "\n".join(lines) + "\n```\n"
    with open(os.path.join(args.out, "TRAINING.md"), "w") as f:
        f.write(md)
    print(f"wrote {os.path.join(args.out, 'TRAINING.md')}")


if __name__ == "__main__":
    main()
