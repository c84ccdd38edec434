// The browser entry point and `HashWorker` in headless Chromium (playwright-core, system
// Chromium): default `init()` (fetches the .wasm next to the glue), hashing on the main thread
// and in the worker against expected.csv, errors across postMessage, and cancellation.
// Skipped when Chromium is not installed.
//
//   node --test test/*.test.mjs

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { CHROMIUM, launch } from '../scripts/chromium.mjs';
import { serve } from '../scripts/serve.mjs';

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;
const www = fileURLToPath(new URL('..', import.meta.url));
const fixtures = fileURLToPath(new URL('../../tests/fixtures/', import.meta.url));

const rows = (() => {
  const lines = readFileSync(`${fixtures}/expected.csv`, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  const header = lines[0].split(',');
  return lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
})();

let server;
let browser;

before(async () => {
  if (skip) return;
  server = await serve({ '/': www, '/fixtures/': fixtures });
  browser = await launch();
  await browser.page.goto(`${server.url}/test/blank.html`);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Runs `fn(rows)` in the page with the module imported as `m`. */
const inPage = (fn, arg) =>
  browser.page.evaluate(
    async ([source, arg]) => {
      const m = await import('/dist/index.js');
      // eslint-disable-next-line no-new-func
      return new Function('m', 'arg', `return (${source})(m, arg);`)(m, arg);
    },
    [fn.toString(), arg],
  );

const expected = (row, mode) => ({
  file: row.file,
  sha256: row.sha256,
  md5: row.md5,
  pdq: row.file.endsWith('.bmp') ? undefined : mode === 'fast' ? row.pdq_fast : row.pdq_reference,
  quality: row.file.endsWith('.bmp')
    ? undefined
    : Number(mode === 'fast' ? row.quality_fast : row.quality_reference),
});

const pick = (file, r) => ({ file, sha256: r.sha256, md5: r.md5, pdq: r.pdq, quality: r.quality });

test('main thread: default init() and every fixture (schoon/full)', { skip }, async () => {
  const got = await inPage(async (m, files) => {
    m = await import('/dist/full.js');
    await m.init();
    const out = [];
    for (const file of files) {
      const bytes = new Uint8Array(await (await fetch(`/fixtures/${file}`)).arrayBuffer());
      for (const mode of ['fast', 'reference']) {
        const r = m.hashBytes(bytes, { mode });
        out.push({ file, mode, sha256: r.sha256, md5: r.md5, pdq: r.pdq, quality: r.quality });
      }
    }
    return out;
  }, rows.map((r) => r.file));
  for (const g of got) {
    const row = rows.find((r) => r.file === g.file);
    assert.deepEqual(pick(g.file, g), expected(row, g.mode), `${g.file} ${g.mode}`);
  }
});

test('the browser module decodes JPEG and PNG; WebP and GIF are left to the platform', { skip }, async () => {
  const got = await inPage(async (m) => {
    await m.init();
    const bytes = async (f) => new Uint8Array(await (await fetch(`/fixtures/${f}`)).arrayBuffer());
    const webp = m.hashBytes(await bytes('scene-lossy.webp'));
    const png = m.hashBytes(await bytes('scene-rgb.png'), { mode: 'reference' });
    return { formats: m.formats(), webp: [webp.errorKind, webp.sha256], png: png.pdq };
  });
  assert.deepEqual(got.formats, ['jpeg', 'png']);
  assert.deepEqual(got.webp, ['unsupported', rows.find((r) => r.file === 'scene-lossy.webp').sha256]);
  assert.equal(got.png, rows.find((r) => r.file === 'scene-rgb.png').pdq_reference);
});

test('HashWorker: every fixture as a Blob, off the main thread', { skip }, async () => {
  const got = await inPage(async (m, files) => {
    const hasher = new m.HashWorker({ module: 'full' });
    const out = await Promise.all(
      files.map(async (file) => {
        const blob = await (await fetch(`/fixtures/${file}`)).blob();
        const r = await hasher.hash(blob, { mode: 'reference' });
        return { file, sha256: r.sha256, md5: r.md5, pdq: r.pdq, quality: r.quality };
      }),
    );
    hasher.terminate();
    return out;
  }, rows.map((r) => r.file));
  for (const g of got) {
    const row = rows.find((r) => r.file === g.file);
    assert.deepEqual(g, expected(row, 'reference'), g.file);
  }
});

test('HashWorker: errors keep their kind; cancellation terminates and recovers', { skip }, async () => {
  const got = await inPage(async (m) => {
    const bytes = new Uint8Array(await (await fetch('/fixtures/large-1600x1200.jpg')).arrayBuffer());
    const hasher = new m.HashWorker();
    const outcome = (p) =>
      p.then(
        (r) => ({ ok: true, pdq: r.pdq }),
        (e) => ({ ok: false, name: e.name, kind: e.kind, message: e.message }),
      );

    const bad = await outcome(hasher.hash(bytes, { mode: 'bogus' }));

    // Abort the running request, and a queued one; the third still completes.
    const running = new AbortController();
    const queued = new AbortController();
    const p1 = outcome(hasher.hash(bytes, { mode: 'reference', signal: running.signal }));
    const p2 = outcome(hasher.hash(bytes, { mode: 'reference', signal: queued.signal }));
    const p3 = outcome(hasher.hash(bytes, { mode: 'reference' }));
    queued.abort();
    running.abort();
    const [r1, r2, r3] = await Promise.all([p1, p2, p3]);

    const pre = new AbortController();
    pre.abort();
    const r4 = await outcome(hasher.hash(bytes, { signal: pre.signal }));

    const p5 = outcome(hasher.exactHashes(bytes));
    hasher.terminate();
    const r5 = await p5;

    // A worker given a module compiled once on the main thread.
    const module = await WebAssembly.compileStreaming(fetch('/pkg/web/schoon_bg.wasm'));
    const second = new m.HashWorker({ wasm: module });
    const r6 = await outcome(second.hash(bytes, { mode: 'reference' }));
    second.terminate();
    return { bad, r1, r2, r3, r4, r5, r6 };
  });
  const row = rows.find((r) => r.file === 'large-1600x1200.jpg');
  assert.equal(got.bad.ok, false);
  assert.equal(got.bad.name, 'SchoonError');
  assert.equal(got.bad.kind, 'caller');
  assert.match(got.bad.message, /bogus/);
  assert.equal(got.r1.name, 'AbortError');
  assert.equal(got.r2.name, 'AbortError');
  assert.deepEqual(got.r3, { ok: true, pdq: row.pdq_reference });
  assert.equal(got.r4.name, 'AbortError');
  assert.equal(got.r5.name, 'AbortError');
  assert.deepEqual(got.r6, { ok: true, pdq: row.pdq_reference });
});

test('platform decoding (the guard for WebP, GIF, BMP) gives the core’s pixels', { skip }, async () => {
  // Lossless formats: the same pixels, so the same PDQ bits as the CLI's reference; lossy ones
  // (decoders differ in upsampling and rounding) within the fast path's budget (max 12 bits).
  const files = rows.map((r) => r.file).filter((f) => !f.startsWith('tiny') && !f.startsWith('flat'));
  const got = await inPage(async (m, files) => {
    await m.init();
    const { decodeWithPlatform, platformFormat } = await import('/dist/platform-decode.js');
    const out = [];
    for (const file of files) {
      const bytes = new Uint8Array(await (await fetch(`/fixtures/${file}`)).arrayBuffer());
      try {
        const px = await decodeWithPlatform(bytes, platformFormat(m.sniffFormat(bytes)));
        out.push({ file, pdq: m.pdqFromPixels(px.data, px.width, px.height, 4).pdq, size: [px.width, px.height] });
      } catch (e) {
        out.push({ file, error: String(e) });
      }
    }
    return out;
  }, files);
  const distance = (a, b) => {
    let d = 0;
    for (let i = 0; i < 64; i++) {
      let x = parseInt(a[i], 16) ^ parseInt(b[i], 16);
      for (; x; x &= x - 1) d++;
    }
    return d;
  };
  const report = [];
  for (const g of got) {
    const row = rows.find((r) => r.file === g.file);
    assert.equal(g.error, undefined, `${g.file}: ${g.error}`);
    assert.deepEqual(g.size, [Number(row.width), Number(row.height)], g.file);
    const d = distance(g.pdq, row.pdq_reference);
    report.push(`${g.file} ${d}`);
    const lossless = /\.(png|gif|bmp)$|lossless/.test(g.file) && !/grey16/.test(g.file);
    if (lossless) assert.equal(d, 0, `${g.file}: ${d} bits from the CLI`);
    else assert.ok(d <= 12, `${g.file}: ${d} bits from the CLI`);
  }
  console.log(`  platform-decoded pixels, bits from the CLI's reference PDQ: ${report.join(', ')}`);
});
