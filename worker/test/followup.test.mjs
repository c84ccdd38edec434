// Follow-up verification on real workerd (Miniflare): receipts for bucket objects (from the scan
// queue) and for URLs (served by the test through Miniflare's outboundService), half of the
// objects removed, half of the URLs answering 404, one URL redirecting to a private address and
// one never answering in time; past the (short) deadline, one run of the scheduled handler
// records exactly those statuses, and the statistics report the hosting-monitor figures.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ADMIN_KEY, bindings, buildSet, fixture, keygen, notification, publish, sendAll, startBucketWorker, tempDir,
  tenant, waitFor,
} from './helpers.mjs';

const LISTED = fixture('scene-baseline-420.jpg');
const HOST = 'https://img.example.com';
// path -> what the outbound service answers
const WEB = {
  '/present-a.jpg': () => new Response(LISTED, { headers: { 'content-type': 'image/jpeg' } }),
  '/present-b.jpg': () => new Response(null, { status: 301, headers: { location: '/cdn/present-b.jpg' } }),
  '/cdn/present-b.jpg': () => new Response(fixture('scene-rgb.png')),
  '/gone-a.jpg': () => new Response('not found', { status: 404 }),
  '/gone-b.jpg': () => new Response(null, { status: 302, headers: { location: `${HOST}/moved/gone-b.jpg` } }),
  '/moved/gone-b.jpg': () => new Response('gone', { status: 410 }),
  '/private.jpg': () => new Response(null, { status: 302, headers: { location: 'http://10.1.2.3/secret.jpg' } }),
  '/slow.jpg': () => new Promise((resolve) => { setTimeout(() => resolve(new Response(LISTED)), 4000); }),
};
const EXPECTED = {
  '/present-a.jpg': 'still_present',
  '/present-b.jpg': 'still_present',
  '/gone-a.jpg': 'verified_removed',
  '/gone-b.jpg': 'verified_removed',
  '/private.jpg': 'unreachable',
  '/slow.jpg': 'unreachable',
};

let dir, w, acme;
const requested = [];

before(async () => {
  dir = tempDir();
  const setKey = keygen(dir, 'set');
  const receiptKey = keygen(dir, 'receipt');
  const set = buildSet(dir, { name: 'followup', images: ['scene-baseline-420.jpg'], key: setKey, version: 1 });
  w = await startBucketWorker(bindings(setKey, receiptKey, {
    BUCKET_TENANT: 'uploads',
    OPEN_RECEIPT_SECONDS: '2',
    FOLLOWUP_TIMEOUT_SECONDS: '1',
  }), {
    outbound: async (request) => {
      const url = new URL(request.url);
      requested.push(request.url);
      const answer = url.origin === HOST ? WEB[url.pathname] : undefined;
      return answer ? answer() : new Response('no such test page', { status: 599 });
    },
  });
  const p = await publish(w, set);
  assert.equal(p.index.status, 201, p.index.text);
  acme = await tenant(w, 'acme');
});

after(async () => { await w?.dispose(); });

const receipt = async (id) => (await w.call('GET', `/v1/receipts/${id}`, { key: ADMIN_KEY })).json;

