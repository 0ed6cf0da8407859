"""The figures that show the mathematics at work: the reparameterization trick (the histogram of
z = μ + σ·ε against its density, and its gradients), a β sweep's rate-distortion curve, and the
true posterior p(z|x) beside the encoder's q(z|x). Numpy arrays in, Plotly figures out.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vae_core.analysis.latent_tools import ellipse_outlines
from vae_core.text import Translate, no_translation
from vae_core.viz.figures import (AE_COLOR, AXIS_NUMBERS, VAE_COLOR, add_ellipses, normal_pdf,
                                  points_trace)


def reparam_histogram(z: np.ndarray, mu: float, sigma: float, bins: int = 50, gettext: Translate = no_translation) -> go.Figure:
    """Histogram (density) of z = mu + sigma * eps against the N(mu, sigma^2) density."""
    z = np.asarray(z, np.float64)
    lo, hi = min(z.min(), mu - 4 * sigma), max(z.max(), mu + 4 * sigma)
    density, edges = np.histogram(z, bins=bins, range=(lo, hi), density=True)
    grid = np.linspace(lo, hi, 300)
    fig = go.Figure([
        go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=density, width=np.diff(edges), name=gettext("{n} draws of z").format(n=len(z)),
               marker_color=VAE_COLOR, opacity=0.6),
        go.Scatter(x=grid, y=normal_pdf(grid, mu, sigma), mode="lines", name=gettext("N(μ, σ²) density"),
                   line=dict(color="black", width=2)),
    ])
    fig.add_vline(x=mu, line_dash="dot", line_color="black", annotation_text="μ")
    fig.update_layout(bargap=0, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis_title="z = μ + σ·ε", yaxis_title=gettext("density"),
                      legend=dict(orientation="h", y=1.12))
    return fig


def gradient_scatter(eps: np.ndarray, dz_dsigma: np.ndarray, dz_dmu: np.ndarray,
                     max_points: int = 2000, gettext: Translate = no_translation) -> go.Figure:
    """Autograd's per-draw derivatives against eps: dz/dsigma lies on the line y = eps and
    dz/dmu on y = 1."""
    eps, dz_dsigma, dz_dmu = (np.asarray(a, np.float64)[:max_points] for a in (eps, dz_dsigma, dz_dmu))
    line = np.array([eps.min(), eps.max()]) if len(eps) else np.array([-3.0, 3.0])
    trace = points_trace(2 * len(eps))
    fig = go.Figure([
        go.Scatter(x=line, y=line, mode="lines", name="y = ε", line=dict(color="black", dash="dot")),
        trace(x=eps, y=dz_dsigma, mode="markers", name=gettext("∂z/∂σ (autograd)"),
              marker=dict(size=5, color=VAE_COLOR)),
        trace(x=eps, y=dz_dmu, mode="markers", name=gettext("∂z/∂μ (autograd)"),
              marker=dict(size=5, color=AE_COLOR)),
    ])
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), xaxis_title="ε",
                      yaxis_title=gettext("derivative"), legend=dict(orientation="h", y=1.12))
    return fig


def sweep_figure(points: list, gettext: Translate = no_translation) -> go.Figure:
    """Rate (KL) against distortion (recon) with lines of equal recon + KL, and active units
    against beta. ``points`` are ``sweep.SweepPoint``; warm-up runs get a diamond marker and
    collapsed ones (no active unit) a red X. ``customdata`` holds the run name."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.12,
                        subplot_titles=(gettext("Rate vs distortion (nats per image)"),
                                        gettext("Active units vs β")))
    if not points:
        return fig
    rates = np.array([p.rate for p in points], float)
    dists = np.array([p.distortion for p in points], float)
    # Lines of equal recon + KL (the beta = 1 loss, -ELBO): distortion = c - rate.
    r_hi = max(1.0, float(rates.max()) * 1.15)
    totals = rates + dists
    levels = np.unique(np.round(np.linspace(totals.min(), totals.max(), 5), 1)) if len(points) > 1 \
        else np.round(totals, 1)
    for i, c in enumerate(levels):
        r = np.array([0.0, r_hi])
        fig.add_trace(go.Scatter(x=r, y=c - r, mode="lines", line=dict(color="#adb5bd", dash="dot", width=1),
                                 name=gettext("recon + KL = const"), legendgroup="iso", showlegend=i == 0,
                                 hovertemplate=gettext("recon + KL = {total:.1f}").format(total=c)
                                 + "<extra></extra>"), row=1, col=1)
    # Neighbours in rate alternate their label above/below (collapsed runs share rate ~0).
    label_side = {p.name: ("top right", "bottom right", "middle right", "top left")[i % 4]
                  for i, p in enumerate(sorted(points, key=lambda p: (p.rate, p.distortion)))}
    groups = {}
    for p in points:
        groups.setdefault((p.kl_warmup_epochs > 0, p.collapsed), []).append(p)
    legend_names = {(True, False): gettext("KL warm-up"), (False, False): gettext("no warm-up"),
                    (True, True): gettext("KL warm-up, collapsed"),
                    (False, True): gettext("no warm-up, collapsed")}
    for (warm, collapsed), ps in sorted(groups.items()):
        label = legend_names[warm, collapsed]
        symbol = "x" if collapsed else ("diamond" if warm else "circle")
        color = "#e03131" if collapsed else VAE_COLOR if not warm else "#2f9e44"
        fig.add_trace(go.Scatter(
            x=[p.rate for p in ps], y=[p.distortion for p in ps], mode="markers+text",
            text=[f"β={p.beta:g}" for p in ps], textposition=[label_side[p.name] for p in ps],
            cliponaxis=False,  # a collapsed run sits at rate 0, on the axis: draw it whole
            marker=dict(symbol=symbol, size=11, color=color), name=label,
            customdata=[p.name for p in ps],
            hovertemplate=gettext("%{customdata}<br>KL %{x:.2f}, recon %{y:.2f}") + "<extra></extra>"),
            row=1, col=1)
        fig.add_trace(go.Scatter(
            x=[p.beta for p in ps], y=[p.active_units for p in ps], mode="markers+lines",
            cliponaxis=False,  # 0 active units sits on the axis
            marker=dict(symbol=symbol, size=10, color=color), line=dict(color=color, width=1),
            name=label, showlegend=False, customdata=[p.name for p in ps],
            hovertemplate=gettext("%{customdata}<br>β %{x:g}: %{y} active") + "<extra></extra>"),
            row=1, col=2)
    fig.update_xaxes(title_text=gettext("rate: KL(q(z|x) ‖ p(z))"), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text=gettext("distortion: −log p(x|z)"), row=1, col=1)
    fig.update_xaxes(title_text="β", row=1, col=2)
    fig.update_yaxes(title_text=gettext("active units"), rangemode="tozero",
                     range=[-0.25, max(p.latent_dim for p in points) + 0.5], row=1, col=2)
    pad = 0.1 * max(1.0, float(dists.max() - dists.min()))
    fig.update_yaxes(range=[float(dists.min()) - pad, float(dists.max()) + 2 * pad], row=1, col=1)
    fig.update_xaxes(range=[-0.04 * r_hi, r_hi], row=1, col=1)
    fig.update_xaxes(**AXIS_NUMBERS).update_yaxes(**AXIS_NUMBERS)
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.2))
    return fig


