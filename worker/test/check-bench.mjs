// Figures of POST /v1/check: a batch of `schoon hash` lines checked in one request, against
// the same checks sent one by one to /v1/confirm, in the same run on local workerd over
// 127.0.0.1 (wall time of sequential requests measured by the client; workerd does not report
// CPU time locally). Needs build/ and the release `schoon` (scripts/test.sh makes both).
//   node test/check-bench.mjs [ROUNDS]   (default 5)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, bindings, buildSet, cliPath, keygen, publish, startWorker, tempDir, tenant } from './helpers.mjs';
import { percentile } from './load.mjs';

const rounds = Math.min(20, Math.max(1, Number(process.argv[2] ?? 5)));
const LISTED = 'small-160x120.bmp'; // one fixture of twenty matches (exact hashes and PDQ)

const dir = tempDir();
const setKey = keygen(dir, 'set');
const set = buildSet(dir, { name: 'bench', images: [LISTED], key: setKey, version: 1 });
const w = await startWorker(bindings(setKey, keygen(dir, 'receipt'), { SET_REFRESH_SECONDS: '30' }), { port: 0 });

/** `schoon hash` lines of every fixture, repeated to `n` lines with ids. */
function lines(n, windows, { clean = false } = {}) {
  const files = readdirSync(FIXTURES).filter((f) => !f.endsWith('.csv') && !(clean && f === LISTED)).sort().map((f) => path.join(FIXTURES, f));
  const args = ['hash', '--dihedral', ...(windows ? ['--windows'] : []), ...files];
  // Some fixtures are not images (exit status 2): their lines carry exact hashes and `error`.
  const r = spawnSync(cliPath(), args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status === null || r.status > 2 || !r.stdout) throw new Error(`schoon hash: ${r.stderr}`);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  return Array.from({ length: n }, (_, i) => ({ ...out[i % out.length], id: `object-${i}` }));
}

/** A line as /v1/confirm takes it (only hashes and the id). */
function confirmBody(line) {
  const keep = ['md5', 'sha1', 'sha256', 'pdq', 'quality', 'pdq_dihedral', 'windows', 'id'];
  return Object.fromEntries(Object.entries(line).filter(([k]) => keep.includes(k)));
}

async function post(p, key, body, type) {
  const r = await fetch(`${w.base}${p}`, { method: 'POST', body, headers: { authorization: `Bearer ${key}`, 'content-type': type } });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${p} ${r.status} ${text.slice(0, 300)}`);
  return text;
}

const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);

async function compare(key, name, batch) {
  const ndjson = batch.map((l) => JSON.stringify(l)).join('\n');
  const bulk = [];
  const single = [];
  let matched = 0;
  for (let r = 0; r < rounds; r++) {
    // Interleaved, so that load from other work on the machine hits both alike.
    let t = performance.now();
    const answer = await post('/v1/check', key, ndjson, 'application/x-ndjson');
    bulk.push(performance.now() - t);
    matched = answer.trim().split('\n').filter((l) => JSON.parse(l).verdict === 'match').length;
    t = performance.now();
    for (const line of batch) await post('/v1/confirm', key, JSON.stringify(confirmBody(line)), 'application/json');
    single.push(performance.now() - t);
  }
  const b = median(bulk);
  const s = median(single);
  const figure = {
    figure: name, lines: batch.length, body_bytes: Buffer.byteLength(ndjson), matched_lines: matched, rounds,
    check_ms_median: Number(b.toFixed(1)), confirms_ms_median: Number(s.toFixed(1)),
    check_us_per_line: Number(((b * 1000) / batch.length).toFixed(0)),
    confirm_us_per_line: Number(((s * 1000) / batch.length).toFixed(0)),
    confirms_over_check: Number((s / b).toFixed(1)),
  };
  console.log(JSON.stringify(figure));
}

try {
  const p = await publish(w, set);
  if (p.index.status !== 201) throw new Error(`publish: ${p.index.text}`);
  const key = await tenant(w, 'bench', { rate_per_minute: 0 });
  await post('/v1/check', key, JSON.stringify({ id: 'warm', md5: '00'.repeat(16) }), 'application/x-ndjson');
  await compare(key, '/v1/check of 1000 clean lines (schoon hash --dihedral) vs 1000 sequential /v1/confirm', lines(1000, false, { clean: true }));
  await compare(key, '/v1/check of 1000 lines, 5 % matching (4 receipts each) vs 1000 sequential /v1/confirm', lines(1000, false));
  await compare(key, '/v1/check of 120 lines with --windows vs 120 sequential /v1/confirm', lines(120, true));
} finally {
  await w.dispose();
}
