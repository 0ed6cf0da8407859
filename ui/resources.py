"""Cached resources shared by every session: the training pool, data sets, loaded runs.

Spinners are drawn by the callers (``st.spinner(_(...))``, shown only when a call takes a while), not
by the cache decorators, whose text would be fixed in one language at import. Caching follows
Streamlit's advice by kind: data sets, loaded runs and the training pool are
``st.cache_resource`` (shared by every session, so treated as read-only); small derived arrays
are ``st.cache_data``; per-user state lives in ``st.session_state`` under page-prefixed keys.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.access import is_hosted
from ui.i18n import _
from ui.links import md

from vae_core.data import DOWNLOAD_FAILED, DownloadError, check_run_dataset, dataset_label, load_dataset
from vae_core.store.run_format import Run, RunInfo, load_run, read_run_meta
from vae_core.store.runs import list_runs
from vae_core.store.stored_codes import CODES_FILE, StoredCodes, read_codes
from vae_core.store.validate import DatasetError, RunError
from vae_core.text import N_

if TYPE_CHECKING:  # what computes imports torch: imported in the functions that compute, so
    # the frame and the Overview's first view (stored codes) run before torch is loaded
    from vae_core.analysis.classifier import JudgedClassifier
    from vae_core.analysis.generation import GenerationTest
    from vae_core.data import ImageDataset
    from vae_core.jobs.engine import TrainingEngine

REPO = Path(__file__).resolve().parent.parent


class SharedFigure(go.Figure):
    """A finished figure frozen for every session to show: ``st.plotly_chart`` takes a figure's
    ``to_dict()``, which deep-copies every trace and re-encodes every array (10-25 ms for a latent
    scatter, most of a page view); this one computes that dict once and hands out the same dict,
    which Plotly's JSON writer only reads. Read-only: it has no traces or layout of its own, so
    build the figure completely before freezing it, and return it from ``st.cache_resource``."""

    def __init__(self, fig: go.Figure):
        super().__init__()
        self._frozen = fig.to_dict()

    def to_dict(self) -> dict:
        return self._frozen


def _copy_tree(value: object) -> object:
    # dicts and lists copied, arrays (read-only in the cache) and scalars shared
    if isinstance(value, dict):
        return {k: _copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_tree(v) for v in value]
    return value


def figure_template(fig: go.Figure) -> dict:
    """A built figure as plain data to cache and hand to every session with ``from_template``:
    building a Plotly figure validates every property (about 30 ms for a latent scatter), a copy
    of this does not (about 2 ms)."""
    spec = fig.to_plotly_json()
    for trace in spec["data"]:
        for v in trace.values():
            if isinstance(v, np.ndarray):
                v.flags.writeable = False
    return spec


def from_template(spec: dict) -> go.Figure:
    """A figure of its own (the caller may add traces or change the layout) from a cached
    ``figure_template``; its contents were validated when the template was built."""
    return go.Figure(data=_copy_tree(spec["data"]), layout=_copy_tree(spec["layout"]), _validate=False)


def shared_figure(key: tuple, build: Callable[[], go.Figure]) -> go.Figure:
    """The figure ``build()`` makes, built once per ``key`` and shared by every session; a figure
    of the caller's own. ``key`` must name everything the figure depends on: the runs' files and
    versions (``run_key``), the page's parameters and the language. Building a Plotly figure
    validates every property; on Generate that was most of a warm view (tiles, maps, histogram)."""
    return from_template(_shared_figure(key, build))


@st.cache_resource(show_spinner=False, max_entries=256)
def _shared_figure(key: tuple, _build: Callable[[], go.Figure]) -> dict:
    return figure_template(_build())


def run_key(run: Run) -> tuple[str, float]:
    """A run's part of a cache key: its folder and file version."""
    return str(run.path), run_version(run)


def checkpoints_root() -> Path:
    """Where runs live; tests point ``VAE_LAB_CHECKPOINTS`` at a temporary folder."""
    return Path(os.environ.get("VAE_LAB_CHECKPOINTS", REPO / "checkpoints"))


def data_root() -> Path:
    """Where torchvision data sets are downloaded (ignored by git)."""
    return Path(os.environ.get("VAE_LAB_DATA", REPO / "data"))


