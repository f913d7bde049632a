#!/usr/bin/env python3
"""Reference fixtures for Sightline's LLaVA support: tiny random LlavaForConditionalGeneration
checkpoints, laid out as published, and float64 expected generations and explanations.

Writes (deterministically; rerunnable; needs no downloads):
    tests/fixtures/llava-random-{a,b,c}/  a complete checkpoint folder each, plus image.png and
    expected.json.  The three folders cover the checkpoint forms the issue lists:

    a  transformers 5 tensor names as the 5.x model holds them (model.language_model.*,
       model.vision_tower.embeddings/encoder/... — transformers 5 dropped CLIPVisionModel's
       `vision_model.` level —, model.multi_modal_projector.*, lm_head.*); f32; grouped-query
       attention (4 heads, 2 KV heads); untied lm_head; byte-level BPE tokenizer whose
       post-processor adds <|begin_of_text|>; ChatML-style template in chat_template.jinja that
       itself starts with {{ bos_token }}; processor_config.json in transformers 5's nested form
       (the image processor inside it, no preprocessor_config.json); rope_theta as a plain
       text_config field; vision_feature_layer -2, strategy "default"; vocab padded past the
       tokenizer (368 vs 366).
    b  llava-hf / transformers 4 names (language_model.model.*, vision_tower.vision_model.*,
       multi_modal_projector.*; no lm_head tensor: tied, tie_word_embeddings only inside
       text_config); f16; multi-query attention (1 KV head) with head_dim 12 != 32/4;
       SentencePiece-style tokenizer (Metaspace, BPE with byte_fallback, <0x00>..<0xFF>, BOS from
       the post-processor); llava-hf's own llava-1.5 chat template (uses .upper(), selectattr and
       transformers' {% generation %} tag) in chat_template.json and tokenizer_config.json;
       preprocessor_config.json + flat processor_config.json; rope_parameters; feature layer -1;
       projector without bias.
    c  what transformers 5.25's save_pretrained writes: two safetensors shards +
       model.safetensors.index.json with language_model.model.* / vision_tower.embeddings.* names;
       bf16; tie_word_embeddings true only at the top level of config.json; strategy "full" (the
       CLS row is an image token); quick_gelu tower; feature layer -2; GQA 6 heads / 2 KV heads;
       no chat template (the raw prompt holds <image>); generation_config.json with eos_token_id
       a list, and greedy generation ends on its second entry before max_new_tokens.

Requires torch, transformers (5.x), tokenizers, numpy, pillow, safetensors, and make_fixtures.py
beside this file (SplitMix64, the synthetic image, patch reductions).

Conventions (the contract the Rust code is tested against):
  * Everything is float64: the checkpoint is loaded with from_pretrained (f16/bf16 variants
    therefore hold the rounded weights) and upcast with model.double().  Four transformers
    code paths would otherwise compute in float32 and are replaced for the reference: the eager
    attention softmax (Llama and CLIP), LlamaRMSNorm (casts to float32), and the RoPE angles
    (inv_freq = 1/theta^(2i/d) and position*inv_freq, cos, sin in float64).  The script checks
    that stock transformers in float32 gives the same logits to 1e-4.
  * input_ids = processor(text=formatted_prompt, images=image,
    add_special_tokens=not formatted_prompt.startswith(bos_token)) — exactly what
    processor.apply_chat_template(..., tokenize=True) does (asserted); the flag is stored as
    "add_special_tokens".  Without a template formatted_prompt = prompt.  The processor expands
    <image> to (S/P)^2 + num_additional_image_tokens - 1 tokens for "default", (S/P)^2 + 1 for
    "full" (num_additional_image_tokens is 1 in every folder).
  * Generation: greedy with the folder's generation_config.  model.generate, a float64 loop
    through transformers' KV cache and a recomputing loop (no cache) give the same ids; the
    cache loop's logits equal a teacher-forced forward over input_ids + generated_ids to
    1e-9 * max|logit| (generate() itself hands out float32 logits: to 1e-6).  generated_logits
    and generated_top come from the teacher-forced forward.  generated_ids includes a final EOS
    if one was produced.  Every step's top-1 beats top-2 by >= MARGIN so that an f32 engine picks
    the same tokens; the seeds were chosen for that, for >= 3 distinct printable tokens and for
    how the answer ends (a, b: max_new_tokens; c: eos_token_id[1]) — never by editing logits.
  * Token k (0-based) is predicted at q = len(input_ids) + k - 1; s = logits[q, id_k] (raw),
    contrast: s = logits[q, id_k] - logits[q, other_id].  A_l (l = 1..L) are the decoder's
    attention probabilities (query heads x T x T) of ONE forward over input_ids + all
    generated_ids (causal, so row q is the same as with the sequence cut after q).
  * Image positions: the expanded <image> tokens, in order.  "default": image token i is patch i
    (row-major).  "full": image token 0 is the CLS row (neither patch nor text), image token
    i >= 1 is patch i-1.  Text positions: every non-image position 0..=q, in order (stored as
    "text_positions" per token).  patch_scores always has one value per patch (g*g, row-major);
    for "full" the CLS image token's value is stored as "cls_score".
  * expected.json floats carry 12 significant digits (float32 values still round-trip).
  * x = pixel_values (3xSxS, float32 values from the processor, used in float64);
    G = ds/dx; e_t = input embedding of position t (embed_tokens row; gradients taken by feeding
    inputs_embeds, as LlavaModel then finds image rows by comparing with <image>'s embedding).

Methods (m = options.steps = 4, seed = options.seed = 7; mean_h = mean over query heads):
  attention        mean over l and h of A_l[q, image positions]; text: same row, text positions
  rollout          row q of Â_L...Â_1, Â_l = rownorm(0.5*mean_h A_l + 0.5*I); text: same row
  chefer           row q of R, R = I; R <- R + mean_h(ReLU(ds/dA_l * A_l)) @ R, l = 1..L; text: same row
  chefer_vision    r = the chefer row at the image positions, put on vision tokens (vision token
                   0 = CLS, 1.. = patches; "default": patch i <- r[i], CLS <- 0; "full": CLS <-
                   r[0], patch i <- r[i+1]); v <- v + v @ mean_h(ReLU(ds/dA^v_l * A^v_l)) for
                   l = F down to 1 (F = the feature layer as a 1-based layer count: Lv+1+layer
                   for a negative layer); patch_scores = v at the patch tokens; text = chefer's
  gradient         pixel = max_c |G|; patch = mean over the patch; text: ||ds/de_t||_2
  grad_x_input     pixel = sum_c G*x; patch = sum over the patch; text: sum_d ds/de_t * e_t
  integrated_gradients  IG = x * (1/m) sum_{k=1..m} G(float32(k/m)*x) (float32 product);
                   pixel = sum_c IG; patch = sum
  smoothgrad       sigma = float32(0.15*(max x - min x)); z = SplitMix64(seed) + Box-Muller
                   normals, shape (m,3,S,S) row-major; noisy_k = float32(x + sigma*float32(z_k));
                   pixel = max_c mean_k |G(noisy_k)|; patch = mean
  occlusion        s(x) - s(x with the patch set to 0 in normalized space), one per patch
  token_activation max(0, logits[p, id_k]) at each image position p (logits = lm_head(norm(h_L)));
                   forward only, no contrast form
Folder a has every method for every generated token; b and c have attention, rollout, chefer,
chefer_vision, gradient, grad_x_input and token_activation for every token and the others for the
token FULL_TOKEN only.  contrast_methods (token contrast.token, other id = that step's runner-up):
every s-dependent method in a; chefer, chefer_vision, gradient, grad_x_input in b and c.

Checks the script asserts: each folder reloads with from_pretrained with no missing or
unexpected keys and every tensor equal to the written one (tied head shared, eager attention in
both towers); AutoProcessor loads it; transformers' ids equal the `tokenizers` library's ids from
tokenizer.json; output_attentions are the tensors used in the computation; ds/dx, ds/de and ds/dA
(first vision and first decoder layer) agree with central finite differences in float64; vision
layer F gets a gradient and the layers past it none; the row recursions for chefer and
chefer_vision equal the matrix definitions; stock float32 transformers agrees with the reference.

Usage: python3 tools/make_llava_fixtures.py [--only a|b|c] [--search-seeds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import SplitMix64, flist, patch_reduce, synth_image, write_png  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(REPO, "tests", "fixtures")

STEPS = 4
SEED = 7
TOP_K = 5
MARGIN = 0.05  # least top-1 minus top-2 logit gap at every greedy step
FULL_TOKEN = 1  # b and c: the token that gets every method
CONTRAST_TOKEN = 1

# --------------------------------------------------------------------------
# tokenizers (trained here on a small corpus of shape and colour sentences)
# --------------------------------------------------------------------------
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "black", "white", "grey", "pink"]
SHAPES = ["circle", "square", "triangle", "star", "rectangle", "cross", "ring", "dot"]


def corpus() -> list[str]:
    out = []
    for i, c in enumerate(COLOURS):
        for j, s in enumerate(SHAPES):
            out.append(f"There is a {c} {s} in the picture.")
            out.append(f"The {s} is {c}.")
            out.append(f"What colour is the {s}? It is {c}.")
            out.append(f"Which shape is {c}? The {s}.")
            if (i + j) % 3 == 0:
                out.append(f"A small {c} {s} is left of a large {COLOURS[(i + 3) % 10]} {SHAPES[(j + 2) % 8]}.")
    chat = ["user", "assistant", "USER:", "ASSISTANT:", "Describe the sign.", "What is left of the square?"]
    return out + chat * 20


def bytelevel_bpe(specials: list[str], bos: str):
    """GPT-2 / Llama-3 style: ByteLevel pre-tokenizer and decoder, BOS added by the post-processor."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=360, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False, special_tokens=[])
    tok.train_from_iterator(corpus(), trainer)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    bos_id = tok.token_to_id(bos)
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                       special_tokens=[(bos, bos_id)])
    return tok


