// Decoder benchmark for the browser guard (prints, asserts nothing):
//
//   node bench/run.mjs            (after `cargo xtask wasm` and `npm run build:ts`)
//
// In headless Chromium, inside a dedicated worker (bench-worker.js), per file:
//   wasm_fast      hashBytes fast mode: MD5 + SHA-1 + SHA-256 + PDQ, all in WebAssembly
//   wasm_pdq       hashImage fast mode: PDQ only (format, size, PDQ; no exact hashes)
//   wasm_pdq+subtle  hashImage while crypto.subtle.digest('SHA-256') runs (a verdict's inputs)
//   wasm_exact     exactHashes alone (MD5 + SHA-1 + SHA-256)
//   subtle_sha256  crypto.subtle.digest('SHA-256'); blob_read: Blob.arrayBuffer()
//   cib_*          createImageBitmap (full size, or resized to the fast path's 1/b with each
//                  resizeQuality) + OffscreenCanvas getImageData + pdqFromPixels
//   idec_*         WebCodecs ImageDecoder, full size (Y plane -> pdqFromPixels) or at 1/b
//                  (each pixel = a block mean -> luma -> pdqFromBlockMeans); +subtle: with
//                  crypto.subtle SHA-256 running meanwhile
// and natively, in the same run, interleaved (rounds alternate native and browser):
//   native_fast    SHA-256 + PDQ fast, the CLI's default path (cargo xtask wasm native-bench)
//   native_all     hash_bytes fast: MD5 + SHA-1 + SHA-256 + PDQ (what wasm_fast computes)
// Hamming distances are to the native reference PDQ (full-size decode, bit-exact with Meta's
// C++ core); the core's fast-path budget is p95 <= 6, max <= 12 bits.
//
// Files: the four 4032x3024 JPEGs of the shared corpus (read where they are, never copied;
// skipped with a message if absent; SCHOON_CORPUS overrides the directory) and the
// 1600x1200 fixture. BENCH_RUNS (default 7) runs per round, BENCH_ROUNDS (default 3) rounds.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch } from '../scripts/chromium.mjs';
import { serve } from '../scripts/serve.mjs';

const www = fileURLToPath(new URL('..', import.meta.url));
const root = join(www, '..');
const fixtures = join(root, 'tests/fixtures');
const corpus =
  process.env.SCHOON_CORPUS_EXIF ??
  join(process.env.SCHOON_CORPUS ?? join(root, '..', 'shared', 'corpus'), 'pdq-reference/reg-test-input/exif-rotn');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const files = [];
if (existsSync(corpus)) {
  for (const f of readdirSync(corpus).filter((f) => f.endsWith('.jpg')).sort()) {
    files.push({ name: f, path: join(corpus, f), url: `/corpus/${f}` });
  }
} else {
  console.log(`corpus not found at ${corpus}: only the 1600x1200 fixture is measured`);
}
files.push({ name: 'large-1600x1200.jpg', path: join(fixtures, 'large-1600x1200.jpg'), url: '/fixtures/large-1600x1200.jpg' });

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : NaN;
};

function distance(a, b) {
  if (!a || !b) return undefined;
  let d = 0;
  for (let i = 0; i < 64; i += 8) {
    let x = parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16);
    while (x) {
      d += x & 1;
      x >>>= 1;
    }
  }
  return d;
}

