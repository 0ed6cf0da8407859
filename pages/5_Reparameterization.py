"""Reparameterization & KL: why z = mu + sigma * eps can be trained, and what the KL term costs."""
import numpy as np
import pandas as pd
import streamlit as st

from ui.export import plot_config
from ui.links import BIND
from ui.panels import latent_panels, pair_notes, pick_encoded_models, show_images
from ui.pickers import pick_test_image, plane_picker
from vae_core import figures
from vae_core.latent_tools import ellipse_outlines, kl_monte_carlo, posterior_samples, reparam_demo

ZOOM_SIGMAS = 3.0  # the zoomed panel holds q(z|x) to 3σ around μ (and every draw)


def zoom_to(fig, center: np.ndarray, cov: np.ndarray, draws: np.ndarray) -> None:
    """Square x and y ranges around ``center`` (2,) holding q(z|x)'s 3σ ellipse (cov (2, 2))
    and every draw (K, 2): the VAE's region of this one image, readable at any code scale."""
    half = ZOOM_SIGMAS * float(np.sqrt(np.diag(cov).max()))
    if len(draws):
        half = max(half, float(np.abs(draws - center).max()))
    half = 1.15 * max(half, 1e-3)
    fig.update_xaxes(range=[center[0] - half, center[0] + half])
    fig.update_yaxes(range=[center[1] - half, center[1] + half])


st.title("Reparameterization & KL")

st.subheader("z = μ + σ·ε: a sample you can differentiate")
c1, c2, c3, c4 = st.columns(4)
mu = c1.slider("μ", -3.0, 3.0, 1.0, 0.1, key="reparam_mu", bind=BIND)
sigma = c2.slider("σ", 0.05, 3.0, 0.5, 0.05, key="reparam_sigma", bind=BIND)
n = c3.select_slider("Draws N", [100, 300, 1000, 3000, 10000], value=1000, key="reparam_n", bind=BIND)
seed = int(c4.number_input("Seed", 0, 1_000_000, 0, key="reparam_seed", bind=BIND))

demo = reparam_demo(mu, sigma, n, seed)
left, right = st.columns(2)
with left:
    st.plotly_chart(figures.reparam_histogram(demo.z, mu, sigma).update_layout(height=340), key="reparam_hist", config=plot_config("reparam_hist"))
    st.caption("Draw ε ~ N(0, 1), then shift and stretch it: z = μ + σ·ε follows N(μ, σ²) (black). "
               "The randomness sits in ε alone, outside the network.")
with right:
    st.plotly_chart(figures.gradient_scatter(demo.eps, demo.dz_dsigma, demo.dz_dmu).update_layout(height=340), key="reparam_grads", config=plot_config("reparam_grads"))
    st.caption("torch.autograd, per draw: ∂z/∂μ = 1 and ∂z/∂σ = ε exactly. Gradients pass through "
               "the sample to μ and σ, so the encoder that outputs them can be trained by backprop; "
               "sampling z directly from N(μ, σ²) would give no gradient.")
    st.dataframe(pd.DataFrame({"ε": demo.eps[:6], "z": demo.z[:6], "∂z/∂μ": demo.dz_dmu[:6],
                               "∂z/∂σ": demo.dz_dsigma[:6]}), hide_index=True)

st.subheader("KL( N(μ, σ²) ‖ N(0, 1) )")
kl = kl_monte_carlo(mu, sigma, n, seed)
m1, m2, m3 = st.columns(3)
m1.metric("Closed form (used in training)", f"{kl.closed_form:.4f} nats")
m2.metric("Monte Carlo, mean of log q(z) − log p(z)", f"{kl.monte_carlo:.4f} ± {kl.std_error:.4f}")
m3.metric("Difference in standard errors",
          f"{(kl.monte_carlo - kl.closed_form) / kl.std_error:+.2f}" if kl.std_error > 0 else "—")
