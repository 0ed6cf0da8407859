"""Plotly figure builders: numpy arrays in, Plotly figures out (testable without a browser).

Every plot of the dashboard is made in ``vae_core.viz``, so pages only lay figures out. This
module holds the shared style (class and AE/VAE colours, axis number format), the training views
(loss curves, the overview schematic) and the latent-space views (scatter, overlays, marginals,
generated draws); ``image_figures`` the decoded-image grids and judged tiles; ``evidence_figures``
the reparameterization, β-sweep and true-posterior figures; a notebook or the CLI
(``sweep --plot``) imports them without Streamlit. They know no page: the height a figure gets on
screen is the caller's choice (``fig.update_layout(height=...)``). Colours by class use one
qualitative palette; the caller gives each latent panel its axis range (its own, or one shared by
the AE and VAE panels of a pair).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vae_core.analysis.latent_tools import ellipse_outlines
from vae_core.text import Translate, no_translation

CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
AE_COLOR = "#e8590c"
VAE_COLOR = "#4c6ef5"


def class_color(label: int) -> str:
    return CLASS_COLORS[int(label) % len(CLASS_COLORS)]


def model_color(model: str) -> str:
    """The one colour of the AE (``"ae"``/``"AE"``) or the VAE (any other kind or label) on every
    chart, legend and slider."""
    return AE_COLOR if model.lower() == "ae" else VAE_COLOR


# Numbers on loss, KL and other measured axes, one place: d3's "~g" reads 0.0001, 0.2, 5, 20,
# 1e+22. Plotly's default put SI prefixes on small KL values ("100μ", where μ reads as the mean)
# and labelled a log axis's ticks between decades with a bare digit ("2, 5, 0.1, 2, 5, 1").
AXIS_NUMBERS = dict(tickformat="~g")

WEBGL_MIN_POINTS = 2000  # below this SVG draws faster (no GL context) and selects just as well


def points_trace(n_points: int) -> type[go.Scatter] | type[go.Scattergl]:
    """The scatter trace class for ``n_points`` markers: WebGL only where SVG would lag (10,000
    MNIST codes); small sets as SVG, which drew 4 charts in 0.68 s vs 0.96 s for WebGL here."""
    return go.Scattergl if n_points >= WEBGL_MIN_POINTS else go.Scatter


# --- Training views (live loss curves, overview schematic) -----------------------------------

def _run_color(name: str, kind: str | None, i: int) -> str:
    if kind == "ae" or (kind == "vae" and i == 0):
        return model_color(kind)
    return CLASS_COLORS[i % len(CLASS_COLORS)]


def loss_curves(records_by_name: dict[str, list[dict]], kinds: dict[str, str] | None = None,
                max_points: int = 250, gettext: Translate = no_translation) -> go.Figure:
    """Reconstruction and KL (nats per image, KL on a log axis) side by side, one colour per run.

    Lines are the training averages between records ("step" and "epoch" records); markers are
    the held-out test values after each epoch. x is images seen, so the two members of a pair
    (same data, same batch size) line up. ``kinds`` maps run name to "ae"/"vae" for colours.
    Train lines keep every k-th record (at most ``max_points``, the last always): the live view
    rebuilds this figure twice a second while training threads wait for the same GIL.
    """
    from plotly.subplots import make_subplots

    kinds = kinds or {}
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(gettext("Reconstruction −log p(x|z) (nats / image)"),
                                        gettext("KL(q(z|x) ‖ N(0, I)) (nats / image, log scale)")))
    terms = {"recon": gettext("recon"), "kl": "KL"}
    images = gettext("{count} images").format(count="%{x}")  # Plotly fills %{x} on hover
    after_epoch = gettext("after epoch {epoch}").format(epoch="%{customdata}")
    n_vae = 0
    for name, records in records_by_name.items():
        kind = kinds.get(name)
        color = _run_color(name, kind, n_vae if kind != "ae" else 0)
        n_vae += kind != "ae"
        every = [r for r in records if r.get("type") in ("step", "epoch")]
        test = [r for r in every if r.get("type") == "epoch"]
        stride = -(-len(every) // max_points)
        train = every[::-1][::stride][::-1] if every else []  # thin out, keeping the newest
        for col, term in ((1, "recon"), (2, "kl")) if kind != "ae" else ((1, "recon"),):
            train_term = gettext("{run} train {term}").format(run=name, term=terms[term])
            test_term = gettext("{run} test {term}").format(run=name, term=terms[term])
            fig.add_trace(go.Scatter(
                x=[r["samples_seen"] for r in train], y=[r[term] for r in train], mode="lines",
                name=gettext("{run} train").format(run=name), legendgroup=name,
                showlegend=col == 1, line=dict(color=color, width=1.5),
                hovertemplate=f"{train_term}: %{{y:.2f}}<br>{images}<extra></extra>"),
                row=1, col=col)
            fig.add_trace(go.Scatter(
                x=[r["samples_seen"] for r in test], y=[r[f"test_{term}"] for r in test],
                mode="markers", name=gettext("{run} test").format(run=name), legendgroup=name,
                showlegend=col == 1, marker=dict(color=color, size=5, symbol="circle-open"),
                hovertemplate=f"{test_term}: %{{y:.2f}}<br>{after_epoch}<extra></extra>",
                customdata=[r["epoch"] for r in test]), row=1, col=col)
    fig.update_xaxes(title_text=gettext("images seen"))
    # Log KL: a beta = 0 run's KL of ~36 would flatten every other run's 1-5 nats on a linear
    # axis. The AE has no KL term, so it has no KL curve.
    fig.update_yaxes(type="log", row=1, col=2)  # said in its title: an axis title overlapped ticks
    fig.update_yaxes(**AXIS_NUMBERS)
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.25), uirevision="loss_curves")
    return fig


def circle(center: tuple[float, float], radius: float, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a circle: the prior N(0, I)'s ``radius``-sigma contour around ``center``."""
    outline = ellipse_outlines(np.asarray([center], np.float64), np.eye(2)[None], radius, n)[0]
    return outline[:, 0], outline[:, 1]


