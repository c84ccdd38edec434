// Decoding with the browser's own decoders, for the formats the WebAssembly module leaves to
// the platform (WebP, GIF, BMP, AVIF in the default module). The pixels go to the core's PDQ
// (`filter.checkPixels`), which hashes them exactly as it hashes pixels it decoded itself.
//
// Preferred: WebCodecs `ImageDecoder` with colour conversion off (its frames are not
// premultiplied), so the stored pixels come out unchanged (lossless formats give the same pixels as the core's
// decoders). Otherwise `createImageBitmap` + `OffscreenCanvas`: Chromium applies EXIF
// orientation there whatever `imageOrientation` says (the dihedral matching absorbs it), and a
// canvas premultiplies alpha (translucent pixels change by rounding).

/** Formats the platform may decode (named as the core's `sniffFormat` names them). */
export type SniffedFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp' | 'avif';

const MIME: Record<SniffedFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  avif: 'image/avif',
};

/**
 * The format the platform decodes, from the name the module's `sniffFormat` read off the
 * bytes' signature (the core's one table); `undefined` for formats no browser decodes here.
 */
export function platformFormat(name: string | undefined): SniffedFormat | undefined {
  return name !== undefined && Object.hasOwn(MIME, name) ? (name as SniffedFormat) : undefined;
}

/** RGBA pixels as stored (alpha not premultiplied where the platform allows). */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Whether this thread has a platform decoder at all. */
export function hasPlatformDecoder(): boolean {
  return (
    typeof ImageDecoder !== 'undefined' ||
    (typeof createImageBitmap === 'function' && typeof OffscreenCanvas !== 'undefined')
  );
}

/** Decodes the first frame with the platform; rejects when it cannot. */
export async function decodeWithPlatform(bytes: Uint8Array, format: SniffedFormat): Promise<Pixels> {
  const type = MIME[format];
  if (typeof ImageDecoder !== 'undefined' && (await ImageDecoder.isTypeSupported(type))) {
    try {
      return await viaImageDecoder(bytes, type);
    } catch {
      // Some builds refuse a conversion (e.g. copyTo to RGBA); the canvas path still works.
    }
  }
  if (typeof createImageBitmap === 'function' && typeof OffscreenCanvas !== 'undefined') {
    return viaCanvas(bytes, type);
  }
  throw new Error(`this browser has no decoder for ${type} in a worker`);
}

async function viaImageDecoder(bytes: Uint8Array, type: string): Promise<Pixels> {
  const decoder = new ImageDecoder({
    data: bytes,
    type,
    colorSpaceConversion: 'none',
    preferAnimation: false,
  });
  try {
    const { image } = await decoder.decode({ frameIndex: 0 });
    try {
      const width = image.displayWidth;
      const height = image.displayHeight;
      const rgba = new Uint8Array(width * height * 4);
      const native = image.format;
      if (native === 'RGBA' || native === 'RGBX' || native === 'BGRA' || native === 'BGRX') {
        const layout = await image.copyTo(rgba, { layout: [{ offset: 0, stride: width * 4 }] });
        if (layout.length !== 1) throw new Error('unexpected plane layout');
        if (native.startsWith('BGR')) swapRedBlue(rgba);
      } else {
        // YUV frames (lossy WebP, AVIF): let the platform convert with its own matrix.
        await image.copyTo(rgba, { format: 'RGBA', colorSpace: 'srgb', layout: [{ offset: 0, stride: width * 4 }] });
      }
      return { data: rgba, width, height };
    } finally {
      image.close();
    }
  } finally {
    decoder.close();
  }
}

function swapRedBlue(p: Uint8Array): void {
  for (let i = 0; i < p.length; i += 4) {
    const r = p[i] as number;
    p[i] = p[i + 2] as number;
    p[i + 2] = r;
  }
}

async function viaCanvas(bytes: Uint8Array, type: string): Promise<Pixels> {
  const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type }), {
    imageOrientation: 'none',
    premultiplyAlpha: 'none',
    colorSpaceConversion: 'none',
  });
  try {
    const { width, height } = bitmap;
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no 2d context on OffscreenCanvas');
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, width, height).data;
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
  } finally {
    bitmap.close();
  }
}