def sentencepiece_style_bpe(extra_specials: list[str]):
    """Llama-2 style tokenizer.json: Metaspace (prepend "first", no split), BPE with byte_fallback
    over <unk>, <s>, </s>, <0x00>..<0xFF>, then the trained pieces; <s> added by the post-processor."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    # Trained with split=True so that no piece spans two words (as SentencePiece), used with
    # split=False as Llama's converted tokenizer.json does: same result, no merge crosses a ▁.
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer_tok.train_from_iterator(corpus(), trainers.BpeTrainer(vocab_size=150, show_progress=False,
                                                                  special_tokens=[]))
    trained = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece in sorted(trained["vocab"], key=trained["vocab"].get):
        vocab.setdefault(piece, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ["<unk>", "<s>", "</s>", "<image>", "<pad>"] + extra_specials])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    return tok


# --------------------------------------------------------------------------
# chat templates
# --------------------------------------------------------------------------
CHATML_TEMPLATE = """{{- bos_token }}
{%- for message in messages %}
{{- '<|im_start|>' + message['role'] + '\\n' }}
{%- if message['content'] is string %}
{{- message['content'] }}
{%- else %}
{%- for item in message['content'] %}
{%- if item['type'] == 'image' %}
{{- '<image>\\n' }}
{%- elif item['type'] == 'text' %}
{{- item['text'] }}
{%- endif %}
{%- endfor %}
{%- endif %}
{{- '<|im_end|>\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# llava-hf/llava-1.5-*-hf's template, verbatim (including transformers' {% generation %} tag).
LLAVA15_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}"
    "{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', "
    "'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != "
    "'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | "
    "selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}"
    "{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

# --------------------------------------------------------------------------
# the variants
# --------------------------------------------------------------------------
VARIANTS = {
    "a": dict(
        layout="transformers5",
        all_methods_every_token=True,
        dtype=torch.float32,
        tokenizer=dict(kind="bytelevel", bos="<|begin_of_text|>", eos=["<|im_end|>"], pad="<pad>",
                       specials=["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>",
                                 "<image>", "<pad>"]),
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                    image_size=24, patch_size=6, hidden_act="quick_gelu", projection_dim=32),
        text=dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5),
        rope_theta=10000.0,
        vocab_padding=2,
        tied=False,
        projector_bias=True,
        vision_feature_layer=-2,
        strategy="default",
        image_mean=None,  # CLIP's
        image_std=None,
        image_wh=(37, 29),
        image_variant=1,
        prompt="Which shape is red \u2014 the star or the ring?",
        max_new_tokens=6,
        end="length",
        seed=109,
    ),
    "b": dict(
        layout="llava-hf",
        all_methods_every_token=False,
        dtype=torch.float16,
        tokenizer=dict(kind="sentencepiece", bos="<s>", eos=["</s>"], pad="<pad>", specials=[]),
        vision=dict(hidden_size=24, intermediate_size=48, num_hidden_layers=2, num_attention_heads=3,
                    image_size=30, patch_size=10, hidden_act="gelu", projection_dim=24),
        text=dict(hidden_size=32, intermediate_size=40, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=1, head_dim=12, max_position_embeddings=64, rms_norm_eps=1e-6),
        rope_theta=5000.0,
        vocab_padding=0,
        tied=True,
        projector_bias=False,
        vision_feature_layer=-1,
        strategy="default",
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        image_wh=(45, 60),
        image_variant=2,
        prompt="Describe the caf\u00e9 sign.",
        max_new_tokens=5,
        end="length",
        seed=243,
    ),
    "c": dict(
        layout="save_pretrained",
        all_methods_every_token=False,
        dtype=torch.bfloat16,
        tokenizer=dict(kind="sentencepiece", bos="<s>", eos=["</s>", "<|end|>"], pad="<pad>",
                       specials=["<|end|>"]),
        vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                    image_size=28, patch_size=7, hidden_act="quick_gelu", projection_dim=32),
        text=dict(hidden_size=48, intermediate_size=64, num_hidden_layers=2, num_attention_heads=6,
                  num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5),
        rope_theta=10000.0,
        vocab_padding=0,
        tied=True,
        projector_bias=True,
        vision_feature_layer=-2,
        strategy="full",
        image_mean=None,
        image_std=None,
        image_wh=(50, 41),
        image_variant=3,
        prompt="<image>\nWhat is left of the blue square?",
        max_new_tokens=6,
        end="eos",  # stops on eos_token_id[1] before max_new_tokens
        seed=439,
    ),
}

