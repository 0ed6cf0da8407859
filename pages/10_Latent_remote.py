"""Latent remote control: one slider per latent dim (ordered by KL, inactive dims greyed), both
decoders redrawing the current z in the browser (``ui.live_decode.live_sliders``), and the β-VAE
papers' traversal grid per model, decoded here."""
import numpy as np
import streamlit as st

from ui.i18n import _
from ui.links import md
from ui.live_decode import live_sliders
from ui.panels import ModelCodes, pair_notes, pick_encoded_models, show_images
from ui.pickers import pick_test_image
from ui.resources import checkpoints_root, get_dataset, run_version
from ui.state import make_current
from ui.training import show_job_progress, submit_job
from vae_core import unique_run_name
from vae_core.analysis.codes import latent_axis_name
from vae_core.jobs import EngineError
from vae_core.jobs.plan import quick_pair_specs
from vae_core.analysis.outcomes import error_text, say
from vae_core.analysis.traversal import (SWEEP_SIGMAS, TRAVERSAL_STEPS, DimInfo, dim_infos,
                                         slider_order, traversal, traversal_caption)

KEY = "remote"
JOB_KEY, ERROR_KEY = "remote_job", "remote_job_error"
REMOTE_LATENT = 8  # the one-click pair: enough dims to see some switched off by the KL


@st.cache_data(show_spinner=False, max_entries=64)
def infos_of(run_path: str, version: float, _mu: np.ndarray, _logvar: np.ndarray | None) -> list[DimInfo]:
    """Per-dim numbers of one run's codes (cached: the page and its traversals ask twice a run;
    keyed by the run's file version, so the code arrays themselves are not hashed each rerun)."""
    return dim_infos(_mu, _logvar)


def model_infos(m: ModelCodes) -> list[DimInfo]:
    return infos_of(str(m.run.path), run_version(m.run), m.mu, m.logvar)


def slider_label(info: DimInfo) -> str:
    """z3 · KL 1.14 nats (VAE) or z3 · σ 2.1 (AE); with the reason when inactive (the component
    greys those)."""
    name = latent_axis_name(info.dim)
    if info.kl is not None:
        text = _("{dim} · KL {kl:.2f} nats", dim=name, kl=info.kl)
    else:
        text = _("{dim} · spread σ {std:.2g}", dim=name, std=info.std)
    if info.active:
        return text
    return _("{text} · inactive: the decoder ignores it", text=text)


def remote_control(models: list[ModelCodes], start: int) -> None:
    """Each model's sliders, decoded in the browser: a move sends nothing to the server."""
    for col, m in zip(st.columns(len(models)), models):
        infos = model_infos(m)
        col.markdown(_("**{model}** ({run}): {active} of {dims} dims active",
                       model=m.label, run=m.run.name, active=sum(i.active for i in infos),
                       dims=len(infos)))
    sliders = [[{"dim": d, "label": slider_label(infos[d]), "low": infos[d].low,
                 "high": infos[d].high, "active": infos[d].active}
                for d in slider_order(infos)] for infos in map(model_infos, models)]
    starts = [m.mu[min(start, len(m.mu) - 1)] for m in models]
    if live_sliders(models, sliders, starts, key=f"{KEY}_live"):
        st.caption(_("The sliders run in this browser tab: moving them asks nothing of the server, "
                     "and their positions are not in the page's link, which opens at the test "
                     "image's code."))


@st.fragment(run_every=0.5)
def job_progress() -> None:
    job = st.session_state[JOB_KEY]
    if not job.active:
        st.rerun()  # the whole page picks up the new pair
    show_job_progress(job)


def start_pair() -> None:
    data = get_dataset("digits")
    name = unique_run_name(f"remote-z{REMOTE_LATENT}", checkpoints_root())
    try:
        st.session_state[JOB_KEY] = submit_job(  # this session's: owner, computer, liveness
            quick_pair_specs(name, data.image_shape, latent_dim=REMOTE_LATENT), "digits",
            root=str(checkpoints_root()), group=name)
    except EngineError as e:
        st.session_state[ERROR_KEY] = error_text(e, _)


def train_section() -> None:
    """One click trains a latent-8 pair through the training engine (never in this process)."""
    job = st.session_state.get(JOB_KEY)
    if ERROR_KEY in st.session_state:
        st.error(_("Training could not start: {detail}", detail=md(st.session_state.pop(ERROR_KEY))),
                 icon=":material/error:")
    if job is not None and job.active:
        job_progress()
        return
    if job is not None:
        del st.session_state[JOB_KEY]
        if job.state == "failed":
            st.error(_("Training failed: {error}", error=md(say(job.error, _))))
        else:  # the new pair becomes the current pick on every page
            make_current(st.session_state, job)
    st.button(_("Train a latent-{dims} AE+VAE pair on digits", dims=REMOTE_LATENT),
              key=f"{KEY}_train", icon=":material/play_arrow:", on_click=start_pair)


st.title(_("Latent remote control"))
st.caption(_("The code z is a remote control for the images a decoder draws: each slider is one "
             "latent dim. Start from a test image's code, move one dim at a time, and watch the AE "
             "and the VAE redraw. The sliders are ordered by how much each dim is used (the VAE's "
             "KL per dim; the AE has no KL, so by spread) and span ±{sigmas:g}σ of the codes the "
             "decoder was trained on.", sigmas=SWEEP_SIGMAS))
with st.expander(_("Train a pair with more latent dims"), icon=":material/model_training:"):
    st.caption(_("Same seed, data and net as the Overview's pair, with latent size {dims}: the "
                 "VAE's KL switches off the dims it does not need.", dims=REMOTE_LATENT))
    train_section()

models = pick_encoded_models(KEY, prefer=lambda r: (r.latent_dim or 0) > 2)
pair_notes(models)
start = pick_test_image(f"{KEY}_start", models[0].data, _("Start from the code of"), by_class=True)

st.subheader(_("The remote control"))
remote_control(models, start)

st.subheader(_("Traversals: each row sweeps one dim, the others stay at the image's code"))
st.caption(_("As in the β-VAE papers: row by row, one dim goes from −{sigmas:g}σ to +{sigmas:g}σ "
             "of the codes in {steps} steps (rows in the sliders' order, top to bottom).",
             sigmas=SWEEP_SIGMAS, steps=TRAVERSAL_STEPS))
captions = []
for col, m in zip(st.columns(len(models)), models):
    infos = model_infos(m)
    order = slider_order(infos)
    trav = traversal(m.run.model, m.mu[min(start, len(m.mu) - 1)], infos, order)
    with col:
        show_images(trav.images, trav.steps, min_width=360,
                    caption=_("{model}: rows {dims}", model=m.label,
                              dims=", ".join(latent_axis_name(d) for d in order)))
    captions.append(traversal_caption(m.label, trav, infos, gettext=_))
st.markdown(" ".join(captions))
