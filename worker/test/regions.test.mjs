// Region hashes on real workerd: crops and captions of listed images are found by /v1/scan as
// `schoon scan` finds them, and by /v1/confirm from the window hashes a client's filter flagged.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, bindings, buildSet, keygen, publish, schoon, schoonScan, startWorker, tempDir, tenant } from './helpers.mjs';

const EXAMPLES = path.join(REPO, 'examples');
const LISTED = ['listed/known-1.jpg', 'listed/known-2.jpg', 'listed/known-3.jpg'];
const REGION_ONLY = ['edited/known-1-cropped-5pct.jpg', 'edited/known-1-captioned.jpg'];

let w, key, set, setKey;

before(async () => {
  const dir = tempDir();
  setKey = keygen(dir, 'set');
  set = buildSet(dir, { name: 'examples', images: LISTED, key: setKey, version: 7, from: EXAMPLES });
  w = await startWorker(bindings(setKey, keygen(dir, 'receipt')));
  const p = await publish(w, set);
  assert.equal(p.index.status, 201, p.index.text);
  key = await tenant(w, 'regions');
});

after(async () => { await w?.dispose(); });

test('/v1/scan decides every example as `schoon scan` does with the same set', async () => {
  const files = ['listed', 'edited', 'innocent'].flatMap((d) =>
    schoonScan('--index', set.index, '--public-key', setKey.pub, path.join(EXAMPLES, d)),
  );
  assert.ok(files.length >= 15);
  for (const cli of files) {
    const r = await w.call('POST', '/v1/scan', { body: readFileSync(cli.path), key, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.verdict, cli.verdict, cli.path);
    assert.deepEqual(r.json.matches.map((m) => [m.kind, m.distance, m.region ?? null]), cli.matches.map((m) => [m.kind, m.distance, m.region ?? null]), cli.path);
  }
  for (const f of REGION_ONLY) {
    const cli = files.find((l) => l.path.endsWith(f));
    assert.equal(cli.verdict, 'match', f);
    assert.ok(cli.matches[0].region, JSON.stringify(cli));
  }
});

test('/v1/confirm matches region windows only when sent, and bounds them', async () => {
  const confirm = (body) => w.call('POST', '/v1/confirm', { body, key });
  for (const f of REGION_ONLY) {
    const h = JSON.parse(schoon('hash', '--dihedral', '--windows', path.join(EXAMPLES, f)).trim());
    const plain = { pdq: h.pdq, quality: h.quality, pdq_dihedral: h.pdq_dihedral };
    assert.equal((await confirm(plain)).json.verdict, 'clean', f);
    const r = await confirm({ ...plain, windows: h.windows });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.verdict, 'match', f);
    assert.equal(r.json.matches.length, 1);
    assert.ok(r.json.matches[0].region && r.json.matches[0].distance <= 31, JSON.stringify(r.json));
    assert.equal(r.json.receipts.length, 1);
  }
  const innocent = JSON.parse(schoon('hash', '--windows', path.join(EXAMPLES, 'innocent/scene-1.jpg')).trim());
  assert.equal((await confirm({ windows: innocent.windows })).json.verdict, 'clean');
  const tooMany = await confirm({ windows: Array(129).fill(innocent.pdq) });
  assert.equal(tooMany.status, 422);
  assert.match(tooMany.json.error.message, /windows has 129 hashes, at most 128/);
  const bad = await confirm({ windows: ['xyz'] });
  assert.equal(bad.status, 422);
  assert.match(bad.json.error.message, /^windows\[0\]: /);
});
