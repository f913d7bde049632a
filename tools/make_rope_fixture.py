"""Rotary embedding frequencies as transformers computes them, for tests/llava_inputs.rs.

For each decoder text config below (the rope forms published configs use: a plain `rope_theta`,
transformers 4's `rope_scaling` with `type`, transformers 5's `rope_parameters`; the linear,
dynamic, llama3 and YaRN variants), writes the inverse frequencies and attention factor of
`LlamaRotaryEmbedding(LlamaConfig(**config))` — the float32 buffer transformers keeps, written out
exactly — to tests/fixtures/rope/expected.json.

Usage: python3 tools/make_rope_fixture.py
"""

import json
from pathlib import Path

from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "rope" / "expected.json"

SMALL = {"hidden_size": 256, "num_attention_heads": 4, "max_position_embeddings": 4096}

CASES = {
    "default": {**SMALL, "rope_theta": 10000.0},
    "default_head_dim": {**SMALL, "head_dim": 48, "rope_parameters": {"rope_type": "default", "rope_theta": 5000.0}},
    "linear_v4": {**SMALL, "rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 4.0}},
    "dynamic": {**SMALL, "rope_parameters": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}},
    "llama3_1": {
        "hidden_size": 4096, "num_attention_heads": 32, "max_position_embeddings": 131072, "rope_theta": 500000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192},
    },
    "yarn_qwen": {
        "hidden_size": 896, "num_attention_heads": 14, "max_position_embeddings": 32768,
        "rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8192,
                            "rope_theta": 1000000.0},
    },
    "yarn_mscale": {
        **SMALL,
        "rope_parameters": {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 512,
                            "rope_theta": 10000.0, "mscale": 1.0, "mscale_all_dim": 0.5, "beta_fast": 16,
                            "beta_slow": 2, "truncate": False},
    },
}


def main():
    cases = {}
    for name, config in CASES.items():
        rotary = LlamaRotaryEmbedding(LlamaConfig(**config))
        cases[name] = {
            "text_config": config,
            "inverse_frequencies": [float(f) for f in rotary.inv_freq.tolist()],
            "attention_factor": float(rotary.attention_scaling),
        }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(cases, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
