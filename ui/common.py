"""Shared Streamlit helpers: cached resources, the sidebar and the run pickers.

Caching follows Streamlit's advice by kind: data sets, loaded runs and the training pool are
``st.cache_resource`` (shared by every session, so treated as read-only); per-user state lives in
``st.session_state`` under page-prefixed keys.
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from vae_core import DatasetError, ImageDataset, Run, RunError, RunInfo, list_runs, load_dataset, load_run
from vae_core.jobs import TrainingPool

REPO = Path(__file__).resolve().parent.parent
PAGES = [  # (file, label, icon): the sidebar order
    ("streamlit_app.py", "Overview", ":material/home:"),
    ("pages/1_Train.py", "Train", ":material/model_training:"),
    ("pages/2_Latent_space.py", "Latent space", ":material/scatter_plot:"),
    ("pages/3_Decoder_grid.py", "Decoder grid", ":material/grid_on:"),
    ("pages/4_Generate.py", "Generate & interpolate", ":material/auto_awesome:"),
    ("pages/5_Reparameterization.py", "Reparameterization & KL", ":material/functions:"),
    ("pages/6_Evidence.py", "Evidence", ":material/fact_check:"),
]


def checkpoints_root() -> Path:
    """Where runs live; tests point ``VAE_LAB_CHECKPOINTS`` at a temporary folder."""
    return Path(os.environ.get("VAE_LAB_CHECKPOINTS", REPO / "checkpoints"))


def data_root() -> Path:
    """Where torchvision data sets are downloaded (ignored by git)."""
    return Path(os.environ.get("VAE_LAB_DATA", REPO / "data"))


@st.cache_resource(show_spinner=False)
def get_pool() -> TrainingPool:
    """One pool for the whole server: at most ``max_workers`` trainings at once."""
    return TrainingPool(load=get_dataset)


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
    path = Path(info.path if isinstance(info, RunInfo) else info)
    try:
        mtime = (path / "run.json").stat().st_mtime
    except OSError as e:
        raise RunError(f"{path.name}: cannot be read ({e})") from e
    return _run(str(path), mtime)


def runs() -> list[RunInfo]:
    """All runs, newest first, broken ones included (status "broken")."""
    return list_runs(checkpoints_root())


def sidebar() -> None:
    """Page links plus a one-line status of the shared training pool."""
    with st.sidebar:
        st.markdown("### VAE Lab")
        for file, label, icon in PAGES:
            if (REPO / file).exists():
                st.page_link(file, label=label, icon=icon)
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
        st.page_link("pages/1_Train.py", label="Go to Train", icon=":material/model_training:")
        return None, None
    c1, c2 = st.columns(2)
    chosen: list[Run | None] = []
    for col, kind, options, default in ((c1, "AE", aes, default_ae), (c2, "VAE", vaes, default_vae)):
        with col:
            if not options:
                st.warning(f"No usable {kind} run yet: train one on the Train page.")
                chosen.append(None)
                continue
            info = st.selectbox(f"{kind} run", options, index=options.index(default) if default in options else 0,
                                format_func=_label, key=f"{key}_{kind.lower()}_run")
            try:
                chosen.append(get_run(info))
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
