"""Training replay: scrub or play through a pair's training and watch the two latent spaces form."""
import numpy as np
import streamlit as st

from ui.panels import show_images
from ui.pickers import pick_pair
from ui.resources import dataset_or_error
from ui.export import plot_config
from ui.i18n import _
from ui.links import BIND, md
from vae_core import Run, figures
from vae_core.codes import code_stats
from vae_core.latent_tools import (decode_images, grid_axis, grid_codes, pca_2d, plane_coords,
                              sample_prior, shared_range, subset_indices)
from vae_core.replay import (NO_SNAPSHOTS, SNAPSHOTS_FILE, NoSnapshots, ReplayCodes, ReplayUnavailable, Snapshot,
                             load_snapshots, replay_codes, snapshot_model)
from vae_core.replay_figures import ReplayPanel, frame_label, replay_animation

MAX_POINTS = 1000  # per map and frame: enough to see the shape, light enough to animate
GRID_N, GRID_R, N_PRIOR = 10, 3.0, 16

st.title(_("Training replay"))
st.caption(_("Each run keeps about 20 copies of its weights from training, most of them early, when "
             "the codes move most. Press play or drag the slider under the chart: the AE's codes "
             "spread wherever the reconstruction takes them, while the KL term keeps pulling the "
             "VAE's into the prior N(0, I) (grey circles: 1, 2, 3σ). The black line on the right is "
             "the same moment on the loss curves."))


@st.cache_resource(show_spinner=False, max_entries=16)
def _snapshots(path: str, mtime: tuple[float, float]) -> list[Snapshot]:
    """Read and validated once per saved run (shared by all sessions, read-only)."""
    from ui.resources import get_run

    run = get_run(path)
    return load_snapshots(path, run.model_config, run.model.state_dict())


@st.cache_data(show_spinner=_("Replaying the snapshots…"), max_entries=16)
def _codes(path: str, mtime: tuple[float, float], spec: str, n_points: int) -> ReplayCodes:
    from ui.resources import get_dataset, get_run

    x = get_dataset(spec).test_x
    idx = subset_indices(len(x), n_points)
    return replay_codes(_snapshots(path, mtime), get_run(path).model_config, x[idx])


def files_version(run: Run) -> tuple[float, float]:
    """The cache key of a run's replay: run.json's and the snapshots file's times (-1 when it is
    gone), so a snapshots file deleted or replaced while the server runs is read again, not
    served from the cache."""
    snapshots = run.path / SNAPSHOTS_FILE
    return (run.path / "run.json").stat().st_mtime, (snapshots.stat().st_mtime
                                                     if snapshots.exists() else -1.0)


def replay_or_warning(label: str, run: Run | None) -> tuple[Run, ReplayCodes] | None:
    if run is None:
        return None
    try:
        mtime = files_version(run)
        if dataset_or_error(run.dataset) is None:
            return None
        return run, _codes(str(run.path), mtime, run.dataset, MAX_POINTS)
    except ReplayUnavailable as e:
        # An old run's missing snapshots are the usual case and have a translated message; a
        # damaged file's details stay as vae_core words them.
        detail = _(NO_SNAPSHOTS) if isinstance(e, NoSnapshots) else str(e)
        st.warning(_("{model} run {run}: replay unavailable. {detail}", model=label, run=md(run.name),
                     detail=md(detail)), icon=":material/history_toggle_off:")
        return None


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

# One timeline: the VAE's snapshot steps (a pair shares them); the AE shows its nearest snapshot.
timeline = replays.get("VAE", replays.get("AE"))[1]
# The options are the optimizer steps themselves, shown and kept in the URL as plain numbers: a
# worded label would be what the URL keeps, and a link would not open in the other language.
step = st.select_slider(_("Snapshot shown below the chart, by optimizer step (decoder grid and prior samples)"),
                        options=list(timeline.steps), value=timeline.steps[-1], key="replay_snapshot",
                        bind=BIND)
k = list(timeline.steps).index(step)


def nearest(codes: ReplayCodes) -> list[int]:
    return [int(np.argmin(np.abs(np.asarray(codes.steps) - s))) for s in timeline.steps]