WEIGHT_STD = 0.3  # linear, conv and embedding weights; large enough that maps are far from uniform


# --------------------------------------------------------------------------
# float64 replacements for transformers' float32 islands (see the docstring)
# --------------------------------------------------------------------------
class Float64Patches:
    """Swaps in float64 eager attention (recording every probability tensor, optionally adding a
    perturbation for the finite-difference check), float64 RMSNorm and float64 RoPE angles."""

    def __init__(self):
        from transformers.models.clip import modeling_clip
        from transformers.models.llama import modeling_llama

        self.clip, self.llama = modeling_clip, modeling_llama
        self.originals = {
            "clip_attention": modeling_clip.eager_attention_forward,
            "llama_attention": modeling_llama.eager_attention_forward,
            "rms_forward": modeling_llama.LlamaRMSNorm.forward,
            "rope_forward": modeling_llama.LlamaRotaryEmbedding.forward,
        }
        self.stash: list[torch.Tensor] = []
        self.delta: dict[int, torch.Tensor] = {}
        self.calls = {"attention": 0, "rms": 0, "rope": 0}

    def attention(self, module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
        groups = getattr(module, "num_key_value_groups", 1)
        key = self.llama.repeat_kv(key, groups)
        value = self.llama.repeat_kv(value, groups)
        scores = torch.matmul(query, key.transpose(-1, -2)) * scaling
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = torch.nn.functional.softmax(scores, dim=-1, dtype=query.dtype)
        index = len(self.stash)
        if index in self.delta:
            probs = probs + self.delta[index]
        self.stash.append(probs)
        self.calls["attention"] += 1
        out = torch.matmul(probs, value).transpose(1, 2).contiguous()
        return out, probs

    def enable(self):
        patches = self

        def rms_forward(norm, hidden):
            patches.calls["rms"] += 1
            variance = hidden.pow(2).mean(-1, keepdim=True)
            return norm.weight * (hidden * torch.rsqrt(variance + norm.variance_epsilon))

        def rope_forward(rope, x, position_ids):
            patches.calls["rope"] += 1
            cfg = rope.config
            assert cfg.rope_parameters["rope_type"] == "default" and rope.attention_scaling == 1.0
            dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
            theta = float(cfg.rope_parameters["rope_theta"])
            inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
            angles = position_ids[..., None].to(torch.float64) * inv_freq
            angles = torch.cat((angles, angles), dim=-1)
            return angles.cos().to(x.dtype), angles.sin().to(x.dtype)

        self.clip.eager_attention_forward = self.attention
        self.llama.eager_attention_forward = self.attention
        self.llama.LlamaRMSNorm.forward = rms_forward
        self.llama.LlamaRotaryEmbedding.forward = rope_forward

    def disable(self):
        self.clip.eager_attention_forward = self.originals["clip_attention"]
        self.llama.eager_attention_forward = self.originals["llama_attention"]
        self.llama.LlamaRMSNorm.forward = self.originals["rms_forward"]
        self.llama.LlamaRotaryEmbedding.forward = self.originals["rope_forward"]


PATCHES: Float64Patches | None = None


# --------------------------------------------------------------------------
# checkpoint folders
# --------------------------------------------------------------------------
def build_tokenizer(spec):
    t = spec["tokenizer"]
    if t["kind"] == "bytelevel":
        return bytelevel_bpe(t["specials"], t["bos"])
    return sentencepiece_style_bpe(t["specials"])


def special_ids(spec, tok) -> dict:
    t = spec["tokenizer"]
    ids = {"bos": tok.token_to_id(t["bos"]), "eos": [tok.token_to_id(e) for e in t["eos"]],
           "pad": tok.token_to_id(t["pad"]), "image": tok.token_to_id("<image>")}
    assert None not in (ids["bos"], ids["pad"], ids["image"]) and None not in ids["eos"], ids
    return ids


def grid_of(spec) -> int:
    return spec["vision"]["image_size"] // spec["vision"]["patch_size"]


def num_image_tokens(spec) -> int:
    return grid_of(spec) ** 2 + (1 if spec["strategy"] == "full" else 0)


def published_config(spec, tok) -> dict:
    """config.json as each layout's checkpoints carry it."""
    ids = special_ids(spec, tok)
    vocab = tok.get_vocab_size(with_added_tokens=True) + spec["vocab_padding"]
    text = dict(spec["text"], model_type="llama", vocab_size=vocab, bos_token_id=ids["bos"],
                eos_token_id=ids["eos"][0], pad_token_id=ids["pad"], hidden_act="silu")
    vision = dict(spec["vision"], model_type="clip_vision_model", layer_norm_eps=1e-5)
    cfg = {
        "architectures": ["LlavaForConditionalGeneration"],
        "model_type": "llava",
        "image_token_index": ids["image"],
        "image_seq_length": num_image_tokens(spec),
        "projector_hidden_act": "gelu",
        "multimodal_projector_bias": spec["projector_bias"],
        "vision_feature_layer": spec["vision_feature_layer"],
        "vision_feature_select_strategy": spec["strategy"],
        "text_config": text,
        "vision_config": vision,
    }
    if spec["layout"] == "transformers5":
        text["rope_theta"] = spec["rope_theta"]  # the plain field (transformers 4 and many hub configs)
        cfg["tie_word_embeddings"] = spec["tied"]
        cfg["dtype"] = str(spec["dtype"]).removeprefix("torch.")
    elif spec["layout"] == "llava-hf":
        text["rope_parameters"] = {"rope_type": "default", "rope_theta": spec["rope_theta"]}
        text["tie_word_embeddings"] = spec["tied"]  # only here: LlavaConfig forwards it to the top
        text["torch_dtype"] = str(spec["dtype"]).removeprefix("torch.")
        cfg["pad_token_id"] = ids["pad"]
        cfg["ignore_index"] = -100
    else:  # save_pretrained rewrites this file; tie only at the top level
        text["rope_parameters"] = {"rope_type": "default", "rope_theta": spec["rope_theta"]}
        cfg["tie_word_embeddings"] = spec["tied"]
    return cfg


def init_weights(model, seed: int) -> None:
    from torch import nn
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    g = torch.Generator().manual_seed(seed)

    def rnd(shape, std, mean=0.0):
        return mean + torch.randn(shape, generator=g, dtype=torch.float32) * std

    done = set()
    embed = model.get_input_embeddings().weight
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, (nn.LayerNorm, LlamaRMSNorm)):
                mod.weight.copy_(rnd(mod.weight.shape, 0.1, 1.0))
            elif isinstance(mod, (nn.Linear, nn.Conv2d)):
                if mod.weight is embed:  # tied lm_head: the embedding is initialised once
                    continue
                mod.weight.copy_(rnd(mod.weight.shape, WEIGHT_STD))
            elif isinstance(mod, nn.Embedding):
                std = 0.5 if name.endswith("position_embedding") else WEIGHT_STD
                mod.weight.copy_(rnd(mod.weight.shape, std))
            else:
                continue
            done.add(id(mod.weight))
            if getattr(mod, "bias", None) is not None:
                mod.bias.copy_(rnd(mod.bias.shape, 0.1))
                done.add(id(mod.bias))
        for name, p in model.named_parameters():
            if name.endswith("class_embedding"):
                p.copy_(rnd(p.shape, 0.5))
                done.add(id(p))
    missed = [n for n, p in model.named_parameters() if id(p) not in done]
    assert not missed, missed


