"""Generate & interpolate: decode draws from the prior, and walk straight between two codes."""
import streamlit as st

from ui.common import (latent_panels, pick_pair, pick_test_image, plane_picker, show_images,
                       sidebar, test_codes)
from ui.export import plot_config
from ui.links import BIND
from vae_core import figures
from vae_core.explore import decode_images, interpolate, sample_prior

N_SAMPLES = 64

st.set_page_config(page_title="Generate & interpolate · VAE Lab", layout="wide")
sidebar()
st.title("Generate & interpolate")

ae, vae = pick_pair("generate")
models = test_codes(ae, vae)
if not models:
    st.stop()

st.subheader("New images from the prior")
c1, c2 = st.columns([3, 1])
temperature = c1.slider("Temperature: multiplies σ of the prior N(0, σ²I)", 0.1, 2.0, 1.0, 0.1,
                        key="generate_temperature", bind=BIND)
if c2.button("Resample", icon=":material/casino:", key="generate_resample"):
    st.session_state["generate_seed"] = st.session_state.get("generate_seed", 0) + 1
seed = st.session_state.setdefault("generate_seed", 0)
for col, m in zip(st.columns(len(models)), models):
    with col:
        z = sample_prior(N_SAMPLES, m.latent_dim, temperature, seed)  # same seed: same draws for both
        show_images(decode_images(m.run.model, z), 8, caption=f"{m.label}: {N_SAMPLES} draws z ~ N(0, "
                    f"{temperature:g}²I), decoded (seed {seed})")
st.caption("The same random codes go to both decoders. The VAE was trained so that its codes look "
           "like N(0, I), so its draws mostly decode to digits. The AE's codes live elsewhere (see "
           "Latent space), so many draws land in empty regions and decode to junk. A lower "
           "temperature keeps draws near the centre: cleaner but less varied.")

st.subheader("Interpolation between two test images")
data = models[0].data
by = st.radio("Choose the images by", ["class (its first test image)", "index"], horizontal=True,
              key="interp_by", bind=BIND)
c1, c2, c3 = st.columns(3)
with c1:
    i0 = pick_test_image("interp_from", data, "From", by_class=by.startswith("class"), default_class=0)
with c2:
    i1 = pick_test_image("interp_to", data, "To", by_class=by.startswith("class"), default_class=1)
frames = c3.slider("Frames", 3, 16, 10, key="interp_frames", bind=BIND)
plane = plane_picker("interp", [m.latent_dim for m in models])
panels, axis_range = latent_panels(models, plane)
for col, panel in zip(st.columns(len(panels)), panels):
    m = panel.codes
    a, b = min(i0, len(m.mu) - 1), min(i1, len(m.mu) - 1)  # a run on another data set: same positions
    path = interpolate(m.mu[a], m.mu[b], frames)  # (frames, D)
    with col:
        show_images(decode_images(m.run.model, path), frames,
                    caption=f"{m.label}: test #{a} → test #{b}, {frames} equally spaced codes")
        fig = panel.scatter(axis_range, title=f"{m.label}: the straight path", height=380,
                            marker_size=3, opacity=0.4, show_legend=False)
        st.plotly_chart(figures.add_path(fig, panel.to_plane(path)), key=f"interp_scatter_{m.label.lower()}", config=plot_config(f"interp_scatter_{m.label.lower()}"))
st.caption("Both paths are straight lines between the two images' codes (square → star). The VAE's "
           "path stays inside the filled part of its space, so the frames morph smoothly. The AE's "
           "path can cross empty gaps, where the frames blur or jump to an unrelated shape.")
