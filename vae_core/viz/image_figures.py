"""Images as figures: decoded images tiled into one PNG with latent ticks (the decoder grid, the
walk between two codes), judged tiles (each draw with the judge's class and confidence) and the
histogram of judged classes per source. Numpy arrays in, Plotly figures out.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from vae_core.text import Translate, no_translation
from vae_core.viz.figures import AE_COLOR, VAE_COLOR


def tile(images: np.ndarray, ncols: int, pad: int = 0, pad_value: float = 1.0) -> np.ndarray:
    """Lay images (N, H, W[, C]) out row by row in one array of
    (rows*H + (rows-1)*pad, ncols*W + (ncols-1)*pad[, C]); empty cells get ``pad_value``."""
    images = np.asarray(images)
    n = len(images)
    ncols = max(1, min(int(ncols), max(n, 1)))
    rows = max(1, math.ceil(n / ncols))
    h, w = images.shape[1:3]
    extra = images.shape[3:]
    out = np.full((rows * h + (rows - 1) * pad, ncols * w + (ncols - 1) * pad, *extra),
                  pad_value, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, ncols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = images[k]
    return out


def png_data_uri(image: np.ndarray) -> str:
    """A grey (H, W) or RGB (H, W, 3) float image in [0, 1] as a base64 PNG data URI (compact
    in the figure JSON, unlike a heatmap's list of numbers)."""
    import base64
    import io

    from PIL import Image

    arr = (np.clip(np.asarray(image, np.float64), 0, 1) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def decoded_grid(images: np.ndarray, ncols: int, title: str, axis_values: np.ndarray | None = None,
                 axis_titles: tuple[str, ...] = ("z1", "z2"), two_d: bool = True,
                 max_ticks: int = 7, gettext: Translate = no_translation) -> go.Figure:
    """Decoded images (N, H, W[, C]) tiled ``ncols`` wide with grey 1-pixel gaps, as one image
    with the latent value of the cell centres as ticks.

    ``axis_values`` are the n values along each axis (ascending); in a 2-d grid rows run from the
    largest y at the top, like the scatter plot the grid stands for; else it is one strip.
    """
    image = tile(images, ncols, pad=1, pad_value=0.5)
    h, w = image.shape[:2]
    fig = go.Figure(go.Image(source=png_data_uri(image), hoverinfo="skip"))
    if axis_values is not None:
        n = len(axis_values)
        step = max(1, int(np.ceil(n / max_ticks)))
        cells = list(range(0, n, step))
        # Cell centres; the 1-pixel separators between tiles are n - 1 extra pixels.
        fig.update_xaxes(tickvals=[(j + 0.5) * (w + 1) / n - 1 for j in cells],
                         ticktext=[f"{axis_values[j]:.2g}" for j in cells], title_text=axis_titles[0])
        if two_d:  # row i shows y = axis_values[n - 1 - i]
            fig.update_yaxes(tickvals=[(i + 0.5) * (h + 1) / n - 1 for i in cells],
                             ticktext=[f"{axis_values[n - 1 - i]:.2g}" for i in cells],
                             title_text=axis_titles[-1])
        else:
            fig.update_yaxes(showticklabels=False)
    else:
        fig.update_xaxes(showticklabels=False)
        fig.update_yaxes(showticklabels=False)
    fig.update_layout(title=title, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def judged_tiles(images: np.ndarray, ncols: int, title: str, labels: np.ndarray,
                 confidence: np.ndarray, class_names: tuple[str, ...] | list[str],
                 threshold: float, gettext: Translate = no_translation) -> go.Figure:
    """Decoded draws (N, H, W) tiled ``ncols`` wide, each captioned under it with the judge's
    class and confidence: black when confident (>= ``threshold``), red when not."""
    images = np.asarray(images, np.float32)
    n, h, w = images.shape[:3]
    band = max(4, h // 2)  # a white strip under each tile holds its caption
    banded = np.concatenate([images, np.ones((n, band, *images.shape[2:]), np.float32)], axis=1)
    notes = []
    for k in range(n):
        r, c = divmod(k, ncols)
        ok = confidence[k] >= threshold
        name = class_names[int(labels[k])] if 0 <= int(labels[k]) < len(class_names) else str(labels[k])
        notes.append(dict(x=c * (w + 1) + (w - 1) / 2, y=r * (h + band + 1) + h + (band - 1) / 2,
                          text=f"{name} {confidence[k]:.2f}", showarrow=False,
                          font=dict(size=9, color="black" if ok else "#c92a2a")))
    # One layout update: 64 add_annotation calls took 0.9 s (each validates the whole list).
    fig = decoded_grid(banded, ncols, title).update_layout(annotations=notes)
    return fig.update_xaxes(visible=False).update_yaxes(visible=False)  # tiles, not coordinates


def class_histogram(counts: dict[str, np.ndarray], unsure: dict[str, int],
                    class_names: tuple[str, ...] | list[str], title: str = "", gettext: Translate = no_translation) -> go.Figure:
    """Grouped bars: per series (e.g. "AE, N(0, I)"), the draws the judge confidently gave each
    class, plus one bar of the draws it was not confident about."""
    x = [str(c) for c in class_names] + [gettext("not confident")]
    # Plotly fills %{x} (the class) and %{y} (the count) per bar.
    hover = gettext("{x}: {count} draws").format(x="%{x}", count="%{y}")
    colors = (AE_COLOR, VAE_COLOR, "#2f9e44", "#ae3ec9", "#1098ad")  # AE: 4 sources
    fig = go.Figure([go.Bar(x=x, y=list(np.asarray(v).tolist()) + [unsure[name]], name=name,
                            marker_color=colors[i % len(colors)],
                            hovertemplate=f"{name}<br>{hover}<extra></extra>")
                     for i, (name, v) in enumerate(counts.items())])
    fig.update_layout(title=title, barmode="group", margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title=gettext("class the judge gives the decoded draw"),
                      yaxis_title=gettext("draws"),
                      legend=dict(orientation="h", y=-0.3))
    fig.update_xaxes(type="category")  # class names "0".."9" are labels, not numbers
    return fig
