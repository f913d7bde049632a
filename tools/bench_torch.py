#!/usr/bin/env python3
"""PyTorch CPU baseline for `sightline bench`.

Builds a transformers CLIPModel with RANDOM weights at the real sizes of
openai/clip-vit-base-patch32 / -patch16 (no download; config hardcoded),
eager attention, float32, and times on one image + one 7-token text:

  (a) forward with output_attentions=True (what attention rollout needs),
      under torch.no_grad();
  (b) forward + backward of logits_per_image[0, 0] w.r.t. pixel_values
      (the image half of the `gradient` method);
  (c) the same w.r.t. pixel_values and the text's token embeddings, which is
      everything `sightline explain --method gradient` returns (pixel and
      token maps).

Prints one JSON object:
  {"arch", "threads", "iters", "forward_ms": {"median", "min"},
   "forward_backward_ms": {"median", "min"},
   "forward_backward_with_text_ms": {"median", "min"},
   "peak_rss_mb": {"forward", "forward_backward", "forward_backward_with_text"}, ...}

Peak memory is measured as `sightline bench` measures it (src/memory.rs): after each
measurement's warm-up, freed heap is handed back to the system (glibc's malloc_trim) and the
process's peak resident size is reset (/proc/self/clear_refs), so each figure is the peak while
that measurement's timed runs ran, the model included, and not what building it left behind.

With --arch llava-smol: a LlavaForConditionalGeneration at the sizes of `sightline bench --arch
llava-smol` (ViT-B/16 tower at 224 px, SmolLM2-135M-sized decoder), timing the prefill of the
image and a 16-word prompt, decoding 32 tokens with the KV cache (tokens/s after the first), and
one answer token's input gradient (forward over prompt + answer, backward of its logit):
  {"arch", "prompt_tokens", "answer_tokens", "prefill_ms", "decode_tokens_per_s",
   "explain_token_ms", "peak_rss_mb", ...}

Usage: python3 tools/bench_torch.py --arch clip-vit-b32 --threads 2 --iters 10
       python3 tools/bench_torch.py --arch clip-vit-b16 --device cuda   # eager on a GPU
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import sys
import time

import torch

ARCHS = {"clip-vit-b32": 32, "clip-vit-b16": 16, "llava-smol": 16}
# `sightline bench --arch llava-smol`'s prompt and answer (src/bench/llava.rs): 16 words after the
# image, a 32-token answer whose last token is explained.
LLAVA_PROMPT_WORDS = 16
LLAVA_ANSWER_TOKENS = 32


def build(arch: str):
    from transformers import CLIPConfig, CLIPModel

    cfg = CLIPConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12,
                         vocab_size=49408, max_position_embeddings=77, hidden_act="quick_gelu",
                         projection_dim=512, bos_token_id=49406, eos_token_id=2, pad_token_id=1),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                           image_size=224, patch_size=ARCHS[arch], hidden_act="quick_gelu", projection_dim=512),
        projection_dim=512,
        logit_scale_init_value=4.6052,
    )
    torch.manual_seed(0)
    model = CLIPModel._from_config(cfg, attn_implementation="eager", dtype=torch.float32).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def build_llava():
    """src/config/llava.rs's llava-smol preset: ViT-B/16 at 224 px + a SmolLM2-135M-sized decoder."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    cfg = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=768, intermediate_size=3072,
                           num_attention_heads=12, num_hidden_layers=12, image_size=224, patch_size=16,
                           hidden_act="quick_gelu"),
        text_config=dict(model_type="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536,
                         num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2),
        image_token_index=49151, image_seq_length=196, vision_feature_layer=-2,
        vision_feature_select_strategy="default", tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration._from_config(cfg, attn_implementation="eager", dtype=torch.float32).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def llava_timings(model, device, timeit):
    """Prefill, decode tokens/s with the KV cache, and one answer token's input gradient (a
    forward over prompt + answer and the backward of that token's logit), as sightline measures."""
    g = torch.Generator().manual_seed(1)
    pixel_values = torch.randn(1, 3, 224, 224, generator=g).to(device)
    prompt = [49151] * 196 + [100 + k for k in range(LLAVA_PROMPT_WORDS)]
    answer = [200 + k for k in range(LLAVA_ANSWER_TOKENS)]
    prompt_ids = torch.tensor([prompt], device=device)
    full_ids = torch.tensor([prompt + answer[:-1]], device=device)

    def prefill():
        with torch.no_grad():
            return model(input_ids=prompt_ids, pixel_values=pixel_values, use_cache=True).logits[0, -1].argmax().item()

    def decode():
        with torch.no_grad():
            out = model(input_ids=prompt_ids, pixel_values=pixel_values, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            for _ in range(LLAVA_ANSWER_TOKENS - 1):
                out = model(input_ids=token, past_key_values=past, use_cache=True)
                past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        return token.item()

    def explain_token():
        x = pixel_values.clone().requires_grad_(True)
        logits = model(input_ids=full_ids, pixel_values=x).logits
        (grad,) = torch.autograd.grad(logits[0, -1, answer[-1]], x)
        return grad

    prefill_ms = timeit("prefill", prefill)
    decode_total = timeit("decode", decode)
    per_token = {k: (decode_total[k] - prefill_ms[k]) / (LLAVA_ANSWER_TOKENS - 1) for k in ("median", "min")}
    return {
        "prompt_tokens": len(prompt),
        "answer_tokens": LLAVA_ANSWER_TOKENS,
        "prefill_ms": prefill_ms,
        "decode_tokens_per_s": {k: round(1000.0 / v, 2) for k, v in per_token.items()},
        "explain_token_ms": timeit("explain_token", explain_token),
    }


def reset_peak_rss() -> None:
    """src/memory.rs's reset_peak: trim the heap, then restart the peak (VmHWM) from now."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass  # not glibc: nothing to trim
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(ARCHS), default="clip-vit-b32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the same eager model on a GPU")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    t0 = time.perf_counter()
    model = (build_llava() if args.arch == "llava-smol" else build(args.arch)).to(device)
    build_s = time.perf_counter() - t0

    g = torch.Generator().manual_seed(1)
    pixel_values = torch.randn(1, 3, 224, 224, generator=g).to(device)
    # "a photo of a cat" with the real CLIP BPE: <sot> a photo of a cat <eot>
    input_ids = torch.tensor([[49406, 320, 1125, 539, 320, 2368, 49407]], device=device)

    def synchronize():
        # A GPU runs queued kernels asynchronously: time until they are done.
        if device.type == "cuda":
            torch.cuda.synchronize()

    def fwd():
        with torch.no_grad():
            out = model(input_ids=input_ids, pixel_values=pixel_values, output_attentions=True)
        assert len(out.vision_model_output.attentions) == 12
        return out.logits_per_image[0, 0].item()

    def fwd_bwd():
        x = pixel_values.clone().requires_grad_(True)
        out = model(input_ids=input_ids, pixel_values=x)
        (g,) = torch.autograd.grad(out.logits_per_image[0, 0], x)
        return g

    token_embeddings = []

    def keep_token_embeddings(_module, _inputs, output):
        output.requires_grad_(True)
        token_embeddings.append(output)
        return output

    def fwd_bwd_with_text():
        token_embeddings.clear()
        x = pixel_values.clone().requires_grad_(True)
        hook = model.text_model.embeddings.token_embedding.register_forward_hook(keep_token_embeddings)
        try:
            out = model(input_ids=input_ids, pixel_values=x)
        finally:
            hook.remove()
        return torch.autograd.grad(out.logits_per_image[0, 0], [x, token_embeddings[0]])

    peaks = {}

    def timeit(name, fn):
        for _ in range(args.warmup):
            fn()
        synchronize()
        reset_peak_rss()
        ts = []
        for _ in range(args.iters):
            t = time.perf_counter()
            fn()
            synchronize()
            ts.append((time.perf_counter() - t) * 1000.0)
        peaks[name] = round(peak_rss_mb(), 1)
        return {"median": round(statistics.median(ts), 3), "min": round(min(ts), 3)}

    if args.arch == "llava-smol":
        result = {"arch": args.arch, "threads": args.threads, "device": args.device, "iters": args.iters,
                  **llava_timings(model, device, lambda name, fn: timeit(name, fn)),
                  "peak_rss_mb": peaks, "torch": torch.__version__, "build_s": round(build_s, 2)}
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
        return

    fwd_ms = timeit("forward", fwd)
    fb_ms = timeit("forward_backward", fwd_bwd)
    fbt_ms = timeit("forward_backward_with_text", fwd_bwd_with_text)
    result = {
        "arch": args.arch,
        "threads": args.threads,
        "device": args.device,
        "iters": args.iters,
        "forward_ms": fwd_ms,
        "forward_backward_ms": fb_ms,
        "forward_backward_with_text_ms": fbt_ms,
        "peak_rss_mb": peaks,
        "torch": torch.__version__,
        "build_s": round(build_s, 2),
    }
    if device.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        result["gpu"] = torch.cuda.get_device_name()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
