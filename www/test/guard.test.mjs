// The upload guard end to end, in real headless Chromium (Debian's, through playwright-core;
// no browser mocks) against the demo server (demo/server.mjs: the real filter, the real index
// through the Node package, a real upload endpoint that records what it receives).
//
//   node --test test/guard.test.mjs      (after `cargo xtask wasm` and `npm run build:ts`)
//
// Screenshots go to tests/artifacts/ (gitignored). Timings are printed, never asserted.
// Skipped when Chromium is not installed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { CHROMIUM, launchBrowser } from '../scripts/chromium.mjs';
import { startDemo } from '../demo/server.mjs';

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;
const www = fileURLToPath(new URL('..', import.meta.url));
const root = join(www, '..');
const examples = join(root, 'examples');
const artifacts = join(root, 'tests/artifacts');
const mounts = { '/test/': join(www, 'test') };

let browser;
let sets; // the test key's sets (cargo xtask wasm test-sets)

before(async () => {
  if (skip) return;
  mkdirSync(artifacts, { recursive: true });
  sets = mkdtempSync(join(tmpdir(), 'schoon-sets-'));
  execFileSync('cargo', ['xtask', 'wasm', 'test-sets', sets], {
    cwd: root,
    env: { CARGO_TARGET_DIR: join(root, 'target/wasm'), ...process.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

const set = (name) => readFileSync(join(sets, name));
const hashOf = (algo, bytes) => createHash(algo).update(bytes).digest('hex');

/** A fresh context (its own Cache API) and page; every request it makes is recorded. */
async function open(demo, query = '') {
  const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
  const seen = [];
  context.on('request', (r) => seen.push({ url: r.url(), method: r.method(), body: r.postDataBuffer() }));
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page] ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[page] ${m.text()}`);
  });
  await page.goto(`${demo.url}/${query}`);
  // Record the guard's events in the page; helpers for the tests: an image made by
  // test/gen-worker.js, and a file's one-pass hashes from the module on the page.
  await page.evaluate(() => {
    window.generate = (spec) => {
      const worker = new Worker('/test/gen-worker.js');
      return new Promise((resolve, reject) => {
        worker.onmessage = (e) => (e.data.blob ? resolve(e.data.blob) : reject(new Error(e.data.error)));
        worker.postMessage({ id: 1, ...spec });
      }).finally(() => worker.terminate());
    };
    window.onePass = async (blob) => {
      const m = await import('/dist/index.js');
      await m.init();
      const bytes = new Uint8Array(await blob.arrayBuffer());
      return { ...m.hashImage(bytes, { mode: 'fast', dihedral: true }), ...m.exactHashes(bytes) };
    };
    window.events = [];
    for (const type of ['schoon:checking', 'schoon:clean', 'schoon:blocked', 'schoon:error']) {
      document.addEventListener(type, (e) => window.events.push({ type, file: e.detail.file.name, verdict: e.detail.result?.verdict, result: e.detail.result ?? null }));
    }
  });
  return { context, page, seen };
}

/** Chooses files in the form's input as a user would, and waits for their verdicts. */
async function choose(page, chosen) {
  const files = [chosen].flat();
  const before = await page.evaluate(() => window.events.filter((e) => e.result).length);
  await page.setInputFiles('#photo', files);
  await page.waitForFunction((n) => window.events.filter((e) => e.result).length >= n, before + files.length, { timeout: 30_000 });
  return page.evaluate((n) => window.events.filter((e) => e.result).slice(n), before);
}

const uploadsOf = (demo) => demo.requests.filter((r) => r.method === 'POST' && r.url.startsWith('/upload'));
const confirmsOf = (demo) => demo.requests.filter((r) => r.method === 'POST' && r.url.startsWith('/v1/confirm'));

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `guard-${name}.png`), fullPage: true });
}

describe('upload guard in Chromium', { skip }, () => {
  let demo;
  before(async () => {
    demo = await startDemo({ quiet: true, mounts });
  });
  after(async () => demo?.close());

  test('a listed image is blocked, accessibly, and no upload request is sent', async () => {
    const { context, page } = await open(demo);
    const status = page.locator('.schoon-status');
    // The live region exists (and takes its space) before anything is chosen.
    assert.equal(await status.getAttribute('role'), 'status');
    assert.equal(await status.getAttribute('aria-live'), 'polite');
    const describedBy = await page.getAttribute('#photo', 'aria-describedby');
    assert.ok(describedBy.split(' ').includes(await status.getAttribute('id')));
    const buttonBefore = await page.locator('#submit').boundingBox();
    await page.evaluate(() => {
      // Shifts of anything in the form (the demo's log below it grows by design).
      window.shifts = [];
      const form = document.getElementById('upload');
      new PerformanceObserver((l) => {
        for (const e of l.getEntries()) {
          for (const s of e.sources ?? []) if (s.node && form.contains(s.node)) window.shifts.push(s.node.nodeName);
        }
      }).observe({ type: 'layout-shift' });
    });

    const [event] = await choose(page, join(examples, 'listed/known-1.jpg'));
    assert.equal(event.type, 'schoon:blocked');
    assert.equal(event.result.verdict, 'blocked');
    assert.equal(event.result.allowed, false);
    assert.equal(event.result.confirmed, true);
    assert.deepEqual(event.result.matches.map((m) => m.kind).sort(), ['md5', 'pdq', 'sha1', 'sha256']);
    assert.ok(event.result.matches.every((m) => m.list === 'schoon-demo' && m.distance === 0));
    const types = await page.evaluate(() => window.events.map((e) => e.type));
    assert.deepEqual(types, ['schoon:checking', 'schoon:blocked']);

    // The file is gone from the input, which is marked and described by an assertive message.
    assert.equal(await page.evaluate(() => document.getElementById('photo').files.length), 0);
    assert.equal(await page.getAttribute('#photo', 'aria-invalid'), 'true');
    assert.equal(await status.getAttribute('aria-live'), 'assertive');
    assert.match(await status.textContent(), /known-1\.jpg cannot be uploaded/);
    // No layout jank: the message appeared in reserved space.
    assert.deepEqual(await page.locator('#submit').boundingBox(), buttonBefore);
    assert.deepEqual(await page.evaluate(() => window.shifts), []);
    await shot(page, 'blocked');

    // Submitting is refused and moves focus to the input.
    await page.click('#submit');
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'photo');
    assert.equal(page.url(), `${demo.url}/`);
    assert.equal(uploadsOf(demo).length, 0);

    // The confirmation carried hashes only.
    const [c] = confirmsOf(demo).slice(-1);
    const sent = JSON.parse(c.body.toString('utf8'));
    assert.deepEqual(Object.keys(sent).sort(), ['md5', 'pdq', 'pdq_dihedral', 'quality', 'sha1', 'sha256']);
    assert.ok(c.body.length < 2000);
    await context.close();
  });

  test('submitting while the check runs waits for it, then refuses a listed image', async () => {
    const { context, page } = await open(demo);
    const uploads = uploadsOf(demo).length;
    await page.setInputFiles('#photo', join(examples, 'listed/known-2.jpg'));
    await page.click('#submit'); // at once, while the worker is still starting and checking
    await page.waitForFunction(() => window.events.some((e) => e.type === 'schoon:blocked'), null, { timeout: 30_000 });
    await page.waitForTimeout(300);
    assert.equal(page.url(), `${demo.url}/`);
    assert.equal(uploadsOf(demo).length, uploads);
    await context.close();
  });

  for (const decoder of ['auto', 'wasm', 'platform']) {
    test(`edited copies are blocked (decoder: ${decoder})`, async () => {
      const { context, page } = await open(demo, `?decoder=${decoder}`);
      const files = readdirSync(join(examples, 'edited')).sort();
      const results = [];
      for (const f of files) {
        const [event] = await choose(page, join(examples, 'edited', f));
        results.push({ file: f, verdict: event.result.verdict, decoder: event.result.hashes?.decoder, matches: event.result.matches });
      }
      for (const r of results) {
        // Every edited copy, the crop and the caption through region hashes, as the CLI says.
        assert.equal(r.verdict, 'blocked', JSON.stringify(r));
        assert.ok(r.matches.some((m) => m.kind === 'pdq' && m.distance <= 31), JSON.stringify(r));
        if (r.file.includes('cropped') || r.file.includes('captioned')) {
          assert.ok(r.matches.some((m) => m.region), JSON.stringify(r));
        }
      }
      const webp = results.find((r) => r.file.endsWith('.webp'));
      assert.equal(webp.decoder, decoder === 'wasm' ? 'wasm' : 'platform');
      console.log(`  ${decoder}: ${results.map((r) => `${r.file} ${r.verdict} (${r.decoder}${r.matches ? `, ${r.matches.map((m) => `${m.kind}:${m.distance}${m.variant ? `/${m.variant}` : ''}`).join(' ')}` : ''})`).join('; ')}`);
      if (decoder === 'auto') await shot(page, 'edited');
      assert.equal(uploadsOf(demo).filter((u) => u.body.includes(Buffer.from('known-'))).length, 0);
      await context.close();
    });
  }

  test('regions: false checks whole images only: the caption passes, and no windows are sent', async () => {
    const { context, page } = await open(demo, '?regions=0');
    const [caption] = await choose(page, join(examples, 'edited/known-1-captioned.jpg'));
    assert.equal(caption.result.verdict, 'clean', JSON.stringify(caption.result));
    assert.equal(caption.result.hashes.windows, undefined);
    const [mirrored] = await choose(page, join(examples, 'edited/known-3-mirrored.jpg'));
    assert.equal(mirrored.result.verdict, 'blocked', JSON.stringify(mirrored.result));
    await context.close();
  });

  test('an innocent image is allowed and uploaded; no request carries its hashes', async () => {
    const { context, page, seen } = await open(demo);
    const path = join(examples, 'innocent/scene-1.jpg');
    const bytes = readFileSync(path);
    const confirms = confirmsOf(demo).length;
    const [event] = await choose(page, path);
    assert.equal(event.type, 'schoon:clean');
    assert.equal(event.result.allowed, true);
    assert.equal(event.result.confirmed, false);
    assert.equal(await page.evaluate(() => document.getElementById('photo').files.length), 1);
    assert.equal(await page.getAttribute('#photo', 'aria-invalid'), null);
    await shot(page, 'clean');
    await Promise.all([page.waitForURL(`${demo.url}/upload`), page.click('#submit')]);
    assert.match(await page.locator('#received').textContent(), /scene-1\.jpg \(\d+ bytes\)/);
    await shot(page, 'uploaded');

    const upload = demo.uploads.at(-1);
    assert.equal(upload.files[0].sha256, hashOf('sha256', bytes));
    assert.equal(confirmsOf(demo).length, confirms);
    const hashes = [hashOf('md5', bytes), hashOf('sha1', bytes), hashOf('sha256', bytes), event.result.hashes.pdq];
    for (const r of seen) {
      const text = `${r.url} ${r.body ? r.body.toString('latin1') : ''}`.toLowerCase();
      for (const h of hashes) assert.ok(!text.includes(h), `${r.method} ${r.url} carries ${h}`);
    }
    await context.close();
  });

  test('an element: <schoon-upload> protects the inputs inside it', async () => {
    const { context, page } = await open(demo);
    await page.evaluate(async () => {
      const m = await import('/dist/index.js');
      const config = (await import('/demo/config.js')).default;
      m.defineSchoonUpload();
      const el = document.createElement('schoon-upload');
      el.setAttribute('filter-url', config.filterUrl);
      el.setAttribute('public-key', config.publicKey);
      el.setAttribute('confirm-url', config.confirmUrl);
      el.innerHTML = '<label>Avatar <input type="file" id="avatar"></label>';
      document.querySelector('main').append(el);
    });
    await page.setInputFiles('#avatar', join(examples, 'edited/known-3-mirrored.jpg'));
    await page.waitForFunction(() => window.events.some((e) => e.type === 'schoon:blocked' && e.file === 'known-3-mirrored.jpg'), null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => document.getElementById('avatar').files.length), 0);
    await context.close();
  });

  test('abort: a cancelled check rejects with AbortError and the next one still works', async () => {
    const { context, page } = await open(demo);
    const out = await page.evaluate(async () => {
      const guard = window.schoonGuard;
      const blob = await (await fetch('/examples/listed/known-3.jpg')).blob();
      const c = new AbortController();
      const p = guard.check(blob, { signal: c.signal });
      c.abort();
      const first = await p.then((r) => r.verdict, (e) => e.name);
      const pre = new AbortController();
      pre.abort();
      const second = await guard.check(blob, { signal: pre.signal }).then((r) => r.verdict, (e) => e.name);
      const third = (await guard.check(blob)).verdict;
      return { first, second, third };
    });
    assert.deepEqual(out, { first: 'AbortError', second: 'AbortError', third: 'blocked' });
    await context.close();
  });
});

describe('filter integrity in Chromium', { skip }, () => {
  const innocent = join(examples, 'innocent/scene-2.png');

  test('a tampered filter is refused; failMode closed blocks, open allows', async () => {
    const tampered = Buffer.from(readFileSync(join(root, 'crates/schoon-cli/assets/default.filter')));
    tampered[tampered.length >> 1] ^= 0x40; // one bit in a filter section
    const demo = await startDemo({ quiet: true, mounts, filter: () => tampered });
    try {
      for (const failMode of ['closed', 'open']) {
        const { context, page } = await open(demo, `?failMode=${failMode}`);
        const status = await page.evaluate(() => window.schoonGuard.filter());
        assert.equal(status.state, 'error');
        assert.equal(status.error.code, 'set');
        assert.match(status.error.message, /checksum/);
        const [event] = await choose(page, innocent);
        assert.equal(event.type, 'schoon:error');
        assert.equal(event.result.error.kind, 'filter');
        assert.equal(event.result.allowed, failMode === 'open');
        const uploads = uploadsOf(demo).length;
        if (failMode === 'closed') {
          assert.equal(await page.evaluate(() => document.getElementById('photo').files.length), 0);
          assert.match(await page.locator('.schoon-status').textContent(), /could not be checked, so it cannot be uploaded/);
          await shot(page, 'tampered-closed');
          await page.click('#submit');
          await page.waitForTimeout(300);
          assert.equal(uploadsOf(demo).length, uploads);
        } else {
          assert.match(await page.locator('.schoon-status').textContent(), /uploaded anyway/);
          await shot(page, 'tampered-open');
          await Promise.all([page.waitForURL(`${demo.url}/upload`), page.click('#submit')]);
          assert.equal(uploadsOf(demo).length, uploads + 1);
        }
        assert.equal(confirmsOf(demo).length, 0);
        await context.close();
      }
    } finally {
      await demo.close();
    }
  });

  test('a file on the allow-list by its exact hashes is clean in the browser, with nothing sent', async () => {
    const demo = await startDemo({ quiet: true, mounts, publicKey: set('test.pub').toString(), index: set('allowed.index'), filter: () => set('allowed.filter') });
    try {
      const { context, page } = await open(demo);
      const status = await page.evaluate(() => window.schoonGuard.filter());
      assert.deepEqual([status.state, status.version], ['ready', 4000]);
      // Its PDQ still hits the filter, but the exact hashes say "known innocent".
      const [allowed] = await choose(page, join(examples, 'listed/known-2.jpg'));
      assert.equal(allowed.type, 'schoon:clean');
      assert.equal(allowed.result.verdict, 'clean');
      assert.equal(allowed.result.confirmed, false);
      assert.equal(confirmsOf(demo).length, 0);
      // The rest of the list is unchanged.
      const [listed] = await choose(page, join(examples, 'listed/known-1.jpg'));
      assert.equal(listed.result.verdict, 'blocked');
      await context.close();
    } finally {
      await demo.close();
    }
  });

  test('unsigned filters and filters signed by another key are refused', async () => {
    const demo = await startDemo({ quiet: true, mounts, publicKey: set('test.pub').toString(), index: set('v1000.index') });
    try {
      for (const [file, pattern] of [['unsigned.filter', /unsigned|not signed/i], ['other-key.filter', /key/i]]) {
        demo.setFilter(() => set(file));
        const { context, page } = await open(demo);
        const status = await page.evaluate(() => window.schoonGuard.filter());
        assert.equal(status.state, 'error', file);
        assert.equal(status.error.code, 'signature', file);
        assert.match(status.error.message, pattern, file);
        await context.close();
      }
    } finally {
      await demo.close();
    }
  });

  test('the filter is cached with its ETag; an older one is refused and the held one stays', async () => {
    const demo = await startDemo({ quiet: true, mounts, publicKey: set('test.pub').toString(), index: set('v2000.index'), filter: () => set('v2000.filter') });
    try {
      const { context, page } = await open(demo);
      const first = await page.evaluate(() => window.schoonGuard.filter());
      assert.deepEqual([first.state, first.version, first.source], ['ready', 2000, 'network']);

      // A new page in the same browser profile: the kept copy, revalidated with If-None-Match.
      await page.reload();
      const kept = await page.evaluate(() => window.schoonGuard.refresh());
      assert.deepEqual([kept.state, kept.version, kept.source], ['ready', 2000, 'revalidated']);
      const conditional = demo.requests.filter((r) => r.url === '/schoon/filter').at(-1);
      assert.match(conditional.headers['if-none-match'], /^"[0-9a-f]{64}"$/);

      // The server now offers version 1000, validly signed: a replay, refused.
      demo.setFilter(() => set('v1000.filter'));
      const refused = await page.evaluate(() => window.schoonGuard.refresh());
      assert.equal(refused.state, 'ready');
      assert.equal(refused.version, 2000);
      assert.equal(refused.error.code, 'stale');
      assert.match(refused.error.message, /not newer than the version 2000/);
      // Checks go on against version 2000.
      await page.evaluate(() => {
        window.events = [];
        for (const type of ['schoon:clean', 'schoon:blocked', 'schoon:error']) {
          document.addEventListener(type, (e) => window.events.push({ type, file: e.detail.file.name, result: e.detail.result }));
        }
      });
      const [event] = await choose(page, join(examples, 'listed/known-1.jpg'));
      assert.equal(event.result.verdict, 'blocked');
      assert.equal(event.result.filterVersion, 2000);
      await context.close();

      // A profile that never saw version 2000 accepts version 1000.
      const fresh = await open(demo);
      const v1 = await fresh.page.evaluate(() => window.schoonGuard.filter());
      assert.deepEqual([v1.state, v1.version], ['ready', 1000]);
      await fresh.context.close();
    } finally {
      await demo.close();
    }
  });
});

describe('responsiveness and privacy in Chromium', { skip }, () => {
  let demo;
  before(async () => {
    demo = await startDemo({ quiet: true, mounts });
  });
  after(async () => demo?.close());

  test('no long task on the main thread while a 12 MP JPEG is checked', async () => {
    const { context, page } = await open(demo);
    const out = await page.evaluate(async () => {
      const blob = await window.generate({ seed: 12, width: 4032, height: 3024, type: 'image/jpeg', quality: 0.92, grain: 24 });
      const guard = window.schoonGuard;
      await guard.filter(); // the worker is up and the filter verified
      const longTasks = [];
      const observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
      observer.observe({ type: 'longtask' });
      // Frames keep coming while the worker hashes.
      let frames = 0;
      let running = true;
      const tick = () => {
        frames++;
        if (running) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
      const phases = [];
      const t = performance.now();
      const result = await guard.check(blob, { onProgress: (p) => phases.push(p.phase) });
      const ms = performance.now() - t;
      running = false;
      await new Promise((r) => setTimeout(r, 100)); // let the observer deliver
      observer.disconnect();
      // The one-pass hashes of the same bytes (this module, on the page).
      const m = await import('/dist/index.js');
      await m.init();
      const bytes = new Uint8Array(await blob.arrayBuffer());
      const single = await window.onePass(blob);
      // And a guard with one worker (option `parallel: false`).
      const { default: config } = await import('/demo/config.js');
      const one = m.createGuard({ filterUrl: config.filterUrl, publicKey: config.publicKey, filterCache: 'none', parallel: false });
      const oneWorker = (await one.check(blob)).hashes;
      one.close();
      // The split itself, through the module's API: the bytes held in the module
      // (`FileBytes`), a head, and a tail from the same split point, from another one, or none.
      const g = await import('/pkg/web/schoon.js');
      const filter = new g.Filter(new Uint8Array(await (await fetch(config.filterUrl)).arrayBuffer()), { publicKey: config.publicKey });
      const opts = { mode: 'fast' };
      const file = new g.FileBytes(bytes);
      const at = Math.floor(bytes.length * 0.6);
      const join = (tail) => JSON.stringify(filter.finishImage(filter.startImage(file, at, opts), file, tail));
      const head = filter.startImage(file, at, opts);
      const small = await (await fetch('/examples/listed/known-1.jpg')).arrayBuffer();
      const smallFile = new g.FileBytes(new Uint8Array(small));
      const smallHead = filter.startImage(smallFile, small.byteLength >> 1, opts);
      const api = {
        whole: JSON.stringify(filter.checkImage(bytes, opts)),
        joined: [g.jpegTail(bytes, at, opts), undefined, g.jpegTail(bytes, at - 5000, opts), new Uint8Array(8)].map(join),
        split: head.split,
        length: file.length,
        copy: m.sha256(file.toBytes()) === m.sha256(bytes),
        small: { split: smallHead.split, tail: g.jpegTail(new Uint8Array(small), small.byteLength >> 1, opts), same: JSON.stringify(filter.finishImage(smallHead, smallFile)) === JSON.stringify(filter.checkImage(new Uint8Array(small), opts)) },
      };
      head.free();
      file.free();
      smallFile.free();
      filter.free();
      return { api, oneWorker, longTasks, frames, phases: [...new Set(phases)], ms, size: blob.size, verdict: result.verdict, width: result.hashes.width, height: result.hashes.height, timings: result.timings, hashes: result.hashes, single };
    });
    console.log(`  12 MP JPEG (${out.size} bytes): ${out.verdict} in ${out.ms.toFixed(0)} ms, ${out.frames} frames meanwhile, long tasks: ${JSON.stringify(out.longTasks)}, timings ${JSON.stringify(out.timings, (k, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`);
    assert.equal(out.verdict, 'clean');
    assert.deepEqual([out.width, out.height], [4032, 3024]);
    // Decoded by two workers (option `parallel`), with the one-pass hashes bit for bit.
    // The exact hashes come from the second worker.
    assert.equal(out.hashes.parts, 2);
    assert.equal(out.hashes.pdq, out.single.pdq);
    assert.equal(out.hashes.quality, out.single.quality);
    assert.deepEqual(out.hashes.pdqDihedral, out.single.pdqDihedral);
    const kinds = ['md5', 'sha1', 'sha256'].filter((k) => out.hashes[k] !== undefined);
    assert.ok(kinds.includes('sha256'), `exact hashes ${kinds}`);
    for (const k of kinds) assert.equal(out.hashes[k], out.single[k], k);
    // One worker: the same hashes, no parts.
    assert.equal(out.oneWorker.parts, undefined);
    for (const k of ['pdq', 'quality', ...kinds]) assert.equal(out.oneWorker[k], out.hashes[k], k);
    // The module's split API: every way of finishing gives checkImage's answer.
    assert.equal(out.api.split, true);
    assert.equal(out.api.length, out.size);
    assert.equal(out.api.copy, true);
    for (const [i, joined] of out.api.joined.entries()) assert.equal(joined, out.api.whole, `tail ${i}`);
    assert.deepEqual(out.api.small, { split: false, tail: undefined, same: true });
    assert.deepEqual(out.longTasks.filter((d) => d > 50), []);
    for (const phase of ['reading', 'hashing', 'checking']) assert.ok(out.phases.includes(phase), `${phase} in ${out.phases}`);
    await context.close();
  });

  test('a second worker that fails costs time, not hashes', async () => {
    const { context, page } = await open(demo);
    // A second worker that loads but fails every part: the guard's worker decodes the rest
    // and computes the exact hashes itself, from its module's copy of the bytes. The guard's
    // scripts are served from a copy of dist/ whose tail-worker.js is that worker.
    const dir = mkdtempSync(join(tmpdir(), 'schoon-failing-helper-'));
    for (const f of readdirSync(join(www, 'dist')).filter((f) => f.endsWith('.js'))) copyFileSync(join(www, 'dist', f), join(dir, f));
    writeFileSync(
      join(dir, 'tail-worker.js'),
      "self.onmessage = (e) => self.postMessage(e.data.name === 'init' ? { id: e.data.id, ok: true, result: null } : { id: e.data.id, ok: false, error: { name: 'Error', message: 'failing' } });\n",
    );
    mounts['/failing-helper/'] = dir;
    const served = demo.requests.length;
    const out = await page.evaluate(async () => {
      const blob = await window.generate({ seed: 5, width: 3000, height: 2400, type: 'image/jpeg', quality: 0.92, grain: 24 });
      const m = await import('/dist/index.js');
      await m.init();
      const { default: config } = await import('/demo/config.js');
      const guard = m.createGuard({ filterUrl: config.filterUrl, publicKey: config.publicKey, filterCache: 'none', workerUrl: '/failing-helper/guard-worker.js' });
      await guard.filter();
      const result = await guard.check(blob);
      guard.close();
      const single = await window.onePass(blob);
      return { size: blob.size, verdict: result.verdict, hashes: result.hashes, single };
    });
    delete mounts['/failing-helper/'];
    rmSync(dir, { recursive: true, force: true });
    const helper = demo.requests.slice(served).filter((r) => r.url === '/failing-helper/tail-worker.js');
    assert.equal(helper.length, 1, 'the failing second worker was started');
    assert.ok(out.size >= 1 << 20, `a JPEG large enough to split (${out.size} bytes)`);
    assert.equal(out.verdict, 'clean');
    assert.equal(out.hashes.parts, undefined);
    // The demo filter holds every kind: all of them are here, from this worker.
    for (const k of ['pdq', 'quality', 'md5', 'sha1', 'sha256']) assert.equal(out.hashes[k], out.single[k], k);
    assert.deepEqual(out.hashes.pdqDihedral, out.single.pdqDihedral);
    await context.close();
  });

  test('privacy: checking 50 innocent images sends none of their hashes or bytes', async () => {
    const { context, page, seen } = await open(demo);
    const before = demo.requests.length;
    const results = await page.evaluate(async () => {
      const worker = new Worker('/test/gen-worker.js');
      const pending = new Map();
      worker.onmessage = (e) => pending.get(e.data.id)(e.data);
      const make = (id, spec) => new Promise((resolve) => {
        pending.set(id, resolve);
        worker.postMessage({ id, ...spec });
      });
      const types = ['image/jpeg', 'image/png', 'image/webp'];
      const out = [];
      for (let i = 0; i < 50; i++) {
        const { blob, error } = await make(i, { seed: 1000 + i, width: 480 + (i % 5) * 160, height: 360 + (i % 3) * 120, type: types[i % 3], quality: 0.85 });
        if (error) throw new Error(error);
        const r = await window.schoonGuard.check(blob);
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let binary = '';
        for (let k = 0; k < bytes.length; k += 0x8000) binary += String.fromCharCode(...bytes.subarray(k, k + 0x8000));
        out.push({ type: blob.type, verdict: r.verdict, confirmed: r.confirmed, pdq: r.hashes.pdq, decoder: r.hashes.decoder, base64: btoa(binary) });
      }
      worker.terminate();
      return out;
    });
    assert.equal(results.length, 50);
    const { hashBytes } = await import('../dist/node.js');
    const secrets = [];
    for (const r of results) {
      assert.equal(r.verdict, 'clean');
      assert.equal(r.confirmed, false);
      const bytes = Buffer.from(r.base64, 'base64');
      const h = hashBytes(bytes, { mode: 'fast', dihedral: true });
      const hex = [hashOf('md5', bytes), hashOf('sha1', bytes), hashOf('sha256', bytes)];
      if (r.pdq) hex.push(r.pdq);
      if (h.pdq) hex.push(h.pdq, ...h.pdqDihedral);
      // 64 bytes from the middle of the file, raw and in base64.
      const slice = bytes.subarray(bytes.length >> 1, (bytes.length >> 1) + 64);
      secrets.push({ hex, slice, slice64: slice.toString('base64') });
    }
    const decoders = results.reduce((m, r) => ({ ...m, [`${r.type} ${r.decoder}`]: (m[`${r.type} ${r.decoder}`] ?? 0) + 1 }), {});
    console.log(`  50 images checked: ${JSON.stringify(decoders)}; requests made meanwhile: ${seen.length}`);
    const sent = [
      ...demo.requests.slice(before).map((r) => ({ where: `server ${r.method} ${r.url}`, url: r.url, body: r.body })),
      ...seen.map((r) => ({ where: `browser ${r.method} ${r.url}`, url: r.url, body: r.body ?? Buffer.alloc(0) })),
    ];
    for (const s of sent) {
      const text = `${s.url}\n${s.body.toString('latin1')}`.toLowerCase();
      for (const secret of secrets) {
        for (const h of secret.hex) assert.ok(!text.includes(h), `${s.where} carries ${h}`);
        assert.ok(!s.body.includes(secret.slice), `${s.where} carries image bytes`);
        assert.ok(!text.includes(secret.slice64.toLowerCase()), `${s.where} carries base64 image bytes`);
      }
    }
    assert.equal(demo.requests.slice(before).filter((r) => r.method === 'POST').length, 0);
    await context.close();
  });
});