def build_model(cfg, seed: int, dtype):
    """Random weights, rounded to the checkpoint dtype (kept in that dtype)."""
    from transformers import LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    init_weights(model, seed)
    return model.to(dtype).eval()


def llava_hf_name(name: str) -> str:
    for new, old in (("model.language_model.", "language_model.model."), ("lm_head.", "language_model.lm_head."),
                     ("model.vision_tower.", "vision_tower.vision_model."),
                     ("model.multi_modal_projector.", "multi_modal_projector.")):
        if name.startswith(new):
            return old + name[len(new):]
    raise ValueError(f"unexpected parameter name {name}")


def write_weights(spec, model, out_dir: str) -> None:
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if spec["tied"]:
        del state["lm_head.weight"]  # transformers never saves the tied copy
    if spec["layout"] == "transformers5":
        save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    elif spec["layout"] == "llava-hf":
        save_file({llava_hf_name(k): v for k, v in state.items()}, os.path.join(out_dir, "model.safetensors"),
                  metadata={"format": "pt"})
    else:
        total = sum(v.numel() * v.element_size() for v in state.values())
        model.save_pretrained(out_dir, max_shard_size=int(total * 0.6))
        index = json.load(open(os.path.join(out_dir, "model.safetensors.index.json")))
        shards = sorted(set(index["weight_map"].values()))
        assert shards == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"], shards


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def image_processor_fields(spec) -> dict:
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

    s = spec["vision"]["image_size"]
    return {"size": {"shortest_edge": s}, "crop_size": {"height": s, "width": s},
            "image_mean": list(spec["image_mean"] or OPENAI_CLIP_MEAN),
            "image_std": list(spec["image_std"] or OPENAI_CLIP_STD)}


def write_processor(spec, tok, out_dir: str) -> None:
    """Tokenizer, image processor, processor and chat-template files in the layout's form."""
    from transformers import LlavaProcessor, PreTrainedTokenizerFast
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    t = spec["tokenizer"]
    common = dict(patch_size=spec["vision"]["patch_size"], vision_feature_select_strategy=spec["strategy"],
                  num_additional_image_tokens=1)
    if spec["layout"] == "llava-hf":
        tok.save(os.path.join(out_dir, "tokenizer.json"))
        specials = {"bos_token": t["bos"], "eos_token": t["eos"][0], "pad_token": t["pad"], "unk_token": "<unk>"}
        added = {str(i): {"content": t.content, "lstrip": False, "normalized": False, "rstrip": False,
                          "single_word": False, "special": True}
                 for i, t in sorted(tok.get_added_tokens_decoder().items())}
        write_json(os.path.join(out_dir, "tokenizer_config.json"), dict(
            specials, add_bos_token=True, add_eos_token=False, added_tokens_decoder=added,
            chat_template=LLAVA15_TEMPLATE, clean_up_tokenization_spaces=False, legacy=False,
            model_max_length=spec["text"]["max_position_embeddings"], padding_side="left",
            processor_class="LlavaProcessor", tokenizer_class="LlamaTokenizer", use_default_system_prompt=False))
        write_json(os.path.join(out_dir, "special_tokens_map.json"), specials)
        write_json(os.path.join(out_dir, "preprocessor_config.json"), dict(
            image_processor_fields(spec), do_center_crop=True, do_convert_rgb=True, do_normalize=True,
            do_rescale=True, do_resize=True, image_processor_type="CLIPImageProcessor",
            processor_class="LlavaProcessor", resample=3, rescale_factor=1 / 255))
        write_json(os.path.join(out_dir, "processor_config.json"), dict(
            common, image_token="<image>", processor_class="LlavaProcessor"))
        write_json(os.path.join(out_dir, "chat_template.json"), {"chat_template": LLAVA15_TEMPLATE})
        return
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=t["bos"], eos_token=t["eos"][0],
                                        pad_token=t["pad"], extra_special_tokens={"image_token": "<image>"})
    if spec["layout"] == "transformers5":
        processor = LlavaProcessor(image_processor=LlavaImageProcessorPil(**image_processor_fields(spec)),
                                   tokenizer=tokenizer, chat_template=CHATML_TEMPLATE, **common)
    else:
        processor = LlavaProcessor(image_processor=CLIPImageProcessorPil(**image_processor_fields(spec)),
                                   tokenizer=tokenizer, **common)
    processor.save_pretrained(out_dir)


def write_folder(spec, out_dir: str, seed: int):
    """Writes the checkpoint folder; returns the in-memory model (checkpoint dtype) and tokenizer."""
    from transformers import LlavaConfig

    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    tok = build_tokenizer(spec)
    ids = special_ids(spec, tok)
    write_json(os.path.join(out_dir, "config.json"), published_config(spec, tok))
    cfg = LlavaConfig.from_pretrained(out_dir)
    model = build_model(cfg, seed, spec["dtype"])
    write_weights(spec, model, out_dir)
    write_processor(spec, tok, out_dir)
    eos = ids["eos"] if len(ids["eos"]) > 1 else ids["eos"][0]
    write_json(os.path.join(out_dir, "generation_config.json"),
               {"bos_token_id": ids["bos"], "eos_token_id": eos, "pad_token_id": ids["pad"]})
    w, h = spec["image_wh"]
    write_png(synth_image(w, h, spec["image_variant"]), os.path.join(out_dir, "image.png"))
    return model, tok


