"""Latent space: where the AE and the VAE put the test images, drawn over the prior N(0, I)."""
import streamlit as st

from ui.captions import latent_space_caption, marginals_caption
from ui.export import plot_config
from ui.i18n import _
from ui.links import BIND, translated_labels
from ui.live_decode import beta_slider, live_decode, sweep_codes
from ui.panels import latent_panels, pair_notes, pick_encoded_models, scale_choice, show_images
from ui.pickers import plane_picker, selected_indices
from ui.resources import usable_runs
from ui.state import LATENT
from vae_core.analysis.latent_tools import decode_images, posterior_ellipses, subset_indices
from vae_core.analysis.sweep import sweep_groups
from vae_core.text import N_

N_ELLIPSES = 120  # enough to see the overlap, few enough to still see the points
MAX_SHOWN = 16
DEMO_SWEEP = "demo-digits-sweep"  # shipped with the demo pair (benchmarks/demo_sweep.py)
SWEEP_GRID = 12  # decoder grid cells per side under the β slider

st.title(_("Latent space"))
st.caption(_("Every point is one test image's code: the AE's z, the VAE's posterior mean μ. The grey "
             "circles are the prior N(0, I) at 1, 2 and 3σ: the region the VAE samples from when it "
             "generates."))

models = pick_encoded_models(LATENT)

plane = plane_picker("latent", [m.latent_dim for m in models])
has_posterior = any(m.logvar is not None and m.latent_dim > 1 for m in models)
show_ellipses = st.toggle(_("Draw the VAE's posterior q(z|x) as 2σ ellipses ({n} test images)",
                            n=N_ELLIPSES),
                          key="latent_ellipses", disabled=not has_posterior, bind=BIND)
shared_axes = scale_choice("latent")
# The VAE's histograms: the codes its decoder sees (what should match the prior) or its means.
MARGINAL_CODES = {"sampled": N_("z ~ q(z|x), one per test image"), "mean": N_("the means μ")}
marginal_codes = st.radio(_("The VAE's histograms show"), list(MARGINAL_CODES), horizontal=True,
                          format_func=translated_labels("latent_marginal_codes", MARGINAL_CODES),
                          key="latent_marginal_codes", bind=BIND)
panels = latent_panels(models, plane, shared_axes)
pair_notes(models, shared_axes)
by_label = {m.label: m for m in models}
if len(by_label) == 2:
    st.markdown(latent_space_caption(by_label["AE"].stats, by_label["VAE"].stats, gettext=_))
events = []
for col, panel in zip(st.columns(len(panels)), panels):
    m = panel.codes
    with col:
        ellipses = None
        if show_ellipses and m.logvar is not None and not panel.one_d:
            sub = subset_indices(len(m.mu), N_ELLIPSES)
            ellipses = posterior_ellipses(m.mu[sub], m.logvar[sub], panel.projection)
        events.append(st.plotly_chart(panel.scatter(ellipses=ellipses), on_select="rerun",
                                      selection_mode=("points", "box", "lasso"),
                                      key=f"latent_scatter_{m.label.lower()}", config=plot_config(f"latent_scatter_{m.label.lower()}")))
        hist_codes = m.sampled if marginal_codes == "sampled" else m.mu
        st.plotly_chart(panel.marginals(
            hist_codes,
            title=(_("{model}: marginals of the codes", model=m.label) if m.logvar is None else
                   _("{model}: marginals of {codes}", model=m.label,
                     codes=_(MARGINAL_CODES[marginal_codes])))),
            key=f"latent_marginals_{m.label.lower()}", config=plot_config(f"latent_marginals_{m.label.lower()}"))
if show_ellipses:
    st.caption(_("Each ellipse is one test image's q(z|x) at 2σ: the VAE encodes an image as a "
                 "cloud, not a point. Where clouds overlap, the decoder was trained to draw similar "
                 "images."))
st.caption(marginals_caption(by_label["VAE"].stats if "VAE" in by_label else None, gettext=_,
                             codes=marginal_codes))

st.subheader(_("Decode the z under the mouse"))
st.caption(_("Move the mouse over either map: your browser decodes the z under it with both "
             "decoders at once (their weights came with the page; nothing goes back to the server). "
             "The red cross marks that z on both maps. Try a z where no test code lies, and compare "
             "what the two decoders draw there."))
live_decode(panels, key="latent_live")

st.subheader(_("β sweep: one VAE per β"))
groups = sweep_groups(usable_runs())
if not groups:
    st.info(_("No β sweep yet. Run one from the Train page (mode β sweep) or the command line: "
              "`python -m vae_core sweep`."), icon=":material/info:")
else:
    chosen_vae = by_label["VAE"].run.group if "VAE" in by_label else None
    names = list(groups)
    first = chosen_vae if chosen_vae in groups else DEMO_SWEEP if DEMO_SWEEP in groups else names[0]
    sweep_id = st.selectbox(_("Sweep"), names, index=names.index(first), key="latent_sweep")
    members = sweep_codes(groups[sweep_id])
    if members:
        sweep_panels = latent_panels(members, plane, shared_axes, one_d_notice=False)
        betas = [m.run.train_config.beta for m in members]
        start = min(range(len(betas)), key=lambda i: abs(betas[i] - 1.0))
        beta_slider(sweep_panels, betas, [m.run.final.get("kl", float("nan")) for m in members],
                    [m.run.final.get("recon", float("nan")) for m in members],
                    [m.run.status == "collapsed" for m in members], key="latent_sweep_live",
                    start=start, grid_n=SWEEP_GRID)
        st.caption(_("Each β is its own VAE run of this sweep (same seed, data and net; only β "
                     "differs). The slider swaps runs in your browser: the map of its test codes "
                     "(at one scale for all runs when the axes above are shared), its decoder over "
                     "a {n}x{n} grid of that map, and its point on the rate–distortion plane (the "
                     "test KL and recon its training logged at the last epoch; red: collapsed). "
                     "Move the mouse over the map to decode with the run shown.", n=SWEEP_GRID))

st.subheader(_("Selected images and their reconstructions"))
# Indices are positions in a test set; panels of runs on different data sets are kept apart.
picked: dict[str, list[int]] = {}
for m, event in zip(models, events):
    chosen = picked.setdefault(m.data.name, [])
    chosen += [i for i in selected_indices(event) if i not in chosen]
if not any(picked.values()):
    st.caption(_("Click a point, or drag a box or lasso (toolbar above a chart), to see those test "
                 "images here next to each model's reconstruction (first {n}).", n=MAX_SHOWN))
for name, idx in picked.items():
    if not idx:
        continue
    idx = idx[:MAX_SHOWN]
    same_data = [m for m in models if m.data.name == name]
    show_images(same_data[0].data.test_x[idx, 0].numpy(), len(idx),
                caption=_("Inputs: test #{indices}", indices=", ".join(map(str, idx))))
    for m in same_data:
        show_images(decode_images(m.run.model, m.mu[idx]), len(idx),
                    caption=_("{model} reconstruction, decoded from the code of each input",
                              model=m.label))
