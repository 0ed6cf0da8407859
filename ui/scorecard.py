"""The scorecard as a table: one row per teaching claim, values formatted for the screen and its
words (claims, directions, explanations) in the session's language."""
from __future__ import annotations

from typing import Any

from ui.i18n import _
from ui.numbers import number_text
from vae_core.analysis.scorecard import CLAIMS, METRICS, claim_verdict
from vae_core.text import N_

# scorecard.METRICS' better direction ("lower" / "higher") as the table shows it.
BETTER_LABELS = {"lower": N_("lower"), "higher": N_("higher")}


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return _("{mean:.4f} (max {max:.3f})", mean=value["mean"], max=value["max"])
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def format_interval(interval: Any) -> str:
    """'[0.361, 0.402]': a scorecard ``intervals`` entry ('' when there is none)."""
    if not (isinstance(interval, (list, tuple)) and len(interval) == 2):
        return ""
    lo, hi = (format_value(float(v)) for v in interval)
    return f"[{lo}, {hi}]"


def compare_rows(ae: dict[str, Any] | None, vae: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per claim: claim, metric, AE value, VAE value, each with its 95% interval
    (``AE_interval``, ``VAE_interval``), winner (``claim_verdict`` on the values and intervals:
    "AE", "VAE", "tie" when the intervals overlap, "collapsed" or ""), better direction,
    meaning. ``metric`` and ``winner`` are ids; the other cells are translated."""
    rows = []
    vae_collapsed = bool(vae and vae.get("collapsed"))
    for c in CLAIMS:
        m, claim = c["metric"], c["claim"]  # the claim is marked N_ in vae_core.analysis.scorecard
        a = ae.get(m) if ae else None
        v = vae.get(m) if vae else None
        a_int = (ae.get("intervals") or {}).get(m) if ae else None
        v_int = (vae.get("intervals") or {}).get(m) if vae else None
        better, meaning = METRICS[m]
        rows.append({"claim": _(claim), "metric": m, "AE": format_value(a),
                     "VAE": format_value(v), "AE_interval": format_interval(a_int),
                     "VAE_interval": format_interval(v_int),
                     "winner": claim_verdict(m, a, v, vae_collapsed, a_int, v_int),
                     "better": _(BETTER_LABELS[better]), "meaning": _(meaning)})
    return rows
