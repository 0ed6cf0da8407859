"""Caption builders: the teaching sentences of each page, written from the numbers of the pair shown.

Pure Python (no Streamlit), numbers in, sentences out, so a claim on screen always matches the runs
on screen, and a claim that does not hold for them is said not to hold, with the reason. Inputs are
plain mappings with the scorecard's key names (``vae_core.analysis.scorecard.scorecard``); the cheap
per-view subset comes from ``vae_core.analysis.scorecard.code_stats`` and the generation keys from
``vae_core.analysis.generation.GenerationTest.summary`` (or ``generation_scores``):

- code stats: ``code_span``, ``centring``, ``scale_error`` (of the VAE's sampled codes),
  ``centring_mu``, ``scale_error_mu``, ``collapsed``, ``active_units``, ``latent_dim``, ``kl``,
  and ``beta`` (the run's training β, added by the page: the collapse advice depends on it);
- generation: ``{prior,fitted,box}_classes_covered``, ``…_confident_raw``, ``…_in_gaps``,
  ``…_class_counts`` (K = its length).

A missing key makes the sentence that needs it drop out rather than guess. Every builder takes
``gettext`` (a page passes ``ui.i18n._``): each sentence is one catalog message with named
placeholders, so a translation keeps the whole claim, its numbers and its hedges together.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from vae_core.analysis.codes import GAP_QUANTILE, RADIUS
from vae_core.analysis.thresholds import CONFIDENT, GENERATION_SAMPLES
from vae_core.text import N_, Translate, no_translation

# The scorecard's 2-D view ("view" key of scorecard.scorecard) as a caption names it.
VIEW_LABELS = {"latent": N_("the latent space itself"), "pca": N_("the codes' top-2 PCA plane"),
               "dims 0,1": N_("latent dims 0 and 1")}

Stats = Mapping[str, Any]

PRIOR_BOX = RADIUS  # the prior's 2-sigma box is [-2, 2] per dim
CENTRED = 0.5  # codes' mean within a quarter of the 2-sigma radius: "centred"
UNIT_SCALE = 0.25  # mean |std_d - 1| below this: "unit spread"
FEW_CLASSES = 0.7  # covering fewer than 70% of the classes is "few"
CRISP = 0.5  # at least half the draws judged confidently: they "look fine"
GAP_BASELINE = 1 - GAP_QUANTILE  # share of draws "in a gap" expected of a space without gaps


def collapse_cure(vae: Stats, gettext: Translate = no_translation) -> str:
    """What helps a collapsed VAE, as the last sentence of the captions that meet one: it depends
    on its β (the optional ``beta`` key; ``vae_core.analysis.collapse.collapse_advice``)."""
    from vae_core.analysis.collapse import collapse_advice

    beta = vae.get("beta")
    template, values = collapse_advice(float(beta) if isinstance(beta, (int, float)) else None)
    return gettext(template).format(**values)


def span_text(span: float) -> str:
    """'±19' / '±2.6': whole numbers from 10 up, one decimal below."""
    return f"±{span:.0f}" if span >= 10 else f"±{span:.1f}"


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _n_classes(stats: Stats) -> int | None:
    for source in ("prior", "fitted", "box"):
        counts = stats.get(f"{source}_class_counts")
        if counts:
            return len(counts)
    return None


def collapse_warning(vae: Stats, gettext: Translate = no_translation) -> str | None:
    """A warning for a collapsed VAE (None when it is not collapsed, or for an AE)."""
    if not vae.get("collapsed"):
        return None
    active, dims, kl = vae.get("active_units"), vae.get("latent_dim"), vae.get("kl")
    has_units, has_kl = active is not None and bool(dims), kl is not None
    if has_units and has_kl:
        first = gettext("This VAE's posterior collapsed: {active} of {dims} latent dims carry "
                        "information (test KL {kl:.2g} nats per image).").format(
                            active=active, dims=dims, kl=kl)
    elif has_units:
        first = gettext("This VAE's posterior collapsed: {active} of {dims} latent dims carry "
                        "information.").format(active=active, dims=dims)
    elif has_kl:
        first = gettext("This VAE's posterior collapsed (test KL {kl:.2g} nats per "
                        "image).").format(kl=kl)
    else:
        first = gettext("This VAE's posterior collapsed.")
    return " ".join([
        first,
        gettext("Its encoder maps every image to the prior's centre and its decoder ignores z, so "
                "it draws one average image everywhere. Its centred, unit-prior, smooth numbers "
                "come from collapse, not from a well-shaped latent space."),
        collapse_cure(vae, gettext)])


def latent_space_caption(ae: Stats, vae: Stats, gettext: Translate = no_translation) -> str:
    """Where the two code clouds sit and how far the 'KL packs the codes around 0' claim holds."""
    out: list[str] = []
    if "code_span" in ae and "code_span" in vae:
        out.append(gettext("Here the AE's codes span {ae_span}, the VAE's {vae_span} (the prior's "
                           "2σ box is ±2).").format(ae_span=span_text(ae["code_span"]),
                                                    vae_span=span_text(vae["code_span"])))
    if vae.get("collapsed"):
        out.append(gettext("The KL term has not packed the VAE's classes side by side around 0 "
                           "here: the posterior collapsed, so every code sits on the centre "
                           "whatever the image, and the classes are not separated at all."))
        out.append(collapse_cure(vae, gettext))
        return " ".join(out)
    if "centring" in vae and "scale_error" in vae:
        out.append(gettext("The KL term pulls the VAE's codes towards N(0, I): drawn as the decoder "
                           "sees them (one z ~ q(z|x) per test image), their mean is {centring:.2f} "
                           "from 0 and their spread is off unit by {scale_error:.2f} on "
                           "average.").format(centring=vae["centring"],
                                                 scale_error=vae["scale_error"]))
    if "centring" in ae:
        if ae["centring"] < CENTRED:
            out.append(gettext("This AE happens to be centred too (its mean is {centring:.2f} from "
                               "0): nothing in its loss asks for that, and another seed can put its "
                               "codes anywhere.").format(centring=ae["centring"]))
        else:
            out.append(gettext("Nothing pulls the AE's codes: their mean sits {centring:.1f} from "
                               "0.").format(centring=ae["centring"]))
    if "scale_error" in ae and ae["scale_error"] < UNIT_SCALE:
        out.append(gettext("The AE's spread also happens to be close to unit here; its loss does "
                           "not ask for that either."))
    active, dims = vae.get("active_units"), vae.get("latent_dim")
    if active is not None and dims and active < dims:
        out.append(gettext("Only {active} of the VAE's {dims} latent dims are active; the others "
                           "stay at the prior and the decoder ignores them.").format(
                               active=active, dims=dims))
    return " ".join(out)


def scale_note(ae_span: float, vae_span: float, shared_axes: bool, vae_collapsed: bool = False,
               gettext: Translate = no_translation) -> str:
    """How to read AE and VAE panels side by side: the ratio of their spans (none for a
    collapsed VAE, whose codes all sit on the centre)."""
    if vae_collapsed:
        return gettext("The AE's codes span {ae_span}; the collapsed VAE's all sit on the centre, "
                       "so its panel shows the prior's circles around one dot.").format(
                           ae_span=span_text(ae_span))
    if vae_span <= 0 or ae_span <= 0:
        return ""
    ratio = ae_span / vae_span
    if shared_axes:
        if ratio >= 3:
            return gettext("Shared axes: the AE's codes reach {ratio:.0f}× farther than the VAE's, "
                           "so the VAE's whole cloud fills only the middle of its panel. Switch to "
                           "own scales to read it.").format(ratio=ratio)
        return gettext("Shared axes: both panels are drawn at the same scale.")
    spans = dict(ae_span=span_text(ae_span), vae_span=span_text(vae_span))
    if ratio >= 1:
        return gettext("Own scale per panel: the AE's panel covers {ae_span}, the VAE's {vae_span} "
                       "({ratio:.1f}× narrower for the VAE).").format(ratio=ratio, **spans)
    return gettext("Own scale per panel: the AE's panel covers {ae_span}, the VAE's "
                   "{vae_span}.").format(**spans)


def decoder_grid_caption(ae_span: float, vae_span: float, half_width: float | None,
                         vae_collapsed: bool = False, gettext: Translate = no_translation) -> str:
    """What the decoder grid shows of each model's codes; ``half_width`` None = "fit to the
    codes" (each grid spans its own model's codes)."""
    out: list[str] = []
    ae_text, vae_text = span_text(ae_span), span_text(vae_span)
    if half_width is None:
        out.append(gettext("Each grid spans its own model's codes: the AE's {ae_span}, the VAE's "
                           "{vae_span}. The AE's tiles between its clusters are the empty regions "
                           "where its decoder never trained.").format(ae_span=ae_text,
                                                                       vae_span=vae_text))
    elif half_width < ae_span:
        out.append(gettext("This grid spans {grid_span}, but the AE's codes span {ae_span}: it "
                           "shows only the middle of the AE's space, where its codes are dense, so "
                           "its tiles look clean. Fit the grid to the codes (or widen it) to see "
                           "the gaps between its clusters.").format(
                               grid_span=span_text(half_width), ae_span=ae_text))
    else:
        out.append(gettext("This grid spans {grid_span} and holds all the AE's codes ({ae_span}): "
                           "tiles between its clusters, and beyond them, show what its decoder "
                           "draws where no code lies.").format(grid_span=span_text(half_width),
                                                               ae_span=ae_text))
    if vae_collapsed:
        out.append(gettext("The VAE collapsed: its decoder ignores z, so every tile is the same "
                           "image."))
    elif half_width is not None and half_width > vae_span:
        out.append(gettext("The VAE's codes span {vae_span}; tiles beyond that lie outside its "
                           "codes, where only the prior's rare tail draws go.").format(
                               vae_span=vae_text))
    return " ".join(out)


