"""A drawing canvas for Streamlit: white ink on black, sent back as a PNG data URL on each stroke.

A small ``st.components.v2`` component written inline (no build step, no package): the
``streamlit-drawable-canvas`` package (0.13.0) failed to register with Streamlit 1.67 here
("must be declared in pyproject.toml with asset_dir to use file-backed css").
"""
from __future__ import annotations

import streamlit as st

from ui.i18n import _

SIZE = 280  # px: 10x MNIST's 28, 35x digits' 8

_HTML = f"""
<div class="pad">
  <canvas width="{SIZE}" height="{SIZE}"></canvas>
  <button type="button"></button>
</div>
"""
_CSS = """
.pad { display: flex; flex-direction: column; gap: 6px; align-items: flex-start; }
canvas { background: #000; border-radius: 6px; touch-action: none; cursor: crosshair; }
button { padding: 4px 12px; border-radius: 6px; border: 1px solid #aaa; background: #fff; cursor: pointer; }
"""
_JS = """
export default function(component) {
  const { setStateValue, parentElement, data } = component;
  const canvas = parentElement.querySelector('canvas');
  const ctx = canvas.getContext('2d');
  const width = (data && data.stroke) || 22;
  canvas.setAttribute('aria-label', data.canvas_label);  // words come from the page's language
  parentElement.querySelector('button').textContent = data.clear_label;
  const clear = () => { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  if (!canvas.dataset.ready) { clear(); canvas.dataset.ready = '1'; }
  let drawing = false, last = null;
  const at = (e) => { const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height]; };
  const line = (a, b) => { ctx.strokeStyle = '#fff'; ctx.lineWidth = width; ctx.lineCap = 'round';
    ctx.lineJoin = 'round'; ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke(); };
  canvas.onpointerdown = (e) => { drawing = true; last = at(e); line(last, last); canvas.setPointerCapture(e.pointerId); };
  canvas.onpointermove = (e) => { if (!drawing) return; const p = at(e); line(last, p); last = p; };
  canvas.onpointerup = () => { if (!drawing) return; drawing = false; setStateValue('image', canvas.toDataURL('image/png')); };
  parentElement.querySelector('button').onclick = () => { clear(); setStateValue('image', null); };
}
"""

_canvas = st.components.v2.component("vae_lab_drawing_canvas", html=_HTML, css=_CSS, js=_JS)


def drawing_canvas(key: str, stroke: int = 22) -> str | None:
    """The canvas; returns the drawing as a PNG data URL (None until something is drawn)."""
    result = _canvas(key=key, data={"stroke": stroke, "clear_label": _("Clear"),
                                    "canvas_label": _("drawing canvas")},
                     on_image_change=lambda: None)
    return getattr(result, "image", None)
