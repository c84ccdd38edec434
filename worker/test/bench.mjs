// The worker's figures on local workerd (run by scripts/bench.sh, which builds what this needs):
//  1. POST /v1/confirm p50/p99 under a bounded load over HTTP on 127.0.0.1;
//  2. sequential wall time per POST /v1/scan for 0.3, 2 and 12 MP JPEGs (workerd does not
//     report CPU time locally: this is request wall time on the same machine, client included);
//  3. the bundle size wrangler would upload (gzip);
//  4. a 10^6-PDQ index: upload, wasm memory, cold load from R2, query times.
//
//   node test/bench.mjs IMAGES_DIR [LOAD_SECONDS]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { confirmLoad, loadTarget, percentile } from './load.mjs';
import { ADMIN_KEY, WORKER, bindings, keygen, schoon, startWorker, tempDir, tenant } from './helpers.mjs';

const imagesDir = process.argv[2];
const loadSeconds = Math.min(60, Number(process.argv[3] ?? 20));
const CORPUS = path.join(process.env.SCHOON_CORPUS ?? path.join(WORKER, '..', '..', 'shared', 'corpus'), 'pdq-reference/reg-test-input/exif-rotn');
const figures = [];
const note = (figure, value, how) => { figures.push({ figure, value, how }); console.log(`${figure}: ${value}`); };
const ms = (x) => `${x.toFixed(1)} ms`;

async function timed(n, f) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p90: percentile(times, 90), min: times[0] };
}

// 1 and 2: one worker over HTTP.
{
  const { w, key } = await loadTarget();
  try {
    await confirmLoad(w, key, { seconds: 1, connections: 2 });
    const load = await confirmLoad(w, key, { seconds: loadSeconds, connections: 16 });
    console.log(JSON.stringify(load));
    if (load.errors_5xx !== 0) throw new Error('5xx under load');
    note('/v1/confirm under load', `p50 ${load.p50_ms} ms, p99 ${load.p99_ms} ms (${load.rps} req/s, 16 connections, ${load.seconds} s, ${load.requests} requests, 0 5xx)`,
      `node test/load.mjs ${loadSeconds} 16`);

    const scan = async (bytes) => {
      const r = await fetch(`${w.base}/v1/scan`, { method: 'POST', body: bytes, headers: { authorization: `Bearer ${key}`, 'content-type': 'image/jpeg' } });
      const j = await r.json();
      if (r.status !== 200) throw new Error(`scan ${r.status} ${JSON.stringify(j)}`);
      return j;
    };
    const baseline = await timed(30, () => fetch(`${w.base}/v1/confirm`, {
      method: 'POST', body: JSON.stringify({ sha256: '00'.repeat(32) }),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    }).then((r) => r.arrayBuffer()));
    note('request overhead (a /v1/confirm of one SHA-256)', `median ${ms(baseline.median)}`, 'sequential, same connection');
    const files = [
      ['0.3 MP JPEG (640x480)', path.join(imagesDir, 'scene-0.3mp.jpg')],
      ['2 MP JPEG (1632x1224)', path.join(imagesDir, 'scene-2mp.jpg')],
    ];
    const corpus = existsSync(CORPUS) ? readdirSync(CORPUS).filter((f) => f.endsWith('.jpg')).sort() : [];
    for (const f of corpus) files.push([`12 MP JPEG (${f})`, path.join(CORPUS, f)]);
    for (const [label, file] of files) {
      const bytes = readFileSync(file);
      const first = await scan(bytes);
      const t = await timed(10, () => scan(bytes));
      note(`/v1/scan ${label}, ${(bytes.length / 1e6).toFixed(2)} MB`,
        `median ${ms(t.median)}, p90 ${ms(t.p90)} (pdq ${first.hashes.pdq.slice(0, 12)}…, ${first.hashes.width}x${first.hashes.height})`,
        'sequential wall time per request, 10 runs after one warm-up');
    }
    if (corpus.length === 0) console.log(`SKIPPED 12 MP scans: ${CORPUS} is absent`);
  } finally {
    await w.dispose();
  }
}

// 3: bundle size.
{
  const out = execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', 'dist'], {
    cwd: WORKER, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const m = out.match(/Total Upload: ([\d.]+ KiB) \/ gzip: ([\d.]+ KiB)/);
  note('bundle (wrangler deploy --dry-run)', m ? `${m[1]}, gzip ${m[2]}` : out.trim().split('\n').slice(-3).join(' '), 'npx wrangler deploy --dry-run --outdir dist');
}

