// POST /v1/check on real workerd (Miniflare running build/index.js): a batch of `schoon hash`
// lines and hand-written ones, answered line by line in order, with signed receipts and
// per-line errors; the limits; and tenant list policies set through the admin route.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  ADMIN_KEY, FIXTURES, bindings, buildSet, bulkCheck, keygen, publish, receiptVerifies, schoon, startWorker, tempDir, tenant,
} from './helpers.mjs';

const LISTED = 'scene-baseline-420.jpg'; // list `main` (category test): exact hashes, PDQ, regions
const NEAR = 'scene-cmyk.jpg'; // the same scene, a few PDQ bits away
const CLEAN = 'small-160x120.bmp';
const EXTRA_MD5 = 'ab'.repeat(16); // list `extra` (category other)
const MAX_LINES = 20;

let dir, receiptKey, w, host, hostBrowser, hashed;

const hashLine = (name) => JSON.parse(schoon('hash', '--dihedral', '--windows', path.join(FIXTURES, name)).trim());

before(async () => {
  dir = tempDir();
  const setKey = keygen(dir, 'set');
  receiptKey = keygen(dir, 'receipt');
  // Two lists in one set: `main` from an image, then `extra` added on top of its index.
  const main = buildSet(dir, { name: 'main', images: [LISTED], key: setKey, version: 100 });
  const md5File = path.join(dir, 'extra.md5');
  writeFileSync(md5File, `${EXTRA_MD5}\n`);
  const both = {
    index: path.join(dir, 'both.index'),
    filter: path.join(dir, 'both.filter'),
  };
  schoon('build', '--md5', md5File, '--name', 'extra', '--category', 'other', '--base-index', main.index,
    '--signing-key', setKey.file, '--set-version', '101', '--out-index', both.index, '--out-filter', both.filter);
  w = await startWorker(bindings(setKey, receiptKey, { CHECK_MAX_LINES: String(MAX_LINES), CHECK_MAX_BYTES: '65536' }));
  const p = await publish(w, { indexBytes: readFileSync(both.index), filterBytes: readFileSync(both.filter) });
  assert.equal(p.index.status, 201, p.index.text);
  host = await tenant(w, 'host');
  hostBrowser = await w.call('POST', '/v1/admin/tenants/host/keys', { body: { scope: 'browser' }, key: ADMIN_KEY }).then((r) => r.json.api_key);
  hashed = Object.fromEntries([LISTED, NEAR, CLEAN].map((n) => [n, hashLine(n)]));
});

after(async () => { await w?.dispose(); });

/** The batch: `schoon hash` output as it is (path as the id) and hand-written lines. */
function batch() {
  return [
    { ...hashed[LISTED], url: 'https://cdn.example.com/u/1.jpg' },
    hashed[CLEAN],
    '',
    hashed[NEAR],
    { id: 'extra-1', md5: EXTRA_MD5 },
    { id: 'bad-hex', sha256: 'xyz' },
    { id: 'typo', sha265: '00'.repeat(32) },
    { id: 'private', md5: '00'.repeat(16), url: 'http://127.0.0.1:8787/x' },
    '{"id": "broken",',
    { id: 'x'.repeat(513), md5: '00'.repeat(16) },
    { md5: '00'.repeat(16) },
  ];
}