def pin_torch_threads() -> None:
    """The server's own torch work (encoding and decoding for the pages) runs on one thread: these
    small models gain nothing from more, and a spinning OpenMP team per page thread oversubscribed
    2 busy cores (a 20x20 grid: 0.7 ms on one thread, 48 ms on two, under load). Called by the
    frame on every run and by ``warm_torch``; it imports nothing (a cold Overview needs no torch):
    until torch is loaded there is nothing to pin."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads") and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


_TORCH_READY = threading.Event()  # process-wide, like the cached engine itself
FIRST_PAGE_WAIT_S = 10.0  # at most this long for the first page's script run to end


@st.cache_resource(show_spinner=False)
def _torch_warmer(_after: threading.Thread) -> threading.Thread:
    def warm() -> None:
        try:
            # The page that asked is sent first (no share of its GIL): wait until its script
            # run ends (or a while: a rerun may keep the thread).
            deadline = time.monotonic() + FIRST_PAGE_WAIT_S
            while _after.is_alive() and time.monotonic() < deadline:
                _after.join(0.05)
            # torch alone: a page importing vae_core meanwhile waits on torch's import lock, and
            # this thread never needs a vae_core module, so the two cannot deadlock half-way.
            import torch  # noqa: F401 (loading it is the point)

            pin_torch_threads()
        finally:
            _TORCH_READY.set()

    thread = threading.Thread(target=warm, name="vae-lab-warm-torch", daemon=True)
    thread.start()
    return thread


def warm_torch() -> None:
    """Import torch in a background thread, once per server, after this script run ends (the
    frame calls it after every page): a first page drawn from stored files is sent without
    waiting for torch, and the next page finds it loaded."""
    if not torch_loaded():
        _torch_warmer(threading.current_thread())


def torch_loaded() -> bool:
    """Whether torch is imported (by ``warm_torch`` or a page)."""
    return _TORCH_READY.is_set() or hasattr(sys.modules.get("torch"), "Tensor")


_ENGINE_REQUESTED = threading.Event()  # process-wide, like the cached engine itself


@st.cache_resource(show_spinner=False, on_release=lambda engine: engine.shutdown(wait=False))
def get_pool() -> TrainingEngine:
    """One training engine for the whole server (vae_core.jobs): a local Dask cluster, or the
    one at ``VAE_LAB_SCHEDULER``; it starts in the background. Pages that train (Train, the
    Overview's button) ask for it; merely showing a page does not start a cluster."""
    from vae_core.jobs.engine import TrainingEngine

    _ENGINE_REQUESTED.set()
    return TrainingEngine.from_env(data_root=str(data_root()))


def started_pool() -> TrainingEngine | None:
    """The engine if some page has already started it, else None (the sidebar's status must not
    start worker processes on a server's first page view: that doubled its cold start)."""
    return get_pool() if _ENGINE_REQUESTED.is_set() else None


@st.cache_resource(show_spinner=False, max_entries=4)
def _dataset(spec: str, root: str) -> ImageDataset:
    return load_dataset(spec, root=root)


IDX_FOLDER_CHOICE = N_("A folder of IDX files")  # the Train page's data set option for local files


def get_dataset(spec: str) -> ImageDataset:
    """The data set for ``spec``, cached; raises ``DatasetError`` (not cached) on failure."""
    key = (spec, str(data_root()))
    if key in _loaded:  # no spinner for a cached set: a spinner costs a timer and two messages
        return _dataset(*key)
    with st.spinner(_("Loading data set…")):
        data = _dataset(*key)
    if len(_loaded) > 256:  # uploads add folders: stay bounded (a forgotten key only shows a spinner)
        _loaded.clear()
    _loaded.add(key)
    return data


_loaded: set[tuple[str, str]] = set()  # data sets loaded once by this process (maybe evicted since)


def dataset_or_error(spec: str) -> ImageDataset | None:
    """The data set, or None after showing the user why it could not be loaded."""
    try:
        return get_dataset(spec)
    except DownloadError as e:
        # The dashboard's own wording: the IDX-folder choice, not the CLI's --dataset idx:PATH.
        if is_hosted():
            todo = _("If this server is offline, upload the IDX files on the Train page (choose "
                     "**Upload IDX files** as the data set).")
        else:
            todo = _("If this server is offline, copy the four IDX files into {folder}, or choose "
                     "**{choice}** as the data set on the Train page and give the folder that "
                     "holds them.", folder=str(e.folder), choice=_(IDX_FOLDER_CHOICE))
        st.error(_("{problem} {todo} The bundled **digits** data set always works offline.",
                   problem=_(DOWNLOAD_FAILED, dataset=e.dataset, error=e.error), todo=todo),
                 icon=":material/cloud_off:")
        return None
    except DatasetError as e:
        # The data folder by its setting's name: visitors need not learn the server's paths.
        detail = str(e).replace(str(data_root().expanduser().resolve()), "VAE_LAB_DATA")
        st.error(_("This data set cannot be loaded: {detail}", detail=md(detail)),
                 icon=":material/cloud_off:")
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
        raise RunError(_("{run}: cannot be read ({error})", run=path.name, error=str(e))) from e
    return _run(str(path), mtime)


def run_dataset(run: Run) -> ImageDataset | None:
    """The data set a run was trained on, or None after telling the user why it cannot be used:
    a run.json may name only a known data set or an IDX folder inside the data folder (never any
    path on the server), it fails to load, or its images are not the shape the model takes."""
    try:
        check_run_dataset(run.dataset, data_root())
    except DatasetError as e:
        st.error(_("The data set of this run cannot be used: {detail}", detail=md(str(e))),
                 icon=":material/folder_off:")
        return None
    data = dataset_or_error(run.dataset)
    if data is not None and tuple(data.image_shape) != tuple(run.model_config.input_shape):
        st.error(_("{run} expects images of shape {expected} but {dataset} has {shape}.",
                   run=md(run.name), expected=str(run.model_config.input_shape),
                   dataset=md(dataset_label(run.dataset)),
                   shape=str(data.image_shape)))
        return None
    return data


@st.cache_data(show_spinner=False, max_entries=16)
def _encoded_test_set(path: str, mtime: float, spec: str, root: str) -> tuple[np.ndarray, np.ndarray | None]:
    # Keyed by run path + mtime: a retrained run under the same name is encoded again.
    from vae_core.analysis.latent_tools import encode_dataset

    return encode_dataset(_run(path, mtime).model, _dataset(spec, root).test_x)


def encoded_test_set(run: Run) -> tuple[np.ndarray, np.ndarray | None]:
    """(mu, logvar) of the run's test split (cached); call after ``run_dataset`` accepted it."""
    with st.spinner(_("Encoding the test set…")):
        return _encoded_test_set(str(run.path), run_version(run), run.dataset, str(data_root()))


def runs() -> list[RunInfo]:
    """All runs, newest first, broken ones included (status "broken")."""
    return list_runs(checkpoints_root())


def usable_runs(kind: str | None = None) -> list[RunInfo]:
    return [r for r in runs() if r.usable and (kind is None or r.kind == kind)]


def run_version(run: Run | RunInfo) -> float:
    """The cache key of a run's files: run.json's modification time (an overwrite changes it)."""
    return (run.path / "run.json").stat().st_mtime


@st.cache_resource(show_spinner=False, max_entries=64)
def _stored_codes(path: str, version: tuple[float, float], kind: str, latent_dim: int
                  ) -> StoredCodes | None:
    return read_codes(path, kind, latent_dim)  # shared read-only by every session


def stored_codes(info: RunInfo) -> StoredCodes | None:
    """The run's stored test codes (``vae_core.store.stored_codes``: read with numpy, no torch)
    if it has usable ones for its weights, else None; cached by the run's and the file's version."""
    try:
        version = (run_version(info), (info.path / CODES_FILE).stat().st_mtime)
    except OSError:
        return None
    return _stored_codes(str(info.path), version, info.kind, int(info.latent_dim or 0))


@st.cache_data(show_spinner=False, max_entries=64)
def _training_seconds(path: str, version: float) -> float | None:
    epochs = [r for r in read_run_meta(path).history if r.get("type") == "epoch"]
    return float(epochs[-1].get("seconds", 0.0)) if epochs else None


def training_seconds(info: Run | RunInfo) -> float | None:
    """Seconds of training steps recorded in the run's history (its last epoch record), or None;
    read from run.json without loading the weights, cached by the run's version. Raises
    ``RunError``."""
    try:
        version = run_version(info)
    except OSError as e:
        raise RunError(str(e)) from e
    return _training_seconds(str(info.path), version)


@st.cache_data(show_spinner=False, max_entries=32)
def _code_stats(path: str, mtime: float, spec: str, root: str) -> dict:
    from vae_core.analysis.scorecard import code_stats

    return code_stats(*_encoded_test_set(path, mtime, spec, root))


def run_code_stats(run: Run) -> dict:
    """``vae_core.analysis.scorecard.code_stats`` of the run's test codes (cached): what captions need."""
    return _code_stats(str(run.path), run_version(run), run.dataset, str(data_root()))


@st.cache_resource(show_spinner=False, max_entries=4)
def _judge(spec: str, root: str, checkpoints: str) -> JudgedClassifier:
    from vae_core.analysis.classifier import load_or_train

    return load_or_train(_dataset(spec, root), checkpoints)


def get_judge(spec: str) -> JudgedClassifier:
    """The judge classifier of ``evaluate`` for this data set (cached beside the runs)."""
    with st.spinner(_("Training the judge classifier (once per data set, a few seconds)…")):
        return _judge(spec, str(data_root()), str(checkpoints_root()))


@st.cache_data(show_spinner=False, max_entries=16)
def _generation_tests(path: str, mtime: float, spec: str, root: str, checkpoints: str,
                      seed: int, sources: tuple[str, ...]) -> dict[str, GenerationTest]:
    from vae_core.analysis.generation import dataset_generation_tests

    return dataset_generation_tests(_run(path, mtime).model, _dataset(spec, root),
                                    _judge(spec, root, checkpoints), seed=seed, sources=sources)


def run_generation_tests(run: Run, seed: int = 0,
                         sources: tuple[str, ...] | None = None) -> dict[str, GenerationTest]:
    """``generation.dataset_generation_tests`` for the run with the judge of ``evaluate``: at
    seed 0 its numbers are the scorecard's (cached by run path + mtime); ``sources`` None: the
    scorecard's (``generation.SOURCES``), ``AE_SOURCES`` adds the fitted mixture."""
    if sources is None:
        from vae_core.analysis.generation import SOURCES as sources
    with st.spinner(_("Drawing, decoding and judging 1,000 codes per source…")):
        return _generation_tests(str(run.path), run_version(run), run.dataset, str(data_root()),
                                 str(checkpoints_root()), seed, tuple(sources))


@st.cache_data(show_spinner=False, max_entries=64)
def _scorecard(path: str, mtime: float, spec: str, root: str, checkpoints: str,
               iwae_k: int | None) -> dict:
    from vae_core.analysis.posterior import DEFAULT_IWAE_K
    from vae_core.analysis.scorecard import scorecard

    run = _run(path, mtime)
    return scorecard(run.model, _dataset(spec, root), _judge(spec, root, checkpoints),
                     iwae_k=DEFAULT_IWAE_K if iwae_k is None else iwae_k, run=run.name)


def run_scorecard(run: Run, iwae_k: int | None = None) -> dict:
    """``scorecard.scorecard`` of the run (the JSON of ``evaluate``; ``iwae_k`` None: its default),
    cached by run path + mtime."""
    with st.spinner(_("Computing the scorecard…")):
        return _scorecard(str(run.path), run_version(run), run.dataset, str(data_root()),
                          str(checkpoints_root()), iwae_k)


@st.cache_resource(show_spinner=False)
def _background() -> ThreadPoolExecutor:
    """One thread for work a page can show later (a cold server's scorecards): it never delays
    a page's first picture, and one thread keeps it to one core."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="vae-lab-background")


@st.cache_resource(show_spinner=False, max_entries=64)
def _scorecard_future(path: str, mtime: float, spec: str, root: str, checkpoints: str,
                      iwae_k: int | None) -> Future:
    # The thread fills the same st.cache_data entry run_scorecard reads (no st.* element in it).
    return _background().submit(_scorecard, path, mtime, spec, root, checkpoints, iwae_k)


def scorecard_when_ready(run: Run | RunInfo, iwae_k: int | None = None) -> dict | None:
    """``run_scorecard`` if it is computed, else None after starting it in the background (the
    caller shows the page without the numbers and looks again); raises what the computation
    raised. On a server that has not loaded torch yet it only starts ``warm_torch`` (a cold
    first view is sent before torch competes for the GIL) and starts the numbers on a later look."""
    if not torch_loaded():  # a cold server: the numbers start once torch is in (warm_torch)
        warm_torch()
        return None
    future = _scorecard_future(str(run.path), run_version(run), run.dataset, str(data_root()),
                               str(checkpoints_root()), iwae_k)
    return future.result() if future.done() else None
