// The demo page: one guard protecting the form. Options can be tried from the query string,
// e.g. /?failMode=open, /?decoder=platform, /?confirm=0 (a filter hit then blocks by itself),
// /?regions=0 (whole images only: crops and captions of listed images then pass), /?parallel=0
// (one worker decodes large JPEGs).

import { createGuard } from '/dist/index.js';
import config from '/demo/config.js';

const params = new URLSearchParams(location.search);
const options = { filterUrl: config.filterUrl, publicKey: config.publicKey };
if (params.get('confirm') !== '0') options.confirmUrl = config.confirmUrl;
if (params.has('failMode')) options.failMode = params.get('failMode');
if (params.has('decoder')) options.decoder = params.get('decoder');
if (params.has('cache')) options.filterCache = params.get('cache');
if (params.get('regions') === '0') options.regions = false;
if (params.get('parallel') === '0') options.parallel = false;

const guard = createGuard(options);
window.schoonGuard = guard; // for the tests and the curious
const form = document.getElementById('upload');
const input = document.getElementById('photo');
window.schoonProtection = guard.protect(form);

const log = document.getElementById('log');
const note = (text) => {
  const li = document.createElement('li');
  li.textContent = text;
  log.prepend(li);
};

guard.filter().then((s) => {
  const el = document.getElementById('filter-status');
  if (s.state === 'ready') {
    const lists = s.lists.map((l) => `${l.name} (${l.md5 + l.sha1 + l.sha256 + l.pdq} entries)`).join(', ');
    el.textContent = `Filter version ${s.version} verified (${s.source}, ${s.bytes} bytes, ${s.loadMs.toFixed(1)} ms): ${lists}; checks ${s.kinds.join(', ')}.`;
  } else {
    el.textContent = `No usable filter: ${s.error.message} (fail mode: ${guard.options.failMode}).`;
  }
});

for (const type of ['schoon:checking', 'schoon:clean', 'schoon:blocked', 'schoon:error']) {
  form.addEventListener(type, (event) => {
    const { file, result } = event.detail;
    if (!result) return note(`${type} ${file.name}`);
    const t = result.timings;
    const how = result.hashes?.decoder ? `, decoded by ${result.hashes.decoder}` : '';
    const matches = (result.matches ?? []).map((m) => `${m.kind}${m.distance === null ? '' : ` at distance ${m.distance}`}${m.variant ? ` (${m.variant})` : ''}`);
    note(
      `${type} ${file.name}: ${result.verdict}${matches.length ? ` by ${matches.join(', ')}` : ''}` +
        `${result.error ? ` (${result.error.kind}: ${result.error.message})` : ''}` +
        `${result.confirmed ? ', confirmed by the index' : ''}${how}, ${t.total.toFixed(0)} ms`,
    );
  });
}

const EXAMPLES = [
  ['listed/known-1.jpg', 'a listed picture'],
  ['edited/known-1-reencoded-q50.jpg', 're-encoded copy'],
  ['edited/known-2-resized-50pct.jpg', 'resized copy'],
  ['edited/known-3-mirrored.jpg', 'mirrored copy'],
  ['edited/known-3-rotated-90.webp', 'rotated copy (WebP)'],
  ['edited/known-2-greyscale.png', 'greyscale copy (PNG)'],
  ['innocent/scene-1.jpg', 'an innocent picture'],
  ['innocent/scene-2.png', 'an innocent PNG'],
];

/** Puts an example picture into the file input, as a user's choice would. */
async function choose(path) {
  const res = await fetch(`/examples/${path}`);
  const blob = await res.blob();
  const file = new File([blob], path.split('/').pop(), { type: blob.type });
  const dt = new DataTransfer();
  dt.items.add(file);
  input.files = dt.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
}
window.schoonChoose = choose;

const list = document.getElementById('examples');
for (const [path, label] of EXAMPLES) {
  const li = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  button.title = path;
  button.addEventListener('click', () => void choose(path));
  li.append(button);
  list.append(li);
}
