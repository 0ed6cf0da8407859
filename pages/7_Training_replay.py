"""Training replay: scrub or play through a pair's training and watch the two latent spaces form.

The whole replay (both maps, the loss cursor, each decoder's grid and prior draws at every
snapshot) is one Plotly figure with animation frames, built once per run file version and
language and shared by every session: the slider and the play button move it in the browser, so
scrubbing costs the server nothing.
"""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.pickers import pick_pair
from ui.resources import SharedFigure, dataset_or_error, get_dataset, get_run
from ui.export import plot_config
from ui.i18n import _, current_language, translate
from ui.links import md
from vae_core import Run
from vae_core.viz import image_figures
from vae_core.analysis.scorecard import code_stats
from vae_core.analysis.latent_tools import (grid_codes, pca_2d, plane_coords, sample_prior,
                                            shared_range, subset_indices)
from vae_core.store.replay import (NO_SNAPSHOTS, SNAPSHOTS_FILE, NoSnapshots, ReplayCodes,
                                   ReplayImages, ReplayUnavailable, load_snapshots, replay_codes,
                                   replay_images)
from vae_core.store.snapshots import Snapshot
from vae_core.viz.replay_figures import ReplayDecoded, ReplayPanel, replay_animation
from vae_core.text import N_

MAX_POINTS = 1000  # per map and frame: enough to see the shape, light enough to animate
GRID_N, GRID_R, N_PRIOR = 10, 3.0, 16
GRID_TITLE = N_("{model} decoder over [-{r:g}, {r:g}]² (other dims 0)")
PRIOR_TITLE = N_("{n} draws z ~ N(0, I): {models}")
LINK_KEY = "replay_snapshot"  # ?replay_snapshot=STEP opens the replay at that optimizer step

st.title(_("Training replay"))
st.caption(_("Each run keeps about 20 copies of its weights from training, most of them early, when "
             "the codes move most. Press play or drag the slider under the chart: the AE's codes "
             "spread wherever the reconstruction takes them, while the KL term keeps pulling the "
             "VAE's into the prior N(0, I) (grey circles: 1, 2, 3σ). The black line on the right is "
             "the same moment on the loss curves; below, each decoder's grid over [-{r:g}, {r:g}]² and "
             "the same {n} draws z ~ N(0, I) decoded at that moment.", r=GRID_R, n=N_PRIOR))

Version = tuple[float, float]


@st.cache_resource(show_spinner=False, max_entries=16)
def _snapshots(path: str, version: Version) -> list[Snapshot]:
    """Read and validated once per saved run (shared by all sessions, read-only)."""
    run = get_run(path)
    return load_snapshots(path, run.model_config, run.model.state_dict())


@st.cache_data(show_spinner=False, max_entries=16)
def _codes(path: str, version: Version, spec: str, n_points: int) -> ReplayCodes:
    x = get_dataset(spec).test_x
    idx = subset_indices(len(x), n_points)
    return replay_codes(_snapshots(path, version), get_run(path).model_config, x[idx])


@st.cache_data(show_spinner=False, max_entries=16)
def _images(path: str, version: Version) -> ReplayImages:
    d = get_run(path).model_config.latent_dim
    return replay_images(_snapshots(path, version), get_run(path).model_config,
                         grid_codes(GRID_N, d, r=GRID_R), sample_prior(N_PRIOR, d, 1.0, seed=0))


def files_version(run: Run) -> Version:
    """The cache key of a run's replay: run.json's and the snapshots file's times (-1 when it is
    gone), so a snapshots file deleted or replaced while the server runs is read again, not
    served from the cache."""
    snapshots = run.path / SNAPSHOTS_FILE
    return (run.path / "run.json").stat().st_mtime, (snapshots.stat().st_mtime
                                                     if snapshots.exists() else -1.0)


def replay_or_warning(label: str, run: Run | None) -> tuple[Run, Version] | None:
    """The run and its files' version when its replay can be shown, else None after a warning."""
    if run is None:
        return None
    try:
        version = files_version(run)
        if dataset_or_error(run.dataset) is None:
            return None
        _codes(str(run.path), version, run.dataset, MAX_POINTS)  # validates the snapshots
        return run, version
    except ReplayUnavailable as e:
        # An old run's missing snapshots are the usual case and have a translated message; a
        # damaged file's details stay as vae_core words them.
        detail = _(NO_SNAPSHOTS) if isinstance(e, NoSnapshots) else str(e)
        st.warning(_("{model} run {run}: replay unavailable. {detail}", model=label, run=md(run.name),
                     detail=md(detail)), icon=":material/history_toggle_off:")
        return None


def nearest(codes: ReplayCodes, steps: list[int]) -> list[int]:
    """Each moment of ``steps`` as the index of this run's nearest snapshot."""
    return [int(np.argmin(np.abs(np.asarray(codes.steps) - s))) for s in steps]


def panel(label: str, codes: ReplayCodes, frames: list[int]) -> ReplayPanel:
    mu = codes.mu[frames]  # (K, N, D) on the shared timeline
    if mu.shape[-1] > 2:  # one PCA plane for all frames, fitted to the final codes
        proj = pca_2d(mu[-1], gettext=_)
        xy = np.stack([proj(m) for m in mu])
        center, titles = tuple(proj.prior_center), tuple(proj.axis_titles)
    else:
        xy = np.stack([plane_coords(m) for m in mu])
        center, titles = (0.0, 0.0), ("z1", "z2")
    return ReplayPanel(label, xy, shared_range(xy.reshape(-1, 2), prior_centers=[center]), center, titles)