test('the scheduled job re-checks overdue receipts of bucket objects and URLs', async () => {
  // Four bucket objects, each matching (four receipts each: md5, sha1, sha256, pdq).
  const objects = ['hits/a.jpg', 'hits/b.jpg', 'hits/c.jpg', 'hits/d.jpg'];
  for (const key of objects) await w.put(key, LISTED);
  await sendAll(w.producer, objects.map((key) => notification(key)));
  const byObject = {};
  await waitFor(async () => {
    const r = await w.call('GET', '/v1/receipts?tenant=uploads', { key: ADMIN_KEY });
    for (const e of r.json.receipts) {
      const full = await receipt(e.id);
      (byObject[full.subject.key] ??= new Set()).add(e.id);
    }
    return Object.values(byObject).reduce((n, s) => n + s.size, 0) === 16;
  }, { timeoutMs: 30000, what: 'the bucket receipts' });

  // Six URLs: a scan's receipts get the URL as their subject, as a URL check stores it.
  const byUrl = {};
  for (const p of Object.keys(EXPECTED)) {
    const scan = await w.call('POST', '/v1/scan', { body: LISTED, key: acme, headers: { 'content-type': 'image/jpeg' } });
    assert.equal(scan.json.verdict, 'match');
    byUrl[p] = scan.json.receipts.map((r) => r.id);
    for (const id of byUrl[p]) {
      const record = JSON.parse(await w.kv.get(`receipt:${id}`));
      record.subject = { url: `${HOST}${p}` };
      await w.kv.put(`receipt:${id}`, JSON.stringify(record));
    }
  }

  // Half of the objects are removed; then the deadline passes.
  await w.uploads.delete(['hits/a.jpg', 'hits/b.jpg']);
  await new Promise((r) => setTimeout(r, 2200));
  const run = await w.scheduled();
  assert.equal(run.outcome, 'ok');
  const last = JSON.parse(await w.kv.get('followup:last'));
  assert.equal(last.checked, 40, JSON.stringify(last));
  assert.deepEqual([last.verified_removed, last.still_present, last.unreachable], [16, 16, 8]);

  for (const [key, ids] of Object.entries(byObject)) {
    const want = key === 'hits/a.jpg' || key === 'hits/b.jpg' ? 'verified_removed' : 'still_present';
    for (const id of ids) assert.equal((await receipt(id)).verification, want, key);
  }
  for (const [p, ids] of Object.entries(byUrl)) {
    for (const id of ids) {
      const r = await receipt(id);
      assert.equal(r.verification, EXPECTED[p], `${p}: ${JSON.stringify(r.verifications)}`);
      assert.equal(r.verifications.length, 1);
    }
  }
  const slow = await receipt(byUrl['/slow.jpg'][0]);
  assert.match(slow.verifications[0].detail, /timeout/);
  const priv = await receipt(byUrl['/private.jpg'][0]);
  assert.match(priv.verifications[0].detail, /private/);
  assert.ok(!requested.some((u) => u.includes('10.1.2.3')), 'the private address was never fetched');

  // The hosting-monitor figures.
  const figures = async (t) => (await w.call('GET', `/v1/stats?tenant=${t}`, { key: ADMIN_KEY })).json.follow_up;
  const up = await figures('uploads');
  assert.deepEqual([up.hits, up.removed, up.removed_within_deadline, up.still_present, up.unreachable], [16, 8, 0, 8, 0]);
  assert.ok(up.median_seconds_to_removal >= 2);
  assert.equal(up.deadline_seconds, 2);
  const ac = await figures('acme');
  assert.deepEqual([ac.hits, ac.removed, ac.still_present, ac.unreachable], [24, 8, 8, 8]);
  const csv = await w.call('GET', '/v1/stats?format=csv&include=followup', { key: acme });
  const lines = csv.text.trim().split('\r\n');
  assert.equal(lines[0], 'tenant,day,checks,matches,receipts,removed,disputed,open,overdue,hits,removed_within_deadline,still_present,unreachable,median_seconds_to_removal');
  assert.match(lines.at(-1), /^acme,total,.*,24,0,8,8,\d+$/);

  // Receipts by verification status.
  const list = async (v) => (await w.call('GET', `/v1/receipts?verification=${v}`, { key: acme })).json.receipts;
  assert.equal((await list('unreachable')).length, 8);
  assert.equal((await list('verified_removed')).length, 8);
  assert.equal((await list('still_present')).length, 8);
  assert.equal((await w.call('GET', '/v1/receipts?verification=bogus', { key: acme })).status, 422);

  // A second run is idempotent: removed receipts are left alone, the others only get a later time.
  await w.scheduled();
  const again = JSON.parse(await w.kv.get('followup:last'));
  assert.equal(again.checked, 24);
  const present = await receipt(byUrl['/present-a.jpg'][0]);
  assert.equal(present.verifications.length, 1);
  assert.equal(present.verifications[0].checks, 2);
});