test('a mixed batch is answered line by line, in order, with receipts and errors', async () => {
  const r = await bulkCheck(w, host, batch());
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
  assert.equal(r.headers.get('x-schoon-set-version'), '101');
  const lines = r.lines;
  assert.deepEqual(lines.map((l) => l.line), [1, 2, 4, 5, 6, 7, 8, 9, 10, 11], 'blank lines get no answer but keep their numbers');
  assert.deepEqual(lines.map((l) => l.verdict), ['match', 'clean', 'match', 'match', 'error', 'error', 'error', 'error', 'error', 'error']);
  assert.deepEqual(lines.map((l) => l.id), [
    hashed[LISTED].path, hashed[CLEAN].path, hashed[NEAR].path, 'extra-1', 'bad-hex', 'typo', 'private', undefined, undefined, undefined,
  ]);
  const [listed, clean, near, extra] = lines;
  assert.deepEqual(listed.matches.map((m) => `${m.list}:${m.kind}`).sort(), ['main:md5', 'main:pdq', 'main:sha1', 'main:sha256']);
  assert.equal(listed.set_version, 101);
  assert.deepEqual(clean, { line: 2, id: hashed[CLEAN].path, verdict: 'clean', set_version: 101, matches: [] });
  assert.equal(near.matches[0].kind, 'pdq');
  assert.ok(near.matches[0].distance > 0 && near.matches[0].distance <= 31);
  assert.deepEqual(extra.matches.map((m) => [m.list, m.category, m.kind]), [['extra', 'other', 'md5']]);

  // Receipts: one per match, linked by receipt_id, verifiable offline and by the worker, with
  // the line's id and URL as their subject.
  for (const l of [listed, near, extra]) {
    assert.equal(l.receipts.length, l.matches.length);
    for (const m of l.matches) assert.ok(l.receipts.some((rc) => rc.id === m.receipt_id));
    for (const rc of l.receipts) {
      assert.equal(rc.tenant, 'host');
      assert.ok(receiptVerifies(rc, receiptKey.publicHex), JSON.stringify(rc));
    }
  }
  const v = await w.call('POST', '/v1/receipts/verify', { body: listed.receipts[0] });
  assert.deepEqual([v.json.valid, v.json.stored], [true, true]);
  const stored = await w.call('GET', `/v1/receipts/${listed.receipts[0].id}`, { key: host });
  assert.deepEqual(stored.json.subject, { object_id: hashed[LISTED].path, url: 'https://cdn.example.com/u/1.jpg' });
  const extraStored = await w.call('GET', `/v1/receipts/${extra.receipts[0].id}`, { key: host });
  assert.deepEqual(extraStored.json.subject, { object_id: 'extra-1' });

  // Per-line errors name the bad value.
  const errors = Object.fromEntries(lines.filter((l) => l.verdict === 'error').map((l) => [l.line, l.error]));
  assert.deepEqual([errors[6].status, errors[6].code], [422, 'invalid']);
  assert.match(errors[6].message, /^sha256: invalid sha256 hash 'xyz'/);
  assert.match(errors[7].message, /unknown field `sha265`/);
  assert.match(errors[8].message, /'http:\/\/127\.0\.0\.1:8787\/x' names a private/);
  assert.deepEqual([errors[9].status, errors[9].code], [400, 'bad_request']);
  assert.equal(errors[10].message, 'id has 513 bytes, at most 512 are accepted');
  assert.match(errors[11].message, /^missing id/);

  // Counters: one check per checked line, none for the errors.
  const stats = await w.call('GET', '/v1/stats', { key: host });
  assert.equal(stats.json.counters.checks, 4);
  assert.equal(stats.json.counters.matches, 3);
  assert.equal(stats.json.counters.receipts, 6);
});

test('limits, media type and keys refuse the whole request', async () => {
  const line = { id: 'x', md5: '00'.repeat(16) };
  const ok = await bulkCheck(w, host, Array(MAX_LINES).fill(line));
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.lines.length, MAX_LINES);
  const before = (await w.call('GET', '/v1/stats', { key: host })).json.counters.checks;
  const many = await bulkCheck(w, host, Array(MAX_LINES + 1).fill(line));
  assert.equal(many.status, 413);
  assert.equal(many.json.error.code, 'too_large');
  assert.match(many.json.error.message, /21 non-empty lines, at most 20/);
  const big = await bulkCheck(w, host, [{ id: 'y'.repeat(500), md5: '00'.repeat(16) }, 'x'.repeat(70000)]);
  assert.equal(big.status, 413);
  const chunked = await w.call('POST', '/v1/check', {
    body: 'z'.repeat(70000), key: host, chunked: true, headers: { 'content-type': 'application/x-ndjson' },
  });
  assert.equal(chunked.status, 413, 'an undeclared length is cut at the limit');
  const after = (await w.call('GET', '/v1/stats', { key: host })).json.counters.checks;
  assert.equal(after, before, 'nothing counted');

  const json = await bulkCheck(w, host, [line], { headers: { 'content-type': 'application/json' } });
  assert.equal(json.status, 415);
  const browser = await bulkCheck(w, hostBrowser, [line]);
  assert.equal(browser.status, 403);
  assert.match(browser.json.error.message, /server key/);
  assert.equal((await bulkCheck(w, undefined, [line])).status, 401);
  assert.equal((await w.call('GET', '/v1/check', { key: host })).status, 405);
});