st.caption("The closed form ½(μ² + σ² − 1 − log σ²) is exact; the Monte-Carlo estimate averages over "
           f"the same {n} draws and lands within a few standard errors of it. The KL is 0 only at μ = 0, "
           "σ = 1: it is the price, per latent dim, that each image's code pays for leaving the prior.")

st.subheader("A trained model: q(z|x) for one test image")
models = pick_encoded_models("reparam")
pair_notes(models)
c1, c2, c3 = st.columns(3)
with c1:
    idx = pick_test_image("reparam_image", models[0].data, "Test image", by_class=True)
k = c2.slider("K resampled codes", 1, 64, 16, key="reparam_k", bind=BIND)
sample_seed = int(c3.number_input("Sampling seed", 0, 1_000_000, 0, key="reparam_sample_seed", bind=BIND))
plane = plane_picker("reparam", [m.latent_dim for m in models])
zoom = st.toggle("Zoom the VAE's panel to this image's q(z|x)", value=True, key="reparam_zoom",
                 help="Off: each panel shows all its test codes at its own scale.", bind=BIND)
for col, panel in zip(st.columns(len(models)), latent_panels(models, plane)):
    m = panel.codes
    i = min(idx, len(m.mu) - 1)
    x = m.data.test_x[i:i + 1]
    post = posterior_samples(m.run.model, x, k, sample_seed) if m.logvar is not None else None
    with col:
        zoomed = zoom and post is not None and not panel.one_d
        fig = panel.scatter(title=f"{m.label}: test #{i}" + (" (zoomed to q(z|x))" if zoomed else ""),
                            height=420, marker_size=3, opacity=0.25)
        # The legend names only what this view adds (classes are the colours of the points).
        fig.update_traces(showlegend=False).update_layout(legend=dict(orientation="h", y=-0.2))
        if m.logvar is None:  # the AE has no distribution to sample: its "draws" are one point
            figures.add_points(fig, panel.to_plane(m.mu[i]), f"z of test #{i}", symbol="x", size=12)
            st.plotly_chart(fig, key=f"reparam_scatter_{m.label.lower()}", config=plot_config(f"reparam_scatter_{m.label.lower()}"))
            show_images(m.data.test_x[i, 0].numpy()[None], 1, caption="Input", min_width=96)
            st.caption("The AE maps the image to one point. Resampling has nothing to vary: all K "
                       "decodings would be the same image.")
            continue
        if not panel.one_d:
            center, cov = panel.to_plane(post.mu), panel.projection.covariances(post.logvar[None])
            figures.add_ellipses(fig, ellipse_outlines(center, cov, 1.0), "q(z|x) 1σ")
            figures.add_ellipses(fig, ellipse_outlines(center, cov, 2.0), "q(z|x) 2σ", dash="dot")
            if zoomed:
                zoom_to(fig, center[0], cov[0], panel.to_plane(post.z))
        figures.add_points(fig, panel.to_plane(post.z), f"{k} draws z = μ + σ·ε", color=figures.VAE_COLOR,
                           symbol="circle", size=9)
        figures.add_points(fig, panel.to_plane(post.mu), "μ", symbol="x", size=12)
        st.plotly_chart(fig, key=f"reparam_scatter_{m.label.lower()}", config=plot_config(f"reparam_scatter_{m.label.lower()}"))
        show_images(x[0, 0].numpy()[None], 1, caption="Input", min_width=96)
        show_images(post.images, min(k, 8), caption=f"The {k} draws, decoded")
        if m.stats["collapsed"]:
            st.caption("This VAE collapsed: q(z|x) is the prior N(0, I) whatever the image, and "
                       "its decoder ignores z, so every draw decodes to the same average image, "
                       "not a variant of the input.")
        else:
            st.caption("The VAE maps the image to a cloud q(z|x) = N(μ, σ²). Every draw from it "
                       "decodes to a plausible variant of the input: the decoder learned that whole "
                       "region, not just the point μ.")
