"""The training-replay animation: both latent maps and the loss curves, one Plotly figure whose
animation frames are the saved snapshots (a play button and a scrub slider, drawn by the browser
without a server round trip). Arrays in, Figure out; no Streamlit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from .figures import AE_COLOR, AXIS_NUMBERS, PRIOR_LINE, VAE_COLOR, _circle, class_color
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


def replay_animation(panels: Sequence[ReplayPanel], labels: np.ndarray, class_names: Sequence[str],
                     steps: Sequence[int], epochs: Sequence[float],
                     histories: dict[str, list[dict]], active: int = 0, height: int = 560,
                     frame_ms: int = 450, gettext: Translate = no_translation) -> go.Figure:
    """Latent maps of ``panels`` side by side plus a loss panel (log-scaled steps) with a cursor,
    animated over the K snapshots. ``histories`` maps "AE"/"VAE" to a run's history. The figure
    opens at frame ``active``; its slider and play button move all panels together."""
    from plotly.subplots import make_subplots

    labels = np.asarray(labels)
    classes = [int(c) for c in np.unique(labels)]
    n_maps = len(panels)
    titles = ([gettext("{model} codes").format(model=p.label) for p in panels]
              + [gettext("Training loss (nats / image)")])
    fig = make_subplots(rows=1, cols=n_maps + 1, subplot_titles=titles, horizontal_spacing=0.06)

    def map_traces(p: ReplayPanel, k: int) -> list[go.Scatter]:
        xy = p.xy[k]
        return [go.Scatter(x=xy[labels == c, 0], y=xy[labels == c, 1], mode="markers",
                           name=str(class_names[c]) if c < len(class_names) else str(c),
                           legendgroup=f"class{c}", showlegend=i == 0,
                           marker=dict(size=4, color=class_color(c), opacity=0.75), hoverinfo="skip")
                for c in classes]

    top = max((max([r.get("recon", 0.0) for r in h] + [r.get("kl", 0.0) for r in h])
               for h in histories.values() if h), default=1.0)

    def cursor(k: int) -> go.Scatter:
        x = max(int(steps[k]), 1)  # a log axis has no 0: the initial weights sit at step 1
        return go.Scatter(x=[x, x], y=[0, top], mode="lines", name="now", showlegend=False,
                          line=dict(color="black", width=2), hoverinfo="skip")

    # static traces first (prior circles, loss curves), then the animated ones in a fixed order
    for i, p in enumerate(panels):
        for s in (1, 2, 3):
            x, y = _circle(p.prior_center, s)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", hoverinfo="skip", showlegend=False,
                                     line=dict(color=PRIOR_LINE, width=1, dash="solid" if s == 1 else "dot")),
                          row=1, col=i + 1)
    for label, history in histories.items():
        color = AE_COLOR if label == "AE" else VAE_COLOR
        for tr in _curve_traces(history, label, color, label.lower(), gettext):
            fig.add_trace(tr, row=1, col=n_maps + 1)
    animated: list[int] = []
    for i, p in enumerate(panels):
        for tr in map_traces(p, active):
            fig.add_trace(tr, row=1, col=i + 1)
            animated.append(len(fig.data) - 1)
    fig.add_trace(cursor(active), row=1, col=n_maps + 1)
    animated.append(len(fig.data) - 1)

    for i, p in enumerate(panels):
        axis = "" if i == 0 else str(i + 1)
        fig.update_xaxes(range=list(p.axis_range), row=1, col=i + 1, zeroline=False, title_text=p.axis_titles[0])
        fig.update_yaxes(range=list(p.axis_range), row=1, col=i + 1, zeroline=False, title_text=p.axis_titles[1],
                         scaleanchor=f"x{axis}", scaleratio=1)
    fig.update_xaxes(type="log", title_text=gettext("step (log scale)"), row=1, col=n_maps + 1,
                     **AXIS_NUMBERS)
    fig.update_yaxes(range=[0, top * 1.05], row=1, col=n_maps + 1)

    fig.frames = [go.Frame(name=str(k), traces=animated,
                           data=[tr for p in panels for tr in map_traces(p, k)] + [cursor(k)])
                  for k in range(len(steps))]
    # play always runs from the first snapshot (the figure usually opens at the last one)
    play = dict(frame=dict(duration=frame_ms, redraw=False), transition=dict(duration=frame_ms * 0.6),
                mode="immediate")
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=50, b=10), title_text=gettext("AE and VAE codes during training"),
        legend=dict(orientation="h", y=-0.42, itemsizing="constant"),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.2, xanchor="left", yanchor="top",
                          showactive=False, pad=dict(r=8, t=0),
                          buttons=[dict(label=gettext("▶ Play"), method="animate",
                                        args=[[str(k) for k in range(len(steps))], play]),
                                   dict(label=gettext("❚❚ Pause"), method="animate",
                                        args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])],
        sliders=[dict(active=active, x=0.17, y=-0.16, len=0.83, xanchor="left", yanchor="top",
                      currentvalue=dict(prefix=gettext("optimizer step ")), pad=dict(t=0),
                      steps=[dict(label=str(steps[k]), method="animate",
                                  args=[[str(k)], dict(mode="immediate", frame=dict(duration=0, redraw=False),
                                                       transition=dict(duration=0))])
                             for k in range(len(steps))])])
    return fig
