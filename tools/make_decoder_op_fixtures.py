#!/usr/bin/env python3
"""Reference values of the decoder's ops as transformers' Llama computes them, for
tests/decoder_ops.rs: RMSNorm (LlamaRMSNorm), rotary position embeddings (LlamaRotaryEmbedding +
apply_rotary_pos_emb, with a head_dim that is not hidden / heads and a position offset), SiLU and
the gated MLP (LlamaMLP), each with the gradient of <w, output> with respect to its input.

Writes (deterministically; rerunnable) tests/fixtures/decoder-ops/expected.json.
Requires torch and transformers (5.x).

Every input is rounded to float32 first (the engine's inputs are float32) and everything else is
float64, except what transformers itself computes in float32 whatever the model's dtype: the
RMSNorm statistics and the rotary cos/sin tables. Tensors are stored flat, row-major, in the
engine's layout: activations (batch, tokens, heads * head_dim).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import LlamaConfig
from transformers.models.llama import modeling_llama as llama

OUT = Path(__file__).resolve().parent.parent / "tests/fixtures/decoder-ops/expected.json"

HIDDEN, HEADS, KV_HEADS, HEAD_DIM, INTERMEDIATE, TOKENS = 12, 2, 1, 8, 20, 3
ROPE_THETA, RMS_EPS, OFFSET = 500.0, 1e-6, 5


def f32(t: torch.Tensor) -> torch.Tensor:
    """Values representable in float32, held in float64."""
    return t.float().double()


def flat(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.detach().reshape(-1)]


def entry(**tensors: torch.Tensor) -> dict:
    return {name: {"shape": list(t.shape), "values": flat(t)} for name, t in tensors.items()}


def vjp(f, x: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(f(x), w, d<w, f(x)>/dx) for a random cotangent w."""
    x = x.clone().requires_grad_(True)
    y = f(x)
    w = f32(torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    (y * w).sum().backward()
    return y.detach(), w, x.grad


def main() -> None:
    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=HIDDEN,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        head_dim=HEAD_DIM,
        intermediate_size=INTERMEDIATE,
        rope_theta=ROPE_THETA,
        rms_norm_eps=RMS_EPS,
        hidden_act="silu",
        max_position_embeddings=64,
    )
    fixtures: dict = {
        "config": {"head_dim": HEAD_DIM, "rope_theta": ROPE_THETA, "rms_norm_eps": RMS_EPS, "offset": OFFSET}
    }

    norm = llama.LlamaRMSNorm(HIDDEN, eps=RMS_EPS).double()
    with torch.no_grad():
        norm.weight.copy_(f32(1.0 + 0.5 * torch.randn(HIDDEN, dtype=torch.float64)))
    x = f32(2.0 * torch.randn(2, TOKENS, HIDDEN, dtype=torch.float64))
    y, w, dx = vjp(norm, x, 1)
    fixtures["rms_norm"] = entry(x=x, weight=norm.weight, y=y, w=w, dx=dx)

    rotary = llama.LlamaRotaryEmbedding(config)
    positions = torch.arange(OFFSET, OFFSET + TOKENS).unsqueeze(0)
    q = f32(torch.randn(1, TOKENS, HEADS * HEAD_DIM, dtype=torch.float64))
    k = f32(torch.randn(1, TOKENS, KV_HEADS * HEAD_DIM, dtype=torch.float64))

    def heads_first(t: torch.Tensor) -> torch.Tensor:
        return t.view(1, TOKENS, -1, HEAD_DIM).transpose(1, 2)

    def heads_last(t: torch.Tensor) -> torch.Tensor:
        return t.transpose(1, 2).reshape(1, TOKENS, -1)

    cos, sin = rotary(q, positions)

    def rotate_queries(q: torch.Tensor) -> torch.Tensor:
        q_embed, _ = llama.apply_rotary_pos_emb(heads_first(q), heads_first(k), cos, sin)
        return heads_last(q_embed)

    q_embed, w, dq = vjp(rotate_queries, q, 2)
    _, k_embed = llama.apply_rotary_pos_emb(heads_first(q), heads_first(k), cos, sin)
    fixtures["rotary"] = entry(q=q, k=k, q_embed=q_embed, k_embed=heads_last(k_embed), w=w, dq=dq)

    x = f32(torch.linspace(-8.0, 8.0, 41, dtype=torch.float64))
    y, w, dx = vjp(torch.nn.functional.silu, x, 3)
    fixtures["silu"] = entry(x=x, y=y, w=w, dx=dx)

    mlp = llama.LlamaMLP(config).double()
    with torch.no_grad():
        for linear in (mlp.gate_proj, mlp.up_proj, mlp.down_proj):
            linear.weight.copy_(f32(0.3 * torch.randn(linear.weight.shape, dtype=torch.float64)))
    x = f32(torch.randn(1, TOKENS, HIDDEN, dtype=torch.float64))
    y, w, dx = vjp(mlp, x, 4)
    fixtures["mlp"] = entry(
        x=x, gate=mlp.gate_proj.weight, up=mlp.up_proj.weight, down=mlp.down_proj.weight, y=y, w=w, dx=dx
    )

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixtures) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
