// The in-browser decoder of VAE Lab (ui/live_decode.py mounts it as an st.components.v2 component).
// makeDecoder runs the layer records of vae_core/viz/export_weights.py: the same ops as
// vae_core/models.Decoder (linear, relu, reshape, conv_transpose2d), then a sigmoid of the logits.
// Sums are float64 over float32 weights, like export_weights.reference_forward.

export function floats(b64) {
  const s = atob(b64);
  const u = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return new Float32Array(u.buffer);
}

export function makeDecoder(spec) {
  const layers = spec.layers.map((l) => ({ ...l, W: l.w ? floats(l.w) : null, B: l.b ? floats(l.b) : null }));
  return function decode(z) {  // z: D numbers -> Float64Array (C*H*W) of pixel means in [0, 1]
    let x = Float64Array.from(z);
    let shape = [x.length];
    for (const l of layers) {
      if (l.op === 'relu') {
        for (let i = 0; i < x.length; i++) if (x[i] < 0) x[i] = 0;
      } else if (l.op === 'reshape') {
        shape = l.shape;
      } else if (l.op === 'linear') {  // W row-major (out, in)
        const y = new Float64Array(l.out);
        for (let o = 0; o < l.out; o++) {
          let s = l.B[o];
          const row = o * l.in;
          for (let i = 0; i < l.in; i++) s += l.W[row + i] * x[i];
          y[o] = s;
        }
        x = y; shape = [l.out];
      } else if (l.op === 'conv_transpose2d') {  // W (cin, cout, kh, kw), as nn.ConvTranspose2d
        const [cin, hin, win] = shape, cout = l.cout;
        const [kh, kw] = l.k, [sh, sw] = l.stride, [ph, pw] = l.padding, [oph, opw] = l.output_padding;
        const hout = (hin - 1) * sh - 2 * ph + kh + oph, wout = (win - 1) * sw - 2 * pw + kw + opw;
        // Scatter each input pixel through the kernel, output channels innermost: weights as
        // (cin, kh, kw, cout) and the sums as (hout, wout, cout) keep that loop contiguous.
        if (!l.Wt) {
          l.Wt = new Float64Array(l.W.length);
          for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++)
            for (let t = 0; t < kh * kw; t++) l.Wt[(ci * kh * kw + t) * cout + co] = l.W[(ci * cout + co) * kh * kw + t];
        }
        const acc = new Float64Array(hout * wout * cout), Wt = l.Wt;
        for (let ci = 0; ci < cin; ci++) for (let iy = 0; iy < hin; iy++) for (let ix = 0; ix < win; ix++) {
          const v = x[(ci * hin + iy) * win + ix];
          if (v === 0) continue;  // after a ReLU most inputs are 0
          for (let ky = 0; ky < kh; ky++) {
            const oy = iy * sh - ph + ky;
            if (oy < 0 || oy >= hout) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ox = ix * sw - pw + kx;
              if (ox < 0 || ox >= wout) continue;
              const ab = (oy * wout + ox) * cout, wb = ((ci * kh + ky) * kw + kx) * cout;
              for (let co = 0; co < cout; co++) acc[ab + co] += v * Wt[wb + co];
            }
          }
        }
        const y = new Float64Array(cout * hout * wout);
        for (let co = 0; co < cout; co++) for (let q = 0; q < hout * wout; q++) y[co * hout * wout + q] = acc[q * cout + co] + l.B[co];
        x = y; shape = [cout, hout, wout];
      } else {
        throw new Error('unknown layer ' + l.op);
      }
    }
    for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
    return x;
  };
}

// A plane of the latent space: p = C (z - mean), C (k, D) with orthonormal rows; back to z as
// mean + C^T p, so the directions off the plane are held at `mean` (0 for plotted dims, the
// codes' mean for PCA).
export function planeOf(proj) {
  const C = proj.components, mean = proj.mean, D = mean.length;
  return {
    toPlane(z) { return C.map((row) => row.reduce((s, c, d) => s + c * (z[d] - mean[d]), 0)); },
    toZ(p) { const z = mean.slice(); C.forEach((row, k) => { for (let d = 0; d < D; d++) z[d] += row[d] * p[k]; }); return z; },
    D,
  };
}

