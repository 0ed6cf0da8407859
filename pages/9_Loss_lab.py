"""Loss-convention lab: the correct VAE next to one deliberately wrong variant.

The arms shown were trained ahead of time (``benchmarks/loss_lab.py --ship`` writes
``checkpoints/loss-lab.safetensors``) and are read once per file version; the web process never
trains them. Another epoch count is a job of the training engine, its limits and queue like any
job (``ui.lab_training``): a Dask worker trains every arm and the engine adds them to the results
file beside the runs (``lab_results.LAB_TRAINED_FILE``), which the page then reads.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.i18n import _, current_language, translate
from ui.panels import show_images
from ui.resources import REPO, SharedFigure, checkpoints_root, dataset_or_error
from ui.export import plot_config
from ui.links import BIND, link_fallback, translated_options
from ui.numbers import number_text
from ui.lab_training import job_active, train_other_epochs, trained_epochs
from vae_core.viz import figures
from vae_core.analysis.latent_tools import decode_images, sample_prior, shared_range
from vae_core.analysis.lab import LAB_TRAIN, VARIANTS, WRONG, LabRun, diagnose
from vae_core.analysis.lab_results import (LAB_RESULTS_FILE, LAB_TRAINED_FILE, SHIPPED_EPOCHS,
                                           LabResultsError, load_lab_results)
from vae_core.text import N_

N_SAMPLES = 32
HIGHER, LOWER = N_("higher"), N_("lower")
ROWS = [  # (number, label, better)
    ("elbo", N_("ELBO per image (nats, correct sampling)"), HIGHER),
    ("elbo_as_trained", N_("ELBO as the arm's own model reads it"), HIGHER),
    ("recon", N_("recon −log p(x|z), z ~ q(z|x) drawn correctly"), LOWER),
    ("recon_as_trained", N_("recon through the arm's own sampling"), LOWER),
    ("recon_gap", N_("recon lost by sampling correctly"), "≈ 0"),
    ("kl", N_("KL(q(z|x) ‖ N(0, I)), head read as log σ²"), ""),
    ("kl_as_trained", N_("KL as training computed it"), ""),
    ("active_units", N_("active latent units (of 2)"), HIGHER),
    ("centring", N_("‖mean of codes‖"), LOWER),
    ("scale_error", N_("mean |std of codes − 1|"), LOWER),
    ("prior_kl", N_("KL of the codes' Gaussian fit from N(0, I)"), LOWER),
    ("seconds", N_("training time (s)"), ""),
]

st.title(_("Loss-convention lab"))
st.caption(_("The most common ways to get a VAE's loss subtly wrong, each trained on the bundled "
             "digits next to the correct VAE: same seed, same data, same network, one line "
             "different. Both are then measured with the same, correct tools. The wrong code lives "
             "only in this lab."))


@st.cache_resource(show_spinner=False, max_entries=2)
def _shipped(path: str, mtime: float) -> dict[int, dict[str, LabRun]]:
    """Read and validated once per file version, shared by every session (read-only)."""
    return load_lab_results(path)


SHIPPED_RESULTS = REPO / "checkpoints" / LAB_RESULTS_FILE  # read, never written, by the app


def results_path() -> Path:
    """The lab results beside the runs (the shipped arms plus those trained as jobs), else those
    shipped in the repository's checkpoints/."""
    here = checkpoints_root() / LAB_TRAINED_FILE
    return here if here.is_file() else SHIPPED_RESULTS


@st.cache_resource(show_spinner=False, max_entries=64)
def lab_figures(path: str, mtime: float, epochs: int, variant: str, lang: str) -> dict[str, go.Figure | None]:
    """The loss curves and both arms' latent maps in ``lang``, built once and shared by every
    session (read-only); a map is None when the arm's weights are not finite."""
    from ui.resources import get_dataset

    def gettext(message: str) -> str:
        return translate(message, lang)

    arms = _shipped(path, mtime)[epochs]
    data = get_dataset("digits")
    title = gettext(VARIANTS[variant].title)
    out: dict[str, go.Figure | None] = {"curves": SharedFigure(figures.loss_curves(
        {gettext("correct"): arms["correct"].history, title: arms[variant].history},
        kinds={gettext("correct"): "vae"}, gettext=gettext))}
    for key, label in (("correct", gettext(VARIANTS["correct"].title)), (variant, title)):
        if "recon" not in arms[key].numbers:
            out[key] = None
            continue
        mu = arm_pictures(path, mtime, epochs, key)[0]
        finite = np.isfinite(mu).all(axis=1)
        out[key] = SharedFigure(figures.latent_scatter(
            mu[finite], data.test_y.numpy()[finite], data.class_names, label, shared_range(mu[finite]),
            gettext=gettext).update_layout(height=480))  # the legend (ten digits, three prior circles) fits without a scrollbar
    return out


