// What the page shows under a map is what the engine explains. The engine decodes the file (its
// EXIF orientation applied, 16-bit samples reduced, transparency composited over white: see
// README "Images") and the page draws those very pixels, never its own decoding of the file,
// which may be turned differently, keep the alpha or differ by a level.

/** The engine's pixels of `image` (`{ key, bytes }`) as an ImageBitmap. */
export async function engineBitmap(engine, image) {
  const { width, height, rgba } = await engine.decode(image);
  return createImageBitmap(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length), width, height));
}

/** The browser's own decoding, only for files the engine does not read (AVIF, ICO, SVG, ...). */
export async function browserBitmap(bytes, type) {
  try {
    return await createImageBitmap(new Blob([bytes], { type }));
  } catch {
    return null;
  }
}

/** Whether the engine decodes these bytes itself: PNG, JPEG, GIF, BMP or WebP, by signature. */
export function engineReads(bytes) {
  const starts = (...sig) => sig.every((b, i) => bytes[i] === b);
  const ascii = (offset, text) => [...text].every((c, i) => bytes[offset + i] === c.charCodeAt(0));
  return starts(0x89, 0x50, 0x4e, 0x47) || starts(0xff, 0xd8, 0xff) || ascii(0, 'GIF8') || ascii(0, 'BM') || (ascii(0, 'RIFF') && ascii(8, 'WEBP'));
}

/** A PNG of what the browser drew, for the engine. */
export async function toPng(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/png' });
  return new Uint8Array(await blob.arrayBuffer());
}