function paintImage(canvas, pixels, shape) {  // pixels (C*H*W) in [0, 1] -> the canvas, crisp
  const [c, h, w] = shape;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(255 * pixels[(c === 3 ? k : 0) * h * w + i]);
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function tile(canvas, images, shape, ncols) {  // images: list of pixel arrays, grey 1-px gaps
  const [c, h, w] = shape, n = images.length, rows = Math.ceil(n / ncols);
  const W = ncols * (w + 1) - 1, H = rows * (h + 1) - 1;
  canvas.width = Math.max(W, 1); canvas.height = Math.max(H, 1);
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let i = 0; i < img.data.length; i += 4) { img.data[i] = img.data[i + 1] = img.data[i + 2] = 128; img.data[i + 3] = 255; }
  images.forEach((px, n_) => {
    const r = Math.floor(n_ / ncols), q = n_ % ncols;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const o = 4 * ((r * (h + 1) + y) * canvas.width + q * (w + 1) + x);
      for (let k = 0; k < 3; k++) img.data[o + k] = Math.round(255 * px[(c === 3 ? k : 0) * h * w + y * w + x]);
    }
  });
  ctx.putImageData(img, 0, 0);
}

const PRIOR = 'rgba(90,90,90,0.55)';

function drawMap(canvas, m, S) {  // points of one model in its plane, over the prior's circles
  const ctx = canvas.getContext('2d');
  const [lo, hi] = m.range, k = S / (hi - lo);
  const X = (x) => (x - lo) * k, Y = (y) => S - (y - lo) * k;
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, S, S);
  ctx.strokeStyle = '#ddd'; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(X(0), 0); ctx.lineTo(X(0), S); ctx.moveTo(0, Y(0)); ctx.lineTo(S, Y(0)); ctx.stroke();
  if (!m.one_d) {
    ctx.strokeStyle = PRIOR;
    for (const r of [1, 2, 3]) {
      ctx.setLineDash(r > 1 ? [3, 3] : []);
      ctx.beginPath(); ctx.arc(X(m.prior_center[0]), Y(m.prior_center[1]), r * k, 0, 2 * Math.PI); ctx.stroke();
    }
    ctx.setLineDash([]);
  }
  const xy = m.xyArr;
  for (let i = 0; i < m.labels.length; i++) {
    ctx.fillStyle = m.colors[m.labels[i] % m.colors.length];
    ctx.globalAlpha = 0.75;
    ctx.fillRect(X(xy[2 * i]) - 1.5, Y(xy[2 * i + 1]) - 1.5, 3, 3);
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = '#555'; ctx.font = '11px sans-serif';
  ctx.fillText(m.axis_titles[0], S - ctx.measureText(m.axis_titles[0]).width - 4, S - 4);
  if (m.axis_titles.length > 1) ctx.fillText(m.axis_titles[1], 4, 12);
  ctx.fillText(`[${lo.toFixed(1)}, ${hi.toFixed(1)}]`, 4, S - 4);
}

function mark(ctx, m, S, p, color, cross) {  // a marker at plane point p on a map
  const [lo, hi] = m.range, k = S / (hi - lo);
  const x = (p[0] - lo) * k, y = S - ((m.one_d ? 0 : p[1]) - lo) * k;
  ctx.strokeStyle = color; ctx.lineWidth = 2;
  ctx.beginPath();
  if (cross) { ctx.moveTo(x - 7, y); ctx.lineTo(x + 7, y); ctx.moveTo(x, y - 7); ctx.lineTo(x, y + 7); }
  else ctx.arc(x, y, 5, 0, 2 * Math.PI);
  ctx.stroke();
}

