"""Pure figure builders: numpy/torch arrays in, Plotly figures out (testable without a browser).

Every plot of the dashboard is made here, so pages only lay figures out. Colours by class use
one qualitative palette; AE and VAE panels of a pair always share axes so they can be compared.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
AE_COLOR = "#e8590c"
VAE_COLOR = "#4c6ef5"


def class_color(label: int) -> str:
    return CLASS_COLORS[int(label) % len(CLASS_COLORS)]


# --- Exploration views (latent space, decoder grid, generation, reparameterization) ----------


# --- Evidence views (scorecard, beta sweep, true posterior) ----------------------------------