def overview_schematic(kind: str, seed: int = 0, gettext: Translate = no_translation) -> go.Figure:
    """A made-up 2-D latent picture for the Overview when no run exists yet: the AE as points
    scattered at a scale of their own, the VAE as small Gaussians packed inside the prior."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (5, 2))
    fig = go.Figure()
    for k in (1, 2):
        x, y = circle((0.0, 0.0), k, 80)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", hoverinfo="skip", showlegend=False,
                                 line=dict(color="rgba(90,90,90,0.5)", width=1,
                                           dash="solid" if k == 1 else "dot")))
    for c, center in enumerate(centers):
        if kind == "ae":  # far apart, off-centre, tight: nothing shaped this space
            pts = center * 2.2 + np.array([1.2, -0.8]) + rng.normal(0, 0.12, (12, 2))
            fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", showlegend=False,
                                     hoverinfo="skip", marker=dict(size=5, color=class_color(c))))
        else:  # each image is a small cloud N(mu, sigma^2); clouds overlap near the prior
            mus = center * 0.7 + rng.normal(0, 0.25, (6, 2))
            for mu in mus:
                x, y = circle(mu, 0.3, 40)
                fig.add_trace(go.Scatter(x=x, y=y,
                                         mode="lines", fill="toself", opacity=0.35,
                                         hoverinfo="skip", showlegend=False,
                                         line=dict(color=class_color(c), width=1)))
    fig.update_xaxes(range=[-4, 4], showticklabels=False, zeroline=False)
    fig.update_yaxes(range=[-4, 4], showticklabels=False, zeroline=False, scaleanchor="x")
    fig.update_layout(margin=dict(l=0, r=0, t=30, b=0),
                      title=(gettext("AE: one point per image") if kind == "ae"
                             else gettext("VAE: one Gaussian per image")))
    return fig


# --- Exploration views (latent space, its overlays and marginals, generated draws) ----------
# Latent panels take 2-d plane coordinates (see vae_core.analysis.latent_tools.Projection) and an
# ``axis_range``: each panel's own (readable) or one shared by the pair (comparable sizes).

PRIOR_LINE = "rgba(90, 90, 90, 0.55)"


def _square_axes(fig: go.Figure, axis_range: tuple[float, float], axis_titles: tuple[str, ...],
                 one_d: bool = False, gettext: Translate = no_translation) -> None:
    fig.update_xaxes(range=list(axis_range), title_text=axis_titles[0], zeroline=False)
    if one_d:  # the vertical axis is only jitter
        fig.update_yaxes(range=[-1, 1], showticklabels=False, title_text=gettext("(random jitter)"),
                         zeroline=False)
    else:
        fig.update_yaxes(range=list(axis_range), title_text=axis_titles[-1], zeroline=False,
                         scaleanchor="x", scaleratio=1)


def latent_scatter(codes: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...] | list[str],
                   title: str, axis_range: tuple[float, float], prior_contours: bool = True,
                   ellipses: np.ndarray | None = None, *, indices: np.ndarray | None = None,
                   prior_center: tuple[float, float] | np.ndarray = (0.0, 0.0),
                   axis_titles: tuple[str, ...] = ("z1", "z2"), one_d: bool = False, marker_size: float = 4, opacity: float = 0.7,
                   show_legend: bool = True, gettext: Translate = no_translation) -> go.Figure:
    """Codes (N, 2) as points (WebGL when many), one trace per class present (legend toggles classes), over
    the prior N(0, I)'s 1/2/3-sigma circles; optional ellipse outlines (M, P, 2) in one trace.

    Each point carries its test-set index as customdata, which is what a selection returns.
    """
    codes = np.asarray(codes, np.float32)
    labels = np.asarray(labels)
    idx = np.arange(len(codes)) if indices is None else np.asarray(indices)
    fig = go.Figure()
    if prior_contours and not one_d:
        center = (float(prior_center[0]), float(prior_center[1]))
        for k in (1, 2, 3):
            x, y = circle(center, k)
            # One legend entry stands for all three circles, so it names all three.
            name = (gettext("prior N(0, I): 1σ, 2σ, 3σ") if k == 1
                    else gettext("prior {k}σ").format(k=k))
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup="prior",
                                     showlegend=k == 1, hoverinfo="skip",
                                     line=dict(color=PRIOR_LINE, width=1, dash="dot" if k > 1 else "solid")))
    trace = points_trace(len(codes))
    # Hover: the class, then the test index that Plotly fills in from customdata.
    class_line, index_line = gettext("class {name}"), gettext("test #{index}").format(index="%{customdata}")
    for label in np.unique(labels):
        mask = labels == label
        name = class_names[int(label)] if 0 <= int(label) < len(class_names) else str(label)
        fig.add_trace(trace(
            x=codes[mask, 0], y=codes[mask, 1], mode="markers", name=name,
            customdata=idx[mask], marker=dict(size=marker_size, color=class_color(label), opacity=opacity),
            hovertemplate=class_line.format(name=name) + f"<br>{index_line}<extra></extra>"))
    if ellipses is not None and len(ellipses):
        fig.add_trace(points_trace(ellipses.size // 2)(
            **_polylines(ellipses), mode="lines", name="q(z|x) 2σ", hoverinfo="skip",
            line=dict(color="rgba(20,20,20,0.22)", width=0.8)))
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(itemsizing="constant"), showlegend=show_legend,
                      # Pan, not select, as the drag: Streamlit 1.67 turns a click into a
                      # selection only outside select/lasso drag modes (it then sets clickmode
                      # "event"), so a click on one code selects it; box and lasso are a toolbar
                      # click away.
                      dragmode="pan", clickmode="event+select", uirevision=title)
    _square_axes(fig, axis_range, axis_titles, one_d, gettext)
    return fig


def _polylines(lines: np.ndarray) -> dict[str, list]:
    """Several polylines (M, P, 2) as one trace's x/y, separated by None gaps."""
    xs: list = []
    ys: list = []
    for line in np.asarray(lines):
        xs += line[:, 0].tolist() + [None]
        ys += line[:, 1].tolist() + [None]
    return {"x": xs, "y": ys}


