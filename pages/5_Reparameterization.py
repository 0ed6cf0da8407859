"""Reparameterization & KL: why z = mu + sigma * eps can be trained, and what the KL term costs."""
import numpy as np
import pandas as pd
import streamlit as st

from ui.export import plot_config
from ui.i18n import _, current_language
from ui.links import BIND
from ui.live_decode import live_draws
from ui.panels import latent_panels, pair_notes, pick_encoded_models, show_images
from ui.pickers import pick_test_image, plane_picker
from ui.resources import run_key, shared_figure
from vae_core.viz import evidence_figures, figures
from vae_core.analysis.latent_tools import (decode_images, ellipse_outlines, kl_monte_carlo,
                                            posterior_samples, reparam_demo)

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


st.title(_("Reparameterization & KL"))

st.subheader(_("z = μ + σ·ε: a sample you can differentiate"))
c1, c2, c3, c4 = st.columns(4)
mu = c1.slider("μ", -3.0, 3.0, 1.0, 0.1, key="reparam_mu", bind=BIND)
sigma = c2.slider("σ", 0.05, 3.0, 0.5, 0.05, key="reparam_sigma", bind=BIND)
n = c3.select_slider(_("Draws N"), [100, 300, 1000, 3000, 10000], value=1000, key="reparam_n", bind=BIND)
seed = int(c4.number_input(_("Seed"), 0, 1_000_000, 0, key="reparam_seed", bind=BIND))

demo = reparam_demo(mu, sigma, n, seed)
lang = current_language()
left, right = st.columns(2)
with left:  # both figures depend on the sliders and the language only: built once for everyone
    st.plotly_chart(shared_figure(("reparam_hist", mu, sigma, n, seed, lang), lambda: evidence_figures.reparam_histogram(
        demo.z, mu, sigma, gettext=_).update_layout(height=340)),
                    key="reparam_hist", config=plot_config("reparam_hist"))
    st.caption(_("Draw ε ~ N(0, 1), then shift and stretch it: z = μ + σ·ε follows N(μ, σ²) (black). "
                 "The randomness sits in ε alone, outside the network."))
with right:
    st.plotly_chart(shared_figure(("reparam_grads", mu, sigma, n, seed, lang), lambda: evidence_figures.gradient_scatter(
        demo.eps, demo.dz_dsigma, demo.dz_dmu, gettext=_).update_layout(height=340)),
                    key="reparam_grads", config=plot_config("reparam_grads"))
    st.caption(_("torch.autograd, per draw: ∂z/∂μ = 1 and ∂z/∂σ = ε exactly. Gradients pass through "
                 "the sample to μ and σ, so the encoder that outputs them can be trained by backprop; "
                 "sampling z directly from N(μ, σ²) would give no gradient."))
    st.dataframe(pd.DataFrame({"ε": demo.eps[:6], "z": demo.z[:6], "∂z/∂μ": demo.dz_dmu[:6],
                               "∂z/∂σ": demo.dz_dsigma[:6]}), hide_index=True)

# The source blog post writes the trick as Z = μ + σ²ε; students who read it should see why the
# factor is σ, with the sliders' own draws as the check.
st.info(_("**Why σ·ε and not σ²·ε?** Some write-ups, among them the blog post this lab grew from "
          "(\"VAE 핵심 요약\"), write the trick as $Z = \\mu + \\sigma^2 \\epsilon$. The factor must "
          "be the standard deviation σ: ε ~ N(0, I) has standard deviation 1, so μ + σ·ε has "
          "standard deviation σ, as q(z|x) = N(μ, σ²) requires. With σ²·ε the standard deviation "
          "would be σ², which is wrong unless σ = 1. The encoder outputs log σ² (`logvar`), so the "
          "code takes σ = exp(0.5·logvar). It is a common slip of notation; the post's idea, moving "
          "the randomness into ε so that μ and σ get gradients, is exactly right. Check it here: the "
          "{n} draws above have standard deviation {sd:.3f}, for σ = {sigma:.2f} (σ² = {var:.3f}).",
          n=len(demo.z), sd=float(np.std(demo.z)), sigma=sigma, var=sigma ** 2),
        icon=":material/lightbulb:")

st.subheader(_("KL( N(μ, σ²) ‖ N(0, 1) )"))
kl = kl_monte_carlo(mu, sigma, n, seed)
m1, m2 = st.columns(2)  # two a row: the labels and "0.825 ± 0.024" fit at 1024 px
m3, _m4 = st.columns(2)
m1.metric(_("Closed form (used in training)"), _("{kl:.4f} nats", kl=kl.closed_form))
m2.metric(_("Monte Carlo estimate"), f"{kl.monte_carlo:.3f} ± {kl.std_error:.3f}",
          help=_("The mean of log q(z) − log p(z) over the draws, ± its standard error."))
m3.metric(_("Difference in standard errors"),
          f"{(kl.monte_carlo - kl.closed_form) / kl.std_error:+.2f}" if kl.std_error > 0 else "—")
