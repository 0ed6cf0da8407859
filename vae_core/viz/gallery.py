"""The class gallery: the runs trained on one server since a chosen time ("this class"), as table
rows, points on the rate–distortion plane, and a wall of prior samples (one row per run).

Everything here reads what ``runs.list_runs`` already knows (the last epoch's test recon and KL,
β, the owner token, the time of training) except the wall, which decodes ``WALL_SAMPLES`` draws
z ~ N(0, I) per run (the same seeded draws for every run, so rows differ only by their decoders).
A teacher may hide runs from the wall; the hidden names live in ``HIDDEN_FILE`` in the runs
folder, read as possibly hostile (a list of valid run names, bounded), written atomically.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import plotly.graph_objects as go

from vae_core.viz.figures import model_color
from vae_core.analysis.latent_tools import decode_images, sample_prior
from vae_core.models import LatentModel
from vae_core.store.run_format import InvalidRunName, RunInfo, validate_run_name
from vae_core.text import Translate, no_translation

CLASS_WINDOW_H = 2.0  # "this class": runs trained in the last two hours, by default
WALL_SAMPLES = 10
WALL_SEED = 0
HIDDEN_FILE = ".gallery-hidden.json"  # a dot file: list_runs skips it
MAX_HIDDEN_BYTES = 1 << 20
TILE_PX = 32  # a sample on the wall (digits are 8x8: 4x)
LABEL_PX = 260
HIGHLIGHT = (255, 224, 102)  # a student's own rows


@dataclass(frozen=True)
class GalleryRow:
    """One run of the class, as the table, the plot and the wall show it."""

    name: str
    kind: str  # "ae" | "vae"
    beta: float | None  # VAE only
    latent_dim: int | None
    dataset: str
    status: str
    created: float  # seconds since the epoch
    recon: float | None  # the last epoch's test recon per image, nats (distortion)
    kl: float | None  # its test KL per image, nats (rate; the AE has none)
    mine: bool  # trained by the session looking at the gallery

    @property
    def label(self) -> str:
        """The run's name and β, as the wall writes it beside its row."""
        return f"{self.name}  β={self.beta:g}" if self.kind == "vae" and self.beta is not None \
            else f"{self.name}  AE"


def class_rows(infos: Iterable[RunInfo], since: float, owner: str | None,
               hidden: Iterable[str] = ()) -> list[GalleryRow]:
    """Usable runs trained at or after ``since`` (seconds since the epoch) and not ``hidden``,
    newest first; ``mine`` marks those whose owner token is ``owner``."""
    hidden = set(hidden)
    rows = []
    for r in infos:
        if not r.usable or r.created < since or r.name in hidden:
            continue
        rows.append(GalleryRow(
            r.name, r.kind, r.beta if r.kind == "vae" else None, r.latent_dim, r.dataset, r.status,
            r.created, r.final.get("recon"), r.final.get("kl") if r.kind == "vae" else None,
            owner is not None and r.owner == owner))
    return sorted(rows, key=lambda r: (r.created, r.name), reverse=True)


def prior_samples(model: LatentModel, n: int = WALL_SAMPLES, seed: int = WALL_SEED) -> np.ndarray:
    """(n, H, W[, C]) images decoded from n seeded draws z ~ N(0, I): one row of the wall."""
    return decode_images(model, sample_prior(n, model.latent_dim, seed=seed))


