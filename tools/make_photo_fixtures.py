#!/usr/bin/env python3
"""Real photographs saved the ways cameras and editors save them, and what transformers makes of each.

Writes tests/fixtures/photos/{the files below, expected.json}, deterministically, from the bundled
photographs www/examples/{chelsea,coffee,astronaut}.jpg (CC0 / public domain, see their LICENSES.md):

  orientation-{1..8}.jpg   a portrait photo (100 x 150 as displayed) stored as a phone stores it: the
                           pixels transposed the inverse way and the EXIF orientation tag set, so that
                           every viewer that honours the tag shows the same upright picture
  orientation-{1..8}.png   the same, lossless (36 x 24 displayed), the tag in an eXIf chunk
  orientation-invalid.jpg  orientation tag 9, which means nothing: shown as stored
  orientation-6.webp       lossless WebP with the tag in its EXIF chunk
  scene-orientation-6.jpg  a shapes scene (96 x 128 displayed) with a yellow circle at the displayed
                           top left, stored turned as a phone stores it (the browser test's overlay)
  progressive.jpg, gray.jpg, cmyk.jpg (Adobe CMYK, as Pillow writes it), ycck.jpg (Adobe YCCK, as
  Photoshop writes CMYK; libjpeg-turbo through imagecodecs), large.jpg (1200 x 800), lossy.webp,
  palette.png, palette-transparent.gif, transparent.png (RGBA: a cut-out whose transparent area
  still stores the photo), gray-alpha.png, rgb16.png, rgba16.png, gray16.png (16-bit samples
  that use their low byte)

expected.json, per file: `displayed_wh` and `crop` (displayed orientation), `levels` (the 8-bit
values, base64, of the 3 x 48 x 48 crop CLIPImageProcessorPil normalizes: its pixel_values are exactly
(levels / 255 - mean) / std), `jpeg` (JPEG decoders may differ from libjpeg-turbo by a level or
so; lossy WebP is decoded exactly as libwebp does), and two maps of tests/fixtures/clip-random-a in float64 for the
text "a photo of a cat": `attention` (last layer, mean over heads, class row) and `grad_x_input`
(per patch, the sum over its pixels and channels of ds/dx * x).

The reference is transformers' `load_image` (ImageOps.exif_transpose, then convert("RGB")) and
CLIPImageProcessorPil, with one choice where they disagree: for files with transparency the
reference is the processor's convert_rgb (alpha composited over white), since load_image drops the
alpha channel and shows whatever colour the transparent pixels store. gray16.png is the one file
where Pillow is not followed: it clips 16-bit grayscale at 255 (white); its reference is the high
byte of each sample, as Pillow does itself for 16-bit colour PNGs.

Requires what make_fixtures.py requires, plus imagecodecs (for ycck.jpg).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import torch
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIX, REPO, Runner, flist, install_f64_eager_attention, patch_reduce  # noqa: E402

OUT = os.path.join(FIX, "photos")
MODEL = os.path.join(FIX, "clip-random-a")
EXAMPLES = os.path.join(REPO, "www", "examples")
TEXT = "a photo of a cat"
EXIF_ORIENTATION = 0x0112
# What exif_transpose applies for each tag; the stored pixels get the inverse.
INVERSE_OF_DISPLAY = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # displayed with ROTATE_270
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # displayed with ROTATE_90
}


def photo(name: str) -> Image.Image:
    return Image.open(os.path.join(EXAMPLES, f"{name}.jpg")).convert("RGB")


def resized(image: Image.Image, size: tuple[int, int], box=None) -> Image.Image:
    return image.resize(size, Image.Resampling.LANCZOS, box=box)


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return exif.tobytes()


def stored_for(displayed: Image.Image, orientation: int) -> Image.Image:
    method = INVERSE_OF_DISPLAY[orientation]
    return displayed if method is None else displayed.transpose(method)


def png_bytes(samples: np.ndarray, color_type: int, bit_depth: int) -> bytes:
    """A PNG written by hand: Pillow cannot write 16-bit colour."""
    height, width = samples.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = b"".join(b"\x00" + samples[y].astype(dtype).tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def sixteen_bit(image: Image.Image) -> np.ndarray:
    """16-bit samples whose low byte matters: the photo scaled by 257 plus a smooth ripple."""
    values = np.asarray(image, dtype=np.float64) * 257.0
    h, w = values.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    ripple = 200.0 * np.sin(xx * 0.7) * np.cos(yy * 0.45)
    if values.ndim == 3:
        ripple = ripple[..., None]
    return np.clip(np.rint(values + ripple), 0, 65535).astype(np.uint16)


def alpha_cutout(w: int, h: int) -> np.ndarray:
    """Opaque inside an ellipse, a soft edge, fully transparent outside and in the bottom strip."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.sqrt(((xx - w * 0.5) / (w * 0.42)) ** 2 + ((yy - h * 0.45) / (h * 0.4)) ** 2)
    alpha = np.clip((1.15 - r) / 0.3, 0.0, 1.0) * 255.0
    alpha[int(h * 0.85):, :] = 0.0
    return np.rint(alpha).astype(np.uint8)


