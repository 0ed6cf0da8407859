"""The scorecard as a table: one row per teaching claim, values formatted for the screen."""
from __future__ import annotations

from typing import Any

from vae_core.metrics import CLAIMS, METRICS, claim_verdict


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return f"{value['mean']:.4f} (max {value['max']:.3f})"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = 0.0 if abs(value) < 5e-4 else value  # no "-0.000"
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.4g}"
    return str(value)


def compare_rows(ae: dict[str, Any] | None, vae: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per claim: claim, metric, AE value, VAE value, winner (``claim_verdict``: "AE",
    "VAE", "tie", "collapsed" or ""), better direction, meaning."""
    rows = []
    vae_collapsed = bool(vae and vae.get("collapsed"))
    for c in CLAIMS:
        m = c["metric"]
        a = ae.get(m) if ae else None
        v = vae.get(m) if vae else None
        rows.append({"claim": c["claim"], "metric": m, "AE": format_value(a), "VAE": format_value(v),
                     "winner": claim_verdict(m, a, v, vae_collapsed), "better": METRICS[m][0], "meaning": METRICS[m][1]})
    return rows
