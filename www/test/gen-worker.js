// Test images made in the browser (never copied from anywhere): procedural scenes drawn on an
// OffscreenCanvas and encoded by the browser, in a worker so that the page's thread stays free.
//
//   worker.postMessage({ id, seed, width, height, type: 'image/jpeg', quality: 0.9, grain: 0 })
//   (`grain`: amplitude of per-pixel noise, 0 for none)
//   -> { id, blob }

function rng(seed) {
  let x = (seed * 0x9e3779b1) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function render(seed, width, height, grain) {
  const r = rng(seed);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  const hue = Math.floor(r() * 360);
  const sky = ctx.createLinearGradient(0, 0, 0, height);
  sky.addColorStop(0, `hsl(${hue}, 60%, ${30 + r() * 40}%)`);
  sky.addColorStop(1, `hsl(${(hue + 60) % 360}, 50%, ${50 + r() * 40}%)`);
  ctx.fillStyle = sky;
  ctx.fillRect(0, 0, width, height);
  // Hills.
  for (let layer = 0; layer < 4; layer++) {
    ctx.fillStyle = `hsl(${(hue + 90 + layer * 25) % 360}, ${30 + r() * 40}%, ${15 + layer * 12}%)`;
    ctx.beginPath();
    ctx.moveTo(0, height);
    const base = height * (0.45 + layer * 0.12);
    for (let x = 0; x <= width; x += width / 12) ctx.lineTo(x, base - r() * height * 0.2);
    ctx.lineTo(width, height);
    ctx.fill();
  }
  // Sun, buildings, trees.
  ctx.fillStyle = `hsl(${(hue + 180) % 360}, 80%, 70%)`;
  ctx.beginPath();
  ctx.arc(r() * width, r() * height * 0.4, (0.04 + r() * 0.08) * width, 0, Math.PI * 2);
  ctx.fill();
  const n = 5 + Math.floor(r() * 15);
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = `hsl(${Math.floor(r() * 360)}, ${Math.floor(r() * 60)}%, ${Math.floor(10 + r() * 60)}%)`;
    const w = (0.02 + r() * 0.1) * width;
    const h = (0.05 + r() * 0.35) * height;
    ctx.fillRect(r() * width, height - h - r() * height * 0.2, w, h);
  }
  // Texture: a coarse noise layer, so the JPEG has real detail.
  const cell = Math.max(2, Math.floor(width / 400));
  ctx.globalAlpha = 0.18;
  for (let y = 0; y < height; y += cell * 4) {
    for (let x = 0; x < width; x += cell * 4) {
      const v = Math.floor(r() * 255);
      ctx.fillStyle = `rgb(${v},${v},${v})`;
      ctx.fillRect(x, y, cell * 4, cell * 4);
    }
  }
  ctx.globalAlpha = 1;
  if (grain) {
    // Sensor-like grain on every pixel: camera-sized JPEGs (several MB at 12 MP).
    const img = ctx.getImageData(0, 0, width, height);
    const d = img.data;
    for (let i = 0; i < d.length; i += 4) {
      const g = (r() - 0.5) * grain;
      d[i] += g;
      d[i + 1] += g;
      d[i + 2] += g;
    }
    ctx.putImageData(img, 0, 0);
  }
  return canvas;
}

self.onmessage = async (event) => {
  const { id, seed, width, height, type, quality, grain } = event.data;
  try {
    const blob = await render(seed, width, height, grain ?? 0).convertToBlob({ type, quality });
    self.postMessage({ id, blob });
  } catch (e) {
    self.postMessage({ id, error: String(e) });
  }
};
