"""Loss-convention lab: the correct VAE next to one deliberately wrong variant, trained in seconds."""
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from ui.panels import show_images
from ui.resources import dataset_or_error
from ui.export import plot_config
from ui.links import BIND, link_fallback
from vae_core import figures
from vae_core.latent_tools import decode_images, sample_prior, shared_range
from vae_core.lab import LAB_MODEL, LAB_TRAIN, VARIANTS, WRONG, LabRun, diagnose, train_variant

N_SAMPLES = 32
ROWS = [  # (number, label, better)
    ("elbo", "ELBO per image (nats, correct sampling)", "higher"),
    ("recon", "recon −log p(x|z), z ~ q(z|x) drawn correctly", "lower"),
    ("recon_as_trained", "recon through the arm's own sampling", "lower"),
    ("recon_gap", "recon lost by sampling correctly", "≈ 0"),
    ("kl", "KL(q(z|x) ‖ N(0, I)), head read as log σ²", ""),
    ("kl_as_trained", "KL as training computed it", ""),
    ("active_units", "active latent units (of 2)", "higher"),
    ("centring", "‖mean of codes‖", "lower"),
    ("scale_error", "mean |std of codes − 1|", "lower"),
    ("prior_kl", "KL of the codes' Gaussian fit from N(0, I)", "lower"),
    ("seconds", "training time (s)", ""),
]

st.title("Loss-convention lab")
st.caption("The most common ways to get a VAE's loss subtly wrong, each trained on the bundled digits "
           "next to the correct VAE: same seed, same data, same network, one line different. Both are "
           "then measured with the same, correct tools. The wrong code lives only in this lab.")


@st.cache_resource(show_spinner=False, max_entries=16)
def lab_run(variant: str, epochs: int) -> LabRun:
    from ui.resources import get_dataset

    return train_variant(variant, get_dataset("digits"), LAB_MODEL,
                         replace(LAB_TRAIN, epochs=epochs))


if dataset_or_error("digits") is None:
    st.stop()
link_fallback("lab_variant", [VARIANTS[k].title for k in WRONG], "the wrong variant", VARIANTS[WRONG[0]].title)
c1, c2 = st.columns([3, 1])
variant = c1.selectbox("Wrong variant", WRONG, format_func=lambda k: VARIANTS[k].title, key="lab_variant", bind=BIND)
epochs = c2.slider("Epochs", 10, 150, LAB_TRAIN.epochs, 10, key="lab_epochs", bind=BIND)
v = VARIANTS[variant]
left, right = st.columns(2)
left.markdown("**Correct**")
left.code(VARIANTS["correct"].code, language="python", wrap_lines=True)
right.markdown(f"**Wrong: {v.title}**")
right.code(v.code, language="python", wrap_lines=True)
st.caption(v.why)

with st.spinner(f"Training both arms for {epochs} epochs (a few seconds each)…"):
    correct, wrong = lab_run("correct", epochs), lab_run(variant, epochs)

d = diagnose(wrong, correct)
(st.success if d.holds else st.warning)(
    f"**Expected symptom: {d.symptom}.** " + ("Seen: " if d.holds else "Not seen this time: ") + d.text,
    icon=":material/stethoscope:")
if wrong.status != "finished":
    st.info(f"The wrong arm stopped early: {wrong.reason}.", icon=":material/warning:")

table = pd.DataFrame(
    [{"number": label, "correct VAE": correct.numbers.get(key), "wrong variant": wrong.numbers.get(key),
      "better": better} for key, label, better in ROWS])
st.dataframe(table, hide_index=True, width="stretch", height=35 * (len(ROWS) + 1) + 3,
             column_config={c: st.column_config.NumberColumn(format="%.3g") for c in ("correct VAE", "wrong variant")})

st.subheader("Training curves")
st.plotly_chart(figures.loss_curves({"correct": correct.history, v.title: wrong.history},
                                    kinds={"correct": "vae"}),
                key="lab_curves", config=plot_config(f"lab-{variant}-curves"))
st.caption("Lines: recon and KL as each arm's own code computed them during training; circles: the "
           "correct terms on the test split after each epoch. The objective the wrong arm minimised "
           "is not shown: its scale is not comparable.")

data = dataset_or_error("digits")
st.subheader("Latent maps and samples from the prior")
for col, (label, run) in zip(st.columns(2), (("Correct VAE", correct), (v.title, wrong))):
    with col:
        if "recon" not in run.numbers:
            st.error(f"{label}: the weights are no longer finite; nothing to draw.")
            continue
        mu = run.model.encode_all(data.test_x)[0].numpy()
        finite = np.isfinite(mu).all(axis=1)
        st.plotly_chart(figures.latent_scatter(mu[finite], data.test_y.numpy()[finite], data.class_names, label,
                                               shared_range(mu[finite])).update_layout(height=400),
                        key=f"lab_map_{'c' if run is correct else 'w'}",
                        config=plot_config(f"lab-{run.variant}-latent"))
        show_images(decode_images(run.model, sample_prior(N_SAMPLES, run.model.latent_dim, 1.0, seed=0)), 8,
                    caption=f"{label}: {N_SAMPLES} draws z ~ N(0, I), decoded (same draws for both)")
st.caption("Each map has its own axes (a broken arm's codes may lie thousands of units away); the grey "
           "circles are the prior's 1, 2 and 3σ in both.")
