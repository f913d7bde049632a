#!/usr/bin/env python3
"""Build the real OpenAI CLIP BPE tokenizer as a Hugging Face `tokenizer.json`.

Reference side of the Sightline test-suite. It

1. takes OpenAI's `bpe_simple_vocab_16e6.txt.gz` (MIT licensed, shipped inside
   the `open_clip_torch` wheel on PyPI; pass `--bpe PATH`, or let the script
   `pip download` the wheel into a temporary folder and extract the file),
2. builds vocab.json + merges.txt exactly like OpenAI's `SimpleTokenizer`
   (bytes_to_unicode; merges = lines[1:49152-256-2+1]; vocab = byte chars,
   byte chars + '</w>', ''.join(merge) for each merge, '<|startoftext|>',
   '<|endoftext|>'),
3. builds `transformers.CLIPTokenizerFast` from those files and keeps only the
   `tokenizer.json` that `save_pretrained` writes.

`--merges K` builds a REDUCED (but genuine) CLIP BPE tokenizer with only the
first K merges: vocab = 512 byte tokens + K merge tokens + the 2 specials
(ids contiguous: size 512+K+2, <|endoftext|> is the highest id).

With `--cases PATH` it also writes the tokenization contract
{"texts": [...], "ids": [[...]]} produced by CLIPTokenizerFast loaded from the
written tokenizer.json, and cross-checks it against a pure-Python port of
OpenAI's SimpleTokenizer (transformers 5 has no slow Python CLIPTokenizer any
more: `CLIPTokenizer` is the tokenizers-backed class and `CLIPTokenizerFast`
is an alias of it).

Default run (no arguments) regenerates all committed tokenizer fixtures:
    tests/fixtures/tokenizer/clip/tokenizer.json        (full, 49408 tokens)
    tests/fixtures/tokenizer/clip-1000/tokenizer.json   (--merges 1000)
    tests/fixtures/tokenizer/cases.json             (ids from the full tokenizer)
    tests/fixtures/tokenizer/cases-clip-1000.json   (same texts, reduced tokenizer)
"""

from __future__ import annotations

import argparse
import glob
import gzip
import html
import json
import os
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from functools import lru_cache

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(REPO, "tests", "fixtures", "tokenizer")

FULL_MERGES = 49152 - 256 - 2  # 48894 merges -> 512 + 48894 + 2 = 49408 tokens
SOT = "<|startoftext|>"
EOT = "<|endoftext|>"

# A varied text set; the Rust tokenizer must reproduce the ids exactly.
CASE_TEXTS = [
    "a photo of a cat",
    "A Photo Of A DOG.",
    "Hello, world! How are you?",
    "two blue squares on grass",
    "The year 2024 had 366 days; pi is 3.14159.",
    "  leading and trailing   spaces  ",
    "tabs\tand\nnewlines\r\nmixed \t \n whitespace",
    "don't stop, it's fine, we're here, I'll go, you've seen, I'm ok, he'd say",
    "DON'T SHOUT: IT'S LOUD",
    "café naïve Ångström résumé façade",
    "Cafe\u0301 (decomposed e + combining acute)",
    "emoji: 😀 🐶🐱 👍🏽",
    "family 👨\u200d👩\u200d👧\u200d👦 and flags 🇯🇵🇫🇷🏳️\u200d🌈",
    "日本語のテキスト",
    "中文文本测试",
    "한국어 텍스트",
    "النص العربي",
    "Русский текст, ёлка!",
    "pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious",
    "antidisestablishmentarianism" * 3,
    " ",
    "",
    "!!!???...,,,;;;",
    "C++ & Rust <3 @user #hashtag $100 50% a_b-c/d\\e",
    "&amp; &lt;tag&gt; html entities",
    "ﬁne ligature and fullwidth ＡＢＣ１２３",
    "<|startoftext|>literal specials<|endoftext|>",
]


# The one text on which transformers' tokenizer.json, and so Sightline, tokenize differently from
# OpenAI's SimpleTokenizer, on purpose: OpenAI unescapes HTML entities (twice) before tokenizing,
# transformers does not, and checkpoints as published are used with transformers' tokenizer. The
# cross-check fails if this text ever agrees (the list is stale) or any other text disagrees.
KNOWN_DIFFERENCES = {"&amp; &lt;tag&gt; html entities": "OpenAI unescapes HTML entities, transformers does not"}


