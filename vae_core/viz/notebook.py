"""Export a run as a Jupyter notebook that reproduces it with the public API.

The notebook (nbformat 4 JSON, written as a plain dict: no Jupyter package needed) rebuilds the
run's ``ModelConfig`` and ``TrainConfig`` from its saved values, loads the same data set, trains
with ``vae_core.train``, draws the loss curves and the latent map, and compares its final test
numbers with the ones saved with the run. Same configs and seed give the same run on the same
machine (numbers may differ in the last digits on other hardware).
"""
from __future__ import annotations

import json
import math
from typing import Any

from vae_core.config import ModelConfig, TrainConfig

NBFORMAT, NBFORMAT_MINOR = 4, 4  # 4.4: cells need no ids


def _python_dict(values: dict[str, float]) -> str:
    """A dict literal that Python reads back: a NaN or infinite number (a diverged run's final
    loss) as ``float('nan')``, not JSON's ``NaN``, which is no Python name."""
    def number(v: float) -> str:
        return repr(float(v)) if math.isfinite(v) else f"float({str(float(v))!r})"
    return "{" + ", ".join(f"{k!r}: {number(v)}" for k, v in values.items()) + "}"


def _cell(kind: str, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": source.strip("\n").splitlines(True)}
    if kind == "code":
        cell.update({"execution_count": None, "outputs": []})
    return cell


def run_notebook(name: str, model_cfg: ModelConfig, train_cfg: TrainConfig, dataset: str,
                 final: dict[str, float] | None = None) -> dict[str, Any]:
    """The notebook for one run, as an nbformat-4 dict (``json.dumps`` it to get the .ipynb)."""
    label = "AE" if model_cfg.kind == "ae" else f"VAE (β = {train_cfg.beta:g})"
    saved = ", ".join(f"{k} {v:.3f}" for k, v in (final or {}).items()) or "not recorded"
    cells = [
        _cell("markdown", f"""
# VAE Lab run `{name}`: {label} on {dataset}

This notebook reproduces the run with the `vae_core` package of VAE Lab: the same configs, data
set and seed, trained from scratch. Run it from the VAE Lab folder (or with `vae_core` on the
Python path). Saved test numbers of the original run (nats per image): {saved}.
"""),
        _cell("code", """
from vae_core import ModelConfig, TrainConfig, load_dataset, run_to_end, train
from vae_core.viz import figures
from vae_core.analysis.latent_tools import encode_dataset, pca_2d, plane_coords, shared_range
"""),
        _cell("code", f"""
model_cfg = ModelConfig.from_dict({json.dumps(model_cfg.to_dict())})
train_cfg = TrainConfig.from_dict({json.dumps(train_cfg.to_dict())})
dataset = load_dataset({dataset!r})
model_cfg, train_cfg
"""),
        _cell("markdown", "## Train\n`train` yields progress records; the last one holds the model."),
        _cell("code", """
end = run_to_end(train(model_cfg, train_cfg, dataset))
model, history = end["model"], end["history"]
print(end["status"], "-", end["reason"], f"({end['seconds']:.1f} s)")
"""),
        _cell("code", f"""
figures.loss_curves({{{name!r}: history}}, kinds={{{name!r}: model_cfg.kind}})
"""),
        _cell("markdown", "## The latent map\nEach point is one test image's code (the AE's z, the "
                          "VAE's posterior mean), over the prior N(0, I)'s 1/2/3σ circles."),
        _cell("code", f"""
mu, logvar = encode_dataset(model, dataset.test_x)
xy = plane_coords(pca_2d(mu)(mu) if mu.shape[1] > 2 else mu)  # a PCA plane above 2 dims
figures.latent_scatter(xy, dataset.test_y.numpy(), dataset.class_names, {name!r} + " (re-trained)",
                       shared_range(xy))
"""),
        _cell("code", f"""
last = [r for r in history if r["type"] == "epoch"][-1]
print("re-trained:", {{k: round(last["test_" + k], 3) for k in ("recon", "kl", "loss")}})
print("saved run: ", {_python_dict({k: round(v, 3) for k, v in (final or {}).items()})})
"""),
    ]
    return {"nbformat": NBFORMAT, "nbformat_minor": NBFORMAT_MINOR, "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}}
