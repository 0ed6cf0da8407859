"""Snapshots: copies of the weights that ``train`` takes during training (``replay.py`` saves them).

``train`` keeps about ``DEFAULT_SNAPSHOTS`` snapshots, spaced geometrically in steps (the codes
move most in the first few hundred steps, so early epochs get most of them), always including
the initial weights (step 0) and the final ones. A snapshot is a full ``state_dict``: that is all
it takes to redraw the latent maps, the decoder grid and prior samples at that moment. The
models are small (the digits MLP is ~33k parameters, ~130 KB), but a 784-400-20 MNIST MLP is
~2.6 MB, so the total is capped at ``MAX_SNAPSHOT_BYTES``: a big model keeps fewer snapshots
(still the first and the last), and one too big for two keeps none.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vae_core.models import LatentModel

DEFAULT_SNAPSHOTS = 20
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024  # all snapshots of one run together


@dataclass(frozen=True)
class Snapshot:
    """The weights after ``step`` optimizer steps (``epoch`` = steps / steps per epoch)."""

    step: int
    epoch: float
    state: dict[str, torch.Tensor]


def model_bytes(model: LatentModel) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def snapshot_budget(model: LatentModel, wanted: int = DEFAULT_SNAPSHOTS,
                    max_bytes: int = MAX_SNAPSHOT_BYTES) -> int:
    """How many snapshots of ``model`` fit the size cap: ``wanted`` or fewer, 0 if not even the
    first and the last fit."""
    fit = max_bytes // max(1, model_bytes(model))
    count = min(int(wanted), int(fit))
    return count if count >= 2 else 0


def snapshot_schedule(total_steps: int, count: int) -> list[int]:
    """About ``count`` distinct steps in 0..total_steps: 0, then geometrically spaced up to the last
    step (``geomspace(1, total_steps)``), so early training, where codes move most, is dense."""
    if count <= 0:
        return []
    if count == 1 or total_steps <= 0:
        return [max(0, total_steps)]
    if count == 2:
        return [0, total_steps]
    # geomspace ends at total_steps; rounding merges some early steps, so "about" count
    return sorted({0} | {int(round(s)) for s in np.geomspace(1, total_steps, count - 1)})


def take_snapshot(model: LatentModel, step: int, steps_per_epoch: int) -> Snapshot:
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
    return Snapshot(step=int(step), epoch=step / max(1, steps_per_epoch), state=state)


class SnapshotTaker:
    """What ``train`` calls to keep about ``wanted`` snapshots of a run of ``total_steps`` steps
    (``snapshot_schedule``, within ``snapshot_budget``): ``after(model, step)`` after each step
    (and with step 0 before the first), ``finish(model, step)`` at the end."""

    def __init__(self, model: LatentModel, total_steps: int, steps_per_epoch: int,
                 wanted: int = DEFAULT_SNAPSHOTS):
        self.due = set(snapshot_schedule(total_steps, snapshot_budget(model, wanted)))
        self.steps_per_epoch = steps_per_epoch
        self.kept: list[Snapshot] = []

    def after(self, model: LatentModel, step: int) -> None:
        if step in self.due:
            self.kept.append(take_snapshot(model, step, self.steps_per_epoch))

    def finish(self, model: LatentModel, step: int) -> list[Snapshot]:
        """The snapshots, ending on the final weights (a run stopped early ends where it stopped)."""
        if self.due and (not self.kept or self.kept[-1].step != step):
            self.kept.append(take_snapshot(model, step, self.steps_per_epoch))
        return self.kept
