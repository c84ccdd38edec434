// `Filter` and `Index` through the package as Node users get them (the `node` build), on the
// embedded demo set (crates/schoon-cli/assets) and the bundled example pictures: what the
// filter flags, what the index confirms, and every refusal with its `code`.
//
//   node --test test/sets.test.mjs

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

import { Filter, Index, hashBytes, loadFilter, loadIndex, md5, sha1, sha256 } from 'schoon';

const assets = new URL('../../crates/schoon-cli/assets/', import.meta.url);
const examples = new URL('../../examples/', import.meta.url);
const publicKey = readFileSync(new URL('default.pub', assets), 'utf8');
const filterBytes = readFileSync(new URL('default.filter', assets));
const indexBytes = readFileSync(new URL('default.index', assets));
const picture = (p) => readFileSync(new URL(p, examples));
const hex = (algo, b) => createHash(algo).update(b).digest('hex');

/** What `schoon scan examples/` says (README of examples/): listed and edited match (the crop
 * and the caption through region hashes); innocent ones are clean. */
const expected = (path) => (path.startsWith('innocent/') ? 'clean' : 'match');
/** Edits that only region hashes reach: plain PDQ misses them. */
const regionOnly = (path) => path.includes('cropped') || path.includes('captioned');
const pictures = ['listed', 'edited', 'innocent'].flatMap((d) =>
  readdirSync(new URL(`${d}/`, examples)).sort().map((f) => `${d}/${f}`),
);

test('a filter verifies against its pinned key and says which kinds it holds', () => {
  const filter = new Filter(filterBytes, { publicKey });
  assert.equal(filter.signature, 'verified');
  assert.deepEqual(filter.kinds, ['md5', 'sha1', 'sha256', 'pdq']);
  assert.equal(filter.lists.length, 1);
  assert.equal(filter.lists[0].name, 'schoon-demo');
  assert.match(filter.keyId, /^[0-9a-f]{32}$/);
  assert.ok(Number.isSafeInteger(filter.version) && filter.version > 0);
  // The hex key alone works as well as the .pub file's text.
  const hexKey = publicKey.split('\n').find((l) => l && !l.startsWith('#'));
  assert.equal(loadFilter(filterBytes, { publicKey: hexKey }).version, filter.version);
  filter.free();
});

test('refusals: tampered, unsigned-not-allowed, another key, stale, bad options', () => {
  const refused = (fn) => {
    try {
      fn();
    } catch (e) {
      return { name: e.name, kind: e.kind, code: e.code, message: e.message };
    }
    assert.fail('not refused');
  };
  const tampered = Buffer.from(filterBytes);
  tampered[200] ^= 1;
  assert.deepEqual(refused(() => new Filter(tampered, { publicKey })), {
    name: 'SchoonError',
    kind: 'bad_input',
    code: 'set',
    message: 'malformed set: checksum mismatch: the file is corrupt or was modified',
  });
  const other = '0'.repeat(63) + '1';
  const e = refused(() => new Filter(filterBytes, { publicKey: other }));
  assert.ok(e.kind === 'caller' || e.code === 'signature', JSON.stringify(e)); // not a curve point, or another key
  const version = new Filter(filterBytes, { publicKey }).version;
  assert.deepEqual(refused(() => new Filter(filterBytes, { publicKey, newerThan: version })).code, 'stale');
  assert.equal(new Filter(filterBytes, { publicKey, newerThan: version - 1 }).version, version);
  const f = new Filter(filterBytes, { publicKey });
  assert.equal(refused(() => f.ensureNewerThan(version)).code, 'stale');
  f.ensureNewerThan(version - 1);
  assert.equal(refused(() => new Filter(filterBytes, {})).kind, 'caller');
  assert.match(refused(() => new Filter(filterBytes, { publicKey, newerthan: 1 })).message, /unknown option 'newerthan'/);
  assert.equal(refused(() => new Filter(filterBytes.subarray(0, 100), { publicKey })).code, 'set');
  assert.equal(refused(() => f.checkExact({ md5: 'xyz' })).kind, 'caller');
  assert.match(refused(() => f.checkExact({ sha512: '00' })).message, /unknown query field 'sha512'/);
});

test('filter answers for every example picture, as the CLI does', () => {
  const filter = new Filter(filterBytes, { publicKey });
  for (const path of pictures) {
    const bytes = picture(path);
    const exact = filter.checkExact({ md5: md5(bytes), sha1: sha1(bytes), sha256: sha256(bytes) });
    let image = { candidate: false, kinds: [] };
    try {
      image = filter.checkImage(bytes);
      assert.equal(image.pdqDihedral.length, 8);
      assert.equal(image.pdq, hashBytes(bytes).pdq, path); // checkImage hashes as hashBytes does
    } catch (e) {
      assert.equal(e.name, 'SchoonError', path);
    }
    const candidate = exact.candidate || image.candidate;
    assert.equal(candidate, expected(path) === 'match', `${path}: ${JSON.stringify({ exact, image })}`);
    // Region windows are flagged where the whole-image check misses and region hashes reach
    // (also for a copy whose whole-image hash the prefilter's multi-probe missed), never for
    // innocent pictures.
    if (path.startsWith('innocent/')) assert.deepEqual(image.windows ?? [], [], path);
    if (regionOnly(path)) {
      assert.ok(image.windows.length > 0, path);
      assert.deepEqual(image.kinds, ['pdq'], path);
      // Without regions, the whole-image check alone misses them.
      assert.equal(filter.checkImage(bytes, { regions: false }).candidate, false, path);
    }
    if (path.startsWith('listed/')) assert.deepEqual(exact.kinds, ['md5', 'sha1', 'sha256'], path);
  }
});

