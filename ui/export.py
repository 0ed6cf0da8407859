"""Downloads: each chart through the Plotly toolbar's camera button, under a sensible file name,
as PNG or SVG (Plotly's toolbar has one image button, whose format the sidebar setting picks);
each run as a Jupyter notebook that reproduces it."""
from __future__ import annotations

import json
import re
from typing import Any

import streamlit as st

from ui.i18n import _
from vae_core import Run
from vae_core.viz.notebook import run_notebook

FORMATS = ("png", "svg")
FORMAT_KEY = "export_format"


def export_format_picker() -> None:
    """The sidebar setting for what the camera button of every chart downloads."""
    st.radio(_("Charts download as"), FORMATS, horizontal=True, key=FORMAT_KEY, bind="query-params",
             format_func=str.upper, help=_("The camera icon in each chart's toolbar saves the chart."))


def plot_config(name: str) -> dict[str, Any]:
    """``st.plotly_chart(config=...)``: the camera button saves ``vae-lab-<name>.png`` (or .svg)
    at twice the screen resolution, without the Plotly logo."""
    fmt = st.session_state.get(FORMAT_KEY, "png")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "chart"
    return {"toImageButtonOptions": {"format": fmt if fmt in FORMATS else "png",
                                     "filename": f"vae-lab-{slug}", "scale": 2},
            "displaylogo": False}


def notebook_button(run: Run, key: str) -> None:
    """"Export as notebook": an .ipynb that re-trains ``run`` with the public API."""
    nb = run_notebook(run.name, run.model_config, run.train_config, run.dataset, run.final)
    st.download_button(_("Export as notebook"), json.dumps(nb, indent=1), file_name=f"{run.name}.ipynb",
                       mime="application/x-ipynb+json", icon=":material/download:", type="tertiary",
                       key=key, help=_("A Jupyter notebook that re-trains this run from its configs "
                                       "and draws its loss curves and latent map."))