st.caption(_("The closed form ½(μ² + σ² − 1 − log σ²) is exact; the Monte-Carlo estimate averages over "
             "the same {n} draws and lands within a few standard errors of it. The KL is 0 only at "
             "μ = 0, σ = 1: it is the price, per latent dim, that each image's code pays for leaving "
             "the prior.", n=n))

st.subheader(_("A trained model: q(z|x) for one test image"))
models = pick_encoded_models("reparam")
pair_notes(models)
c1, c2, c3 = st.columns(3)
with c1:
    idx = pick_test_image("reparam_image", models[0].data, _("Test image"), by_class=True)
k = c2.slider(_("K resampled codes"), 1, 64, 16, key="reparam_k", bind=BIND)
sample_seed = int(c3.number_input(_("Sampling seed"), 0, 1_000_000, 0, key="reparam_sample_seed", bind=BIND))
plane = plane_picker("reparam", [m.latent_dim for m in models])
zoom = st.toggle(_("Zoom the VAE's panel to this image's q(z|x)"), value=True, key="reparam_zoom",
                 help=_("Off: each panel shows all its test codes at its own scale."), bind=BIND)
panels = latent_panels(models, plane)


def posterior_map(panel, i: int, post, zoomed: bool):
    """One image's code on the panel: the AE's point, or the VAE's q(z|x) ellipses, draws and μ."""
    m = panel.codes
    title = (_("{model}: test #{i} (zoomed to q(z|x))", model=m.label, i=i) if zoomed
             else _("{model}: test #{i}", model=m.label, i=i))
    fig = panel.scatter(title=title, height=420, marker_size=3, opacity=0.25)
    # The legend names only what this view adds (classes are the colours of the points).
    fig.update_traces(showlegend=False).update_layout(legend=dict(orientation="h", y=-0.2))
    if post is None:  # the AE has no distribution to sample: its "draws" are one point
        return figures.add_points(fig, panel.to_plane(m.mu[i]), _("z of test #{i}", i=i), symbol="x", size=12)
    if not panel.one_d:
        center, cov = panel.to_plane(post.mu), panel.projection.covariances(post.logvar[None])
        figures.add_ellipses(fig, ellipse_outlines(center, cov, 1.0), "q(z|x) 1σ")
        figures.add_ellipses(fig, ellipse_outlines(center, cov, 2.0), "q(z|x) 2σ", dash="dot")
        if zoomed:
            zoom_to(fig, center[0], cov[0], panel.to_plane(post.z))
    figures.add_points(fig, panel.to_plane(post.z), _("{k} draws z = μ + σ·ε", k=len(post.z)),
                       color=figures.VAE_COLOR, symbol="circle", size=9)
    return figures.add_points(fig, panel.to_plane(post.mu), "μ", symbol="x", size=12)


live = None  # the VAE's panel and its draws, for the by-hand view below
for col, panel in zip(st.columns(len(models)), panels):
    m = panel.codes
    i = min(idx, len(m.mu) - 1)
    x = m.data.test_x[i:i + 1]
    post = posterior_samples(m.run.model, x, k, sample_seed) if m.logvar is not None else None
    with col:
        zoomed = zoom and post is not None and not panel.one_d
        st.plotly_chart(shared_figure(("reparam_scatter", run_key(m.run), str(plane), i, k, sample_seed, zoomed, lang),
                                      lambda: posterior_map(panel, i, post, zoomed)),
                        key=f"reparam_scatter_{m.label.lower()}", config=plot_config(f"reparam_scatter_{m.label.lower()}"))
        if m.logvar is None:
            show_images(np.stack([m.data.test_x[i, 0].numpy(), decode_images(m.run.model, m.mu[i:i + 1])[0]]),
                        2, caption=_("Input and the AE's reconstruction"), min_width=192)
            st.caption(_("The AE maps the image to one point. Resampling has nothing to vary: all K "
                         "decodings would be the same image."))
            continue
        show_images(x[0, 0].numpy()[None], 1, caption=_("Input"), min_width=96)
        show_images(post.images, min(k, 8), caption=_("The {k} draws, decoded", k=k))
        live = (next(j for j, p in enumerate(panels) if p is panel), post)
        if m.stats["collapsed"]:
            st.caption(_("This VAE collapsed: q(z|x) is the prior N(0, I) whatever the image, and "
                         "its decoder ignores z, so every draw decodes to the same average image, "
                         "not a variant of the input."))
        else:
            st.caption(_("The VAE maps the image to a cloud q(z|x) = N(μ, σ²). Every draw from it "
                         "decodes to a plausible variant of the input: the decoder learned that whole "
                         "region, not just the point μ."))

if live is not None:
    index, post = live
    sigma = np.exp(0.5 * post.logvar.astype(np.float64))
    st.markdown(_("**By hand:** drag μ (the cross) on the VAE's map; the same ε give the {k} draws "
                  "z = μ + σ·ε around it, decoded in your browser as you drag (σ stays this image's). "
                  "The z under the mouse is decoded by both decoders.", k=k))
    live_draws(panels, index, post.mu, sigma, (post.z - post.mu) / sigma, key="reparam_live")
