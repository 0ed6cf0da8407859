"""Saved runs: one folder per run, weights in safetensors, configs and history in JSON.

A save is written into a hidden temporary folder and renamed into place; an overwrite moves the
old run to a hidden trash folder first. Saves, deletions and the recovery of leftovers hold an
exclusive lock on the root folder, so a crash (even kill -9) at any point leaves the old run or
the new one visible: the next ``list_runs`` renames an orphaned trash folder back and removes
other leftovers. Loading never unpickles: every file goes through ``validate`` (types, ranges,
finite numbers, sizes, the weights' header checked against the config before any tensor is
read), and every way a run can be wrong raises ``RunError`` naming the file.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import stat
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from vae_core.store import validate
from vae_core.analysis.collapse import relabel_status
from vae_core.analysis import outcomes
from vae_core.analysis.outcomes import (DELETE_FAILED, INVALID_RUN_NAME, NO_SUCH_RUN, NOT_A_RUN,
                                        SAVED_WEIGHTS_NOT_FINITE, render)
from vae_core.config import ModelConfig, TrainConfig
from vae_core.store.validate import RunError

try:  # POSIX; elsewhere saves are not locked and only old leftovers are recovered
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:  # torch, the models and the snapshots are imported where used: listing runs needs none
    import torch

    from vae_core.models import LatentModel
    from vae_core.store.replay import Snapshot

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "run.json"
MAX_META_BYTES = 16 * 1024 * 1024  # 10,000 epochs of history is about 10 MB
MAX_WEIGHTS_BYTES = 4 * validate.MAX_PARAMETERS + validate.MAX_HEADER_BYTES + 8
MAX_HISTORY = 200_000
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
STATUSES = ("finished", "stopped", "collapsed", "diverged")  # collapsed: see collapse.py
_TMP, _TRASH, _DELETED = ".tmp-", ".trash-", ".deleted-"
MAX_OWNER_CHARS = 128
_STALE_SECONDS = 600.0  # without a lock, leftovers older than this are surely not in use

__all__ = ["RunError", "InvalidRunName", "Run", "RunInfo", "save_run", "load_run", "run_info",
           "list_runs", "delete_run", "unique_run_name", "validate_run_name", "read_run_meta"]


class InvalidRunName(RunError, ValueError):
    pass


def validate_run_name(name: str) -> str:
    """Return ``name`` if it is a safe folder name, else raise ``InvalidRunName``."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
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


