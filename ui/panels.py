"""Latent panels: the chosen models with their test sets encoded, each drawn in a plane at its own
scale or at one scale shared by all panels, and tiled images shown crisp."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.captions import collapse_warning, scale_note
from ui.i18n import _, current_language, translate
from ui.links import BIND
from ui.pickers import pick_pair
from ui.resources import encoded_test_set, figure_template, from_template, run_code_stats, run_dataset
from vae_core import ImageDataset, Run, RunInfo
from vae_core.viz import figures, image_figures
from vae_core.store.stored_codes import StoredCodes
from vae_core.analysis.latent_tools import (Projection, dims_projection, pca_2d, plane_coords,
                                            shared_range)


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

    @property
    def stats(self) -> dict:
        """``scorecard.code_stats`` of these codes (span, centring, collapse…), cached per run, with
        the run's training ``beta`` (what helps a collapsed VAE depends on it)."""
        return {**run_code_stats(self.run), "beta": self.run.train_config.beta}

    @cached_property
    def sampled(self) -> np.ndarray:
        """(N, D) the codes the decoder sees: the AE's z, or one seeded z ~ q(z|x) per test image
        for the VAE (``generation.decoder_codes``, the generation test's and the scorecard's)."""
        from vae_core.analysis.generation import decoder_codes

        return decoder_codes(self.mu, self.logvar).numpy()


def encoded_models(ae: Run | None, vae: Run | None) -> list[ModelCodes]:
    """The chosen models with their test sets encoded once per run (cached). A model whose data
    set cannot be loaded, or whose input size does not fit it, is reported and left out."""
    out: list[ModelCodes] = []
    for label, run in (("AE", ae), ("VAE", vae)):
        data = run_dataset(run) if run is not None else None
        if data is not None:
            out.append(ModelCodes(label, run, data, *encoded_test_set(run)))
    return out


def pick_encoded_models(key: str, prefer: Callable[[RunInfo], bool] | None = None,
                        ) -> list[ModelCodes]:
    """The run pickers of a page (``pick_pair(key, prefer)``) and the chosen models with their test sets
    encoded; the page stops here, after the pickers' notice, when there is nothing to show."""
    models = encoded_models(*pick_pair(key, prefer))
    if not models:
        st.stop()
    return models


def projection_for(codes: ModelCodes, plane: str | tuple[int, int]) -> Projection:
    """The plotted plane for one model: its PCA plane, the chosen dims if it has them (else dims
    0 and 1), or its single dim when latent_dim is 1."""
    d = codes.latent_dim
    if d == 1:
        return dims_projection(1, (0,))
    if plane == "pca":
        return pca_2d(codes.mu, gettext=_)
    dims = plane if max(plane) < d else (0, 1)
    return dims_projection(d, dims)


@dataclass(frozen=True)
class LatentPanel:
    """One model's codes in its plotted plane (x, jitter for a 1-d latent space)."""

    codes: ModelCodes
    projection: Projection
    xy: np.ndarray  # (N, 2)
    axis_range: tuple[float, float]  # its own, or the one shared by all panels

    @property
    def one_d(self) -> bool:
        return self.codes.latent_dim == 1

    def to_plane(self, z: np.ndarray) -> np.ndarray:
        """Extra codes (K, D) in this plane; on a 1-d axis they sit at height 0."""
        p = self.projection(np.asarray(z).reshape(-1, self.codes.latent_dim))
        return np.column_stack([p[:, 0], np.zeros(len(p))]) if self.one_d else p

    def with_codes(self, codes: np.ndarray) -> "LatentPanel":
        """The same panel (plane, range) drawing other codes (N, D) of the same test images."""
        return replace(self, xy=plane_coords(self.projection(np.asarray(codes))))

    def own_range(self, *extra: np.ndarray) -> tuple[float, float]:
        """The range that holds this panel's codes, the prior's 3σ circle and ``extra`` points."""
        return shared_range(self.xy[:, :1] if self.one_d else self.xy, *extra,
                            prior_centers=[self.projection.prior_center])

    def scatter(self, axis_range: tuple[float, float] | None = None, title: str | None = None,
                height: int = 460, **kwargs) -> go.Figure:
        """The panel's latent scatter (``plane_scatter``)."""
        m = self.codes
        return plane_scatter(self.xy, self.projection, self.one_d, m.run.dataset,
                             tuple(m.data.class_names), m.data.test_y.numpy(),
                             title or f"{m.label}: {m.run.name}",
                             self.axis_range if axis_range is None else axis_range, height, **kwargs)

    def marginals(self, codes: np.ndarray, title: str, height: int = 230) -> go.Figure:
        """Histograms of ``codes`` (N, D) in this panel's plane against the prior's marginals,
        built once per codes, title and language and shared by every session (they were 38 % of a
        warm Latent space view: ``make_subplots`` validates every property)."""
        m = self.codes
        return from_template(_marginals_template(
            self.projection(np.asarray(codes)), tuple(self.projection.axis_titles),
            tuple(float(a) for a in self.axis_range),
            tuple(float(c) for c in self.projection.prior_center), title,
            figures.model_color("ae" if m.logvar is None else "vae"), height, current_language()))


