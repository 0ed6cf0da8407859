"""One saved run on disk: the folder's files and limits, the records pages use (``Run``,
``RunInfo``), and reading a run back, validated.

A run is ``NAME/{model.safetensors, run.json}`` (plus ``snapshots.safetensors`` for the training
replay, see ``replay``). Reading never unpickles: every file goes through ``validate`` (types,
ranges, finite numbers, sizes, the weights' header checked against the config before any tensor
is read), and every way a run can be wrong raises ``RunError`` naming the file; ``run_info``
turns that into a "broken" row instead. Writing, listing and deleting runs: ``runs``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vae_core.analysis import outcomes
from vae_core.analysis.collapse import relabel_status
from vae_core.analysis.outcomes import INVALID_RUN_NAME, SAVED_WEIGHTS_NOT_FINITE, render
from vae_core.config import ModelConfig, TrainConfig
from vae_core.store import validate
from vae_core.store.validate import RunError

if TYPE_CHECKING:  # torch and the models are imported where a run is loaded: listing runs needs none
    from vae_core.models import LatentModel

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "run.json"
MAX_META_BYTES = 16 * 1024 * 1024  # 10,000 epochs of history is about 10 MB
MAX_WEIGHTS_BYTES = 4 * validate.MAX_PARAMETERS + validate.MAX_HEADER_BYTES + 8
MAX_HISTORY = 200_000
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
STATUSES = ("finished", "stopped", "collapsed", "diverged")  # collapsed: see collapse.py
MAX_OWNER_CHARS = 128


class InvalidRunName(RunError, ValueError):
    pass


def validate_run_name(name: str) -> str:
    """Return ``name`` if it is a safe folder name, else raise ``InvalidRunName``."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise InvalidRunName(render(INVALID_RUN_NAME, name=name))
    return name


def display_name(name: str) -> str:
    """A folder name as printable text: bytes that are not UTF-8 shown as ``\\xNN``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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
    group: str | None = None  # the pair or beta sweep the run belongs to
    created: float = 0.0
    final: dict[str, float] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.model_config.kind


@dataclass
class RunInfo:
    """One row of ``list_runs``: what the runs table shows, without loading weights.

    ``name`` is the folder's name as the file system gives it (pass it to ``delete_run``);
    ``label`` is the same name as printable text (a folder name may not be UTF-8)."""

    name: str
    path: Path
    status: str  # finished | stopped | collapsed | diverged | broken
    reason: str = ""
    kind: str = ""
    beta: float | None = None
    latent_dim: int | None = None
    arch: str = ""
    dataset: str = ""
    epochs: int | None = None  # planned (TrainConfig.epochs)
    final: dict[str, float] = field(default_factory=dict)
    group: str | None = None  # the pair or beta sweep the run belongs to
    created: float = 0.0
    epochs_trained: int | None = None  # completed, from the history (a stopped run: fewer)
    owner: str | None = None  # who trained it (an opaque token); None: unknown, e.g. the CLI
    read_only: bool = False  # a shipped demo run: no one deletes it from the dashboard

    @property
    def usable(self) -> bool:
        """Finished, stopped or collapsed runs are valid models (a collapsed VAE is kept so pages
        can show collapse; label it); diverged and broken ones are not plotted."""
        return self.status in ("finished", "stopped", "collapsed")

    @property
    def collapsed(self) -> bool:
        return self.status == "collapsed"

    @property
    def label(self) -> str:
        return display_name(self.name)


def final_metrics(history: list[dict[str, Any]]) -> dict[str, float]:
    """The last epoch's test recon/KL (or the last train numbers if no epoch finished)."""
    for rec in reversed(history):
        if rec.get("type") == "epoch":
            return {k: float(rec[f"test_{k}"]) for k in ("recon", "kl", "loss")}
    if history:
        return {k: float(history[-1][k]) for k in ("recon", "kl", "loss")}
    return {}


