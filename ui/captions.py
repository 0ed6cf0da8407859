"""Caption builders: the teaching sentences of each page, written from the numbers of the pair shown.

Pure Python (no Streamlit), numbers in, sentences out, so a claim on screen always matches the runs
on screen, and a claim that does not hold for them is said not to hold, with the reason. Inputs are
plain mappings with the scorecard's key names (``vae_core.metrics.scorecard``); the cheap
per-view subset comes from ``vae_core.codes.code_stats`` and the generation keys from
``vae_core.generation.GenerationTest.summary`` (or ``generation_scores``):

- code stats: ``code_span``, ``centring``, ``scale_error``, ``collapsed``, ``active_units``,
  ``latent_dim``, ``kl``;
- generation: ``{prior,fitted,box}_classes_covered``, ``…_confident_raw``, ``…_in_gaps``,
  ``…_class_counts`` (K = its length).

A missing key makes the sentence that needs it drop out rather than guess.
"""
from __future__ import annotations

from typing import Any, Mapping

Stats = Mapping[str, Any]

PRIOR_BOX = 2.0  # the prior's 2-sigma box is [-2, 2] per dim
CENTRED = 0.5  # codes' mean within a quarter of the 2-sigma radius: "centred"
UNIT_SCALE = 0.25  # mean |std_d - 1| below this: "unit spread"
FEW_CLASSES = 0.7  # covering fewer than 70% of the classes is "few"
CRISP = 0.5  # at least half the draws judged confidently: they "look fine"
GAP_BASELINE = 0.05  # share of draws "in a gap" expected of a space without gaps (codes.py)
CURES = ("train with a lower β, a KL warm-up, a bigger network or a smaller learning rate")


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


def collapse_warning(vae: Stats) -> str | None:
    """A warning for a collapsed VAE (None when it is not collapsed, or for an AE)."""
    if not vae.get("collapsed"):
        return None
    active, dims, kl = vae.get("active_units"), vae.get("latent_dim"), vae.get("kl")
    parts = ["This VAE's posterior collapsed"]
    if active is not None and dims:
        parts.append(f": {active} of {dims} latent dims carry information")
    if kl is not None:
        parts.append(f" (test KL {kl:.2g} nats per image)")
    return ("".join(parts) + ". Its encoder maps every image to the prior's centre and its decoder "
            "ignores z, so it draws one average image everywhere. Its centred, unit-prior, smooth "
            "numbers come from collapse, not from a well-shaped latent space. To fix it, "
            f"{CURES}.")


def latent_space_caption(ae: Stats, vae: Stats) -> str:
    """Where the two code clouds sit and how far the 'KL packs the codes around 0' claim holds."""
    out: list[str] = []
    if "code_span" in ae and "code_span" in vae:
        out.append(f"Here the AE's codes span {span_text(ae['code_span'])}, the VAE's "
                   f"{span_text(vae['code_span'])} (the prior's 2σ box is ±2).")
    if vae.get("collapsed"):
        out.append("The KL term has not packed the VAE's classes side by side around 0 here: the "
                   "posterior collapsed, so every code sits on the centre whatever the image, and "
                   f"the classes are not separated at all. To see the claim, {CURES}.")
        return " ".join(out)
    if "centring" in vae and "scale_error" in vae:
        out.append(f"The KL term pulls the VAE's codes towards N(0, I): their mean is "
                   f"{vae['centring']:.2f} from 0 and their spread is off unit by "
                   f"{vae['scale_error']:.2f} on average.")
    if "centring" in ae:
        if ae["centring"] < CENTRED:
            out.append(f"This AE happens to be centred too (its mean is {ae['centring']:.2f} from "
                       "0): nothing in its loss asks for that, and another seed can put its codes "
                       "anywhere.")
        else:
            out.append(f"Nothing pulls the AE's codes: their mean sits {ae['centring']:.1f} from 0.")
    if "scale_error" in ae and ae["scale_error"] < UNIT_SCALE:
        out.append("The AE's spread also happens to be close to unit here; its loss does not ask "
                   "for that either.")
    active, dims = vae.get("active_units"), vae.get("latent_dim")
    if active is not None and dims and active < dims:
        out.append(f"Only {active} of the VAE's {dims} latent dims are active; the others stay "
                   "at the prior and the decoder ignores them.")
    return " ".join(out)


def scale_note(ae_span: float, vae_span: float, shared_axes: bool, vae_collapsed: bool = False) -> str:
    """How to read AE and VAE panels side by side: the ratio of their spans (none for a
    collapsed VAE, whose codes all sit on the centre)."""
    if vae_collapsed:
        return (f"The AE's codes span {span_text(ae_span)}; the collapsed VAE's all sit on the "
                "centre, so its panel shows the prior's circles around one dot.")
    if vae_span <= 0 or ae_span <= 0:
        return ""
    ratio = ae_span / vae_span
    if shared_axes:
        if ratio >= 3:
            return (f"Shared axes: the AE's codes reach {ratio:.0f}× farther than the VAE's, so the "
                    "VAE's whole cloud fills only the middle of its panel. Switch to own scales "
                    "to read it.")
        return "Shared axes: both panels are drawn at the same scale."
    return (f"Own scale per panel: the AE's panel covers {span_text(ae_span)}, the VAE's "
            f"{span_text(vae_span)} ({ratio:.1f}× narrower for the VAE)." if ratio >= 1 else
            f"Own scale per panel: the AE's panel covers {span_text(ae_span)}, the VAE's "
            f"{span_text(vae_span)}.")


