// The worker's side of scripts/bench-scale: publishes a sharded index (`schoon build
// --out-shards`) to the built worker on local workerd (Miniflare, with the IndexShard Durable
// Objects and R2), then measures POST /v1/confirm under bounded closed-loop load over HTTP on
// 127.0.0.1 and prints one JSON line: publish time, first (cold) query, p50/p99 per query kind,
// verdict counts (every near copy of a listed hash must match, every random hash be clean) and
// the bytes each shard's Durable Object holds (its `x-schoon-shard-memory`).
//
//   node test/scale-bench.mjs SHARD_DIR LISTS_DIR SET_KEY_HEX_PUB [SECONDS] [CONNECTIONS]
//
// SHARD_DIR may instead be a whole index file (`schoon build --out-index`): the peer, held
// whole by the worker's isolate as before sharding.
// LISTS_DIR holds the `cargo xtask lists` files the set was built from (listed hashes are
// sampled from them).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_KEY, WORKER, bindings, keygen, startWorker, tempDir, tenant } from './helpers.mjs';
import { percentile } from './load.mjs';

const [shardDir, listsDir, setPub, secondsArg, connArg] = process.argv.slice(2);
const seconds = Math.min(60, Number(secondsArg ?? 10));
const connections = Number(connArg ?? 4);

/** The first `count` lines of a list file (listed values to query). */
function sample(file, count) {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(count * 80);
  const n = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  return buf.subarray(0, n).toString('utf8').split('\n').slice(0, count).filter((l) => /^[0-9a-f]+$/.test(l));
}

function flip(hex, bits) {
  const b = Buffer.from(hex, 'hex');
  for (let i = 0; i < bits; i++) {
    const k = Math.floor(Math.random() * 256);
    b[k >> 3] ^= 0x80 >> (k & 7);
  }
  return b.toString('hex');
}

const randomHex = (n) => randomBytes(n).toString('hex');

const pdq = sample(path.join(listsDir, 'pdq.txt'), 20000);
const sha = sample(path.join(listsDir, 'sha256.txt'), 20000);
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const kinds = {
  // A near copy of a listed picture with the 8 dihedral hashes a browser sends.
  pdq_near: () => ({ pdq_dihedral: [flip(pick(pdq), 10), ...Array.from({ length: 7 }, () => randomHex(32))], quality: 90 }),
  pdq_clean: () => ({ pdq_dihedral: Array.from({ length: 8 }, () => randomHex(32)), quality: 90 }),
  exact_listed: () => ({ sha256: pick(sha) }),
  exact_clean: () => ({ sha256: randomHex(32) }),
};
const expect = { pdq_near: 'match', pdq_clean: 'clean', exact_listed: 'match', exact_clean: 'clean' };

const dir = tempDir('schoon-scale-');
const receipt = keygen(dir, 'receipt');
const w = await startWorker(bindings({ publicHex: setPub }, receipt, { SET_REFRESH_SECONDS: '30' }), { port: 0 });
try {
  let t = Date.now();
  const wholeIndex = statSync(shardDir).isFile();
  if (wholeIndex) {
    const body = readFileSync(shardDir);
    const r = await fetch(`${w.base}/v1/admin/index`, { method: 'PUT', body, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/octet-stream' } });
    if (r.status !== 201) throw new Error(`publish: ${r.status} ${await r.text()}`);
  } else {
    const pub = spawnSync(process.execPath, [path.join(WORKER, 'scripts', 'publish-shards.mjs'), shardDir, w.base], {
      encoding: 'utf8', env: { ...process.env, SCHOON_ADMIN_KEY: ADMIN_KEY }, maxBuffer: 1 << 26,
    });
    if (pub.status !== 0) throw new Error(`publish: ${pub.stderr}`);
  }
  const publishMs = Date.now() - t;
  console.error(`published in ${publishMs} ms`);
  const key = await tenant(w, 'bench', { rate_per_minute: 0 });
  const confirm = async (body) => {
    const started = performance.now();
    try {
      const r = await fetch(`${w.base}/v1/confirm`, {
        method: 'POST', body: JSON.stringify(body),
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      });
      const json = await r.json();
      return { status: r.status, verdict: json.verdict, error: json.error?.message, ms: performance.now() - started };
    } catch (e) {
      return { status: 0, error: `${e.message}: ${e.cause?.message ?? ''}`, ms: performance.now() - started };
    }
  };
  t = Date.now();
  const cold = await confirm(kinds.pdq_near());
  const coldMs = Date.now() - t;
  if (cold.status !== 200) throw new Error(`first query: ${cold.status} ${cold.error}`);
  const st = await (await fetch(`${w.base}/v1/admin/status`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
  console.error(`first query (every shard loads) in ${coldMs} ms; wasm memory ${st.wasm_memory_bytes} bytes`);
  const latencies = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const verdicts = {};
  const names = Object.keys(kinds);
  const deadline = Date.now() + seconds * 1000;
  let i = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < deadline) {
      const kind = names[i++ % names.length];
      const r = await confirm(kinds[kind]());
      latencies[kind].push(r.ms);
      const v = `${kind}:${r.status === 200 ? r.verdict : r.status}`;
      if (r.status !== 200 && !verdicts[v]) console.error(`${kind}: ${r.status} ${r.error}`);
      verdicts[v] = (verdicts[v] ?? 0) + 1;
    }
  }));
  // What each shard's Durable Object holds (the real runtime's figure).
  const count = wholeIndex ? 0 : readdirSync(shardDir).filter((f) => f.startsWith('shard-')).length;
  const ns = await w.mf.getDurableObjectNamespace('SCHOON_SHARDS');
  const status = await (await fetch(`${w.base}/v1/admin/status`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json();
  const version = status.pointer.index.version;
  const held = wholeIndex ? [status.held_index.memory_bytes] : [];
  for (let n = 0; n < count; n++) {
    const stub = ns.get(ns.idFromName(`v${version}-shard-${n}`));
    const r = await stub.fetch(`https://shard.internal/answer?version=${version}&shard=${n}`, { method: 'POST', body: JSON.stringify({ sha256: randomHex(32) }) });
    await r.text();
    held.push(Number(r.headers.get('x-schoon-shard-memory')));
  }
  const all = Object.values(latencies).flat().sort((a, b) => a - b);
  const fig = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return { n: s.length, p50_ms: +percentile(s, 50).toFixed(2), p99_ms: +percentile(s, 99).toFixed(2) };
  };
  const wrong = Object.entries(verdicts).filter(([k]) => { const [kind, v] = k.split(':'); return v !== expect[kind]; });
  console.log(JSON.stringify({
    shards: wholeIndex ? 'whole index' : count,
    publish_ms: publishMs,
    first_query_ms: coldMs,
    connections,
    seconds,
    confirm: fig(all),
    ...Object.fromEntries(Object.entries(latencies).map(([k, v]) => [k, fig(v)])),
    verdicts,
    wrong_verdicts: wrong.length,
    shard_memory_max_bytes: Math.max(...held),
    shard_memory_total_bytes: held.reduce((a, b) => a + b, 0),
    front_wasm_memory_bytes: status.wasm_memory_bytes,
  }));
  if (wrong.length) process.exitCode = 1;
} finally {
  await w.dispose();
}