@contextlib.contextmanager
def _root_lock(root: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on the root folder itself (across processes; released by the
    OS when the holder dies, even by kill -9; no lock file to leave behind).

    Yields False when the lock is busy (non-blocking) or cannot be taken."""
    if fcntl is None:  # pragma: no cover - Windows
        yield False
        return
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        if blocking:
            raise
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the flock


def save_run(model: LatentModel, model_cfg: ModelConfig, train_cfg: TrainConfig,
             history: list[dict[str, Any]], name: str, root: str | os.PathLike[str] = "checkpoints",
             *, dataset: str = "digits", status: str = "finished", reason: str = "",
             group: str | None = None, overwrite: bool = False, worker: str | None = None,
             owner: str | None = None, snapshots: list[Snapshot] | None = None) -> Path:
    """Save a run atomically as ``root/name/{model.safetensors, run.json}`` and return its path.

    ``worker``: the Dask worker that trained it (its address), recorded in run.json.
    ``owner``: an opaque token of who trained it (the dashboard stores a hash of the browser
    session, never the session id itself), recorded so that only its owner may delete it.
    ``snapshots`` (the end record's, for the training replay) go into the same folder as
    ``snapshots.safetensors`` (see ``replay``); without them the run simply has no replay.

    An existing run of that name is kept unless ``overwrite``; then it is replaced, crash-safely
    (see the module docstring). Concurrent saves to one root take turns.
    """
    validate_run_name(name)
    if group is not None:
        validate_run_name(group)
    if owner is not None:
        validate.text(owner, "owner", MAX_OWNER_CHARS)
    if status not in STATUSES:
        raise RunError(f"Unknown run status {status!r}")
    root_path = Path(root)
    try:
        root_path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"Cannot create the runs folder {root_path} ({e.strerror or e})") from e
    final = root_path / name
    meta = {"format_version": FORMAT_VERSION, "name": name, "created": time.time(),
            "status": status, "reason": reason, "reason_messages": outcomes.to_json(reason),
            "dataset": dataset, "group": group,
            "worker": worker, "owner": owner, "model_config": model_cfg.to_dict(), "train_config": train_cfg.to_dict(),
            "final": final_metrics(history), "history": history}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    try:
        with _root_lock(root_path):
            _write_locked(root_path, name, state, _json_safe(meta), overwrite, snapshots)
    except RunError:
        raise
    except OSError as e:
        raise RunError(f"Cannot write in {root_path} ({e.strerror or e})") from e
    _forget(final)
    return final


def _write_locked(root: Path, name: str, state: dict[str, torch.Tensor], meta: dict[str, Any],
                  overwrite: bool, snapshots: list[Snapshot] | None = None) -> None:
    """Write ``root/name`` while holding the root's lock: temp folder, then one or two renames."""
    from safetensors.torch import save_file

    final = root / name
    if os.path.lexists(final) and not overwrite:
        raise RunError(f"A run named {name!r} already exists in {root}; choose another name")
    tmp = root / f"{_TMP}{name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format_version": str(FORMAT_VERSION)})
        if snapshots:
            from vae_core.store.replay import SNAPSHOTS_FILE, write_snapshots

            write_snapshots(tmp / SNAPSHOTS_FILE, snapshots)
        with open(tmp / META_FILE, "w", encoding="utf-8") as f:
            json.dump(meta, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        trash = None
        if os.path.lexists(final):  # overwrite: old -> trash, new -> final, then drop the trash
            trash = root / f"{_TRASH}{name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, trash)
        os.rename(tmp, final)
        _fsync_dir(root)
        if trash is not None:
            _remove_entry(trash)
    except OSError as e:
        raise RunError(f"Could not save {name!r} in {root} ({e.strerror or e})") from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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


def _check_weights(path: Path, model_cfg: ModelConfig):
    """The weights file's header checked against the config; nothing is read or built."""
    return validate.check_weights(path / WEIGHTS_FILE, validate.state_shapes(model_cfg), RunError,
                                  MAX_WEIGHTS_BYTES)


def load_run(path: str | os.PathLike[str]) -> Run:
    """Load a run folder. Raises ``RunError`` for anything missing, corrupt or incompatible.

    Weights with NaN or inf make the run ``diverged`` whatever status its file claims."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from vae_core.models import build_model

    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: not a run folder")
    meta = read_run_meta(path)
    _check_weights(path, meta.model_config)  # bounded by the config before anything is read
    try:
        state = load_file(str(path / WEIGHTS_FILE))  # parses a header and raw bytes, runs no code
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise RunError(f"{path / WEIGHTS_FILE}: not a valid safetensors file ({e})") from e
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
        tensors, data_start = _check_weights(path, meta.model_config)
        finite = validate.weights_finite(path / WEIGHTS_FILE, tensors, data_start, RunError)
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


# --- listing: cached by file state; leftovers recovered ------------------------------------------

_cache_lock = threading.Lock()
_info_cache: dict[str, tuple[tuple, RunInfo]] = {}  # path -> (file-state signature, info)


def _signature(path: Path) -> tuple:
    """What changes when a run folder's content changes: the folder's and both files' identity,
    size and modification time (a rename, overwrite or edit gives a new signature)."""
    sig: list = []
    for p in (path, path / META_FILE, path / WEIGHTS_FILE):
        try:
            st = p.lstat() if p is path else p.stat()
            sig.append((st.st_ino, st.st_size, st.st_mtime_ns, stat.S_IFMT(st.st_mode)))
        except OSError:
            sig.append(None)
    return tuple(sig)


def _forget(path: Path) -> None:
    with _cache_lock:
        _info_cache.pop(str(path), None)


def _cached_info(path: Path) -> RunInfo:
    key, sig = str(path), _signature(path)
    with _cache_lock:
        hit = _info_cache.get(key)
    if hit is not None and hit[0] == sig:
        return hit[1]
    info = run_info(path)
    with _cache_lock:
        if len(_info_cache) > 10_000:
            _info_cache.clear()
        _info_cache[key] = (sig, info)
    return info


def _remove_entry(path: Path) -> None:
    """Remove a folder (or a link, never followed) from a runs root."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def recover_leftovers(root: str | os.PathLike[str]) -> None:
    """Finish what a crashed save or delete left behind: an old run in a trash folder whose name
    is free is renamed back; other temp, trash and deleted folders are removed. Skipped while
    another process holds the lock (it is saving) or where the root is read-only."""
    root_path = Path(root)
    try:
        leftovers = [n for n in os.listdir(root_path) if n.startswith((_TMP, _TRASH, _DELETED))]
    except OSError:
        return
    if not leftovers:
        return
    with _root_lock(root_path, blocking=False) as locked:
        if not locked and fcntl is not None:
            return
        for n in leftovers:
            p = root_path / n
            try:
                if not locked and time.time() - p.lstat().st_mtime < _STALE_SECONDS:
                    continue  # pragma: no cover - unlocked platforms only
                original = n[len(_TRASH):-9] if n.startswith(_TRASH) and len(n) > len(_TRASH) + 9 else ""
                if original and _NAME_RE.fullmatch(original) and not os.path.lexists(root_path / original):
                    os.rename(p, root_path / original)  # the crash came between the two renames
                else:
                    _remove_entry(p)
            except OSError:
                continue


def list_runs(root: str | os.PathLike[str] = "checkpoints") -> list[RunInfo]:
    """All run folders under ``root``, newest first; broken ones are listed, not raised.

    Cheap to call on every page rerun: a run is read again only when its files change, and no
    model is built. Leftovers of a crashed save are recovered first."""
    root_path = Path(root)
    if not root_path.is_dir():
        return []
    recover_leftovers(root_path)
    try:
        names = os.listdir(root_path)
    except OSError:
        return []
    infos = []
    for n in names:
        if n.startswith("."):
            continue
        p = root_path / n
        if p.is_symlink() or p.is_dir():  # plain files in the root are not runs
            infos.append(_cached_info(p))
    return sorted(infos, key=lambda r: (r.created, r.name), reverse=True)


def delete_run(name: str, root: str | os.PathLike[str] = "checkpoints") -> None:
    """Delete one entry of ``root`` as listed by ``list_runs`` (``RunInfo.name``): a run folder,
    a broken one, or a link (removed as a link, never followed). Nothing outside ``root``."""
    root_path = Path(root)
    if (not isinstance(name, str) or not name or name.startswith(".") or "/" in name
            or "\x00" in name or (os.sep != "/" and os.sep in name)):
        raise InvalidRunName(render(NOT_A_RUN, root=root_path, name=name))
    path = root_path / name
    if not os.path.lexists(path):
        raise RunError(render(NO_SUCH_RUN, name=display_name(name), root=root_path))
    try:
        with _root_lock(root_path):
            if path.is_symlink() or not path.is_dir():
                path.unlink()
            else:
                gone = root_path / f"{_DELETED}{uuid.uuid4().hex[:8]}"
                os.rename(path, gone)  # vanish from listings at once, then remove
                shutil.rmtree(gone, ignore_errors=True)
    except OSError as e:
        raise RunError(render(DELETE_FAILED, name=display_name(name), root=root_path,
                              error=e.strerror or e)) from e
    _forget(path)


def unique_run_name(base: str, root: str | os.PathLike[str] = "checkpoints") -> str:
    """``base`` or ``base-2``, ``base-3``… whichever is free (for auto-filled names)."""
    validate_run_name(base)
    root_path = Path(root)
    taken = set(os.listdir(root_path)) if root_path.is_dir() else set()
    # A pair writes NAME-ae and NAME-vae: treat those as taking NAME too.
    def free(n: str) -> bool:
        return not ({n, f"{n}-ae", f"{n}-vae"} & taken)
    if free(base):
        return base
    i = 2
    while not free(f"{base}-{i}"):
        i += 1
    return f"{base}-{i}"