def generation_caption(ae: Stats, vae: Stats, gettext: Translate = no_translation) -> str:
    """What sampling shows for this pair: class coverage, judged quality and gaps per source."""
    k = _n_classes(ae) or _n_classes(vae)
    if k is None or "prior_classes_covered" not in ae or "prior_classes_covered" not in vae:
        return ""
    ae_cov, vae_cov = ae["prior_classes_covered"], vae["prior_classes_covered"]
    ae_ok, vae_ok = ae.get("prior_confident_raw", 0.0), vae.get("prior_confident_raw", 0.0)
    out = [gettext("Drawn from N(0, I), the AE's samples cover {ae_covered} of {k} classes "
                   "({ae_confident} judged confidently; {ae_capped} when each class counts at most "
                   "up to its share of the data), the VAE's {vae_covered} ({vae_confident}; "
                   "{vae_capped}). The first share rewards clean samples, the second clean and "
                   "diverse ones.").format(
                       ae_covered=ae_cov, k=k, ae_confident=_pct(ae_ok),
                       ae_capped=_pct(ae.get("prior_confident", 0.0)), vae_covered=vae_cov,
                       vae_confident=_pct(vae_ok), vae_capped=_pct(vae.get("prior_confident", 0.0)))]
    if vae.get("collapsed"):
        out.append(gettext("This pair cannot show the lesson: the VAE collapsed, so all its draws "
                           "decode to one average image."))
        out.append(collapse_cure(vae, gettext))
    elif ae_cov < FEW_CLASSES * k and ae_ok >= CRISP:
        out.append(gettext("The AE's draws look fine, yet they reach only the {ae_covered} classes "
                           "whose codes happen to lie near the origin: N(0, I) is not where its "
                           "codes live.").format(ae_covered=ae_cov))
    elif ae_cov >= vae_cov and ae_ok >= vae_ok:
        out.append(gettext("Here the claim does not hold: the AE's N(0, I) draws are as varied and "
                           "as recognisable as the VAE's, because its codes happen to sit around "
                           "the origin."))
    elif ae_ok < CRISP:
        out.append(gettext("Many of the AE's draws decode to junk: they land where it has no "
                           "codes."))
    if "fitted_classes_covered" in ae:
        fit_cov, fit_ok = ae["fitted_classes_covered"], ae.get("fitted_confident_raw", 0.0)
        fit_gap, vae_gap = ae.get("fitted_in_gaps"), vae.get("prior_in_gaps")
        if fit_gap is not None and vae_gap is not None:
            out.append(gettext(
                "Fairer to the AE: a Gaussian fitted to its own codes covers {covered} of {k} "
                "classes ({confident} confident), but {in_gaps} of those draws land in gaps between "
                "its codes (the VAE's prior draws: {vae_in_gaps}; about {baseline} is what a space "
                "without gaps gives).").format(
                    covered=fit_cov, k=k, confident=_pct(fit_ok), in_gaps=_pct(fit_gap),
                    vae_in_gaps=_pct(vae_gap), baseline=_pct(GAP_BASELINE)))
        else:
            out.append(gettext("Fairer to the AE: a Gaussian fitted to its own codes covers "
                               "{covered} of {k} classes ({confident} confident).").format(
                                   covered=fit_cov, k=k, confident=_pct(fit_ok)))
        if not vae.get("collapsed") and fit_cov >= vae_cov and fit_ok >= vae_ok:
            out.append(gettext("With that fitted Gaussian the AE generates about as well as the "
                               "VAE here: on this data its clusters are compact enough for one "
                               "Gaussian. That is a known result (Ghosh et al. 2020, \"From "
                               "Variational to Deterministic Autoencoders\": an AE with a density "
                               "fitted to its codes after training generates well): the VAE's gift "
                               "is a prior known before training, not that an AE can never "
                               "generate."))
    return " ".join(out)