def decoder_grid_caption(ae_span: float, vae_span: float, half_width: float | None,
                         vae_collapsed: bool = False) -> str:
    """What the decoder grid shows of each model's codes; ``half_width`` None = "fit to the
    codes" (each grid spans its own model's codes)."""
    out: list[str] = []
    if half_width is None:
        out.append(f"Each grid spans its own model's codes: the AE's {span_text(ae_span)}, the "
                   f"VAE's {span_text(vae_span)}. The AE's tiles between its clusters are the "
                   "empty regions where its decoder never trained.")
    elif half_width < ae_span:
        out.append(f"This grid spans {span_text(half_width)}, but the AE's codes span "
                   f"{span_text(ae_span)}: it shows only the middle of the AE's space, where its "
                   "codes are dense, so its tiles look clean. Fit the grid to the codes (or widen "
                   "it) to see the gaps between its clusters.")
    else:
        out.append(f"This grid spans {span_text(half_width)} and holds all the AE's codes "
                   f"({span_text(ae_span)}): tiles between its clusters, and beyond them, show "
                   "what its decoder draws where no code lies.")
    if vae_collapsed:
        out.append("The VAE collapsed: its decoder ignores z, so every tile is the same image.")
    elif half_width is not None and half_width > vae_span:
        out.append(f"The VAE's codes span {span_text(vae_span)}; tiles beyond that lie outside "
                   "its codes, where only the prior's rare tail draws go.")
    return " ".join(out)


def generation_caption(ae: Stats, vae: Stats) -> str:
    """What sampling shows for this pair: class coverage, judged quality and gaps per source."""
    k = _n_classes(ae) or _n_classes(vae)
    if k is None or "prior_classes_covered" not in ae or "prior_classes_covered" not in vae:
        return ""
    ae_cov, vae_cov = ae["prior_classes_covered"], vae["prior_classes_covered"]
    ae_ok, vae_ok = ae.get("prior_confident_raw", 0.0), vae.get("prior_confident_raw", 0.0)
    out = [f"Drawn from N(0, I), the AE's samples cover {ae_cov} of {k} classes "
           f"({_pct(ae_ok)} judged confidently), the VAE's {vae_cov} ({_pct(vae_ok)})."]
    if vae.get("collapsed"):
        out.append("This pair cannot show the lesson: the VAE collapsed, so all its draws decode "
                   f"to one average image. To fix it, {CURES}.")
    elif ae_cov < FEW_CLASSES * k and ae_ok >= CRISP:
        out.append(f"The AE's draws look fine, yet they reach only the {ae_cov} classes whose "
                   "codes happen to lie near the origin: N(0, I) is not where its codes live.")
    elif ae_cov >= vae_cov and ae_ok >= vae_ok:
        out.append("Here the claim does not hold: the AE's N(0, I) draws are as varied and as "
                   "recognisable as the VAE's, because its codes happen to sit around the origin.")
    elif ae_ok < CRISP:
        out.append("Many of the AE's draws decode to junk: they land where it has no codes.")
    if "fitted_classes_covered" in ae:
        fit_cov, fit_ok = ae["fitted_classes_covered"], ae.get("fitted_confident_raw", 0.0)
        fit_gap, vae_gap = ae.get("fitted_in_gaps"), vae.get("prior_in_gaps")
        sentence = (f"Fairer to the AE: a Gaussian fitted to its own codes covers {fit_cov} of "
                    f"{k} classes ({_pct(fit_ok)} confident)")
        if fit_gap is not None and vae_gap is not None:
            sentence += (f", but {_pct(fit_gap)} of those draws land in gaps between its codes "
                         f"(the VAE's prior draws: {_pct(vae_gap)}; about {_pct(GAP_BASELINE)} is "
                         "what a space without gaps gives)")
        out.append(sentence + ".")
        if not vae.get("collapsed") and fit_cov >= vae_cov and fit_ok >= vae_ok:
            out.append("With that fitted Gaussian the AE generates about as well as the VAE here: "
                       "on this data its clusters are compact enough for one Gaussian. The VAE's "
                       "advantage is that its prior is known before training, not fitted after.")
    return " ".join(out)


def marginals_caption(vae: Stats | None) -> str:
    """Under the histograms of the codes: whether the VAE's follow the prior's N(0, 1) here."""
    out = "If the codes followed the prior, each histogram would follow the black N(0, 1) curve."
    if vae is None:
        return out
    if vae.get("collapsed"):
        return (out + " This VAE's are a spike at 0, not N(0, 1): its posterior collapsed, so μ "
                "is the same for every image.")
    if vae.get("scale_error", 1.0) < UNIT_SCALE and vae.get("centring", 1.0) < CENTRED:
        return out + " The VAE's come close because its loss asks for it; the AE's need not."
    return (out + f" This VAE's are off (mean {vae.get('centring', float('nan')):.2f} from 0, "
            f"spread off unit by {vae.get('scale_error', float('nan')):.2f}): the KL term pulls "
            "towards the prior but does not force it.")


def verdict_label(verdict: str) -> str:
    """The scorecard cell for ``metrics.claim_verdict``'s answer."""
    return {"VAE": "VAE", "AE": "AE", "tie": "tie",
            "collapsed": "none: the VAE's lead comes from collapse"}.get(verdict, "—")
