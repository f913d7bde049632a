#!/usr/bin/env python3
"""Reads the GGUF files `sightline quantize` writes with an independent reader, the `gguf`
package from PyPI (ggml's own Python reader), and records what it sees as a fixture.

For each format (q8_0, q4_0, q4_k, f16) it quantizes `--model` with the CLI, opens the file with
`gguf.GGUFReader`, dequantizes every tensor with `gguf.quants.dequantize`, and writes
tests/fixtures/gguf-pypi/<model>.json:

  { "model": folder name, "weights_fnv1a64": hash of its model.safetensors, "formats": { "q4_0": {
      "metadata": { key: {"type": "STRING"|"UINT32"|..., "value": v}           # short strings, numbers
                         or {"type": "STRING", "length": n, "fnv1a64": "hex"} },  # long strings
      "tensors": [ { "name", "type": "Q4_0"|"F16"|..., "shape": [outermost first],
                     "sum": Σ values, "sum_abs": Σ |values| (float64 over the float32 values),
                     "samples": [[flat index, value], ...] } ] } } }

tests/gguf_independent_reader.rs quantizes the same model with the same CLI and checks our
reader against every field, so a GGUF written and read by us alone can never pass while ggml's
reader would see something else.

Usage (needs numpy and gguf):
  cargo build --release --bin sightline
  python3 tools/read_gguf_with_pypi.py [--sightline target/release/sightline] [--model assets/default-model]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile

import numpy as np
from gguf import GGUFReader, GGUFValueType
from gguf.quants import dequantize

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FORMATS = ["q8_0", "q4_0", "q4_k", "f16"]
# Strings longer than this (config, tokenizer JSON) are recorded by length and hash.
LONG_STRING = 200


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def metadata(reader: GGUFReader) -> dict:
    out = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):  # the reader's own header pseudo-fields
            continue
        kind = field.types[0]
        if kind == GGUFValueType.STRING:
            raw = bytes(field.parts[-1])
            entry = {"value": raw.decode("utf-8")} if len(raw) <= LONG_STRING else {
                "length": len(raw), "fnv1a64": fnv1a64(raw)}
        elif kind == GGUFValueType.ARRAY:
            raise SystemExit(f"{key}: sightline writes no arrays")
        else:
            entry = {"value": field.contents()}
        out[key] = {"type": kind.name, **entry}
    return out


def sample_indices(n: int) -> list[int]:
    return sorted({i for i in (0, 1, (n * 3) // 13, n // 2, (n * 7) // 11, n - 1) if i < n})


def tensors(reader: GGUFReader) -> list[dict]:
    out = []
    for tensor in reader.tensors:
        values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32).reshape(-1)
        shape = [int(d) for d in reversed(tensor.shape.tolist())]  # ggml stores innermost first
        assert values.size == int(np.prod(shape)), (tensor.name, values.size, shape)
        wide = values.astype(np.float64)
        out.append({
            "name": tensor.name,
            "type": tensor.tensor_type.name,
            "shape": shape,
            "sum": float(wide.sum()),
            "sum_abs": float(np.abs(wide).sum()),
            "samples": [[i, float(values[i])] for i in sample_indices(values.size)],
        })
    return sorted(out, key=lambda t: t["name"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sightline", default=os.path.join(REPO, "target", "release", "sightline"))
    ap.add_argument("--model", default=os.path.join(REPO, "assets", "default-model"))
    args = ap.parse_args()
    name = os.path.basename(os.path.normpath(args.model))
    with open(os.path.join(args.model, "model.safetensors"), "rb") as f:
        fixture = {"model": name, "weights_fnv1a64": fnv1a64(f.read()), "formats": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in FORMATS:
            path = os.path.join(tmp, f"{fmt}.gguf")
            subprocess.run([args.sightline, "quantize", "--model", args.model, "--to", fmt, "--out", path],
                           check=True, stdout=subprocess.DEVNULL)
            reader = GGUFReader(path)
            fixture["formats"][fmt] = {"metadata": metadata(reader), "tensors": tensors(reader)}
            types = sorted({t["type"] for t in fixture["formats"][fmt]["tensors"]})
            print(f"{fmt}: {len(reader.tensors)} tensors ({', '.join(types)}), {len(reader.fields)} fields")
    out_dir = os.path.join(REPO, "tests", "fixtures", "gguf-pypi")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"{name}.json")
    with open(out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(out, REPO)} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
