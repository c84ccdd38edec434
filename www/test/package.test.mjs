// Tests the built package as users get it (run `cargo xtask wasm` and `npm run build:ts`
// first): every wasm-pack output of wasm-pack.toml, through the entry points package.json
// exports, on the shared fixtures and their expected.csv.
//
//   node --test test/*.test.mjs

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const www = fileURLToPath(new URL('..', import.meta.url));
const fixtures = new URL('../../tests/fixtures/', import.meta.url);
const fixture = (name) => readFileSync(new URL(name, fixtures));

/** expected.csv as objects keyed by column name. */
const rows = (() => {
  const lines = readFileSync(new URL('expected.csv', fixtures), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  const header = lines[0].split(',');
  return lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
})();

/** Checks one API (an entry point's exports) against every row, both modes. */
function checkRows(api, { fastPathOnly = false } = {}) {
  const formats = api.formats();
  for (const row of rows) {
    const bytes = fixture(row.file);
    const exact = api.exactHashes(bytes);
    assert.deepEqual(exact, { bytes: Number(row.bytes), md5: row.md5, sha1: row.sha1, sha256: row.sha256 }, row.file);
    for (const mode of ['fast', 'reference']) {
      const r = api.hashBytes(bytes, { mode });
      const label = `${row.file} ${mode}`;
      assert.equal(r.sha256, row.sha256, label);
      assert.equal(r.md5, row.md5, label);
      assert.equal(r.bytes, Number(row.bytes), label);
      const format = api.sniffFormat(bytes);
      // Without the JPEG decoder, JPEGs large enough for the fast path still hash in fast mode.
      const fast = fastPathOnly && format === 'jpeg' && mode === 'fast' && Math.min(row.width, row.height) >= 385;
      if (!formats.includes(format) && !fast) {
        assert.equal(r.errorKind, 'unsupported', `${label}: ${r.error}`);
        assert.match(r.error, /not in this build/, label);
        assert.equal(r.pdq, undefined, label);
        continue;
      }
      assert.equal(r.error, undefined, `${label}: ${r.error}`);
      assert.equal(r.format, format, label);
      assert.equal(r.width, Number(row.width), label);
      assert.equal(r.height, Number(row.height), label);
      assert.equal(r.pdq, mode === 'fast' ? row.pdq_fast : row.pdq_reference, label);
      assert.equal(r.quality, Number(mode === 'fast' ? row.quality_fast : row.quality_reference), label);
      const { format: f, width, height, pdq, quality } = r;
      assert.deepEqual(api.hashImage(bytes, { mode }), { format: f, width, height, pdq, quality }, label);
    }
  }
}

/** Errors, limits and the pixel entry points. */
function checkErrors(api) {
  const truncated = api.hashBytes(fixture('truncated.jpg'));
  if (api.formats().includes('jpeg')) {
    assert.equal(truncated.errorKind, 'bad_input');
    assert.match(truncated.error, /truncated/);
  } else {
    // Too small for the fast path: it needs the decoder this build lacks.
    assert.equal(truncated.errorKind, 'unsupported');
  }
  assert.equal(truncated.sha256, 'dd9e3c7a9350591bc54bd2add1edc8a883e8e7bb510498682218c8990e2836bb');

  assert.throws(
    () => api.hashImage(fixture('not-an-image.jpg')),
    (e) => e.name === 'SchoonError' && e.kind === 'bad_input' && /unknown signature/.test(e.message),
  );
  const text = api.hashBytes(fixture('not-an-image.jpg'), { mode: 'reference' });
  assert.equal(text.errorKind, 'bad_input');
  assert.equal(text.error, 'not a supported image: unknown signature 7468697320697320');

  const limited = api.hashBytes(fixture('large-1600x1200.jpg'), { maxPixels: 1_000_000 });
  assert.equal(limited.errorKind, 'limit');
  assert.equal(limited.error, 'pixel count 1920000 exceeds the limit of 1000000');

  for (const bad of [{ mode: 'slow' }, { maxPixel: 1 }, { maxWidth: -1 }, 'fast']) {
    assert.throws(
      () => api.hashBytes(fixture('flat-grey.png'), bad),
      (e) => e instanceof Error && e.name === 'SchoonError' && e.kind === 'caller',
      JSON.stringify(bad),
    );
  }

  // A flat 64x64 canvas, as getImageData returns it: RGBA in a Uint8ClampedArray.
  const flat = rows.find((r) => r.file === 'flat-grey.png');
  const rgba = new Uint8ClampedArray(64 * 64 * 4).fill(128);
  const p = api.pdqFromPixels(rgba, 64, 64, 4);
  assert.equal(p.pdq, flat.pdq_reference);
  assert.equal(p.quality, Number(flat.quality_reference));
  assert.equal(p.pdqDihedral.length, 8);
  assert.throws(() => api.pdqFromPixels(rgba, 64, 65, 4), (e) => e.kind === 'caller' && /64x65x4/.test(e.message));

  const plane = new Float32Array(16 * 12).fill(128);
  assert.equal(api.pdqFromBlockMeans(plane, 8, 8, 128, 96).quality, 0);
  assert.throws(() => api.pdqFromBlockMeans(plane, 8, 8, 256, 96), (e) => e.kind === 'caller');
}

const wasmOf = (dir) => readFileSync(new URL(`../pkg/${dir}/schoon_bg.wasm`, import.meta.url));

test('node entry point (pkg/node, through the package exports)', async () => {
  const api = await import('schoon');
  assert.equal(api.isReady(), true);
  await api.init();
  assert.deepEqual(api.formats(), ['jpeg', 'png', 'webp', 'gif']);
  checkRows(api);
  checkErrors(api);
  const viaBlob = await api.hash(new Blob([fixture('scene.gif')]), { dihedral: true });
  assert.equal(viaBlob.pdqDihedral.length, 8);
});

test('browser entry point (pkg/web) instantiated from bytes', async () => {
  const api = await import('../dist/index.js');
  assert.equal(api.isReady(), false);
  assert.throws(() => api.version(), (e) => e.name === 'SchoonError' && /init\(\)/.test(e.message));
  await api.init(wasmOf('web'));
  assert.equal(api.isReady(), true);
  checkRows(api);
  checkErrors(api);
});

test('platform entry point (pkg/web-platform): no decoders, JPEG fast path', async () => {
  const api = await import('../dist/platform.js');
  api.initSync(wasmOf('web-platform'));
  assert.deepEqual(api.formats(), []);
  checkRows(api, { fastPathOnly: true });
  checkErrors(api);
});

test('full entry point (pkg/web-full): every decoder', async () => {
  const api = await import('../dist/full.js');
  api.initSync(wasmOf('web-full'));
  assert.deepEqual(api.formats(), ['jpeg', 'png', 'webp', 'gif']);
  checkRows(api);
  checkErrors(api);
});

test('bundler entry point (pkg/bundler) with WebAssembly ES-module integration', () => {
  const script = `
    import { hashBytes, formats } from 'schoon/bundler';
    import { readFileSync } from 'node:fs';
    const r = hashBytes(readFileSync(${JSON.stringify(fileURLToPath(new URL('scene-palette.png', fixtures)))}), { mode: 'reference' });
    console.log(JSON.stringify({ formats: formats(), pdq: r.pdq, sha256: r.sha256 }));`;
  const out = execFileSync(process.execPath, ['--experimental-wasm-modules', '--no-warnings', '--input-type=module', '-e', script], {
    cwd: www,
    encoding: 'utf8',
  });
  const row = rows.find((r) => r.file === 'scene-palette.png');
  assert.deepEqual(JSON.parse(out), {
    formats: ['jpeg', 'png'],
    pdq: row.pdq_reference,
    sha256: row.sha256,
  });
});

test('package.json ships every wasm-pack output it points at', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  for (const dir of readdirSync(new URL('../pkg/', import.meta.url))) {
    assert.ok(pkg.files.includes(`pkg/${dir}/`), `pkg/${dir}/ not in files`);
    for (const f of ['schoon.js', 'schoon.d.ts', 'schoon_bg.wasm']) {
      readFileSync(new URL(`../pkg/${dir}/${f}`, import.meta.url));
    }
  }
});
