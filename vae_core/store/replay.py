"""Training replay: the snapshots ``train`` took (``snapshots.py``), saved with the run and replayed.

On disk they are one ``snapshots.safetensors`` beside ``model.safetensors``: tensors named
``s{index:03d}/{parameter}``, metadata ``format_version``, ``steps`` and ``epochs`` (JSON lists).
The earlier snapshots are stored as float16 (a picture of training needs no more, and the file is
half the size); the last one is not stored at all: it is the run's own ``model.safetensors``, so
the replay ends exactly on the saved model.
``load_snapshots`` validates everything against the run's ``ModelConfig`` and raises
``ReplayUnavailable`` with a message; the run itself loads whether or not its snapshots do (old
runs have none).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vae_core.store import validate
from vae_core.config import ModelConfig
from vae_core.models import LatentModel, build_model
from vae_core.store.snapshots import MAX_SNAPSHOT_BYTES, Snapshot
from vae_core.text import N_
from vae_core.store.validate import state_shapes

SNAPSHOTS_FILE = "snapshots.safetensors"
SNAPSHOT_FORMAT_VERSION = 2  # 2: float16, the last snapshot read from the run's weights
STORED_DTYPE = torch.float16
MAX_SNAPSHOTS = 200  # a file claiming more is not ours


NO_SNAPSHOTS = N_("This run has no training snapshots (it was saved before replay existed, or its "
                  "model was too large to keep any). Train it again to replay it.")


class ReplayUnavailable(Exception):
    """A run's snapshots are missing or unusable; the message says why (the run still loads)."""


class NoSnapshots(ReplayUnavailable):
    """The run kept no snapshots (an old run, or a model too big for any): the common case, with
    the fixed message ``NO_SNAPSHOTS`` that a UI can translate; other ``ReplayUnavailable``
    messages are details of a damaged file."""


def _snapshot_tensors(snapshots: list[Snapshot], dtype: torch.dtype | None = None
                      ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    tensors = {f"s{i:03d}/{name}": t.to(dtype or t.dtype).contiguous()
               for i, snap in enumerate(snapshots) for name, t in snap.state.items()}
    meta = {"format_version": str(SNAPSHOT_FORMAT_VERSION),
            "steps": json.dumps([s.step for s in snapshots]),
            "epochs": json.dumps([round(s.epoch, 6) for s in snapshots])}
    return tensors, meta


def write_snapshots(path: str | os.PathLike[str], snapshots: list[Snapshot]) -> None:
    """Write snapshots as one safetensors file beside the run's weights (the caller makes the
    write atomic): all but the last in float16; the last is the saved model itself."""
    from safetensors.torch import save_file

    tensors, _ = _snapshot_tensors(snapshots[:-1], STORED_DTYPE)
    _, meta = _snapshot_tensors(snapshots)  # steps and epochs of every snapshot
    save_file(tensors, str(path), metadata=meta)


def pack_snapshots(snapshots: list[Snapshot]) -> dict[str, object]:
    """Snapshots as plain bytes and lists, for a training worker to send back (no pickled
    tensors): ``unpack_snapshots`` is the inverse."""
    from safetensors.torch import save

    tensors, _ = _snapshot_tensors(snapshots)
    return {"tensors": save(tensors), "steps": [s.step for s in snapshots],
            "epochs": [s.epoch for s in snapshots]}


def unpack_snapshots(packed: dict[str, object] | None) -> list[Snapshot]:
    if not packed:
        return []
    from safetensors.torch import load

    tensors = load(packed["tensors"])
    return [Snapshot(step=int(step), epoch=float(epoch),
                     state={k.split("/", 1)[1]: t for k, t in tensors.items()
                            if k.startswith(f"s{i:03d}/")})
            for i, (step, epoch) in enumerate(zip(packed["steps"], packed["epochs"]))]


def _number_list(meta: dict[str, str], key: str, count: int | None = None) -> list[float]:
    try:
        values = json.loads(meta[key])
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: metadata '{key}' is missing or not JSON") from e
    if not isinstance(values, list) or not values or len(values) > MAX_SNAPSHOTS:
        raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: metadata '{key}' is not a list of numbers")
    try:
        values = [validate.number(v, f"{key}[{i}]") for i, v in enumerate(values)]
    except ValueError as e:
        raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: metadata {e}") from e
    if count is not None and len(values) != count:
        raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: {len(values)} '{key}' for {count} snapshots")
    return values


def load_snapshots(run_path: str | os.PathLike[str], model_cfg: ModelConfig,
                   final_state: dict[str, torch.Tensor]) -> list[Snapshot]:
    """The run's snapshots in step order, checked against ``model_cfg`` (float32); the last one
    is ``final_state``, the saved model's weights as ``load_run`` read and checked them. Raises
    ``ReplayUnavailable`` if there are none or the file is malformed in any way."""
    from safetensors import SafetensorError, safe_open

    path = Path(run_path) / SNAPSHOTS_FILE
    if not path.is_file():
        raise NoSnapshots(NO_SNAPSHOTS)
    # A regular file no larger than any run writes, with a bounded header, before the library
    # parses it; its names and shapes are checked below.
    validate.safetensors_header(path, ReplayUnavailable, MAX_SNAPSHOT_BYTES + validate.MAX_HEADER_BYTES + 8)
    expected = state_shapes(model_cfg)  # names and shapes, without building the model
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format_version") != str(SNAPSHOT_FORMAT_VERSION):
                raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: unknown format version "
                                        f"{meta.get('format_version')!r} (this VAE Lab reads "
                                        f"{SNAPSHOT_FORMAT_VERSION})")
            steps = _number_list(meta, "steps")
            epochs = _number_list(meta, "epochs", len(steps))
            if any(int(s) != s or s < 0 for s in steps) or steps != sorted(steps):
                raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: steps must be increasing whole numbers")
            wanted = {f"s{i:03d}/{name}" for i in range(len(steps) - 1) for name in expected}
            if set(f.keys()) != wanted:
                raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: its tensors do not fit this run's model "
                                        f"config ({len(steps)} snapshots expected)")
            stored = [{name: f.get_tensor(f"s{i:03d}/{name}") for name in expected}
                      for i in range(len(steps) - 1)]
        snapshots = []
        for i, (step, epoch, state) in enumerate(zip(steps, epochs, stored + [final_state])):
            for name, shape in expected.items():
                t = state.get(name)
                if t is None or tuple(t.shape) != shape or not t.is_floating_point():
                    raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: snapshot {i} tensor {name} does not "
                                            f"fit this run's model (expected shape {shape})")
                if not bool(torch.isfinite(t).all()):
                    raise ReplayUnavailable(f"{SNAPSHOTS_FILE}: snapshot {i} holds NaN or inf")
            snapshots.append(Snapshot(int(step), float(epoch),
                                      {name: state[name].float() for name in expected}))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise ReplayUnavailable(f"{SNAPSHOTS_FILE} is not a valid safetensors file ({e})") from e
    return snapshots


