"""Decoding in the browser: latent maps whose z under the mouse is decoded by JavaScript.

One inline ``st.components.v2`` component (as ``ui/canvas.py``; the JavaScript is
``ui/live_decode.js``) gets each model's decoder weights (``vae_core.viz.export_weights``), its codes
in the plotted plane and the plane's map back to z. Moving the mouse, dragging an interpolation end
or the μ of a set of draws, scrubbing a β sweep and moving the latent remote control's sliders
(one per latent dim) all run in the browser: no message goes to the server. The decoded images sit in the element ``data-testid="vae-live-decode"``; the
component also leaves what it decoded in ``window.__vaeLiveDecode[key]`` (z, pixels, the time
each move took) for the browser tests.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import streamlit as st

from ui.i18n import _
from ui.panels import LatentPanel, ModelCodes
from ui.resources import encoded_test_set, get_run, run_dataset
from vae_core import Run, RunError, RunInfo
from vae_core.viz import figures
from vae_core.viz.export_weights import decoder_export

_HTML = '<div class="vae-live"></div>'
_CSS = """
.vae-live { display: flex; flex-direction: column; gap: 8px; font: 13px sans-serif; color: #222; }
.vae-live .row, .vae-live .decoded, .vae-live .bar { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; }
.vae-live .stack { position: relative; }
.vae-live .over { position: absolute; left: 0; top: 0; cursor: crosshair; touch-action: none; }
.vae-live .base, .vae-live .rd { border: 1px solid #ddd; border-radius: 4px; }
.vae-live .title { font-weight: 600; margin-bottom: 4px; }
.vae-live canvas.img { image-rendering: pixelated; background: #000; border-radius: 3px; }
.vae-live figure { margin: 0; display: flex; flex-direction: column; align-items: center; gap: 2px; }
.vae-live figure.strip { align-items: flex-start; }
.vae-live .zline { font-family: monospace; color: #555; }
.vae-live .note { color: #666; font-size: 12px; }
.vae-live input[type=range] { width: 320px; }
.vae-live .beta { font-weight: 600; min-width: 70px; }
.vae-live .legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; color: #444; }
.vae-live .sliders { display: flex; gap: 24px; align-items: flex-start; }
.vae-live .sliders .model { flex: 1 1 0; min-width: 220px; display: flex; flex-direction: column; gap: 2px; }
.vae-live .sliders figure { align-self: center; margin-bottom: 6px; }
.vae-live .sliders label { display: flex; flex-direction: column; }
.vae-live .sliders label.off { color: #999; }
.vae-live .sliders input[type=range] { width: 100%; }
.vae-live button { align-self: flex-start; font: 13px sans-serif; padding: 4px 12px; border: 1px solid #ccc; border-radius: 6px; background: #fff; cursor: pointer; }
.vae-live .legend i { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 4px; }
"""
_JS = Path(__file__).with_name("live_decode.js").read_text(encoding="utf-8")
_component = st.components.v2.component("vae_lab_live_decode", html=_HTML, css=_CSS, js=_JS)


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode()


class Once:
    """A large part of a payload that does not change while its run file does (a decoder's weights,
    a map's codes, a data set's labels). The browser keeps it by ``ident`` (``window.__vaeOnce``):
    a session is sent it in full once, afterwards a reference. A β sweep's rerun was ~1 MB of
    JSON to build, compress and parse on every view; its references are a few hundred bytes."""

    __slots__ = ("ident", "value")

    def __init__(self, what: str, value: Any):
        # a digest, so no server path reaches the page
        self.ident = hashlib.blake2b(what.encode(), digest_size=12).hexdigest()
        self.value = value


_SENT = "_live_decode_sent"  # session state: the Once idents this session's browser already has


def forget_sent() -> None:
    """The browser lacks a part it was sent (a tab reloaded into the same session): send all again."""
    st.session_state[_SENT] = set()


def _encode(data: dict[str, Any]) -> str:
    sent: set[str] = st.session_state.setdefault(_SENT, set())

    def once(o: Any) -> dict[str, Any]:
        if not isinstance(o, Once):
            raise TypeError(f"not JSON: {type(o).__name__}")
        if o.ident in sent:
            return {"$once": o.ident}
        sent.add(o.ident)
        return {"$once": o.ident, "v": o.value}

    return json.dumps(data, separators=(",", ":"), allow_nan=False, default=once)


@st.cache_data(max_entries=64, show_spinner=False)
def _decoder(path: str, version: tuple[float, float], _run: Run) -> dict[str, Any]:
    """The run's decoder export, once per saved file version (its creation and weights' mtime)."""
    return decoder_export(_run.model)


def decoder_of(run: Run) -> Once:
    weights = Path(run.path) / "model.safetensors"
    mtime = weights.stat().st_mtime if weights.exists() else 0.0
    version = (float(run.created), mtime)
    return Once(f"decoder {run.path} {version}", _decoder(str(run.path), version, run))


def map_record(panel: LatentPanel, title: str | None = None) -> dict[str, Any]:
    """One model's map as the component draws it: codes in the plane, the plane's map back to z,
    the decoder."""
    m = panel.codes
    proj = panel.projection
    return {"label": m.label, "title": title or f"{m.label}: {m.run.name}",
            "color": figures.model_color(m.label),
            "decoder": decoder_of(m.run),
            "projection": {"components": np.asarray(proj.components, float).tolist(),
                           "mean": np.asarray(proj.mean, float).tolist()},
            "xy": _codes(panel.xy), "labels": _labels(m.data.test_y.numpy()),
            "class_names": [str(c) for c in m.data.class_names],
            "colors": list(figures.CLASS_COLORS), "range": [float(v) for v in panel.axis_range],
            "one_d": panel.one_d, "prior_center": [float(v) for v in proj.prior_center] + [0.0] * panel.one_d,
            "axis_titles": list(proj.axis_titles)}


def _codes(xy: np.ndarray) -> Once:
    text = _b64(xy)
    return Once("xy " + hashlib.blake2b(text.encode()).hexdigest(), text)


def _labels(y: np.ndarray) -> Once:
    y = np.ascontiguousarray(y, np.int64)
    return Once("labels " + hashlib.blake2b(y.tobytes()).hexdigest(), y.tolist())


def held_note(panels: Sequence[LatentPanel]) -> str:
    """What the directions off the plotted plane are held at, when there are any."""
    for p in panels:
        if p.codes.latent_dim > 2 and p.projection.dims is None:
            return _("Off the plotted plane, z is held at the codes' mean: the z under the mouse is "
                     "the mean code plus x·PC1 + y·PC2.")
        if p.codes.latent_dim > 2:
            return _("The {n} latent dims not plotted are held at 0, the prior's mean.",
                     n=p.codes.latent_dim - 2)
    return ""


def _text(note: str = "") -> dict[str, str]:
    return {"map": _("latent map: move the mouse to decode"), "note": note, "beta": "β",
            "slider": _("β of the sweep run shown"), "grid": _("Decoder grid over the map"),
            "rd": _("Rate–distortion plane (test set)"), "rate": _("rate = KL (nats)"),
            "distortion": _("distortion = recon (nats)"), "rate_short": _("rate"),
            "distortion_short": _("distortion"), "collapsed": _("collapsed"),
            "draws": _("The draws z = μ + σ·ε, decoded")}


MAX_SEND_BYTES = 8_000_000  # base64 text of all decoders one component carries (the demo sweep: 0.7 MB)


def _weights_text(data: dict[str, Any]) -> int:
    decoders = [m["decoder"] for m in data["models"]]
    decoders += [m["decoder"] for m in (data.get("sweep") or {}).get("members", [])]
    decoders += [m["decoder"] for m in data.get("sliders", [])]
    return sum(len(layer.get("w", "")) + len(layer.get("b", ""))
               for d in decoders for layer in (d.value if isinstance(d, Once) else d)["layers"])


def _finite(x: float | None) -> float | None:
    """JSON has no NaN or infinity (JSON.parse refuses the whole payload): None instead."""
    return float(x) if x is not None and np.isfinite(x) else None


def _mount(key: str, data: dict[str, Any]) -> bool:
    """Send ``data`` to the component; False (with a message) when it cannot go."""
    size = _weights_text(data)
    if size > MAX_SEND_BYTES:  # every rerun resends them: a wide net would stall the page
        mb, limit = size * 3 / 4 / 1e6, MAX_SEND_BYTES * 3 / 4 / 1e6
        if "sliders" in data:
            st.info(_("These decoders are too large to send to the browser ({mb:.0f} MB of weights; "
                      "the limit is {limit:.0f} MB), so the sliders are off for them: the traversal "
                      "grids below show what each dim does.", mb=mb, limit=limit),
                    icon=":material/info:")
        else:
            st.info(_("These decoders are too large to send to the browser ({mb:.0f} MB of weights; "
                      "the limit is {limit:.0f} MB), so decoding under the mouse is off for them.",
                      mb=mb, limit=limit), icon=":material/info:")
        return False
    # As bytes (UTF-8 JSON): Streamlit sends bytes as they are and hashes them once for the
    # element's identity; a dict it would serialize twice (sorted and not) on every rerun.
    sent_before = set(st.session_state.get(_SENT, ()))
    try:
        payload = _encode({"key": key, **data})
    except ValueError:  # a code or range that is not finite: nothing sensible to draw
        st.session_state[_SENT] = sent_before
        st.warning(_("Decoding under the mouse is off here: these runs' codes are not finite "
                     "numbers."), icon=":material/warning:")
        return False
    # The browser asks again (the "missing" trigger) when it lacks a part sent as a reference.
    _component(key=key, data=payload.encode(), on_missing_change=forget_sent)
    return True


def live_decode(panels: Sequence[LatentPanel], key: str) -> None:
    """Each panel's map; the z under the mouse is decoded by every decoder of the same latent size."""
    _mount(key, {"models": [map_record(p) for p in panels], "text": _text(held_note(panels))})


def live_paths(panels: Sequence[LatentPanel], ends: Sequence[tuple[np.ndarray, np.ndarray]],
               frames: int, key: str) -> None:
    """Each model's straight path between two codes (``ends`` per panel), ends dragged by hand."""
    _mount(key, {"models": [map_record(p, _("{model}: drag an end of the path", model=p.codes.label))
                            for p in panels],
                 "path": {"frames": int(frames),
                          "ends": [[np.asarray(a, float).tolist(), np.asarray(b, float).tolist()]
                                   for a, b in ends]},
                 "text": _text(held_note(panels))})


def live_draws(panels: Sequence[LatentPanel], model: int, mu: np.ndarray, sigma: np.ndarray,
               eps: np.ndarray, key: str) -> None:
    """K draws z = mu + sigma * eps (eps (K, D) fixed) decoded by ``panels[model]``; μ is dragged."""
    _mount(key, {"models": [map_record(p, _("{model}: drag μ", model=p.codes.label)
                                       if i == model else None) for i, p in enumerate(panels)],
                 "draws": {"model": int(model), "mu": np.asarray(mu, float).tolist(),
                           "sigma": np.asarray(sigma, float).tolist(),
                           "eps": np.asarray(eps, float).tolist()},
                 "text": _text(held_note(panels))})


def sweep_codes(infos: Sequence[RunInfo]) -> list[ModelCodes]:
    """A sweep's runs (``sweep.sweep_groups``, in β order) loaded with their test sets encoded;
    a run that fails to load is reported and left out."""
    out: list[ModelCodes] = []
    for info in infos:
        try:
            run = get_run(info)
        except RunError as e:
            st.error(_("Cannot load {name}: {detail}", name=info.name, detail=str(e)))
            continue
        data = run_dataset(run)
        if data is not None:
            out.append(ModelCodes("VAE", run, data, *encoded_test_set(run)))
    return out


def beta_slider(panels: Sequence[LatentPanel], betas: Sequence[float], rates: Sequence[float],
                distortions: Sequence[float], collapsed: Sequence[bool], key: str,
                start: int = 0, grid_n: int = 12) -> None:
    """A β slider over a sweep's runs (``panels``, one per β, drawn at one shared range): the latent
    map, a decoder grid over it and the run's point on the rate–distortion plane change together,
    in the browser."""
    first = map_record(panels[0])
    common = {k: first[k] for k in ("labels", "class_names", "colors", "one_d", "axis_titles",
                                     "prior_center")}
    members = []
    for p, rate, distortion, flat in zip(panels, rates, distortions, collapsed):
        rec = map_record(p)
        members.append({"label": "VAE", "color": figures.model_color("VAE"), "decoder": rec["decoder"],
                        "projection": rec["projection"], "xy": rec["xy"], "range": rec["range"],
                        "prior_center": rec["prior_center"], "axis_titles": rec["axis_titles"],
                        "rate": _finite(rate), "distortion": _finite(distortion),
                        "collapsed": bool(flat)})
    _mount(key, {"models": [], "text": _text(held_note(panels)),
                 "sweep": {"betas": [float(b) for b in betas], "members": members, "common": common,
                           "start": int(start), "grid_n": int(grid_n)}})


def live_sliders(models: Sequence[ModelCodes], sliders: Sequence[Sequence[dict[str, Any]]],
                 starts: Sequence[np.ndarray], key: str) -> bool:
    """The latent remote control: one range input per latent dim of each model (``sliders[i]``
    in the order shown, each ``{"dim", "label", "low", "high", "active"}``), starting at
    ``starts[i]``; each model decodes its own z as they move. False when it could not be sent."""
    return _mount(key, {"models": [], "text": {**_text(), "reset": _("Back to the test image's code")},
                        "sliders": [{"label": m.label, "color": figures.model_color(m.label),
                                     "decoder": decoder_of(m.run),
                                     "caption": _("{model} decodes this z", model=m.label),
                                     "start": np.asarray(z, float).tolist(), "dims": list(dims)}
                                    for m, dims, z in zip(models, sliders, starts)]})
