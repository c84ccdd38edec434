// The worker's API on real workerd (Miniflare running build/index.js): publishing, the filter,
// confirm, scan, auth, limits, receipts, follow-ups and statistics.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  ADMIN_KEY, REPO, bindings, buildSet, expected, fixture, keygen, publish, schoonScan, sha256hex, startWorker, tempDir, tenant,
} from './helpers.mjs';

const EXPECTED = expected();
const LISTED = 'scene-baseline-420.jpg';
const LISTED_PDQ = EXPECTED[LISTED].pdq_fast;
const octet = { 'content-type': 'application/octet-stream' };

let dir, setKey, receiptKey, otherKey, v100, v200, unsigned, foreign;
let w, acme, acmeBrowser, beta;

before(async () => {
  dir = tempDir();
  setKey = keygen(dir, 'set');
  receiptKey = keygen(dir, 'receipt');
  otherKey = keygen(dir, 'other');
  v100 = buildSet(dir, { name: 'v100', images: [LISTED], key: setKey, version: 100 });
  v200 = buildSet(dir, { name: 'v200', images: [LISTED, 'small-160x120.bmp'], key: setKey, version: 200, deltaFrom: v100.index });
  unsigned = buildSet(dir, { name: 'unsigned', images: [LISTED], version: 300 });
  foreign = buildSet(dir, { name: 'foreign', images: [LISTED], key: otherKey, version: 300 });
  w = await startWorker(bindings(setKey, receiptKey, { SCAN_MAX_BYTES: '1000000', OPEN_RECEIPT_SECONDS: '1' }));
});

after(async () => { await w?.dispose(); });

test('health and filter answer 503 before anything is published', async () => {
  const h = await w.call('GET', '/v1/health');
  assert.equal(h.status, 503);
  assert.equal(h.json.status, 'unavailable');
  assert.match(h.json.reason, /no index published/);
  for (const p of ['/v1/filter', '/v1/filter/meta']) {
    const r = await w.call('GET', p);
    assert.equal(r.status, 503, p);
    assert.equal(r.json.error.code, 'unavailable');
  }
});

test('unknown routes are 404 and wrong methods 405 with Allow, as JSON', async () => {
  const r = await w.call('GET', '/nope');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'not_found');
  const m = await w.call('GET', '/v1/confirm');
  assert.equal(m.status, 405);
  assert.equal(m.headers.get('allow'), 'POST');
  const d = await w.call('DELETE', '/v1/filter');
  assert.equal(d.status, 405);
  assert.equal(d.headers.get('allow'), 'GET, HEAD');
});

test('admin routes need the admin key', async () => {
  const none = await w.call('PUT', '/v1/admin/index', { body: v100.indexBytes, headers: octet });
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  const wrong = await w.call('PUT', '/v1/admin/index', { body: v100.indexBytes, headers: octet, key: 'not-the-admin-key' });
  assert.equal(wrong.status, 401);
  const type = await w.call('PUT', '/v1/admin/index', { body: v100.indexBytes, headers: { 'content-type': 'text/plain' }, key: ADMIN_KEY });
  assert.equal(type.status, 415);
});

test('tampered, unsigned, foreign and mislabelled sets are refused', async () => {
  const put = (p, body) => w.call('PUT', p, { body, headers: octet, key: ADMIN_KEY });
  const tampered = Buffer.from(v100.indexBytes);
  tampered[tampered.length - 200] ^= 1;
  const cases = [
    ['/v1/admin/index', tampered, /checksum mismatch/],
    ['/v1/admin/index', unsigned.indexBytes, /not signed/],
    ['/v1/admin/index', foreign.indexBytes, /key id/],
    ['/v1/admin/index', v100.filterBytes, /expected a index, found a filter/],
    ['/v1/admin/filter', v100.indexBytes, /expected a filter, found a index/],
    ['/v1/admin/filter', foreign.filterBytes, /key id/],
    ['/v1/admin/index', Buffer.from('not a set at all'), /too short|not a schoon set/],
  ];
  for (const [p, body, message] of cases) {
    const r = await put(p, body);
    assert.equal(r.status, 422, `${p} ${message}: ${r.text}`);
    assert.match(r.json.error.message, message);
  }
  // Signature checks come before anything is stored.
  const h = await w.call('GET', '/v1/health');
  assert.equal(h.status, 503);
});