// The latent remote control: one range input per latent dim of each model, in the order sent
// (data.sliders[i].dims: {dim, label, low, high, active}); each model decodes its own z, which
// starts at data.sliders[i].start. A remount with the same start codes keeps the positions.
function mountSliders(root, data, registry) {
  const el = (tag, cls, parent) => { const e = document.createElement(tag); if (cls) e.className = cls; (parent || root).appendChild(e); return e; };
  const models = data.sliders.map((m) => ({ ...m, decode: decoderFor(m.decoder) }));
  const startKey = JSON.stringify(models.map((m) => m.start));
  const before = registry[data.key];
  const kept = before && before.startKey === startKey ? before.zs : null;
  const state = { key: data.key, startKey, zs: {}, images: {}, times: [], frames: [], z: null, moved: null };
  registry[data.key] = state;
  root.innerHTML = '';
  // Each model's column: its image over its sliders; both columns inside the tested element.
  const out = el('div', 'sliders');
  out.setAttribute('data-testid', 'vae-live-decode');
  const reset = el('button', '');
  reset.type = 'button';
  reset.textContent = data.text.reset;

  const views = models.map((m) => {
    state.zs[m.label] = (kept && kept[m.label] ? kept[m.label] : m.start).slice();
    const box = el('div', 'model', out);
    const fig = el('figure', '', box);
    const canvas = el('canvas', 'img', fig); canvas.style.width = canvas.style.height = (data.image_px || 140) + 'px';
    const cap = el('figcaption', '', fig);
    cap.textContent = m.caption; cap.style.color = m.color || '#333';
    const inputs = m.dims.map((s) => {
      const label = el('label', s.active ? '' : 'off', box);
      const text = el('span', '', label);
      const input = el('input', '', label);
      // 200 steps over the ±3σ range; the z itself starts at the code, not at the nearest step.
      Object.assign(input, { type: 'range', min: s.low, max: s.high, step: (s.high - s.low) / 200 });
      input.dataset.model = m.label; input.dataset.dim = s.dim;
      input.setAttribute('aria-label', `${m.label} ${s.label}`);
      return { s, input, text };
    });
    return { m, canvas, inputs };
  });
  const show = (v) => v.inputs.forEach(({ s, input, text }) => {
    const z = state.zs[v.m.label][s.dim];
    input.value = Math.min(s.high, Math.max(s.low, z));
    text.textContent = `${s.label}: ${z.toFixed(2)}`;
  });

  function decode(v) {  // one model at its z: the image on the page and in `state`
    const t0 = performance.now();
    const z = state.zs[v.m.label], px = v.m.decode(z);
    state.images[v.m.label] = px;
    state.z = z; state.moved = v.m.label;
    paintImage(v.canvas, px, v.m.decoder.shape);
    const dt = performance.now() - t0;
    state.times.push(dt);
    if (state.times.length > 2000) state.times.shift();
    out.dataset.ms = dt.toFixed(3);
  }
  views.forEach((v) => {
    show(v); decode(v);
    v.inputs.forEach(({ s, input, text }) => {
      input.oninput = (e) => {
        state.zs[v.m.label][s.dim] = +input.value;
        text.textContent = `${s.label}: ${(+input.value).toFixed(2)}`;
        decode(v);
        const t0 = e.timeStamp;
        requestAnimationFrame(() => { state.frames.push(performance.now() - t0); if (state.frames.length > 2000) state.frames.shift(); });
      };
    });
  });
  reset.onclick = () => views.forEach((v) => { state.zs[v.m.label] = v.m.start.slice(); show(v); decode(v); });
  const note = el('div', 'note');
  note.textContent = data.text.note || '';
  state.times = [];  // count the moves only
  state.ready = true;
}

// Parts a session is sent once (ui/live_decode.py Once): {"$once": id, "v": value} the first
// time, {"$once": id} afterwards. Kept for the page's lifetime (page switches keep the window).
const ONCE = (globalThis.__vaeOnce = globalThis.__vaeOnce || new Map());  // globalThis: window, or node in the tests
class Missing extends Error {}

export function resolveOnce(v) {
  if (Array.isArray(v)) return v.map(resolveOnce);
  if (v === null || typeof v !== 'object') return v;
  if ('$once' in v) {
    if ('v' in v) { ONCE.set(v.$once, v.v); return v.v; }
    if (ONCE.has(v.$once)) return ONCE.get(v.$once);
    throw new Missing(v.$once);
  }
  const out = {};
  for (const k of Object.keys(v)) out[k] = resolveOnce(v[k]);
  return out;
}

const DECODERS = new WeakMap();  // a decoder's Float32Arrays, built once per kept weights object
function decoderFor(spec) {
  let d = DECODERS.get(spec);
  if (!d) { d = makeDecoder(spec); DECODERS.set(spec, d); }
  return d;
}

