// Bucket scanning on real workerd (Miniflare): the uploads bucket's object-create notifications
// go through the scan queue to the worker's consumer; a message that keeps failing ends in the
// dead-letter queue's consumer; a backfill lists an existing bucket through the queue.
// Miniflare does not emit R2 event notifications itself: the test sends the documented
// notification body to the queue through its producer binding.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ADMIN_KEY, UPLOADS_BUCKET, bindings, buildSet, fixture, greyPng, keygen, notification, pool, publish, sendAll,
  sha256hex, startBucketWorker, tempDir, waitFor,
} from './helpers.mjs';

const TENANT = 'uploads';
const OBJECTS = 10000;
// The listed image and other encodings of it (PDQ distance 0 to the listed one).
const EDITS = ['scene-baseline-420.jpg', 'scene-lossy.webp', 'scene-rgb.png', 'scene.gif'];

let dir, setKey, receiptKey, set, w;

before(async () => {
  dir = tempDir();
  setKey = keygen(dir, 'set');
  receiptKey = keygen(dir, 'receipt');
  // Without region hashes: with them every clean image of quality >= 50 is also matched as 108
  // windows (about 20 ms each in wasm), which is the index's cost, not the queue's.
  set = buildSet(dir, { name: 'bucket', images: ['scene-baseline-420.jpg'], key: setKey, version: 1, extra: ['--no-regions'] });
  w = await startBucketWorker(bindings(setKey, receiptKey, {
    BUCKET_TENANT: TENANT,
    SCAN_RETRY_SECONDS: '0',
    // 1 MiB objects at most: a batch reads and hashes 16 at a time (READ_BUDGET).
    SCAN_MAX_BYTES: '1048576',
  }), { maxRetries: 2 });
});

after(async () => { await w?.dispose(); });

const stats = async () => {
  const r = await w.call('GET', `/v1/stats?tenant=${TENANT}`, { key: ADMIN_KEY });
  assert.equal(r.status, 200, r.text);
  return r.json;
};

