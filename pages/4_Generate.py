"""Generate & interpolate: decode judged draws from the prior (and, for the AE, from its own codes' Gaussian,
a Gaussian mixture fitted to them, and their box), and walk straight between two codes."""
import pandas as pd
import streamlit as st

from ui.captions import generation_caption, interpolation_caption
from ui.export import plot_config
from ui.i18n import _, current_language, translate
from ui.links import BIND, translated_labels, translated_options
from ui.live_decode import live_paths
from ui.numbers import number_text, percent_text
from ui.panels import latent_panels, pair_notes, pick_encoded_models, show_images
from ui.pickers import pick_test_image, plane_picker
from ui.resources import get_judge, run_generation_tests, run_key, shared_figure
from vae_core.viz import figures, image_figures
from vae_core.analysis.density import MIXTURE_COMPONENTS, mixture_caption
from vae_core.analysis.generation import (AE_SOURCES, CONFIDENT, MIXTURE, SOURCE_NAMES, SOURCES,
                                          generation_scores, judge_codes)
from vae_core.analysis.latent_tools import decode_images, interpolate
from vae_core.text import N_

N_TILES = 64
MAP_DRAWS = 250
# Option values are the English labels (links and tests name them); each is shown translated.
BY_CLASS, BY_INDEX = N_("class (its first test image)"), N_("index")




def source_name(source: str) -> str:
    return _(SOURCE_NAMES[source])


st.title(_("Generate & interpolate"))

models = pick_encoded_models("generate")
pair_notes(models)

st.subheader(_("New images: where do the draws land, and what do they decode to?"))
st.caption(_("Each model gets 1,000 random codes; each is decoded and shown to a judge classifier "
             "trained on the same data set (its top class probability is the tile's number; red "
             "below {confident:g}). The VAE samples its prior N(0, I), as it was trained to. The AE "
             "has no prior: beside N(0, I) it can also sample a Gaussian fitted to its own codes "
             "(the best a user could do without one), a mixture of {components} Gaussians fitted "
             "to them, or the box around its codes.", confident=CONFIDENT,
             components=MIXTURE_COMPONENTS))
c1, c2 = st.columns([3, 1])
ae_source = c1.radio(_("The AE's draws come from"), AE_SOURCES,
                     format_func=translated_labels("generate_source", SOURCE_NAMES),
                     horizontal=True, key="generate_source", bind=BIND)
seed = int(c2.number_input(_("Seed (0: the scorecard's draws)"), 0, 1_000_000, 0,
                           key="generate_seed", bind=BIND))
# The AE's sources add the mixture: the AE plus a density fitted after training.
tests = {m.label: run_generation_tests(m.run, seed, AE_SOURCES if m.label == "AE" else SOURCES)
         for m in models}
scores = {m.label: {**m.stats, **generation_scores(tests[m.label])} for m in models}
if {"AE", "VAE"} <= scores.keys():
    st.markdown(generation_caption(scores["AE"], scores["VAE"], gettext=_))
if "AE" in tests:
    vae = next((m for m in models if m.label == "VAE"), None)
    st.markdown(mixture_caption(tests["AE"][MIXTURE], tests["AE"]["fitted"],
                                tests["VAE"]["prior"] if vae else None,
                                bool(vae and vae.stats["collapsed"]), gettext=_))

plane = plane_picker("generate", [m.latent_dim for m in models])
lang = current_language()
shown = slice(0, MAP_DRAWS)  # all 1,000 would hide the codes under them


def draws_map(panel, test):
    """Where the draws land among the codes the gap test measures (the VAE's z ~ q(z|x), not its
    μ): map and numbers agree."""
    draws_xy = panel.to_plane(test.z[shown])
    codes_panel = panel.with_codes(panel.codes.sampled)
    fig = codes_panel.scatter(codes_panel.own_range(draws_xy),
                              title=_("{model}: where {shown} of the {n} draws land",
                                      model=panel.codes.label, shown=MAP_DRAWS, n=test.n),
                              height=460, marker_size=4, opacity=0.6)
    return figures.add_draws(fig, draws_xy, test.in_gap[shown], gettext=_)


for col, panel in zip(st.columns(len(models)), latent_panels(models, plane)):
    m = panel.codes
    source = ae_source if m.label == "AE" else "prior"
    test = tests[m.label][source]
    names = m.data.class_names
    # Figures depend on the run, the seed, the source, the plane and the language only.
    view = (run_key(m.run), seed, source, str(plane), lang)
    with col:
        st.plotly_chart(shared_figure(("generate_tiles", *view), lambda: image_figures.judged_tiles(
            decode_images(m.run.model, test.z[:N_TILES]), 8,
            _("{model}: {shown} of {n} draws from {source}", model=m.label, shown=N_TILES, n=test.n,
              source=source_name(source)),
            test.label, test.confidence, names, CONFIDENT, gettext=_).update_layout(height=520)),
            key=f"generate_tiles_{m.label.lower()}", config={"displayModeBar": False})
        st.plotly_chart(shared_figure(("generate_map", *view), lambda: draws_map(panel, test)),
                        key=f"generate_map_{m.label.lower()}", config=plot_config(f"generate_map_{m.label.lower()}"))
        st.caption(_("{in_gap} of {n} draws ({share:.0%}) are in a gap: farther from every test "
                     "code than 95% of the codes are from their nearest neighbour (radius "
                     "{radius:.2g}, measured in all {dims} latent dims). Draws from the codes' own "
                     "spread land there about 5% of the time.", in_gap=int(test.in_gap.sum()),
                     n=test.n, share=test.gap_share, radius=test.gap_radius, dims=m.latent_dim)
                   + ("" if m.logvar is None else " " + _(
                       "The coloured points are the codes this test measures against: one "
                       "z ~ q(z|x) per test image, the codes the decoder was trained on (not μ).")))