# --------------------------------------------------------------------------
# OpenAI SimpleTokenizer pieces (MIT, Copyright (c) 2021 OpenAI)
# --------------------------------------------------------------------------
@lru_cache()
def bytes_to_unicode() -> dict[int, str]:
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_merges(bpe_path: str, k: int | None) -> list[tuple[str, str]]:
    lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    assert len(merges) == FULL_MERGES, len(merges)
    if k is not None:
        if not 0 <= k <= FULL_MERGES:
            raise SystemExit(f"--merges must be in 0..={FULL_MERGES}")
        merges = merges[:k]
    return [tuple(m.split()) for m in merges]


def build_vocab(merges: list[tuple[str, str]]) -> list[str]:
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for m in merges:
        vocab.append("".join(m))
    vocab.extend([SOT, EOT])
    return vocab


class OpenAISimpleTokenizer:
    """Port of openai/CLIP simple_tokenizer.SimpleTokenizer (encode only)."""

    def __init__(self, merges, use_ftfy: bool):
        import regex as re

        vocab = build_vocab(merges)
        self.encoder = {t: i for i, t in enumerate(vocab)}
        self.byte_encoder = bytes_to_unicode()
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {SOT: SOT, EOT: EOT}
        self.pat = re.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            re.IGNORECASE,
        )
        self.re = re
        self.use_ftfy = use_ftfy

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = {(a, b) for a, b in zip(word, word[1:])}
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = {(a, b) for a, b in zip(word, word[1:])}
        out = " ".join(word)
        self.cache[token] = out
        return out

    def encode(self, text: str) -> list[int]:
        if self.use_ftfy:
            import ftfy

            text = ftfy.fix_text(text)
        else:
            # The part of ftfy.fix_text that matters for these texts: its default NFC
            # normalization (which transformers' normalizer applies too).
            text = unicodedata.normalize("NFC", text)
        text = html.unescape(html.unescape(text)).strip()
        text = " ".join(text.split()).strip().lower()
        ids = [self.encoder[SOT]]
        for token in self.re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        ids.append(self.encoder[EOT])
        return ids


# --------------------------------------------------------------------------
def fetch_bpe(dest_dir: str) -> str:
    """pip-download the open_clip_torch wheel and extract the BPE file."""
    wheel_dir = os.path.join(dest_dir, "wheel")
    os.makedirs(wheel_dir, exist_ok=True)
    print("downloading open_clip_torch wheel (no deps) to get bpe_simple_vocab_16e6.txt.gz ...")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "open_clip_torch", "-d", wheel_dir, "-q"],
        check=True,
    )
    wheels = glob.glob(os.path.join(wheel_dir, "open_clip_torch-*.whl"))
    if not wheels:
        raise SystemExit("pip download did not produce an open_clip_torch wheel")
    with zipfile.ZipFile(wheels[0]) as z:
        name = next(n for n in z.namelist() if n.endswith("bpe_simple_vocab_16e6.txt.gz"))
        out = os.path.join(dest_dir, "bpe_simple_vocab_16e6.txt.gz")
        with z.open(name) as src, open(out, "wb") as dst:
            dst.write(src.read())
    return out


