// A bounded load test of POST /v1/confirm against the built worker on local workerd, over
// real HTTP on 127.0.0.1 (Miniflare listening on a port). Stops by itself after DURATION
// seconds (default 15, at most 60); exits 1 if any request failed or answered other than 200
// (a request cut off on a reused keep-alive socket is sent once more; see `post`).
//
//   node test/load.mjs [DURATION_SECONDS] [CONNECTIONS]
//
// Mix: 90 % clean candidates (random SHA-256 + PDQ with 8 dihedral variants, as a browser
// sends after a filter false positive) and 10 % listed ones (a match: receipts are signed and
// written to KV). Prints one JSON line with p50/p99 latency.
import { Agent, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { bindings, buildSet, expected, keygen, publish, startWorker, tempDir, tenant } from './helpers.mjs';

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// A keep-alive socket that the server closes just as the next request goes out fails with
// ECONNRESET / "socket hang up" before any response: the race Node's http documentation
// describes for `request.reusedSocket`. As browsers and undici do, such a request is sent once
// more on a new socket and counted under `retried_on_reused_socket`; any other network error,
// or the same error on a fresh socket, is a failure.
async function post(agent, url, path, key, body) {
  const first = await postOnce(agent, url, path, key, body);
  if (first.status === 0 && first.reused) {
    const again = await postOnce(agent, url, path, key, body);
    return { ...again, retried: true, ms: first.ms + again.ms };
  }
  return first;
}

function postOnce(agent, url, path, key, body) {
  return new Promise((resolve) => {
    const payload = Buffer.from(JSON.stringify(body));
    const started = process.hrtime.bigint();
    const req = request(`${url}${path}`, {
      method: 'POST', agent,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': payload.length },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('error', (e) => resolve({
      status: 0, ms: Number(process.hrtime.bigint() - started) / 1e6, error: e.message,
      reused: req.reusedSocket && (e.code === 'ECONNRESET' || e.message === 'socket hang up'),
    }));
    req.end(payload);
  });
}

/** Runs the load against a started worker with a published set; returns the figures. */
export async function confirmLoad(w, key, { seconds, connections }) {
  const e = expected()['scene-baseline-420.jpg'];
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const deadline = Date.now() + seconds * 1000;
  const latencies = [];
  const statuses = {};
  const errors = [];
  let retried = 0;
  let n = 0;
  async function loop() {
    while (Date.now() < deadline) {
      const listed = n++ % 10 === 0;
      const variants = Array.from({ length: 8 }, () => randomBytes(32).toString('hex'));
      const body = listed
        ? { sha256: e.sha256 }
        : { sha256: randomBytes(32).toString('hex'), pdq: variants[0], pdq_dihedral: variants, quality: 90 };
      const r = await post(agent, w.base, '/v1/confirm', key, body);
      latencies.push(r.ms);
      if (r.retried) retried += 1;
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.error && errors.length < 5) errors.push(r.error);
    }
  }
  const started = Date.now();
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (Date.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const fivexx = Object.entries(statuses).filter(([s]) => Number(s) >= 500 || Number(s) === 0).reduce((a, [, c]) => a + c, 0);
  return {
    route: 'POST /v1/confirm',
    seconds: Math.round(elapsed * 10) / 10,
    connections,
    requests: latencies.length,
    rps: Math.round(latencies.length / elapsed),
    p50_ms: Math.round(percentile(latencies, 50) * 100) / 100,
    p99_ms: Math.round(percentile(latencies, 99) * 100) / 100,
    max_ms: Math.round(latencies.at(-1) * 100) / 100,
    statuses,
    errors_5xx: fivexx,
    network_errors: errors,
    retried_on_reused_socket: retried,
  };
}

/** A worker on 127.0.0.1 with a published set and an unlimited tenant. */
export async function loadTarget(extraVars = {}) {
  const dir = tempDir();
  const setKey = keygen(dir, 'set');
  const receiptKey = keygen(dir, 'receipt');
  const set = buildSet(dir, { name: 'load', images: ['scene-baseline-420.jpg'], key: setKey, version: 1 });
  const w = await startWorker(bindings(setKey, receiptKey, { SET_REFRESH_SECONDS: '30', ...extraVars }), { port: 0 });
  const published = await publish(w, set);
  if (published.index.status !== 201) throw new Error(`publish: ${published.index.text}`);
  const key = await tenant(w, 'load', { rate_per_minute: 0 });
  return { w, key, dir, setKey, receiptKey };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Math.min(60, Math.max(1, Number(process.argv[2] ?? 15)));
  const connections = Math.min(64, Math.max(1, Number(process.argv[3] ?? 16)));
  const { w, key } = await loadTarget();
  let result;
  try {
    // Warm the isolate (index load) before measuring.
    await confirmLoad(w, key, { seconds: 1, connections: 2 });
    result = await confirmLoad(w, key, { seconds, connections });
  } finally {
    await w.dispose();
  }
  console.log(JSON.stringify(result));
  const ok = result.errors_5xx === 0 && Object.keys(result.statuses).every((s) => s === '200');
  console.log(`load: ${result.requests} requests in ${result.seconds} s (${result.rps}/s, ${connections} connections), ` +
    `p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, 5xx ${result.errors_5xx}: ${ok ? 'ok' : 'FAILED'}`);
  process.exit(ok ? 0 : 1);
}