def posterior_figure(zs1: np.ndarray, zs2: np.ndarray, post: np.ndarray, mu: np.ndarray,
                     sigma: np.ndarray, gettext: Translate = no_translation) -> go.Figure:
    """Heatmap of the true p(z|x) on its grid with q(z|x)'s 1- and 2-sigma ellipses on top."""
    fig = go.Figure(go.Heatmap(x=zs1, y=zs2, z=post, colorscale="Viridis", colorbar=dict(title="p(z|x)"),
                               hovertemplate="z=(%{x:.2f}, %{y:.2f})<br>p=%{z:.3g}<extra></extra>"))
    cov = np.diag(np.asarray(sigma, np.float64) ** 2)[None]  # q is axis-aligned: (1, 2, 2)
    for k, dash in ((1, "solid"), (2, "dash")):
        add_ellipses(fig, ellipse_outlines(np.asarray(mu)[None], cov, k, 120), f"q(z|x) {k}σ",
                     color="white", dash=dash)
    fig.add_trace(go.Scatter(x=[mu[0]], y=[mu[1]], mode="markers", name=gettext("q mean"),
                             marker=dict(color="white", symbol="x", size=10)))
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="z1", yaxis_title="z2",
                      # White marks are drawn on the dark heatmap: give the legend a dark box too.
                      # Above the plot: below, it covered the z1 axis title.
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", bgcolor="#3b3b58",
                                  font=dict(color="white")))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig
