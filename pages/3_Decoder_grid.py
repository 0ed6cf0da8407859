"""Decoder grid: what each decoder draws at every point of a regular grid of latent codes."""
import streamlit as st

from ui.common import latent_panels, pick_pair, pick_test_image, plane_picker, sidebar, test_codes
from ui.export import plot_config
from ui.links import BIND
from vae_core import figures
from vae_core.explore import decode_images, grid_axis, grid_codes, tile

st.set_page_config(page_title="Decoder grid · VAE Lab", layout="wide")
sidebar()
st.title("Decoder grid")
st.caption("Instead of encoding images, walk the latent space on a regular grid and ask each decoder "
           "what it draws there. The small scatter under each grid shows where that grid lies "
           "relative to the codes of real test images.")

ae, vae = pick_pair("grid")
models = test_codes(ae, vae)
if not models:
    st.stop()

c1, c2, c3 = st.columns(3)
n = c1.slider("Grid size n (n × n images)", 5, 30, 15, key="grid_n", bind=BIND)
spacing = c2.radio("Grid values", ["Square [-r, r]²", "Normal quantiles"], key="grid_spacing", bind=BIND,
                   horizontal=True)
quantiles = spacing == "Normal quantiles"
r = c3.slider("r: half-width of the square", 0.5, 8.0, 3.0, 0.5, key="grid_r", bind=BIND, disabled=quantiles)
plane = plane_picker("grid", [m.latent_dim for m in models], allow_pca=False)
base_index = None
if max(m.latent_dim for m in models) > 2:
    hold = st.radio("The other latent dims are held at", ["0", "the code of a test image"],
                    horizontal=True, key="grid_hold", bind=BIND)
    if hold != "0":
        base_index = pick_test_image("grid_base", models[0].data, "Test image", by_class=False)

axis = grid_axis(n, r, quantiles)
panels, axis_range = latent_panels(models, plane)
for col, panel in zip(st.columns(len(panels)), panels):
    m = panel.codes
    dims = panel.projection.dims
    base = m.mu[min(base_index, len(m.mu) - 1)] if base_index is not None else None
    images = decode_images(m.run.model, grid_codes(n, m.latent_dim, r=r, quantiles=quantiles,
                                                   dims=dims, base_z=base))
    with col:
        st.plotly_chart(figures.decoded_grid(tile(images, n, pad=1, pad_value=0.5), f"{m.label} decoder: {m.run.name}", axis,
                                             panel.projection.axis_titles, two_d=len(dims) == 2),
                        key=f"grid_image_{m.label.lower()}", config=plot_config(f"grid_image_{m.label.lower()}"))
        fig = panel.scatter(axis_range, title=f"{m.label}: where the grid lies", height=320,
                            marker_size=3, opacity=0.5, show_legend=False)
        figures.add_extent(fig, (axis[0], axis[-1]), (axis[0], axis[-1]) if len(dims) == 2 else (-0.5, 0.5))
        st.plotly_chart(fig, key=f"grid_scatter_{m.label.lower()}", config=plot_config(f"grid_scatter_{m.label.lower()}"))
st.caption("The AE's decoder only learned the places its codes occupy: across gaps between clusters "
           "and outside them it draws blurs and hybrids that are not digits. The VAE's decoder gives "
           "a recognisable image almost everywhere inside the prior's ±2σ, changing smoothly from "
           "tile to tile. Normal quantiles put an equal share of prior probability in every cell "
           "(as in the Keras VAE example), which is how often sampling would land there.")