test('a filter newer than the published index is refused', async () => {
  const r = await w.call('PUT', '/v1/admin/filter', { body: v100.filterBytes, headers: octet, key: ADMIN_KEY });
  assert.equal(r.status, 409);
  assert.match(r.json.error.message, /publish the index of version 100 first/);
});

test('publishing version 100, idempotently', async () => {
  const { index, filter } = await publish(w, v100);
  assert.equal(index.status, 201, index.text);
  assert.equal(index.json.index.version, 100);
  assert.equal(index.json.index.signature, 'verified');
  assert.equal(index.json.index.sha256, sha256hex(v100.indexBytes));
  assert.equal(filter.status, 201, filter.text);
  assert.equal(filter.json.url, '/v1/filter/100');
  const again = await w.call('PUT', '/v1/admin/index', { body: v100.indexBytes, headers: octet, key: ADMIN_KEY });
  assert.equal(again.status, 200);
  assert.equal(again.json.status, 'unchanged');
  const status = await w.call('GET', '/v1/admin/status', { key: ADMIN_KEY });
  assert.equal(status.status, 200);
  assert.equal(status.json.held_index.version, 100);
  assert.equal(status.json.held_index.entries.pdq, 1);
  assert.equal(status.json.held_index.entries.regions, 3); // the listed fixture's region hashes
  assert.ok(status.json.wasm_memory_bytes > 0);
});

test('health is 200 with the version', async () => {
  const h = await w.call('GET', '/v1/health');
  assert.equal(h.status, 200, h.text);
  assert.equal(h.json.status, 'ok');
  assert.equal(h.json.index.version, 100);
  assert.equal(h.json.filter.version, 100);
});

