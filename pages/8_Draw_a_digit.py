"""Draw a digit: both encoders place your drawing in their latent spaces; both decoders redraw it."""
import numpy as np
import streamlit as st

from ui.canvas import drawing_canvas
from ui.i18n import _, translate
from ui.panels import latent_panels, pair_notes, pick_encoded_models, scale_choice, show_images
from ui.pickers import pick_test_image, plane_picker
from ui.export import plot_config
from ui.links import BIND, md, translated_options
from ui.resources import get_dataset, get_judge, get_run, run_version
from vae_core.data import dataset_label
from vae_core.viz import figures
from vae_core.analysis.drawing import DrawingError, image_from_data_url, model_input, read_drawing
from vae_core.analysis.latent_tools import posterior_ellipses
from vae_core.analysis.posterior import sigma_probe
from vae_core.text import N_

K = 8


@st.cache_data(show_spinner=False, max_entries=16)
def cached_sigma_probe(path: str, version: float, spec: str) -> dict[str, float]:
    return sigma_probe(get_run(path).model, get_dataset(spec).test_x)


SOURCES = (N_("Draw"), N_("A test image"))  # the input's values (and English labels)

st.title(_("Draw a digit"))
st.caption(_("Draw with the mouse (or a finger). The drawing is shrunk and centred the way the data "
             "set's images were, then both encoders place it in their latent spaces: the AE as one "
             "point, the VAE as a cloud q(z|x). Both decoders redraw it, and the VAE draws K codes "
             "from its cloud. A separate judge classifier, trained on the real data, reads every "
             "image."))


models = pick_encoded_models("draw")
shared_axes = scale_choice("draw")
pair_notes(models, shared_axes)
data = models[0].data
shape = models[0].run.model_config.input_shape

left, right = st.columns([1, 2])
with left:
    source = st.radio(_("Input"), SOURCES, horizontal=True, key="draw_source", bind=BIND,
                      format_func=translated_options("draw_source", SOURCES, translate))
    x = None
    if source == SOURCES[0]:
        url = drawing_canvas("draw_canvas")
        if url:
            try:
                x = model_input(image_from_data_url(url), shape)
            except DrawingError as e:
                st.info(_(e.message, **e.values), icon=":material/draw:")
    else:
        i = pick_test_image("draw_test", data, _("Test image"), by_class=True)
        x = data.test_x[i:i + 1]
with right:
    if x is None:
        st.info(_("Draw a digit on the black square: one stroke is enough to start."),
                icon=":material/draw:")
        st.stop()
    show_images(x[0, 0].numpy()[None], 1, min_width=200,
                caption=_("What the models see: {height}×{width} pixels, preprocessed like {dataset}",
                          height=shape[1], width=shape[2], dataset=md(dataset_label(data.name))))
    judge = get_judge(data.name)
    st.caption(_("Judge classifier: test accuracy {accuracy:.1%} on {dataset}.",
                 accuracy=judge.accuracy, dataset=md(dataset_label(data.name))))

plane = plane_picker("draw", [m.latent_dim for m in models])
sigmas: dict[str, np.ndarray] = {}  # the input's logvar per VAE, for the σ caption below
panels = latent_panels(models, plane, shared_axes=shared_axes)
for col, panel in zip(st.columns(len(panels)), panels):
    m = panel.codes
    if tuple(m.run.model_config.input_shape) != tuple(x.shape[1:]):
        col.error(_("{model} expects {shape} images; skipped.", model=m.label,
                    shape=m.run.model_config.input_shape))
        continue
    r = read_drawing(m.run.model, x, K, judge.model)
    # Own scale: the codes, the prior and wherever the drawing lands (an odd drawing may land far out).
    landing = [panel.to_plane(z) for z in (r.mu, r.draws_z) if z is not None]
    extent = None if shared_axes else panel.own_range(*landing)
    fig = panel.scatter(extent, title=_("{model}: where your drawing lands", model=m.label), height=420,
                        marker_size=3, opacity=0.35)
    if r.logvar is not None and not panel.one_d:
        for n_sigma, dash in ((1, "solid"), (2, "dot")):
            outline = posterior_ellipses(r.mu[None], r.logvar[None], panel.projection, n_sigma)
            figures.add_ellipses(fig, outline, f"q(z|x) {n_sigma}σ", dash=dash)
        figures.add_points(fig, panel.to_plane(r.draws_z), _("{k} draws z ~ q(z|x)", k=K),
                           symbol="circle", size=6)
    figures.add_points(fig, panel.to_plane(r.mu),
                       _("your drawing (μ)") if r.logvar is not None else _("your drawing"),
                       symbol="x", size=14)
    with col:
        st.plotly_chart(fig, key=f"draw_map_{m.label.lower()}", config=plot_config(f"draw-{m.label}"))
        c, p = r.recon_class
        name = data.class_names[c]
        show_images(r.reconstruction[None], 1, min_width=160,
                    caption=_("{model} reconstruction: the judge reads {name} (p = {p:.2f})",
                              model=m.label, name=name, p=p))
        if r.draws is not None:
            reads = ", ".join(data.class_names[c] for c, _p in r.draw_classes)
            show_images(r.draws, K, caption=_("{model}: {k} draws z ~ q(z|x), decoded; the judge "
                                              "reads: {reads}", model=m.label, k=K, reads=reads))
            sigmas[m.label] = r.logvar
            sigma = np.exp(0.5 * r.logvar)
            st.caption(f"q(z|x): μ = {np.array2string(r.mu, precision=2)}, "
                       f"σ = {np.array2string(sigma, precision=2)}")
        else:
            st.caption(_("AE code z = {z}: one point, nothing to sample.",
                         z=np.array2string(r.mu, precision=2)))
vae_models = [m for m in models if m.logvar is not None]
st.caption(_("An unusual drawing still gets one confident point from the AE (maybe in an empty "
             "region between its clusters). The VAE's σ is not a measure of how unsure it is: σ is "
             "the width that balanced reconstruction against the KL on the training images, and "
             "nothing trains it to grow for inputs unlike them. Its draws show what the decoder "
             "makes of codes near μ."))
for m in vae_models:
    probe = cached_sigma_probe(str(m.run.path), run_version(m.run), m.run.dataset)
    st.caption(_("{model}'s mean σ, measured: test images {test:.3f}, uniform noise {noise:.3f}, "
                 "digits shifted right {shifted:.3f}, inverted {inverted:.3f}, a blank image "
                 "{blank:.3f}.", model=m.label, **probe)
               + (" " + _("Your input: {sigma:.3f}.", sigma=float(np.exp(0.5 * sigmas[m.label]).mean()))
                  if m.label in sigmas else ""))