export default function(component) {
  const raw = JSON.parse(new TextDecoder().decode(component.data));  // bytes: see _mount
  const mountResolved = () => mount(component, resolveOnce(raw));
  try { mountResolved(); } catch (e) {
    if (!(e instanceof Missing)) throw e;
    // Another component of this rerun may carry the part: look again once, then ask the server
    // to send everything in full (a reloaded tab in the same session).
    setTimeout(() => {
      try { mountResolved(); } catch (e2) {
        if (!(e2 instanceof Missing)) throw e2;
        component.setTriggerValue('missing', true);
      }
    }, 100);
  }
}

function mount(component, data) {
  const { parentElement } = component;
  const root = parentElement.querySelector('.vae-live');
  const S = data.size || 300;
  const registry = (window.__vaeLiveDecode = window.__vaeLiveDecode || {});
  if (data.sliders) { mountSliders(root, data, registry); return; }
  const models = data.models.map((m) => {
    const xyArr = floats(m.xy);
    return { ...m, xyArr, plane: planeOf(m.projection), decode: decoderFor(m.decoder) };
  });
  const sweep = data.sweep;  // {betas, members: [{decoder, xy, projection, range, rate, distortion, collapsed}]}
  let members = null, current = 0;
  if (sweep) {
    members = sweep.members.map((m) => ({ ...sweep.common, ...m, xyArr: floats(m.xy), plane: planeOf(m.projection),
                                          decode: decoderFor(m.decoder), grid: null }));
    const before = registry[data.key];  // a rerun keeps the β shown
    const kept = before ? sweep.betas.indexOf(before.beta) : -1;
    current = kept >= 0 ? kept : Math.max(0, Math.min(members.length - 1, sweep.start || 0));
  }
  const shown = () => (sweep ? [members[current]] : models);  // the maps drawn now

  root.innerHTML = '';
  const el = (tag, cls, parent) => { const e = document.createElement(tag); if (cls) e.className = cls; (parent || root).appendChild(e); return e; };
  let slider = null, betaLabel = null;
  if (sweep) {
    const bar = el('div', 'bar');
    betaLabel = el('span', 'beta', bar);
    slider = el('input', '', bar);
    Object.assign(slider, { type: 'range', min: 0, max: members.length - 1, step: 1, value: current });
    slider.setAttribute('aria-label', data.text.slider);
  }
  const row = el('div', 'row');
  const maps = [];
  for (let i = 0; i < shown().length; i++) {
    const box = el('div', 'map', row);
    const title = el('div', 'title', box);
    const stack = el('div', 'stack', box);
    const base = el('canvas', 'base', stack), over = el('canvas', 'over', stack);
    for (const c of [base, over]) { c.width = S; c.height = S; c.style.width = c.style.height = S + 'px'; }
    over.setAttribute('aria-label', data.text.map);
    maps.push({ title, base, over, index: i });
  }
  let gridCanvas = null, rdCanvas = null, rdLine = null;
  if (sweep) {
    const gbox = el('div', 'map', row);
    el('div', 'title', gbox).textContent = data.text.grid;
    gridCanvas = el('canvas', 'img', gbox); gridCanvas.style.width = gridCanvas.style.height = S + 'px';
    const rbox = el('div', 'map', row);
    el('div', 'title', rbox).textContent = data.text.rd;
    rdCanvas = el('canvas', 'rd', rbox); rdCanvas.width = rdCanvas.height = S;
    rdCanvas.style.width = rdCanvas.style.height = S + 'px';
    rdLine = el('div', 'zline', rbox);
  }
  const legendOf = sweep ? sweep.common : models[0];
  if (legendOf && legendOf.class_names) {
    const legend = el('div', 'legend');
    legendOf.class_names.forEach((name, c) => {
      const item = el('span', '', legend);
      const dot = el('i', '', item);
      dot.style.background = legendOf.colors[c % legendOf.colors.length];
      item.appendChild(document.createTextNode(name));
    });
  }
  // The decoded images: one per decoder, at the z under the mouse.
  const out = el('div', 'decoded');
  out.setAttribute('data-testid', 'vae-live-decode');
  const outCanvases = [];
  for (let i = 0; i < shown().length; i++) {
    const fig = el('figure', '', out);
    const c = el('canvas', 'img', fig); c.style.width = c.style.height = (data.image_px || 112) + 'px';
    const cap = el('figcaption', '', fig);
    outCanvases.push({ canvas: c, cap });
  }
  const zLine = el('div', 'zline', out);
  const strip = data.path || data.draws ? el('div', 'strips') : null;
  const note = el('div', 'note');
  note.textContent = data.text.note || '';

  const state = { z: null, images: {}, times: [], frames: [], key: data.key, beta: sweep ? sweep.betas[current] : null };
  state.pixelOf = (i, z) => {  // where a z sits on map i, in CSS px from its top left (for tests)
    const m = shown()[i], q = m.plane.toPlane(z), [lo, hi] = m.range, k = S / (hi - lo);
    return [(q[0] - lo) * k, S - ((m.one_d ? 0 : q[1]) - lo) * k];
  };
  registry[data.key] = state;

  function redrawMaps() {
    shown().forEach((m, i) => {
      const mp = maps[i];
      mp.title.textContent = sweep ? `${data.text.beta} = ${sweep.betas[current]}` + (m.collapsed ? ` (${data.text.collapsed})` : '') : m.title;
      mp.title.style.color = m.color || '#333';
      drawMap(mp.base, m, S);
    });
  }

  function overlay() {  // markers: the hovered z, path ends or draws, on every map of the same dim
    shown().forEach((m, i) => {
      const ctx = maps[i].over.getContext('2d');
      ctx.clearRect(0, 0, S, S);
      if (paths) {
        const ends = paths[i];
        if (ends) {
          const a = m.plane.toPlane(ends[0]), b = m.plane.toPlane(ends[1]);
          const [lo, hi] = m.range, k = S / (hi - lo);
          ctx.strokeStyle = '#111'; ctx.lineWidth = 1.5; ctx.beginPath();
          ctx.moveTo((a[0] - lo) * k, S - ((m.one_d ? 0 : a[1]) - lo) * k);
          ctx.lineTo((b[0] - lo) * k, S - ((m.one_d ? 0 : b[1]) - lo) * k); ctx.stroke();
          mark(ctx, m, S, a, '#111', false); mark(ctx, m, S, b, '#111', true);
        }
      }
      if (draws && i === draws.model) {
        for (const z of drawZs()) mark(ctx, m, S, m.plane.toPlane(z), m.color || '#4c6ef5', false);
        mark(ctx, m, S, m.plane.toPlane(draws.mu), '#111', true);
      }
      if (state.z && state.z.length === m.plane.D) mark(ctx, m, S, m.plane.toPlane(state.z), '#e03131', true);
    });
  }

  function decodeAt(z) {  // every shown decoder at one z; the images go on the page and to `state`
    const t0 = performance.now();
    state.z = z;
    shown().forEach((m, i) => {
      const o = outCanvases[i];
      if (z.length !== m.plane.D) {  // a latent space of another size cannot take this z
        delete state.images[m.label];
        o.canvas.getContext('2d').clearRect(0, 0, o.canvas.width, o.canvas.height);
        o.cap.textContent = `${m.label}: —`;
        return;
      }
      const px = m.decode(z);
      state.images[m.label] = px;
      paintImage(o.canvas, px, m.decoder.shape);
      o.cap.textContent = sweep ? `${m.label}, β = ${sweep.betas[current]}` : m.label;
    });
    zLine.textContent = 'z = (' + z.map((v) => v.toFixed(2)).join(', ') + ')';
    overlay();
    const dt = performance.now() - t0;
    state.times.push(dt);
    if (state.times.length > 2000) state.times.shift();
    out.dataset.ms = dt.toFixed(3);
  }

  // Interpolation (Generate): each model's path between two ends, the ends dragged by hand.
  const paths = data.path ? data.path.ends.map((e) => (e ? [e[0].slice(), e[1].slice()] : null)) : null;
  const stripRows = [];
  if (paths) models.forEach((m) => {
    const r = el('figure', 'strip', strip);
    const c = el('canvas', 'img', r);
    const cap = el('figcaption', '', r);
    cap.textContent = m.label;
    stripRows.push(c);
  });
  function drawPaths() {
    const n = data.path.frames;
    state.paths = {};
    models.forEach((m, i) => {
      if (!paths[i]) return;
      const [a, b] = paths[i];
      const imgs = [];
      for (let f = 0; f < n; f++) {
        const t = n === 1 ? 0 : f / (n - 1);
        imgs.push(m.decode(a.map((v, d) => (1 - t) * v + t * b[d])));
      }
      state.paths[m.label] = { ends: [a.slice(), b.slice()], images: imgs };
      tile(stripRows[i], imgs, m.decoder.shape, n);
      stripRows[i].style.width = Math.min(900, n * 56) + 'px';
    });
  }

  // Draws (Reparameterization): z = mu + sigma * eps with eps fixed, mu dragged by hand.
  const draws = data.draws ? { ...data.draws, mu: data.draws.mu.slice() } : null;
  const drawZs = () => draws.eps.map((e) => draws.mu.map((m, d) => m + draws.sigma[d] * e[d]));
  let drawCanvas = null;
  if (draws) {
    const r = el('figure', 'strip', strip);
    drawCanvas = el('canvas', 'img', r);
    el('figcaption', '', r).textContent = data.text.draws;
  }
  function drawDraws() {
    const m = models[draws.model];
    const imgs = drawZs().map((z) => m.decode(z));
    state.draws = { mu: draws.mu.slice(), z: drawZs(), images: imgs };
    const ncols = Math.min(imgs.length, 8);
    tile(drawCanvas, imgs, m.decoder.shape, ncols);
    drawCanvas.style.width = Math.min(900, ncols * 56) + 'px';
  }

  // The decoder grid and the rate–distortion plane of a sweep.
  function drawGrid() {
    const m = members[current];
    if (!m.grid) {
      const n = sweep.grid_n, [lo, hi] = m.range, imgs = [];
      for (let r = 0; r < n; r++) for (let q = 0; q < n; q++) {
        const x = lo + (hi - lo) * (q + 0.5) / n, y = hi - (hi - lo) * (r + 0.5) / n;
        imgs.push(m.decode(m.plane.toZ(m.one_d ? [x] : [x, y])));
      }
      m.grid = imgs;
    }
    tile(gridCanvas, m.grid, m.decoder.shape, sweep.grid_n);
    state.grid = { beta: sweep.betas[current], n: sweep.grid_n };
  }
  function drawRD() {  // runs without finite numbers (null) get no point, and the line skips them
    const ctx = rdCanvas.getContext('2d'), pad = 36;
    const ok = members.map((m, i) => i).filter((i) => members[i].rate != null && members[i].distortion != null);
    const rs = ok.map((i) => members[i].rate), ds = ok.map((i) => members[i].distortion);
    const rlo = Math.min(0, ...rs), rhi = (Math.max(0, ...rs) * 1.08) || 1;
    const dlo = ds.length ? Math.min(...ds) * 0.97 : 0, dhi = ds.length ? Math.max(...ds) * 1.03 : 1;
    const X = (r) => pad + (r - rlo) / (rhi - rlo) * (S - pad - 8), Y = (d) => S - pad - (d - dlo) / ((dhi - dlo) || 1) * (S - pad - 8);
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, S, S);
    ctx.strokeStyle = '#999'; ctx.lineWidth = 1; ctx.beginPath();
    ctx.moveTo(pad, 8); ctx.lineTo(pad, S - pad); ctx.lineTo(S - 8, S - pad); ctx.stroke();
    ctx.fillStyle = '#555'; ctx.font = '11px sans-serif';
    ctx.fillText(data.text.rate, S / 2 - 40, S - 8);
    ctx.save(); ctx.translate(11, S / 2 + 40); ctx.rotate(-Math.PI / 2); ctx.fillText(data.text.distortion, 0, 0); ctx.restore();
    ctx.fillText(rhi.toFixed(1), S - 30, S - pad + 12); ctx.fillText(rlo.toFixed(0), pad - 4, S - pad + 12);
    ctx.fillText(dhi.toFixed(1), 2, 14); ctx.fillText(dlo.toFixed(1), 2, S - pad);
    ctx.strokeStyle = '#4c6ef5'; ctx.beginPath();
    ok.forEach((i, n) => (n ? ctx.lineTo(X(members[i].rate), Y(members[i].distortion)) : ctx.moveTo(X(members[i].rate), Y(members[i].distortion))));
    ctx.stroke();
    const spots = new Map();  // β labels, one per spot: collapsed runs share theirs ("4, 8")
    for (const i of ok) {
      const m = members[i];
      ctx.fillStyle = m.collapsed ? '#e03131' : '#4c6ef5';
      ctx.beginPath(); ctx.arc(X(m.rate), Y(m.distortion), i === current ? 7 : 3.5, 0, 2 * Math.PI); ctx.fill();
      if (i === current) { ctx.strokeStyle = '#111'; ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1; }
      const k = `${Math.round(X(m.rate) / 8)},${Math.round(Y(m.distortion) / 8)}`;
      spots.set(k, [...(spots.get(k) || []), i]);
    }
    ctx.fillStyle = '#555';
    for (const idx of spots.values()) {
      const m = members[idx[0]];
      ctx.fillText(idx.map((i) => sweep.betas[i]).join(', '), X(m.rate) + 8, Y(m.distortion) + 12);
    }
    const m = members[current], num = (v) => (v == null ? '—' : v.toFixed(2));
    rdLine.textContent = `β = ${sweep.betas[current]}: ${data.text.rate_short} ${num(m.rate)}, ${data.text.distortion_short} ${num(m.distortion)}`;
  }
  function showMember() {
    betaLabel.textContent = `${data.text.beta} = ${sweep.betas[current]}`;
    state.beta = sweep.betas[current];
    redrawMaps(); drawGrid(); drawRD();
    if (state.z && state.z.length === members[current].plane.D) decodeAt(state.z); else overlay();
  }

  // Pointer: hover decodes; with path ends or draws, dragging near one moves it.
  let dragging = null;
  maps.forEach((mp) => {
    const at = (e) => {
      const r = mp.over.getBoundingClientRect(), m = shown()[mp.index], [lo, hi] = m.range;
      const x = lo + (e.clientX - r.left) / r.width * (hi - lo), y = hi - (e.clientY - r.top) / r.height * (hi - lo);
      return { m, p: m.one_d ? [x] : [x, y], px: [e.clientX - r.left, e.clientY - r.top] };
    };
    const near = (m, z, px) => {
      const q = m.plane.toPlane(z), [lo, hi] = m.range, k = S / (hi - lo);
      return Math.hypot((q[0] - lo) * k - px[0], S - ((m.one_d ? 0 : q[1]) - lo) * k - px[1]) < 12;
    };
    mp.over.onpointerdown = (e) => {
      const { m, px } = at(e);
      if (paths && paths[mp.index]) {
        const end = paths[mp.index].findIndex((z) => near(m, z, px));
        if (end >= 0) dragging = { kind: 'end', end };
      }
      if (draws && draws.model === mp.index && near(m, draws.mu, px)) dragging = { kind: 'mu' };
      if (dragging) mp.over.setPointerCapture(e.pointerId);
    };
    mp.over.onpointerup = () => { dragging = null; };
    mp.over.onpointermove = (e) => {
      const { m, p } = at(e);
      const z = m.plane.toZ(p);
      if (dragging && dragging.kind === 'end') { paths[mp.index][dragging.end] = z; drawPaths(); }
      if (dragging && dragging.kind === 'mu') { draws.mu = z; drawDraws(); }
      decodeAt(z);
      // From the input event to the next frame: what the user waits for.
      const t0 = e.timeStamp;
      requestAnimationFrame(() => { state.frames.push(performance.now() - t0); if (state.frames.length > 2000) state.frames.shift(); });
    };
  });
  if (slider) slider.oninput = () => { current = +slider.value; showMember(); };

  redrawMaps();
  if (sweep) showMember();
  if (paths) drawPaths();
  if (draws) drawDraws();
  const start = data.start_z || (sweep ? members[current].plane.toZ(members[current].one_d ? [0] : [0, 0]) : models[0].plane.toZ(models[0].one_d ? [0] : [0, 0]));
  decodeAt(start);
  state.times = [];  // count the moves only
  state.ready = true;
}
