"""Overview: the AE-vs-VAE story in a few lines, a one-click pair, and where each claim is shown."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ui import navigation
from ui.access import session_owner
from ui.captions import prior_draws_note, span_text, verdict_label
from ui.i18n import _
from ui.panels import encoded_models, latent_panels
from ui.pickers import default_pair
from ui.resources import checkpoints_root, get_dataset, get_pool, get_run, run_scorecard, usable_runs
from ui.scorecard import compare_rows
from ui.training import show_job_progress
from vae_core import DatasetError, Run, RunError, unique_run_name
from vae_core.figures import overview_schematic
from vae_core.jobs import QUICK_PAIR_EPOCHS, QUICK_PAIR_HIDDEN, EngineError, quick_pair_specs
from vae_core.metrics import CLAIMS
from vae_core.text import N_

JOB_KEY = "overview_job"
MINI_HEIGHT = 300
# The scorecard's "view" key as the caption names it.
VIEW_NAMES = {"latent": N_("the latent space itself"), "pca": N_("the codes' top-2 PCA plane"),
              "dims 0,1": N_("latent dims 0 and 1")}
LIVE_SCORECARD_MAX = 2000  # test images: the scorecard of a digits pair takes < 1 s, computed on view


def newest_pair() -> tuple[Run | None, Run | None]:
    """The newest usable AE and VAE (one group if possible), loaded; unloadable ones are None."""
    loaded = []
    for info in default_pair(usable_runs()):
        try:
            loaded.append(get_run(info) if info is not None else None)
        except RunError:
            loaded.append(None)
    return loaded[0], loaded[1]


def newest_pair_figures() -> dict[str, go.Figure]:
    """Small latent scatters ("AE", "VAE") of the newest usable pair, each at its own scale.

    Missing or unloadable runs are simply absent: the caller draws a schematic instead.
    """
    models = encoded_models(*newest_pair())
    if not models:
        return {}
    return {p.codes.label: p.scatter(title=_("{kind}: {run} (codes span {span})", kind=p.codes.label,
                                             run=p.codes.run.name,
                                             span=span_text(p.codes.stats["code_span"])),
                                     height=MINI_HEIGHT, marker_size=3, show_legend=False)
            for p in latent_panels(models, (0, 1))}


st.title(_("VAE Lab: why a VAE is more than an AutoEncoder"))
st.markdown(_(
    "Both models squeeze an image **x** through a small code **z** and decode it back, with the "
    "same encoder and decoder networks. The one difference is the bottleneck, and it decides "
    "whether you can **generate** new images by picking a z."))

figs = newest_pair_figures()
ae_col, vae_col = st.columns(2, gap="large")
with ae_col:
    st.subheader(_("AutoEncoder (AE)"))
    st.markdown(_(
        "The encoder maps each input to **one point** z. The loss only asks that x can be rebuilt "
        "from z, so nothing shapes the latent space: codes land wherever training left them, at "
        "any scale, with empty gaps between. Decode a z from a gap and you get junk."))
    st.latex(r"z = \mathrm{enc}(x), \qquad \mathcal{L}_{\mathrm{AE}} = -\log p(x \mid z)")
    st.plotly_chart(figs["AE"] if "AE" in figs
                    else overview_schematic("ae", gettext=_).update_layout(height=MINI_HEIGHT),
                    key="overview_ae_fig", config={"displayModeBar": False})
with vae_col:
    st.subheader(_("Variational AutoEncoder (VAE)"))
    st.markdown(_(
        "The encoder maps each input to a **Gaussian** N(μ, σ²) and trains on a random sample "
        "from it. The KL term pulls every Gaussian towards the prior N(0, I), so the codes fill "
        "one round region with few holes, and most z drawn from N(0, I) decode to a plausible "
        "image: how many, for the newest pair, is measured below."))
    st.latex(r"q(z \mid x) = \mathcal{N}\big(\mu(x), \sigma(x)^2\big)")
    st.latex(r"z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)")
    st.latex(r"\mathcal{L}_{\mathrm{VAE}} = \underbrace{-\log p(x \mid z)}_{\text{recon}}"
             r" + \beta \, \mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, I)\big)")
    st.plotly_chart(figs["VAE"] if "VAE" in figs
                    else overview_schematic("vae", gettext=_).update_layout(height=MINI_HEIGHT),
                    key="overview_vae_fig", config={"displayModeBar": False})
st.caption(_("Losses are per image in nats: summed over pixels, averaged over the batch. The sample "
             "uses σ (not σ²) so that z has variance σ²; β = 1 is the plain VAE.") + " "
           + (_("Pictures: the test images' codes of the newest pair, over the prior's circles.")
              if figs else _("Pictures: schematic, until you train a pair.")))

# --- one click: a pair in about ten seconds ------------------------------------------------------
st.subheader(_("Try it"))


@st.fragment(run_every=0.5)
def quick_progress() -> None:
    # Redrawn twice a second from the job object; the training thread never calls st.*
    job = st.session_state[JOB_KEY]
    if not job.active:
        st.rerun()  # a full rerun shows the result (or moves to the Latent space page)
    show_job_progress(job)


def start_quick_pair() -> None:
    data = get_dataset("digits")
    name = unique_run_name("quick", checkpoints_root())
    try:
        st.session_state[JOB_KEY] = get_pool().submit(
            quick_pair_specs(name, data.image_shape), "digits", root=str(checkpoints_root()),
            group=name, owner=session_owner())
    except EngineError as e:
        st.session_state["overview_job_error"] = str(e)


job = st.session_state.get(JOB_KEY)
if "overview_job_error" in st.session_state:
    st.error(_("Training could not start: {detail}", detail=st.session_state.pop("overview_job_error")),
             icon=":material/error:")
if job is not None and job.active:
    quick_progress()
elif job is not None and job.state == "failed":
    st.error(_("Training failed: {error}", error=job.error))
    st.button(_("Try again"), key="overview_retry", on_click=st.session_state.pop, args=(JOB_KEY,))
elif job is not None:
    del st.session_state[JOB_KEY]  # done: leave for the pictures, once
    st.switch_page(navigation.LATENT_SPACE.file)
else:
    st.button(_("Train an AE+VAE pair on digits"), type="primary", key="overview_quick",
              icon=":material/play_arrow:", on_click=start_quick_pair)
    st.caption(_("Same seed, data and {hidden} MLP for both, latent size 2, β = 1, {epochs} epochs "
                 "on the 1,438 bundled 8×8 training digits: about 10 s on an idle 2-core CPU, longer "
                 "while others train. Then the Latent space page opens.",
                 hidden="-".join(map(str, QUICK_PAIR_HIDDEN)), epochs=QUICK_PAIR_EPOCHS))
if not figs:
    st.info(_("No trained runs yet: the pictures above are schematic. One click trains a real pair."),
            icon=":material/info:")

# --- claim -> metric -> page -----------------------------------------------------------------------
st.subheader(_("Claims, the number behind each, and where to see it"))
ae_run, vae_run = newest_pair()
cards: dict[str, dict | None] = {"AE": None, "VAE": None}
test_sizes: dict[str, int] = {}
for run in (ae_run, vae_run):
    try:
        if run is not None:
            test_sizes[run.name] = len(get_dataset(run.dataset).test_x)
    except DatasetError:
        pass  # the pictures above already said why
pair_runs = [(label, run) for label, run in (("AE", ae_run), ("VAE", vae_run))
             if run is not None and run.name in test_sizes]
if pair_runs:
    small = max(test_sizes.values()) <= LIVE_SCORECARD_MAX
    if small or st.session_state.get("overview_show_numbers"):
        for label, run in pair_runs:
            cards[label] = run_scorecard(run)
    else:  # a 10,000-image test split takes a while: compute only when asked
        st.button(_("Compute this pair's numbers (a few seconds)"), key="overview_numbers",
                  on_click=st.session_state.__setitem__, args=("overview_show_numbers", True))
rows = {r["metric"]: r for r in compare_rows(cards["AE"], cards["VAE"])} \
    if any(cards.values()) else {}
if rows:
    card = cards["VAE"] or cards["AE"]
    st.caption(_("Numbers: {runs} on their test split (the newest pair; pick another on Evidence). "
                 "2-D numbers in {view}; the VAE's codes are one z ~ q(z|x) per image. A verdict "
                 "is a tie when the two 95% intervals overlap.",
                 runs=", ".join(f"{label} {run.name}" for label, run in pair_runs),
                 view=_(VIEW_NAMES.get(card.get("view", ""), VIEW_NAMES["latent"]))))
widths = [5, 2, 1.3, 1.3, 1.6, 2] if rows else [6, 2, 2]
header = st.columns(widths, vertical_alignment="center")
titles = ((N_("Claim"), N_("Metric"), "AE", "VAE", N_("Verdict here"), N_("See it on")) if rows
          else (N_("Claim"), N_("Metric"), N_("See it on")))
for col, title in zip(header, titles):
    col.markdown(f"**{_(title)}**")
for c in CLAIMS:
    claim = c["claim"]  # marked N_ in vae_core.metrics
    cols = st.columns(widths, vertical_alignment="center")
    cols[0].markdown(_(claim))
    cols[1].code(c["metric"], language=None)
    if rows:
        row = rows[c["metric"]]
        cols[2].markdown(row["AE"])
        cols[3].markdown(row["VAE"])
        cols[4].markdown(verdict_label(row["winner"], _))
    with cols[-1]:
        navigation.link(navigation.CLAIM_PAGES[c["metric"]])
if cards["AE"] is not None and cards["VAE"] is not None:
    st.caption(prior_draws_note(cards["AE"], cards["VAE"], gettext=_))
navigation.link(navigation.EVIDENCE, _("All the numbers side by side: Evidence"))
