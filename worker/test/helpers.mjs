// Shared helpers of the worker tests: the built worker on real workerd (Miniflare), keys and
// sets made with the `schoon` CLI, the project's fixtures.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';

export const WORKER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(WORKER, '..');
export const FIXTURES = path.join(REPO, 'tests', 'fixtures');

/** The `schoon` binary built by scripts/test.sh (SCHOON_CLI overrides). */
export function cliPath() {
  if (process.env.SCHOON_CLI) return process.env.SCHOON_CLI;
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
  return path.join(target, 'release', 'schoon');
}

export function schoon(...args) {
  return execFileSync(cliPath(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `schoon scan` output as objects (exit status 1 means "found", not failure). */
export function schoonScan(...paths) {
  const r = spawnSync(cliPath(), ['scan', ...paths], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1 && r.status !== 2) throw new Error(`schoon scan: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function tempDir(prefix = 'schoon-worker-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A fresh Ed25519 key pair from `schoon keygen`: the file paths and the hex forms. */
export function keygen(dir, name) {
  const file = path.join(dir, name);
  schoon('keygen', '--out', file);
  const hex = (p) => readFileSync(p, 'utf8').split('\n').find((l) => l && !l.startsWith('#')).trim();
  return { file, pub: `${file}.pub`, secretHex: hex(file), publicHex: hex(`${file}.pub`) };
}

export const fixture = (name) => readFileSync(path.join(FIXTURES, name));

/** expected.csv as objects keyed by file name. */
export function expected() {
  const lines = readFileSync(path.join(FIXTURES, 'expected.csv'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  const header = lines.shift().split(',');
  return Object.fromEntries(lines.map((l) => {
    const cells = l.split(',');
    return [cells[0], Object.fromEntries(header.map((h, i) => [h, cells[i]]))];
  }));
}

/**
 * Builds an index and a filter with `schoon build` from fixture images (exact hashes and PDQ)
 * and optional extra list files. Returns the file paths and bytes.
 */
export function buildSet(dir, { name, images = [], key, version, extra = [], deltaFrom, base, from = FIXTURES } = {}) {
  const images_dir = path.join(dir, `${name}-images`);
  mkdirSync(images_dir, { recursive: true });
  for (const img of images) copyFileSync(path.join(from, img), path.join(images_dir, path.basename(img)));
  const index = path.join(dir, `${name}.index`);
  const filter = path.join(dir, `${name}.filter`);
  const args = ['build', '--images', images_dir, '--name', name, '--category', 'test', '--out-index', index, '--out-filter', filter];
  if (key) args.push('--signing-key', key.file); else args.push('--unsigned');
  if (version) args.push('--set-version', String(version));
  if (base) args.push('--base-index', base);
  let delta;
  if (deltaFrom) {
    delta = path.join(dir, `${name}.delta`);
    args.push('--delta-from', deltaFrom, '--out-delta', delta);
  }
  args.push(...extra);
  schoon(...args);
  return {
    index, filter, delta,
    indexBytes: readFileSync(index),
    filterBytes: readFileSync(filter),
    deltaBytes: delta ? readFileSync(delta) : undefined,
  };
}

export const sha256hex = (data) => createHash('sha256').update(data).digest('hex');

export const ADMIN_KEY = 'admin-key-for-tests-only';

/** Worker variables for a test instance (strings, as wrangler passes them). */
export function bindings(setKey, receiptKey, overrides = {}) {
  return {
    SET_PUBLIC_KEY: setKey.publicHex,
    RECEIPT_SIGNING_KEY: receiptKey.secretHex,
    ADMIN_KEY_SHA256: sha256hex(ADMIN_KEY),
    SET_REFRESH_SECONDS: '0',
    ...overrides,
  };
}

/**
 * The built worker (build/index.js) on workerd through Miniflare, with in-memory KV and R2 and
 * the rate-limit binding. `port` makes it listen on 127.0.0.1 (for load tests); `persist` keeps
 * KV and R2 in a directory so a second instance starts cold on the same data.
 */
export async function startWorker(vars, { port, ratelimit = 100000, persist, miniflare = {} } = {}) {
  const script = path.join(WORKER, 'build', 'index.js');
  if (!existsSync(script)) throw new Error('build/index.js is missing: run scripts/build.sh');
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: path.join(WORKER, 'build'),
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2025-09-01',
    kvNamespaces: ['SCHOON_KV'],
    r2Buckets: ['SCHOON_R2'],
    // The IndexShard Durable Objects of sharded indexes (wrangler.toml).
    durableObjects: { SCHOON_SHARDS: { className: 'IndexShard', useSQLite: true } },
    ratelimits: { SCHOON_RATE_LIMITER: { simple: { limit: ratelimit, period: 60 } } },
    bindings: vars,
    ...(persist ? { kvPersist: path.join(persist, 'kv'), r2Persist: path.join(persist, 'r2'), durableObjectsPersist: path.join(persist, 'do') } : {}),
    ...(port !== undefined ? { host: '127.0.0.1', port } : {}),
    ...miniflare,
  });
  const base = port !== undefined ? (await mf.ready).toString().replace(/\/$/, '') : 'http://worker.test';
  const call = async (method, p, { body, headers = {}, key, chunked = false } = {}) => {
    const h = { ...headers };
    if (key) h.authorization = `Bearer ${key}`;
    let payload = body;
    if (body !== undefined && !(body instanceof Uint8Array) && typeof body !== 'string') {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    // Miniflare's dispatchFetch would send a buffer chunked; real clients declare its length.
    if (payload !== undefined && !chunked) h['content-length'] ??= String(Buffer.byteLength(payload));
    const res = await mf.dispatchFetch(`${base}${p}`, { method, headers: h, body: payload, redirect: 'manual' });
    const bytes = Buffer.from(await res.arrayBuffer());
    let json;
    try { json = JSON.parse(bytes.toString('utf8')); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, bytes, json, text: bytes.toString('utf8') };
  };
  return { mf, base, call, dispose: () => mf.dispose() };
}

/** Publishes an index and a filter with the admin key. */
export async function publish(w, set) {
  const put = (p, bytes) => w.call('PUT', p, { body: bytes, key: ADMIN_KEY, headers: { 'content-type': 'application/octet-stream' } });
  const i = await put('/v1/admin/index', set.indexBytes);
  const f = await put('/v1/admin/filter', set.filterBytes);
  return { index: i, filter: f };
}

/** Creates a tenant and returns a key of the given scope. */
export async function tenant(w, id, settings = {}, scope = 'server') {
  const t = await w.call('PUT', `/v1/admin/tenants/${id}`, { body: settings, key: ADMIN_KEY });
  if (t.status !== 201 && t.status !== 200) throw new Error(`tenant ${id}: ${t.status} ${t.text}`);
  const k = await w.call('POST', `/v1/admin/tenants/${id}/keys`, { body: { scope }, key: ADMIN_KEY });
  if (k.status !== 201) throw new Error(`key for ${id}: ${k.status} ${k.text}`);
  return k.json.api_key;
}

export function writeJson(file, value) {
  writeFileSync(file, JSON.stringify(value, null, 2));
}

// Receipt and bulk-check helpers (test/check.test.mjs).
import { createPublicKey, verify } from 'node:crypto';

/**
 * Verifies a receipt offline with Node's Ed25519 and the issuer's public key (hex): the
 * signature covers "schoon receipt v1", NUL and the receipt without `signature` as canonical
 * JSON (sorted keys, no whitespace).
 */
export function receiptVerifies(receipt, publicHex) {
  const { signature, ...body } = receipt;
  const canonical = `{${Object.keys(body).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(body[k])}`).join(',')}}`;
  const x = Buffer.from(publicHex, 'hex').toString('base64url');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
  const message = Buffer.concat([Buffer.from('schoon receipt v1\0'), Buffer.from(canonical)]);
  return verify(null, message, key, Buffer.from(signature, 'hex'));
}

/** Posts NDJSON lines (objects or raw strings) to /v1/check; `lines` parses the answer. */
export async function bulkCheck(w, key, lines, { headers = {} } = {}) {
  const body = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
  const r = await w.call('POST', '/v1/check', { body, key, headers: { 'content-type': 'application/x-ndjson', ...headers } });
  const answer = r.status === 200 ? r.text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) : undefined;
  return { ...r, lines: answer };
}

// ---- bucket scanning and follow-up verification (queue.test.mjs, followup.test.mjs) --------
// (An import declaration anywhere at the top level is hoisted like those above.)
import { deflateSync } from 'node:zlib';

/** The queue names of wrangler.toml. */
export const SCAN_QUEUE = 'schoon-scan';
export const SCAN_DLQ = 'schoon-scan-dlq';
export const UPLOADS_BUCKET = 'hosting-uploads';

/**
 * The built worker on workerd with bucket scanning bound as in wrangler.toml: the uploads
 * bucket `SCHOON_UPLOADS`, the scan queue's producer `SCHOON_SCAN`, the consumers of the scan
 * queue (with a dead-letter queue after `maxRetries`) and of the dead-letter queue. `outbound`
 * answers every `fetch` the worker makes (Miniflare's outboundService). Returns what
 * startWorker returns plus the uploads bucket, a producer and `scheduled()`.
 */
export async function startBucketWorker(vars, { outbound, maxRetries = 2, maxBatchSize = 100 } = {}) {
  const w = await startWorker({ UPLOADS_BUCKET, ...vars }, {
    miniflare: {
      r2Buckets: { SCHOON_R2: 'schoon-sets', SCHOON_UPLOADS: UPLOADS_BUCKET },
      queueProducers: { SCHOON_SCAN: { queueName: SCAN_QUEUE } },
      queueConsumers: {
        [SCAN_QUEUE]: { maxBatchSize, maxBatchTimeout: 1, maxRetries, deadLetterQueue: SCAN_DLQ },
        [SCAN_DLQ]: { maxBatchSize, maxBatchTimeout: 1, maxRetries: 2 },
      },
      ...(outbound ? { outboundService: outbound } : {}),
    },
  });
  const { mf } = w;
  const uploads = await mf.getR2Bucket('SCHOON_UPLOADS');
  const producer = await mf.getQueueProducer('SCHOON_SCAN');
  const kv = await mf.getKVNamespace('SCHOON_KV');
  const scheduled = async (cron = '17 * * * *') => (await mf.getWorker()).scheduled({ cron, scheduledTime: new Date() });
  // The proxy wants a buffer of its own (a Node Buffer may be a view into a shared pool).
  const put = (key, bytes) => uploads.put(key, new Uint8Array(bytes));
  return { ...w, uploads, put, producer, kv, scheduled };
}

/** The R2 event notification body of an object-create (or other) action, as documented. */
export function notification(key, { size = 0, eTag = 'e', action = 'PutObject', bucket = UPLOADS_BUCKET } = {}) {
  return { account: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6', action, bucket, object: { key, size, eTag }, eventTime: new Date().toISOString() };
}

/** Sends messages to the scan queue in batches of 100 (the platform's batch limit). */
export async function sendAll(producer, bodies) {
  for (let i = 0; i < bodies.length; i += 100) {
    await producer.sendBatch(bodies.slice(i, i + 100).map((body) => ({ body })));
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool(items, limit, fn) {
  let next = 0;
  const run = async () => { while (next < items.length) { const i = next++; await fn(items[i], i); } };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/** Polls `probe` every `everyMs` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(probe, { timeoutMs = 120000, everyMs = 500, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A greyscale PNG of `width` x `height` whose pixels come from `pixel(x, y)` (0..255). */
export function greyPng(width, height, pixel) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = pixel(x, y) & 0xff;
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
