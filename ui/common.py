"""Shared Streamlit helpers: cached resources, the sidebar and the run pickers.

Caching follows Streamlit's advice by kind: data sets, loaded runs and the training pool are
``st.cache_resource`` (shared by every session, so treated as read-only); per-user state lives in
``st.session_state`` under page-prefixed keys.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from vae_core import DatasetError, ImageDataset, Run, RunError, RunInfo, figures, list_runs, load_dataset, load_run
from vae_core.explore import (Projection, dims_projection, encode_dataset, first_of_class, pca_2d,
                              plane_coords, shared_range, tile, upscale)
from vae_core.jobs import Job, TrainingPool

from ui.export import notebook_button
from ui.links import BIND, link_fallback

REPO = Path(__file__).resolve().parent.parent
PAGES = [  # (file, label, icon): the sidebar order
    ("streamlit_app.py", "Overview", ":material/home:"),
    ("pages/1_Train.py", "Train", ":material/model_training:"),
    ("pages/2_Latent_space.py", "Latent space", ":material/scatter_plot:"),
    ("pages/3_Decoder_grid.py", "Decoder grid", ":material/grid_on:"),
    ("pages/4_Generate.py", "Generate & interpolate", ":material/auto_awesome:"),
    ("pages/5_Reparameterization.py", "Reparameterization & KL", ":material/functions:"),
    ("pages/6_Evidence.py", "Evidence", ":material/fact_check:"),
    ("pages/7_Training_replay.py", "Training replay", ":material/replay:"),
    ("pages/8_Draw_a_digit.py", "Draw a digit", ":material/draw:"),
    ("pages/9_Loss_lab.py", "Loss-convention lab", ":material/science:"),
]


def checkpoints_root() -> Path:
    """Where runs live; tests point ``VAE_LAB_CHECKPOINTS`` at a temporary folder."""
    return Path(os.environ.get("VAE_LAB_CHECKPOINTS", REPO / "checkpoints"))


def data_root() -> Path:
    """Where torchvision data sets are downloaded (ignored by git)."""
    return Path(os.environ.get("VAE_LAB_DATA", REPO / "data"))


@st.cache_resource(show_spinner=False)
def get_pool() -> TrainingPool:
    """One pool for the whole server: at most ``max_workers`` trainings at once, each in a child
    process. The server's own torch work (encoding and decoding for the pages) runs on one thread:
    these small models gain nothing from more, and a spinning OpenMP team per page thread
    oversubscribed 2 busy cores (a 20x20 grid: 0.7 ms on one thread, 48 ms on two, under load).
    """
    import torch

    torch.set_num_threads(1)
    return TrainingPool(data_root=str(data_root()))


@st.cache_resource(show_spinner="Loading data set…", max_entries=4)
def _dataset(spec: str, root: str) -> ImageDataset:
    return load_dataset(spec, root=root)


def get_dataset(spec: str) -> ImageDataset:
    """The data set for ``spec``, cached; raises ``DatasetError`` (not cached) on failure."""
    return _dataset(spec, str(data_root()))


def dataset_or_error(spec: str) -> ImageDataset | None:
    """The data set, or None after showing the user why it could not be loaded."""
    try:
        return get_dataset(spec)
    except DatasetError as e:
        st.error(str(e), icon=":material/cloud_off:")
        return None


@st.cache_resource(show_spinner=False, max_entries=64)
def _run(path: str, mtime: float) -> Run:
    return load_run(path)


def get_run(info: RunInfo | str | Path) -> Run:
    """A loaded run (cached by path and modification time); raises ``RunError``."""
    path = Path(getattr(info, "path", info))  # duck-typed: survives module reloads
    try:
        mtime = (path / "run.json").stat().st_mtime
    except OSError as e:
        raise RunError(f"{path.name}: cannot be read ({e})") from e
    return _run(str(path), mtime)


def runs() -> list[RunInfo]:
    """All runs, newest first, broken ones included (status "broken")."""
    return list_runs(checkpoints_root())


def page_link(file: str, label: str, icon: str) -> None:
    """``st.page_link`` that skips the link when the page is unknown to this script run: a page
    file run on its own (AppTest.from_file on a page) resolves links from its own folder."""
    if not (REPO / file).exists():
        return
    try:
        st.page_link(file, label=label, icon=icon)
    except StreamlitPageNotFoundError:
        pass


def sidebar() -> None:
    """Page links plus a one-line status of the shared training pool."""
    with st.sidebar:
        st.markdown("### VAE Lab")
        for file, label, icon in PAGES:
            page_link(file, label=label, icon=icon)
        from ui.export import export_format_picker

        export_format_picker()
        counts = get_pool().counts()
        if counts["running"] or counts["queued"]:
            st.caption(f"Training now: {counts['running']} running, {counts['queued']} queued")


def usable_runs(kind: str | None = None) -> list[RunInfo]:
    return [r for r in runs() if r.usable and (kind is None or r.kind == kind)]


def default_pair(infos: list[RunInfo]) -> tuple[RunInfo | None, RunInfo | None]:
    """The newest AE and VAE that belong to one pair, else the newest of each kind."""
    aes = [r for r in infos if r.kind == "ae"]
    vaes = [r for r in infos if r.kind == "vae"]
    for vae in vaes:
        match = next((a for a in aes if vae.pair and a.pair == vae.pair), None)
        if match:
            return match, vae
    return (aes[0] if aes else None), (vaes[0] if vaes else None)


def _label(r: RunInfo) -> str:
    beta = f", β={r.beta:g}" if r.kind == "vae" and r.beta is not None else ""
    return f"{r.name} ({r.dataset}, latent {r.latent_dim}{beta}, {r.status})"


def pick_pair(key: str) -> tuple[Run | None, Run | None]:
    """Two select boxes (AE run, VAE run), defaulting to the newest pair.

    Shows a notice when there are no runs, an error for a run that fails to load, and a warning
    when the two runs differ in data set or latent size (they are still shown).
    """
    infos = usable_runs()
    default_ae, default_vae = default_pair(infos)
    aes = [r for r in infos if r.kind == "ae"]
    vaes = [r for r in infos if r.kind == "vae"]
    if not aes and not vaes:
        st.info("No trained runs yet. Train an AE+VAE pair in a few seconds on the "
                "**Overview** (one click) or the **Train** page.", icon=":material/info:")
        page_link("pages/1_Train.py", label="Go to Train", icon=":material/model_training:")
        return None, None
    c1, c2 = st.columns(2)
    chosen: list[Run | None] = []
    for col, kind, options, default in ((c1, "AE", aes, default_ae), (c2, "VAE", vaes, default_vae)):
        with col:
            if not options:
                st.warning(f"No usable {kind} run yet: train one on the Train page.")
                chosen.append(None)
                continue
            by_name = {r.name: r for r in options}
            first = default if default in options else options[0]
            widget_key = f"{key}_{kind.lower()}_run"
            # a bound selectbox keeps its option's label in the URL
            link_fallback(widget_key, [_label(r) for r in options], f"the {kind} run", first.name)
            info = by_name[st.selectbox(f"{kind} run", list(by_name), index=options.index(first),
                                        format_func=lambda n, runs=by_name: _label(runs[n]), key=widget_key,
                                        bind=BIND)]
            try:
                chosen.append(get_run(info))
                notebook_button(chosen[-1], key=f"{widget_key}_notebook")
            except RunError as e:
                st.error(f"Cannot load {info.name}: {e}")
                chosen.append(None)
    ae, vae = chosen
    if ae is not None and vae is not None:
        if ae.dataset != vae.dataset:
            st.warning(f"The two runs were trained on different data sets ({ae.dataset} vs "
                       f"{vae.dataset}); the comparison is not like for like.")
        if ae.model_config.latent_dim != vae.model_config.latent_dim:
            st.warning(f"Latent sizes differ (AE {ae.model_config.latent_dim}, VAE "
                       f"{vae.model_config.latent_dim}); plots use each model's own space.")
    return ae, vae


# --- Exploration page helpers (latent space, decoder grid, generate, reparameterization) ------

@dataclass(frozen=True)
class ModelCodes:
    """One model of the pair with its test set encoded: what every latent view starts from."""

    label: str  # "AE" or "VAE"
    run: Run
    data: ImageDataset
    mu: np.ndarray  # (N, D) test-set codes (the AE's z, the VAE's posterior means)
    logvar: np.ndarray | None  # (N, D) for the VAE

    @property
    def latent_dim(self) -> int:
        return self.run.model_config.latent_dim


@st.cache_data(show_spinner="Encoding the test set…", max_entries=16)
def _test_codes(path: str, mtime: float, spec: str, root: str) -> tuple[np.ndarray, np.ndarray | None]:
    # Keyed by run path + mtime: a retrained run under the same name is encoded again.
    return encode_dataset(_run(path, mtime).model, _dataset(spec, root).test_x)


def test_codes(ae: Run | None, vae: Run | None) -> list[ModelCodes]:
    """The chosen models with their test sets encoded once per run (cached). A model whose data
    set cannot be loaded, or whose input size does not fit it, is reported and left out."""
    out: list[ModelCodes] = []
    for label, run in (("AE", ae), ("VAE", vae)):
        if run is None:
            continue
        data = dataset_or_error(run.dataset)
        if data is None:
            continue
        if tuple(data.image_shape) != tuple(run.model_config.input_shape):
            st.error(f"{run.name} expects images of shape {run.model_config.input_shape} but "
                     f"{run.dataset} has {data.image_shape}.")
            continue
        mtime = (run.path / "run.json").stat().st_mtime
        mu, logvar = _test_codes(str(run.path), mtime, run.dataset, str(data_root()))
        out.append(ModelCodes(label, run, data, mu, logvar))
    return out


def plane_picker(key: str, latent_dims: list[int], allow_pca: bool = True) -> str | tuple[int, int]:
    """Which plane of a latent space to draw: two dims (returned as a tuple) or ``"pca"``.
    Widgets appear only when some model has more than 2 latent dims."""
    top = max(latent_dims, default=2)
    if top <= 2:
        return (0, 1)
    # PCA first: a VAE often leaves some dims unused (collapsed to the prior), and dims 0 and 1
    # may be among them; the principal plane shows where the codes actually vary.
    modes = ["PCA projection", "Two latent dims"] if allow_pca else ["Two latent dims"]
    c1, c2, c3 = st.columns([2, 1, 1])
    mode = c1.radio(f"Latent space has up to {top} dims: show", modes, horizontal=True,
                    key=f"{key}_plane_mode", bind=BIND) if allow_pca else modes[0]
    if mode == "PCA projection":
        c2.caption("PCA is fitted to each model's own codes.")
        return "pca"
    dx = c2.selectbox("x dim", range(top), index=0, key=f"{key}_dim_x", bind=BIND)
    dy = c3.selectbox("y dim", [d for d in range(top) if d != dx], index=0, key=f"{key}_dim_y", bind=BIND)
    return (int(dx), int(dy))


def projection_for(codes: ModelCodes, plane: str | tuple[int, int]) -> Projection:
    """The plotted plane for one model: its PCA plane, the chosen dims if it has them (else dims
    0 and 1), or its single dim when latent_dim is 1."""
    d = codes.latent_dim
    if d == 1:
        return dims_projection(1, (0,))
    if plane == "pca":
        return pca_2d(codes.mu)
    dims = plane if max(plane) < d else (0, 1)
    return dims_projection(d, dims)


@dataclass(frozen=True)
class LatentPanel:
    """One model's codes in its plotted plane (x, jitter for a 1-d latent space)."""

    codes: ModelCodes
    projection: Projection
    xy: np.ndarray  # (N, 2)

    @property
    def one_d(self) -> bool:
        return self.codes.latent_dim == 1

    def to_plane(self, z: np.ndarray) -> np.ndarray:
        """Extra codes (K, D) in this plane; on a 1-d axis they sit at height 0."""
        p = self.projection(np.asarray(z).reshape(-1, self.codes.latent_dim))
        return np.column_stack([p[:, 0], np.zeros(len(p))]) if self.one_d else p

    def scatter(self, axis_range: tuple[float, float], title: str | None = None, **kwargs) -> go.Figure:
        m = self.codes
        return figures.latent_scatter(
            self.xy, m.data.test_y.numpy(), m.data.class_names, title or f"{m.label}: {m.run.name}",
            axis_range, prior_center=tuple(self.projection.prior_center) + (0.0,) * self.one_d,
            axis_titles=self.projection.axis_titles, one_d=self.one_d, **kwargs)


