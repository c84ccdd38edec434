// Gate mode on real workerd: uploads under GATE_PREFIX are hashed; clean ones reach a local
// origin (a Node http server on 127.0.0.1) unchanged, matches are answered 451 and never sent.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { bindings, buildSet, fixture, keygen, publish, startWorker, tempDir } from './helpers.mjs';

const LISTED = 'scene-baseline-420.jpg';
let origin, seen, dir, setKey, receiptKey, set, w, strict;

function startOrigin() {
  seen = [];
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(201, { 'content-type': 'application/json', 'x-origin': 'yes' });
        res.end(JSON.stringify({ stored: true, bytes: Buffer.concat(chunks).length }));
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function form(boundary, parts) {
  const chunks = [];
  for (const p of parts) {
    const disposition = p.filename ? `form-data; name="${p.name}"; filename="${p.filename}"` : `form-data; name="${p.name}"`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.filename ? 'Content-Type: image/jpeg\r\n' : ''}\r\n`));
    chunks.push(Buffer.from(p.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

before(async () => {
  origin = await startOrigin();
  const url = `http://127.0.0.1:${origin.address().port}`;
  dir = tempDir();
  setKey = keygen(dir, 'set');
  receiptKey = keygen(dir, 'receipt');
  set = buildSet(dir, { name: 'gate', images: [LISTED], key: setKey, version: 10 });
  const gate = { GATE_PREFIX: '/upload', ORIGIN_URL: url, GATE_MAX_BYTES: '200000', GATE_TENANT: 'site', ORIGIN_SECRET: 'origin-shared-secret' };
  w = await startWorker(bindings(setKey, receiptKey, gate));
  strict = await startWorker(bindings(setKey, receiptKey, {
    ...gate, GATE_UNDECODABLE: 'reject', GATE_OVERSIZED: 'forward',
  }));
});

after(async () => {
  await w?.dispose();
  await strict?.dispose();
  origin?.close();
});

test('with no set loaded the gate refuses uploads (GATE_UNAVAILABLE=reject) and forwards nothing', async () => {
  const r = await w.call('POST', '/upload/photo', { body: fixture('odd-size-251x187.jpg'), headers: { 'content-type': 'image/jpeg' } });
  assert.equal(r.status, 503);
  assert.equal(seen.length, 0);
  assert.equal((await publish(w, set)).index.status, 201);
  assert.equal((await publish(strict, set)).index.status, 201);
});

test('a clean upload reaches the origin with its method, headers and body', async () => {
  seen.length = 0;
  const body = fixture('odd-size-251x187.jpg');
  const r = await w.call('PUT', '/upload/photo?album=7', {
    body, headers: { 'content-type': 'image/jpeg', 'x-upload-id': 'abc', 'x-schoon-verdict': 'forged-by-client', 'x-schoon-origin-secret': 'guess' },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get('x-origin'), 'yes');
  assert.deepEqual(r.json, { stored: true, bytes: body.length });
  assert.equal(seen.length, 1);
  const got = seen[0];
  assert.equal(got.method, 'PUT');
  assert.equal(got.url, '/upload/photo?album=7');
  assert.deepEqual(got.body, body);
  assert.equal(got.headers['x-upload-id'], 'abc');
  assert.equal(got.headers['content-type'], 'image/jpeg');
  assert.equal(got.headers['x-schoon-verdict'], 'clean', "the client's own verdict header is replaced");
  assert.equal(got.headers['x-schoon-set-version'], '10');
  assert.equal(got.headers['x-schoon-origin-secret'], 'origin-shared-secret');
});

test('a form with a clean file and fields is forwarded byte for byte', async () => {
  seen.length = 0;
  const body = form('----b0undary', [{ name: 'title', data: 'holiday' }, { name: 'photo', filename: 'a.jpg', data: fixture('large-1600x1200.jpg') }]);
  const r = await w.call('POST', '/upload/form', { body, headers: { 'content-type': 'multipart/form-data; boundary=----b0undary' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].body, body);
});

test('a listed upload is answered 451 with receipts and never forwarded', async () => {
  seen.length = 0;
  const raw = await w.call('POST', '/upload/photo', { body: fixture(LISTED), headers: { 'content-type': 'image/jpeg' } });
  assert.equal(raw.status, 451);
  assert.equal(raw.json.verdict, 'match');
  assert.ok(raw.json.receipts.length >= 1);
  assert.ok(raw.json.receipts.every((x) => x.tenant === 'site'));
  // Another encoding of the listed picture inside a form: found by PDQ.
  const body = form('xyz', [{ name: 'title', data: 'x' }, { name: 'photo', filename: 'b.webp', data: fixture('scene-lossy.webp') }]);
  const formed = await w.call('POST', '/upload/form', { body, headers: { 'content-type': 'multipart/form-data; boundary=xyz' } });
  assert.equal(formed.status, 451);
  assert.deepEqual(formed.json.matches.map((m) => m.kind), ['pdq']);
  assert.equal(seen.length, 0, 'nothing reached the origin');
  const receipt = raw.json.receipts[0];
  const v = await w.call('POST', '/v1/receipts/verify', { body: receipt });
  assert.equal(v.json.valid, true);
});

test('undecodable and oversized uploads follow the configured policies', async () => {
  seen.length = 0;
  // Defaults: undecodable forwarded as unchecked (exact hashes were checked), oversized refused.
  const t = await w.call('POST', '/upload/photo', { body: fixture('truncated.jpg'), headers: { 'content-type': 'image/jpeg' } });
  assert.equal(t.status, 201);
  assert.equal(seen.at(-1).headers['x-schoon-verdict'], 'unchecked');
  const big = Buffer.alloc(300_000, 7);
  const o = await w.call('POST', '/upload/photo', { body: big, headers: { 'content-type': 'image/jpeg' } });
  assert.equal(o.status, 413);
  assert.equal(seen.length, 1, 'the oversized upload was not forwarded');
  const m = await w.call('POST', '/upload/form', { body: Buffer.from('--b\r\nbroken'), headers: { 'content-type': 'multipart/form-data; boundary=b' } });
  assert.equal(m.status, 400);

  // GATE_UNDECODABLE=reject, GATE_OVERSIZED=forward.
  seen.length = 0;
  const t2 = await strict.call('POST', '/upload/photo', { body: fixture('truncated.jpg'), headers: { 'content-type': 'image/jpeg' } });
  assert.equal(t2.status, 422);
  assert.equal(seen.length, 0);
  const o2 = await strict.call('POST', '/upload/photo', { body: big, headers: { 'content-type': 'image/jpeg' } });
  assert.equal(o2.status, 201, o2.text);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers['x-schoon-verdict'], 'unchecked');
  assert.deepEqual(seen[0].body, big, 'forwarded unread and intact');
});

test('requests without a body pass through; other paths are not gated', async () => {
  seen.length = 0;
  const g = await w.call('GET', '/upload/list?page=2');
  assert.equal(g.status, 201);
  assert.equal(seen[0].method, 'GET');
  assert.equal(seen[0].headers['x-schoon-verdict'], 'none');
  assert.equal((await w.call('POST', '/uploads-elsewhere', { body: 'x', headers: { 'content-type': 'text/plain' } })).status, 404);
});