series = {_("{model}, {source}", model=m.label, source=source_name(s)): tests[m.label][s]
          for m in models for s in (AE_SOURCES if m.label == "AE" else ("prior",))}
st.plotly_chart(shared_figure(
    ("generate_histogram", tuple(run_key(m.run) for m in models), seed, lang),
    lambda: image_figures.class_histogram(
        {name: t.class_counts for name, t in series.items()},
        {name: int((~t.confident).sum()) for name, t in series.items()}, models[0].data.class_names,
        title=_("Classes of the decoded draws (judged with confidence ≥ {confident:g}; 1,000 draws "
                "each)", confident=CONFIDENT), gettext=_).update_layout(height=360)),
    key="generate_histogram", config=plot_config("generate_histogram"))
MODEL, DRAWS_FROM, COVERED = _("model"), _("draws from"), _("classes covered")
CONFIDENT_RAW, CONFIDENT_CAPPED = _("judged confidently"), _("confident, capped per class")
ENTROPY, IN_GAPS = _("class entropy (nats)"), _("in gaps")
# st.table wraps its headers (a data grid cut the Korean "빈틈 비율" and the % signs).
st.table(pd.DataFrame([{
    MODEL: label, DRAWS_FROM: source_name(s), COVERED: t.classes_covered,
    CONFIDENT_RAW: percent_text(t.confident_raw), CONFIDENT_CAPPED: percent_text(t.confident_capped),
    ENTROPY: number_text(t.class_entropy), IN_GAPS: percent_text(t.gap_share)}
    for label, by_source in tests.items() for s, t in by_source.items()]), hide_index=True)
st.caption(_("These are the numbers of `python -m vae_core evaluate --json` (keys prior_…, "
             "fitted_…, box_…) at seed 0; the mixture's row is computed on this page only. A "
             "class counts as covered when a fifth of its fair share (1/K) of the draws are judged "
             "confidently as it; the capped share counts each class at most up to its share of the "
             "data."))

st.subheader(_("Interpolation between two test images"))
data = models[0].data
by = st.radio(_("Choose the images by"), [BY_CLASS, BY_INDEX], horizontal=True,
              format_func=translated_options("interp_by", [BY_CLASS, BY_INDEX], translate),
              key="interp_by", bind=BIND)
by_class = by == BY_CLASS
c1, c2, c3 = st.columns(3)
with c1:
    i0 = pick_test_image("interp_from", data, _("From"), by_class=by_class, default_class=0)
with c2:
    i1 = pick_test_image("interp_to", data, _("To"), by_class=by_class, default_class=1)
frames = c3.slider(_("Frames"), 3, 16, 10, key="interp_frames", bind=BIND)
plane = plane_picker("interp", [m.latent_dim for m in models])
panels = latent_panels(models, plane, one_d_notice=False)  # explained above
judge = get_judge(data.name)
path_notes = []
for col, panel in zip(st.columns(len(panels)), panels):
    m = panel.codes
    a, b = min(i0, len(m.mu) - 1), min(i1, len(m.mu) - 1)  # a run on another data set: same positions
    path = interpolate(m.mu[a], m.mu[b], frames)  # (frames, D)
    confidence, label, _k = judge_codes(m.run.model, judge, path)
    names = m.data.class_names
    path_notes.append(interpolation_caption(
        m.label, [names[c] for c in label], confidence, names[int(m.data.test_y[a])],
        names[int(m.data.test_y[b])], CONFIDENT, collapsed=bool(m.stats["collapsed"]), gettext=_))
    with col:
        show_images(decode_images(m.run.model, path), frames,
                    caption=_("{model}: test #{start} → test #{end}, {frames} equally spaced codes",
                              model=m.label, start=a, end=b, frames=frames))
        st.plotly_chart(shared_figure(
            ("interp_path", run_key(m.run), str(plane), a, b, frames, lang),
            lambda: figures.add_path(panel.scatter(title=_("{model}: the straight path", model=m.label),
                                                   height=380, marker_size=3, opacity=0.4,
                                                   show_legend=False),
                                     panel.to_plane(path), gettext=_)),
            key=f"interp_scatter_{m.label.lower()}", config=plot_config(f"interp_scatter_{m.label.lower()}"))
path_note = _("Both paths are straight lines between the two images' codes (square → star). The "
              "judge classifier reads every frame; a frame it reads with p < {confident:g} counts "
              "as unsure (\"?\").", confident=CONFIDENT)
st.caption(" ".join([path_note, *path_notes]))

st.markdown(_("**By hand:** drag an end of either path (circle: start, cross: end); your browser "
              "decodes the frames as you drag, and the z under the mouse with both decoders."))
ends = [(p.codes.mu[min(i0, len(p.codes.mu) - 1)], p.codes.mu[min(i1, len(p.codes.mu) - 1)])
        for p in panels]
live_paths(panels, ends, frames, key="interp_live")
