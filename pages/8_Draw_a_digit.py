"""Draw a digit: both encoders place your drawing in their latent spaces; both decoders redraw it."""
import numpy as np
import streamlit as st

from ui.canvas import drawing_canvas
from ui.panels import latent_panels, pick_encoded_models, show_images
from ui.pickers import pick_test_image, plane_picker
from ui.export import plot_config
from ui.links import BIND
from ui.resources import get_judge
from vae_core import figures
from vae_core.drawing import DrawingError, image_from_data_url, model_input, read_drawing
from vae_core.latent_tools import posterior_ellipses

K = 8

st.title("Draw a digit")
st.caption("Draw with the mouse (or a finger). The drawing is shrunk and centred the way the data "
           "set's images were, then both encoders place it in their latent spaces: the AE as one "
           "point, the VAE as a cloud q(z|x). Both decoders redraw it, and the VAE draws K codes from "
           "its cloud. A separate judge classifier, trained on the real data, reads every image.")


models = pick_encoded_models("draw")
data = models[0].data
shape = models[0].run.model_config.input_shape

left, right = st.columns([1, 2])
with left:
    source = st.radio("Input", ["Draw", "A test image"], horizontal=True, key="draw_source", bind=BIND)
    x = None
    if source == "Draw":
        url = drawing_canvas("draw_canvas")
        if url:
            try:
                x = model_input(image_from_data_url(url), shape)
            except DrawingError as e:
                st.info(f"{str(e)[0].upper()}{str(e)[1:]}.", icon=":material/draw:")
    else:
        i = pick_test_image("draw_test", data, "Test image", by_class=True)
        x = data.test_x[i:i + 1]
with right:
    if x is None:
        st.info("Draw a digit on the black square: one stroke is enough to start.", icon=":material/draw:")
        st.stop()
    show_images(x[0, 0].numpy()[None], 1, min_width=200,
                caption=f"What the models see: {shape[1]}×{shape[2]} pixels, preprocessed like {data.name}")
    judge = get_judge(data.name)
    st.caption(f"Judge classifier: test accuracy {judge.accuracy:.1%} on {data.name}.")

plane = plane_picker("draw", [m.latent_dim for m in models])
own_axes = st.toggle("Zoom each map to its own codes (off: both maps share one scale)", value=True,
                     key="draw_own_axes", bind=BIND)
panels = latent_panels(models, plane, shared_axes=not own_axes)
for col, panel in zip(st.columns(len(panels)), panels):
    m = panel.codes
    if tuple(m.run.model_config.input_shape) != tuple(x.shape[1:]):
        col.error(f"{m.label} expects {m.run.model_config.input_shape} images; skipped.")
        continue
    r = read_drawing(m.run.model, x, K, judge.model)
    # Own scale: the codes, the prior and wherever the drawing lands (an odd drawing may land far out).
    landing = [panel.to_plane(z) for z in (r.mu, r.draws_z) if z is not None]
    extent = panel.own_range(*landing) if own_axes else None
    fig = panel.scatter(extent, title=f"{m.label}: where your drawing lands", height=420,
                        marker_size=3, opacity=0.35)
    if r.logvar is not None and not panel.one_d:
        for n_sigma, dash in ((1, "solid"), (2, "dot")):
            outline = posterior_ellipses(r.mu[None], r.logvar[None], panel.projection, n_sigma)
            figures.add_ellipses(fig, outline, f"q(z|x) {n_sigma}σ", dash=dash)
        figures.add_points(fig, panel.to_plane(r.draws_z), f"{K} draws z ~ q(z|x)", symbol="circle", size=6)
    figures.add_points(fig, panel.to_plane(r.mu), "your drawing" + (" (μ)" if r.logvar is not None else ""),
                       symbol="x", size=14)
    with col:
        st.plotly_chart(fig, key=f"draw_map_{m.label.lower()}", config=plot_config(f"draw-{m.label}"))
        c, p = r.recon_class
        name = data.class_names[c]
        show_images(r.reconstruction[None], 1, min_width=160,
                    caption=f"{m.label} reconstruction: the judge reads {name} (p = {p:.2f})")
        if r.draws is not None:
            reads = ", ".join(data.class_names[c] for c, _ in r.draw_classes)
            show_images(r.draws, K, caption=f"{m.label}: {K} draws z ~ q(z|x), decoded; the judge reads: {reads}")
            sigma = np.exp(0.5 * r.logvar)
            st.caption(f"q(z|x): μ = {np.array2string(r.mu, precision=2)}, "
                       f"σ = {np.array2string(sigma, precision=2)}")
        else:
            st.caption(f"AE code z = {np.array2string(r.mu, precision=2)}: one point, nothing to sample.")
st.caption("An unusual drawing shows the difference best: the AE still gives it one confident point "
           "(maybe in an empty region between its clusters); the VAE's cloud widens where it is unsure, "
           "and its draws show what the decoder thinks the drawing could be.")
