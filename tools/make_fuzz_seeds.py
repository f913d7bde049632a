#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into fuzz/seeds/<target>/: valid files of every kind the
engine reads (the embedded model and the test fixtures, small GGUF files of every block format,
tokenizers of every model type, images in every format and colour type, options and explanation
JSON). The fuzzer mutates them; tools/fuzz.sh keeps what it finds in fuzz/corpus/<target>/.

Needs the release CLI (./build.sh cli) for the quantized copies of the embedded model and the
explanation JSON, and numpy, pillow, gguf and tokenizers.

    python3 tools/make_fuzz_seeds.py
"""

import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import gguf
import numpy as np
from PIL import Image
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
DEFAULT_MODEL = ROOT / "assets" / "default-model"
FIXTURES = ROOT / "tests" / "fixtures"
CLI = ROOT / "target" / "release" / "sightline"
# The byte between the text part and the binary part of a two-part input (see src/fuzzing.rs).
SEPARATOR = b"\xff"


def write(target, name, data):
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def copy(target, name, source):
    write(target, name, Path(source).read_bytes())


def cli(*args):
    subprocess.run([str(CLI), *args], check=True, capture_output=True)


def safetensors_seeds():
    copy("safetensors", "default-model.safetensors", DEFAULT_MODEL / "model.safetensors")
    copy("safetensors", "clip-random-a-f32.safetensors", FIXTURES / "clip-random-a" / "model.safetensors")
    copy("safetensors", "clip-random-b-f16.safetensors", FIXTURES / "clip-random-b" / "model.safetensors")
    # Three tiny tensors in the three float types the loader converts, and one it refuses.
    header, data = {}, b""
    for name, dtype, values in [
        ("logit_scale", "F32", np.array([2.5], "<f4").tobytes()),
        ("a.weight", "F16", np.arange(6, dtype="<f2").tobytes()),
        ("b.bias", "BF16", (np.arange(4, dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()),
        ("c.ids", "I64", np.arange(2, dtype="<i8").tobytes()),
    ]:
        shape = {"a.weight": [2, 3], "b.bias": [4], "c.ids": [2]}.get(name, [])
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(values)]}
        data += values
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    write("safetensors", "tiny-mixed.safetensors", struct.pack("<Q", len(text)) + text + data)


def gguf_seeds(workdir):
    # q4_k files hold q4_k, q8_0 (the output projections), f16 and f32 tensors.
    out = workdir / "default-q4_k.gguf"
    cli("quantize", "--model", "default", "--to", "q4_k", "--out", str(out))
    copy("gguf", "default-model-q4_k.gguf", out)
    # A small model, so that most runs take milliseconds.
    out = workdir / "random-a-q4_0.gguf"
    cli("quantize", "--model", str(FIXTURES / "clip-random-a"), "--to", "q4_0", "--out", str(out))
    copy("gguf", "clip-random-a-q4_0.gguf", out)
    # Every block format the parser accepts, with random blocks, and metadata of every value type.
    rng = np.random.default_rng(0)
    writer_path = workdir / "formats.gguf"
    writer = gguf.GGUFWriter(str(writer_path), "clip")
    writer.add_uint8("u8", 7)
    writer.add_int16("i16", -3)
    writer.add_float64("f64", 0.5)
    writer.add_bool("flag", True)
    writer.add_array("numbers", [1, 2, 3])
    writer.add_array("words", ["a", "bc"])
    writer.add_string("sightline.quantization", "q4_0")
    T = gguf.GGMLQuantizationType
    for dtype in [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K,
                  T.Q5_K, T.Q6_K]:
        block, size = gguf.GGML_QUANT_SIZES[dtype]
        cols = 256 if block == 256 else 32
        if dtype == T.F32:
            raw = rng.standard_normal(2 * cols).astype("<f4").view(np.uint8)
        elif dtype == T.F16:
            raw = rng.standard_normal(2 * cols).astype("<f2").view(np.uint8)
        elif dtype == T.BF16:
            raw = (rng.standard_normal(2 * cols).astype("<f4").view("<u4") >> 16).astype("<u2").view(np.uint8)
        else:
            raw = rng.integers(0, 256, size=2 * cols // block * size, dtype=np.uint8)
        # Bytes with a ggml type: the writer reads the shape in bytes and stores it in values.
        writer.add_tensor(f"t.{dtype.name.lower()}", raw.reshape(2, -1), raw_dtype=dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    copy("gguf", "every-block-format.gguf", writer_path)


def gguf_block_seeds():
    # Byte 0 picks the format (src/fuzzing.rs BLOCK_FORMATS), byte 1 the blocks per row.
    rng = np.random.default_rng(1)
    block_bytes = [18, 20, 22, 24, 34, 84, 110, 144, 176, 210, 2]
    for index, size in enumerate(block_bytes):
        blocks = rng.integers(0, 256, size=3 * size, dtype=np.uint8).tobytes()
        write("gguf_blocks", f"format-{index}", bytes([index, 0]) + blocks)
    floats = np.array([0.0, -1.5, 3.25, np.nan, np.inf, -np.inf, 1e-40, 65504.0] * 36, "<f4").tobytes()
    write("gguf_blocks", "special-floats", bytes([0, 0]) + floats)


def config_seeds():
    copy("config_json", "default-model.json", DEFAULT_MODEL / "config.json")
    copy("config_json", "clip-random-a.json", FIXTURES / "clip-random-a" / "config.json")
    copy("config_json", "clip-random-b.json", FIXTURES / "clip-random-b" / "config.json")
    write("config_json", "openai-defaults.json",
          json.dumps({"architectures": ["CLIPModel"], "text_config": {"eos_token_id": 2}, "vision_config": {}}))


def preprocessor_seeds():
    copy("preprocessor_config", "default-model.json", DEFAULT_MODEL / "preprocessor_config.json")
    variants = [
        {"size": 96, "crop_size": 96, "resample": 2},
        {"size": {"height": 96, "width": 96}, "crop_size": {"shortest_edge": 96}, "do_rescale": False,
         "do_normalize": False},
        {"size": {"shortest_edge": 120}, "crop_size": {"height": 96, "width": 96}, "image_mean": [0.5, 0.5, 0.5],
         "image_std": [0.2, 0.3, 0.4], "rescale_factor": 0.5},
        {"do_resize": False, "crop_size": 96},
    ]
    for index, variant in enumerate(variants):
        write("preprocessor_config", f"variant-{index}.json", json.dumps(variant))


def tokenizer_seeds():
    text = SEPARATOR + "a red circle beside two blue squares".encode()
    write("tokenizer_json", "default-model.json", (DEFAULT_MODEL / "tokenizer.json").read_bytes() + text)
    corpus = ["a red circle", "two blue squares", "a green triangle on a yellow square", "the cat sat"] * 4
    built = []
    bpe = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    bpe.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=80, special_tokens=["[UNK]", "<s>", "</s>"]))
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", bpe.token_to_id("<s>")), ("</s>", bpe.token_to_id("</s>"))])
    built.append(("bpe-bytelevel", bpe))
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer()
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=60,
                                                                     special_tokens=["[UNK]", "[CLS]", "[SEP]"]))
    wordpiece.post_processor = processors.BertProcessing(("[SEP]", wordpiece.token_to_id("[SEP]")),
                                                         ("[CLS]", wordpiece.token_to_id("[CLS]")))
    wordpiece.decoder = decoders.WordPiece()
    built.append(("wordpiece-bert", wordpiece))
    unigram = Tokenizer(models.Unigram())
    unigram.normalizer = normalizers.Sequence([normalizers.Replace(" ", "▁"), normalizers.Strip()])
    unigram.pre_tokenizer = pre_tokenizers.Metaspace()
    unigram.train_from_iterator(corpus, trainers.UnigramTrainer(vocab_size=40, special_tokens=["<unk>"],
                                                                unk_token="<unk>"))
    unigram.decoder = decoders.Metaspace()
    built.append(("unigram-metaspace", unigram))
    wordlevel = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    wordlevel.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits()])
    wordlevel.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    built.append(("wordlevel-split", wordlevel))
    for name, tokenizer in built:
        write("tokenizer_json", f"{name}.json", tokenizer.to_str().encode() + text)


def image_seeds():
    for source in sorted((FIXTURES / "preprocess").glob("*.*g")):
        copy("image", source.name, source)
    rng = np.random.default_rng(2)
    rgb = Image.fromarray(rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8))
    rgba = Image.fromarray(rng.integers(0, 256, size=(12, 16, 4), dtype=np.uint8))

    def encoded(image, format, **options):
        buffer = io.BytesIO()
        image.save(buffer, format=format, **options)
        return buffer.getvalue()

    seeds = {
        "optimized.png": encoded(rgb, "PNG", optimize=True),
        "gray16.png": encoded(Image.fromarray((np.arange(192).reshape(12, 16) * 300).astype(np.uint16)), "PNG"),
        "palette.png": encoded(rgb.convert("P"), "PNG"),
        "progressive.jpg": encoded(rgb, "JPEG", progressive=True, quality=80),
        "gray.jpg": encoded(rgb.convert("L"), "JPEG"),
        "cmyk.jpg": encoded(rgb.convert("CMYK"), "JPEG"),
        "animated.gif": encoded(rgb.convert("P"), "GIF", save_all=True, append_images=[rgba.convert("P")],
                                duration=50, loop=0),
        "rgb24.bmp": encoded(rgb, "BMP"),
        "rgba32.bmp": encoded(rgba, "BMP"),
        "palette8.bmp": encoded(rgb.convert("P"), "BMP"),
        "lossy.webp": encoded(rgb, "WEBP", quality=70),
        "lossless-alpha.webp": encoded(rgba, "WEBP", lossless=True),
    }
    for name, data in seeds.items():
        write("image", name, data)


def explanation_seeds(workdir):
    image = FIXTURES / "clip-random-a" / "image.png"
    texts = ["a red circle", "a blue square"]
    for method in ["chefer", "gradient"]:
        out = workdir / f"{method}.json"
        cli("explain", "--image", str(image), "--method", method, "--json", str(out),
            *[arg for text in texts for arg in ("--text", text)])
        # Pixel maps are thousands of numbers: the seed keeps the explanation's shape with a few.
        explanation = json.loads(out.read_text())
        explanation["timings_ms"] = {phase: 1.0 for phase in explanation["timings_ms"]}
        if "pixel_scores" in explanation:
            explanation["input_size"] = [4, 4]
            explanation["pixel_scores"] = explanation["pixel_scores"][:16]
        write("api_json", f"explanation-{method}.json", json.dumps(explanation))
    options = [
        {"texts": texts, "target": 1, "method": "rollout", "headFusion": "max", "discardRatio": 0.5},
        {"texts": texts[:1], "method": "integrated_gradients", "steps": 2},
        {"texts": texts, "method": "smoothgrad", "steps": 2, "seed": 7},
    ]
    for index, option in enumerate(options):
        write("api_json", f"options-{index}.json", json.dumps(option))
    write("api_json", "scene.json", json.dumps({"seed": 5, "size": 96, "minObjects": 2, "maxObjects": 4}))
    scene = image.read_bytes()
    for method in ["attention", "rollout", "gradient", "grad_x_input", "integrated_gradients", "smoothgrad",
                   "gradcam", "chefer", "occlusion"]:
        request = {"texts": texts, "target": 1, "method": method, "steps": 2, "seed": 3}
        write("explain", f"{method}.bin", json.dumps(request).encode() + SEPARATOR + scene)
    small = io.BytesIO()
    Image.open(image).convert("RGB").resize((9, 7)).save(small, format="JPEG")
    write("explain", "small-jpeg.bin", json.dumps({"texts": ["a green triangle"], "method": "rollout"}).encode()
          + SEPARATOR + small.getvalue())


def main():
    if not CLI.exists():
        sys.exit(f"{CLI} is missing: run ./build.sh cli first")
    shutil.rmtree(SEEDS, ignore_errors=True)
    with tempfile.TemporaryDirectory() as workdir:
        workdir = Path(workdir)
        safetensors_seeds()
        gguf_seeds(workdir)
        gguf_block_seeds()
        config_seeds()
        preprocessor_seeds()
        tokenizer_seeds()
        image_seeds()
        explanation_seeds(workdir)
    for folder in sorted(SEEDS.iterdir()):
        files = list(folder.iterdir())
        print(f"{folder.name}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