def build_tokenizer_json(merges, out_dir: str) -> str:
    from transformers import CLIPTokenizerFast

    vocab = build_vocab(merges)
    assert len(vocab) == 512 + len(merges) + 2
    assert len(set(vocab)) == len(vocab), "duplicate vocab entries"
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = os.path.join(tmp, "vocab.json")
        merges_file = os.path.join(tmp, "merges.txt")
        with open(vocab_file, "w", encoding="utf-8") as f:
            json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
        with open(merges_file, "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in merges:
                f.write(f"{a} {b}\n")
        # transformers 5: the constructor ignores vocab_file/merges_file; from_pretrained on a
        # folder holding vocab.json + merges.txt is the supported way to build from the files.
        tok = CLIPTokenizerFast.from_pretrained(tmp, model_max_length=77)
        # sanity: the vocabulary really is the one we built, ids contiguous
        got = tok.get_vocab()
        assert len(got) == len(vocab), (len(got), len(vocab))
        for i, t in enumerate(vocab):
            assert got[t] == i, (t, got[t], i)
        assert tok.eos_token_id == len(vocab) - 1 and tok.bos_token_id == len(vocab) - 2
        save_dir = os.path.join(tmp, "saved")
        tok.save_pretrained(save_dir)
        src = os.path.join(save_dir, "tokenizer.json")
        with open(src, "rb") as f:
            data = f.read()
    # save_pretrained wrote into a temp folder; only tokenizer.json is kept
    # (vocab.json / merges.txt / tokenizer_config.json are not copied out).
    out = os.path.join(out_dir, "tokenizer.json")
    with open(out, "wb") as f:
        f.write(data)
    return out


def load_fast(tokenizer_json: str):
    from transformers import CLIPTokenizerFast

    return CLIPTokenizerFast(tokenizer_file=tokenizer_json, model_max_length=77)


def write_cases(tokenizer_json: str, merges, out_path: str) -> int:
    """Writes the cases; returns how many differ from OpenAI's algorithm beyond KNOWN_DIFFERENCES."""
    tok = load_fast(tokenizer_json)
    ids = [tok(t, add_special_tokens=True, truncation=False)["input_ids"] for t in CASE_TEXTS]
    # also check the raw `tokenizers` library agrees with the transformers wrapper
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(tokenizer_json)
    for t, i in zip(CASE_TEXTS, ids):
        assert raw.encode(t).ids == i, ("raw tokenizers disagree", t)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"texts": CASE_TEXTS, "ids": ids}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(out_path, REPO)} ({len(CASE_TEXTS)} texts)")

    # Cross-check against OpenAI's SimpleTokenizer algorithm.
    disagreements = 0
    for use_ftfy in (False, True):
        if use_ftfy:
            try:
                import ftfy  # noqa: F401
            except ImportError:
                print("  (ftfy not installed: skipping the ftfy-enabled OpenAI comparison)")
                continue
        ref = OpenAISimpleTokenizer(merges, use_ftfy=use_ftfy)
        label = "OpenAI SimpleTokenizer" + (" (with ftfy)" if use_ftfy else " (no ftfy, NFC)")
        agree = 0
        for t, a in zip(CASE_TEXTS, ids):
            b = ref.encode(t)
            if (a == b) == (t not in KNOWN_DIFFERENCES):
                agree += a == b
                continue
            what = "AGREES on a listed known difference" if a == b else "DISAGREES on"
            print(f"  {label} {what} {t!r}:\n    hf     {a}\n    openai {b}", file=sys.stderr)
            disagreements += 1
        print(f"  {label}: {agree} texts agree, {len(KNOWN_DIFFERENCES)} known difference(s)")
    return disagreements


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bpe", help="path to bpe_simple_vocab_16e6.txt.gz (default: pip download open_clip_torch)")
    ap.add_argument("--merges", type=int, help="build a reduced tokenizer with the first K merges")
    ap.add_argument("--out", help="output folder for tokenizer.json")
    ap.add_argument("--cases", help="also write the tokenization cases JSON here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        bpe = args.bpe or fetch_bpe(tmp)
        if args.out is None and args.merges is None and args.cases is None:
            # default: regenerate every committed fixture
            full = read_merges(bpe, None)
            p = build_tokenizer_json(full, os.path.join(FIX, "clip"))
            print(f"wrote {os.path.relpath(p, REPO)} ({os.path.getsize(p)} bytes, {512 + len(full) + 2} tokens)")
            small = read_merges(bpe, 1000)
            p2 = build_tokenizer_json(small, os.path.join(FIX, "clip-1000"))
            print(f"wrote {os.path.relpath(p2, REPO)} ({os.path.getsize(p2)} bytes, {512 + len(small) + 2} tokens)")
            disagreements = write_cases(p, full, os.path.join(FIX, "cases.json"))
            disagreements += write_cases(p2, small, os.path.join(FIX, "cases-clip-1000.json"))
            fail_on(disagreements)
            return
        merges = read_merges(bpe, args.merges)
        out_dir = args.out or os.path.join(FIX, "clip" if args.merges is None else f"clip-{args.merges}")
        p = build_tokenizer_json(merges, out_dir)
        print(f"wrote {p} ({os.path.getsize(p)} bytes, {512 + len(merges) + 2} tokens)")
        if args.cases:
            fail_on(write_cases(p, merges, args.cases))


def fail_on(disagreements: int) -> None:
    """A fixture that OpenAI's own algorithm tokenizes differently is not a reference."""
    if disagreements:
        sys.exit(f"error: {disagreements} tokenizations contradict OpenAI's SimpleTokenizer (listed above)")


if __name__ == "__main__":
    main()