def add_extent(fig: go.Figure, x_range: tuple[float, float], y_range: tuple[float, float],
               name: str | None = None, color: str = "black",
               gettext: Translate = no_translation) -> go.Figure:
    """Outline a rectangle (e.g. the region a decoder grid covers) as a trace; ``name``
    (already translated) defaults to "grid extent"."""
    (x0, x1), (y0, y1) = x_range, y_range
    fig.add_trace(go.Scatter(x=[x0, x1, x1, x0, x0], y=[y0, y0, y1, y1, y0], mode="lines",
                             name=gettext("grid extent") if name is None else name,
                             hoverinfo="skip", line=dict(color=color, width=2)))
    return fig


def add_path(fig: go.Figure, xy: np.ndarray, name: str | None = None, color: str = "black",
             gettext: Translate = no_translation) -> go.Figure:
    """A path of points (S, 2) as a line with markers; the start is a square, the end a star.
    ``name`` (already translated) defaults to "path"."""
    xy = np.asarray(xy, np.float32)
    fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines+markers",
                             name=gettext("path") if name is None else name,
                             line=dict(color=color, width=2), hoverinfo="skip",
                             marker=dict(size=7, color=color,
                                         symbol=["square"] + ["circle"] * (len(xy) - 2) + ["star"])))
    return fig