test('checkPixels, checkBlockMeans and checkPdq', () => {
  const filter = new Filter(filterBytes, { publicKey });
  // A flat image: quality 0, so the PDQ prefilter is not asked.
  const flat = filter.checkPixels(new Uint8Array(640 * 480 * 4).fill(77), 640, 480, 4);
  assert.equal(flat.quality, 0);
  assert.equal(flat.candidate, false);
  assert.throws(() => filter.checkPixels(new Uint8Array(10), 640, 480, 4), (e) => e.kind === 'caller');
  const plane = new Float32Array(80 * 60).fill(90);
  assert.equal(filter.checkBlockMeans(plane, 8, 8, 640, 480).quality, 0);
  // checkPdq without coefficients still finds the listed hash itself.
  const listed = filter.checkImage(picture('listed/known-2.jpg'));
  assert.deepEqual(filter.checkPdq({ pdq: listed.pdq, quality: listed.quality }).kinds, ['pdq']);
  assert.deepEqual(filter.checkPdq({ pdq: listed.pdq, pdqDihedral: listed.pdqDihedral }).kinds, ['pdq']);
  assert.throws(() => filter.checkPdq({ pdq: listed.pdq, pdqDihedral: listed.pdqDihedral.slice(1) }), /has 7 hashes/);
});

test('the index confirms like the Worker: verdict and matches, never the listed value', () => {
  const index = loadIndex(indexBytes, { publicKey });
  assert.equal(index.signature, 'verified');
  const filterForIndex = new Filter(filterBytes, { publicKey });
  assert.equal(index.version, filterForIndex.version);
  for (const path of pictures) {
    const bytes = picture(path);
    const h = hashBytes(bytes, { dihedral: true });
    const query = { md5: h.md5, sha1: h.sha1, sha256: h.sha256 };
    if (h.pdq) Object.assign(query, { pdq: h.pdq, quality: h.quality, pdq_dihedral: h.pdqDihedral });
    // The windows a filter flagged travel with the confirmation, as the guard sends them.
    let windows = [];
    try {
      windows = filterForIndex.checkImage(bytes).windows;
    } catch {}
    if (windows.length > 0) query.windows = windows;
    const r = index.lookup(query);
    assert.equal(r.verdict, expected(path), path);
    for (const m of r.matches) {
      assert.deepEqual(Object.keys(m).filter((k) => k !== 'variant' && k !== 'region').sort(), ['category', 'distance', 'kind', 'list']);
      assert.equal(m.list, 'schoon-demo');
    }
    if (regionOnly(path)) {
      assert.equal(r.matches.length, 1, path);
      assert.ok(r.matches[0].region && r.matches[0].distance <= 31 && r.matches[0].variant === undefined, JSON.stringify(r));
      delete query.windows;
      assert.equal(index.lookup(query).verdict, 'clean', path);
    }
    if (path === 'edited/known-3-mirrored.jpg') {
      assert.deepEqual(r.matches.map((m) => [m.kind, m.distance, m.variant]), [['pdq', 0, 'flipy']]);
    }
  }
  // Exact hashes alone; camelCase; options; errors.
  const known = picture('listed/known-1.jpg');
  assert.deepEqual(index.lookup({ sha256: hex('sha256', known) }).matches.map((m) => m.kind), ['sha256']);
  const h = hashBytes(known, { dihedral: true });
  assert.equal(index.lookup({ pdq: h.pdq, pdqDihedral: h.pdqDihedral }).verdict, 'match');
  assert.equal(index.lookup({ pdq: h.pdq, quality: 10 }).verdict, 'clean'); // below minQuality
  assert.equal(index.lookup({ pdq: h.pdq, quality: 10 }, { minQuality: 0 }).verdict, 'match');
  assert.throws(() => index.lookup({}), /no hash given/);
  assert.throws(() => index.lookup({ windows: ['zz'] }), /invalid pdq hash 'zz'/);
  assert.throws(() => index.lookup({ windows: Array(129).fill(h.pdq) }), /at most 128/);
  assert.equal(index.lookup({ windows: [h.pdq] }).verdict, 'clean'); // a whole image is no region
  assert.throws(() => index.lookup({ quality: 50 }), /quality given without pdq/);
  assert.throws(() => index.lookup({ pdq: h.pdq, pdqDihedral: [...h.pdqDihedral].reverse() }), /differs/);
  assert.throws(() => index.lookup({ sha265: 'aa' }), /unknown query field 'sha265'/);
  assert.throws(() => index.lookup({ sha256: h.sha256 }, { threshold: 'x' }), (e) => e.kind === 'caller');
  for (const multiIndex of ['on', 'off']) {
    assert.equal(new Index(indexBytes, { publicKey, multiIndex }).lookup({ pdq: h.pdq }).verdict, 'match');
  }
});