test('a tenant list policy set through the admin route filters checks', async () => {
  const put = (id, body) => w.call('PUT', `/v1/admin/tenants/${id}`, { body, key: ADMIN_KEY });
  const unknown = await put('picky', { lists: ['main', 'nope'] });
  assert.equal(unknown.status, 422);
  assert.equal(unknown.json.error.message, "unknown list 'nope': the current set has 'extra', 'main'");
  const category = await put('picky', { categories: ['csam'] });
  assert.equal(category.status, 422);
  assert.match(category.json.error.message, /unknown category 'csam': the current set has 'other', 'test'/);
  assert.equal((await put('picky', { thresholds: { main: 40 } })).status, 422);

  const extraOnly = await tenant(w, 'extra-only', { lists: ['extra'] });
  const tight = await tenant(w, 'tight', { categories: ['test'], thresholds: { main: 0 } });
  const lines = [hashed[LISTED], hashed[NEAR], { id: 'extra-1', md5: EXTRA_MD5 }];
  const lists = (answer) => answer.lines.map((l) => [...new Set(l.matches.map((m) => m.list))].join('+'));
  assert.deepEqual(lists(await bulkCheck(w, host, lines)), ['main', 'main', 'extra']);
  assert.deepEqual(lists(await bulkCheck(w, extraOnly, lines)), ['', '', 'extra']);
  const t = await bulkCheck(w, tight, lines);
  assert.deepEqual(lists(t), ['main', '', '']);
  assert.ok(t.lines[0].matches.every((m) => m.kind !== 'pdq' || m.distance === 0), JSON.stringify(t.lines[0]));
  assert.equal(t.lines[1].receipts, undefined, 'no match, no receipts');

  // The same policy applies to /v1/confirm and /v1/scan.
  const confirm = await w.call('POST', '/v1/confirm', { body: { md5: hashed[LISTED].md5, id: 'c-1' }, key: extraOnly });
  assert.equal(confirm.json.verdict, 'clean');
  const scan = await w.call('POST', '/v1/scan', {
    body: readFileSync(path.join(FIXTURES, LISTED)), key: extraOnly, headers: { 'content-type': 'image/jpeg', 'x-schoon-url': 'https://img.example.org/1.jpg' },
  });
  assert.equal(scan.status, 200, scan.text);
  assert.equal(scan.json.verdict, 'clean');
  const scanHost = await w.call('POST', '/v1/scan', {
    body: readFileSync(path.join(FIXTURES, LISTED)), key: host, headers: { 'content-type': 'image/jpeg', 'x-schoon-url': 'https://img.example.org/1.jpg' },
  });
  assert.equal(scanHost.json.verdict, 'match');
  const rc = await w.call('GET', `/v1/receipts/${scanHost.json.receipts[0].id}`, { key: host });
  assert.deepEqual(rc.json.subject, { url: 'https://img.example.org/1.jpg' });

  const record = await w.call('GET', '/v1/admin/tenants/tight', { key: ADMIN_KEY });
  assert.equal(record.status, 200);
  assert.deepEqual([record.json.categories, record.json.thresholds, record.json.set_version], [['test'], { main: 0 }, 101]);
  assert.deepEqual(record.json.policy_missing, { lists: [], categories: [], thresholds: [] });
});
