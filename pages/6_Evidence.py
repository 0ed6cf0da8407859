"""Evidence: the numbers behind each AE-vs-VAE claim, the beta sweep, and the true posterior."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import navigation
from ui.captions import VIEW_LABELS, collapse_warning, verdict_label
from ui.export import plot_config
from ui.i18n import _, translate
from ui.links import BIND, md, translated_labels, translated_options
from ui.panels import upscale
from ui.pickers import pick_pair
from ui.resources import get_dataset, get_run, run_dataset, run_scorecard, usable_runs
from ui.scorecard import compare_rows
from ui.state import EVIDENCE_SECTION, EVIDENCE_SWEEP, SWEEP_SECTION, run_choice_key
from vae_core import RunError
from vae_core.viz.evidence_figures import posterior_figure, sweep_figure
from vae_core.jobs import DEFAULT_SWEEP_BETAS
from vae_core.analysis.posterior import DEFAULT_IWAE_K, grid_posterior, iwae_nll_per_image
from vae_core.analysis.sweep import SweepPoint, sweep_groups, sweep_point
from vae_core.text import N_

POSTERIOR_IWAE_K = 5000  # samples for one image's log p(x) beside the grid's exact sum
CODE_LABELS = {"z ~ q(z|x)": N_("z ~ q(z|x), one per test image"), "mu": N_("the posterior means μ")}

st.title(_("Evidence"))
st.caption(_("Each claim of the AE-vs-VAE story, measured on the test split. All numbers are per "
             "image and in nats where they are log-probabilities (summed over pixels, averaged over "
             "images)."))


@st.cache_data(show_spinner=_("Measuring the sweep…"), max_entries=32)
def cached_sweep(runs_key: tuple[tuple[str, float], ...], spec: str) -> list[SweepPoint]:
    points = []
    for path, _created in runs_key:
        run = get_run(path)
        points.append(sweep_point(run.name, run.model, run.train_config.beta,
                                  run.train_config.kl_warmup_epochs, get_dataset(spec)))
    return points


@st.cache_data(show_spinner=_("Evaluating p(x|z) p(z) on a 200×200 grid…"), max_entries=32)
def cached_posterior(path: str, created: float, spec: str, index: int):
    run = get_run(path)
    x = get_dataset(spec).test_x[index]
    gp = grid_posterior(run.model, x)
    nll, _recon = iwae_nll_per_image(run.model, x.unsqueeze(0), k=POSTERIOR_IWAE_K, seed=1)
    return gp, -float(nll[0])


def open_sweep_run() -> None:
    """The sweep run chosen below becomes the current VAE of every page."""
    st.session_state[run_choice_key("vae")] = st.session_state["evidence_sweep_run"]


# Section ids (the radio's values, also what ui.state and the Train page use) -> their labels.
# Bound to the URL, the radio keeps the label shown, so an English link reads as before.
SWEEP_LABEL = N_("{sweep} ({n} runs)")
SECTION_LABELS = {"Scorecard": N_("Scorecard"), SWEEP_SECTION: N_("β sweep"),
                  "True posterior": N_("True posterior")}
ae, vae = pick_pair("evidence")
# A radio, not st.tabs: tabs run every section's code on each rerun, and the posterior grid and
# sweep are too costly to compute for a section nobody is looking at.
section = st.radio(_("Section"), list(SECTION_LABELS), horizontal=True, key=EVIDENCE_SECTION,
                   format_func=translated_labels(EVIDENCE_SECTION, SECTION_LABELS),
                   label_visibility="collapsed", bind=BIND)

if section == "Scorecard":
    cards: dict[str, dict | None] = {"AE": None, "VAE": None}
    judge_accuracy = None
    for label, run in (("AE", ae), ("VAE", vae)):
        if run is None:
            continue
        if run_dataset(run) is None:
            continue
        try:
            cards[label] = run_scorecard(run)
        except ValueError as e:  # e.g. weights so large the codes overflow
            st.error(_("No scorecard: {detail}", detail=md(str(e))))
            continue
        judge_accuracy = cards[label]["classifier_accuracy"]
    if cards["AE"] is None and cards["VAE"] is None:
        st.info(_("Pick or train a run to see its scorecard."))
    else:
        if cards["AE"] is None or cards["VAE"] is None:
            st.warning(_("Only one kind of run is available: its numbers are shown without a "
                         "winner. Train an AE+VAE pair to compare."))
        warning = collapse_warning({**cards["VAE"], "beta": vae.train_config.beta}, _) \
            if cards["VAE"] is not None else None
        if warning:
            st.warning(warning, icon=":material/warning:")
        rows = compare_rows(cards["AE"], cards["VAE"])
        # st.table renders Markdown: the metric is the scorecard's JSON key, shown as code.
        # Each value with its 95% interval in one cell (as two more columns the table was wider
        # than the page at 1024 px).
        table = pd.DataFrame([{_("Claim"): r["claim"], _("Metric"): f"`{r['metric']}`",
                               "AE": " ".join(filter(None, (r["AE"] + (" ✓" if r["winner"] == "AE" else ""),
                                                           r["AE_interval"]))),
                               "VAE": " ".join(filter(None, (r["VAE"] + (" ✓" if r["winner"] == "VAE" else ""),
                                                            r["VAE_interval"]))),
                               _("Winner"): verdict_label(r["winner"], _),
                               _("Better"): r["better"]} for r in rows])
        # st.table wraps long cells; a data grid cut them off ("AE codes have an arb…"). What
        # each metric measures is listed below it: as a column, its sentences squeezed the
        # short columns until their words broke ("우\n세").
        st.table(table, hide_index=True)
        with st.expander(_("What each metric measures")):
            st.markdown("\n".join(f"- `{r['metric']}`: {r['meaning']}" for r in rows))
        some = cards["VAE"] or cards["AE"]
        view = VIEW_LABELS.get(some["view"], some["view"])
        st.caption(_("Test split: {n} images of {dataset}; 2-D view: {view}; the VAE's codes: {codes}. "
                     "IWAE with k = {k}. Each value is followed by its 95% bootstrap interval, [low, high] ({reps} resamples "
                     "of the test images, or of the 1,000 draws); when the AE's and the VAE's "
                     "intervals overlap the row is a tie: the difference is within the noise.",
                     n=some["n_images"], dataset=some["dataset"], view=_(view),
                     codes=_(CODE_LABELS.get((cards["VAE"] or {}).get("codes", ""), N_("z ~ q(z|x), one per test image"))),
                     k=DEFAULT_IWAE_K, reps=some.get("bootstrap", 0)))
        st.caption(_("The pixels are grey levels in [0, 1], not black and white, so the Bernoulli "
                     "\"log p(x)\", −log p(x|z) and ELBO here are cross-entropy scores, not "
                     "normalised log-likelihoods: no decoder can go below {floor:.1f} nats per "
                     "image on this test split (the pixels' own entropy). Compare them between "
                     "models of the same data, not with published likelihoods.",
                     floor=some.get("recon_floor", float("nan"))))
        if judge_accuracy is not None:
            st.metric(_("Judge classifier test accuracy"), f"{judge_accuracy:.1%}",
                      help=_("A small MLP trained on the same data set (cached beside the runs) "
                             "labels decoded prior samples for `prior_confident` and "
                             "`prior_class_entropy`."))
        if cards["VAE"] is not None and cards["VAE"]["kl_per_dim"] is not None:
            st.caption(_("VAE KL per latent dim (nats): {values} — active units: {active}",
                         values=", ".join(f"{v:.2f}" for v in cards["VAE"]["kl_per_dim"]),
                         active=cards["VAE"]["active_units"]))
        with st.expander(_("All scorecard numbers (the JSON of `python -m vae_core evaluate`)")):
            st.json({k: v for k, v in cards.items() if v is not None}, expanded=False)

elif section == SWEEP_SECTION:
    groups = sweep_groups(usable_runs())
    if not groups:
        st.info(_("No β sweep yet. Run one from the Train page or the command line: "
                  "`python -m vae_core sweep --betas {betas}`.",
                  betas=",".join(f"{b:g}" for b in DEFAULT_SWEEP_BETAS)))
    else:
        if st.session_state.get(EVIDENCE_SWEEP) not in groups:
            st.session_state.pop(EVIDENCE_SWEEP, None)  # a sweep deleted since it was chosen
        sweep_id = st.selectbox(_("Sweep"), list(groups), key=EVIDENCE_SWEEP, bind=BIND,
                                format_func=translated_options(
                                    EVIDENCE_SWEEP, list(groups), lambda g, lang: translate(
                                        SWEEP_LABEL, lang, sweep=g, n=len(groups[g]))))
        members = groups[sweep_id]
        st.caption(_("One VAE per β, the same data, network and seed otherwise. Left: each run's "
                     "rate (KL, what the codes say about the image) against its distortion (recon, "
                     "what the decoder still gets wrong), per test image; dotted lines have equal "
                     "recon + KL. A larger β buys a smaller rate with more distortion, down to "
                     "collapse at rate 0. Right: how many latent dims each run still uses. Click a "
                     "point to pick that run below."))
        if run_dataset(get_run(members[0])) is not None:
            points = cached_sweep(tuple((str(r.path), r.created) for r in members), members[0].dataset)
            event = st.plotly_chart(sweep_figure(points, gettext=_).update_layout(height=420),
                                    key="evidence_sweep_chart",
                                    on_select="rerun", selection_mode="points",
                                    width="stretch", config=plot_config("evidence_sweep_chart"))
            selected = [p.get("customdata") for p in (event.selection.points if event else [])
                        if isinstance(p.get("customdata"), str)] if event else []
            by_name = {r.name: r for r in members}
            if selected and selected[0] in by_name:
                st.session_state["evidence_sweep_run"] = selected[0]
            collapsed = [p for p in points if p.collapsed]
            if collapsed:
                st.error(_("Posterior collapse (no active unit; the decoder ignores z) at β = {betas}",
                           betas=", ".join(f"{p.beta:g}" for p in collapsed)),
                         icon=":material/warning:")
            st.dataframe(pd.DataFrame([{_("run"): p.name, "β": p.beta,
                                        _("rate (KL)"): round(p.rate, 3),
                                        _("distortion (recon)"): round(p.distortion, 3),
                                        _("recon + KL"): round(p.rate + p.distortion, 3),
                                        _("active units"): p.active_units,
                                        _("KL warm-up epochs"): p.kl_warmup_epochs} for p in points]),
                         hide_index=True, width="stretch")
            c1, c2 = st.columns([3, 1])
            with c1:
                name = st.selectbox(_("Run to open (or click a point)"), list(by_name),
                                    key="evidence_sweep_run", bind=BIND)
            with c2:
                st.write("")
                # In a callback: the VAE picker above is drawn already when the button is seen.
                if st.button(_("Open its latent plot"), key="evidence_open_latent",
                             on_click=open_sweep_run):
                    navigation.go(navigation.LATENT_SPACE)

else:  # True posterior
    if vae is None:
        st.info(_("The true posterior view needs a VAE run."))
    elif vae.model_config.latent_dim != 2:
        st.info(_("The true posterior on a grid needs latent size 2; this VAE has {latent_dim}. "
                  "Pick or train a latent-2 VAE.", latent_dim=vae.model_config.latent_dim))
    else:
        ds = run_dataset(vae)
        if ds is not None:
            index = int(st.number_input(_("Test image"), 0, len(ds.test_x) - 1, 0, key="evidence_image",
                                        bind=BIND))
            try:
                gp, iwae_lp = cached_posterior(str(vae.path), vae.created, vae.dataset, index)
            except (RunError, ValueError) as e:
                st.error(_("The posterior of this image cannot be computed: {detail}", detail=md(str(e))))
            else:
                c1, c2 = st.columns([3, 1])
                with c1:
                    st.plotly_chart(posterior_figure(gp.zs1, gp.zs2, gp.post, gp.mu, gp.sigma, gettext=_)
                                    .update_layout(height=460),
                                    key="evidence_posterior", width="stretch", config=plot_config("evidence_posterior"))
                with c2:
                    st.image(upscale(ds.test_x[index, 0].numpy(), min_width=128), clamp=True,
                             caption=_("test image {index} (label {label})", index=index,
                                       label=ds.class_names[int(ds.test_y[index])]))
                    gap = gp.gap if abs(gp.gap) >= 5e-4 else 0.0  # no "-0.000"
                    st.metric(_("Bernoulli log p(x), grid"), _("{value:.3f} nats", value=gp.log_px))
                    st.metric("ELBO", _("{value:.3f} nats", value=gp.elbo))
                    st.metric(_("gap = KL(q ‖ p(z|x))"), _("{value:.3f} nats", value=gap))
                    st.caption(_("IWAE (k = {k}) log p(x): {value:.3f} nats. The grid sums "
                                 "p(x|z) p(z) over 200×200 cells; q(z|x)'s 1σ and 2σ ellipses are "
                                 "drawn in white. The closer q hugs the heatmap, the smaller the gap. "
                                 "\"log p(x)\" is the Bernoulli decoder's score of grey-level "
                                 "pixels, not a normalised likelihood; the gap is exact all the same.",
                                 k=POSTERIOR_IWAE_K, value=iwae_lp))
