"""Saved runs: one folder per run, weights in safetensors, configs and history in JSON.

A save is written into a hidden temporary folder and renamed into place in one step, so a crash
mid-save leaves no half run and never touches an existing one. Loading never unpickles: JSON is
parsed, tensors are read by safetensors, and every way a run can be wrong (missing, truncated,
hostile, incompatible) raises ``RunError`` with a message for the user.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import ModelConfig, TrainConfig
from .models import LatentModel, build_model
from .replay import SNAPSHOTS_FILE, Snapshot, write_snapshots

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "run.json"
MAX_META_BYTES = 32 * 1024 * 1024
MAX_WEIGHTS_BYTES = 2 * 1024 * 1024 * 1024
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
STATUSES = ("finished", "stopped", "diverged")


class RunError(Exception):
    """A run that cannot be saved or loaded; the message names the run and the problem."""


class InvalidRunName(RunError, ValueError):
    pass


def validate_run_name(name: str) -> str:
    """Return ``name`` if it is a safe folder name, else raise ``InvalidRunName``."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise InvalidRunName(
            f"Invalid run name {name!r}: use 1-80 letters, digits, '.', '_' or '-', starting with "
            "a letter or digit (no '/', '..', spaces or control characters)")
    return name


@dataclass
class Run:
    """A loaded run. ``model`` is on the CPU in eval mode."""

    name: str
    path: Path
    model: LatentModel
    model_config: ModelConfig
    train_config: TrainConfig
    history: list[dict[str, Any]]
    dataset: str
    status: str
    reason: str = ""
    pair: str | None = None
    created: float = 0.0
    final: dict[str, float] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.model_config.kind


@dataclass
class RunInfo:
    """One row of ``list_runs``: what the runs table shows, without loading weights."""

    name: str
    path: Path
    status: str  # finished | stopped | diverged | broken
    reason: str = ""
    kind: str = ""
    beta: float | None = None
    latent_dim: int | None = None
    arch: str = ""
    dataset: str = ""
    epochs: int | None = None
    final: dict[str, float] = field(default_factory=dict)
    pair: str | None = None
    created: float = 0.0

    @property
    def usable(self) -> bool:
        """Finished or stopped runs are good models; diverged and broken ones are not plotted."""
        return self.status in ("finished", "stopped")


