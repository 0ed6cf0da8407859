"""Number formats, one place: ui.numbers for tables and sentences, vae_core.viz.figures for axes."""
from __future__ import annotations

import json

from ui.numbers import number_text, percent_text
from vae_core.viz.figures import loss_curves


def test_number_text():
    assert number_text(-6.656477424880588e+22) == "-6.66e+22"  # the lab's broken arm
    assert number_text(12345.678) == "1.23e+04"
    assert number_text(3.14159) == "3.142" and number_text(2.5, decimals=1) == "2.5"
    assert number_text(-0.0001) == "0.000"  # no "-0.000"
    assert number_text(2) == "2"  # a count
    assert number_text(None) == "—" and number_text(float("nan")) == "nan"
    assert percent_text(0.125) == "12.5%"


def test_loss_axes_have_no_si_prefixes_and_readable_log_ticks():
    records = {"v": [{"type": "epoch", "samples_seen": 100 * i, "epoch": i, "recon": 30.0 / i,
                      "kl": 1e-4 * i, "test_recon": 30.0 / i,
                      "test_kl": 1e-4 * i} for i in range(1, 5)]}
    layout = json.loads(loss_curves(records, {"v": "vae"}).to_json())["layout"]
    assert layout["yaxis2"]["type"] == "log"
    assert layout["yaxis"]["tickformat"] == layout["yaxis2"]["tickformat"] == "~g"  # 0.0001, not 100μ
    assert "title" not in layout["yaxis2"]  # "log scale" is in the subplot title, off the ticks