def epochs_trained(history: list[Any]) -> int:
    """Epochs completed according to a run's history (its last "epoch" record)."""
    return max((r["epoch"] for r in history if isinstance(r, dict) and r.get("type") == "epoch"
                and isinstance(r.get("epoch"), int)), default=0)


# --- reading: every field validated ------------------------------------------------------------

@dataclass(frozen=True)
class RunMeta:
    """The validated content of a run.json."""

    model_config: ModelConfig
    train_config: TrainConfig
    status: str
    reason: str
    dataset: str
    group: str | None  # the pair or beta sweep the run belongs to
    created: float
    final: dict[str, float]
    history: list[dict[str, Any]]
    worker: str | None = None  # the Dask worker that trained it
    owner: str | None = None  # an opaque token of who trained it (save_run's ``owner``)
    read_only: bool = False  # shipped demo runs: "read_only": true in their run.json


def _history(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_HISTORY:
        raise ValueError(f"history must be a list of at most {MAX_HISTORY:,} records")
    for i, rec in enumerate(value):
        if not isinstance(rec, dict):
            raise ValueError(f"history[{i}] must be an object")
        for k, v in rec.items():
            validate.text(k, f"history[{i}] key", 64)
            if k == "type":
                validate.text(v, f"history[{i}].type", 32)
            elif v is not None and not isinstance(v, str):
                validate.number(v, f"history[{i}].{k}", finite=False)
    return value


def _reason(meta: dict[str, Any]) -> outcomes.Message:
    """Why the run ended, from its message ids; a run.json written before they existed has only
    the English sentence (legacy: read back by ``outcomes.from_english``)."""
    english = validate.text(meta.get("reason", ""), "reason", 10_000)
    if "reason_messages" in meta:
        return outcomes.from_json(meta["reason_messages"])
    return outcomes.from_english(english)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {validate._short(value)}")
    return value


def read_run_meta(path: str | os.PathLike[str]) -> RunMeta:
    """Read and validate ``path/run.json``; raises ``RunError`` naming the file."""
    meta_path = Path(path) / META_FILE
    meta = validate.read_json(meta_path, MAX_META_BYTES, RunError)
    if not isinstance(meta, dict):
        raise RunError(f"{meta_path}: not a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise RunError(f"{meta_path}: unknown run format version {validate._short(version)} "
                       f"(this VAE Lab reads version {FORMAT_VERSION})")
    try:
        model_cfg = ModelConfig.from_dict(meta.get("model_config"))
        train_cfg = TrainConfig.from_dict(meta.get("train_config"))
        status = validate.text(meta.get("status", "finished"), "status", 32)
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        group = meta.get("group")
        if group is None:
            group = meta.get("pair")  # files written before the rename call it "pair"
        if group is not None:
            validate.text(group, "group", 80)
        final = meta.get("final") or {}
        if not isinstance(final, dict) or len(final) > 64:
            raise ValueError("final must be an object of numbers")
        return RunMeta(
            model_cfg, train_cfg, status, _reason(meta),
            validate.text(meta.get("dataset", ""), "dataset", 4096), group,
            validate.number(meta.get("created", 0.0), "created", 0.0, 1e11),
            {validate.text(k, "final key", 64): validate.number(v, f"final.{k}", finite=False)
             for k, v in final.items()},
            _history(meta.get("history") or []),
            None if meta.get("worker") is None else validate.text(meta["worker"], "worker", 200),
            None if meta.get("owner") is None else validate.text(meta["owner"], "owner", MAX_OWNER_CHARS),
            _flag(meta.get("read_only", False), "read_only"))
    except (TypeError, ValueError) as e:  # TypeError: a config with unknown or missing fields
        raise RunError(f"{meta_path}: {e}") from e


def _check_weights(path: Path, model_cfg: ModelConfig) -> None:
    """The weights file's header checked against the config; nothing is read or built."""
    validate.check_weights(path / WEIGHTS_FILE, validate.state_shapes(model_cfg), RunError,
                                  MAX_WEIGHTS_BYTES)


def load_run(path: str | os.PathLike[str]) -> Run:
    """Load a run folder. Raises ``RunError`` for anything missing, corrupt or incompatible.

    Weights with NaN or inf make the run ``diverged`` whatever status its file claims."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: not a run folder")
    meta = read_run_meta(path)
    _check_weights(path, meta.model_config)  # bounded by the config before anything is read
    try:
        state = load_file(str(path / WEIGHTS_FILE))  # parses a header and raw bytes, runs no code
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise RunError(f"{path / WEIGHTS_FILE}: not a valid safetensors file ({e})") from e
    import torch

    from vae_core.models import build_model

    model = build_model(meta.model_config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RunError(f"{path / WEIGHTS_FILE}: weights do not fit its model config "
                       f"({' '.join(str(e).splitlines()[:3])[:300]})") from e
    status, reason = _status(meta)
    if not all(bool(torch.isfinite(t).all()) for t in state.values()):
        status, reason = "diverged", render(SAVED_WEIGHTS_NOT_FINITE)
    return Run(name=path.name, path=path, model=model.eval(), model_config=meta.model_config,
               train_config=meta.train_config, history=meta.history, dataset=meta.dataset,
               status=status, reason=reason, group=meta.group, created=meta.created, final=meta.final)


def _broken(path: Path, reason: str) -> RunInfo:
    try:
        created = path.lstat().st_mtime
    except OSError:
        created = 0.0
    return RunInfo(name=path.name, path=path, status="broken", reason=reason, created=created)


def _status(meta: RunMeta) -> tuple[str, str]:
    """The saved status, except that a VAE saved as finished with a near-zero KL (before the
    collapsed status existed) is listed as collapsed."""
    return relabel_status(meta.status, meta.model_config.kind, meta.final.get("kl")), meta.reason


def _final(meta: RunMeta) -> dict[str, float]:
    """The last epoch's numbers; an AE has no KL term, so none is shown (not 0.00 beside β)."""
    return {k: v for k, v in meta.final.items() if not (k == "kl" and meta.model_config.kind == "ae")}


def run_info(path: str | os.PathLike[str]) -> RunInfo:
    """Describe a run folder for listing, from its run.json and its weights' header plus one
    finite-values scan; problems give status "broken" with the reason (never an exception).
    A symbolic link is listed as broken and never followed."""
    path = Path(path)
    if path.is_symlink():
        return _broken(path, "a symbolic link, not a run folder (delete removes the link only)")
    if not path.is_dir():
        return _broken(path, "not a run folder")
    try:
        validate_run_name(path.name)
    except InvalidRunName:  # e.g. not UTF-8, or a trailing newline: pages would show it wrongly
        return _broken(path, "the folder name is not a valid run name (letters, digits, '.', '_' "
                             "or '-'); rename the folder to use this run")
    try:
        meta = read_run_meta(path)
        # Names and shapes are compared when the run is loaded (that needs the model's code,
        # hence torch); a listing checks what the header holds against the config's size.
        validate.check_weights_size(path / WEIGHTS_FILE, meta.model_config, RunError,
                                    MAX_WEIGHTS_BYTES)
        finite = validate.weights_finite(path / WEIGHTS_FILE, RunError)
    except RunError as e:
        return _broken(path, str(e).replace(f"{path}{os.sep}", ""))
    status, reason = _status(meta)
    if not finite:
        status, reason = "diverged", render(SAVED_WEIGHTS_NOT_FINITE)
    return RunInfo(name=path.name, path=path, status=status, reason=reason,
                   kind=meta.model_config.kind, beta=meta.train_config.beta,
                   latent_dim=meta.model_config.latent_dim, arch=meta.model_config.arch,
                   dataset=meta.dataset, epochs=meta.train_config.epochs, final=_final(meta),
                   group=meta.group, created=meta.created,
                   epochs_trained=epochs_trained(meta.history), owner=meta.owner,
                   read_only=meta.read_only)