def final_metrics(history: list[dict[str, Any]]) -> dict[str, float]:
    """The last epoch's test recon/KL (or the last train numbers if no epoch finished)."""
    for rec in reversed(history):
        if rec.get("type") == "epoch":
            return {k: float(rec[f"test_{k}"]) for k in ("recon", "kl", "loss")}
    if history:
        return {k: float(history[-1][k]) for k in ("recon", "kl", "loss")}
    return {}


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: store them as strings so the file stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items() if k != "model"}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_run(model: LatentModel, model_cfg: ModelConfig, train_cfg: TrainConfig,
             history: list[dict[str, Any]], name: str, root: str | os.PathLike[str] = "checkpoints",
             *, dataset: str = "digits", status: str = "finished", reason: str = "",
             pair: str | None = None, overwrite: bool = False,
             snapshots: list[Snapshot] | None = None) -> Path:
    """Save a run atomically as ``root/name/{model.safetensors, run.json}`` and return its path.

    ``snapshots`` (the end record's, for the training replay) go into the same folder as
    ``snapshots.safetensors`` (see ``replay``); without them the run simply has no replay.

    An existing run of that name is kept unless ``overwrite``; then it is replaced in one rename.
    """
    from safetensors.torch import save_file

    validate_run_name(name)
    if pair is not None:
        validate_run_name(pair)
    if status not in STATUSES:
        raise RunError(f"Unknown run status {status!r}")
    root_path = Path(root)
    root_path.mkdir(parents=True, exist_ok=True)
    final = root_path / name
    if final.exists() and not overwrite:
        raise RunError(f"A run named {name!r} already exists in {root_path}; choose another name")
    meta = {"format_version": FORMAT_VERSION, "name": name, "created": time.time(),
            "status": status, "reason": reason, "dataset": dataset, "pair": pair,
            "model_config": model_cfg.to_dict(), "train_config": train_cfg.to_dict(),
            "final": final_metrics(history), "history": history}
    tmp = root_path / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format_version": str(FORMAT_VERSION)})
        if snapshots:
            write_snapshots(tmp / SNAPSHOTS_FILE, snapshots)
        with open(tmp / META_FILE, "w", encoding="utf-8") as f:
            json.dump(_json_safe(meta), f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        if final.exists() and overwrite:
            trash = root_path / f".trash-{name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, trash)
            os.rename(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            try:
                os.rename(tmp, final)  # fails if another save took the name meanwhile
            except OSError as e:
                raise RunError(f"A run named {name!r} already exists in {root_path}") from e
        _fsync_dir(root_path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _read_meta(path: Path) -> dict[str, Any]:
    meta_path = path / META_FILE
    if not path.is_dir():
        raise RunError(f"{path}: not a run folder")
    if not meta_path.is_file():
        raise RunError(f"{path.name}: {META_FILE} is missing")
    if meta_path.stat().st_size > MAX_META_BYTES:
        raise RunError(f"{path.name}: {META_FILE} is too large to be a run")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunError(f"{path.name}: {META_FILE} is not valid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise RunError(f"{path.name}: {META_FILE} is not a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise RunError(f"{path.name}: unknown run format version {version!r} "
                       f"(this VAE Lab reads version {FORMAT_VERSION})")
    return meta


def _configs(path: Path, meta: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    try:
        return (ModelConfig.from_dict(meta["model_config"]),
                TrainConfig.from_dict(meta["train_config"]))
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"{path.name}: bad or missing config ({e})") from e


def load_run(path: str | os.PathLike[str]) -> Run:
    """Load a run folder. Raises ``RunError`` for anything missing, corrupt or incompatible."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = _read_meta(path)
    model_cfg, train_cfg = _configs(path, meta)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise RunError(f"{path.name}: {WEIGHTS_FILE} is missing")
    if weights.stat().st_size > MAX_WEIGHTS_BYTES:
        raise RunError(f"{path.name}: {WEIGHTS_FILE} is too large")
    try:
        state = load_file(str(weights))  # safetensors: parses a header and raw bytes, runs no code
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise RunError(f"{path.name}: {WEIGHTS_FILE} is not a valid safetensors file ({e})") from e
    model = build_model(model_cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()
        raise RunError(f"{path.name}: weights do not fit its model config "
                       f"({' '.join(first[:3])[:300]})") from e
    history = meta.get("history") or []
    if not isinstance(history, list):
        raise RunError(f"{path.name}: history must be a list")
    status = str(meta.get("status", "finished"))
    reason = str(meta.get("reason", ""))
    if status != "diverged" and not all(bool(torch.isfinite(t).all()) for t in state.values()):
        status, reason = "diverged", "the saved weights contain NaN or inf"
    return Run(name=path.name, path=path, model=model.eval(), model_config=model_cfg,
               train_config=train_cfg, history=history, dataset=str(meta.get("dataset", "")),
               status=status, reason=reason, pair=meta.get("pair"),
               created=float(meta.get("created", 0.0)), final=dict(meta.get("final") or {}))


def _check_weights_header(path: Path, model_cfg: ModelConfig) -> None:
    """Cheap integrity check without reading all tensors: header parses, file length matches,
    names and shapes fit the config."""
    from safetensors import SafetensorError, safe_open

    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise RunError(f"{WEIGHTS_FILE} is missing")
    try:
        with safe_open(str(weights), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise RunError(f"{WEIGHTS_FILE} is not a valid safetensors file ({e})") from e
    expected = {k: tuple(v.shape) for k, v in build_model(model_cfg).state_dict().items()}
    if shapes != expected:
        raise RunError("weights do not fit its model config (names or shapes differ)")


def run_info(path: str | os.PathLike[str]) -> RunInfo:
    """Describe a run folder for listing; problems give status "broken" with the reason."""
    path = Path(path)
    try:
        meta = _read_meta(path)
        model_cfg, train_cfg = _configs(path, meta)
        _check_weights_header(path, model_cfg)
    except RunError as e:
        msg = str(e)
        prefix = f"{path.name}: "
        return RunInfo(name=path.name, path=path, status="broken",
                       reason=msg[len(prefix):] if msg.startswith(prefix) else msg,
                       created=path.stat().st_mtime if path.exists() else 0.0)
    final = {k: float(v) for k, v in (meta.get("final") or {}).items()
             if isinstance(v, (int, float, str))} if isinstance(meta.get("final"), dict) else {}
    return RunInfo(name=path.name, path=path, status=str(meta.get("status", "finished")),
                   reason=str(meta.get("reason", "")), kind=model_cfg.kind, beta=train_cfg.beta,
                   latent_dim=model_cfg.latent_dim, arch=model_cfg.arch,
                   dataset=str(meta.get("dataset", "")), epochs=train_cfg.epochs, final=final,
                   pair=meta.get("pair") if isinstance(meta.get("pair"), str) else None,
                   created=float(meta.get("created", 0.0)))


def list_runs(root: str | os.PathLike[str] = "checkpoints") -> list[RunInfo]:
    """All run folders under ``root``, newest first; broken ones are listed, not raised."""
    root_path = Path(root)
    if not root_path.is_dir():
        return []
    infos = [run_info(p) for p in root_path.iterdir()
             if p.is_dir() and not p.name.startswith(".")]
    return sorted(infos, key=lambda r: (r.created, r.name), reverse=True)


def delete_run(name: str, root: str | os.PathLike[str] = "checkpoints") -> None:
    """Delete one run folder (by validated name, so nothing outside ``root`` can be removed)."""
    validate_run_name(name)
    path = Path(root) / name
    if not path.is_dir():
        raise RunError(f"No run named {name!r} in {root}")
    trash = Path(root) / f".trash-{name}-{uuid.uuid4().hex[:8]}"
    os.rename(path, trash)  # vanish from listings at once, then remove
    shutil.rmtree(trash, ignore_errors=True)


def unique_run_name(base: str, root: str | os.PathLike[str] = "checkpoints") -> str:
    """``base`` or ``base-2``, ``base-3``… whichever is free (for auto-filled names)."""
    validate_run_name(base)
    root_path = Path(root)
    taken = {p.name for p in root_path.iterdir()} if root_path.is_dir() else set()
    # A pair writes NAME-ae and NAME-vae: treat those as taking NAME too.
    def free(n: str) -> bool:
        return not ({n, f"{n}-ae", f"{n}-vae"} & taken)
    if free(base):
        return base
    i = 2
    while not free(f"{base}-{i}"):
        i += 1
    return f"{base}-{i}"
