// The decoder benchmark's dedicated worker (module worker): times, on the same bytes, the
// WebAssembly path and the browser's own decoders feeding schoon's PDQ, and keeps each path's
// PDQ so that run.mjs can compare it with the native reference. Prints nothing; see run.mjs.

import { exactHashes, hashBytes, hashImage, init, pdqFromBlockMeans, pdqFromPixels } from '../dist/index.js';

/** @type {{name: string, bytes: Uint8Array, blob: Blob, width: number, height: number}[]} */
let files = [];

/** The core's fast-path block size for an image (hashing.rs `fast_block_size`). */
function blockSize(width, height) {
  const window = Math.ceil(Math.min(width, height) / 128);
  return [8, 4, 2].find((b) => window >= 2 * b) ?? 1;
}

/** RGBA pixels of `bitmap` through an OffscreenCanvas. */
function pixelsOf(bitmap) {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
}

async function viaImageBitmap(file, options) {
  const bitmap = await createImageBitmap(file.blob, { imageOrientation: 'none', ...options });
  const { width, height } = bitmap;
  const data = pixelsOf(bitmap);
  bitmap.close();
  const t = performance.now();
  const p = pdqFromPixels(data, width, height, 4);
  const pdqMs = performance.now() - t;
  // Kept to tell a rotated decode (EXIF orientation applied) from a wrong one.
  return { pdq: p.pdq, quality: p.quality, pdqDihedral: p.pdqDihedral, width, height, pdqMs };
}

/** The luma (Y) plane of a decoded VideoFrame, tightly packed, or RGBA if it has no Y. */
async function planeOf(frame) {
  const rect = frame.visibleRect;
  const width = rect.width;
  const height = rect.height;
  const buffer = new Uint8Array(frame.allocationSize());
  const layout = await frame.copyTo(buffer);
  const format = frame.format;
  if (/^(I4|NV12)/.test(format)) {
    const { offset, stride } = layout[0];
    const y = new Uint8Array(width * height);
    for (let row = 0; row < height; row++) {
      y.set(buffer.subarray(offset + row * stride, offset + row * stride + width), row * width);
    }
    return { kind: 'y', data: y, width, height, format };
  }
  // RGBA/BGRA and friends: repack as RGBA.
  const { offset, stride } = layout[0];
  const rgba = new Uint8Array(width * height * 4);
  const bgr = format.startsWith('BGR');
  for (let row = 0; row < height; row++) {
    for (let x = 0; x < width; x++) {
      const s = offset + row * stride + x * 4;
      const d = (row * width + x) * 4;
      rgba[d] = buffer[s + (bgr ? 2 : 0)];
      rgba[d + 1] = buffer[s + 1];
      rgba[d + 2] = buffer[s + (bgr ? 0 : 2)];
      rgba[d + 3] = 255;
    }
  }
  return { kind: 'rgba', data: rgba, width, height, format };
}

async function decodeWithImageDecoder(file, desired) {
  const decoder = new ImageDecoder({ data: file.bytes, type: 'image/jpeg', ...desired });
  const { image } = await decoder.decode();
  const plane = await planeOf(image);
  const colorSpace = image.colorSpace?.toJSON?.() ?? null;
  image.close();
  decoder.close();
  return { plane, colorSpace };
}

/** PDQ's luma (0.299 R + 0.587 G + 0.114 B, as the core computes it) of a plane. */
function lumaOf(plane) {
  if (plane.kind === 'y') return Float32Array.from(plane.data);
  const n = plane.width * plane.height;
  const out = new Float32Array(n);
  const d = plane.data;
  for (let i = 0; i < n; i++) {
    out[i] = Math.fround(Math.fround(Math.fround(0.299 * d[4 * i]) + Math.fround(0.587 * d[4 * i + 1])) + Math.fround(0.114 * d[4 * i + 2]));
  }
  return out;
}

function hashPlane(plane) {
  return plane.kind === 'y'
    ? pdqFromPixels(plane.data, plane.width, plane.height, 1)
    : pdqFromPixels(plane.data, plane.width, plane.height, 4);
}

