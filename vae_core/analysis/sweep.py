"""A beta sweep: VAE runs that differ only in beta, trained as one group (``jobs``), named
``<group>-b<beta>``, and read back as rate-distortion points (test KL against test
reconstruction, active units, collapse) for the Evidence page and ``python -m vae_core sweep``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import torch

from vae_core.analysis.collapse import active_units, is_collapsed
from vae_core.data import ImageDataset
from vae_core.models import LatentModel
from vae_core.store.runs import sweep_run_name  # noqa: F401 (re-exported; its home is the run store)
from vae_core.train import evaluate

_SWEEP_SUFFIX = re.compile(r"-b([0-9][0-9.e+-]*)$")


def sweep_groups(infos: Iterable[Any]) -> dict[str, list[Any]]:
    """Sweep id -> its usable VAE runs (same ``group``, name ``<group>-b<beta>``), sorted by beta."""
    groups: dict[str, list[Any]] = {}
    for r in infos:
        if not getattr(r, "usable", True) or r.kind != "vae" or not r.group:
            continue
        if r.name.startswith(f"{r.group}-b") and _SWEEP_SUFFIX.search(r.name):
            groups.setdefault(r.group, []).append(r)
    return {k: sorted(v, key=lambda r: (r.beta if r.beta is not None else 0.0, r.name))
            for k, v in sorted(groups.items())}


@dataclass
class SweepPoint:
    name: str
    beta: float
    rate: float  # test KL per image, nats
    distortion: float  # test recon per image, nats
    active_units: int
    latent_dim: int
    kl_warmup_epochs: int
    collapsed: bool  # collapse.is_collapsed: no active unit or KL < 0.1 nat; the decoder ignores z


@torch.no_grad()
def sweep_point(name: str, model: LatentModel, beta: float, kl_warmup_epochs: int,
                dataset: ImageDataset, seed: int = 0) -> SweepPoint:
    """Rate and distortion (one seeded z per test image) and active units of one sweep run."""
    test = evaluate(model, dataset.test_x, seed=seed)  # the training loop's own test numbers
    au = active_units(model.encode_all(dataset.test_x)[0])
    return SweepPoint(name, float(beta), test["kl"], test["recon"], au, model.latent_dim,
                      int(kl_warmup_epochs), is_collapsed(au, test["kl"]))