def stats_at(c: ReplayCodes, k: int) -> dict:
    """Shape numbers of snapshot ``k``'s codes as the decoder sees them: a VAE's one seeded
    z ~ q(z|x) per image, not its μ (the scorecard's definition)."""
    return code_stats(c.mu[k], None if c.logvar is None else c.logvar[k])


@st.cache_resource(show_spinner=False, max_entries=32)
def replay_view(runs: tuple[tuple[str, str, Version], ...], spec: str, lang: str,
                active_step: int | None) -> tuple[go.Figure, dict[str, tuple[dict, dict]], list[int]]:
    """The replay figure of ``runs`` ((label, path, version) each) in ``lang``, opened at
    ``active_step`` (the last snapshot when None), with each model's code statistics at the
    first and last moment and the timeline's steps. Shared by every session: read-only."""
    def gettext(message: str) -> str:
        return translate(message, lang)

    codes = {label: _codes(path, version, spec, MAX_POINTS) for label, path, version in runs}
    # One timeline: the VAE's snapshot steps (a pair shares them); the AE shows its nearest snapshot.
    timeline = codes.get("VAE", codes.get("AE"))
    steps = list(timeline.steps)
    active = steps.index(active_step) if active_step in steps else len(steps) - 1
    frames = {label: nearest(c, steps) for label, c in codes.items()}
    data = get_dataset(spec)
    labels = data.test_y.numpy()[subset_indices(len(data.test_y), MAX_POINTS)]
    decoded = []
    for label, path, version in runs:
        images = _images(path, version)
        k = frames[label]
        decoded.append(ReplayDecoded(
            np.stack([image_figures.tile(images.grid[i], GRID_N, pad=1, pad_value=0.5) for i in k]),
            np.stack([image_figures.tile(images.prior[i], N_PRIOR // 2, pad=1, pad_value=0.5) for i in k])))
    fig = replay_animation(
        [panel(label, codes[label], frames[label]) for label, _p, _v in runs], labels, data.class_names,
        steps, timeline.epochs, {label: get_run(path).history for label, path, _v in runs},
        active=active, height=900, decoded=decoded,
        grid_titles=[translate(GRID_TITLE, lang, model=label,
                               r=GRID_R) for label, _p, _v in runs],
        prior_title=translate(PRIOR_TITLE, lang,
                              models=" / ".join(label for label, _p, _v in runs) + (" ↓" if len(runs) > 1 else ""),
                              n=N_PRIOR),
        gettext=gettext)
    stats = {label: (stats_at(c, frames[label][0]), stats_at(c, frames[label][-1]))
             for label, c in codes.items()}
    return SharedFigure(fig), stats, steps


def link_step() -> int | None:
    """The optimizer step a link names (``?replay_snapshot=120``), if it is a plain number."""
    text = st.query_params.get(LINK_KEY, "")
    return int(text) if text.isdigit() and len(text) < 10 else None


ae, vae = pick_pair("replay")
replays = {label: r for label, run in (("AE", ae), ("VAE", vae))
           if (r := replay_or_warning(label, run)) is not None}
if len(replays) == 2 and replays["AE"][0].dataset != replays["VAE"][0].dataset:
    # One animation colours every map by one data set's labels: two test sets cannot share it.
    st.warning(_("The AE and the VAE were trained on different data sets, so they cannot be "
                 "replayed side by side; showing the VAE only."), icon=":material/warning:")
    del replays["AE"]
if not replays:
    st.stop()

spec = next(iter(replays.values()))[0].dataset
with st.spinner(_("Replaying the snapshots…")):
    fig, stats, steps = replay_view(tuple((label, str(run.path), version)
                                          for label, (run, version) in replays.items()),
                                    spec, current_language(), link_step())
st.plotly_chart(fig, key="replay_animation", config=plot_config("replay"))
st.caption(_("Each map keeps one axis range over the whole replay (covering all its frames and the "
             "prior's 3σ circle), so movement on screen is movement in latent space. Above 2 latent "
             "dims the plane is the PCA plane of the final codes."))


def spread_sentence(label: str, first: dict, last: dict) -> str:
    return _("**{model}**: initial codes mean {first_mean:.2f} from 0, spread error {first_spread:.2f}; "
             "final codes mean {last_mean:.2f} from 0, spread error {last_spread:.2f}.", model=label,
             first_mean=first["centring"], first_spread=first["scale_error"],
             last_mean=last["centring"], last_spread=last["scale_error"])


st.markdown(" ".join([_("How far the code clouds are from the prior (0 and 0 would be a perfect N(0, I) fit):")]
                     + [spread_sentence(lbl, *stats[lbl]) for lbl in replays]))


def prior_misfit(c: dict) -> float:
    return c["centring"] + c["scale_error"]


if len(replays) == 2:  # the caption's claim, checked on these runs' final codes
    ae_fit, vae_fit = prior_misfit(stats["AE"][1]), prior_misfit(stats["VAE"][1])
    if vae_fit >= ae_fit:
        st.warning(_("In these two runs the VAE's final codes are not closer to the prior than the AE's "
                     "(mean distance + spread error {vae_fit:.2f} vs {ae_fit:.2f}): the picture above "
                     "does not show the usual story. A β near 0, very short training or a collapsed "
                     "posterior (spread error near 1) can cause this.", vae_fit=vae_fit, ae_fit=ae_fit),
                   icon=":material/warning:")
