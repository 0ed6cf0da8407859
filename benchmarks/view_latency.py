"""Latency of the exploration views, the parts a slider drag waits for (excluding the browser).

1. Decoder grid, 20 x 20 codes: ``grid_codes`` + ``decode_images`` + ``tile`` (compute, target
   <= 100 ms) and then ``image_figures.decoded_grid`` (PNG encoding) + ``to_json`` (drawing), for a
   digits-size model (8x8, MLP 256-128) and MNIST-size ones (28x28, MLP 512-256 and conv 32-64).
   Weights are untrained: the time does not depend on their values.
2. Latent scatter with 10,000 points in 10 classes: ``figures.latent_scatter`` (WebGL, numpy
   arrays, written as base64 typed arrays by plotly) against a baseline built the plain way
   (SVG ``go.Scatter`` traces from Python lists): build + to_json time and JSON size, with ratios.

Medians over repeated trials after a warm-up, in one process.

    .venv/bin/python benchmarks/view_latency.py [--trials 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vae_core import ModelConfig, build_model

from vae_core.viz import figures, image_figures  # noqa: E402
from vae_core.analysis.latent_tools import (decode_images, grid_axis, grid_codes, shared_range)  # noqa: E402

TARGET_MS = 100.0


def median_ms(fn: Callable[[], object], trials: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(trials):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_grid(name: str, cfg: ModelConfig, trials: int, n: int = 20) -> None:
    model = build_model(cfg).eval()
    axis = grid_axis(n, 3.0)

    def compute() -> np.ndarray:
        return decode_images(model, grid_codes(n, cfg.latent_dim, r=3.0))

    images = compute()
    image = image_figures.tile(images, n, pad=1)

    def draw() -> str:  # tiling, PNG encoding and JSON
        return image_figures.decoded_grid(images, n, name, axis).to_json()

    c, d = median_ms(compute, trials), median_ms(draw, trials)
    print(f"  {name:<28} compute {c:7.1f} ms ({c / TARGET_MS:4.2f}x of the {TARGET_MS:.0f} ms target)"
          f" | draw {d:6.1f} ms | total {c + d:7.1f} ms | image {image.shape[1]}x{image.shape[0]} px,"
          f" JSON {len(draw()) / 1024:6.1f} KiB")


def plain_scatter(codes: np.ndarray, labels: np.ndarray) -> go.Figure:
    """The baseline: SVG traces fed Python lists, as many notebooks do."""
    fig = go.Figure()
    for label in np.unique(labels):
        mask = labels == label
        fig.add_trace(go.Scatter(x=codes[mask, 0].tolist(), y=codes[mask, 1].tolist(), mode="markers",
                                 customdata=np.flatnonzero(mask).tolist(), name=str(label)))
    return fig


def bench_scatter(trials: int, n: int = 10_000) -> None:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (n,), generator=g).numpy()
    codes = (torch.randn(n, 2, generator=g) + torch.as_tensor(labels)[:, None] * 0.3).numpy()
    rng = shared_range(codes)
    names = tuple(str(i) for i in range(10))
    ours = lambda: figures.latent_scatter(codes, labels, names, "VAE", rng).to_json()  # noqa: E731
    base = lambda: plain_scatter(codes, labels).to_json()  # noqa: E731
    t_ours, t_base = median_ms(ours, trials), median_ms(base, trials)
    s_ours, s_base = len(ours()), len(base())
    print(f"  latent_scatter (Scattergl)    build+JSON {t_ours:6.1f} ms | JSON {s_ours / 1024:7.1f} KiB")
    print(f"  baseline (go.Scatter, lists)  build+JSON {t_base:6.1f} ms | JSON {s_base / 1024:7.1f} KiB")
    print(f"  ratio baseline/ours: time {t_base / t_ours:4.2f}x, JSON size {s_base / s_ours:4.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=15)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # Other processes on a small CPU distort medians: print the load so numbers can be judged.
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("Decoder grid, 20 x 20 = 400 decoded images:")
    bench_grid("digits 8x8, MLP 256-128", ModelConfig(hidden=(256, 128), input_shape=(1, 8, 8)), args.trials)
    bench_grid("MNIST 28x28, MLP 512-256", ModelConfig(hidden=(512, 256), input_shape=(1, 28, 28)), args.trials)
    bench_grid("MNIST 28x28, conv 32-64", ModelConfig(arch="conv", hidden=(32, 64), input_shape=(1, 28, 28)),
               args.trials)
    print("Latent scatter, 10,000 points in 10 classes (+ prior contours):")
    bench_scatter(args.trials)


if __name__ == "__main__":
    main()