test('the filter is served under an immutable versioned URL with a strong ETag', async () => {
  const r = await w.call('GET', '/v1/filter');
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/v1/filter/100');
  assert.match(r.headers.get('cache-control'), /max-age=60/);
  const f = await w.call('GET', '/v1/filter/100', { headers: { origin: 'https://site.example' } });
  assert.equal(f.status, 200);
  assert.deepEqual(f.bytes, v100.filterBytes);
  const etag = `"${sha256hex(v100.filterBytes)}"`;
  assert.equal(f.headers.get('etag'), etag);
  assert.equal(f.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(f.headers.get('content-type'), 'application/octet-stream');
  assert.equal(f.headers.get('access-control-allow-origin'), '*');
  const cached = await w.call('GET', '/v1/filter/100', { headers: { 'if-none-match': `W/"x", ${etag}` } });
  assert.equal(cached.status, 304);
  assert.equal(cached.bytes.length, 0);
  assert.equal(cached.headers.get('etag'), etag);
  const stale = await w.call('GET', '/v1/filter/100', { headers: { 'if-none-match': '"other"' } });
  assert.equal(stale.status, 200);
  const meta = await w.call('GET', '/v1/filter/meta');
  assert.equal(meta.status, 200);
  assert.deepEqual(
    { version: meta.json.version, sha256: meta.json.sha256, size: meta.json.size, url: meta.json.url },
    { version: 100, sha256: sha256hex(v100.filterBytes), size: v100.filterBytes.length, url: '/v1/filter/100' },
  );
  assert.match(meta.headers.get('cache-control'), /max-age=60/);
  assert.equal((await w.call('GET', '/v1/filter/99')).status, 404);
  assert.equal((await w.call('GET', '/v1/filter/latest')).status, 404);
});

test('tenants and keys: server and browser scopes, revocation', async () => {
  acme = await tenant(w, 'acme');
  acmeBrowser = await tenant(w, 'acme', {}, 'browser');
  beta = await tenant(w, 'beta');
  assert.match(acme, /^sk_[0-9a-f]{64}$/);
  const bad = await w.call('PUT', '/v1/admin/tenants/Not_Valid', { body: {}, key: ADMIN_KEY });
  assert.equal(bad.status, 422);
  const missing = await w.call('POST', '/v1/admin/tenants/ghost/keys', { body: {}, key: ADMIN_KEY });
  assert.equal(missing.status, 404);
  const asTenant = await w.call('PUT', '/v1/admin/tenants/x', { body: {}, key: acme });
  assert.equal(asTenant.status, 403);
  // A revoked key stops working.
  const gone = await tenant(w, 'acme');
  const ok = await w.call('POST', '/v1/confirm', { body: { sha256: '00'.repeat(32) }, key: gone });
  assert.equal(ok.status, 200);
  const del = await w.call('DELETE', `/v1/admin/keys/${sha256hex(gone)}`, { key: ADMIN_KEY });
  assert.equal(del.status, 204);
  const after = await w.call('POST', '/v1/confirm', { body: { sha256: '00'.repeat(32) }, key: gone });
  assert.equal(after.status, 401);
  // A disabled tenant is refused with 403.
  const off = await tenant(w, 'off');
  await w.call('PUT', '/v1/admin/tenants/off', { body: { disabled: true }, key: ADMIN_KEY });
  const r = await w.call('POST', '/v1/confirm', { body: { sha256: '00'.repeat(32) }, key: off });
  assert.equal(r.status, 403);
  assert.match(r.json.error.message, /disabled/);
});

test('confirm: authentication failures', async () => {
  const body = { sha256: '00'.repeat(32) };
  assert.equal((await w.call('POST', '/v1/confirm', { body })).status, 401);
  assert.equal((await w.call('POST', '/v1/confirm', { body, key: 'sk_unknown' })).status, 401);
  const admin = await w.call('POST', '/v1/confirm', { body, key: ADMIN_KEY });
  assert.equal(admin.status, 403);
  const basic = await w.call('POST', '/v1/confirm', { body, headers: { authorization: 'Basic eDp5' } });
  assert.equal(basic.status, 401);
});

test('confirm: malformed bodies, wrong types and sizes', async () => {
  const post = (body, headers) => w.call('POST', '/v1/confirm', { body, headers, key: acme });
  const cases = [
    ['{"sha256": ', { 'content-type': 'application/json' }, 400, 'bad_request'],
    ['not json', { 'content-type': 'application/json' }, 400, 'bad_request'],
    ['{"sha256":"00"}', { 'content-type': 'text/plain' }, 415, 'unsupported_media'],
    ['{"sha256":"00"}', {}, 415, 'unsupported_media'],
    ['{}', { 'content-type': 'application/json' }, 422, 'invalid'],
    ['[]', { 'content-type': 'application/json' }, 422, 'invalid'],
    ['{"sha265":"00"}', { 'content-type': 'application/json' }, 422, 'invalid'],
    ['{"md5":"zz"}', { 'content-type': 'application/json' }, 422, 'invalid'],
    [`{"pdq":"${LISTED_PDQ}","quality":101}`, { 'content-type': 'application/json' }, 422, 'invalid'],
    [`{"pdq_dihedral":["${LISTED_PDQ}"]}`, { 'content-type': 'application/json' }, 422, 'invalid'],
    [JSON.stringify({ sha256: '00'.repeat(32), pad: 'x'.repeat(20000) }), { 'content-type': 'application/json' }, 413, 'too_large'],
  ];
  for (const [body, headers, status, code] of cases) {
    const r = await post(body, headers);
    assert.equal(r.status, status, `${body.slice(0, 40)}: ${r.text}`);
    assert.equal(r.json.error.code, code);
    assert.equal(r.json.error.status, status);
    assert.equal(typeof r.json.error.message, 'string');
  }
});

let pdqReceipt;

test('confirm: clean and matching hashes, exact and PDQ, with signed receipts', async () => {
  const e = EXPECTED[LISTED];
  const confirm = (body) => w.call('POST', '/v1/confirm', { body, key: acme });
  const clean = await confirm({ sha256: '11'.repeat(32), md5: '22'.repeat(16) });
  assert.equal(clean.status, 200);
  assert.deepEqual([clean.json.verdict, clean.json.matches, clean.json.receipts], ['clean', [], []]);
  assert.equal(clean.json.set_version, 100);

  const exact = await confirm({ sha256: e.sha256, md5: e.md5, sha1: e.sha1 });
  assert.equal(exact.json.verdict, 'match');
  assert.deepEqual(exact.json.matches.map((m) => [m.kind, m.list, m.category, m.distance]).sort(),
    [['md5', 'v100', 'test', 0], ['sha1', 'v100', 'test', 0], ['sha256', 'v100', 'test', 0]]);
  assert.equal(exact.json.receipts.length, 3);
  for (const m of exact.json.matches) assert.match(m.receipt_id, /^[0-9a-f]{32}$/);
  assert.ok(!('value' in exact.json.matches[0]), 'the listed value stays private');

  // A PDQ a few bits away (the CMYK encoding of the same scene), as the browser would send it.
  const near = await confirm({ pdq: EXPECTED['scene-cmyk.jpg'].pdq_fast, quality: 87 });
  assert.equal(near.json.verdict, 'match');
  assert.equal(near.json.matches[0].kind, 'pdq');
  assert.ok(near.json.matches[0].distance > 0 && near.json.matches[0].distance <= 31);
  // The dihedral variants: the listed hash in the rot270 position.
  const variants = Array.from({ length: 8 }, (_, i) => (i === 3 ? LISTED_PDQ : (i + 1).toString(16).repeat(64)));
  const rotated = await confirm({ pdq: variants[0], pdq_dihedral: variants, quality: 90 });
  assert.equal(rotated.json.verdict, 'match');
  assert.equal(rotated.json.matches[0].variant, 'rot270');
  pdqReceipt = rotated.json.receipts[0];
  assert.equal(pdqReceipt.value, variants[0], 'the receipt records the checked hash');
  assert.equal(pdqReceipt.variant, 'rot270');
  // Low quality: PDQ is not trusted.
  const low = await confirm({ pdq: LISTED_PDQ, quality: 10 });
  assert.equal(low.json.verdict, 'clean');
});

test('scan: the worker hashes image bytes', async () => {
  const scan = (name, type = 'image/jpeg', key = acme) => w.call('POST', '/v1/scan', { body: fixture(name), headers: { 'content-type': type }, key });
  const listed = await scan(LISTED);
  assert.equal(listed.status, 200);
  assert.equal(listed.json.verdict, 'match');
  assert.deepEqual(listed.json.matches.map((m) => m.kind).sort(), ['md5', 'pdq', 'sha1', 'sha256']);
  assert.equal(listed.json.hashes.pdq, LISTED_PDQ);
  assert.equal(listed.json.hashes.sha256, EXPECTED[LISTED].sha256);
  // Other encodings of the same scene: PDQ only, same hash as the CLI computes.
  for (const [name, type] of [['scene-lossy.webp', 'image/webp'], ['scene-rgb.png', 'image/png'], ['scene.gif', 'image/gif']]) {
    const r = await scan(name, type);
    assert.equal(r.json.verdict, 'match', name);
    assert.deepEqual(r.json.matches.map((m) => [m.kind, m.distance]), [['pdq', 0]], name);
    assert.equal(r.json.hashes.pdq, EXPECTED[name].pdq_fast, name);
  }
  const clean = await scan('odd-size-251x187.jpg', 'application/octet-stream');
  assert.equal(clean.status, 200);
  assert.equal(clean.json.verdict, 'clean');
  assert.equal(clean.json.hashes.pdq, EXPECTED['odd-size-251x187.jpg'].pdq_fast);
  assert.equal(clean.json.hashes.width, 251);
  const large = await scan('large-1600x1200.jpg');
  assert.equal(large.json.hashes.pdq, EXPECTED['large-1600x1200.jpg'].pdq_fast);
});

test('scan: corrupt, unsupported, empty, mistyped and oversized uploads', async () => {
  const post = (body, type) => w.call('POST', '/v1/scan', { body, headers: { 'content-type': type }, key: acme });
  const truncated = await post(fixture('truncated.jpg'), 'image/jpeg');
  assert.equal(truncated.status, 422);
  assert.equal(truncated.json.verdict, 'clean');
  assert.deepEqual(truncated.json.checked, ['md5', 'sha1', 'sha256']);
  assert.equal(truncated.json.error.code, 'bad_input');
  assert.match(truncated.json.error.message, /truncated/);
  const text = await post(fixture('not-an-image.jpg'), 'image/jpeg');
  assert.equal(text.status, 422);
  assert.match(text.json.error.message, /not a supported image/);
  const tiff = await post(Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(200)]), 'image/tiff');
  assert.equal(tiff.status, 415, tiff.text);
  assert.equal(tiff.json.error.code, 'unsupported');
  const empty = await post(Buffer.alloc(0), 'image/jpeg');
  assert.equal(empty.status, 422);
  const json = await post(fixture(LISTED), 'application/json');
  assert.equal(json.status, 415);
  const big = await post(Buffer.alloc(1_200_000, 1), 'image/jpeg');
  assert.equal(big.status, 413);
  assert.equal(big.json.error.code, 'too_large');
  // Without Content-Length the limit is enforced while the body streams in.
  const streamed = await w.call('POST', '/v1/scan', { body: Buffer.alloc(1_200_000, 1), headers: { 'content-type': 'image/jpeg' }, key: acme, chunked: true });
  assert.equal(streamed.status, 413);
  assert.equal(streamed.json.error.code, 'too_large');
  // An exact match stands even when the bytes do not decode.
  const cut = fixture(LISTED);
  const truncatedListed = await post(cut.subarray(0, cut.length - 2), 'image/jpeg');
  assert.equal(truncatedListed.status, 422, 'the truncated copy has other exact hashes');
});

