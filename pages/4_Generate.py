"""Generate & interpolate: decode judged draws from the prior (and, for the AE, from its own codes' Gaussian
and box), and walk straight between two codes."""
import pandas as pd
import streamlit as st

from ui.captions import generation_caption
from ui.export import plot_config
from ui.links import BIND
from ui.panels import latent_panels, pair_notes, pick_encoded_models, show_images
from ui.pickers import pick_test_image, plane_picker
from ui.resources import run_generation_tests
from vae_core import figures
from vae_core.generation import CONFIDENT, SOURCES, generation_scores
from vae_core.latent_tools import decode_images, interpolate

N_TILES = 64
MAP_DRAWS = 250
SOURCE_NAMES = {"prior": "N(0, I)", "fitted": "a Gaussian fitted to its codes",
                "box": "uniform over its codes' bounding box"}

st.title("Generate & interpolate")

models = pick_encoded_models("generate")
pair_notes(models)

st.subheader("New images: where do the draws land, and what do they decode to?")
st.caption("Each model gets 1,000 random codes; each is decoded and shown to a judge classifier "
           f"trained on the same data set (its top class probability is the tile's number; red "
           f"below {CONFIDENT:g}). The VAE samples its prior N(0, I), as it was trained to. The AE has "
           "no prior: beside N(0, I) it can also sample a Gaussian fitted to its own codes (the best "
           "a user could do without one) or the box around its codes.")
c1, c2 = st.columns([3, 1])
ae_source = c1.radio("The AE's draws come from", SOURCES, format_func=SOURCE_NAMES.get,
                     horizontal=True, key="generate_source", bind=BIND)
seed = int(c2.number_input("Seed (0: the scorecard's draws)", 0, 1_000_000, 0, key="generate_seed", bind=BIND))
tests = {m.label: run_generation_tests(m.run, seed) for m in models}
scores = {m.label: {**m.stats, **generation_scores(tests[m.label])} for m in models}
if {"AE", "VAE"} <= scores.keys():
    st.markdown(generation_caption(scores["AE"], scores["VAE"]))

plane = plane_picker("generate", [m.latent_dim for m in models])
for col, panel in zip(st.columns(len(models)), latent_panels(models, plane)):
    m = panel.codes
    source = ae_source if m.label == "AE" else "prior"
    test = tests[m.label][source]
    names = m.data.class_names
    with col:
        st.plotly_chart(figures.judged_tiles(
            decode_images(m.run.model, test.z[:N_TILES]), 8,
            f"{m.label}: {N_TILES} of {test.n} draws from {SOURCE_NAMES[source]}",
            test.label, test.confidence, names, CONFIDENT).update_layout(height=520),
            key=f"generate_tiles_{m.label.lower()}", config={"displayModeBar": False})
        shown = slice(0, MAP_DRAWS)  # all 1,000 would hide the codes under them
        draws_xy = panel.to_plane(test.z[shown])
        fig = panel.scatter(panel.own_range(draws_xy),
                            title=f"{m.label}: where {MAP_DRAWS} of the {test.n} draws land",
                            height=460, marker_size=4, opacity=0.6)
        st.plotly_chart(figures.add_draws(fig, draws_xy, test.in_gap[shown]),
                        key=f"generate_map_{m.label.lower()}", config=plot_config(f"generate_map_{m.label.lower()}"))
        st.caption(f"{test.in_gap.sum()} of {test.n} draws ({test.gap_share:.0%}) are in a gap: "
                   f"farther from every test code than 95% of the codes are from their nearest "
                   f"neighbour (radius {test.gap_radius:.2g}, measured in all "
                   f"{m.latent_dim} latent dims). Draws from the codes' own spread land there "
                   "about 5% of the time.")

series = {f"{m.label}, {SOURCE_NAMES[s]}": tests[m.label][s] for m in models
          for s in (SOURCES if m.label == "AE" else ("prior",))}
st.plotly_chart(figures.class_histogram(
    {name: t.class_counts for name, t in series.items()},
    {name: int((~t.confident).sum()) for name, t in series.items()}, models[0].data.class_names,
    title="Classes of the decoded draws (judged with confidence ≥ "
          f"{CONFIDENT:g}; 1,000 draws each)").update_layout(height=360), key="generate_histogram", config=plot_config("generate_histogram"))
st.dataframe(pd.DataFrame([{
    "model": label, "draws from": SOURCE_NAMES[s], "classes covered": t.classes_covered,
    "judged confidently": t.confident_raw, "confident, capped per class": t.confident_capped,
    "class entropy (nats)": t.class_entropy, "in gaps": t.gap_share}
    for label, by_source in tests.items() for s, t in by_source.items()]),
    hide_index=True, key="generate_numbers", column_config={
        "judged confidently": st.column_config.NumberColumn(format="percent"),
        "confident, capped per class": st.column_config.NumberColumn(format="percent"),
        "class entropy (nats)": st.column_config.NumberColumn(format="%.3f"),
        "in gaps": st.column_config.NumberColumn(format="percent")})
st.caption("These are the numbers of `python -m vae_core evaluate --json` (keys prior_…, fitted_…, "
           "box_…) at seed 0. A class counts as covered when a fifth of its fair share (1/K) of the "
           "draws are judged confidently as it; the capped share counts each class at most up to its share of the data.")

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
panels = latent_panels(models, plane, one_d_notice=False)  # explained above
for col, panel in zip(st.columns(len(panels)), panels):
    m = panel.codes
    a, b = min(i0, len(m.mu) - 1), min(i1, len(m.mu) - 1)  # a run on another data set: same positions
    path = interpolate(m.mu[a], m.mu[b], frames)  # (frames, D)
    with col:
        show_images(decode_images(m.run.model, path), frames,
                    caption=f"{m.label}: test #{a} → test #{b}, {frames} equally spaced codes")
        fig = panel.scatter(title=f"{m.label}: the straight path", height=380,
                            marker_size=3, opacity=0.4, show_legend=False)
        st.plotly_chart(figures.add_path(fig, panel.to_plane(path)), key=f"interp_scatter_{m.label.lower()}", config=plot_config(f"interp_scatter_{m.label.lower()}"))
path_note = ("Both paths are straight lines between the two images' codes (square → star). The "
             "AE's path can cross empty gaps, where the frames blur or jump to an unrelated shape.")
if any(m.label == "VAE" and m.stats["collapsed"] for m in models):
    path_note += (" The collapsed VAE draws the same average image at every frame: its decoder "
                  "ignores z.")
else:
    path_note += " The VAE's path stays inside the filled part of its space, so the frames morph smoothly."
st.caption(path_note)