def prior_draws_note(ae: Stats, vae: Stats, gettext: Translate = no_translation) -> str:
    """The Overview's measured version of "z ~ N(0, I) decodes to a plausible image": how many
    of this VAE's prior draws the judge recognises and how many land in gaps, beside the AE with
    a Gaussian fitted to its codes (Ghosh et al. 2020)."""
    keys = ("prior_confident_raw", "prior_in_gaps")
    if not all(vae.get(k) is not None for k in keys):
        return ""
    out = [gettext("Measured on this pair: {confident} of the VAE's {n_draws} N(0, I) draws decode "
                   "to images the judge recognises (p ≥ {threshold}) and {in_gaps} land in gaps "
                   "between its codes, so not every draw is plausible.").format(
                       confident=_pct(vae["prior_confident_raw"]), in_gaps=_pct(vae["prior_in_gaps"]),
                       n_draws=f"{int(vae.get('generation_n') or GENERATION_SAMPLES):,}",
                       threshold=f"{CONFIDENT:g}")]
    if ae.get("fitted_confident_raw") is not None and ae.get("fitted_classes_covered") is not None:
        out.append(gettext("An AE sampled from a Gaussian fitted to its own codes: {confident} "
                           "recognised, {covered} classes covered. An AE can generate once a "
                           "density is fitted to its codes (Ghosh et al. 2020); the VAE's gift is "
                           "a prior known before training.").format(
                               confident=_pct(ae["fitted_confident_raw"]),
                               covered=ae["fitted_classes_covered"]))
    return " ".join(out)