/** The timed methods; each returns what it hashed. */
function methods(file) {
  const b = blockSize(file.width, file.height);
  const rw = Math.ceil(file.width / b);
  const rh = Math.ceil(file.height / b);
  const list = {
    wasm_fast: async () => {
      const r = hashBytes(file.bytes, { mode: 'fast' });
      return { pdq: r.pdq, quality: r.quality, width: r.width, height: r.height };
    },
    wasm_pdq: async () => {
      const r = hashImage(file.bytes, { mode: 'fast' });
      return { pdq: r.pdq, quality: r.quality, width: r.width, height: r.height };
    },
    // A verdict's inputs with SHA-256 from the platform, started first so that it can run
    // while the WebAssembly computes PDQ.
    'wasm_pdq+subtle': async () => {
      const digest = crypto.subtle.digest('SHA-256', file.bytes);
      const r = hashImage(file.bytes, { mode: 'fast' });
      await digest;
      return { pdq: r.pdq, quality: r.quality, width: r.width, height: r.height };
    },
    wasm_exact: async () => ({ sha256: exactHashes(file.bytes).sha256 }),
    subtle_sha256: async () => {
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', file.bytes));
      return { sha256: Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('') };
    },
    blob_read: async () => ({ bytes: (await file.blob.arrayBuffer()).byteLength }),
    cib_full: () => viaImageBitmap(file, {}),
  };
  if (b > 1) {
    for (const q of ['low', 'medium', 'high']) {
      list[`cib_1/${b}_${q}`] = () =>
        viaImageBitmap(file, { resizeWidth: rw, resizeHeight: rh, resizeQuality: q });
    }
  }
  if (typeof ImageDecoder !== 'undefined') {
    list.idec_full = async () => {
      const { plane, colorSpace } = await decodeWithImageDecoder(file, {});
      const p = hashPlane(plane);
      return { pdq: p.pdq, quality: p.quality, width: plane.width, height: plane.height, format: plane.format, colorSpace };
    };
    if (b > 1) {
      list[`idec_1/${b}+subtle`] = async () => {
        const digest = crypto.subtle.digest('SHA-256', file.bytes);
        const out = await list[`idec_1/${b}`]();
        await digest;
        return { ...out, pdqMs: undefined };
      };
      list[`idec_1/${b}`] = async () => {
        const { plane, colorSpace } = await decodeWithImageDecoder(file, { desiredWidth: rw, desiredHeight: rh });
        const t = performance.now();
        const out = { width: plane.width, height: plane.height, format: plane.format, colorSpace };
        if (plane.width === rw && plane.height === rh) {
          // Each decoded pixel is the mean of a b x b block (DCT-scaled decoding), so its luma
          // is the block's mean luma: the core's fast path, with its exact per-block weights.
          const p = pdqFromBlockMeans(lumaOf(plane), b, b, file.width, file.height);
          Object.assign(out, { pdq: p.pdq, quality: p.quality, via: 'pdqFromBlockMeans' });
          out.pdqMs = performance.now() - t;
          // Not timed: the same plane as a small image through the reference filter.
          out.pdqAsPixels = hashPlane(plane).pdq;
          return out;
        } else {
          const p = hashPlane(plane);
          Object.assign(out, { pdq: p.pdq, quality: p.quality, via: 'pdqFromPixels' });
        }
        out.pdqMs = performance.now() - t;
        return out;
      };
    }
  }
  return list;
}

async function setup(list) {
  await init();
  files = [];
  for (const f of list) {
    const res = await fetch(f.url);
    if (!res.ok) throw new Error(`${f.url}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    files.push({ name: f.name, bytes, blob: new Blob([bytes], { type: 'image/jpeg' }), width: f.width, height: f.height });
  }
  return { imageDecoder: typeof ImageDecoder !== 'undefined', userAgent: navigator.userAgent };
}

async function batch(runs) {
  const results = {};
  for (const file of files) {
    const list = methods(file);
    const names = Object.keys(list);
    const out = (results[file.name] = {});
    for (const n of names) out[n] = { ms: [], pdqMs: [] };
    for (let r = 0; r < runs; r++) {
      // Rotate the order every run so that no method always runs first (cold caches, GC).
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + r) % names.length];
        const t = performance.now();
        let value;
        try {
          value = await list[name]();
        } catch (e) {
          value = { error: String(e) };
        }
        out[name].ms.push(performance.now() - t);
        if (value.pdqMs !== undefined) out[name].pdqMs.push(value.pdqMs);
        if (r === 0) out[name].result = { ...value, pdqMs: undefined };
      }
    }
  }
  return results;
}

self.addEventListener('message', async (event) => {
  const { id, type } = event.data;
  try {
    const result = type === 'setup' ? await setup(event.data.files) : await batch(event.data.runs);
    self.postMessage({ id, ok: true, result });
  } catch (e) {
    self.postMessage({ id, ok: false, error: String(e?.stack ?? e) });
  }
});
