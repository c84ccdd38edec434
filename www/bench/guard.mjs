// The guard's figures (prints, asserts nothing):
//
//   node bench/guard.mjs        (after `cargo xtask wasm` and `npm run build:ts`; builds the
//                                 native CLI with `cargo build --release -p schoon-cli` if missing)
//
// 1. Sizes: every WebAssembly build (gzip -9, as `cargo xtask wasm check` measures) and the
//    JavaScript the guard loads.
// 2. 12 MP JPEG to verdict: `guard.check(blob)` in headless Chromium (main-thread wall time from
//    the call to the answer; hashing in the guard's worker), against the native fast path in
//    the same run, interleaved (`cargo xtask wasm native-bench`: SHA-256 + PDQ fast, and
//    MD5 + SHA-1 + SHA-256 + PDQ, in-process, one thread). Files: the four 4032x3024 JPEGs of
//    the shared corpus, read where they are (never copied; skipped with a message if absent;
//    SCHOON_CORPUS overrides the corpus root). Two filters: one holding SHA-256 and PDQ (what
//    the native fast path computes) and the demo filter (MD5, SHA-1, SHA-256, PDQ).
// 3. 12 MP PNG and WebP made in the page (procedural), per decoder mode.
// 4. A 10 MB filter (built with `schoon build` from generated hash lists): download and
//    verify in the guard's worker.
//
// BENCH_RUNS (default 5) runs per round, BENCH_ROUNDS (default 3) rounds.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

import { launch } from '../scripts/chromium.mjs';
import { startDemo } from '../demo/server.mjs';

const www = fileURLToPath(new URL('..', import.meta.url));
const root = join(www, '..');
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target/wasm');
const env = { ...process.env, CARGO_TARGET_DIR: targetDir };
const corpus = join(process.env.SCHOON_CORPUS ?? join(root, '..', 'shared', 'corpus'), 'pdq-reference/reg-test-input/exif-rotn');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const work = mkdtempSync(join(tmpdir(), 'schoon-guard-bench-'));

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : NaN;
};
const fmt = (x) => (x === undefined || Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(1) : x.toFixed(0));

