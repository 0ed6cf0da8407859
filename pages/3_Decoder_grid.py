"""Decoder grid: what each decoder draws at every point of a regular grid of latent codes."""
import math

import streamlit as st

from ui.captions import PRIOR_BOX, decoder_grid_caption
from ui.export import plot_config
from ui.i18n import _, current_language, translate
from ui.links import BIND, translated_options
from ui.panels import latent_panels, pair_notes, pick_encoded_models, scale_choice
from ui.pickers import pick_test_image, plane_picker
from ui.resources import run_key, shared_figure
from vae_core.viz import figures, image_figures
from vae_core.analysis.codes import code_span
from vae_core.analysis.latent_tools import decode_images, grid_axis, grid_codes
from vae_core.text import N_

# Option values are the English labels (links and tests name them); each is shown translated.
FIT, SQUARE = N_("Fit to each model's codes"), N_("Square [-r, r]²")
QUANTILES = N_("Normal quantiles")
HOLD_ZERO, HOLD_CODE = "0", N_("the code of a test image")


def label(option: str, lang: str) -> str:
    return option if option == HOLD_ZERO else translate(option, lang)


st.title(_("Decoder grid"))
st.caption(_("Instead of encoding images, walk the latent space on a regular grid and ask each "
             "decoder what it draws there. The small scatter under each grid shows where that grid "
             "lies relative to the codes of real test images."))

models = pick_encoded_models("grid")

# The square's slider must reach the widest model's codes (an AE's can span ±20).
r_max = float(max(8, math.ceil(max(m.stats["code_span"] for m in models))))
c1, c2, c3 = st.columns(3)
n = c1.slider(_("Grid size n (n × n images)"), 5, 30, 15, key="grid_n", bind=BIND)
spacing = c2.radio(_("Grid values"), [FIT, SQUARE, QUANTILES], key="grid_spacing",
                   format_func=translated_options("grid_spacing", [FIT, SQUARE, QUANTILES], label),
                   help=_("Fit: each grid spans its own model's codes (0.5–99.5 percentile box, at "
                          "least the prior's ±2), so the AE's empty regions between clusters are "
                          "on it. Square: one ±r for both. Normal quantiles: equal prior mass per "
                          "cell."), bind=BIND)
quantiles = spacing == QUANTILES
r = c3.slider(_("r: half-width of the square"), 0.5, r_max, 3.0, 0.5, key="grid_r",
              disabled=spacing != SQUARE, bind=BIND)
plane = plane_picker("grid", [m.latent_dim for m in models], allow_pca=False)
base_index = None
if max(m.latent_dim for m in models) > 2:
    hold = st.radio(_("The other latent dims are held at"), [HOLD_ZERO, HOLD_CODE],
                    format_func=translated_options("grid_hold", [HOLD_ZERO, HOLD_CODE], label),
                    horizontal=True, key="grid_hold", bind=BIND)
    if hold != HOLD_ZERO:
        base_index = pick_test_image("grid_base", models[0].data, _("Test image"), by_class=False)

shared_axes = scale_choice("grid")
panels = latent_panels(models, plane, shared_axes)
pair_notes(models, shared_axes)
spans: dict[str, float] = {}
lang = current_language()
for col, panel in zip(st.columns(len(panels)), panels):
    m = panel.codes
    dims = panel.projection.dims
    spans[m.label] = code_span(m.mu, dims)
    # A collapsed VAE's codes span ~0: its fitted grid still covers the prior's 2σ box.
    half_width = max(spans[m.label], PRIOR_BOX) if spacing == FIT else r
    axis = grid_axis(n, half_width, quantiles)
    base = None if base_index is None else min(base_index, len(m.mu) - 1)

    def grid_figure(m=m, panel=panel, dims=dims, half_width=half_width, axis=axis, base=base):
        images = decode_images(m.run.model, grid_codes(
            n, m.latent_dim, r=half_width, quantiles=quantiles, dims=dims,
            base_z=None if base is None else m.mu[base]))
        return image_figures.decoded_grid(images, n, _("{model} decoder: {run}", model=m.label, run=m.run.name),
                                    axis, panel.projection.axis_titles, two_d=len(dims) == 2,
                                    gettext=_).update_layout(height=460)

    with col:  # decoded once per run version, grid and language, for every session
        st.plotly_chart(shared_figure(("grid_image", run_key(m.run), n, float(half_width), quantiles,
                                       tuple(dims), base, lang), grid_figure),
                        key=f"grid_image_{m.label.lower()}", config=plot_config(f"grid_image_{m.label.lower()}"))
        extent = (axis[0], axis[-1])
        y_extent = extent if len(dims) == 2 else (-0.5, 0.5)
        axis_range = panel.axis_range if shared_axes else panel.own_range(
            [[extent[0], y_extent[0]], [extent[1], y_extent[1]]])
        fig = panel.scatter(axis_range, title=_("{model}: where the grid lies", model=m.label),
                            height=320,
                            marker_size=3, opacity=0.5, show_legend=False)
        figures.add_extent(fig, extent, y_extent, gettext=_)
        st.plotly_chart(fig, key=f"grid_scatter_{m.label.lower()}", config=plot_config(f"grid_scatter_{m.label.lower()}"))
if {"AE", "VAE"} <= spans.keys() and not quantiles:
    vae_stats = next(m.stats for m in models if m.label == "VAE")
    st.markdown(decoder_grid_caption(spans["AE"], spans["VAE"], None if spacing == FIT else r,
                                     vae_collapsed=bool(vae_stats["collapsed"]), gettext=_))
st.caption(_("Normal quantiles put an equal share of prior probability in every cell (as in the "
             "Keras VAE example), which is how often sampling from N(0, I) would land there."))
