"""The training-replay animation: both latent maps and the loss curves, one Plotly figure whose
animation frames are the saved snapshots (a play button and a scrub slider, drawn by the browser
without a server round trip). Arrays in, Figure out; no Streamlit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from vae_core.viz.figures import AXIS_NUMBERS, PRIOR_LINE, circle, class_color, model_color
from vae_core.text import Translate, no_translation


@dataclass(frozen=True)
class ReplayPanel:
    """One model's codes at every frame, already in the plotted plane: ``xy`` (K, N, 2)."""

    label: str  # "AE" or "VAE"
    xy: np.ndarray
    axis_range: tuple[float, float]
    prior_center: tuple[float, float] = (0.0, 0.0)
    axis_titles: tuple[str, str] = ("z1", "z2")  # a PCA plane names its components


def frame_label(step: int, epoch: float, gettext: Translate = no_translation) -> str:
    """"step 120 (epoch 3)", or the initial weights at step 0: a snapshot's moment for people."""
    if not step:
        return gettext("initial weights (step 0)")
    return gettext("step {step} (epoch {epoch:.3g})").format(step=step, epoch=epoch)


def _curve_traces(history: list[dict], name: str, color: str, kind: str,
                  gettext: Translate = no_translation) -> list[go.Scatter]:
    """Train recon (and KL for the VAE) per step, the x-axis being optimizer steps."""
    recs = [r for r in history if r.get("type") in ("step", "epoch") and r.get("step", 0) > 0]
    steps = [r["step"] for r in recs]
    # Plotly's hover fields go in as placeholder values, so a translation cannot break them.
    fields = dict(model=name, value="%{y:.2f}", step="%{x}")
    traces = [go.Scatter(x=steps, y=[r["recon"] for r in recs], mode="lines",
                         name=gettext("{model} recon").format(model=name),
                         line=dict(color=color, width=1.5),
                         hovertemplate=gettext("{model} recon {value} at step {step}").format(**fields)
                         + "<extra></extra>")]
    if kind == "vae":
        traces.append(go.Scatter(x=steps, y=[r["kl"] for r in recs], mode="lines", name=f"{name} KL",
                                 line=dict(color=color, width=1.5, dash="dot"),
                                 hovertemplate=gettext("{model} KL {value} at step {step}").format(**fields)
                                 + "<extra></extra>"))
    return traces


@dataclass(frozen=True)
class ReplayDecoded:
    """One model's decoder at every frame: a tiled grid image and a tiled strip of prior draws,
    each (K, H, W[, C]) in [0, 1] (``image_figures.tile`` of ``replay.replay_images``)."""

    grid: np.ndarray
    prior: np.ndarray