def marginals_caption(vae: Stats | None, gettext: Translate = no_translation,
                      codes: str = "sampled") -> str:
    """Under the histograms of the codes: whether the VAE's follow the prior's N(0, 1) here.
    ``codes``: what the VAE's histograms show, ``"sampled"`` (one z ~ q(z|x) per test image, the
    aggregate posterior: what should match the prior) or ``"mean"`` (μ, narrower by design)."""
    out = [gettext("If the codes followed the prior, each histogram would follow the black N(0, 1) "
                   "curve.")]
    if vae is None:
        return out[0]
    if vae.get("collapsed"):
        if codes == "mean":
            out.append(gettext("This VAE's are a spike at 0, not N(0, 1): its posterior collapsed, "
                               "so μ is the same for every image."))
        else:
            out.append(gettext("This VAE's z ~ q(z|x) follow N(0, 1) only because its posterior "
                               "collapsed: q(z|x) is the prior for every image, so the codes say "
                               "nothing about the image."))
        return " ".join(out)
    if codes == "mean":
        out.append(gettext("These are the VAE's means μ, which are narrower than the prior by design: "
                           "the prior is matched by the aggregate of q(z|x) (Var μ + E σ² ≈ 1), so "
                           "μ's spread is off unit by {scale_error_mu:.2f} even when z ~ q(z|x) is "
                           "off by only {scale_error:.2f}.").format(
                               scale_error_mu=vae.get("scale_error_mu", float("nan")),
                               scale_error=vae.get("scale_error", float("nan"))))
    elif vae.get("scale_error", 1.0) < UNIT_SCALE and vae.get("centring", 1.0) < CENTRED:
        out.append(gettext("The VAE's z ~ q(z|x) (one per test image) come close because its loss "
                           "asks for it (mean {centring:.2f} from 0, spread off unit by "
                           "{scale_error:.2f}); the AE's need not.").format(
                               centring=vae["centring"], scale_error=vae["scale_error"]))
    else:
        out.append(gettext("This VAE's z ~ q(z|x) are off (mean {centring:.2f} from 0, spread off "
                           "unit by {scale_error:.2f}): the KL term pulls towards the prior but does "
                           "not force it.").format(centring=vae.get("centring", float("nan")),
                                                   scale_error=vae.get("scale_error", float("nan"))))
    return " ".join(out)