def add_points(fig: go.Figure, xy: np.ndarray, name: str, color: str = "black",
               symbol: str = "x", size: float = 8, gettext: Translate = no_translation) -> go.Figure:
    """Highlighted points (K, 2), e.g. resampled codes or one image's code."""
    xy = np.asarray(xy, np.float32).reshape(-1, 2)
    fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name=name, hoverinfo="skip",
                             marker=dict(size=size, color=color, symbol=symbol,
                                         line=dict(width=1, color="white"))))
    return fig


def add_ellipses(fig: go.Figure, outlines: np.ndarray, name: str, color: str = "black",
                 dash: str = "solid", gettext: Translate = no_translation) -> go.Figure:
    """Ellipse outlines (M, P, 2) as one line trace."""
    fig.add_trace(go.Scatter(**_polylines(outlines), mode="lines", name=name, hoverinfo="skip",
                             line=dict(color=color, width=2, dash=dash)))
    return fig


def normal_pdf(x: np.ndarray, mu: float = 0.0, sigma: float = 1.0) -> np.ndarray:
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def marginal_histograms(codes: np.ndarray, axis_titles: tuple[str, ...], axis_range: tuple[float, float],
                        title: str = "", prior_center: tuple[float, float] | np.ndarray = (0.0, 0.0),
                        bins: int = 40, color: str = VAE_COLOR, gettext: Translate = no_translation) -> go.Figure:
    """Histogram (as density) of each plotted coordinate of codes (N, k), k = 1 or 2, against
    the prior's N(0, 1) marginal. Binned here so the figure carries 2x``bins`` numbers, not N."""
    from plotly.subplots import make_subplots

    codes = np.asarray(codes, np.float64)
    k = codes.shape[1]
    fig = make_subplots(rows=1, cols=k, subplot_titles=axis_titles[:k], horizontal_spacing=0.08)
    grid = np.linspace(axis_range[0], axis_range[1], 200)
    for j in range(k):
        values = codes[:, j][np.isfinite(codes[:, j])]
        density, edges = np.histogram(np.clip(values, *axis_range), bins=bins, range=axis_range,
                                      density=True)
        fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=density, width=np.diff(edges),
                             marker_color=color, opacity=0.6, name=gettext("codes"),
                             showlegend=j == 0),
                      row=1, col=j + 1)
        fig.add_trace(go.Scatter(x=grid, y=normal_pdf(grid, float(np.ravel(prior_center)[j])),
                                 mode="lines", name=gettext("prior N(0, 1)"), showlegend=j == 0,
                                 line=dict(color="black", width=1.5)), row=1, col=j + 1)
        fig.update_xaxes(range=list(axis_range), row=1, col=j + 1)
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=50, b=10), bargap=0,
                      legend=dict(orientation="h", y=-0.2))
    return fig


def add_draws(fig: go.Figure, xy: np.ndarray, in_gap: np.ndarray, gettext: Translate = no_translation) -> go.Figure:
    """Generated codes (n, 2) on a latent scatter: near a code as small black open circles, in a
    gap (farther from every code than most codes are from their neighbour) as red crosses. Only
    the draws have legend entries (the classes are the scatter's colours)."""
    xy = np.asarray(xy, np.float32)
    in_gap = np.asarray(in_gap, bool)
    fig.update_traces(showlegend=False)
    for mask, name, symbol, color, size in (
            (~in_gap, gettext("draw near codes ({n})"), "circle-open", "black", 5),
            (in_gap, gettext("draw in a gap ({n})"), "x-thin-open", "#c92a2a", 7)):
        fig.add_trace(go.Scatter(x=xy[mask, 0], y=xy[mask, 1], mode="markers",
                                 name=name.format(n=int(mask.sum())), hoverinfo="skip",
                                 marker=dict(size=size, color=color, symbol=symbol, opacity=0.6,
                                             line=dict(width=1, color=color))))
    return fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.18))
