// Sharded indexes on real workerd (Miniflare, with the IndexShard Durable Objects and R2):
// `schoon build --out-shards` and scripts/publish-shards.mjs publish them, /v1/scan and
// /v1/confirm answer exactly as a worker holding the whole index, and a shard that is missing,
// of an older version or modified in R2 makes the answer 503, never "clean".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, REPO, WORKER, bindings, keygen, publish, schoon, startWorker, tempDir, tenant } from './helpers.mjs';

const EXAMPLES = path.join(REPO, 'examples');
const SHARDS = 4;

let dir, setKey, receiptKey, sharded, whole, ks, kw;

/** `schoon build` of the listed examples at `version`: the whole index and the shard directory. */
function build(version) {
  const out = path.join(dir, `v${version}`);
  const index = path.join(dir, `v${version}.index`);
  schoon('build', '--images', path.join(EXAMPLES, 'listed'), '--name', 'examples', '--category', 'test',
    '--signing-key', setKey.file, '--set-version', String(version), '--out-index', index,
    '--out-filter', path.join(dir, `v${version}.filter`), '--out-shards', out, '--shards', String(SHARDS));
  return { out, indexBytes: readFileSync(index), filterBytes: readFileSync(path.join(dir, `v${version}.filter`)) };
}

function publishShards(w, out) {
  const r = spawnSync(process.execPath, [path.join(WORKER, 'scripts', 'publish-shards.mjs'), out, w.base], {
    encoding: 'utf8', env: { ...process.env, SCHOON_ADMIN_KEY: ADMIN_KEY },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const r2Key = (version, n) => `shards/${String(version).padStart(20, '0')}/shard-${String(n).padStart(4, '0')}.schoon`;

before(async () => {
  dir = tempDir();
  setKey = keygen(dir, 'set');
  receiptKey = keygen(dir, 'receipt');
  const v7 = build(7);
  assert.deepEqual(readdirSync(v7.out).sort(), ['manifest.schoon', 'shard-0000.schoon', 'shard-0001.schoon', 'shard-0002.schoon', 'shard-0003.schoon']);
  sharded = await startWorker(bindings(setKey, receiptKey), { port: 0 });
  const out = publishShards(sharded, v7.out);
  assert.match(out, /"status":"published"/);
  assert.match(out, /"shards":4/);
  whole = await startWorker(bindings(setKey, receiptKey));
  assert.equal((await publish(whole, v7)).index.status, 201);
  ks = await tenant(sharded, 'acme');
  kw = await tenant(whole, 'acme');
});

after(async () => {
  await sharded?.dispose();
  await whole?.dispose();
});

const strip = (matches) => (matches ?? []).map(({ list, category, kind, distance, value, variant, region }) => ({ list, category, kind, distance, value, variant, region }));

test('/v1/scan and /v1/confirm through the shards answer as the whole index', async () => {
  const files = ['listed', 'edited', 'innocent'].flatMap((d) => readdirSync(path.join(EXAMPLES, d)).map((f) => path.join(EXAMPLES, d, f)));
  let regions = 0;
  for (const f of files) {
    const scan = (w, key) => w.call('POST', '/v1/scan', { body: readFileSync(f), key, headers: { 'content-type': 'application/octet-stream' } });
    const [a, b] = [await scan(sharded, ks), await scan(whole, kw)];
    assert.equal(a.status, b.status, `${f}: ${a.text}`);
    assert.equal(a.json.verdict, b.json.verdict, f);
    assert.deepEqual(strip(a.json.matches), strip(b.json.matches), f);
    regions += a.json.matches.filter((m) => m.region).length;
    // Confirmation with the hashes and windows a client sends.
    const h = JSON.parse(schoon('hash', '--dihedral', '--windows', f).trim());
    const body = { sha256: h.sha256, pdq: h.pdq, quality: h.quality, pdq_dihedral: h.pdq_dihedral, windows: h.windows?.slice(0, 128) };
    const [c, d] = [await sharded.call('POST', '/v1/confirm', { body, key: ks }), await whole.call('POST', '/v1/confirm', { body, key: kw })];
    assert.equal(c.status, 200, c.text);
    assert.equal(c.json.verdict, d.json.verdict, f);
    assert.deepEqual(strip(c.json.matches), strip(d.json.matches), f);
  }
  assert.ok(regions >= 2, 'crops and captions match through region hashes');
  const status = await sharded.call('GET', '/v1/admin/status', { key: ADMIN_KEY });
  assert.equal(status.json.pointer.index.shards, SHARDS, status.text);
  assert.equal(status.json.held_index.shards, SHARDS, status.text);
});

test('a missing, stale or modified shard is 503, and answers again once repaired', async () => {
  const r2 = await sharded.mf.getR2Bucket('SCHOON_R2');
  const listed = JSON.parse(schoon('hash', path.join(EXAMPLES, 'listed', 'known-2.jpg')).trim());
  const confirm = () => sharded.call('POST', '/v1/confirm', { body: { pdq: listed.pdq, quality: listed.quality }, key: ks });
  const faults = [
    ['missing', async (key) => r2.delete(key), /index shard 1 of version \d+ is missing/],
    ['stale', async (key) => r2.put(key, new Uint8Array(readFileSync(path.join(dir, 'v7', 'shard-0001.schoon')))), /index shard 1 of version \d+ is refused: (malformed set: )?shard 1 (is of set version 7|has \d+ bytes)/],
    ['modified', async (key, bytes) => { const b = Buffer.from(bytes); b[b.length >> 1] ^= 1; await r2.put(key, new Uint8Array(b)); }, /index shard 1 of version \d+ is refused: malformed set: checksum mismatch/],
  ];
  let version = 8;
  for (const [name, fault, message] of faults) {
    // A new version for each fault: its Durable Objects load their shards afresh.
    const v = build(version);
    publishShards(sharded, v.out);
    const key = r2Key(version, 1);
    const good = Buffer.from(await (await r2.get(key)).arrayBuffer());
    await fault(key, good);
    const r = await confirm();
    assert.equal(r.status, 503, `${name}: ${r.text}`);
    assert.match(r.json.error.message, message, name);
    assert.equal(r.headers.get('retry-after'), '5');
    await r2.put(key, new Uint8Array(good));
    const again = await confirm();
    assert.equal(again.status, 200, `${name} repaired: ${again.text}`);
    assert.equal(again.json.verdict, 'match');
    version += 1;
  }
});

test('publishing refuses a manifest over missing shards and keeps the current version', async () => {
  const v = build(20);
  const put = (route, bytes) => sharded.call('PUT', route, { body: bytes, key: ADMIN_KEY, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal((await put('/v1/admin/shards/0', readFileSync(path.join(v.out, 'shard-0000.schoon')))).status, 201);
  const m = await put('/v1/admin/shards/manifest', readFileSync(path.join(v.out, 'manifest.schoon')));
  assert.equal(m.status, 409, m.text);
  assert.match(m.json.error.message, /shard 1 of version 20 has not been uploaded/);
  const health = await sharded.call('GET', '/v1/health');
  assert.notEqual(health.json.index?.version, 20, health.text);
  const wrong = await put('/v1/admin/shards/3', readFileSync(path.join(v.out, 'shard-0002.schoon')));
  assert.equal(wrong.status, 422, wrong.text);
  assert.match(wrong.json.error.message, /shard 2 of 4, not shard 3/);
});