def load_reference_model(spec, out_dir: str, written):
    """from_pretrained the folder as published; every tensor must arrive unchanged."""
    from transformers import LlavaForConditionalGeneration

    model, info = LlavaForConditionalGeneration.from_pretrained(out_dir, attn_implementation="eager",
                                                                output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"loading {out_dir}: {bad}"
    got = dict(model.named_parameters(remove_duplicate=False))
    for name, want in written.named_parameters(remove_duplicate=False):
        assert got[name].dtype == spec["dtype"], (name, got[name].dtype)
        assert torch.equal(got[name], want), f"{name} changed on the way through the checkpoint"
    tied = model.lm_head.weight is model.get_input_embeddings().weight
    assert tied == spec["tied"], ("tied", tied)
    assert model.config.vision_config._attn_implementation == "eager"
    assert model.config.text_config._attn_implementation == "eager"
    return model.eval()


# --------------------------------------------------------------------------
# prompt, ids and pixels through LlavaProcessor (from the folder)
# --------------------------------------------------------------------------
def prepare_inputs(spec, out_dir: str) -> dict:
    from PIL import Image
    from tokenizers import Tokenizer
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(out_dir)
    assert type(processor).__name__ == "LlavaProcessor", type(processor)
    assert processor.num_additional_image_tokens == 1 and processor.patch_size == spec["vision"]["patch_size"]
    image = Image.open(os.path.join(out_dir, "image.png"))
    prompt = spec["prompt"]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    if processor.chat_template is not None:
        formatted = processor.apply_chat_template(messages, add_generation_prompt=True)
    else:
        formatted = prompt
    bos = processor.tokenizer.bos_token
    add_special = not formatted.startswith(bos)
    inputs = processor(text=formatted, images=image, add_special_tokens=add_special, return_tensors="np")
    ids = [int(i) for i in inputs["input_ids"][0]]
    pv = inputs["pixel_values"][0]
    if processor.chat_template is not None:
        with_image = [{"role": "user", "content": [{"type": "image", "image": image},
                                                   {"type": "text", "text": prompt}]}]
        direct = processor.apply_chat_template(with_image, add_generation_prompt=True, tokenize=True,
                                               return_dict=True, return_tensors="np")
        assert [int(i) for i in direct["input_ids"][0]] == ids, "apply_chat_template(tokenize=True) differs"
        assert np.array_equal(direct["pixel_values"][0], pv)
    image_id = processor.image_token_id
    n_image = num_image_tokens(spec)
    positions = [i for i, t in enumerate(ids) if t == image_id]
    assert len(positions) == n_image and positions == list(range(positions[0], positions[0] + n_image)), positions
    expanded = formatted.replace("<image>", "<image>" * n_image)
    raw = Tokenizer.from_file(os.path.join(out_dir, "tokenizer.json"))
    assert raw.encode(expanded, add_special_tokens=add_special).ids == ids, "transformers and tokenizers disagree"
    s = spec["vision"]["image_size"]
    assert pv.dtype == np.float32 and pv.shape == (3, s, s), (pv.dtype, pv.shape)
    return dict(processor=processor, prompt=prompt, formatted=formatted, add_special=add_special, ids=ids,
                pv=pv, image_positions=positions, image_token_id=image_id, raw_tokenizer=raw)


# --------------------------------------------------------------------------
# float64 forward with the pieces the methods need
# --------------------------------------------------------------------------
class Reference:
    def __init__(self, model, ids: list[int]):
        self.model = model
        self.ids = torch.tensor(ids)
        self.Lv = model.config.vision_config.num_hidden_layers
        self.L = model.config.text_config.num_hidden_layers
        with torch.no_grad():
            self.embeds = model.get_input_embeddings()(self.ids).clone()

    def forward(self, x64: torch.Tensor, need: bool = False, embeds: torch.Tensor | None = None) -> dict:
        """x64: (3,S,S) float64. need: keep attention probabilities and embeddings for gradients."""
        PATCHES.stash.clear()
        e = self.embeds.clone() if embeds is None else embeds
        if need:
            e.requires_grad_(True)
        out = self.model(inputs_embeds=e[None], pixel_values=x64[None], output_attentions=need)
        assert len(PATCHES.stash) == self.Lv + self.L, len(PATCHES.stash)
        res = {"logits": out.logits[0], "e": e}
        if need:
            va, ta = list(out.image_outputs.attentions), list(out.attentions)
            assert len(va) == self.Lv and len(ta) == self.L
            for returned, used in zip(va + ta, PATCHES.stash):
                assert returned is used, "a returned attention is not the one used in the computation"
            res.update(va=va, ta=ta)
        return res


def score(logits: torch.Tensor, target: dict) -> torch.Tensor:
    s = logits[target["q"], target["id"]]
    if target.get("other") is not None:
        s = s - logits[target["q"], target["other"]]
    return s


def grads_or_zeros(s, inputs, retain=True):
    gs = torch.autograd.grad(s, inputs, retain_graph=retain, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for g, x in zip(gs, inputs)]


def rollout_row(attns, q: int) -> torch.Tensor:
    T = attns[0].shape[-1]
    eye = torch.eye(T, dtype=torch.float64)
    v = eye[q].clone()
    for A in reversed(attns):
        Ah = 0.5 * A.detach()[0].mean(0) + 0.5 * eye
        Ah = Ah / Ah.sum(-1, keepdim=True)
        v = v @ Ah
    return v


def relevance_maps(attns, grads) -> list[torch.Tensor]:
    return [torch.relu(G[0] * A.detach()[0]).mean(0) for A, G in zip(attns, grads)]


def chefer_full(cams) -> torch.Tensor:
    """R = I; R <- R + cam_l @ R for l = 1..L (the definition; used to check the row recursion)."""
    T = cams[0].shape[-1]
    R = torch.eye(T, dtype=torch.float64)
    for cam in cams:
        R = R + cam @ R
    return R


def chefer_row(cams, v: torch.Tensor) -> torch.Tensor:
    """v @ (I + cam_L) ... (I + cam_1): the row recursion from the last layer down."""
    for cam in reversed(cams):
        v = v + v @ cam
    return v


def feature_layer_count(model) -> int:
    layer = model.config.vision_feature_layer
    assert isinstance(layer, int)
    return layer if layer >= 0 else model.config.vision_config.num_hidden_layers + 1 + layer


def split_image_row(row, image_positions, strategy):
    """(patch values, CLS value or None) from a row over sequence positions."""
    vals = row[image_positions]
    if strategy == "full":
        return vals[1:], float(vals[0])
    return vals, None


def text_positions(image_positions, q: int) -> list[int]:
    image = set(image_positions)
    return [p for p in range(q + 1) if p not in image]


def scores_entry(patch, cls=None, text=None, pixel=None) -> dict:
    entry = {"patch_scores": flist(patch)}
    if cls is not None:
        entry["cls_score"] = cls
    if pixel is not None:
        entry["pixel_scores"] = flist(pixel)
    if text is not None:
        entry["text_scores"] = flist(text)
    return entry


# --------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------
def greedy_by_recomputation(model, ids: list[int], x64: torch.Tensor, max_new: int, eos: list[int]):
    """Greedy decoding with a full forward per step (no cache): ids and each step's logits."""
    seq, rows = list(ids), []
    with torch.no_grad():
        for _ in range(max_new):
            PATCHES.stash.clear()
            row = model(input_ids=torch.tensor([seq]), pixel_values=x64[None]).logits[0, -1]
            rows.append(row)
            seq.append(int(row.argmax()))
            if seq[-1] in eos or seq[-1] == model.config.image_token_id:  # an image token cannot be fed back
                break
    return seq[len(ids):], rows


def greedy_with_cache(model, ids: list[int], x64: torch.Tensor, max_new: int, eos: list[int]):
    """Greedy decoding in float64 through transformers' KV cache: ids and each step's logits."""
    seq, rows = list(ids), []
    with torch.no_grad():
        out = model(input_ids=torch.tensor([seq]), pixel_values=x64[None], use_cache=True)
        for _ in range(max_new):
            rows.append(out.logits[0, -1])
            seq.append(int(rows[-1].argmax()))
            if seq[-1] in eos or len(rows) == max_new:
                break
            out = model(input_ids=torch.tensor([[seq[-1]]]), cache=out.cache, use_cache=True)
    return seq[len(ids):], rows


def generation_problems(gen: list[int], rows, spec, eos: list[int], tok) -> list[str]:
    """Why a seed's greedy answer would make a poor fixture (empty: it is fine)."""
    problems = []
    specials = {i for i in tok.get_added_tokens_decoder() if i not in eos}
    for k, row in enumerate(rows):
        top2 = torch.topk(row, 2).values
        if float(top2[0] - top2[1]) < MARGIN:
            problems.append(f"step {k}: top-1/top-2 gap {float(top2[0] - top2[1]):.4f}")
    body = gen[:-1] if gen and gen[-1] in eos else gen
    if len(set(body)) < 3:
        problems.append(f"only {len(set(body))} distinct tokens before EOS")
    if any(t >= tok.get_vocab_size(True) or t in specials for t in body):
        problems.append("a generated id is padding vocabulary or a non-EOS special token")
    else:
        text = tok.decode(body)
        if not text.isprintable() or "\ufffd" in text:
            problems.append(f"the answer {text!r} is not printable text")
    if spec["end"] == "eos":
        if not (gen[-1] == eos[-1] and len(gen) < spec["max_new_tokens"]):
            problems.append(f"does not end on {eos[-1]} before max_new_tokens")
    elif len(gen) != spec["max_new_tokens"] or gen[-1] in eos:
        problems.append("ends on EOS")
    return problems


# --------------------------------------------------------------------------
# the methods
# --------------------------------------------------------------------------
def check_finite_differences(ref, x64, e, target, G, Ge, Gattn, notes) -> None:
    """ds/dx, ds/de and ds/dA (first vision and first decoder layer) against central differences."""
    rng = np.random.default_rng(0)
    eps = 1e-6

    def s_at(x, embeds=None):
        with torch.no_grad():
            return score(ref.forward(x, embeds=embeds)["logits"], target).item()

    def agree(what, fd, an):
        assert abs(fd - an) <= 1e-6 * max(1.0, abs(an)), (what, fd, an)
        notes.append(f"finite differences {what}: {fd:.9f} vs autograd {an:.9f}")

    d = torch.from_numpy(rng.standard_normal(tuple(x64.shape)))
    agree("ds/dx", (s_at(x64 + eps * d) - s_at(x64 - eps * d)) / (2 * eps), float((G * d).sum()))
    de = torch.from_numpy(rng.standard_normal(tuple(e.shape)))
    de[target["image_positions"]] = 0.0  # LlavaModel finds image rows by their exact embedding
    e0 = e.detach()
    agree("ds/de", (s_at(x64, e0 + eps * de) - s_at(x64, e0 - eps * de)) / (2 * eps), float((Ge * de).sum()))
    for name, index in (("ds/dA vision layer 1", 0), ("ds/dA decoder layer 1", ref.Lv)):
        D = torch.from_numpy(rng.standard_normal(tuple(Gattn[index].shape)))
        PATCHES.delta = {index: eps * D}
        sp = s_at(x64)
        PATCHES.delta = {index: -eps * D}
        sm = s_at(x64)
        PATCHES.delta = {}
        agree(name, (sp - sm) / (2 * eps), float((Gattn[index] * D).sum()))


def smoothgrad_sigma(x32: np.ndarray) -> np.float32:
    return np.float32(0.15 * (float(x32.max()) - float(x32.min())))


def explain(ref, model, spec, inp, targets, notes) -> list[dict]:
    """Every method's maps for each target {q, id, other?, pixel_methods}."""
    strategy, ps, grid = spec["strategy"], spec["vision"]["patch_size"], grid_of(spec)
    image_pos = inp["image_positions"]
    x32 = inp["pv"]
    x64 = torch.from_numpy(x32.copy()).double()
    F = feature_layer_count(model)
    Lv = ref.Lv
    T_v = grid * grid + 1

    xg = x64.clone().requires_grad_(True)
    r = ref.forward(xg, need=True)
    logits, e, va, ta = r["logits"], r["e"], r["va"], r["ta"]
    out = []
    for ti, t in enumerate(targets):
        t["image_positions"] = image_pos
        s = score(logits, t)
        gs = grads_or_zeros(s, [xg, e] + va + ta)
        G, Ge, Gva, Gta = gs[0], gs[1], gs[2:2 + Lv], gs[2 + Lv:]
        # pins F: hidden_states[0] is the embedding (after pre_layrnorm), hidden_states[l] layer l's output
        assert F == 0 or Gva[F - 1].any(), f"vision layer {F} feeds the features yet has no gradient"
        for l in range(F, Lv):
            assert not Gva[l].any(), f"vision layer {l + 1} is past the feature layer yet has a gradient"
        if t.get("fd_check"):
            check_finite_differences(ref, x64, e, t, G, Ge, gs[2:], notes)
        q = t["q"]
        tp = text_positions(image_pos, q)
        methods = {}
        if t.get("other") is None:
            att = torch.stack([A.detach()[0].mean(0)[q] for A in ta]).mean(0)
            methods["attention"] = scores_entry(*split_image_row(att, image_pos, strategy), text=att[tp])
            roll = rollout_row(ta, q)
            methods["rollout"] = scores_entry(*split_image_row(roll, image_pos, strategy), text=roll[tp])
            act = torch.relu(logits.detach()[:, t["id"]])
            methods["token_activation"] = scores_entry(*split_image_row(act, image_pos, strategy))
        cams = relevance_maps(ta, Gta)
        row = chefer_row(cams, torch.eye(logits.shape[0], dtype=torch.float64)[q])
        assert torch.allclose(row, chefer_full(cams)[q], rtol=1e-12, atol=1e-14)
        methods["chefer"] = scores_entry(*split_image_row(row, image_pos, strategy), text=row[tp])
        v = torch.zeros(T_v, dtype=torch.float64)
        if strategy == "full":
            v[:] = row[image_pos]
        else:
            v[1:] = row[image_pos]
        cams_v = relevance_maps(va[:F], Gva[:F])
        v_out = chefer_row(cams_v, v)
        assert torch.allclose(v_out, v @ chefer_full(cams_v), rtol=1e-12, atol=1e-14)
        methods["chefer_vision"] = scores_entry(v_out[1:], text=row[tp])
        pix = G.abs().amax(0)
        methods["gradient"] = scores_entry(patch_reduce(pix, ps, "mean"), pixel=pix, text=Ge[tp].norm(dim=-1))
        pix = (G * x64).sum(0)
        methods["grad_x_input"] = scores_entry(patch_reduce(pix, ps, "sum"), pixel=pix,
                                               text=(Ge[tp] * e.detach()[tp]).sum(-1))
        out.append({"methods": methods, "text_positions": tp, "s": s.item()})

    pixel_targets = [i for i, t in enumerate(targets) if t["pixel_methods"]]
    if not pixel_targets:
        return out

    def input_gradients(x_np):
        xk = torch.from_numpy(x_np).double().requires_grad_(True)
        lg = ref.forward(xk)["logits"]
        return [grads_or_zeros(score(lg, targets[i]), [xk])[0] for i in pixel_targets]

    ig = [torch.zeros_like(x64) for _ in pixel_targets]
    for k in range(1, STEPS + 1):
        scaled = (np.float32(k / STEPS) * x32).astype(np.float32)
        for acc, g in zip(ig, input_gradients(scaled)):
            acc += g
    sigma = smoothgrad_sigma(x32)
    z = SplitMix64(SEED).normals(STEPS * x32.size).reshape((STEPS,) + x32.shape)
    sg = [torch.zeros_like(x64) for _ in pixel_targets]
    for k in range(STEPS):
        noisy = (x32 + sigma * z[k].astype(np.float32)).astype(np.float32)
        for acc, g in zip(sg, input_gradients(noisy)):
            acc += g.abs()
    occ = [[] for _ in pixel_targets]
    with torch.no_grad():
        base = [out[i]["s"] for i in pixel_targets]
        for p in range(grid * grid):
            r0, c0 = divmod(p, grid)
            xo = x64.clone()
            xo[:, r0 * ps:(r0 + 1) * ps, c0 * ps:(c0 + 1) * ps] = 0.0
            lg = ref.forward(xo)["logits"]
            for j, i in enumerate(pixel_targets):
                occ[j].append(base[j] - score(lg, targets[i]).item())
    for j, i in enumerate(pixel_targets):
        pix = (x64 * ig[j] / STEPS).sum(0)
        out[i]["methods"]["integrated_gradients"] = scores_entry(patch_reduce(pix, ps, "sum"), pixel=pix)
        out[i]["ig_total"] = float(pix.sum())
        pix = (sg[j] / STEPS).amax(0)
        out[i]["methods"]["smoothgrad"] = scores_entry(patch_reduce(pix, ps, "mean"), pixel=pix)
        out[i]["methods"]["occlusion"] = {"patch_scores": occ[j]}
    with torch.no_grad():
        zero = ref.forward(torch.zeros_like(x64))["logits"]
    for i in pixel_targets:
        out[i]["s_zero_image"] = score(zero, targets[i]).item()
    return out


# --------------------------------------------------------------------------
# one folder
# --------------------------------------------------------------------------
def eos_list(model) -> list[int]:
    eos = model.generation_config.eos_token_id
    return list(eos) if isinstance(eos, (list, tuple)) else [eos]


def attention_entropy(attns) -> list[float]:
    """Mean normalized entropy per layer over the causal rows (1 = uniform)."""
    ent = []
    for A in attns:
        P = A.detach()[0]
        T = P.shape[-1]
        h = -(P * P.clamp_min(1e-300).log()).sum(-1)
        support = (P > 0).sum(-1).clamp_min(2).double().log()
        ent.append(float((h / support)[:, 1:].mean()) if T > 1 else 1.0)
    return ent


def significant(obj, digits: int = 12):
    """Floats cut to `digits` significant digits (float32 values still round-trip: they need 9)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: significant(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [significant(v, digits) for v in obj]
    return obj


def make_variant(name: str, spec: dict, out_dir: str) -> None:
    from transformers import LlavaForConditionalGeneration

    t0 = time.time()
    notes: list[str] = []
    written, tok = write_folder(spec, out_dir, spec["seed"])
    inp = prepare_inputs(spec, out_dir)
    model = load_reference_model(spec, out_dir, written)
    n_params = sum(p.numel() for p in model.parameters())
    model = model.double()
    for p in model.parameters():
        p.requires_grad_(False)
    ids, x32 = inp["ids"], inp["pv"]
    n_in = len(ids)
    x64 = torch.from_numpy(x32.copy()).double()
    eos = eos_list(model)
    assert eos == special_ids(spec, tok)["eos"], eos

    # --- greedy generation: generate(), a float64 KV-cache loop, and recomputation --------
    gen_out = model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, n_in, dtype=torch.long),
                             pixel_values=x64[None], max_new_tokens=spec["max_new_tokens"], do_sample=False,
                             output_logits=True, return_dict_in_generate=True)
    gen = [int(t) for t in gen_out.sequences[0, n_in:]]
    cached, cached_rows = greedy_with_cache(model, ids, x64, spec["max_new_tokens"], eos)
    recomputed, _ = greedy_by_recomputation(model, ids, x64, spec["max_new_tokens"], eos)
    assert cached == gen and recomputed == gen, (gen, cached, recomputed)
    problems = generation_problems(gen, cached_rows, spec, eos, tok)
    assert not problems, f"seed {spec['seed']} gives a poor answer {gen}: {problems}; try --search-seeds"
    full = ids + gen
    assert len(full) <= spec["text"]["max_position_embeddings"]

    # --- the teacher-forced forward (all positions) ---------------------------
    ref = Reference(model, full)
    with torch.no_grad():
        r = ref.forward(x64, need=True)
    logits = r["logits"].detach()
    positions = [n_in + k - 1 for k in range(len(gen))]
    scale = float(logits.abs().max())
    cache_err = max(float((logits[q] - cached_rows[k]).abs().max()) for k, q in enumerate(positions))
    assert cache_err <= 1e-9 * scale, ("KV-cache vs teacher-forced logits", cache_err)
    # generate() hands its logits out in float32 (transformers casts them)
    generate_err = max(float((logits[q] - gen_out.logits[k][0].double()).abs().max()) for k, q in enumerate(positions))
    assert generate_err <= 1e-6 * scale, ("generate() vs teacher-forced logits", generate_err)
    notes.append(f"float64 KV-cache decoding vs teacher-forced logits: max error {cache_err:.2e}; generate()'s "
                 f"float32 logits: {generate_err:.2e} (max|logit| {scale:.3f})")
    assert PATCHES.calls["rms"] and PATCHES.calls["rope"] and PATCHES.calls["attention"]

    PATCHES.disable()
    stock = LlavaForConditionalGeneration.from_pretrained(out_dir, attn_implementation="eager",
                                                          dtype=torch.float32).eval()
    with torch.no_grad():
        stock_logits = stock(input_ids=torch.tensor([full]), pixel_values=torch.from_numpy(x32)[None]).logits[0]
    PATCHES.enable()
    stock_err = float((stock_logits.double() - logits).abs().max()) / scale
    assert stock_err < 1e-4, ("stock float32 transformers disagrees", stock_err)
    notes.append(f"stock float32 transformers vs float64 reference: max logit error {stock_err:.2e} of max|logit|")

    # --- explanations -------------------------------------------------------
    every = spec["all_methods_every_token"]
    targets = [{"q": q, "id": gen[k], "pixel_methods": every or k == FULL_TOKEN, "fd_check": k == FULL_TOKEN}
               for k, q in enumerate(positions)]
    kc = CONTRAST_TOKEN
    other = int(torch.topk(logits[positions[kc]], 2).indices[1])
    targets.append({"q": positions[kc], "id": gen[kc], "other": other, "pixel_methods": every, "fd_check": True})
    results = explain(ref, model, spec, inp, targets, notes)

    raw = inp["raw_tokenizer"]
    tokens = []
    for k, res in enumerate(results[:len(gen)]):
        tokens.append({"index": k, "id": gen[k], "token": raw.id_to_token(gen[k]), "position": positions[k],
                       "text_positions": res["text_positions"], "methods": res["methods"]})
    contrast = results[len(gen)]
    top = [[[int(i), float(logits[q, i])] for i in torch.topk(logits[q], TOP_K).indices] for q in positions]
    s = spec["vision"]["image_size"]
    expected = {
        "prompt": inp["prompt"],
        "formatted_prompt": inp["formatted"],
        "add_special_tokens": inp["add_special"],
        "input_ids": ids,
        "image_token_id": inp["image_token_id"],
        "num_image_tokens": num_image_tokens(spec),
        "image_positions": inp["image_positions"],
        "pixel_values": flist(x32),
        "pixel_values_shape": [3, s, s],
        "patch_grid": [grid_of(spec), grid_of(spec)],
        "patch_size": spec["vision"]["patch_size"],
        "vision_feature_layer": spec["vision_feature_layer"],
        "vision_feature_select_strategy": spec["strategy"],
        "feature_layer_count": feature_layer_count(model),
        "max_new_tokens": spec["max_new_tokens"],
        "generated_ids": gen,
        "generated_text": raw.decode(gen, skip_special_tokens=True),
        "generated_logits": [float(logits[q, t]) for q, t in zip(positions, gen)],
        "generated_probs": [float(torch.softmax(logits[q], 0)[t]) for q, t in zip(positions, gen)],
        "generated_top": top,
        "eos_token_ids": eos,
        "options": {"steps": STEPS, "seed": SEED},
        "smoothgrad_sigma": float(smoothgrad_sigma(x32)),
        "prng_check": flist(SplitMix64(SEED).normals(6)),
        "contrast": {"token": kc, "id": other},
        "tokens": tokens,
        "contrast_methods": contrast["methods"],
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(significant(expected), f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")

    sizes = {fn: os.path.getsize(os.path.join(out_dir, fn)) for fn in sorted(os.listdir(out_dir))}
    print(f"[{name}] {out_dir}  ({time.time() - t0:.1f}s)")
    print(f"    {n_params} parameters ({spec['dtype']}), seed {spec['seed']}, {len(full)} positions "
          f"({n_in} prompt incl. {num_image_tokens(spec)} image tokens)")
    print(f"    formatted prompt {inp['formatted']!r}, add_special_tokens={inp['add_special']}")
    print(f"    answer {gen} = {expected['generated_text']!r}; logits {np.round(expected['generated_logits'], 3).tolist()}")
    print(f"    top-1/top-2 gaps {[round(float(torch.topk(logits[q], 2).values.diff().abs()), 3) for q in positions]}")
    print(f"    attention entropy (1 = uniform) vision {np.round(attention_entropy(r['va']), 3).tolist()} "
          f"decoder {np.round(attention_entropy(r['ta']), 3).tolist()}")
    for i, res in enumerate(results):
        if "ig_total" in res:
            print(f"    target {i}: IG sum {res['ig_total']:.4f} vs s(x)-s(0) {res['s'] - res['s_zero_image']:.4f}")
    for res, kind in ((results[0], "token 0"), (contrast, "contrast")):
        for mname, entry in res["methods"].items():
            for key, vals in entry.items():
                if key.endswith("_scores") and np.allclose(vals, vals[0]):
                    notes.append(f"{kind}: {mname}.{key} is constant")
    print("    files: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    for n in notes:
        print(f"    {n}")


def search_seeds(name: str, spec: dict, count: int) -> None:
    """Prints the seeds whose greedy answer passes generation_problems (for VARIANTS[...]['seed'])."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, name)
        written, tok = write_folder(spec, folder, 0)
        inp = prepare_inputs(spec, folder)
        x64 = torch.from_numpy(inp["pv"].copy()).double()
        eos = special_ids(spec, tok)["eos"]
        found = 0
        for seed in range(count):
            model = build_model(written.config, seed, spec["dtype"]).double()
            gen, rows = greedy_by_recomputation(model, inp["ids"], x64, spec["max_new_tokens"], eos)
            problems = generation_problems(gen, rows, spec, eos, tok)
            if not problems:
                found += 1
                print(f"[{name}] seed {seed}: {gen} {inp['raw_tokenizer'].decode(gen)!r}")
        print(f"[{name}] {found} of {count} seeds pass")


def main() -> None:
    global PATCHES
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=sorted(VARIANTS), action="append")
    ap.add_argument("--search-seeds", type=int, metavar="N", help="list the good seeds among 0..N-1 instead")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    PATCHES = Float64Patches()
    PATCHES.enable()
    for v in args.only or sorted(VARIANTS):
        if args.search_seeds:
            search_seeds(v, VARIANTS[v], args.search_seeds)
        else:
            make_variant(v, VARIANTS[v], os.path.join(FIX, f"llava-random-{v}"))


if __name__ == "__main__":
    main()