any_data = dataset_or_error(next(iter(replays.values()))[0].dataset)
labels = any_data.test_y.numpy()[subset_indices(len(any_data.test_y), MAX_POINTS)]
panels, frames_of = [], {}
for label, (run, codes) in replays.items():
    frames_of[label] = nearest(codes)
    mu = codes.mu[frames_of[label]]  # (K, N, D) on the shared timeline
    d = mu.shape[-1]
    if d > 2:  # one PCA plane for all frames, fitted to the final codes
        proj = pca_2d(mu[-1], gettext=_)
        xy = np.stack([proj(m) for m in mu])
        center, titles = tuple(proj.prior_center), tuple(proj.axis_titles)
    else:
        xy = np.stack([plane_coords(m) for m in mu])
        center, titles = (0.0, 0.0), ("z1", "z2")
    panels.append(ReplayPanel(label, xy, shared_range(xy.reshape(-1, 2), prior_centers=[center]),
                              center, titles))
histories = {label: run.history for label, (run, _replay) in replays.items()}
fig = replay_animation(panels, labels, any_data.class_names, timeline.steps, timeline.epochs, histories,
                       active=k, gettext=_)
st.plotly_chart(fig, key="replay_animation", config=plot_config(f"replay-{timeline.steps[k]}"))
st.caption(_("Each map keeps one axis range over the whole replay (covering all its frames and the "
             "prior's 3σ circle), so movement on screen is movement in latent space. Above 2 latent "
             "dims the plane is the PCA plane of the final codes."))


def spread_sentence(label: str, codes: ReplayCodes, frames: list[int]) -> str:
    first, last = code_stats(codes.mu[frames[0]]), code_stats(codes.mu[frames[-1]])
    return _("**{model}**: initial codes mean {first_mean:.2f} from 0, spread error {first_spread:.2f}; "
             "final codes mean {last_mean:.2f} from 0, spread error {last_spread:.2f}.", model=label,
             first_mean=first["centring"], first_spread=first["scale_error"],
             last_mean=last["centring"], last_spread=last["scale_error"])


st.markdown(" ".join([_("How far the code clouds are from the prior (0 and 0 would be a perfect N(0, I) fit):")]
                     + [spread_sentence(lbl, c, frames_of[lbl]) for lbl, (_run, c) in replays.items()]))


def prior_misfit(codes: ReplayCodes, frame: int) -> float:
    c = code_stats(codes.mu[frame])
    return c["centring"] + c["scale_error"]


if len(replays) == 2:  # the caption's claim, checked on these runs' final codes
    ae_fit = prior_misfit(replays["AE"][1], frames_of["AE"][-1])
    vae_fit = prior_misfit(replays["VAE"][1], frames_of["VAE"][-1])
    if vae_fit >= ae_fit:
        st.warning(_("In these two runs the VAE's final codes are not closer to the prior than the AE's "
                     "(mean distance + spread error {vae_fit:.2f} vs {ae_fit:.2f}): the picture above "
                     "does not show the usual story. A β near 0, very short training or a collapsed "
                     "posterior (spread error near 1) can cause this.", vae_fit=vae_fit, ae_fit=ae_fit),
                   icon=":material/warning:")

st.subheader(_("At {moment}: decoders and prior samples",
               moment=frame_label(timeline.steps[k], timeline.epochs[k], gettext=_)))
z_prior = None
for col, (label, (run, codes)) in zip(st.columns(len(replays)), replays.items()):
    mtime = files_version(run)
    model = snapshot_model(_snapshots(str(run.path), mtime)[frames_of[label][k]], run.model_config)
    d = model.latent_dim
    with col:
        if d >= 2:
            axis = grid_axis(GRID_N, GRID_R)
            grid = decode_images(model, grid_codes(GRID_N, d, r=GRID_R))
            title = _("{model} decoder over [-{r:g}, {r:g}]² (other dims 0)", model=label, r=GRID_R)
            st.plotly_chart(figures.decoded_grid(grid, GRID_N, title, axis, gettext=_).update_layout(height=380),
                            key=f"replay_grid_{label.lower()}", config=plot_config(f"replay_grid_{label.lower()}"))
        z_prior = sample_prior(N_PRIOR, d, 1.0, seed=0)
        show_images(decode_images(model, z_prior), 8,
                    caption=_("{model}: {n} draws z ~ N(0, I), decoded (the same draws at every snapshot)",
                              model=label, n=N_PRIOR))
