// PDQ and the filter's PDQ prefilter for one file: through the primary module, the browser's
// decoder or the module with every decoder.

import { engineWithFilter } from './guard-engine.js';
import type { Split } from './guard-split.js';
import { need, primaryModule, type Engine, type HashKind } from './guard-state.js';
import type { FileHashes, Phase } from './options.js';
import { decodeWithPlatform, hasPlatformDecoder, type SniffedFormat } from './platform-decode.js';

/** What PDQ found: the kinds the filter flagged and the hashes. */
export interface PdqOutcome {
  hits: HashKind[];
  hashes: Partial<FileHashes>;
}

const WASM_PREFERRED: ReadonlySet<string> = new Set(['jpeg', 'png']);

/** PDQ and the PDQ prefilter's answer, through the module or the platform decoder. */
export async function checkPdq(
  bytesOf: () => Uint8Array,
  format: SniffedFormat,
  split: Split | undefined,
  progress: (p: Phase) => void,
): Promise<PdqOutcome> {
  const c = need();
  const primary = await engineWithFilter(primaryModule(c));
  const limits = { mode: 'fast' as const, maxPixels: c.maxPixels, maxInputBytes: c.maxFileBytes, regions: c.regions };
  const viaWasm = async (e: Engine, split?: Split): Promise<PdqOutcome> => {
    // A large photo: this worker decodes the first part while the second worker decodes the
    // rest; the joined answer is checkImage's, bit for bit.
    let tail: Uint8Array | undefined;
    let r;
    if (split) {
      const head = e.filter!.startImage(split.file, split.at, limits);
      tail = head.split ? (await split.answer)?.tail : undefined;
      r = e.filter!.finishImage(head, split.file, tail);
    } else {
      r = e.filter!.checkImage(bytesOf(), limits);
    }
    const parts = tail !== undefined ? { parts: 2 } : {};
    return {
      hits: r.kinds as HashKind[],
      hashes: { pdq: r.pdq, quality: r.quality, pdqDihedral: r.pdqDihedral, ...windowsOf(r.windows), format: r.format, width: r.width, height: r.height, decoder: 'wasm', ...parts },
    };
  };
  // 1. This module decodes the format (or, for large JPEGs, takes the fast path without a
  //    decoder): the measured fastest path, identical to the CLI.
  if (primary.formats.includes(format) || format === 'jpeg') {
    progress('hashing');
    try {
      return await viaWasm(primary, split);
    } catch (e) {
      if ((e as { kind?: string }).kind !== 'unsupported') throw e;
      // The platform module has no JPEG decoder for small or unusual JPEGs: fall through.
    }
  }
  // 2. The browser's decoder, pixels into the core's PDQ.
  const preferWasm = c.decoder === 'wasm' || (c.decoder === 'auto' && WASM_PREFERRED.has(format));
  if (!preferWasm && hasPlatformDecoder()) {
    progress('decoding');
    try {
      const px = await decodeWithPlatform(bytesOf(), format);
      progress('hashing');
      const r = primary.filter!.checkPixels(px.data, px.width, px.height, 4, { mode: 'fast', maxPixels: c.maxPixels, regions: c.regions });
      return {
        hits: r.kinds as HashKind[],
        hashes: { pdq: r.pdq, quality: r.quality, pdqDihedral: r.pdqDihedral, ...windowsOf(r.windows), format, width: px.width, height: px.height, decoder: 'platform' },
      };
    } catch {
      // No usable platform decoder for this file: try the full module.
    }
  }
  // 3. The module with every decoder, fetched only now.
  progress('decoding');
  const full = await engineWithFilter('full');
  progress('hashing');
  return await viaWasm(full);
}

/** The region windows the filter flagged, if any (a crop, small turn or caption). */
function windowsOf(windows: string[] | undefined): { windows?: string[] } {
  return windows !== undefined && windows.length > 0 ? { windows } : {};
}