def plane_scatter(xy: np.ndarray, projection: Projection, one_d: bool, dataset: str,
                  class_names: tuple[str, ...], labels: np.ndarray, title: str,
                  axis_range: tuple[float, float], height: int = 460, **kwargs) -> go.Figure:
    """Test codes ``xy`` (N, 2) in a plane as a latent scatter, a figure of the caller's own; built
    once per codes, labels, look and language and shared by every session
    (``resources.figure_template``)."""
    return from_template(_scatter_template(
        xy, dataset, class_names, title, tuple(float(a) for a in axis_range),
        tuple(float(c) for c in projection.prior_center) + (0.0,) * one_d,
        tuple(projection.axis_titles), one_d, height, current_language(), kwargs, labels))


def stored_scatter(info: RunInfo, codes: StoredCodes, title: str, height: int = 460,
                   **kwargs) -> go.Figure:
    """What ``latent_panels(models, (0, 1))`` draws for this run at its own scale, from its stored
    test codes (``vae_core.store.stored_codes``): no run loaded, no torch (the Overview's cold
    first view). Latent size 2 or more."""
    projection = dims_projection(info.latent_dim, (0, 1))
    xy = plane_coords(projection(codes.mu))
    return plane_scatter(xy, projection, False, info.dataset, codes.class_names, codes.labels,
                         title, shared_range(xy, prior_centers=[projection.prior_center]), height,
                         **kwargs)


@st.cache_resource(show_spinner=False, max_entries=64)
def _marginals_template(xy: np.ndarray, axis_titles: tuple, axis_range: tuple, prior_center: tuple,
                        title: str, color: str, height: int, lang: str) -> dict:
    return figure_template(figures.marginal_histograms(
        xy, axis_titles, axis_range, title=title, prior_center=prior_center, color=color,
        gettext=lambda message: translate(message, lang)).update_layout(height=height))


@st.cache_resource(show_spinner=False, max_entries=256)
def _scatter_template(xy: np.ndarray, dataset: str, class_names: tuple, title: str,
                      axis_range: tuple, prior_center: tuple, axis_titles: tuple, one_d: bool,
                      height: int, lang: str, kwargs: dict, _labels: np.ndarray) -> dict:
    # ``_labels`` are the test labels of ``dataset`` (not hashed: the data set names them)
    return figure_template(figures.latent_scatter(
        xy, _labels, class_names, title, axis_range, prior_center=prior_center,
        axis_titles=axis_titles, one_d=one_d, gettext=lambda message: translate(message, lang),
        **kwargs).update_layout(height=height))


def latent_panels(models: list[ModelCodes], plane: str | tuple[int, int],
                  shared_axes: bool = False, one_d_notice: bool = True) -> list[LatentPanel]:
    """Each model's panel, drawn at its own scale or (``shared_axes``) at one range holding every
    panel's points and 3-sigma prior circles. ``one_d_notice``: explain a 1-d latent axis (once
    per page)."""
    planes = []
    for m in models:
        proj = projection_for(m, plane)
        planes.append((m, proj, plane_coords(proj(m.mu))))
    if one_d_notice and any(m.latent_dim == 1 for m in models):
        st.info(_("A 1-d latent space is drawn along x with random vertical jitter (the height means "
                  "nothing); the 2-d pictures need latent size 2 or more."), icon=":material/info:")

    def points(m: ModelCodes, xy: np.ndarray) -> np.ndarray:
        return xy[:, :1] if m.latent_dim == 1 else xy

    shared = shared_range(*(points(m, xy) for m, _, xy in planes),
                          prior_centers=[proj.prior_center for _, proj, _ in planes])
    return [LatentPanel(m, proj, xy, shared if shared_axes else
                        shared_range(points(m, xy), prior_centers=[proj.prior_center]))
            for m, proj, xy in planes]


def scale_choice(key: str) -> bool:
    """A toggle between own scales (default: each cloud readable) and shared axes; True = shared."""
    return st.toggle(_("Shared axes (same scale for both panels)"), key=f"{key}_shared_axes",
                     help=_("Off: each panel is scaled to its own codes, so both clouds can be read. "
                            "On: sizes can be compared directly, but a wide AE cloud squeezes the "
                            "VAE's into the middle of its panel."), bind=BIND)


def pair_notes(models: list[ModelCodes], shared_axes: bool | None = None) -> None:
    """The collapse warning for a collapsed VAE, and (given ``shared_axes``) how to read the two
    panels' scales side by side."""
    by_label = {m.label: m for m in models}
    if "VAE" in by_label:
        warning = collapse_warning(by_label["VAE"].stats, _)
        if warning:
            st.warning(warning, icon=":material/warning:")
    if shared_axes is not None and len(by_label) == 2:
        vae = by_label["VAE"].stats
        note = scale_note(by_label["AE"].stats["code_span"], vae["code_span"], shared_axes,
                          vae_collapsed=bool(vae["collapsed"]), gettext=_)
        if note:
            st.caption(note)


def upscale(image: np.ndarray, min_width: int = 320, max_factor: int = 16) -> np.ndarray:
    """Nearest-neighbour enlargement so small tiles stay crisp when the browser shows them."""
    factor = int(min(max_factor, max(1, math.ceil(min_width / max(image.shape[1], 1)))))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def show_images(images: np.ndarray, ncols: int, caption: str | None = None, min_width: int = 320) -> None:
    """Images (N, H, W) tiled into one picture (grey gaps), enlarged by whole pixels so small
    digits stay crisp: at least ``min_width`` wide and about 56 px per tile, up to 900 px."""
    target = max(min_width, min(900, ncols * 56))
    st.image(upscale(image_figures.tile(images, ncols, pad=1, pad_value=0.5), target), caption=caption,
             clamp=True, output_format="PNG")  # JPEG would smear the hard pixel edges
