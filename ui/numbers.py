"""Numbers as tables and sentences show them, one place: fixed decimals for the usual range, and
scientific notation with 3 significant digits for huge values (a broken arm's KL of
-6.656477424880588e+22 read as a wall of digits). Axes have theirs in ``vae_core.viz.figures``
(``AXIS_NUMBERS``)."""
from __future__ import annotations

import math

HUGE = 1e4  # from here on: 1.23e+04, not 12345.000


def number_text(value: float | int | None, decimals: int = 3) -> str:
    """``value`` with ``decimals`` decimals, or as 3 significant digits in scientific notation
    when it is huge; an int as it is; "—" for a missing value, and "nan" / "inf" as they are."""
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a count: active units, classes
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= HUGE:
        return f"{value:.3g}"
    value = 0.0 if abs(value) < 0.5 * 10 ** -decimals else value  # no "-0.000"
    return f"{value:.{decimals}f}"


def percent_text(share: float | None) -> str:
    """A share of draws or images: "12.5%"."""
    return "—" if share is None else f"{share:.1%}"
