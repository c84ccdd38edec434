// The demo: an upload page protected by the guard, served on 127.0.0.1.
//
//   npm run demo                  # http://127.0.0.1:8080 (after `npm run build`)
//   node demo/server.mjs --port 9000
//
// It serves the page (demo/), the package (dist/, pkg/), the bundled example pictures
// (../examples, read-only) and:
//   GET  /schoon/filter   the embedded demo filter (crates/schoon-cli/assets/default.filter),
//                         with a strong ETag and 304 answers to If-None-Match
//   POST /v1/confirm      the real index (default.index) through the Node package's `Index`:
//                         the same contract as the Cloudflare Worker's /v1/confirm
//   POST /upload          a real upload endpoint that records what it receives
//   GET  /uploads         what /upload received (JSON)
//
// `startDemo(options)` is what the tests use: it can serve another filter (tampered, older)
// and it records every request with its body, so that tests can assert what was and was not
// sent.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const www = fileURLToPath(new URL('..', import.meta.url));
const root = join(www, '..');
const assets = join(root, 'crates/schoon-cli/assets');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.svg': 'image/svg+xml',
};

/** Static mounts: URL prefix -> directory. */
const MOUNTS = [
  ['/demo/', join(www, 'demo')],
  ['/dist/', join(www, 'dist')],
  ['/pkg/', join(www, 'pkg')],
  ['/examples/', join(root, 'examples')],
];

function publicKeyHex(text) {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  if (!line) throw new Error('empty public key file');
  return line;
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Starts the demo server. Options:
 *   port          (default 0: any free port)
 *   host          (default 127.0.0.1)
 *   filter()      bytes of the filter to serve (default: the embedded demo filter)
 *   index, publicKey   bytes of the index and the public key text (default: the demo set)
 *   quiet         no request log on stdout
 *   mounts        extra static directories, { '/test/': dir } (tests)
 * Resolves to { url, requests, uploads, setFilter(fn), close() }; `requests` holds every
 * request as { method, url, headers, body: Buffer }.
 */
export async function startDemo(options = {}) {
  const { Index } = await import('../dist/node.js');
  const publicKeyText = options.publicKey ?? readFileSync(join(assets, 'default.pub'), 'utf8');
  const publicKey = publicKeyHex(publicKeyText);
  const index = new Index(options.index ?? readFileSync(join(assets, 'default.index')), { publicKey });
  const defaultFilter = readFileSync(join(assets, 'default.filter'));
  let filter = options.filter ?? (() => defaultFilter);
  const requests = [];
  const uploads = [];

  const server = createServer(async (req, res) => {
    const started = Date.now();
    let body = Buffer.alloc(0);
    const send = (status, headers, payload) => {
      res.writeHead(status, { 'cache-control': 'no-store', ...headers });
      res.end(payload);
      if (!options.quiet) console.log(`${req.method} ${req.url} ${status} ${Date.now() - started} ms`);
    };
    const json = (status, value) => send(status, { 'content-type': 'application/json' }, JSON.stringify(value));
    try {
      if (req.method === 'POST') body = await readBody(req, 64 << 20);
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      const url = new URL(req.url, 'http://demo');
      const path = decodeURIComponent(url.pathname);

      if (path === '/' || path === '/index.html') {
        return send(200, { 'content-type': TYPES['.html'] }, readFileSync(join(www, 'demo/index.html')));
      }
      if (path === '/demo/config.js') {
        const config = { publicKey, filterUrl: '/schoon/filter', confirmUrl: '/v1/confirm' };
        return send(200, { 'content-type': TYPES['.js'] }, `export default ${JSON.stringify(config, null, 2)};\n`);
      }
      if (path === '/schoon/filter' && (req.method === 'GET' || req.method === 'HEAD')) {
        const bytes = filter();
        const etag = `"${sha256(bytes)}"`;
        const match = (req.headers['if-none-match'] ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
        if (match.includes(etag) || match.includes('*')) return send(304, { etag, 'cache-control': 'no-cache' });
        return send(200, { 'content-type': 'application/octet-stream', etag, 'cache-control': 'no-cache' }, bytes);
      }
      if (path === '/v1/confirm' && req.method === 'POST') {
        let query;
        try {
          query = JSON.parse(body.toString('utf8'));
        } catch (e) {
          return json(400, { error: `malformed JSON: ${e.message}` });
        }
        try {
          return json(200, { ...index.lookup(query), set_version: index.version });
        } catch (e) {
          return json(422, { error: e.message });
        }
      }
      if (path === '/upload' && req.method === 'POST') {
        const form = await new Request('http://demo/upload', {
          method: 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? '' },
          body,
        }).formData();
        const record = { at: new Date().toISOString(), fields: {}, files: [] };
        for (const [name, value] of form) {
          if (typeof value === 'string') record.fields[name] = value;
          else {
            const bytes = Buffer.from(await value.arrayBuffer());
            record.files.push({ field: name, name: value.name, type: value.type, size: bytes.length, sha256: sha256(bytes) });
          }
        }
        uploads.push(record);
        const list = record.files.map((f) => `<li>${escapeHtml(f.name)} (${f.size} bytes)</li>`).join('') || '<li>no file</li>';
        return send(
          200,
          { 'content-type': TYPES['.html'] },
          `<!doctype html><meta charset="utf-8"><title>Uploaded</title><link rel="icon" href="data:,">` +
            `<link rel="stylesheet" href="/demo/style.css">` +
            `<main><h1>Upload received</h1><ul id="received">${list}</ul><p><a href="/">Back to the demo</a></p></main>`,
        );
      }
      if (path === '/uploads' && req.method === 'GET') return json(200, uploads);

      const mount = [...Object.entries(options.mounts ?? {}), ...MOUNTS].find(([prefix]) => path.startsWith(prefix));
      if (!mount || (req.method !== 'GET' && req.method !== 'HEAD')) return send(404, {}, 'not found');
      const [prefix, dir] = mount;
      const file = normalize(join(dir, path.slice(prefix.length)));
      if (!(file + sep).startsWith(normalize(dir + sep))) return send(403, {}, 'forbidden');
      if (!existsSync(file) || !statSync(file).isFile()) return send(404, {}, 'not found');
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': statSync(file).size,
        'cache-control': 'no-cache',
      });
      createReadStream(file).pipe(res);
    } catch (e) {
      if (!res.headersSent) json(e.status ?? 500, { error: e.message });
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address();
  return {
    url: `http://${address}:${port}`,
    requests,
    uploads,
    /** Serves other filter bytes from now on. */
    setFilter(fn) {
      filter = fn;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(resolve);
      }),
  };
}

// `node demo/server.mjs [--port N] [--host H]`
if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  for (const need of ['dist/node.js', 'dist/index.js', 'pkg/web/schoon_bg.wasm', 'pkg/node/schoon_bg.wasm']) {
    if (!existsSync(join(www, need))) {
      console.error(`www/${need} is missing: run \`npm ci && npm run build\` in www/ first`);
      process.exit(2);
    }
  }
  const demo = await startDemo({ port: Number(arg('--port', 8080)), host: arg('--host', '127.0.0.1') });
  console.log(`schoon demo on ${demo.url}  (Ctrl-C to stop)`);
}