def rate_distortion(rows: list[GalleryRow], gettext: Translate = no_translation) -> go.Figure:
    """Each VAE at (its test KL, its test recon) coloured by β (a collapsed one as an X); each AE
    on the distortion axis (rate 0: it has no KL); the viewer's own runs drawn larger with a black
    ring. customdata holds the run name."""
    fig = go.Figure()
    vaes = [r for r in rows if r.kind == "vae" and r.kl is not None and r.recon is not None]
    aes = [r for r in rows if r.kind == "ae" and r.recon is not None]

    def ring(rs: list[GalleryRow]) -> dict:
        return dict(size=[15 if r.mine else 9 for r in rs],
                    line=dict(width=[2.5 if r.mine else 0.5 for r in rs], color="black"))

    if vaes:
        fig.add_trace(go.Scatter(
            x=[r.kl for r in vaes], y=[r.recon for r in vaes], mode="markers", name="VAE",
            cliponaxis=False,  # a collapsed VAE sits at rate 0, on the axis
            customdata=[r.name for r in vaes], text=[f"β={r.beta:g}" for r in vaes],
            marker=dict(color=[r.beta for r in vaes], colorscale="Viridis", showscale=True,
                        colorbar=dict(title="β"), **ring(vaes),
                        symbol=["x" if r.status == "collapsed" else "circle" for r in vaes]),
            hovertemplate=gettext("%{customdata} (%{text})<br>KL %{x:.2f}, recon %{y:.2f}")
            + "<extra></extra>"))
    if aes:
        fig.add_trace(go.Scatter(
            x=[0.0] * len(aes), y=[r.recon for r in aes], mode="markers", name="AE",
            customdata=[r.name for r in aes], cliponaxis=False,
            marker=dict(symbol="square", color=model_color("ae"), **ring(aes)),
            hovertemplate=gettext("%{customdata} (AE)<br>recon %{y:.2f}") + "<extra></extra>"))
    fig.update_layout(xaxis_title=gettext("rate: KL(q(z|x) ‖ p(z)), nats per image"),
                      yaxis_title=gettext("distortion: −log p(x|z), nats per image"),
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.08))
    fig.update_xaxes(rangemode="tozero")
    return fig


def _rgb(images: np.ndarray) -> np.ndarray:
    """(n, H, W[, C]) in [0, 1] -> (n, H, W, 3) uint8."""
    a = np.clip(np.asarray(images, dtype=np.float32), 0, 1)
    if a.ndim == 3:
        a = np.repeat(a[..., None], 3, axis=3)
    return (a[..., :3] * 255).round().astype(np.uint8)


def wall_image(rows: list[GalleryRow], samples: dict[str, np.ndarray]) -> np.ndarray:
    """The wall as one (height, width, 3) uint8 picture: a row per run (its name and β on the
    left, highlighted for the viewer's own runs), its prior samples beside it. ``samples`` maps
    a run name to ``prior_samples``' images; rows without samples are left out."""
    from PIL import Image, ImageDraw, ImageFont

    shown = [r for r in rows if r.name in samples]
    n = max((len(samples[r.name]) for r in shown), default=WALL_SAMPLES)
    gap, row_h = 2, TILE_PX + 4
    width = LABEL_PX + n * (TILE_PX + gap) + gap
    canvas = Image.new("RGB", (width, max(1, len(shown)) * row_h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    try:  # a font with Greek letters (Pillow's built-in one has no β)
        font = ImageFont.truetype("DejaVuSans.ttf", 14)
        beta = "β"
    except OSError:
        font, beta = ImageFont.load_default(size=14), "beta"
    for i, r in enumerate(shown):
        top = i * row_h
        if r.mine:
            draw.rectangle((0, top, width - 1, top + row_h - 1), fill=HIGHLIGHT)
        draw.text((6, top + row_h // 2), r.label.replace("β", beta), fill=(0, 0, 0), font=font,
                  anchor="lm")
        for j, tile in enumerate(_rgb(samples[r.name])):
            img = Image.fromarray(tile).resize((TILE_PX, TILE_PX), Image.NEAREST)
            canvas.paste(img, (LABEL_PX + gap + j * (TILE_PX + gap), top + 2))
    return np.asarray(canvas)


def png_bytes(image: np.ndarray) -> bytes:
    """A (H, W, 3) uint8 picture as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def read_hidden(root: str | os.PathLike[str]) -> frozenset[str]:
    """The run names a teacher hid from the wall (empty when the file is missing, too big or not
    a JSON list of valid run names: a hostile file hides nothing and breaks nothing)."""
    path = Path(root) / HIDDEN_FILE
    try:
        if path.is_symlink() or path.stat().st_size > MAX_HIDDEN_BYTES:
            return frozenset()
        names = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return frozenset()
    if not isinstance(names, list):
        return frozenset()
    out = set()
    for n in names:
        try:
            out.add(validate_run_name(n) if isinstance(n, str) else "")
        except InvalidRunName:
            continue
    return frozenset(out - {""})


def write_hidden(root: str | os.PathLike[str], names: Iterable[str]) -> None:
    """Replace the hidden list with ``names`` (each a valid run name), atomically."""
    clean = sorted({validate_run_name(n) for n in names})
    root = Path(root)
    # Not a ".tmp-" name: list_runs removes those as leftovers of a crashed save.
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".gallery-hidden-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(clean, f)
        os.replace(tmp, root / HIDDEN_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