function canonical(receipt) {
  // RFC 8785 for this shape: sorted keys, no whitespace, JSON.stringify's string escaping.
  const { signature, ...body } = receipt;
  return `{${Object.keys(body).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(body[k])}`).join(',')}}`;
}

function ed25519(secretHex, publicHex) {
  const d = Buffer.from(secretHex, 'hex').toString('base64url');
  const x = Buffer.from(publicHex, 'hex').toString('base64url');
  return {
    private: createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x }, format: 'jwk' }),
    public: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }),
  };
}

const message = (r) => Buffer.concat([Buffer.from('schoon receipt v1\0'), Buffer.from(canonical(r))]);

test('receipts verify, offline and through the worker; forged and altered ones do not', async () => {
  const key = await w.call('GET', '/v1/receipts/key');
  assert.equal(key.json.public_key, receiptKey.publicHex);
  assert.equal(key.json.algorithm, 'Ed25519');
  // Offline, with Node's Ed25519 and a canonical form written independently of the Rust one.
  const keys = ed25519(receiptKey.secretHex, receiptKey.publicHex);
  assert.ok(verify(null, message(pdqReceipt), keys.public, Buffer.from(pdqReceipt.signature, 'hex')));

  const check = (receipt) => w.call('POST', '/v1/receipts/verify', { body: receipt });
  const good = await check(pdqReceipt);
  assert.equal(good.status, 200);
  assert.deepEqual([good.json.valid, good.json.stored], [true, true]);
  const altered = await check({ ...pdqReceipt, distance: pdqReceipt.distance + 1 });
  assert.deepEqual([altered.json.valid, altered.json.stored], [false, false]);
  assert.match(altered.json.reason, /does not verify/);
  // A receipt forged with another key, even claiming the worker's key id.
  const other = ed25519(otherKey.secretHex, otherKey.publicHex);
  const forged = { ...pdqReceipt, id: 'ab'.repeat(16), tenant: 'mallory' };
  forged.signature = sign(null, message(forged), other.private).toString('hex');
  const f = await check(forged);
  assert.equal(f.json.valid, false);
  assert.equal((await check({ ...forged, key_id: 'ff'.repeat(16) })).json.valid, false);
  assert.equal((await w.call('POST', '/v1/receipts/verify', { body: '{"id":', headers: { 'content-type': 'application/json' } })).status, 400);
  assert.equal((await check({ id: 'x' })).status, 422);

  const stored = await w.call('GET', `/v1/receipts/${pdqReceipt.id}`, { key: acme });
  assert.equal(stored.status, 200);
  assert.equal(stored.json.valid, true);
  assert.equal(stored.json.status, 'open');
  assert.deepEqual(stored.json.receipt, pdqReceipt);
  assert.equal((await w.call('GET', `/v1/receipts/${'0'.repeat(32)}`, { key: acme })).status, 404);
  assert.equal((await w.call('GET', `/v1/receipts/${pdqReceipt.id}`, { key: beta })).status, 404, "another tenant's receipt is not found");
  assert.equal((await w.call('GET', `/v1/receipts/${pdqReceipt.id}`, { key: acmeBrowser })).status, 403, 'browser keys only check');
  assert.equal((await w.call('GET', `/v1/receipts/${pdqReceipt.id}`, { key: ADMIN_KEY })).status, 200);
});

test('follow-up end to end: record, report, list, statistics as JSON and CSV', async () => {
  const id = pdqReceipt.id;
  const follow = (body, key = acme) => w.call('POST', `/v1/receipts/${id}/follow-up`, { body, key });
  assert.equal((await follow({ status: 'open' })).status, 422);
  assert.equal((await follow({ status: 'gone' })).status, 422);
  assert.equal((await follow({ status: 'removed' }, beta)).status, 404);
  assert.equal((await follow({ status: 'removed' }, acmeBrowser)).status, 403);
  const disputed = await follow({ status: 'disputed', note: 'looks like a landscape' });
  assert.equal(disputed.status, 200);
  const removed = await follow({ status: 'removed', note: 'taken down' });
  assert.equal(removed.json.status, 'removed');
  assert.deepEqual(removed.json.follow_ups.map((f) => [f.status, f.note]), [['disputed', 'looks like a landscape'], ['removed', 'taken down']]);
  assert.equal(removed.json.valid, true, 'follow-ups do not touch the signed receipt');

  const report = await w.call('GET', `/v1/receipts/${id}/report`, { key: acme });
  assert.equal(report.status, 200);
  assert.equal(report.json.schema, 'schoon.hit-report.v1');
  assert.equal(report.json.reporter.tenant, 'acme');
  assert.deepEqual(report.json.detection.hash, { kind: 'pdq', value: pdqReceipt.value });
  assert.equal(report.json.detection.match.list, 'v100');
  assert.equal(report.json.detection.match.threshold, 31);
  assert.equal(report.json.follow_up.status, 'removed');
  assert.equal(report.json.verification.valid, true);
  assert.equal(report.json.verification.issuer.public_key, receiptKey.publicHex);
  assert.deepEqual(report.json.receipt, pdqReceipt);

  // The other receipts stay open; OPEN_RECEIPT_SECONDS is 1 here, so they become overdue.
  await new Promise((r) => setTimeout(r, 1100));
  const open = await w.call('GET', '/v1/receipts?status=open', { key: acme });
  assert.equal(open.status, 200);
  assert.ok(open.json.receipts.length >= 4);
  assert.ok(open.json.receipts.every((r) => r.status === 'open' && r.overdue));
  const csv = await w.call('GET', '/v1/receipts?status=removed&format=csv', { key: acme });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /^text\/csv/);
  const rows = csv.text.trim().split('\r\n');
  assert.equal(rows[0], 'id,issued,status,kind,list,distance,age_seconds,overdue');
  assert.equal(rows.length, 2);
  assert.ok(rows[1].startsWith(`${id},`));
  assert.equal((await w.call('GET', '/v1/receipts?status=bogus', { key: acme })).status, 422);

  const stats = await w.call('GET', '/v1/stats', { key: acme });
  assert.equal(stats.status, 200);
  const c = stats.json.counters;
  assert.ok(c.checks >= 10, JSON.stringify(c));
  assert.ok(c.matches >= 5 && c.receipts >= 8, JSON.stringify(c));
  assert.deepEqual([c.removed, c.disputed], [1, 1]);
  assert.ok(stats.json.receipts.open >= 4);
  assert.equal(stats.json.receipts.overdue, stats.json.receipts.open);
  const statsCsv = await w.call('GET', '/v1/stats', { key: acme, headers: { accept: 'text/csv' } });
  const lines = statsCsv.text.trim().split('\r\n');
  assert.equal(lines[0], 'tenant,day,checks,matches,receipts,removed,disputed,open,overdue');
  assert.ok(lines.at(-1).startsWith('acme,total,'));
  const admin = await w.call('GET', '/v1/admin/stats?format=csv', { key: ADMIN_KEY });
  assert.equal(admin.status, 200);
  assert.ok(admin.text.includes('\r\nacme,total,'));
  assert.equal((await w.call('GET', '/v1/stats', { key: acmeBrowser })).status, 403);
  const beta_stats = await w.call('GET', '/v1/stats', { key: beta });
  assert.equal(beta_stats.json.counters.checks, 0, "tenants see only their own counts");
});

test('rate limits per tenant answer 429 with Retry-After', async () => {
  const slow = await tenant(w, 'slow', { rate_per_minute: 2, burst: 2 });
  const body = { sha256: '00'.repeat(32) };
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await w.call('POST', '/v1/confirm', { body, key: slow })).status);
  assert.deepEqual(statuses, [200, 200, 429, 429]);
  const r = await w.call('POST', '/v1/confirm', { body, key: slow });
  assert.equal(r.json.error.code, 'rate_limited');
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  // Other tenants are not affected.
  assert.equal((await w.call('POST', '/v1/confirm', { body, key: beta })).status, 200);
});

test('version 200: newer sets and a delta publish, older ones are refused', async () => {
  const put = (p, body) => w.call('PUT', p, { body, headers: octet, key: ADMIN_KEY });
  assert.equal((await put('/v1/admin/index', v200.indexBytes)).status, 201);
  const older = await put('/v1/admin/index', v100.indexBytes);
  assert.equal(older.status, 409);
  assert.equal(older.json.error.code, 'stale');
  const early = await put('/v1/admin/filter/delta', v200.deltaBytes);
  assert.equal(early.status, 409, 'the delta leads to a filter not yet published');
  assert.equal((await put('/v1/admin/filter', v200.filterBytes)).status, 201);
  assert.equal((await put('/v1/admin/filter', v100.filterBytes)).status, 409);
  const delta = await put('/v1/admin/filter/delta', v200.deltaBytes);
  assert.equal(delta.status, 201, delta.text);
  assert.equal(delta.json.url, '/v1/filter/delta/100/200');
  assert.equal((await put('/v1/admin/filter/delta', v200.filterBytes)).status, 422);

  const meta = await w.call('GET', '/v1/filter/meta');
  assert.equal(meta.json.version, 200);
  assert.deepEqual(meta.json.deltas.map((d) => [d.base_version, d.version, d.url]), [[100, 200, '/v1/filter/delta/100/200']]);
  const d = await w.call('GET', '/v1/filter/delta/100/200');
  assert.deepEqual(d.bytes, v200.deltaBytes);
  assert.equal(d.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const old = await w.call('GET', '/v1/filter/100');
  assert.deepEqual(old.bytes, v100.filterBytes, 'old versions stay servable');
  assert.equal((await w.call('GET', '/v1/filter')).headers.get('location'), '/v1/filter/200');

  const bmp = EXPECTED['small-160x120.bmp'];
  const r = await w.call('POST', '/v1/confirm', { body: { sha256: bmp.sha256 }, key: acme });
  assert.equal(r.json.verdict, 'match');
  assert.equal(r.json.set_version, 200);
});

test('health answers 503 for a stale set, and a misconfigured worker says why', async () => {
  const stale = await startWorker(bindings(setKey, receiptKey, { MAX_SET_AGE_SECONDS: '1' }));
  try {
    await publish(stale, v100);
    await new Promise((r) => setTimeout(r, 2100));
    const h = await stale.call('GET', '/v1/health');
    assert.equal(h.status, 503);
    assert.equal(h.json.status, 'stale');
  } finally {
    await stale.dispose();
  }
  const broken = await startWorker({ SET_PUBLIC_KEY: setKey.publicHex });
  try {
    const h = await broken.call('GET', '/v1/health');
    assert.equal(h.status, 503);
    assert.match(h.json.error.message, /RECEIPT_SIGNING_KEY is not set/);
  } finally {
    await broken.dispose();
  }
});

test('CORS: the filter is public, checks only for configured origins', async () => {
  const cors = await startWorker(bindings(setKey, receiptKey, { CORS_ORIGINS: 'https://shop.example' }));
  try {
    const pre = await cors.call('OPTIONS', '/v1/confirm', { headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.match(pre.headers.get('access-control-allow-headers'), /authorization/);
    const other = await cors.call('OPTIONS', '/v1/confirm', { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  } finally {
    await cors.dispose();
  }
});

test('the embedded demo set: the worker gives the CLI\'s verdicts on every example picture', async () => {
  const assets = path.join(REPO, 'crates', 'schoon-cli', 'assets');
  const demoPub = readFileSync(path.join(assets, 'default.pub'), 'utf8').split('\n').find((l) => l && !l.startsWith('#')).trim();
  const demo = await startWorker(bindings({ publicHex: demoPub }, receiptKey));
  try {
    const set = { indexBytes: readFileSync(path.join(assets, 'default.index')), filterBytes: readFileSync(path.join(assets, 'default.filter')) };
    const published = await publish(demo, set);
    assert.equal(published.index.status, 201, published.index.text);
    assert.equal(published.filter.status, 201, published.filter.text);
    const key = await tenant(demo, 'demo');
    const cli = schoonScan(path.join(REPO, 'examples')).filter((r) => r.verdict !== 'error');
    assert.ok(cli.length >= 13);
    const summary = (matches) => matches.map((m) => `${m.kind}:${m.distance}`).sort().join(',');
    for (const expect of cli) {
      const r = await demo.call('POST', '/v1/scan', { body: readFileSync(expect.path), headers: { 'content-type': 'application/octet-stream' }, key });
      assert.equal(r.status, 200, `${expect.path}: ${r.text}`);
      assert.equal(r.json.verdict, expect.verdict, expect.path);
      assert.equal(summary(r.json.matches), summary(expect.matches), expect.path);
    }
  } finally {
    await demo.dispose();
  }
});