def latent_panels(models: list[ModelCodes], plane: str | tuple[int, int]) -> tuple[list[LatentPanel], tuple[float, float]]:
    """Each model's panel plus one axis range shared by all (points and 3-sigma prior circles)."""
    panels = []
    for m in models:
        proj = projection_for(m, plane)
        panels.append(LatentPanel(m, proj, plane_coords(proj(m.mu))))
    if any(p.one_d for p in panels):
        st.info("A 1-d latent space is drawn along x with random vertical jitter (the height means "
                "nothing); the 2-d pictures need latent size 2 or more.", icon=":material/info:")
    axis_range = shared_range(*(p.xy[:, :1] if p.one_d else p.xy for p in panels),
                              prior_centers=[p.projection.prior_center for p in panels])
    return panels, axis_range


def pick_test_image(key: str, data: ImageDataset, label: str, by_class: bool, default_class: int = 0) -> int:
    """A test image chosen by class (its first image) or by index; returns the index."""
    n = len(data.test_x)
    if by_class:
        classes = [c for c in range(len(data.class_names)) if first_of_class(data.test_y, c) is not None]
        c = st.selectbox(label, classes, index=min(default_class, len(classes) - 1),
                         format_func=lambda c: f"class {data.class_names[c]}", key=f"{key}_class", bind=BIND)
        return int(first_of_class(data.test_y, c))
    return int(st.number_input(label, 0, n - 1, min(default_class, n - 1), key=f"{key}_index", bind=BIND))