def snapshot_model(snapshot: Snapshot, model_cfg: ModelConfig) -> LatentModel:
    """A model (CPU, eval mode) holding the snapshot's weights."""
    model = build_model(model_cfg)
    model.load_state_dict(snapshot.state, strict=True)
    return model.eval()


@dataclass(frozen=True)
class ReplayCodes:
    """The codes of the same images at every snapshot: ``mu[k]`` is (N, D) after ``steps[k]``."""

    steps: list[int]
    epochs: list[float]
    mu: np.ndarray  # (K, N, D)
    logvar: np.ndarray | None  # (K, N, D) for the VAE


def replay_codes(snapshots: list[Snapshot], model_cfg: ModelConfig, x: torch.Tensor) -> ReplayCodes:
    """Encode ``x`` (N, C, H, W) with every snapshot's encoder."""
    mus, logvars = [], []
    for snap in snapshots:
        mu, logvar = snapshot_model(snap, model_cfg).encode_all(x)
        mus.append(mu.numpy())
        logvars.append(None if logvar is None else logvar.numpy())
    return ReplayCodes(steps=[s.step for s in snapshots], epochs=[s.epoch for s in snapshots],
                       mu=np.stack(mus).astype(np.float32),
                       logvar=None if logvars[0] is None else np.stack(logvars).astype(np.float32))


@dataclass(frozen=True)
class ReplayImages:
    """What each snapshot's decoder draws: ``grid[k]`` decodes one square of codes,
    ``prior[k]`` (M, ...) the same M draws from N(0, I), at every snapshot ``k``."""

    grid: np.ndarray  # (K, n*n, H, W[, C])
    prior: np.ndarray  # (K, M, H, W[, C])


def replay_images(snapshots: list[Snapshot], model_cfg: ModelConfig, grid_z: torch.Tensor,
                  prior_z: torch.Tensor) -> ReplayImages:
    """Decode the same codes ``grid_z`` and ``prior_z`` (N, D) with every snapshot's decoder, so a
    replay shows how the decoder forms without a model on the page's side."""
    from vae_core.analysis.latent_tools import decode_images

    grids, priors = [], []
    for snap in snapshots:
        model = snapshot_model(snap, model_cfg)
        grids.append(decode_images(model, grid_z))
        priors.append(decode_images(model, prior_z))
    return ReplayImages(np.stack(grids).astype(np.float32), np.stack(priors).astype(np.float32))