@st.cache_data(show_spinner=False, max_entries=64)
def arm_pictures(path: str, mtime: float, epochs: int, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """The arm's test codes (posterior means) and its decoded prior draws, computed once."""
    from ui.resources import get_dataset

    model = _shipped(path, mtime)[epochs][variant].model
    mu = model.encode_all(get_dataset("digits").test_x)[0].numpy()
    return mu, decode_images(model, sample_prior(N_SAMPLES, model.latent_dim, 1.0, seed=0))


if dataset_or_error("digits") is None:
    st.stop()



def variant_title(key: str, lang: str) -> str:
    return translate(VARIANTS[key].title, lang)


link_fallback("lab_variant", WRONG, variant_title, _("the wrong variant"),
              _(VARIANTS[WRONG[0]].title))
c1, c2 = st.columns([3, 1])
variant = c1.selectbox(_("Wrong variant"), WRONG, key="lab_variant", bind=BIND,
                       format_func=translated_options("lab_variant", WRONG, variant_title))
problems: list[str] = []
for path in dict.fromkeys((results_path(), SHIPPED_RESULTS)):  # a damaged trained file: the shipped
    try:
        mtime = path.stat().st_mtime
        shipped = _shipped(str(path), mtime)
        break
    except (OSError, LabResultsError) as e:
        problems.append(str(e) if isinstance(e, LabResultsError) else type(e).__name__)
else:
    st.error(_("The lab's results cannot be read ({detail}). Write them with `python "
               "benchmarks/loss_lab.py --ship`.", detail=problems[-1]), icon=":material/science:")
    st.stop()
if problems:
    st.warning(_("The lab results trained on this server cannot be read ({detail}); these are the "
                 "shipped ones. The next lab job writes them anew.", detail=problems[0]),
               icon=":material/science:")
epoch_options = sorted(shipped)
just_trained = trained_epochs()
if just_trained in shipped:  # show the count this session's job just added
    st.session_state["lab_epochs"] = just_trained
epochs = c2.select_slider(_("Epochs"), epoch_options,
                          value=LAB_TRAIN.epochs if LAB_TRAIN.epochs in shipped else epoch_options[0],
                          key="lab_epochs", bind=BIND)
with st.expander(_("Another epoch count"), icon=":material/model_training:", expanded=job_active()):
    train_other_epochs(epoch_options, SHIPPED_RESULTS)
v = VARIANTS[variant]
title = _(v.title)
left, right = st.columns(2)
left.markdown(_("**Correct**"))
left.code(VARIANTS["correct"].code, language="python", wrap_lines=True)
right.markdown(_("**Wrong: {title}**", title=title))
right.code(v.code, language="python", wrap_lines=True)
st.caption(_(v.why))

correct, wrong = shipped[epochs]["correct"], shipped[epochs][variant]
if epochs in SHIPPED_EPOCHS:
    st.caption(_("Both arms were trained ahead of time for {epochs} epochs (the correct one in {seconds:.1f} s "
                 "on one core) with `python benchmarks/loss_lab.py --ship`; the numbers below are measured "
                 "on the weights drawn here.", epochs=epochs, seconds=correct.numbers.get("seconds", 0.0)))
else:
    st.caption(_("Both arms were trained for {epochs} epochs as a job on the server's training workers "
                 "(the correct one in {seconds:.1f} s on one core); the numbers below are measured on "
                 "the weights drawn here.", epochs=epochs, seconds=correct.numbers.get("seconds", 0.0)))

d = diagnose(wrong, correct, gettext=_)
if d.holds:
    st.success(_("**Expected symptom: {symptom}.** Seen: {evidence}", symptom=d.symptom, evidence=d.text),
               icon=":material/stethoscope:")
else:
    st.warning(_("**Expected symptom: {symptom}.** Not seen this time: {evidence}", symptom=d.symptom,
                 evidence=d.text), icon=":material/stethoscope:")
if wrong.status != "finished":
    st.info(_("The wrong arm stopped early: {reason}.", reason=wrong.why_ended(_)),
            icon=":material/warning:")

number, correct_col, wrong_col, better_col = _("number"), _("correct VAE"), _("wrong variant"), _("better")
st.table(pd.DataFrame(  # number_text: a broken arm's huge values read 6.66e+22
    [{number: _(label), correct_col: number_text(correct.numbers.get(key)),
      wrong_col: number_text(wrong.numbers.get(key)),
      better_col: _(better) if better in (HIGHER, LOWER) else better} for key, label, better in ROWS]),
    hide_index=True)

st.subheader(_("Training curves"))
figs = lab_figures(str(path), mtime, epochs, variant, current_language())
st.plotly_chart(figs["curves"], key="lab_curves", config=plot_config(f"lab-{variant}-curves"))
st.caption(_("Lines: recon and KL as each arm's own code computed them during training; circles: the "
             "correct terms on the test split after each epoch. The objective the wrong arm minimised "
             "is not shown: its scale is not comparable."))

st.subheader(_("Latent maps and samples from the prior"))
for col, (label, run) in zip(st.columns(2), ((_(VARIANTS["correct"].title), correct), (title, wrong))):
    with col:
        if figs[run.variant] is None:
            st.error(_("{arm}: the weights are no longer finite; nothing to draw.", arm=label))
            continue
        prior_images = arm_pictures(str(path), mtime, epochs, run.variant)[1]
        st.plotly_chart(figs[run.variant], key=f"lab_map_{'c' if run is correct else 'w'}",
                        config=plot_config(f"lab-{run.variant}-latent"))
        show_images(prior_images, 8,
                    caption=_("{arm}: {n} draws z ~ N(0, I), decoded (same draws for both)",
                              arm=label, n=N_SAMPLES))
st.caption(_("Each map has its own axes (a broken arm's codes may lie thousands of units away); the "
             "grey circles are the prior's 1, 2 and 3σ in both."))