def write(name: str, data: bytes) -> None:
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def save(image: Image.Image, name: str, **options) -> None:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    write(name, buffer.getvalue())


def make_files() -> dict[str, dict]:
    """Writes every file; returns, per file, how it was made and any reference it needs."""
    files: dict[str, dict] = {}
    cat = photo("chelsea")
    coffee = photo("coffee")
    astronaut = photo("astronaut")

    portrait = resized(cat, (100, 150), box=(80, 0, 280, 300))
    small = resized(cat, (36, 24))
    for orientation in range(1, 9):
        save(stored_for(portrait, orientation), f"orientation-{orientation}.jpg", format="JPEG", quality=90,
             exif=exif_bytes(orientation))
        files[f"orientation-{orientation}.jpg"] = {"form": f"JPEG, EXIF orientation {orientation}"}
        stored = stored_for(small, orientation)
        save(stored, f"orientation-{orientation}.png", format="PNG", exif=exif_bytes(orientation))
        reopened = ImageOps.exif_transpose(Image.open(os.path.join(OUT, f"orientation-{orientation}.png")))
        assert np.array_equal(np.asarray(reopened), np.asarray(small)), f"orientation {orientation} round trip"
        files[f"orientation-{orientation}.png"] = {"form": f"PNG, EXIF orientation {orientation} (eXIf chunk)"}
    save(stored_for(resized(cat, (40, 60), box=(80, 0, 280, 300)), 6), "orientation-6.webp", format="WEBP",
         lossless=True, exif=exif_bytes(6))
    files["orientation-6.webp"] = {"form": "lossless WebP, EXIF orientation 6"}

    save(portrait, "orientation-invalid.jpg", format="JPEG", quality=90, exif=exif_bytes(9))
    files["orientation-invalid.jpg"] = {"form": "JPEG, EXIF orientation 9 (no such value: shown as stored)"}
    save(stored_for(shapes_scene(), 6), "scene-orientation-6.jpg", format="JPEG", quality=95, exif=exif_bytes(6))
    files["scene-orientation-6.jpg"] = {"form": "JPEG, EXIF orientation 6: a yellow circle in the displayed top left"}

    save(resized(coffee, (180, 120)), "progressive.jpg", format="JPEG", quality=88, progressive=True)
    files["progressive.jpg"] = {"form": "progressive JPEG"}
    save(resized(astronaut, (80, 80)).convert("L"), "gray.jpg", format="JPEG", quality=90)
    files["gray.jpg"] = {"form": "grayscale JPEG"}
    save(resized(coffee, (96, 64)).convert("CMYK"), "cmyk.jpg", format="JPEG", quality=92)
    files["cmyk.jpg"] = {"form": "CMYK JPEG (Adobe, inverted)"}
    write("ycck.jpg", ycck_jpeg(resized(astronaut, (64, 64))))
    files["ycck.jpg"] = {"form": "YCCK JPEG (Adobe transform 2)"}
    save(coffee.resize((1200, 800), Image.Resampling.BILINEAR), "large.jpg", format="JPEG", quality=65)
    files["large.jpg"] = {"form": "large JPEG, 1200 x 800"}
    save(resized(cat, (120, 80)), "lossy.webp", format="WEBP", quality=80, method=6)
    files["lossy.webp"] = {"form": "lossy WebP"}

    save(resized(coffee, (72, 48)).quantize(colors=32, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE),
         "palette.png", format="PNG")
    files["palette.png"] = {"form": "palette PNG, 32 colours"}
    gif = resized(astronaut, (64, 64)).quantize(colors=63, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    gif_pixels = np.asarray(gif).copy()
    gif_pixels[alpha_cutout(64, 64) < 128] = 63  # the one index the quantizer left free, made transparent
    palette = gif.getpalette()[: 63 * 3] + [0, 0, 0]
    gif = Image.fromarray(gif_pixels)
    gif.putpalette(palette)
    save(gif, "palette-transparent.gif", format="GIF", transparency=63)
    files["palette-transparent.gif"] = {"form": "palette GIF with a transparent index"}

    rgba = np.dstack([np.asarray(resized(astronaut, (72, 72))), alpha_cutout(72, 72)])
    save(Image.fromarray(rgba), "transparent.png", format="PNG")
    files["transparent.png"] = {"form": "RGBA PNG: a cut-out, the transparent area storing the photo"}
    gray_alpha = np.dstack([np.asarray(resized(coffee, (64, 48)).convert("L")), alpha_cutout(64, 48)])
    save(Image.fromarray(gray_alpha), "gray-alpha.png", format="PNG")
    files["gray-alpha.png"] = {"form": "grayscale + alpha PNG"}

    write("rgb16.png", png_bytes(sixteen_bit(resized(coffee, (48, 32))), color_type=2, bit_depth=16))
    files["rgb16.png"] = {"form": "16-bit RGB PNG"}
    rgba16 = np.dstack([sixteen_bit(resized(astronaut, (40, 40))), alpha_cutout(40, 40).astype(np.uint16) * 257])
    write("rgba16.png", png_bytes(rgba16, color_type=6, bit_depth=16))
    files["rgba16.png"] = {"form": "16-bit RGBA PNG"}
    gray16 = sixteen_bit(resized(coffee, (48, 32)).convert("L"))
    write("gray16.png", png_bytes(gray16, color_type=0, bit_depth=16))
    files["gray16.png"] = {
        "form": "16-bit grayscale PNG",
        "reference": Image.fromarray((gray16 >> 8).astype(np.uint8)),
        "note": "Pillow clips I;16 at 255 when converting to RGB; the reference is each sample's high byte",
    }
    return files


def shapes_scene() -> Image.Image:
    """A scene as the default model knows them, 96 x 128 as displayed: a yellow circle near the top
    left of the part the model sees (the centre 96 x 96) and a blue square at the bottom right."""
    from PIL import ImageDraw

    scene = Image.new("RGB", (96, 128), (158, 154, 166))
    draw = ImageDraw.Draw(scene)
    draw.ellipse((12, 22, 36, 46), fill=(236, 214, 40))
    draw.rectangle((62, 86, 86, 110), fill=(40, 70, 220))
    return scene


def ycck_jpeg(image: Image.Image) -> bytes:
    """Photoshop's CMYK JPEG: Adobe-inverted CMYK samples, compressed as YCCK (Adobe transform 2)."""
    import imagecodecs

    cmyk = 255 - np.asarray(image.convert("CMYK"))
    data = imagecodecs.jpeg8_encode(cmyk, level=92, colorspace="CMYK", outcolorspace="YCCK")
    marker = data.find(b"Adobe")
    assert marker > 0 and data[marker + 11] == 2, "an Adobe APP14 marker with transform 2 (YCCK)"
    return bytes(data)


def upright(path: str, spec: dict) -> Image.Image:
    """What the reference pipeline hands the processor."""
    if "reference" in spec:
        return ImageOps.exif_transpose(spec["reference"])
    return ImageOps.exif_transpose(Image.open(path))


def main() -> None:
    from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizerFast
    from transformers.image_utils import load_image

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    install_f64_eager_attention()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    files = make_files()

    model = CLIPModel.from_pretrained(MODEL, attn_implementation="eager").eval().double()
    for p in model.parameters():
        p.requires_grad_(False)
    size = model.config.vision_config.image_size
    patch = model.config.vision_config.patch_size
    processor = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    mean = np.asarray(processor.image_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(processor.image_std, dtype=np.float32)[:, None, None]
    ids = CLIPTokenizerFast(tokenizer_file=os.path.join(MODEL, "tokenizer.json"))(TEXT)["input_ids"]
    runner = Runner(model, None)

    cases = []
    for name, spec in files.items():
        path = os.path.join(OUT, name)
        image = upright(path, spec)
        pixel_values = processor(images=image, return_tensors="np")["pixel_values"][0]
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        if "reference" not in spec and not has_alpha:
            # Without transparency the processor alone is load_image + processor.
            via_load_image = processor(images=load_image(path), return_tensors="np")["pixel_values"][0]
            assert np.array_equal(via_load_image, pixel_values), name
        levels = np.rint((pixel_values * std + mean) * 255.0)
        assert levels.min() >= 0 and levels.max() <= 255, name
        levels = levels.astype(np.uint8)
        rebuilt = ((levels.astype(np.float64) / 255.0).astype(np.float32) - mean) / std
        assert np.array_equal(rebuilt, pixel_values), f"{name}: pixel_values are not (levels / 255 - mean) / std"

        x = torch.from_numpy(pixel_values.copy()).double().requires_grad_(True)
        run = runner.forward(x, ids, need=True)
        (gradient,) = torch.autograd.grad(run["s"], [x])
        attention = run["va"][-1].detach()[0].mean(0)[0, 1:]
        grad_x_input = patch_reduce((gradient * x.detach()).sum(0), patch, "sum")

        width, height = image.size
        short = min(width, height)
        resized_w, resized_h = (size, int(size * height / short)) if width <= height else (int(size * width / short), size)
        top, left = (resized_h - size) // 2, (resized_w - size) // 2
        sx, sy = width / resized_w, height / resized_h
        cases.append({
            "file": name,
            "form": spec["form"],
            **({"note": spec["note"]} if "note" in spec else {}),
            "jpeg": name.endswith(".jpg"),
            "displayed_wh": [width, height],
            "crop": {"x": left * sx, "y": top * sy, "width": size * sx, "height": size * sy},
            "levels": base64.b64encode(levels.tobytes()).decode("ascii"),
            "attention": flist(attention),
            "grad_x_input": flist(grad_x_input),
        })

    expected = {
        "model": "clip-random-a",
        "text": TEXT,
        "input_size": size,
        "reference": "transformers load_image (exif_transpose) + CLIPImageProcessorPil (convert_rgb: "
                     "alpha over white); float64 maps",
        "cases": cases,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
        f.write("\n")
    total = 0
    for name in sorted(os.listdir(OUT)):
        total += os.path.getsize(os.path.join(OUT, name))
        print(f"  {name}: {os.path.getsize(os.path.join(OUT, name))} bytes")
    print(f"[photos] {OUT}: {len(cases)} cases, {total} bytes")


if __name__ == "__main__":
    main()
