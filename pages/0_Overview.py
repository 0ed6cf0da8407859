"""Overview: the AE-vs-VAE story in a few lines, a one-click pair, and where each claim is shown."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import navigation
from ui.captions import VIEW_LABELS, prior_draws_note, span_text, verdict_label
from ui.i18n import _, current_language
from ui.links import md
from ui.panels import encoded_models, latent_panels, stored_scatter
from ui.pickers import current_pair
from ui.resources import (SharedFigure, checkpoints_root, get_dataset, get_run, run_version,
                          scorecard_when_ready, started_pool, stored_codes, training_seconds,
                          usable_runs)
from ui.state import make_current
from ui.training import show_job_progress, submit_job
from vae_core import DatasetError, RunError, RunInfo, unique_run_name
from vae_core.analysis.claims import CLAIMS
from vae_core.analysis.codes import code_span
from vae_core.analysis.outcomes import error_text, say
from vae_core.jobs import QUICK_PAIR_EPOCHS, QUICK_PAIR_HIDDEN, EngineError
from vae_core.jobs.plan import quick_pair_specs
from vae_core.viz.figures import overview_schematic

JOB_KEY = "overview_job"
MINI_HEIGHT = 300
LIVE_SCORECARD_MAX = 2000  # test images: the scorecard of a digits pair takes < 1 s, computed on view


def pair_figures(ae: RunInfo | None, vae: RunInfo | None) -> dict[str, go.Figure]:
    """Small latent scatters ("AE", "VAE") of the current pair, each at its own scale: from the
    runs' stored test codes when both have them (no run loaded, no torch: a cold server's first
    view), else from their test sets encoded. Missing or unloadable runs are simply absent: the
    caller draws a schematic instead."""
    infos = [(label, info) for label, info in (("AE", ae), ("VAE", vae)) if info is not None]
    stored = {label: stored_codes(info) for label, info in infos if info.latent_dim >= 2}
    version = tuple((label, str(info.path), run_version(info)) for label, info in infos)
    if infos and all(stored.get(label) is not None for label, _info in infos):
        draw = {label: (info.name, code_span(stored[label].mu),
                        lambda title, info=info, codes=stored[label], **kw: stored_scatter(
                            info, codes, title, **kw)) for label, info in infos}
        return _pair_figures(version, current_language(), draw)
    loaded = []
    for _label, info in infos:
        try:
            loaded.append(get_run(info))
        except RunError:
            pass
    models = encoded_models(*[next((r for r in loaded if r.kind == kind), None)
                              for kind in ("ae", "vae")])
    if not models:
        return {}
    version = tuple((m.label, str(m.run.path), run_version(m.run)) for m in models)
    draw = {p.codes.label: (p.codes.run.name, p.codes.stats["code_span"], p.scatter)
            for p in latent_panels(models, (0, 1), one_d_notice=False)}
    return _pair_figures(version, current_language(), draw)


@st.cache_resource(show_spinner=False, max_entries=8)
def _pair_figures(version: tuple, lang: str, _draw: dict) -> dict[str, go.Figure]:
    # Built once per run file version and language and shared by every session (read-only: the
    # page only passes them to st.plotly_chart); ``_draw`` (label -> run name, code span, scatter
    # builder) is what ``version`` names.
    return {label: SharedFigure(scatter(
                title=_("{kind}: {run} (codes span {span})", kind=label, run=name, span=span_text(span)),
                height=MINI_HEIGHT, marker_size=3, show_legend=False))
            for label, (name, span, scatter) in _draw.items()}


def duration_text(ae: RunInfo | None, vae: RunInfo | None) -> str:
    """How long a pair takes, measured: this server's recent jobs (the engine's own clock), else
    the training time recorded in the runs of the pair shown above; nothing is promised without
    a measurement."""
    engine = started_pool()
    seconds = engine.recent_duration() if engine is not None else None
    if seconds is not None:
        return _("Recent jobs on this server took {seconds:.0f} s each from start to saved (longer "
                 "while the queue is full).", seconds=seconds)
    try:
        recorded = [training_seconds(info) for info in (ae, vae) if info is not None]
    except RunError:
        return ""
    if len(recorded) == 2 and all(s is not None for s in recorded):
        return _("The pair shown above took {seconds:.0f} s of training steps when it was made (AE and "
                 "VAE together); a job adds a few seconds to start and save, more while others train.",
                 seconds=sum(recorded))
    return ""


def test_size(info: RunInfo) -> int:
    """Images in the run's test split: counted in its stored codes, else its data set loaded;
    raises ``DatasetError``."""
    codes = stored_codes(info)
    return len(codes.labels) if codes is not None else len(get_dataset(info.dataset).test_x)


st.title(_("VAE Lab: why a VAE is more than an AutoEncoder"))
st.markdown(_(
    "Both models squeeze an image **x** through a small code **z** and decode it back, with the "
    "same encoder and decoder networks. The one difference is the bottleneck, and it decides "
    "whether you can **generate** new images by picking a z."))

ae_run, vae_run = current_pair(usable_runs())  # once per view: each call lists the runs folder
figs = pair_figures(ae_run, vae_run)
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
           + (_("Pictures: the test images' codes of the current pair (the newest, until you pick "
                "another on any page), over the prior's circles.")
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
        st.session_state[JOB_KEY] = submit_job(
            quick_pair_specs(name, data.image_shape), "digits", root=str(checkpoints_root()),
            group=name)
    except EngineError as e:
        st.session_state["overview_job_error"] = error_text(e, _)


job = st.session_state.get(JOB_KEY)
if "overview_job_error" in st.session_state:
    st.error(_("Training could not start: {detail}", detail=md(st.session_state.pop("overview_job_error"))),
             icon=":material/error:")
if job is not None and job.active:
    quick_progress()
elif job is not None and job.state == "failed":
    st.error(_("Training failed: {error}", error=md(say(job.error, _))))
    st.button(_("Try again"), key="overview_retry", on_click=st.session_state.pop, args=(JOB_KEY,))
elif job is not None:
    del st.session_state[JOB_KEY]  # done: leave for the pictures, once
    make_current(st.session_state, job)
    navigation.go(navigation.LATENT_SPACE)
else:
    st.button(_("Train an AE+VAE pair on digits"), type="primary", key="overview_quick",
              icon=":material/play_arrow:", on_click=start_quick_pair)
    st.caption(_("Same seed, data and {hidden} MLP for both, latent size 2, β = 1, {epochs} epochs "
                 "on the 1,438 bundled 8×8 training digits. {duration} Then the Latent space page opens. "
                 "These are the settings of the shipped demo pair, so the new pair looks just like it: "
                 "the point is that it trains in seconds, here. For another picture, change the seed "
                 "on the Train page.",
                 hidden="-".join(map(str, QUICK_PAIR_HIDDEN)), epochs=QUICK_PAIR_EPOCHS,
                 duration=duration_text(ae_run, vae_run)))
if not figs:
    st.info(_("No trained runs yet: the pictures above are schematic. One click trains a real pair."),
            icon=":material/info:")

@st.fragment(run_every=0.5)
def numbers_pending(ae: RunInfo | None, vae: RunInfo | None) -> None:
    # Looks twice a second whether the pair's scorecards are in; then the whole page redraws.
    st.caption(_("Computing this pair's numbers…"))
    if all(scorecard_when_ready(run) is not None for run in (ae, vae) if run is not None):
        st.rerun()


# --- claim -> metric -> page -----------------------------------------------------------------------
st.subheader(_("Claims, the number behind each, and where to see it"))
cards: dict[str, dict | None] = {"AE": None, "VAE": None}
test_sizes: dict[str, int] = {}
for run in (ae_run, vae_run):
    try:
        if run is not None:
            test_sizes[run.name] = test_size(run)
    except DatasetError:
        pass  # the pictures above already said why
pair_runs = [(label, run) for label, run in (("AE", ae_run), ("VAE", vae_run))
             if run is not None and run.name in test_sizes]
if pair_runs:
    small = max(test_sizes.values()) <= LIVE_SCORECARD_MAX
    if small or st.session_state.get("overview_show_numbers"):
        for label, run in pair_runs:  # computed off the page's path: the pictures come first
            cards[label] = scorecard_when_ready(run)
        if not all(cards[label] for label, _run in pair_runs):
            cards = {"AE": None, "VAE": None}
            numbers_pending(ae_run, vae_run)
    else:  # a 10,000-image test split costs seconds of server CPU: compute only when asked
        st.button(_("Compute this pair's numbers"), key="overview_numbers",
                  on_click=st.session_state.__setitem__, args=("overview_show_numbers", True))
if any(cards.values()):
    from ui.scorecard import compare_rows  # the scorecard's rules need torch: here once they exist

    rows = {r["metric"]: r for r in compare_rows(cards["AE"], cards["VAE"])}
else:
    rows = {}
if rows:
    card = cards["VAE"] or cards["AE"]
    st.caption(_("Numbers: {runs} on their test split (the current pair; pick another on any page). "
                 "2-D numbers in {view}; the VAE's codes are one z ~ q(z|x) per image. A verdict "
                 "is a tie when the two 95% intervals overlap.",
                 runs=", ".join(f"{label} {run.name}" for label, run in pair_runs),
                 view=_(VIEW_LABELS.get(card.get("view", ""), VIEW_LABELS["latent"]))))
# st.table wraps long cells (columns of widgets cut the metric keys and page names); the metric is
# the scorecard's JSON key, shown as code; the pages are linked below, in the claims' order.
# Each claim names its page in its own cell: as a column of their own, the long page titles
# broke mid-word at 1024 px.
CLAIM, METRIC, VERDICT = _("Claim (and where to see it)"), _("Metric"), _("Verdict here")
st.table(pd.DataFrame([{CLAIM: _("{claim} → *{page}*", claim=_(c["claim"]),  # claims marked N_
                                 page=_(navigation.CLAIM_PAGES[c["metric"]].title)),
                        METRIC: f"`{c['metric']}`",
                        **({"AE": rows[c["metric"]]["AE"], "VAE": rows[c["metric"]]["VAE"],
                            VERDICT: verdict_label(rows[c["metric"]]["winner"], _)} if rows else {})}
                       for c in CLAIMS]), hide_index=True)
claim_pages = list(dict.fromkeys(navigation.CLAIM_PAGES[c["metric"]] for c in CLAIMS))
for i in range(0, len(claim_pages), 2):  # two a row: each title fits at 1024 px
    for col, page in zip(st.columns(2), claim_pages[i:i + 2]):
        with col:
            navigation.link(page)
if cards["AE"] is not None and cards["VAE"] is not None:
    st.caption(prior_draws_note(cards["AE"], cards["VAE"], gettext=_))
navigation.link(navigation.EVIDENCE, _("All the numbers side by side: Evidence"))
