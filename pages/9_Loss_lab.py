"""Loss-convention lab: the correct VAE next to one deliberately wrong variant, trained in seconds."""
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from ui.i18n import _, translate
from ui.panels import show_images
from ui.resources import dataset_or_error
from ui.export import plot_config
from ui.links import BIND, link_fallback, translated_options
from ui.numbers import number_text
from vae_core import figures
from vae_core.latent_tools import decode_images, sample_prior, shared_range
from vae_core.lab import LAB_MODEL, LAB_TRAIN, VARIANTS, WRONG, LabRun, diagnose, train_variant
from vae_core.text import N_

N_SAMPLES = 32
HIGHER, LOWER = N_("higher"), N_("lower")
ROWS = [  # (number, label, better)
    ("elbo", N_("ELBO per image (nats, correct sampling)"), HIGHER),
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


@st.cache_resource(show_spinner=False, max_entries=16)
def lab_run(variant: str, epochs: int) -> LabRun:
    from ui.resources import get_dataset

    return train_variant(variant, get_dataset("digits"), LAB_MODEL,
                         replace(LAB_TRAIN, epochs=epochs))


if dataset_or_error("digits") is None:
    st.stop()



def variant_title(key: str, lang: str) -> str:
    return translate(VARIANTS[key].title, lang)


link_fallback("lab_variant", WRONG, variant_title, _("the wrong variant"),
              _(VARIANTS[WRONG[0]].title))
c1, c2 = st.columns([3, 1])
variant = c1.selectbox(_("Wrong variant"), WRONG, key="lab_variant", bind=BIND,
                       format_func=translated_options("lab_variant", WRONG, variant_title))
epochs = c2.slider(_("Epochs"), 10, 150, LAB_TRAIN.epochs, 10, key="lab_epochs", bind=BIND)
v = VARIANTS[variant]
title = _(v.title)
left, right = st.columns(2)
left.markdown(_("**Correct**"))
left.code(VARIANTS["correct"].code, language="python", wrap_lines=True)
right.markdown(_("**Wrong: {title}**", title=title))
right.code(v.code, language="python", wrap_lines=True)
st.caption(_(v.why))

with st.spinner(_("Training both arms for {epochs} epochs (a few seconds each)…", epochs=epochs)):
    correct, wrong = lab_run("correct", epochs), lab_run(variant, epochs)

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
st.plotly_chart(figures.loss_curves({_("correct"): correct.history, title: wrong.history},
                                    kinds={_("correct"): "vae"}, gettext=_),
                key="lab_curves", config=plot_config(f"lab-{variant}-curves"))
st.caption(_("Lines: recon and KL as each arm's own code computed them during training; circles: the "
             "correct terms on the test split after each epoch. The objective the wrong arm minimised "
             "is not shown: its scale is not comparable."))

data = dataset_or_error("digits")
st.subheader(_("Latent maps and samples from the prior"))
for col, (label, run) in zip(st.columns(2), ((_(VARIANTS["correct"].title), correct), (title, wrong))):
    with col:
        if "recon" not in run.numbers:
            st.error(_("{arm}: the weights are no longer finite; nothing to draw.", arm=label))
            continue
        mu = run.model.encode_all(data.test_x)[0].numpy()
        finite = np.isfinite(mu).all(axis=1)
        # 480 px: the legend (ten digits, three prior circles) fits without a scrollbar
        st.plotly_chart(figures.latent_scatter(mu[finite], data.test_y.numpy()[finite], data.class_names, label,
                                               shared_range(mu[finite]), gettext=_).update_layout(height=480),
                        key=f"lab_map_{'c' if run is correct else 'w'}",
                        config=plot_config(f"lab-{run.variant}-latent"))
        show_images(decode_images(run.model, sample_prior(N_SAMPLES, run.model.latent_dim, 1.0, seed=0)), 8,
                    caption=_("{arm}: {n} draws z ~ N(0, I), decoded (same draws for both)",
                              arm=label, n=N_SAMPLES))
st.caption(_("Each map has its own axes (a broken arm's codes may lie thousands of units away); the "
             "grey circles are the prior's 1, 2 and 3σ in both."))
