"""Figures cached across sessions: a copy from a template is the figure built fresh, callers may
change their copy without touching the cache, and a frozen figure serialises as the original."""
from __future__ import annotations

import json

import numpy as np
import plotly.io as pio

from ui.resources import SharedFigure, figure_template, from_template
from vae_core.viz import figures


def scatter():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(300, 2)).astype(np.float32)
    return figures.latent_scatter(codes, rng.integers(0, 10, 300), [str(i) for i in range(10)], "t", (-3.0, 3.0))


def as_json(fig) -> dict:
    return json.loads(pio.to_json(fig, validate=False))


def test_a_copy_from_a_template_is_the_figure_and_changing_it_leaves_the_template_alone():
    fig = scatter()
    template = figure_template(fig)
    copy = from_template(template)
    assert as_json(copy) == as_json(fig)
    figures.add_points(copy, np.zeros((2, 2)), "extra")
    copy.update_traces(marker=dict(size=9), showlegend=False).update_layout(height=123)
    again = from_template(template)
    assert as_json(again) == as_json(fig)
    assert len(copy.data) == len(fig.data) + 1 and copy.layout.height == 123


def test_a_shared_figure_serialises_as_the_original():
    fig = scatter()
    assert json.loads(pio.to_json(SharedFigure(fig).to_dict(), validate=False)) == as_json(fig)
