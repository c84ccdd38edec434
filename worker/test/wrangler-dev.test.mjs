// The documented local run: `wrangler dev --ip 127.0.0.1` (real workerd, wrangler.toml's
// bindings) answers over HTTP; a set published through it makes /v1/health 200.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';
import { ADMIN_KEY, WORKER, buildSet, keygen, sha256hex, tempDir } from './helpers.mjs';

let child;
let output = '';

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

after(() => {
  // wrangler runs workerd as a child: end the whole process group we started.
  if (child && child.exitCode === null) {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
  }
});

test('wrangler dev serves the worker on 127.0.0.1', { timeout: 240_000 }, async () => {
  const dir = tempDir('schoon-wrangler-');
  const setKey = keygen(dir, 'set');
  const receiptKey = keygen(dir, 'receipt');
  const set = buildSet(dir, { name: 'dev', images: ['scene-baseline-420.jpg'], key: setKey, version: 3 });
  const env = path.join(dir, 'dev.env');
  writeFileSync(env, [
    `SET_PUBLIC_KEY=${setKey.publicHex}`,
    `RECEIPT_SIGNING_KEY=${receiptKey.secretHex}`,
    `ADMIN_KEY_SHA256=${sha256hex(ADMIN_KEY)}`,
    '',
  ].join('\n'));
  const port = await freePort();
  child = spawn('npx', ['wrangler', 'dev', '--ip', '127.0.0.1', '--port', String(port), '--env-file', env,
    '--persist-to', path.join(dir, 'state'), '--show-interactive-dev-session=false'], {
    cwd: WORKER, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
  });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  let health;
  for (let i = 0; i < 200 && !health; i++) {
    if (child.exitCode !== null) break;
    try { health = await fetch(`${base}/v1/health`); } catch { await new Promise((r) => setTimeout(r, 500)); }
  }
  assert.ok(health, `wrangler dev did not answer:\n${output}`);
  assert.equal(health.status, 503);
  const put = (p, body) => fetch(`${base}${p}`, {
    method: 'PUT', body, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/octet-stream' },
  });
  assert.equal((await put('/v1/admin/index', set.indexBytes)).status, 201);
  assert.equal((await put('/v1/admin/filter', set.filterBytes)).status, 201);
  const ok = await fetch(`${base}/v1/health`);
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).index.version, 3);
  const filter = await fetch(`${base}/v1/filter`);
  assert.deepEqual(Buffer.from(await filter.arrayBuffer()), set.filterBytes, 'redirect followed to the versioned filter');
});