/** One round of the native side: JSON lines from `cargo xtask wasm native-bench`. */
function native() {
  const out = execFileSync('cargo', ['xtask', 'wasm', 'native-bench', String(RUNS), ...files.map((f) => f.path)], {
    cwd: root,
    encoding: 'utf8',
    env: { CARGO_TARGET_DIR: join(root, 'target/wasm'), ...process.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

/** The CLI itself, once per file (wall time includes process start): checks identity. */
function cli(file) {
  const bin = join(root, 'target/release/schoon');
  if (!existsSync(bin)) return undefined;
  const t = performance.now();
  const line = execFileSync(bin, ['hash', '-j', '1', file.path], { encoding: 'utf8' });
  return { ms: performance.now() - t, ...JSON.parse(line) };
}

const nativeSamples = new Map(); // file -> { fast: [], all: [], exact: [], ref: [] }
let nativeInfo;
const browserSamples = new Map(); // file -> method -> { ms: [], pdqMs: [], result }

const server = await serve({ '/': www, '/fixtures/': fixtures, ...(existsSync(corpus) ? { '/corpus/': corpus } : {}) });
const browser = await launch();
try {
  const page = browser.page;
  await page.goto(`${server.url}/test/blank.html`);
  await page.evaluate(() => {
    const worker = new Worker('/bench/bench-worker.js', { type: 'module' });
    let next = 1;
    const pending = new Map();
    worker.onmessage = (e) => {
      const { id, ok, result, error } = e.data;
      pending.get(id)[ok ? 0 : 1](ok ? result : new Error(error));
      pending.delete(id);
    };
    window.bench = (message) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, [resolve, reject]);
        worker.postMessage({ id, ...message });
      });
  });

  nativeInfo = native(); // warm-up round, also gives dimensions and reference hashes
  const setupInfo = await page.evaluate(
    (list) => window.bench({ type: 'setup', files: list }),
    files.map((f, i) => ({ name: f.name, url: f.url, width: nativeInfo[i].width, height: nativeInfo[i].height })),
  );
  const ua = await page.evaluate(() => navigator.userAgent);
  console.log(`Chromium: ${ua}`);
  console.log(`ImageDecoder available: ${setupInfo.imageDecoder}; ${ROUNDS} rounds x ${RUNS} runs, interleaved\n`);
  await page.evaluate(() => window.bench({ type: 'batch', runs: 1 })); // warm-up

  for (let round = 0; round < ROUNDS; round++) {
    const n = native();
    n.forEach((row, i) => {
      const s = nativeSamples.get(files[i].name) ?? { fast: [], all: [], exact: [], ref: [] };
      s.fast.push(row.ms_sha256_fast);
      s.all.push(row.ms_hash_bytes_fast);
      s.exact.push(row.ms_exact);
      s.ref.push(row.ms_reference);
      nativeSamples.set(files[i].name, s);
    });
    const b = await page.evaluate((runs) => window.bench({ type: 'batch', runs }), RUNS);
    for (const [file, methods] of Object.entries(b)) {
      const m = browserSamples.get(file) ?? new Map();
      for (const [name, v] of Object.entries(methods)) {
        const s = m.get(name) ?? { ms: [], pdqMs: [], result: v.result };
        s.ms.push(...v.ms);
        s.pdqMs.push(...v.pdqMs);
        m.set(name, s);
      }
      browserSamples.set(file, m);
    }
  }
} finally {
  await browser.close();
  await server.close();
}

// ---- report -------------------------------------------------------------------------------
const fmt = (x) => (x === undefined || Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(1) : x.toFixed(0));
const methodNames = [...new Set([...browserSamples.values()].flatMap((m) => [...m.keys()]))];
// Generic names for the per-file block size (1/8 for 12 MP, 1/4 for 1600x1200).
const generic = (n) => n.replace(/1\/\d/, '1/b');
const columns = [...new Set(methodNames.map(generic))];

console.log('Median ms per file (native: in-process, one thread; browser: dedicated worker)\n');
const head = ['file', 'native_fast', 'native_all', 'native_exact', ...columns];
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---').join('|')}|`);
for (const f of files) {
  const n = nativeSamples.get(f.name);
  const m = browserSamples.get(f.name);
  const cells = columns.map((c) => {
    const name = [...m.keys()].find((k) => generic(k) === c);
    return name ? fmt(median(m.get(name).ms)) : '-';
  });
  console.log(`| ${f.name} | ${fmt(median(n.fast))} | ${fmt(median(n.all))} | ${fmt(median(n.exact))} | ${cells.join(' | ')} |`);
}

console.log('\nPDQ part of the platform paths (pdqFromPixels / pdqFromBlockMeans), median ms\n');
for (const f of files) {
  const m = browserSamples.get(f.name);
  const parts = [...m.entries()].filter(([, s]) => s.pdqMs.length).map(([k, s]) => `${k} ${fmt(median(s.pdqMs))}`);
  console.log(`${f.name}: ${parts.join(', ')}`);
}

console.log('\nHamming distance (bits) to the native reference PDQ; wasm_fast is also compared with the native fast hash\n');
const pdqColumns = columns.filter(
  (c) => (c.startsWith('cib') || c.startsWith('idec') || c === 'wasm_fast') && !c.endsWith('+subtle'),
);
const head2 = ['file', 'native_fast', ...pdqColumns, 'idec_1/b as pixels', 'wasm_fast vs native_fast'];
console.log(`| ${head2.join(' | ')} |`);
console.log(`|${head2.map(() => '---').join('|')}|`);
const platformDistances = {};
for (const [i, f] of files.entries()) {
  const ref = nativeInfo[i].pdq_reference;
  const m = browserSamples.get(f.name);
  const cells = pdqColumns.map((c) => {
    const name = [...m.keys()].find((k) => generic(k) === c);
    const r = name && m.get(name).result;
    const d = distance(r?.pdq, ref);
    if (d !== undefined) (platformDistances[c] ??= []).push(d);
    // A decode the platform rotated (EXIF orientation) matches through a dihedral variant.
    const dihedral = r?.pdqDihedral && d > 31 ? `, dihedral ${Math.min(...r.pdqDihedral.map((h) => distance(h, ref)))}` : '';
    return r?.error ? 'error' : d === undefined ? '-' : `${d}${r.width ? ` (${r.width}x${r.height}${dihedral})` : ''}`;
  });
  const idec = [...m.entries()].find(([k]) => k.startsWith('idec_1/'))?.[1]?.result;
  const asPixels = distance(idec?.pdqAsPixels, ref);
  const wasmFast = m.get('wasm_fast')?.result?.pdq;
  console.log(
    `| ${f.name} | ${distance(nativeInfo[i].pdq_fast, ref)} | ${cells.join(' | ')} | ${asPixels ?? '-'} | ${distance(wasmFast, nativeInfo[i].pdq_fast)} |`,
  );
}

console.log('\nDetails of the first run (formats, colour spaces, orientation):');
for (const f of files) {
  const m = browserSamples.get(f.name);
  for (const [k, s] of m) {
    const r = s.result;
    if (r?.error) console.log(`  ${f.name} ${k}: ERROR ${r.error}`);
    else if (r?.format) console.log(`  ${f.name} ${k}: ${r.width}x${r.height} ${r.format} ${JSON.stringify(r.colorSpace)} ${r.via ?? ''}`);
  }
}

const big = files.filter((f) => f.name !== 'large-1600x1200.jpg');
if (big.length) {
  const avg = (g) => big.reduce((s, f) => s + g(f), 0) / big.length;
  const nf = avg((f) => median(nativeSamples.get(f.name).fast));
  const col = (name) => avg((f) => {
    const m = browserSamples.get(f.name);
    const k = [...m.keys()].find((x) => generic(x) === name);
    return k ? median(m.get(k).ms) : NaN;
  });
  console.log(`\n12 MP JPEGs, mean of per-file medians; target: verdict <= 1.5 x native_fast = ${fmt(1.5 * nf)} ms`);
  const candidates = {
    'wasm_fast: hashBytes, everything in WebAssembly (MD5 + SHA-1 + SHA-256 + PDQ)': col('wasm_fast'),
    'wasm_pdq+subtle: hashImage while crypto.subtle computes SHA-256 (measured)': col('wasm_pdq+subtle'),
    'idec_1/b+subtle: ImageDecoder at 1/b + pdqFromBlockMeans, SHA-256 meanwhile (measured)': col('idec_1/b+subtle'),
    'cib_1/b_low + subtle_sha256 (sum)': col('cib_1/b_low') + col('subtle_sha256'),
  };
  for (const [k, v] of Object.entries(candidates)) console.log(`  ${fmt(v)} ms = ${(v / nf).toFixed(2)} x native_fast  ${k}`);
  console.log(`  native_fast ${fmt(nf)} ms; native_all ${fmt(avg((f) => median(nativeSamples.get(f.name).all)))} ms`);
}

for (const f of files) {
  const c = cli(f);
  if (c) {
    const i = files.indexOf(f);
    const same = c.pdq === nativeInfo[i].pdq_fast ? 'same PDQ as native_fast' : `PDQ DIFFERS: ${c.pdq}`;
    console.log(`CLI ${basename(f.path)}: ${fmt(c.ms)} ms wall incl. process start, ${same}`);
  }
}
