#!/usr/bin/env node
// Publishes a sharded index that `schoon build --out-shards DIR` wrote: every shard
// (PUT /v1/admin/shards/{n}, four at a time), then the manifest (PUT /v1/admin/shards/manifest),
// which the worker accepts only when every shard it names was uploaded with the checksum it
// records, and which makes the version current in one step.
//
//   SCHOON_ADMIN_KEY=... node scripts/publish-shards.mjs DIR https://schoon.example.workers.dev
//
// Prints one line per shard and the worker's answer to the manifest; exits 1 on any refusal.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const [dir, url] = process.argv.slice(2);
const key = process.env.SCHOON_ADMIN_KEY;
if (!dir || !url || !key) {
  console.error('usage: SCHOON_ADMIN_KEY=... node scripts/publish-shards.mjs DIR WORKER_URL');
  process.exit(2);
}
const base = url.replace(/\/$/, '');
const shards = readdirSync(dir)
  .map((f) => /^shard-(\d+)\.schoon$/.exec(f))
  .filter(Boolean)
  .map((m) => ({ n: Number(m[1]), file: path.join(dir, m[0]) }))
  .sort((a, b) => a.n - b.n);
if (shards.length === 0) {
  console.error(`${dir}: no shard-NNNN.schoon files (schoon build --out-shards writes them)`);
  process.exit(2);
}

async function put(route, file) {
  const body = readFileSync(file);
  const r = await fetch(`${base}${route}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
    body,
  });
  const text = await r.text();
  if (r.status !== 200 && r.status !== 201) throw new Error(`${route}: ${r.status} ${text}`);
  return JSON.parse(text);
}

try {
  let next = 0;
  const worker = async () => {
    while (next < shards.length) {
      const { n, file } = shards[next++];
      const v = await put(`/v1/admin/shards/${n}`, file);
      console.log(`shard ${n}/${v.shards}: ${v.size} bytes, version ${v.version}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const m = await put('/v1/admin/shards/manifest', path.join(dir, 'manifest.schoon'));
  console.log(JSON.stringify(m));
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