// 4: a 10^6-PDQ index.
{
  const dir = tempDir('schoon-1m-');
  const setKey = keygen(dir, 'set');
  const receiptKey = keygen(dir, 'receipt');
  const list = path.join(dir, 'pdq.txt');
  const lines = [];
  for (let i = 0; i < 1_000_000; i++) lines.push(randomBytes(32).toString('hex'));
  writeFileSync(list, `${lines.join('\n')}\n`);
  const query = lines[123_456];
  const index = path.join(dir, 'big.index');
  schoon('build', '--pdq', list, '--no-pdq-filter', '--name', 'big', '--signing-key', setKey.file,
    '--set-version', '1', '--out-index', index, '--out-filter', path.join(dir, 'big.filter'));
  const bytes = readFileSync(index);
  const persist = path.join(dir, 'state');
  const vars = bindings(setKey, receiptKey, { SET_REFRESH_SECONDS: '30' });
  let w = await startWorker(vars, { persist });
  try {
    const t = performance.now();
    const up = await w.call('PUT', '/v1/admin/index', { body: bytes, key: ADMIN_KEY, headers: { 'content-type': 'application/octet-stream' } });
    if (up.status !== 201) throw new Error(`upload ${up.status} ${up.text}`);
    note('10^6 PDQ index: file', `${(bytes.length / 1e6).toFixed(1)} MB`, 'schoon build --pdq (36 bytes per entry)');
    note('10^6 PDQ index: upload + verify + store (PUT /v1/admin/index)', ms(performance.now() - t), 'one request');
    const status = (await w.call('GET', '/v1/admin/status', { key: ADMIN_KEY })).json;
    note('10^6 PDQ index: wasm linear memory after upload', `${(status.wasm_memory_bytes / 1e6).toFixed(1)} MB (index ${(status.held_index.memory_bytes / 1e6).toFixed(1)} MB, multi-index ${status.held_index.multi_index})`, 'GET /v1/admin/status');
    await tenant(w, 'bench', { rate_per_minute: 0 });
  } finally {
    await w.dispose();
  }
  // A fresh isolate on the same KV/R2: the first check loads the index from R2.
  w = await startWorker(vars, { persist });
  try {
    const keyRes = await w.call('POST', '/v1/admin/tenants/bench/keys', { body: {}, key: ADMIN_KEY });
    const key = keyRes.json.api_key;
    const confirm = async (body) => {
      const r = await w.call('POST', '/v1/confirm', { body, key });
      if (r.status !== 200) throw new Error(`confirm ${r.status} ${r.text}`);
      return r.json;
    };
    let t = performance.now();
    const first = await confirm({ sha256: '00'.repeat(32) });
    note('10^6 PDQ index: cold load from R2 + verify (first check of a new isolate)', ms(performance.now() - t), `verdict ${first.verdict}`);
    const status = (await w.call('GET', '/v1/admin/status', { key: ADMIN_KEY })).json;
    note('10^6 PDQ index: wasm linear memory after a cold load', `${(status.wasm_memory_bytes / 1e6).toFixed(1)} MB`, 'GET /v1/admin/status');
    const one = await timed(10, () => confirm({ pdq: query, quality: 90 }));
    const m = await confirm({ pdq: query, quality: 90 });
    if (m.verdict !== 'match') throw new Error('the listed PDQ did not match');
    note('10^6 PDQ index: /v1/confirm of one PDQ hash (linear scan)', `median ${ms(one.median)}, p90 ${ms(one.p90)}`, 'sequential wall time, 10 runs');
    const variants = Array.from({ length: 8 }, (_, i) => (i === 2 ? query : randomBytes(32).toString('hex')));
    const eight = await timed(10, () => confirm({ pdq: variants[0], pdq_dihedral: variants, quality: 90 }));
    note('10^6 PDQ index: /v1/confirm of 8 dihedral PDQ hashes', `median ${ms(eight.median)}, p90 ${ms(eight.p90)}`, 'sequential wall time, 10 runs');
    const exact = await timed(20, () => confirm({ sha256: randomBytes(32).toString('hex') }));
    note('10^6 PDQ index: /v1/confirm of one SHA-256', `median ${ms(exact.median)}`, 'sequential wall time, 20 runs');
  } finally {
    await w.dispose();
  }
}

console.log('\n| figure | value | how |\n|---|---|---|');
for (const f of figures) console.log(`| ${f.figure} | ${f.value} | ${f.how} |`);