def show_images(images: np.ndarray, ncols: int, caption: str | None = None, min_width: int = 320) -> None:
    """Images (N, H, W) tiled into one picture (grey gaps), enlarged by whole pixels so small
    digits stay crisp: at least ``min_width`` wide and about 56 px per tile, up to 900 px."""
    target = max(min_width, min(900, ncols * 56))
    st.image(upscale(tile(images, ncols, pad=1, pad_value=0.5), target), caption=caption, clamp=True,
             output_format="PNG")  # JPEG would smear the hard pixel edges


# --- Training helpers (Overview one-click pair, Train page) -----------------------------------

def page_exists(file: str) -> bool:
    """Whether a page file of ``PAGES`` is present (pages are built by different people)."""
    return (REPO / file).exists()


def show_job_progress(job: Job) -> None:
    """The queue position while ``job`` waits, else a progress bar with elapsed time and ETA."""
    if job.state == "queued":
        pool = get_pool()
        ahead = pool.queue_position(job)
        st.info(f"Queued: {ahead} job(s) wait ahead of yours. The server trains "
                f"{pool.max_workers} jobs at a time for everyone; yours starts when a worker is free.",
                icon=":material/hourglass_top:")
        return
    eta = job.eta()
    text = f"Training: {job.progress():.0%} · {job.elapsed():.0f} s elapsed"
    if job.active:
        text += f" · about {eta:.0f} s left" if eta is not None else " · estimating time left…"
    st.progress(job.progress(), text=text)