def interpolation_caption(model: str, reads: Sequence[str], confidence: Sequence[float], start: str,
                          end: str, threshold: float, collapsed: bool = False,
                          gettext: Translate = no_translation) -> str:
    """What the judge reads in each frame of one model's interpolation, and what that shows:
    ``reads`` the predicted class name per frame, ``confidence`` its probability (below
    ``threshold`` a frame is unsure, "?"), ``start``/``end`` the two test images' classes."""
    shown = [r if c >= threshold else "?" for r, c in zip(reads, confidence)]
    n = len(shown)
    out = [gettext("{model}: the judge reads {reads}.").format(model=model, reads=" ".join(shown))]
    if collapsed:
        out.append(gettext("The collapsed VAE draws the same average image at every frame: its "
                           "decoder ignores z."))
        return " ".join(out)
    if end in shown:
        frame = shown.index(end) + 1
        out.append(gettext("It becomes a {end} at frame {frame} of {n}.").format(end=end, frame=frame, n=n))
    else:
        out.append(gettext("It never reaches a {end}, the class of the end image.").format(end=end))
    unsure = shown.count("?")
    others = sorted({s for s in shown if s not in ("?", start, end)})
    if unsure:
        out.append(gettext("{unsure} of {n} frames are unsure: blurred or unlike any class.").format(
            unsure=unsure, n=n))
    if others:
        out.append(gettext("On the way it passes through {others}.").format(others=", ".join(others)))
    if not unsure and not others and end in shown:
        out.append(gettext("Every frame reads as a {start} or a {end}: a smooth morph, as far as "
                           "the judge can tell.").format(start=start, end=end))
    return " ".join(out)


VERDICT_LABELS = {"tie": N_("tie"), "collapsed": N_("none: the VAE's lead comes from collapse")}


def verdict_label(verdict: str, gettext: Translate = no_translation) -> str:
    """The scorecard cell for ``scorecard.claim_verdict``'s answer."""
    if verdict in ("VAE", "AE"):
        return verdict  # model names read the same in every language
    label = VERDICT_LABELS.get(verdict)
    return gettext(label) if label else "—"