def replay_animation(panels: Sequence[ReplayPanel], labels: np.ndarray, class_names: Sequence[str],
                     steps: Sequence[int], epochs: Sequence[float],
                     histories: dict[str, list[dict]], active: int = 0, height: int = 560,
                     frame_ms: int = 450, decoded: Sequence[ReplayDecoded] | None = None,
                     grid_titles: Sequence[str] = (), prior_title: str = "",
                     gettext: Translate = no_translation) -> go.Figure:
    """Latent maps of ``panels`` side by side plus a loss panel (log-scaled steps) with a cursor,
    animated over the K snapshots; with ``decoded`` (one per panel) a second row shows each
    decoder's grid under its map (titled ``grid_titles``) and their prior draws, one strip above
    the other, under the loss panel (``prior_title``), animated with them.
    ``histories`` maps "AE"/"VAE" to a run's history. The figure opens at frame ``active``; its
    one slider and play button move everything together in the browser (no server round trip).

    Each map is one trace coloured per point (legend entries are empty traces), and a frame
    carries only what moves (x and y, the cursor, the images): the JSON a page sends stays small,
    and copying the figure for a page view is cheap."""
    from plotly.subplots import make_subplots

    from vae_core.viz.image_figures import png_data_uri

    labels = np.asarray(labels)
    classes = [int(c) for c in np.unique(labels)]
    colors = [class_color(int(c)) for c in labels]
    n_maps, rows = len(panels), 2 if decoded else 1
    titles = ([gettext("{model} codes").format(model=p.label) for p in panels]
              + [gettext("Training loss (nats / image)")])
    if decoded:
        titles += [*grid_titles, prior_title]
    fig = make_subplots(rows=rows, cols=n_maps + 1, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=0.16, row_heights=[0.55, 0.45] if decoded else None)

    def map_trace(p: ReplayPanel, k: int) -> dict:
        return dict(type="scatter", x=p.xy[k, :, 0], y=p.xy[k, :, 1])

    top = max((max([r.get("recon", 0.0) for r in h] + [r.get("kl", 0.0) for r in h])
               for h in histories.values() if h), default=1.0)

    def cursor(k: int) -> dict:
        x = max(int(steps[k]), 1)  # a log axis has no 0: the initial weights sit at step 1
        return dict(type="scatter", x=[x, x], y=[0, top])

    def stacked_priors(k: int) -> np.ndarray:  # every panel's draws, one above the other
        strips = [d.prior[k] for d in decoded]
        gap = np.full((2, *strips[0].shape[1:]), 0.5, np.float32)
        out = strips[0]
        for strip in strips[1:]:
            out = np.concatenate([out, gap, strip])
        return out

    def images(k: int) -> list[dict]:
        return ([dict(type="image", source=png_data_uri(d.grid[k])) for d in decoded]
                + [dict(type="image", source=png_data_uri(stacked_priors(k)))])

    # static traces first (prior circles, loss curves, legend entries), then the animated ones
    for i, p in enumerate(panels):
        for s in (1, 2, 3):
            x, y = circle(p.prior_center, s)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", hoverinfo="skip", showlegend=False,
                                     line=dict(color=PRIOR_LINE, width=1, dash="solid" if s == 1 else "dot")),
                          row=1, col=i + 1)
    for label, history in histories.items():
        color = model_color(label)
        for tr in _curve_traces(history, label, color, label.lower(), gettext):
            fig.add_trace(tr, row=1, col=n_maps + 1)
    for c in classes:  # the class legend; the points themselves are one trace per map
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", showlegend=True,
                                 name=str(class_names[c]) if c < len(class_names) else str(c),
                                 marker=dict(size=6, color=class_color(c))), row=1, col=1)
    animated: list[int] = []
    for i, p in enumerate(panels):
        fig.add_trace(go.Scatter(**map_trace(p, active), mode="markers", showlegend=False,
                                 marker=dict(size=4, color=colors, opacity=0.75), hoverinfo="skip"),
                      row=1, col=i + 1)
        animated.append(len(fig.data) - 1)
    fig.add_trace(go.Scatter(**cursor(active), mode="lines", name="now", showlegend=False,
                             line=dict(color="black", width=2), hoverinfo="skip"), row=1, col=n_maps + 1)
    animated.append(len(fig.data) - 1)
    if decoded:
        for i, tr in enumerate(images(active)):
            fig.add_trace(go.Image(source=tr["source"], hoverinfo="skip"), row=2, col=i + 1)
            animated.append(len(fig.data) - 1)
            fig.update_xaxes(showticklabels=False, row=2, col=i + 1)
            fig.update_yaxes(showticklabels=False, row=2, col=i + 1)

    for i, p in enumerate(panels):
        axis = "" if i == 0 else str(i + 1)
        fig.update_xaxes(range=list(p.axis_range), row=1, col=i + 1, zeroline=False, title_text=p.axis_titles[0])
        fig.update_yaxes(range=list(p.axis_range), row=1, col=i + 1, zeroline=False, title_text=p.axis_titles[1],
                         scaleanchor=f"x{axis}", scaleratio=1)
    fig.update_xaxes(type="log", title_text=gettext("step (log scale)"), row=1, col=n_maps + 1,
                     **AXIS_NUMBERS)
    fig.update_yaxes(range=[0, top * 1.05], row=1, col=n_maps + 1)

    fig.frames = [go.Frame(name=str(k), traces=animated,
                           data=[map_trace(p, k) for p in panels] + [cursor(k)]
                           + (images(k) if decoded else []))
                  for k in range(len(steps))]
    # images change only with a full redraw; play always runs from the first snapshot
    redraw = bool(decoded)
    play = dict(frame=dict(duration=frame_ms, redraw=redraw), transition=dict(duration=0 if redraw else frame_ms * 0.6),
                mode="immediate")
    below = -0.2 if not decoded else -0.1
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=50, b=10), title_text=gettext("AE and VAE codes during training"),
        legend=dict(orientation="h", y=below - 0.22, itemsizing="constant"),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=below, xanchor="left", yanchor="top",
                          showactive=False, pad=dict(r=8, t=0),
                          buttons=[dict(label=gettext("▶ Play"), method="animate",
                                        args=[[str(k) for k in range(len(steps))], play]),
                                   dict(label=gettext("❚❚ Pause"), method="animate",
                                        args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])],
        sliders=[dict(active=active, x=0.17, y=below + 0.04, len=0.83, xanchor="left", yanchor="top",
                      currentvalue=dict(prefix=gettext("optimizer step ")), pad=dict(t=0),
                      steps=[dict(label=str(steps[k]), method="animate",
                                  args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=redraw),
                                                       transition=dict(duration=0))])
                             for k in range(len(steps))])])
    return fig