// ---- 1. sizes -------------------------------------------------------------------------------
console.log('## WebAssembly and JavaScript sizes (gzip -9)\n');
const check = execFileSync('cargo', ['xtask', 'wasm', 'check'], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
console.log(check.split('\n').filter((l) => /^(out-dir|www\/pkg)/.test(l)).join('\n'));
const gz = (files) => files.reduce((n, f) => n + gzipSync(readFileSync(join(www, f)), { level: 9 }).length, 0);
const guardJs = ['dist/index.js', 'dist/api.js', 'dist/client.js', 'dist/job-queue.js', 'dist/guard.js', 'dist/protect.js', 'dist/options.js', 'dist/element.js', 'dist/guard-worker.js', 'dist/guard-state.js', 'dist/guard-errors.js', 'dist/guard-engine.js', 'dist/guard-filter.js', 'dist/guard-split.js', 'dist/guard-pdq.js', 'dist/guard-confirm.js', 'dist/guard-check.js', 'dist/filter-store.js', 'dist/platform-decode.js', 'dist/modules.js', 'dist/tail-worker.js', 'dist/digest.js', 'dist/rpc.js', 'pkg/web/schoon.js'];
const wasmGz = (dir) => gzipSync(readFileSync(join(www, `pkg/${dir}/schoon_bg.wasm`)), { level: 9 }).length;
console.log(`\nthe guard's JavaScript (dist + glue, ${guardJs.length} files, gzip each): ${gz(guardJs)} bytes`);
console.log(`what a page downloads for the guard (default decoder 'auto'): ${wasmGz('web') + gz(guardJs)} bytes gzip (wasm ${wasmGz('web')})`);
console.log(`with decoder 'platform': ${wasmGz('web-platform') + gz(guardJs)} bytes gzip (wasm ${wasmGz('web-platform')})\n`);

// ---- native CLI and sets --------------------------------------------------------------------
const cli = join(targetDir, 'release/schoon');
if (!existsSync(cli)) {
  console.log('building the native CLI (cargo build --release -p schoon-cli)…');
  execFileSync('cargo', ['build', '--release', '-p', 'schoon-cli'], { cwd: root, env, stdio: 'inherit' });
}
const key = join(work, 'bench.key');
execFileSync(cli, ['keygen', '--out', key], { stdio: 'ignore' });
const publicKey = readFileSync(`${key}.pub`, 'utf8');

/** Writes `n` random hex hashes of `bytes` bytes, one per line. */
async function hexLines(path, n, bytes) {
  const out = createWriteStream(path);
  const chunk = 10_000;
  for (let i = 0; i < n; i += chunk) {
    const lines = [];
    for (let k = 0; k < Math.min(chunk, n - i); k++) lines.push(randomBytes(bytes).toString('hex'));
    if (!out.write(`${lines.join('\n')}\n`)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
}

function build(name, lists) {
  const t = performance.now();
  execFileSync(cli, ['build', ...lists, '--name', name, '--signing-key', key, '--out-index', join(work, `${name}.index`), '--out-filter', join(work, `${name}.filter`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { ms: performance.now() - t, bytes: statSync(join(work, `${name}.filter`)).size };
}

// A filter of SHA-256 and PDQ entries (what the native fast path computes).
await hexLines(join(work, 'sha256.txt'), 100_000, 32);
await hexLines(join(work, 'pdq.txt'), 10_000, 32);
build('verdict', ['--sha256', join(work, 'sha256.txt'), '--pdq', join(work, 'pdq.txt')]);
// About 10 MB: 3 M MD5 keys and 120 k PDQ hashes (8 band keys each).
await hexLines(join(work, 'big-md5.txt'), 3_000_000, 16);
await hexLines(join(work, 'big-pdq.txt'), 120_000, 32);
const big = build('big', ['--md5', join(work, 'big-md5.txt'), '--pdq', join(work, 'big-pdq.txt')]);
console.log(`10 MB filter: ${big.bytes} bytes (3 M MD5 + 120 k PDQ), built by \`schoon build\` in ${fmt(big.ms)} ms\n`);
const demoKey = readFileSync(join(root, 'crates/schoon-cli/assets/default.pub'), 'utf8');
writeFileSync(join(work, 'demo.filter'), readFileSync(join(root, 'crates/schoon-cli/assets/default.filter')));

// ---- files ----------------------------------------------------------------------------------
const files = [];
if (existsSync(corpus)) {
  for (const f of readdirSync(corpus).filter((f) => f.endsWith('.jpg')).sort()) {
    files.push({ name: f, path: join(corpus, f), url: `/corpus/${f}` });
  }
} else {
  console.log(`corpus not found at ${corpus}: the 12 MP JPEG figures are skipped`);
}

const demo = await startDemo({
  quiet: true,
  mounts: { '/test/': join(www, 'test'), '/sets/': work, ...(files.length ? { '/corpus/': corpus } : {}) },
});
const browser = await launch();
const page = browser.page;
try {
  await page.goto(`${demo.url}/test/blank.html`);
  const ua = await page.evaluate(() => navigator.userAgent);
  console.log(`Chromium: ${ua}; ${ROUNDS} rounds x ${RUNS} runs, interleaved with the native side\n`);
  await page.evaluate(async () => {
    const m = await import('/dist/index.js');
    window.guards = new Map();
    window.guardFor = async (name, options) => {
      if (!window.guards.has(name)) {
        const g = m.createGuard({ filterCache: 'none', ...options });
        const status = await g.filter();
        if (status.state !== 'ready') throw new Error(`${name}: ${status.error.message}`);
        window.guards.set(name, g);
      }
      return window.guards.get(name);
    };
    window.blobs = new Map();
    window.timeChecks = async (name, urls, runs) => {
      const g = window.guards.get(name);
      const out = {};
      for (const url of urls) {
        const blob = window.blobs.get(url) ?? (await (await fetch(url)).blob());
        window.blobs.set(url, blob);
        out[url] = { wall: [], total: [], pdq: [], exact: [], read: [], verdict: null, decoder: null };
        for (let r = 0; r < runs; r++) {
          const t = performance.now();
          const res = await g.check(blob);
          out[url].wall.push(performance.now() - t);
          for (const k of ['total', 'pdq', 'exact', 'read']) out[url][k].push(res.timings[k]);
          out[url].verdict = res.verdict;
          out[url].decoder = res.hashes?.decoder;
        }
      }
      return out;
    };
  });

  // Procedural 12 MP PNG and WebP (and a JPEG), made by the browser, written for the native side.
  const generated = await page.evaluate(async () => {
    const worker = new Worker('/test/gen-worker.js');
    const make = (spec) => new Promise((resolve, reject) => {
      worker.onmessage = (e) => (e.data.blob ? resolve(e.data.blob) : reject(new Error(e.data.error)));
      worker.postMessage({ id: 1, ...spec });
    });
    const out = [];
    for (const [type, ext] of [['image/png', 'png'], ['image/webp', 'webp']]) {
      const blob = await make({ seed: 77, width: 4032, height: 3024, type, quality: 0.9 });
      const url = URL.createObjectURL(blob);
      window.blobs.set(url, blob);
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let binary = '';
      for (let k = 0; k < bytes.length; k += 0x8000) binary += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
      out.push({ name: `generated-12mp.${ext}`, url, base64: btoa(binary) });
    }
    worker.terminate();
    return out;
  });
  const extra = generated.map((g) => {
    const path = join(work, g.name);
    writeFileSync(path, Buffer.from(g.base64, 'base64'));
    return { name: g.name, path, url: g.url };
  });

  const all = [...files, ...extra];
  const configs = [
    { name: 'sha256+pdq', options: { filterUrl: '/sets/verdict.filter', publicKey }, files },
    { name: 'all kinds', options: { filterUrl: '/sets/demo.filter', publicKey: demoKey }, files },
    { name: 'platform', options: { filterUrl: '/sets/verdict.filter', publicKey, decoder: 'platform' }, files: all },
    { name: 'wasm', options: { filterUrl: '/sets/verdict.filter', publicKey, decoder: 'wasm' }, files: all },
    { name: 'auto', options: { filterUrl: '/sets/verdict.filter', publicKey }, files: extra },
  ];
  for (const c of configs) await page.evaluate(([n, o]) => window.guardFor(n, o), [c.name, c.options]);

  const native = () =>
    execFileSync('cargo', ['xtask', 'wasm', 'native-bench', String(RUNS), ...all.map((f) => f.path)], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  native(); // warm-up
  for (const c of configs) await page.evaluate(([n, urls]) => window.timeChecks(n, urls, 1), [c.name, c.files.map((f) => f.url)]);

  const nat = new Map(); // file -> { fast: [], all: [] }
  const web = new Map(); // config -> url -> samples
  for (let round = 0; round < ROUNDS; round++) {
    native().forEach((row, i) => {
      const s = nat.get(all[i].name) ?? { fast: [], all: [] };
      s.fast.push(row.ms_sha256_fast);
      s.all.push(row.ms_hash_bytes_fast);
      nat.set(all[i].name, s);
    });
    // Rotate the order every round so that no configuration always runs first after the
    // native side (caches, CPU frequency, GC); one untimed run warms each configuration.
    for (let i = 0; i < configs.length; i++) {
      const c = configs[(i + round) % configs.length];
      await page.evaluate(([n, urls]) => window.timeChecks(n, urls, 1), [c.name, c.files.map((f) => f.url)]);
      const got = await page.evaluate(([n, urls, runs]) => window.timeChecks(n, urls, runs), [c.name, c.files.map((f) => f.url), RUNS]);
      const m = web.get(c.name) ?? new Map();
      for (const [url, s] of Object.entries(got)) {
        const prev = m.get(url) ?? { wall: [], total: [], pdq: [], exact: [], read: [] };
        for (const k of ['wall', 'total', 'pdq', 'exact', 'read']) prev[k].push(...s[k]);
        Object.assign(prev, { verdict: s.verdict, decoder: s.decoder });
        m.set(url, prev);
      }
      web.set(c.name, m);
    }
  }

  console.log('## File to verdict, median ms (browser: guard.check wall time on the page; worker: read / PDQ / exact)\n');
  console.log('| file | filter / decoder | browser | worker read / pdq / exact | native SHA-256+PDQ | native all | ratio to native (same hashes) | verdict, decoded by |');
  console.log('|---|---|---|---|---|---|---|---|');
  const ratios = { 'sha256+pdq': [], 'all kinds': [] };
  for (const c of configs) {
    for (const f of c.files) {
      const s = web.get(c.name).get(f.url);
      const n = nat.get(f.name);
      const w = median(s.wall);
      const ref = c.name === 'all kinds' ? median(n.all) : median(n.fast);
      if (ratios[c.name] && files.includes(f)) ratios[c.name].push(w / ref);
      console.log(`| ${f.name} | ${c.name} | ${fmt(w)} | ${fmt(median(s.read))} / ${fmt(median(s.pdq))} / ${fmt(median(s.exact))} | ${fmt(median(n.fast))} | ${fmt(median(n.all))} | ${(w / ref).toFixed(2)} | ${s.verdict}, ${s.decoder} |`);
    }
  }
  if (files.length) {
    const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
    console.log(`\n12 MP JPEGs, mean of per-file ratios (target <= 1.5): SHA-256+PDQ filter vs native SHA-256+PDQ ${mean(ratios['sha256+pdq']).toFixed(2)}x; demo filter (MD5, SHA-1, SHA-256, PDQ) vs native all four ${mean(ratios['all kinds']).toFixed(2)}x`);
    for (const f of files) {
      const t = performance.now();
      execFileSync(cli, ['scan', '--filter', join(work, 'verdict.filter'), '--public-key', `${key}.pub`, '-j', '1', f.path], { stdio: 'ignore' });
      console.log(`  CLI \`schoon scan --filter\` ${f.name}: ${fmt(performance.now() - t)} ms wall, including process start and filter load`);
    }
  }

  // ---- 4. the 10 MB filter ----------------------------------------------------------------
  const loads = await page.evaluate(async (publicKey) => {
    const m = await import('/dist/index.js');
    const out = [];
    for (let i = 0; i < 5; i++) {
      const g = m.createGuard({ filterUrl: '/sets/big.filter', publicKey, filterCache: 'none' });
      const t = performance.now();
      const s = await g.filter();
      out.push({ wall: performance.now() - t, verify: s.loadMs, state: s.state, bytes: s.bytes });
      g.close();
    }
    // The same bytes verified on the page's thread, for comparison.
    const bytes = new Uint8Array(await (await fetch('/sets/big.filter')).arrayBuffer());
    await m.init();
    const main = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      m.loadFilter(bytes, { publicKey }).free();
      main.push(performance.now() - t);
    }
    return { out, main };
  }, publicKey);
  console.log(`\n## 10 MB filter (${loads.out[0].bytes} bytes), median of 5`);
  console.log(`  new guard to verified filter (worker start, module, download from 127.0.0.1, verify): ${fmt(median(loads.out.map((l) => l.wall)))} ms`);
  console.log(`  of which verifying (SHA-256 of the file + Ed25519) in the worker: ${fmt(median(loads.out.map((l) => l.verify)))} ms; on the page's thread: ${fmt(median(loads.main))} ms`);
  const t = performance.now();
  execFileSync(cli, ['inspect', join(work, 'big.filter'), '--public-key', `${key}.pub`], { stdio: 'ignore' });
  console.log(`  native \`schoon inspect\` (verify, wall incl. process start): ${fmt(performance.now() - t)} ms`);
} finally {
  await browser.close();
  await demo.close();
  rmSync(work, { recursive: true, force: true });
}