/** Every scan record in KV (key, metadata) under a prefix. */
async function records(prefix = `scan:${UPLOADS_BUCKET}:`) {
  const out = [];
  let cursor;
  do {
    const page = await w.kv.list({ prefix, cursor });
    out.push(...page.keys);
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return out;
}

const recordOf = async (key) => JSON.parse(await w.kv.get(`scan:${UPLOADS_BUCKET}:${sha256hex(Buffer.from(key))}`));

test('a message that keeps failing (no index published yet) ends in the dead-letter record', async () => {
  await w.put('early/photo.png', greyPng(16, 16, (x, y) => x * y));
  await w.producer.send(notification('early/photo.png'));
  const record = await waitFor(async () => {
    const text = await w.kv.get(`scan:${UPLOADS_BUCKET}:${sha256hex(Buffer.from('early/photo.png'))}`);
    const r = text && JSON.parse(text);
    return r?.state === 'dead_lettered' && r;
  }, { timeoutMs: 30000, what: 'the dead-letter record' });
  assert.equal(record.reason, 'index');
  assert.match(record.detail, /no index published/);
  assert.equal(record.attempts, 3, 'the first delivery and two retries');
  assert.equal(record.key, 'early/photo.png');
  const s = await stats();
  assert.equal(s.counters.objects_dead_lettered, 1);
  assert.equal(s.bucket.dead_lettered, 1);
});

test('10^4 uploads with 1 % corrupt and 1 % listed: every object accounted for, every hit receipted', async () => {
  const { index, filter } = await publish(w, set);
  assert.equal(index.status, 201, index.text);
  assert.equal(filter.status, 201, filter.text);
  const edits = EDITS.map((name) => fixture(name));
  const kinds = [];
  const keys = [];
  for (let i = 0; i < OBJECTS; i++) {
    const kind = i % 100 === 13 ? 'corrupt' : i % 100 === 71 ? 'listed' : 'clean';
    kinds.push(kind);
    keys.push(`u/${String(i).padStart(5, '0')}-${kind}.${kind === 'listed' ? 'img' : 'png'}`);
  }
  // Uploads and their notifications in chunks, so that the consumer works while the rest is
  // uploaded (as in production).
  const started = Date.now();
  const body = (i) => {
    if (kinds[i] === 'listed') return edits[i % edits.length];
    if (kinds[i] === 'corrupt') return greyPng(24, 24, (x, y) => x ^ y ^ i).subarray(0, 60);
    return greyPng(24, 24, (x, y) => ((x * 7 + i) * (y * 13 + (i >> 8))) ^ (i * 31));
  };
  for (let c = 0; c < OBJECTS; c += 500) {
    const chunk = keys.slice(c, c + 500);
    await pool(chunk, 32, async (key, j) => w.put(key, body(c + j)));
    await sendAll(w.producer, chunk.map((key) => notification(key)));
  }
  const sent = Date.now();
  const accounted = (c) => c.objects_checked + c.objects_failed + c.objects_dead_lettered + c.objects_skipped;
  const s = await waitFor(async () => {
    const s = await stats();
    return accounted(s.counters) >= OBJECTS + 1 && s;
  }, { timeoutMs: 150000, everyMs: 1000, what: `${OBJECTS} objects` });
  const done = Date.now();
  console.log(`${OBJECTS} objects: uploaded and sent in ${sent - started} ms, all accounted for after ${done - started} ms`);
  assert.equal(s.counters.objects_checked, OBJECTS - 100);
  assert.equal(s.counters.objects_failed, 100);
  assert.equal(s.counters.matches, 100);
  assert.equal(s.bucket.checked, OBJECTS - 100);

  // Per object: its record says what happened.
  const all = (await records()).filter((k) => k.metadata);
  assert.equal(all.length, OBJECTS + 1);
  const byState = {};
  for (const k of all) {
    const tag = `${k.metadata.state}:${k.metadata.reason ?? ''}`;
    byState[tag] = (byState[tag] ?? 0) + 1;
  }
  assert.deepEqual(byState, { 'checked:': OBJECTS - 100, 'failed:corrupt': 100, 'dead_lettered:index': 1 });
  for (const [i, key] of keys.entries()) {
    if (kinds[i] !== 'listed') continue;
    const r = await recordOf(key);
    assert.equal(r.verdict, 'match', key);
    assert.ok(r.receipts.length >= 1, key);
    const receipt = await w.call('GET', `/v1/receipts/${r.receipts[0]}`, { key: ADMIN_KEY });
    assert.equal(receipt.status, 200);
    assert.equal(receipt.json.valid, true);
    assert.deepEqual(receipt.json.subject, { bucket: UPLOADS_BUCKET, key });
    assert.equal(receipt.json.receipt.tenant, TENANT);
  }
  const corrupt = await recordOf(keys[13]);
  assert.equal(corrupt.state, 'failed');
  assert.equal(corrupt.verdict, 'clean', 'the exact hashes were checked');
});

test('a backfill lists an existing bucket page by page through the queue', async () => {
  const before = (await stats()).counters;
  const listed = fixture('scene-baseline-420.jpg');
  const keys = Array.from({ length: 250 }, (_, i) => `old/${String(i).padStart(4, '0')}.png`);
  await pool(keys, 16, async (key, i) => {
    await w.put(key, i % 50 === 3 ? listed : greyPng(20, 20, (x, y) => (x + i) * (y + 3)));
  });
  const r = await w.call('POST', '/v1/admin/backfill', { body: { prefix: 'old/' }, key: ADMIN_KEY });
  assert.equal(r.status, 202, r.text);
  const id = r.json.backfill.id;
  const progress = await waitFor(async () => {
    const b = (await stats()).bucket.backfills.find((x) => x.id === id);
    return b?.done && b;
  }, { timeoutMs: 60000, what: 'the backfill' });
  assert.equal(progress.listed, 250);
  assert.equal(progress.enqueued, 250);
  assert.equal(progress.pages, 3);
  assert.equal(progress.checked, 250);
  assert.equal(progress.failed + progress.dead_lettered, 0);
  assert.equal(progress.listing_done, true);
  const after = (await stats()).counters;
  assert.equal(after.matches - before.matches, 5);
  const hit = await recordOf('old/0003.png');
  assert.equal(hit.backfill, id);
  assert.equal(hit.verdict, 'match');
  // Not listed: objects outside the prefix.
  assert.equal(await w.kv.get(`scan:${UPLOADS_BUCKET}:${sha256hex(Buffer.from('u/00000-clean.png'))}`) !== null, true);
  const denied = await w.call('POST', '/v1/admin/backfill', { body: {}, key: 'sk_nope' });
  assert.equal(denied.status, 401);
});

test('deleted objects and other buckets are acknowledged and recorded as skipped', async () => {
  const before = (await stats()).counters.objects_skipped;
  await sendAll(w.producer, [
    notification('u/00000-clean.png', { action: 'DeleteObject' }),
    notification('x.png', { bucket: 'someone-else' }),
  ]);
  await waitFor(async () => (await stats()).counters.objects_skipped >= before + 2, { timeoutMs: 30000, what: 'skips' });
  const deleted = await recordOf('u/00000-clean.png');
  assert.deepEqual([deleted.state, deleted.reason], ['skipped', 'deleted']);
  const other = JSON.parse(await w.kv.get(`scan:someone-else:${sha256hex(Buffer.from('x.png'))}`));
  assert.deepEqual([other.state, other.reason], ['skipped', 'unknown_bucket']);
});
