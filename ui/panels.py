"""Latent panels: the chosen models with their test sets encoded, each drawn in a plane at one
scale shared by all panels, and tiled images shown crisp."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.resources import encoded_test_set, run_dataset
from vae_core import ImageDataset, Run, figures
from vae_core.latent_tools import Projection, dims_projection, pca_2d, plane_coords, shared_range


@dataclass(frozen=True)
class ModelCodes:
    """One model of the pair with its test set encoded: what every latent view starts from."""

    label: str  # "AE" or "VAE"
    run: Run
    data: ImageDataset
    mu: np.ndarray  # (N, D) test-set codes (the AE's z, the VAE's posterior means)
    logvar: np.ndarray | None  # (N, D) for the VAE

    @property
    def latent_dim(self) -> int:
        return self.run.model_config.latent_dim


def encoded_models(ae: Run | None, vae: Run | None) -> list[ModelCodes]:
    """The chosen models with their test sets encoded once per run (cached). A model whose data
    set cannot be loaded, or whose input size does not fit it, is reported and left out."""
    out: list[ModelCodes] = []
    for label, run in (("AE", ae), ("VAE", vae)):
        data = run_dataset(run) if run is not None else None
        if data is not None:
            out.append(ModelCodes(label, run, data, *encoded_test_set(run)))
    return out


def projection_for(codes: ModelCodes, plane: str | tuple[int, int]) -> Projection:
    """The plotted plane for one model: its PCA plane, the chosen dims if it has them (else dims
    0 and 1), or its single dim when latent_dim is 1."""
    d = codes.latent_dim
    if d == 1:
        return dims_projection(1, (0,))
    if plane == "pca":
        return pca_2d(codes.mu)
    dims = plane if max(plane) < d else (0, 1)
    return dims_projection(d, dims)


@dataclass(frozen=True)
class LatentPanel:
    """One model's codes in its plotted plane (x, jitter for a 1-d latent space)."""

    codes: ModelCodes
    projection: Projection
    xy: np.ndarray  # (N, 2)

    @property
    def one_d(self) -> bool:
        return self.codes.latent_dim == 1

    def to_plane(self, z: np.ndarray) -> np.ndarray:
        """Extra codes (K, D) in this plane; on a 1-d axis they sit at height 0."""
        p = self.projection(np.asarray(z).reshape(-1, self.codes.latent_dim))
        return np.column_stack([p[:, 0], np.zeros(len(p))]) if self.one_d else p

    def scatter(self, axis_range: tuple[float, float], title: str | None = None, height: int = 460,
                **kwargs) -> go.Figure:
        m = self.codes
        fig = figures.latent_scatter(
            self.xy, m.data.test_y.numpy(), m.data.class_names, title or f"{m.label}: {m.run.name}",
            axis_range, prior_center=tuple(self.projection.prior_center) + (0.0,) * self.one_d,
            axis_titles=self.projection.axis_titles, one_d=self.one_d, **kwargs)
        return fig.update_layout(height=height)


def latent_panels(models: list[ModelCodes], plane: str | tuple[int, int]) -> tuple[list[LatentPanel], tuple[float, float]]:
    """Each model's panel plus one axis range shared by all (points and 3-sigma prior circles)."""
    panels = []
    for m in models:
        proj = projection_for(m, plane)
        panels.append(LatentPanel(m, proj, plane_coords(proj(m.mu))))
    if any(p.one_d for p in panels):
        st.info("A 1-d latent space is drawn along x with random vertical jitter (the height means "
                "nothing); the 2-d pictures need latent size 2 or more.", icon=":material/info:")
    axis_range = shared_range(*(p.xy[:, :1] if p.one_d else p.xy for p in panels),
                              prior_centers=[p.projection.prior_center for p in panels])
    return panels, axis_range


def upscale(image: np.ndarray, min_width: int = 320, max_factor: int = 16) -> np.ndarray:
    """Nearest-neighbour enlargement so small tiles stay crisp when the browser shows them."""
    factor = int(min(max_factor, max(1, math.ceil(min_width / max(image.shape[1], 1)))))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def show_images(images: np.ndarray, ncols: int, caption: str | None = None, min_width: int = 320) -> None:
    """Images (N, H, W) tiled into one picture (grey gaps), enlarged by whole pixels so small
    digits stay crisp: at least ``min_width`` wide and about 56 px per tile, up to 900 px."""
    target = max(min_width, min(900, ncols * 56))
    st.image(upscale(figures.tile(images, ncols, pad=1, pad_value=0.5), target), caption=caption,
             clamp=True, output_format="PNG")  # JPEG would smear the hard pixel edges
